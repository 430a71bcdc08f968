//! The commands: turn parsed arguments into a pipeline run and an exit status.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::cli::{Cli, Command, ExplainArgs, QueryArgs, ScanArgs, SynthArgs};
use crate::filter::{ErrorCodes, Filter, Glob1};
use crate::parse::ScanContext;
use crate::report::html::HtmlMeta;
use crate::report::timeline::Timeline;
use crate::report::write::{self, Format, Report};
use crate::report::{self, GroupDiagnosis, GroupKey, baseline};
use crate::scan::{self, ScanOptions, ScanOutput};
use crate::source::Input;
use crate::source::layout::Scope;
use crate::source::s3::S3Options;

/// Exit statuses of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Clean = 0,
    Fatal = 1,
    Usage = 2,
    Findings = 3,
    Incomplete = 4,
}

/// A mistake in the command line, reported as one line with exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

pub fn run(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Scan(args) => run_scan(&args),
        Command::Explain(args) => run_explain(&args),
        Command::Query(args) => run_query(&args),
        Command::Synth(args) => run_synth(&args),
    }
}

/// Parses `--since`/`--until`: RFC 3339, a date, or a duration ago (`24h`, `7d`).
/// A bare date means its first instant for `--since` and its last for `--until`.
pub fn parse_time(s: &str, now: DateTime<Utc>, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        return Ok(if end_of_day { start + Duration::days(1) - Duration::milliseconds(1) } else { start });
    }
    if let Ok(d) = humantime::parse_duration(s) {
        let d = Duration::from_std(d).map_err(|_| format!("'{s}' is too long ago"))?;
        return now.checked_sub_signed(d).ok_or_else(|| format!("'{s}' is too long ago"));
    }
    Err(format!(
        "'{s}' is not a time: use RFC 3339 (2026-11-21T09:00:00Z), a date (2026-11-21) or a duration ago (24h, 7d)"
    ))
}

fn set(values: &[String]) -> Option<HashSet<String>> {
    (!values.is_empty()).then(|| values.iter().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

/// Builds the filter and the listing scope from the arguments.
pub fn filter_and_scope(args: &ScanArgs, now: DateTime<Utc>) -> Result<(Filter, Scope)> {
    let mut filter = Filter::default();
    if !args.event_names.is_empty() {
        filter.event_names = (!args.event_names.iter().any(|n| n == "*")).then(|| set(&args.event_names)).flatten();
        filter.event_sources = None;
    }
    if !args.event_sources.is_empty() {
        filter.event_sources =
            (!args.event_sources.iter().any(|n| n == "*")).then(|| set(&args.event_sources)).flatten();
    }
    if args.all_errors {
        filter.error_codes = ErrorCodes::AnyError;
    } else if args.error_codes.iter().any(|c| c == "*") {
        filter.error_codes = ErrorCodes::Any;
    } else if let Some(codes) = set(&args.error_codes) {
        filter.error_codes = ErrorCodes::Set(codes);
    }
    let since = args.since.as_deref().map(|s| parse_time(s, now, false)).transpose().map_err(usage)?;
    let until = args.until.as_deref().map(|s| parse_time(s, now, true)).transpose().map_err(usage)?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(usage(format!("--since ({s}) is after --until ({u})")));
    }
    filter.since_ms = since.map(|t| t.timestamp_millis());
    filter.until_ms = until.map(|t| t.timestamp_millis());
    filter.accounts = set(&args.accounts);
    filter.regions = set(&args.regions);
    if let Some(bad) = args.accounts.iter().find(|a| !crate::event::is_account_id(a)) {
        return Err(usage(format!("--account '{bad}' is not a 12-digit AWS account id")));
    }
    let glob = |g: &Option<String>, flag: &str| {
        g.as_deref().map(|p| Glob1::new(p).map_err(|e| usage(format!("{flag} '{p}': {e}")))).transpose()
    };
    filter.principal = glob(&args.principal, "--principal")?;
    filter.bucket = glob(&args.bucket, "--bucket")?;
    filter.prefix = glob(&args.prefix, "--prefix")?;

    let scope = Scope {
        accounts: filter.accounts.clone(),
        regions: filter.regions.clone(),
        from_day: since.map(|t| t.date_naive()),
        // Folders are named by delivery day: records of day D may arrive on D+1.
        to_day: until.map(|t| t.date_naive() + Duration::days(1)),
    };
    Ok((filter, scope))
}

/// The format a file name asks for, by its extension.
fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    [
        (".csv", Format::Csv),
        (".json", Format::Json),
        (".ndjson", Format::Ndjson),
        (".jsonl", Format::Ndjson),
        (".parquet", Format::Parquet),
        (".md", Format::Markdown),
        (".html", Format::Html),
        (".htm", Format::Html),
    ]
    .into_iter()
    .find(|(ext, _)| name.ends_with(ext))
    .map(|(_, f)| f)
}

