//! The commands, one file each. Each turns its arguments into a checked plan (`crate::plan`),
//! runs it, and returns the exit status of the contract.

pub mod explain;
pub mod query;
pub mod scan;

use std::fs::File;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command};
use crate::collect::ScanOutput;
use crate::plan::{EventsFrom, ScanPlan};
use crate::report::escape::display;

/// Exit statuses of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Clean = 0,
    Fatal = 1,
    Usage = 2,
    Findings = 3,
    Incomplete = 4,
    /// Ctrl-C (128 + SIGINT), as shells report it.
    Interrupted = 130,
}

pub fn run(cli: Cli) -> Result<Exit> {
    let result = match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Query(args) => query::run(&args),
    };
    match result {
        Err(e) if e.downcast_ref::<NothingRead>().is_some() => {
            eprintln!("denytrail: error: {}", display(&e.to_string()));
            Ok(Exit::Incomplete)
        }
        other => other,
    }
}

/// A scan that read no record at all while JSON files of no known shape were found: not a
/// clean "nothing denied" (exit status 4, and no report is written).
#[derive(Debug)]
pub struct NothingRead {
    files: u64,
    shapes: Vec<String>,
}

impl std::fmt::Display for NothingRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no CloudTrail record was read: {} JSON file(s) in no known shape ({}); see \"Formats read\" in the README",
            self.files,
            self.shapes.join(", ")
        )
    }
}

impl std::error::Error for NothingRead {}

/// One warning on stderr, unless `--quiet`. Log text inside it is shown escaped.
pub fn warn(quiet: bool, message: &str) {
    if !quiet {
        eprintln!("denytrail: warning: {}", display(message));
    }
}

/// The exit status for a finished run.
pub fn exit_for(out: &ScanOutput, fail_on_findings: bool, findings: bool) -> Exit {
    if out.stats.incomplete() {
        Exit::Incomplete
    } else if fail_on_findings && findings {
        Exit::Findings
    } else {
        Exit::Clean
    }
}

pub fn terminal_width() -> usize {
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return w;
    }
    terminal_size::terminal_size().map_or(120, |(w, _)| w.0 as usize)
}

/// Runs a scan plan: resolves `--trail`, reads every input, and refuses a run in which nothing
/// could be read at all, or in which no record was read while JSON of unknown shape was.
pub fn scan(plan: ScanPlan) -> Result<ScanOutput> {
    let quiet = plan.quiet;
    let mut trail_inputs = Vec::new();
    if let Some(trail) = &plan.trail {
        let found = crate::source::trail::resolve(trail, &plan.aws)?;
        for warning in &found.warnings {
            warn(quiet, warning);
        }
        trail_inputs = found.inputs;
    }
    let out = crate::scan::run(&plan.scan_options(trail_inputs))?;
    let stats = &out.stats;
    if stats.files_read == 0 && stats.files_skipped == 0 && stats.files_failed > 0 {
        if !quiet {
            eprint!("{}", crate::report::summary::failures(stats));
        }
        let first = &stats.failed[0];
        anyhow::bail!(
            "nothing could be scanned: {} input(s) failed, e.g. {}: {}",
            stats.files_failed,
            display(&first.path),
            display(&first.error.to_string())
        );
    }
    if stats.nothing_read() {
        if !quiet {
            eprint!("{}", crate::report::summary::failures(stats));
        }
        let shapes = stats.unknown_shapes.iter().take(3).map(|(s, n)| format!("{s} ×{n}")).collect::<Vec<_>>();
        let more = stats.unknown_shapes.len().saturating_sub(3);
        let shapes = if more > 0 { [shapes, vec![format!("{more} more")]].concat() } else { shapes };
        return Err(NothingRead { files: stats.unknown_shapes.values().sum(), shapes }.into());
    }
    Ok(out)
}

/// The events of a scan, or of a saved `--events-out` file (with the globs that still apply).
pub fn events(from: EventsFrom) -> Result<ScanOutput> {
    match from {
        EventsFrom::Scan(plan) => scan(plan),
        EventsFrom::Saved(path, filter, _) => {
            use polars::prelude::{ParquetReader, SerReader};
            let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            let df = ParquetReader::new(file)
                .finish()
                .with_context(|| format!("{} is not an events Parquet file", path.display()))?;
            let events = crate::report::frame::events_from_frame(&df)
                .with_context(|| format!("{} lacks the columns of `scan --events-out`", path.display()))?;
            let (targets, companions) = events.into_iter().partition(|e| e.is_target());
            let mut out = ScanOutput { targets, companions, ..ScanOutput::default() };
            out.targets.retain(|e| filter.matches_event_globs(&e.principal, e.bucket.as_deref(), &e.prefix));
            out.stats.events_unique = out.targets.len() as u64;
            Ok(out)
        }
    }
}
