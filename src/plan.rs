//! Arguments → one checked plan, before any I/O.
//!
//! Every flag is validated here, together, the way ripgrep turns its low-level arguments into
//! `HiArgs`: times, globs, accounts, outputs and their formats, `s3://` locations. A command
//! then runs a plan that cannot be wrong in a way the command line could have said, so a bad
//! `--since` is refused before a baseline is downloaded or a bucket listed.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::aws::AwsOptions;
use crate::cli::{AwsArgs, InputArgs, LiveArgs, OutputArgs, ReportArgs, ShardArgs};
use crate::filter::{ErrorCodes, Filter, Glob1, Names};
use crate::layout::Scope;
use crate::parse::ScanContext;
use crate::report::escape::display;
use crate::report::write::Format;
use crate::scan::ScanOptions;
use crate::shard::Shard;
use crate::sink::Destination;
use crate::source::Input;

/// A mistake in the command line, reported as one line with exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// What a scan reads and keeps: the sources, the filter and scope, and how to reach AWS.
pub struct ScanPlan {
    pub inputs: Vec<Input>,
    /// `--trail`: inputs found through DescribeTrails at run time.
    pub trail: Option<String>,
    pub filter: Filter,
    pub scope: Scope,
    pub prefix_depth: usize,
    pub max_decompressed: u64,
    pub threads: usize,
    pub decode_only: bool,
    pub aws: AwsOptions,
    pub quiet: bool,
    /// `--shard I/N`, set by [`Sharding`].
    pub shard: Option<Shard>,
    /// `DENYTRAIL_SEEN_LIMIT`, read with the flags so a bad value is refused before any I/O.
    pub seen_limit: Option<usize>,
}

/// Where the events come from: a scan, or the events a `scan --events-out` saved.
pub enum EventsFrom {
    Scan(ScanPlan),
    /// The file, and the globs that still apply to its events.
    Saved(PathBuf, Filter, AwsOptions),
}

/// Where the configuration the denials are judged against comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigFrom {
    /// Neither flag: the diagnosis from the log alone.
    None,
    /// `--live`: read from AWS after the scan.
    Live,
    /// `--config FILE`: a `denytrail snapshot` file, no AWS call.
    File(PathBuf),
}

impl ConfigFrom {
    pub fn of(args: &LiveArgs) -> anyhow::Result<ConfigFrom> {
        match (args.live, &args.config) {
            (true, Some(_)) => {
                Err(usage("--live reads the configuration from AWS and --config from a file: give one of them"))
            }
            (true, None) => Ok(ConfigFrom::Live),
            (false, Some(path)) => Ok(ConfigFrom::File(path.clone())),
            (false, None) => Ok(ConfigFrom::None),
        }
    }
}

/// One output: where, and in which format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub to: Destination,
    pub format: Format,
}

impl ScanPlan {
    pub fn of(input: &InputArgs, aws: &AwsArgs, quiet: bool, now: DateTime<Utc>) -> anyhow::Result<ScanPlan> {
        if input.inputs.is_empty() && aws.trail.is_none() {
            return Err(usage("give at least one INPUT (a file, a directory, '-' or s3://bucket/prefix) or --trail"));
        }
        let inputs = input.inputs.iter().map(|s| Input::parse(s)).collect::<Result<Vec<_>, _>>().map_err(usage)?;
        if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
            return Err(usage("'-' (stdin) can be given only once"));
        }
        let (filter, scope) = filter_and_scope(input, now)?;
        if input.prefix_depth == 0 {
            return Err(usage("--prefix-depth must be at least 1"));
        }
        let seen_limit = seen_limit()?;
        Ok(ScanPlan {
            inputs,
            trail: aws.trail.clone(),
            filter,
            scope,
            prefix_depth: input.prefix_depth,
            max_decompressed: input.max_decompressed.max(1),
            threads: input.threads,
            decode_only: input.decode_only,
            aws: aws_options(aws),
            quiet,
            shard: None,
            seen_limit,
        })
    }

    /// The pipeline's options, with the inputs `--trail` added.
    pub fn scan_options(self, trail_inputs: Vec<Input>) -> ScanOptions {
        let mut context = ScanContext::new(self.filter, self.prefix_depth, self.max_decompressed);
        context.decode_only = self.decode_only;
        let mut inputs = self.inputs;
        inputs.extend(trail_inputs);
        ScanOptions {
            inputs,
            context,
            scope: self.scope,
            threads: self.threads,
            progress: !self.quiet && std::io::stderr().is_terminal(),
            aws: self.aws,
            shard: self.shard,
            seen_limit: self.seen_limit,
        }
    }
}