/// Where the report goes, and in which format. Each `--output` takes the format its extension
/// names, else `--format`, else the table. Without `--output`: stdout, in `--format`, else the
/// table on a terminal and CSV in a pipe (data for the next tool).
fn outputs(args: &ScanArgs) -> Result<Vec<(Destination<'_>, Format)>> {
    if args.output.is_empty() {
        let piped = !std::io::stdout().is_terminal();
        let format = args.format.unwrap_or(if piped { Format::Csv } else { Format::Table });
        if format.needs_file() {
            return Err(usage("--format parquet needs --output FILE"));
        }
        return Ok(vec![(Destination::Stdout, format)]);
    }
    args.output
        .iter()
        .map(|path| {
            let format = format_of(path).or(args.format).unwrap_or(Format::Table);
            Ok((Destination::of(Some(path))?, format))
        })
        .collect()
}

/// Writes one output: a local file, stdout, or an S3 object.
fn deliver(
    args: &ScanArgs,
    to: &Destination,
    format: Format,
    write: impl Fn(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    match to {
        Destination::File(path) => {
            let mut f = create(path)?;
            write(&mut f)?;
            f.into_inner().map_err(|e| e.into_error()).with_context(|| format!("cannot write {}", path.display()))?;
        }
        Destination::Stdout => write(&mut std::io::stdout().lock())?,
        Destination::S3 { bucket, key } => {
            let mut body = Vec::new();
            write(&mut body)?;
            crate::source::s3::upload(&s3_options(args), bucket, key, body, format.content_type())?;
        }
    }
    Ok(())
}

fn terminal_width() -> usize {
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return w;
    }
    terminal_size::terminal_size().map_or(120, |(w, _)| w.0 as usize)
}

/// Per-group diagnosis columns. The diagnosis stage fills them; without it they stay empty.
fn diagnose(out: &ScanOutput) -> HashMap<GroupKey, GroupDiagnosis> {
    crate::diagnose_groups(&out.targets, &out.companions)
}

fn s3_options(args: &ScanArgs) -> S3Options {
    S3Options {
        profile: args.aws.profile.clone(),
        region: args.aws.aws_region.clone(),
        endpoint_url: args.aws.endpoint_url.clone(),
        concurrency: args.aws.concurrency.max(1),
    }
}

/// Where `--output` sends the report.
#[derive(Debug, PartialEq)]
enum Destination<'a> {
    Stdout,
    File(&'a Path),
    S3 { bucket: String, key: String },
}

impl<'a> Destination<'a> {
    fn of(output: Option<&'a Path>) -> Result<Destination<'a>> {
        let Some(path) = output else { return Ok(Destination::Stdout) };
        let Some(rest) = path.to_str().and_then(|p| p.strip_prefix("s3://")) else {
            return Ok(Destination::File(path));
        };
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') => {
                Ok(Destination::S3 { bucket: bucket.to_string(), key: key.to_string() })
            }
            _ => Err(usage(format!("'{}' must name an object: s3://bucket/key", path.display()))),
        }
    }
}

/// Runs the scan part shared by `scan` and `explain`: validate, list, read, collect.
fn scan_inputs(args: &ScanArgs) -> Result<ScanOutput> {
    let (filter, scope) = filter_and_scope(args, Utc::now())?;
    if args.prefix_depth == 0 {
        return Err(usage("--prefix-depth must be at least 1"));
    }
    if args.inputs.is_empty() && args.aws.trail.is_none() {
        return Err(usage("give at least one INPUT (a file, a directory, '-' or s3://bucket/prefix) or --trail"));
    }
    let mut inputs = args.inputs.iter().map(|s| Input::parse(s)).collect::<Result<Vec<_>, _>>().map_err(usage)?;
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err(usage("'-' (stdin) can be given only once"));
    }
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let s3 = s3_options(args);
    if let Some(trail) = &args.aws.trail {
        let found = crate::source::trail::resolve(trail, &s3)?;
        if !args.quiet {
            for warning in &found.warnings {
                eprintln!("denytrail: warning: {}", report::escape::display(warning));
            }
        }
        inputs.extend(found.inputs);
    }
    let mut context = ScanContext::new(filter, args.prefix_depth, args.max_decompressed.max(1));
    context.decode_only = args.decode_only;
    let opts = ScanOptions { inputs, context, scope, threads: args.threads, progress, s3 };
    let out = scan::run(&opts)?;
    let stats = &out.stats;
    if stats.files_read == 0 && stats.files_skipped == 0 && stats.files_failed > 0 {
        if !args.quiet {
            eprint!("{}", report::summary::failures(stats));
        }
        let first = &stats.failed[0];
        anyhow::bail!(
            "nothing could be scanned: {} input(s) failed, e.g. {}: {}",
            stats.files_failed,
            report::escape::display(&first.path),
            report::escape::display(&first.error)
        );
    }
    Ok(out)
}

