//! `denytrail scan`: the grouped report of denied S3 writes (or its timeline), to every output.

use std::collections::HashMap;

use anyhow::Result;
use chrono::Utc;

use super::{Exit, exit_for, terminal_width, warn};
use crate::cli::{ReportArgs, ScanArgs};
use crate::collect::{Collector, PartialOutput, ScanOutput};
use crate::event::GroupKey;
use crate::plan::{self, Output, ScanPlan};
use crate::report::escape::display;
use crate::report::hive::EventsOut;
use crate::report::html::HtmlMeta;
use crate::report::tap::Stream;
use crate::report::timeline::Timeline;
use crate::report::write::{self, Report};
use crate::report::{self, Group, baseline};
use crate::sink::Destination;
use denytrail_core::tally::GroupTally;

/// Most buckets an explicit `--timeline` width may make; the HTML chart picks its own width
/// for at most [`CHART_BUCKETS`].
const MAX_TIMELINE_BUCKETS: usize = 5_000;
const CHART_BUCKETS: usize = 48;

pub fn run(args: &ScanArgs) -> Result<Exit> {
    // Check everything first: no baseline is downloaded and nothing listed for a bad flag.
    let quiet = args.report.run.quiet;
    let mut scan = ScanPlan::of(&args.input, &args.aws, quiet, Utc::now())?;
    let sharding = plan::Sharding::of(&args.shard, &args.report, |k| std::env::var(k).ok())?;
    scan.shard = sharding.shard;
    let aws = scan.aws.clone();
    // `--events-out` is opened before the scan (a bad destination is said first) and fed by
    // the collector as events are kept, so it never holds them all.
    let events = match &args.report.events_out {
        Some(to) => Some(Stream::open(EventsOut::open(to, &aws, scan.shard)?)),
        None => None,
    };
    let tapped = |c: Collector| match &events {
        Some(s) => c.with_tap(s.tap()),
        None => c,
    };
    if let Some(to) = sharding.partial {
        let filter = plan::fingerprint(&scan);
        let shard = sharding.shard.unwrap_or(crate::shard::Shard { index: 0, count: 1 });
        let out = super::scan_partial(scan, tapped(Collector::for_partial()))?;
        Stream::finish(events, quiet)?;
        return write_partial(&to, &aws, filter, shard, out, quiet);
    }
    let prepared = Prepared::of(&args.report, &aws)?;
    let out = super::finished(scan, tapped(Collector::new()))?;
    Stream::finish(events, quiet)?;
    let mut inputs = args.input.inputs.clone();
    inputs.extend(args.aws.trail.iter().map(|t| format!("trail {t}")));
    prepared.report(&args.report, &aws, out, &inputs)
}

/// What a report needs from the command line, checked (and the baseline and configuration
/// read) before the scan or merge it reports on.
pub struct Prepared {
    outputs: Vec<Output>,
    baseline_at: Option<Destination>,
    previous: Option<Vec<Group>>,
    configuration: super::Configuration,
}

impl Prepared {
    pub fn of(args: &ReportArgs, aws: &crate::aws::AwsOptions) -> Result<Prepared> {
        let outputs = plan::outputs(&args.output, |_| Ok(()))?;
        let baseline_at = args.baseline.as_deref().map(plan::location).transpose()?;
        let config_from = plan::ConfigFrom::of(&args.live)?;
        let configuration = super::Configuration::prepare(&config_from)?;
        let previous = match &baseline_at {
            Some(at) => Some(read_baseline(at, aws, args.run.quiet)?),
            None => None,
        };
        Ok(Prepared { outputs, baseline_at, previous, configuration })
    }

