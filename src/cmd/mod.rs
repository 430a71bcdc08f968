//! The commands, one file each. Each turns its arguments into a checked plan (`crate::plan`),
//! runs it, and returns the exit status of the contract.

pub mod explain;
pub mod merge;
pub mod query;
pub mod scan;
pub mod snapshot;

use std::fs::File;

use anyhow::{Context, Result};

use crate::aws::AwsOptions;
use crate::cli::{Cli, Command};
use crate::collect::{Collector, PartialOutput, ScanOutput};
use crate::event::Event;
use crate::plan::{ConfigFrom, EventsFrom, ScanPlan};
use crate::report::escape::display;
use crate::report::hive::EventsOut;
use crate::report::tap::Stream;
use denytrail_core::policy::Snapshot;
use denytrail_core::stats::LiveStats;

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
        Command::Merge(args) => merge::run(&args),
        Command::Snapshot(args) => snapshot::run(&args),
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
    finished(plan, Collector::new())
}

/// [`scan`] into a given collector (one with a tap).
pub fn finished(plan: ScanPlan, collector: Collector) -> Result<ScanOutput> {
    let quiet = plan.quiet;
    let (collector, seconds) = collect(plan, collector)?;
    let mut out = collector.finish();
    out.stats.elapsed_seconds = seconds;
    refuse_unread(&out, quiet)?;
    Ok(out)
}

/// A shard's scan for `--partial`: every session kept, and no verdict on what was read (a shard
/// may own no readable file); the merge judges the whole.
pub fn scan_partial(plan: ScanPlan, collector: Collector) -> Result<PartialOutput> {
    let (collector, seconds) = collect(plan, collector)?;
    let mut out = collector.finish_partial().context("cannot write the shard's ledger of denials to disk")?;
    out.stats.elapsed_seconds = seconds;
    Ok(out)
}

/// Resolves `--trail` and runs the pipeline.
fn collect(plan: ScanPlan, collector: Collector) -> Result<(Collector, f64)> {
    let quiet = plan.quiet;
    let mut trail_inputs = Vec::new();
    if let Some(trail) = &plan.trail {
        let found = crate::source::trail::resolve(trail, &plan.aws)?;
        for warning in &found.warnings {
            warn(quiet, warning);
        }
        trail_inputs = found.inputs;
    }
    crate::scan::run(&plan.scan_options(trail_inputs), collector)
}

/// A run that read nothing never passes for a clean one: every input failed (status 1), or
/// only JSON of no known shape was found (status 4, no report).
pub fn refuse_unread(out: &ScanOutput, quiet: bool) -> Result<()> {
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
    Ok(())
}

/// The scan's output, its events (targets and companions) written to `spool` instead of kept.
/// A saved file's targets are tallied and filtered by the globs as they are copied.
pub fn spooled(from: EventsFrom, spool: &std::path::Path) -> Result<ScanOutput> {
    match from {
        EventsFrom::Scan(plan) => {
            let stream = Stream::open(EventsOut::open(spool, &plan.aws, None)?);
            let out = finished(plan, Collector::new().with_tap(stream.tap()))?;
            Stream::finish(Some(stream), true)?;
            Ok(out)
        }
        EventsFrom::Saved(path, filter, aws) => {
            use denytrail_core::tally::{Denials, Fate, Keys, SEEN_LIMIT, Seen};
            let mut copy = EventsOut::open(spool, &aws, None)?;
            // Identities as a scan holds them: in memory up to a limit, then on disk; a repeat
            // among those spilled is copied, and taken back from the copy at the end.
            let seen = Seen::with_limit(crate::plan::seen_limit()?.unwrap_or(SEEN_LIMIT));
            let mut denials = Denials::sharing(seen.clone());
            denials.note_repeats();
            let mut companions = Vec::new();
            read_saved(&path, |batch| {
                let (targets, others): (Vec<_>, Vec<_>) = batch.into_iter().partition(|e| e.is_target());
                let (mut kept, mut identities) = (Vec::new(), Vec::new());
                for e in targets {
                    if !filter.matches_event_globs(&e.principal, e.bucket.as_deref(), &e.prefix) {
                        continue;
                    }
                    let keys = Keys::of(&e);
                    if denials.add_event(&e, &keys) != Fate::Repeat {
                        identities.push(keys.identity);
                        kept.push(e);
                    }
                }
                copy.add_counted(kept, identities)?;
                copy.add(&others.iter().collect::<Vec<_>>())?;
                // Companions are what the scan kept for the diagnosis: bounded samples.
                companions.extend(others);
                Ok(())
            })?;
            seen.repeats(|repeat| denials.retract_repeat(repeat))
                .with_context(|| format!("cannot read back the identities of {}", path.display()))?;
            copy.finish(&denials.take_repeated().into_iter().collect())?;
            // The file holds events in the order the workers finished their objects; a scan's
            // own are in scan order, and what is read from either must not depend on it.
            denytrail_core::event::sort_events(&mut companions, Event::scan_order);
            let mut out = ScanOutput { companions, ..ScanOutput::default() };
            out.groups = denials.finish().0;
            out.stats.events_unique = out.groups.iter().map(|g| g.denied).sum();
            Ok(out)
        }
    }
}