/// The exit status for a finished run.
fn exit_for(out: &ScanOutput, fail_on_findings: bool, findings: bool) -> Exit {
    if out.stats.incomplete() {
        Exit::Incomplete
    } else if fail_on_findings && findings {
        Exit::Findings
    } else {
        Exit::Clean
    }
}

fn run_scan(args: &ScanArgs) -> Result<Exit> {
    let outputs = outputs(args)?;
    let previous = read_baseline(args)?;
    let out = scan_inputs(args)?;
    let diagnosis = diagnose(&out);
    let mut groups = report::build(&out.targets, &diagnosis).context("cannot group the events")?;
    if let Some(previous) = previous {
        groups = baseline::compare(groups, previous);
    }
    let timeline = timeline_of(&groups, &out.targets, args.timeline);
    if let Some(asked) = args.timeline
        && timeline.width_ms != asked
        && timeline.buckets() > 0
        && !args.quiet
    {
        eprintln!(
            "denytrail: warning: --timeline {} would make more than {MAX_TIMELINE_BUCKETS} buckets; using {}",
            report::timeline::duration_label(asked),
            timeline.width_label()
        );
    }
    emit(args, &outputs, &groups, &timeline, &out)?;
    let current = groups.iter().filter(|g| g.status != baseline::RESOLVED).count();
    if !args.quiet {
        eprint!("{}", report::summary::render(&out.stats, current));
        if args.baseline.is_some() {
            let n = |s: &str| groups.iter().filter(|g| g.status == s).count();
            eprintln!(
                "denytrail: since the baseline: {} new, {} ongoing, {} resolved",
                n(baseline::NEW),
                n(baseline::ONGOING),
                n(baseline::RESOLVED)
            );
        }
    }
    Ok(exit_for(&out, args.fail_on_findings, current > 0))
}

/// Most buckets an explicit `--timeline` width may make; the HTML chart picks its own width
/// for at most [`CHART_BUCKETS`].
const MAX_TIMELINE_BUCKETS: usize = 5_000;
const CHART_BUCKETS: usize = 48;

/// Denials per bucket for each group, in report order.
fn timeline_of(groups: &[report::Group], targets: &[crate::event::Event], width: Option<i64>) -> Timeline {
    let index: HashMap<(&str, &str, &str), usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| ((g.principal.as_str(), g.bucket.as_str(), g.prefix.as_str()), i))
        .collect();
    let events = targets.iter().filter_map(|e| {
        let key = (e.principal.as_str(), e.bucket.as_deref().unwrap_or(""), e.prefix.as_str());
        index.get(&key).map(|&i| (i, e.event_time_ms))
    });
    let max = if width.is_some() { MAX_TIMELINE_BUCKETS } else { CHART_BUCKETS };
    Timeline::build(groups.len(), events, width, max)
}

/// The `--baseline` report. A baseline that does not exist yet (the first night of a nightly
/// job) is not an error: every group is then new, and a warning says so.
fn read_baseline(args: &ScanArgs) -> Result<Option<Vec<report::Group>>> {
    let Some(path) = &args.baseline else { return Ok(None) };
    if let Destination::S3 { bucket, key } = Destination::of(Some(path))? {
        return match crate::source::s3::download(&s3_options(args), &bucket, &key)? {
            Some(bytes) => baseline::parse(bytes, &format!("s3://{bucket}/{key}")).map(Some),
            None => {
                if !args.quiet {
                    eprintln!(
                        "denytrail: warning: the baseline s3://{}/{} does not exist yet: every group is new",
                        report::escape::display(&bucket),
                        report::escape::display(&key)
                    );
                }
                Ok(Some(Vec::new()))
            }
        };
    }
    if !path.exists() {
        if !args.quiet {
            eprintln!(
                "denytrail: warning: the baseline {} does not exist yet: every group is new",
                report::escape::display(&path.display().to_string())
            );
        }
        return Ok(Some(Vec::new()));
    }
    baseline::read(path).map(Some)
}