    /// Diagnoses, groups and writes the report of `out`; the one tail of `scan` and `merge`.
    pub fn report(
        self,
        args: &ReportArgs,
        aws: &crate::aws::AwsOptions,
        mut out: ScanOutput,
        inputs: &[String],
    ) -> Result<Exit> {
        let quiet = args.run.quiet;
        let config = self.configuration.resolve(&out, aws, quiet)?;
        let diagnosis = denytrail_core::diagnose_tallies(&out.groups, &out.companions, config.as_ref().map(|c| &c.0));
        if let Some((_, mut live)) = config {
            super::count_verdicts(
                &mut live,
                diagnosis.values().map(|d| (d.confidence.as_str(), d.confirmed_by.as_str())),
            );
            out.stats.live = Some(live);
        }
        let mut groups = report::rows_of(&out.groups, &diagnosis);
        if let Some(previous) = self.previous {
            groups = baseline::compare(groups, previous);
        }
        let timeline = timeline_of(&groups, &out.groups, args.timeline);
        if let Some(asked) = args.timeline
            && timeline.width_ms != asked
            && timeline.buckets() > 0
        {
            warn(
                quiet,
                &format!(
                    "--timeline {} would make more than {MAX_TIMELINE_BUCKETS} buckets; using {}",
                    report::timeline::duration_label(asked),
                    timeline.width_label()
                ),
            );
        }
        emit(args, inputs, aws, &self.outputs, &groups, &timeline, &out)?;
        let current = groups.iter().filter(|g| g.status != baseline::RESOLVED).count();
        if !quiet {
            eprint!("{}", report::summary::render(&out.stats, current));
            let estimated = groups.iter().filter(|g| !g.estimated.is_empty()).count();
            if estimated > 0 {
                eprintln!(
                    "denytrail: {estimated} group(s) too large to count exactly: see their estimated column (distinct counts ±0.8%, causes weighed from exemplars)"
                );
            }
            if self.baseline_at.is_some() {
                let n = |s: &str| groups.iter().filter(|g| g.status == s).count();
                eprintln!(
                    "denytrail: since the baseline: {} new, {} ongoing, {} resolved",
                    n(baseline::NEW),
                    n(baseline::ONGOING),
                    n(baseline::RESOLVED)
                );
            }
        }
        let exit = exit_for(&out, args.run.fail_on_findings, current > 0);
        // The process ends with this report: freeing every kept event one by one (a few
        // percent of an outage scan, on one thread) would only delay the exit.
        std::mem::forget(out);
        Ok(exit)
    }
}

/// Writes a shard's partial. A shard whose inputs partly failed still exits 0: its failures
/// are in the partial, and the merge reports them (status 4), so the engine does not retry it.
fn write_partial(
    to: &Destination,
    aws: &crate::aws::AwsOptions,
    filter: String,
    shard: crate::shard::Shard,
    out: PartialOutput,
    quiet: bool,
) -> Result<Exit> {
    let PartialOutput { stats, denials, waiting, ledger, companions, used_keys } = out;
    let header = crate::partial::Header {
        format: crate::partial::FORMAT.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        filter,
        shard,
        stats,
        events: companions.len() as u64,
        waiting: waiting.bytes(),
        ledger: ledger.records(),
    };
    to.deliver(aws, "application/gzip", |w| {
        Ok(crate::partial::write(w, &header, &denials, &used_keys, companions.iter(), waiting, ledger)?)
    })?;
    if !quiet {
        let s = &header.stats;
        eprintln!(
            "denytrail: shard {shard}: {} files ({} read, {} skipped, {} failed), {} matched; partial written to {}",
            s.files_seen,
            s.files_read,
            s.files_skipped,
            s.files_failed,
            denials.counted(),
            display(&to.name())
        );
    }
    Ok(Exit::Clean)
}

/// Denials per bucket for each group, in report order.
fn timeline_of(groups: &[Group], tallies: &[GroupTally], width: Option<i64>) -> Timeline {
    let index: HashMap<GroupKey, usize> = groups.iter().enumerate().map(|(i, g)| (g.key(), i)).collect();
    let mut counts: Vec<(usize, Option<i64>, u64)> = Vec::new();
    for t in tallies {
        let Some(&i) = index.get(&t.key) else { continue };
        let (times, untimed) = t.times();
        counts.extend(times.filter(|&(_, n)| n > 0).map(|(at, n)| (i, Some(at), n)));
        if untimed > 0 {
            counts.push((i, None, untimed));
        }
    }
    let max = if width.is_some() { MAX_TIMELINE_BUCKETS } else { CHART_BUCKETS };
    Timeline::build_counted(groups.len(), counts, width, max)
}

/// The `--baseline` report. A baseline that does not exist yet (the first night of a nightly
/// job) is not an error: every group is then new, and a warning says so.
fn read_baseline(at: &Destination, aws: &crate::aws::AwsOptions, quiet: bool) -> Result<Vec<Group>> {
    match at.read(aws)? {
        Some(bytes) => baseline::parse(bytes, &at.name()),
        None => {
            warn(quiet, &format!("the baseline {} does not exist yet: every group is new", at.name()));
            Ok(Vec::new())
        }
    }
}

fn emit(
    args: &ReportArgs,
    inputs: &[String],
    aws: &crate::aws::AwsOptions,
    outputs: &[Output],
    groups: &[Group],
    timeline: &Timeline,
    out: &ScanOutput,
) -> Result<()> {
    let generated_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let baseline = args.baseline.as_ref().map(|p| p.display().to_string());
    let meta = HtmlMeta {
        title: "denytrail: denied S3 writes",
        generated_at: &generated_at,
        inputs,
        baseline: baseline.as_deref(),
    };
    let report = Report { groups, stats: &out.stats, timeline, meta, width: terminal_width() };
    for o in outputs {
        o.to.deliver(aws, o.format.content_type(), |w| {
            if args.timeline.is_some() {
                write::write_timeline(o.format, &report, w)
            } else {
                write::write(o.format, &report, w)
            }
        })?;
    }
    Ok(())
}