/// Rows of a saved events file read back at once: about one row group of `--events-out` (which
/// writes one per 32 MB of events), so a batch of events stays a few tens of MB.
const SAVED_BATCH: usize = 8_192;

/// Reads a saved `--events-out` file back a batch of rows at a time, in the file's order.
pub fn read_saved(path: &std::path::Path, batch: impl FnMut(Vec<Event>) -> Result<()>) -> Result<()> {
    read_saved_where(path, |_| None, batch)
}

/// [`read_saved`], passing on only the rows `keep` marks in each batch of the table (all when
/// it marks none): the others are never made events.
pub fn read_saved_where(
    path: &std::path::Path,
    keep: impl Fn(&polars::prelude::DataFrame) -> Option<polars::prelude::BooleanChunked>,
    mut batch: impl FnMut(Vec<Event>) -> Result<()>,
) -> Result<()> {
    use polars::prelude::{ParquetReader, SerReader};
    let open = || File::open(path).with_context(|| format!("cannot open {}", path.display()));
    let not_events = || format!("{} is not an events Parquet file", path.display());
    let lacks = || format!("{} lacks the columns of `scan --events-out`", path.display());
    let rows = ParquetReader::new(open()?).num_rows().with_context(not_events)?;
    let mut at = 0;
    // Even an empty file is read once: its columns are checked.
    while at == 0 || at < rows {
        let df = ParquetReader::new(open()?).with_slice(Some((at, SAVED_BATCH))).finish().with_context(not_events)?;
        let height = df.height();
        let events = match keep(&df) {
            Some(mask) => crate::report::frame::events_from_frame(&df.filter(&mask).with_context(lacks)?),
            None => crate::report::frame::events_from_frame(&df),
        }
        .with_context(lacks)?;
        if height == 0 {
            break;
        }
        at += height;
        batch(events)?;
    }
    Ok(())
}

/// The configuration `--live` / `--config` judge against: a `--config` file is read before the
/// scan (a bad file is said before anything is scanned); `--live` is read after it, for the
/// scan's targets.
pub enum Configuration {
    None,
    Live,
    Loaded(Box<Snapshot>, String),
}

impl Configuration {
    pub fn prepare(from: &ConfigFrom) -> Result<Configuration> {
        Ok(match from {
            ConfigFrom::None => Configuration::None,
            ConfigFrom::Live => Configuration::Live,
            ConfigFrom::File(path) => {
                Configuration::Loaded(Box::new(crate::live::load(path)?), path.display().to_string())
            }
        })
    }

    /// The snapshot for `out`'s targets, with its stats (group verdicts still zero), or `None`.
    pub fn resolve(self, out: &ScanOutput, aws: &AwsOptions, quiet: bool) -> Result<Option<(Snapshot, LiveStats)>> {
        let (snapshot, mut stats) = match self {
            Configuration::None => return Ok(None),
            Configuration::Loaded(snap, source) => (*snap, LiveStats { source, ..LiveStats::default() }),
            Configuration::Live => {
                let f = crate::live::fetch(&out.exemplars(), &out.companions, aws)?;
                let stats = LiveStats {
                    source: "live".into(),
                    live_calls: f.calls,
                    seconds: f.seconds,
                    ..LiveStats::default()
                };
                (f.snapshot, stats)
            }
        };
        stats.snapshot_taken_at = snapshot.taken_at_ms.map(crate::report::rfc3339_ms);
        let gaps = denytrail_core::diagnose::confirm::not_visible(&snapshot);
        stats.not_visible = gaps.len() as u64;
        const SHOWN: usize = 5;
        for (item, reason) in gaps.iter().take(SHOWN) {
            warn(quiet, &format!("not visible: {item} ({reason})"));
        }
        if gaps.len() > SHOWN {
            warn(quiet, &format!("not visible: {} more item(s) (see the snapshot)", gaps.len() - SHOWN));
        }
        Ok(Some((snapshot, stats)))
    }
}

/// Counts the groups by verdict into `stats`.
pub fn count_verdicts<'a>(stats: &mut LiveStats, rows: impl Iterator<Item = (&'a str, &'a str)>) {
    for (confidence, confirmed_by) in rows {
        match confidence {
            "confirmed" => stats.confirmed += 1,
            "refuted" => stats.refuted += 1,
            _ if !confirmed_by.is_empty() => stats.undetermined += 1,
            _ => {}
        }
    }
}