/// `DENYTRAIL_SEEN_LIMIT`: the identities held in memory to drop repeats before the rest are
/// spilled to disk (`denytrail_core::tally::SEEN_LIMIT` by default). For tests and benchmarks
/// that show the spill at small sizes, and for machines with little memory.
pub fn seen_limit() -> anyhow::Result<Option<usize>> {
    match std::env::var("DENYTRAIL_SEEN_LIMIT") {
        Ok(v) => v
            .parse()
            .map(Some)
            .map_err(|_| usage(format!("DENYTRAIL_SEEN_LIMIT must be a number of identities, not {v:?}"))),
        Err(_) => Ok(None),
    }
}

/// `DENYTRAIL_EXPLAIN_HELD`: the denials `explain` holds whole at most (over the groups it reads
/// whole), `default` unless set. For tests and benchmarks that show the groups read from their
/// tallies at small sizes, and for machines with little memory.
pub fn explain_held(default: u64) -> anyhow::Result<u64> {
    match std::env::var("DENYTRAIL_EXPLAIN_HELD") {
        Ok(v) => v.parse().map_err(|_| usage(format!("DENYTRAIL_EXPLAIN_HELD must be a number of denials, not {v:?}"))),
        Err(_) => Ok(default),
    }
}

impl EventsFrom {
    /// `--events FILE` reads what a scan saved, so INPUTs and `--trail` would be ambiguous.
    pub fn of(
        events: Option<&Path>,
        input: &InputArgs,
        aws: &AwsArgs,
        quiet: bool,
        now: DateTime<Utc>,
    ) -> anyhow::Result<EventsFrom> {
        let Some(path) = events else { return Ok(EventsFrom::Scan(ScanPlan::of(input, aws, quiet, now)?)) };
        if !input.inputs.is_empty() || aws.trail.is_some() {
            return Err(usage("--events reads the events a scan saved: give it without INPUTs or --trail"));
        }
        let (filter, _) = filter_and_scope(input, now)?;
        Ok(EventsFrom::Saved(path.to_path_buf(), filter, aws_options(aws)))
    }
}

pub fn aws_options(aws: &AwsArgs) -> AwsOptions {
    AwsOptions {
        profile: aws.profile.clone(),
        region: aws.aws_region.clone(),
        endpoint_url: aws.endpoint_url.clone(),
        concurrency: aws.concurrency.max(1),
    }
}

/// `--shard`, `--shards` and `--partial`, checked together.
pub struct Sharding {
    pub shard: Option<Shard>,
    pub partial: Option<Destination>,
}

/// The index variables of the engines that run array jobs, in the order they are looked for.
pub const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"];

impl Sharding {
    pub fn of(args: &ShardArgs, report: &ReportArgs, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Sharding> {
        let shard = match (args.shard, args.shards) {
            (Some(s), Some(n)) if s.count != n => {
                return Err(usage(format!("--shard {s} and --shards {n} disagree on the number of shards")));
            }
            (Some(s), _) => Some(s),
            (None, Some(n)) => {
                let found = INDEX_VARIABLES.iter().find_map(|v| env(v).map(|i| (*v, i)));
                let Some((var, index)) = found else {
                    return Err(usage(format!(
                        "--shards {n} needs the shard index: give --shard I/{n}, or run where {} is set",
                        INDEX_VARIABLES.join(" or ")
                    )));
                };
                let index: u32 =
                    index.trim().parse().map_err(|_| usage(format!("{var}='{index}' is not a shard index")))?;
                Some(Shard::new(index, n).map_err(|e| usage(format!("{var}: {e}")))?)
            }
            (None, None) => None,
        };
        let partial = args.partial.as_deref().map(location).transpose()?;
        if partial.is_some() {
            // A partial is state, not a report: the report flags belong to `merge` (but each
            // shard writes the events it read to `--events-out`: a merge has no events).
            let given = [
                ("--output", !report.output.output.is_empty()),
                ("--format", report.output.format.is_some()),
                ("--timeline", report.timeline.is_some()),
                ("--baseline", report.baseline.is_some()),
                ("--live", report.live.live),
                ("--config", report.live.config.is_some()),
                ("--fail-on-findings", report.run.fail_on_findings),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, on)| *on) {
                return Err(usage(format!(
                    "{flag} is for the report: give it to `denytrail merge`, not with --partial"
                )));
            }
        }
        Ok(Sharding { shard, partial })
    }
}