/// Reads the events a `scan --events-out` kept, applying the scan flags that still apply.
fn read_events(path: &Path, args: &ScanArgs) -> Result<ScanOutput> {
    use polars::prelude::{ParquetReader, SerReader};
    if !args.inputs.is_empty() || args.aws.trail.is_some() {
        return Err(usage("--events reads the events a scan saved: give it without INPUTs or --trail"));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let df = ParquetReader::new(file)
        .finish()
        .with_context(|| format!("{} is not an events Parquet file", path.display()))?;
    let events = report::frame::events_from_frame(&df)
        .with_context(|| format!("{} lacks the columns of `scan --events-out`", path.display()))?;
    let (filter, _) = filter_and_scope(args, Utc::now())?;
    let (targets, companions) = events.into_iter().partition(|e| e.is_target());
    let mut out = ScanOutput { targets, companions, ..ScanOutput::default() };
    out.targets.retain(|e| filter.matches_event_globs(&e.principal, e.bucket.as_deref(), &e.prefix));
    out.stats.events_unique = out.targets.len() as u64;
    Ok(out)
}

/// Flags of `scan` that another command shares but has no use for are refused, not ignored.
fn refuse_scan_only(command: &str, args: &ScanArgs, also_output: bool) -> Result<()> {
    let given = [
        ("--timeline", args.timeline.is_some()),
        ("--baseline", args.baseline.is_some()),
        ("--events-out", args.events_out.is_some()),
        ("--output", also_output && !args.output.is_empty()),
        ("--format", also_output && args.format.is_some()),
    ];
    match given.iter().find(|(_, on)| *on) {
        Some((flag, _)) => Err(usage(format!("{flag} is for `denytrail scan`; `denytrail {command}` does not use it"))),
        None => Ok(()),
    }
}

fn run_explain(args: &ExplainArgs) -> Result<Exit> {
    refuse_scan_only("explain", &args.scan, true)?;
    let out = match &args.events {
        Some(path) => read_events(path, &args.scan)?,
        None => scan_inputs(&args.scan)?,
    };
    // Only the order and keys of the groups are needed here; each is diagnosed once below.
    let groups = report::build(&out.targets, &HashMap::new()).context("cannot group the events")?;
    let chosen: Vec<(usize, &report::Group)> = match args.group {
        Some(0) => return Err(usage("--group counts from 1 (the group with the most denials)")),
        Some(n) if n > groups.len() => {
            return Err(usage(format!("--group {n}: the report has {} group(s)", groups.len())));
        }
        Some(n) => vec![(n, &groups[n - 1])],
        None => groups.iter().enumerate().map(|(i, g)| (i + 1, g)).collect(),
    };
    let index = crate::diagnose::Companions::new(out.companions.iter().chain(&out.targets).collect());
    let mut stdout = std::io::stdout().lock();
    if chosen.is_empty() {
        writeln!(stdout, "no matching denials")?;
    }
    for (rank, g) in chosen {
        let members: Vec<&crate::event::Event> = out
            .targets
            .iter()
            .filter(|e| {
                e.principal == g.principal && e.bucket.as_deref().unwrap_or("") == g.bucket && e.prefix == g.prefix
            })
            .collect();
        let d = crate::diagnose::diagnose_group(&members, &index);
        let text = crate::diagnose::explain_group(&members, &d);
        writeln!(stdout, "## Group {rank} of {}\n", groups.len())?;
        // Log text inside the explanation is shown escaped, never raw.
        for line in text.lines() {
            writeln!(stdout, "{}", report::escape::display(line))?;
        }
        writeln!(stdout)?;
    }
    if !args.scan.quiet && args.events.is_none() {
        eprint!("{}", report::summary::render(&out.stats, groups.len()));
    }
    Ok(exit_for(&out, args.scan.fail_on_findings, !groups.is_empty()))
}

fn run_query(args: &QueryArgs) -> Result<Exit> {
    refuse_scan_only("query", &args.scan, false)?;
    let outputs = outputs(&args.scan)?;
    if outputs.iter().any(|(_, f)| *f == Format::Html) {
        return Err(usage(
            "query results have no HTML form; use --format table, csv, json, ndjson, markdown or parquet",
        ));
    }
    let out = match &args.events {
        Some(path) => read_events(path, &args.scan)?,
        None => scan_inputs(&args.scan)?,
    };
    let groups = report::build(&out.targets, &diagnose(&out)).context("cannot group the events")?;
    let all: Vec<&crate::event::Event> = out.targets.iter().chain(&out.companions).collect();
    let tables = vec![("events", report::frame::events_frame(&all)?), ("groups", report::groups_to_frame(&groups)?)];
    let result =
        report::query::execute(&args.sql, tables).map_err(|e| usage(format!("--sql: {}", one_line(&e.to_string()))))?;
    let width = terminal_width();
    for (to, format) in &outputs {
        deliver(&args.scan, to, *format, |w: &mut dyn Write| report::query::write(*format, &result, width, w))?;
    }
    if !args.scan.quiet && args.events.is_none() {
        eprint!("{}", report::summary::render(&out.stats, groups.len()));
    }
    Ok(exit_for(&out, false, false))
}

/// Polars errors can span lines; the CLI reports one.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::new(f))
}

