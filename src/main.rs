//! Thin entry point: parse the command line, run, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;
use denytrail::app::{self, Exit, UsageError};
use denytrail::cli::Cli;
use denytrail::report::escape::display;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; clap exits 2 on usage errors.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    match app::run(cli) {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(err) => {
            let code = if err.downcast_ref::<UsageError>().is_some() { Exit::Usage } else { Exit::Fatal };
            // One line: the error and its causes, escaped (paths and messages may come from logs).
            let chain: Vec<String> = err.chain().map(|c| display(&c.to_string())).collect();
            eprintln!("denytrail: error: {}", chain.join(": "));
            ExitCode::from(code as u8)
        }
    }
}