/// The settings that decide what a scan keeps, in one canonical line: partials made with
/// different ones cannot be merged into one report.
pub fn fingerprint(plan: &ScanPlan) -> String {
    let sorted = |set: &Option<Names>| {
        set.as_ref().map(|s| {
            let mut v: Vec<&String> = s.iter().collect();
            v.sort();
            v.into_iter().cloned().collect::<Vec<_>>()
        })
    };
    let f = &plan.filter;
    let errors = match &f.error_codes {
        ErrorCodes::Any => serde_json::json!("*"),
        ErrorCodes::AnyError => serde_json::json!("any error"),
        ErrorCodes::Set(codes) => serde_json::json!(sorted(&Some(codes.clone()))),
    };
    serde_json::json!({
        "event_names": sorted(&f.event_names),
        "event_sources": sorted(&f.event_sources),
        "error_codes": errors,
        "since_ms": f.since_ms,
        "until_ms": f.until_ms,
        "accounts": sorted(&f.accounts),
        "regions": sorted(&f.regions),
        "principal": f.principal.as_ref().map(|g| &g.pattern),
        "bucket": f.bucket.as_ref().map(|g| &g.pattern),
        "prefix": f.prefix.as_ref().map(|g| &g.pattern),
        "prefix_depth": plan.prefix_depth,
        "max_decompressed": plan.max_decompressed,
    })
    .to_string()
}

/// Where each table goes, and in which format. Each `--output` takes the format its extension
/// names, else `--format`, else the table. Without `--output`: stdout, in `--format`, else the
/// table on a terminal and CSV in a pipe (data for the next tool). `allowed` refuses formats a
/// command cannot write.
pub fn outputs(args: &OutputArgs, allowed: impl Fn(Format) -> Result<(), String>) -> anyhow::Result<Vec<Output>> {
    let outputs = if args.output.is_empty() {
        let piped = !std::io::stdout().is_terminal();
        let format = args.format.unwrap_or(if piped { Format::Csv } else { Format::Table });
        if format.needs_file() {
            return Err(usage("--format parquet needs --output FILE"));
        }
        vec![Output { to: Destination::Stdout, format }]
    } else {
        args.output
            .iter()
            .map(|path| {
                let format = format_of(path).or(args.format).unwrap_or(Format::Table);
                Ok(Output { to: Destination::parse(path).map_err(usage)?, format })
            })
            .collect::<anyhow::Result<_>>()?
    };
    for o in &outputs {
        allowed(o.format).map_err(usage)?;
    }
    Ok(outputs)
}

/// An `s3://bucket/key` or local location given to a flag.
pub fn location(path: &Path) -> anyhow::Result<Destination> {
    Destination::parse(path).map_err(usage)
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

/// Parses `--since`/`--until`: RFC 3339, a date, or a duration ago (`24h`, `7d`).
/// A bare date means its first instant for `--since` and its last for `--until`.
pub fn parse_time(s: &str, now: DateTime<Utc>, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        // The day's last millisecond, not next midnight minus 1 ms: the day after the last
        // date chrono can hold does not exist (that sum panicked for `--until +262142-12-31`).
        let (h, m, sec, ms) = if end_of_day { (23, 59, 59, 999) } else { (0, 0, 0, 0) };
        return Ok(d.and_hms_milli_opt(h, m, sec, ms).expect("every date has these times").and_utc());
    }
    if let Ok(d) = humantime::parse_duration(s) {
        let d = Duration::from_std(d).map_err(|_| format!("'{s}' is too long ago"))?;
        return now.checked_sub_signed(d).ok_or_else(|| format!("'{s}' is too long ago"));
    }
    Err(format!(
        "'{s}' is not a time: use RFC 3339 (2026-11-21T09:00:00Z), a date (2026-11-21) or a duration ago (24h, 7d)"
    ))
}

fn set(values: &[String]) -> Option<Names> {
    (!values.is_empty()).then(|| values.iter().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect())
}

