//! `denytrail-synth`: writes a deterministic synthetic trail (benchmarks and large tests).
//! A dev tool: it is not part of the shipped `denytrail` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use denytrail_synth::{SynthOptions, generate};

#[derive(Debug, Parser)]
#[command(name = "denytrail-synth", version, about = "Write a synthetic CloudTrail trail (benchmarks, large tests).")]
struct Args {
    /// Output folder (the trail root).
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Total decompressed size to write, e.g. 1GiB.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    size: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of records that are denied S3 writes.
    #[arg(long, default_value_t = 0.01)]
    denied_ratio: f64,
    /// Smallest decompressed file size.
    #[arg(long, value_parser = parse_size)]
    min_file: Option<u64>,
    /// Largest decompressed file size.
    #[arg(long, value_parser = parse_size)]
    max_file: Option<u64>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("'{s}' is not a size like 4GiB or 500MB ({e})"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut opts = SynthOptions::new(args.out.clone(), args.size);
    opts.seed = args.seed;
    opts.denied_ratio = args.denied_ratio;
    opts.min_file_bytes = args.min_file.unwrap_or(opts.min_file_bytes);
    opts.max_file_bytes = args.max_file.unwrap_or(opts.max_file_bytes);
    if opts.min_file_bytes > opts.max_file_bytes {
        eprintln!("denytrail-synth: error: --min-file is larger than --max-file");
        return ExitCode::from(2);
    }
    match generate(&opts) {
        Ok(summary) => {
            println!("{}", serde_json::to_string(&summary).expect("a summary serialises"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("denytrail-synth: error: cannot write the trail to {}: {e}", args.out.display());
            ExitCode::FAILURE
        }
    }
}
