//! `denytrail scan`: the grouped report of denied S3 writes (or its timeline), to every output.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::Utc;

use super::{Exit, exit_for, terminal_width, warn};
use crate::cli::ScanArgs;
use crate::collect::ScanOutput;
use crate::event::{Event, GroupKey};
use crate::plan::{self, Output, ScanPlan};
use crate::report::html::HtmlMeta;
use crate::report::timeline::Timeline;
use crate::report::write::{self, Format, Report};
use crate::report::{self, Group, baseline};
use crate::sink::{self, Destination};

/// Most buckets an explicit `--timeline` width may make; the HTML chart picks its own width
/// for at most [`CHART_BUCKETS`].
const MAX_TIMELINE_BUCKETS: usize = 5_000;
const CHART_BUCKETS: usize = 48;

pub fn run(args: &ScanArgs) -> Result<Exit> {
    // Check everything first: no baseline is downloaded and nothing listed for a bad flag.
    let quiet = args.run.quiet;
    let scan = ScanPlan::of(&args.input, &args.aws, quiet, Utc::now())?;
    let outputs = plan::outputs(&args.output, |_| Ok(()))?;
    let baseline_at = args.baseline.as_deref().map(plan::location).transpose()?;
    let config_from = plan::ConfigFrom::of(&args.live)?;
    let aws = scan.aws.clone();
    let configuration = super::Configuration::prepare(&config_from)?;

    let previous = match &baseline_at {
        Some(at) => Some(read_baseline(at, &aws, quiet)?),
        None => None,
    };
    let mut out = super::scan(scan)?;
    let config = configuration.resolve(&out, &aws, quiet)?;
    let diagnosis = denytrail_core::diagnose_groups_with(&out.targets, &out.companions, config.as_ref().map(|c| &c.0));
    if let Some((_, mut live)) = config {
        super::count_verdicts(&mut live, diagnosis.values().map(|d| (d.confidence.as_str(), d.confirmed_by.as_str())));
        out.stats.live = Some(live);
    }
    let mut groups = report::build(&out.targets, &diagnosis).context("cannot group the events")?;
    if let Some(previous) = previous {
        groups = baseline::compare(groups, previous);
    }
    let timeline = timeline_of(&groups, &out.targets, args.timeline);
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
    emit(args, &aws, &outputs, &groups, &timeline, &out)?;
    let current = groups.iter().filter(|g| g.status != baseline::RESOLVED).count();
    if !quiet {
        eprint!("{}", report::summary::render(&out.stats, current));
        if baseline_at.is_some() {
            let n = |s: &str| groups.iter().filter(|g| g.status == s).count();
            eprintln!(
                "denytrail: since the baseline: {} new, {} ongoing, {} resolved",
                n(baseline::NEW),
                n(baseline::ONGOING),
                n(baseline::RESOLVED)
            );
        }
    }
    Ok(exit_for(&out, args.run.fail_on_findings, current > 0))
}

/// Denials per bucket for each group, in report order.
fn timeline_of(groups: &[Group], targets: &[Event], width: Option<i64>) -> Timeline {
    let index: HashMap<GroupKey, usize> = groups.iter().enumerate().map(|(i, g)| (g.key(), i)).collect();
    let events = targets.iter().filter_map(|e| index.get(&GroupKey::of(e)).map(|&i| (i, e.event_time_ms)));
    let max = if width.is_some() { MAX_TIMELINE_BUCKETS } else { CHART_BUCKETS };
    Timeline::build(groups.len(), events, width, max)
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
    args: &ScanArgs,
    aws: &crate::aws::AwsOptions,
    outputs: &[Output],
    groups: &[Group],
    timeline: &Timeline,
    out: &ScanOutput,
) -> Result<()> {
    let generated_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut inputs = args.input.inputs.clone();
    inputs.extend(args.aws.trail.iter().map(|t| format!("trail {t}")));
    let baseline = args.baseline.as_ref().map(|p| p.display().to_string());
    let meta = HtmlMeta {
        title: "denytrail: denied S3 writes",
        generated_at: &generated_at,
        inputs: &inputs,
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
    if let Some(path) = &args.events_out {
        let all: Vec<&Event> = out.targets.iter().chain(&out.companions).collect();
        let frame = report::frame::events_frame(&all)?;
        sink::write_file(path, |w| write::write_table(Format::Parquet, &frame, None, 0, w))?;
    }
    Ok(())
}