/// Builds the filter and the listing scope from the arguments.
pub fn filter_and_scope(args: &InputArgs, now: DateTime<Utc>) -> anyhow::Result<(Filter, Scope)> {
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
        return Err(usage(format!("--account '{}' is not a 12-digit AWS account id", display(bad))));
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
        to_day: until.map(|t| t.date_naive().succ_opt().unwrap_or(NaiveDate::MAX)),
    };
    Ok((filter, scope))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Found while hardening the argument parsers (issue 15): `--until` with chrono's last
    /// date added a day past it and panicked.
    #[test]
    fn parse_time_end_of_day_overflow() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().with_timezone(&Utc);
        let last = parse_time("+262142-12-31", now, true).unwrap();
        assert_eq!(last.to_rfc3339(), "+262142-12-31T23:59:59.999+00:00");
        assert_eq!(parse_time("-262143-01-01", now, false).unwrap().to_rfc3339(), "-262143-01-01T00:00:00+00:00");
        assert!(parse_time("+262143-01-01", now, true).is_err());
        // Through the CLI, where the listing scope also adds a day after `--until`.
        let cli =
            <crate::cli::Cli as clap::Parser>::try_parse_from(["denytrail", "scan", "l", "--until", "+262142-12-31"])
                .unwrap();
        let crate::cli::Command::Scan(args) = cli.command else { unreachable!() };
        let (_, scope) = filter_and_scope(&args.input, now).unwrap();
        assert_eq!(scope.to_day, Some(NaiveDate::MAX));
    }

    /// Property test of the argument parsers that read user text (`--since`/`--until`,
    /// `--timeline`, `--max-decompressed`): over many strings built from the pieces they read,
    /// none panics, and what they accept keeps its promise (a width of at least a second, an
    /// `--until` never before the `--since` of the same text, a time ago never after now). The
    /// fuzz targets in fuzz/ cover the core; these parsers live in the binary crate, whose
    /// polars and AWS build is too heavy to fuzz on this machine.
    #[test]
    fn argument_parsers_never_panic() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().with_timezone(&Utc);
        let pieces = [
            "0",
            "1",
            "9",
            "12",
            "59",
            "60",
            "99",
            "2026",
            "262142",
            "262143",
            "9999999999",
            "18446744073709551615",
            "-",
            "+",
            ":",
            ".",
            "T",
            "Z",
            "z",
            " ",
            "e",
            "E",
            "s",
            "ms",
            "m",
            "h",
            "d",
            "w",
            "y",
            "M",
            "KB",
            "KiB",
            "GiB",
            "EiB",
            "B",
            "nan",
            "inf",
            "\u{e9}",
            "\0",
        ];
        let mut seed = 0x5eed_cafe_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut texts: Vec<String> =
            vec!["+262142-12-31".into(), "-262143-01-01".into(), "9223372036854775807s".into()];
        for _ in 0..20_000 {
            let n = 1 + next() % 8;
            texts.push((0..n).map(|_| pieces[(next() % pieces.len() as u64) as usize]).collect());
        }
        for t in &texts {
            if let (Ok(since), Ok(until)) = (parse_time(t, now, false), parse_time(t, now, true)) {
                assert!(since <= until, "{t:?}");
            }
            let absolute = DateTime::parse_from_rfc3339(t).is_ok() || NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok();
            if let (false, Ok(ago)) = (absolute, parse_time(t, now, false)) {
                assert!(ago <= now, "{t:?}");
            }
            if let Ok(ms) = crate::cli::parse_width(t) {
                assert!(ms >= 1_000, "{t:?}");
            }
            let _ = crate::cli::parse_size(t);
        }
    }

    #[test]
    fn live_and_config_are_one_or_the_other() {
        let both = LiveArgs { live: true, config: Some("c.json".into()) };
        assert!(ConfigFrom::of(&both).unwrap_err().downcast_ref::<UsageError>().is_some());
        assert_eq!(ConfigFrom::of(&LiveArgs { live: true, config: None }).unwrap(), ConfigFrom::Live);
        assert_eq!(ConfigFrom::of(&LiveArgs::default()).unwrap(), ConfigFrom::None);
    }

    #[test]
    fn formats_follow_the_extension_then_the_flag() {
        let args = OutputArgs {
            format: Some(Format::Json),
            output: vec!["r.csv".into(), "s3://b/k.html".into(), "plain".into()],
        };
        let got: Vec<Format> = outputs(&args, |_| Ok(())).unwrap().into_iter().map(|o| o.format).collect();
        assert_eq!(got, [Format::Csv, Format::Html, Format::Json]);
        let refused = outputs(&args, |f| if f == Format::Html { Err("no html".into()) } else { Ok(()) });
        assert!(refused.unwrap_err().downcast_ref::<UsageError>().is_some());
        let bad = OutputArgs { format: None, output: vec!["s3://bucket-only".into()] };
        assert!(outputs(&bad, |_| Ok(())).is_err());
    }
}
