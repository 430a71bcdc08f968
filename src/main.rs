//! Thin entry point: parse the command line, run, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use denytrail::cli::{Cli, SCAN_ONLY};
use denytrail::cmd::{self, Exit};
use denytrail::plan::UsageError;
use denytrail::report::escape::display;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in `mimalloc.h` (between `eager_commit_delay`, 14, and
/// `use_numa_nodes`, 16; the crate names no constant).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the OS after 1 ms instead of mimalloc 3's 1,000: in an outage
/// the workers free parsed events as fast as they make them, and a second of that churn held
/// was ~40 MiB of peak RSS at 4 GiB, for no measurable speed (`benches/outage.sh`).
///
/// And no transparent huge pages: mimalloc asks for them (`madvise`), so each page it took back
/// after a purge faulted in as 2 MiB zeroed by the kernel, ~6% of an outage scan's time, for a
/// heap of a few hundred MiB that gains nothing from them (−20 MiB of peak RSS at 4 GiB too).
/// mimalloc's own `allow_thp` option is read before `main`, so the process-wide switch is used.
fn tune_allocator() {
    // SAFETY: sets one integer option; mimalloc reads its options atomically, at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1) }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with integer arguments only; a kernel without the option returns an error,
    // which leaves huge pages as they were.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    // Ctrl-C: no half-written output is left, and the status says interrupted (128 + SIGINT).
    let _ = ctrlc::set_handler(|| {
        denytrail::sink::remove_partial_outputs();
        eprintln!("\ndenytrail: interrupted");
        std::process::exit(Exit::Interrupted as i32);
    });
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if let Some(line) = scan_only_hint(&e) {
                eprintln!("denytrail: error: {line}");
                return ExitCode::from(Exit::Usage as u8);
            }
            // --help and --version are not errors; clap exits 2 on usage errors.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    match cmd::run(cli) {
        Ok(exit) => ExitCode::from(exit as u8),
        // A reader that stopped reading (`| head`) is not an error: end quietly, as ripgrep does.
        Err(err) if closed_stdout(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let code = if err.downcast_ref::<UsageError>().is_some() { Exit::Usage } else { Exit::Fatal };
            // One line: the error and its causes, escaped (paths and messages may come from logs).
            let chain: Vec<String> = err.chain().map(|c| display(&c.to_string())).collect();
            eprintln!("denytrail: error: {}", chain.join(": "));
            ExitCode::from(code as u8)
        }
    }
}

/// clap refuses a flag the command does not take; when it is one of `scan`'s, say so plainly.
fn scan_only_hint(e: &clap::Error) -> Option<String> {
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else { return None };
    let flag = arg.split('=').next().unwrap_or(arg);
    let command = std::env::args().nth(1).filter(|c| c != "scan")?;
    SCAN_ONLY
        .iter()
        .find(|f| **f == flag)
        .map(|f| format!("{f} is for `denytrail scan`; `denytrail {}` does not use it", display(&command)))
}

/// Whether the error is a write to a stdout whose reader has gone (EPIPE), at any depth.
fn closed_stdout(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || e.downcast_ref::<csv::Error>().is_some_and(
                |c| matches!(c.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe),
            )
    })
}

#[cfg(test)]
mod tests {
    /// Option 15 is the purge delay: mimalloc 3's default for it is 1,000 (ms, `options.c`),
    /// and the setting takes.
    #[test]
    fn the_purge_delay_is_the_option_set() {
        // SAFETY: reads and sets one integer option.
        unsafe {
            assert_eq!(libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY), 1000);
            super::tune_allocator();
            assert_eq!(libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY), 1);
            #[cfg(target_os = "linux")]
            assert_eq!(libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0), 1, "huge pages are off");
        }
    }
}