fn emit(
    args: &ScanArgs,
    outputs: &[(Destination, Format)],
    groups: &[report::Group],
    timeline: &Timeline,
    out: &ScanOutput,
) -> Result<()> {
    let generated_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut inputs = args.inputs.clone();
    inputs.extend(args.aws.trail.iter().map(|t| format!("trail {t}")));
    let baseline = args.baseline.as_ref().map(|p| p.display().to_string());
    let meta = HtmlMeta {
        title: "denytrail: denied S3 writes",
        generated_at: &generated_at,
        inputs: &inputs,
        baseline: baseline.as_deref(),
    };
    let report = Report { groups, stats: &out.stats, timeline, meta, width: terminal_width() };
    for (to, format) in outputs {
        deliver(args, to, *format, |out: &mut dyn Write| {
            if args.timeline.is_some() {
                write::write_timeline(*format, &report, out)
            } else {
                write::write(*format, &report, out)
            }
        })?;
    }
    if let Some(path) = &args.events_out {
        let all: Vec<&crate::event::Event> = out.targets.iter().chain(&out.companions).collect();
        let mut df = report::frame::events_frame(&all)?;
        let mut f = create(path)?;
        write::write_parquet(&mut df, &mut f)?;
        f.flush().with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn run_synth(args: &SynthArgs) -> Result<Exit> {
    let mut opts = crate::synth::SynthOptions::new(args.out.clone(), args.size);
    opts.seed = args.seed;
    opts.denied_ratio = args.denied_ratio;
    if let Some(min) = args.min_file {
        opts.min_file_bytes = min;
    }
    if let Some(max) = args.max_file {
        opts.max_file_bytes = max;
    }
    if opts.min_file_bytes > opts.max_file_bytes {
        return Err(usage("--min-file is larger than --max-file"));
    }
    let summary =
        crate::synth::generate(&opts).with_context(|| format!("cannot write the trail to {}", args.out.display()))?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(Exit::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let d = |s: &'static str| Destination::of(Some(Path::new(s)));
        assert_eq!(d("r.csv").unwrap(), Destination::File(Path::new("r.csv")));
        assert_eq!(
            d("s3://reports/nightly/2026-11-23.html").unwrap(),
            Destination::S3 { bucket: "reports".into(), key: "nightly/2026-11-23.html".into() }
        );
        for bad in ["s3://", "s3://b", "s3://b/", "s3:///k", "s3://b/dir/"] {
            assert!(d(bad).is_err(), "{bad}");
        }
        assert_eq!(Destination::of(None).unwrap(), Destination::Stdout);
    }

    #[test]
    fn times() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_time("24h", now, false).unwrap().to_rfc3339(), "2026-11-22T12:00:00+00:00");
        assert_eq!(parse_time("7d", now, false).unwrap().to_rfc3339(), "2026-11-16T12:00:00+00:00");
        assert_eq!(parse_time("2026-11-21", now, false).unwrap().to_rfc3339(), "2026-11-21T00:00:00+00:00");
        assert_eq!(parse_time("2026-11-21", now, true).unwrap().timestamp_millis() % 86_400_000, 86_399_999);
        assert_eq!(
            parse_time("2026-11-21T09:00:00+02:00", now, false).unwrap().to_rfc3339(),
            "2026-11-21T07:00:00+00:00"
        );
        assert!(parse_time("yesterday-ish", now, false).is_err());
    }
}
