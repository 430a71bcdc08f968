//! Command-line definitions (clap): the flags, in shared groups (inputs and filter, AWS,
//! outputs) and one struct per command, so clap itself refuses a flag a command does not take.
//! `plan.rs` turns them into one checked plan before any I/O; `cmd/` runs it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::write::Format;
use crate::shard::Shard;

#[derive(Debug, Parser)]
#[command(
    name = "denytrail",
    version,
    about = "Find who is denied writes to S3, where, and most likely why, from CloudTrail logs.",
    long_about = "Find who is denied writes to S3, where, and most likely why, from CloudTrail logs.\n\n\
        denytrail reads CloudTrail log files (gzip or plain JSON: delivery files, JSON arrays or NDJSON), \
        keeps the S3 writes that s3:PutObject authorizes and that failed with AccessDenied, groups them by \
        principal, bucket and key prefix, and tags each group with its likely causes.",
    after_help = "Examples:\n  \
        denytrail scan testdata/trail\n  \
        denytrail scan ./logs --since 24h --format csv --output denials.csv\n  \
        denytrail scan ./AWSLogs --account 111122223333 --region us-east-1 --since 2026-11-20 --until 2026-11-21\n  \
        denytrail scan ./export.ndjson --event-name GetObject --error-code AccessDenied\n  \
        denytrail query ./logs --sql \"SELECT source_ip, COUNT(*) AS n FROM events GROUP BY source_ip\"\n\n\
        Exit status: 0 clean · 1 fatal · 2 usage · 3 findings with --fail-on-findings · 4 some inputs failed"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan CloudTrail logs and print the grouped report of denied S3 writes.
    #[command(after_help = SCAN_HELP)]
    Scan(Box<ScanArgs>),
    /// Explain each group: what was denied, the likely causes with evidence, the commands that
    /// confirm them, and a least-privilege corrective policy where an identity policy is at fault.
    #[command(after_help = EXPLAIN_HELP)]
    Explain(Box<ExplainArgs>),
    /// Scan, then save the account configuration `--live` would read for the report (bucket
    /// settings and policies, IAM, KMS key, VPC endpoint and organization policies) to a file that
    /// `--config` reads later with no AWS call. Policies and settings only, never credentials.
    #[command(after_help = SNAPSHOT_HELP)]
    Snapshot(Box<SnapshotArgs>),
    /// Merge the partials of a sharded scan (`scan --shard I/N --partial OUT`) into the report,
    /// diagnosis, accounting and exit status one scan of the whole input would give.
    #[command(after_help = MERGE_HELP)]
    Merge(Box<MergeArgs>),
    /// Run SQL over the events of a scan (or of a `scan --events-out` file): forensic questions
    /// the report does not answer.
    #[command(after_help = QUERY_HELP)]
    Query(Box<QueryArgs>),
}

const MERGE_HELP: &str = "Examples:
  # Four machines (or Kubernetes Indexed Job pods, or AWS Batch array tasks), one shard each:
  denytrail scan s3://org-trail-logs/AWSLogs/ --since 2026-11-20 --until 2026-11-21 \\
      --shard 2/4 --partial s3://acme-reports/run-7/shard-2.partial
  # Under an array job, the index comes from the engine:
  DENYTRAIL_SHARDS=4 denytrail scan s3://org-trail-logs/AWSLogs/ ... --partial s3://acme-reports/run-7/shard-$JOB_COMPLETION_INDEX.partial
  # Then one report, as one scan of the whole trail would give:
  denytrail merge 's3://acme-reports/run-7/*.partial' --format html -o report.html

Every partial must come from the same denytrail version and the same filter flags, and every
shard 0..N-1 must be there exactly once; otherwise merge refuses, naming the file or the shard.
Give --since/--until as absolute times: '24h' means a different window on each machine.";

const SCAN_HELP: &str = "Examples:
  # Everything under a local copy of a trail bucket (digests are skipped):
  denytrail scan ./trail-bucket

  # Last night's deliveries of one account and region, as CSV for a mail:
  denytrail scan ./AWSLogs --account 111122223333 --region eu-west-1 --since 24h --format csv -o denials.csv

  # Forensics: every denied call of any service between two instants, events kept for DuckDB:
  denytrail scan ./logs --event-name '*' --since 2026-11-21T09:00:00Z --until 2026-11-21T11:00:00Z \\
      --events-out events.parquet

  # A week of events for Athena, DuckDB or Spark, Hive-partitioned by account, region and day:
  denytrail scan s3://org-trail-logs/AWSLogs/ --since 7d --events-out s3://acme-lake/denytrail/events/

  # Neighbouring failures of S3 writes (ExpiredToken, AccessControlListNotSupported, KMS.*):
  denytrail scan ./logs --all-errors

  # Nightly: what changed since yesterday's report, as a page in S3; exit 3 when denials exist:
  denytrail scan s3://org-trail-logs/AWSLogs/ --since 24h --baseline prev.parquet \\
      --fail-on-findings --output s3://acme-reports/denytrail/latest.html

  # When did it start and stop? Denials per 5 minutes per group, with a bar chart:
  denytrail scan ./AWSLogs --since 2026-11-21T08:00:00Z --until 2026-11-21T12:00:00Z --timeline 5m

Inputs may be files, directories (walked recursively), '-' for stdin, s3://bucket/prefix,
logs://LOG_GROUP (a trail's CloudWatch Logs group) or cloudtrail://lookup (LookupEvents).
Contents are recognised by their bytes: gzip or plain; {\"Records\":[...]}, a JSON array, or NDJSON.";

const EXPLAIN_HELP: &str = "Examples:
  # Every group of a scan, most denials first:
  denytrail explain ./AWSLogs --since 24h

  # The second group of a report, from the events a scan kept:
  denytrail scan ./AWSLogs --events-out events.parquet
  denytrail explain --events events.parquet --group 2

  # One principal's groups:
  denytrail explain ./AWSLogs --principal 'arn:aws:iam::*:role/ci-deploy'";

const SNAPSHOT_HELP: &str = "Examples:
  # At the time of the outage, keep the configuration the denials are judged against:
  denytrail snapshot ./AWSLogs --since 24h --out config.json

  # Later, anywhere (no AWS call):
  denytrail scan ./AWSLogs --since 24h --config config.json
  denytrail explain ./AWSLogs --since 24h --config config.json";

const QUERY_HELP: &str = "Tables:
  events   one row per kept event: the target events (role = 'target') and the companions the
           diagnosis used (role = 'companion'); the columns of `scan --events-out`, e.g.
           event_time, event_name, error_code, error_message, principal, principal_type,
           account, bucket, key, prefix, source_ip, user_agent, vpc_endpoint_id, sse, acl
  groups   the report: principal, bucket, prefix, denied, first_seen, ..., causes

Examples:
  # Denials per minute and source IP during an outage window:
  denytrail query ./AWSLogs --since 2026-11-21T09:00:00Z --until 2026-11-21T11:00:00Z --sql \\
      \"SELECT date_trunc('minute', event_time) AS minute, source_ip, COUNT(*) AS denied
       FROM events WHERE role = 'target' GROUP BY minute, source_ip ORDER BY minute\"

  # From the events a nightly scan kept, which user agents were denied on one bucket:
  denytrail query --events events.parquet --sql \\
      \"SELECT user_agent, COUNT(*) AS n FROM events WHERE bucket = 'acme-artifacts' GROUP BY user_agent\"

  # Every failed call of any service, not only S3 writes:
  denytrail query ./logs --event-name '*' --all-errors --sql \"SELECT event_source, error_code, COUNT(*) AS n
       FROM events GROUP BY event_source, error_code ORDER BY n DESC\"";

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// What a report is made of and where it goes: shared by `scan` and `merge`, which produce the
/// same report from the same state.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Also write the matched events themselves, one row each, as Parquet: one file, or, for a
    /// directory (a path ending in /) or s3://bucket/prefix/, Hive-partitioned files under
    /// recipient_account=…/aws_region=…/date=…/ (see docs/events-out.md).
    #[arg(long, value_name = "FILE.parquet|DIR/")]
    pub events_out: Option<PathBuf>,
    /// Show denials per time bucket of this width (5m, 1h, 1d) per group instead of the report:
    /// a table and a bar chart on a terminal, one row per bucket and group in other formats.
    #[arg(long, value_name = "WIDTH", value_parser = parse_width)]
    pub timeline: Option<i64>,
    /// A previous report (`--format parquet`; a file or s3://bucket/key): mark each group new,
    /// ongoing or resolved (in the baseline, gone now), new ones first. A missing baseline (the
    /// first night) makes every group new. It is read before any --output is written, so the same
    /// path can roll forward: --baseline B.parquet --output B.parquet.
    #[arg(long, value_name = "FILE.parquet")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Splitting one trail over many machines: each scans a shard and writes a partial; `merge`
/// makes the report.
#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Read only shard I of N (0-based): the log objects whose name hashes to I. Without it,
    /// I comes from JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) or AWS_BATCH_JOB_ARRAY_INDEX
    /// (AWS Batch array jobs) when --shards (or DENYTRAIL_SHARDS) gives N.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, help_heading = "Sharding")]
    pub shard: Option<Shard>,
    /// The number of shards, with the index from the engine's environment.
    #[arg(long, value_name = "N", env = "DENYTRAIL_SHARDS", help_heading = "Sharding")]
    pub shards: Option<u32>,
    /// Write this shard's mergeable state and accounting here (a file or s3://bucket/key)
    /// instead of a report; `denytrail merge` reads every shard's and reports.
    #[arg(long, value_name = "OUT", help_heading = "Sharding")]
    pub partial: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The partials of every shard (files, s3://bucket/key, or globs such as 'out/*.partial' and
    /// 's3://bucket/run-7/*.partial').
    #[arg(value_name = "PARTIAL", required = true)]
    pub partials: Vec<String>,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s)
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Read the events from a `scan --events-out` Parquet file instead of scanning inputs.
    #[arg(long, value_name = "FILE.parquet")]
    pub events: Option<PathBuf>,
    /// Only the Nth group of the report (1 = most denials).
    #[arg(long, value_name = "N")]
    pub group: Option<usize>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub live: LiveArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Where to write the configuration (JSON).
    #[arg(long, value_name = "FILE.json")]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Judging the denials against the account's configuration.
#[derive(Debug, Args, Default)]
pub struct LiveArgs {
    /// Read the account's configuration (bucket policy and settings, the caller's IAM policies and
    /// boundary, KMS key, VPC endpoint and organization policies) and confirm or refute each
    /// group's cause, naming the deciding statement (`confirmed_by`). Makes read-only AWS calls,
    /// once per bucket, principal, key, endpoint and account.
    #[arg(long, help_heading = "Configuration")]
    pub live: bool,
    /// Like --live, from a file `denytrail snapshot --out` wrote, with no AWS call.
    #[arg(long, value_name = "FILE.json", help_heading = "Configuration")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL (polars dialect) to run over the `events` and `groups` tables.
    #[arg(long, value_name = "SELECT ...")]
    pub sql: String,
    /// Read the events from a `scan --events-out` Parquet file instead of scanning inputs.
    #[arg(long, value_name = "FILE.parquet")]
    pub events: Option<PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// No progress bar and no summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// What to read and which events to keep: shared by every command that scans.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Files, directories, '-' (stdin), s3://bucket[/prefix], logs://LOG_GROUP (CloudWatch Logs)
    /// or cloudtrail://lookup (LookupEvents: management events of the last 90 days).
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,

    /// Event name to match (repeatable; '*' for any). Default: the S3 writes s3:PutObject authorizes.
    #[arg(long = "event-name", value_name = "NAME")]
    pub event_names: Vec<String>,
    /// Event source to match (repeatable), e.g. s3.amazonaws.com. Default with --event-name: any.
    #[arg(long = "event-source", value_name = "SOURCE")]
    pub event_sources: Vec<String>,
    /// Error code to match (repeatable; '*' for any outcome, successes included). Default: AccessDenied.
    #[arg(long = "error-code", value_name = "CODE", conflicts_with = "all_errors")]
    pub error_codes: Vec<String>,
    /// Match every record that has an errorCode.
    #[arg(long)]
    pub all_errors: bool,

    /// Only this trail account (repeatable or comma separated); prunes AWSLogs/<account>/ folders.
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// Only this region (repeatable or comma separated); prunes CloudTrail/<region>/ folders.
    #[arg(long = "region", value_name = "REGION", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Events at or after: RFC 3339, a date (2026-11-21), or a duration ago (24h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Events at or before: RFC 3339, a date (its whole day), or a duration ago.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only principals matching this glob, e.g. 'arn:aws:iam::*:role/ci-*'.
    #[arg(long, value_name = "GLOB")]
    pub principal: Option<String>,
    /// Only buckets matching this glob.
    #[arg(long, value_name = "GLOB")]
    pub bucket: Option<String>,
    /// Only key prefixes (at --prefix-depth) matching this glob, e.g. 'releases/*'.
    #[arg(long, value_name = "GLOB")]
    pub prefix: Option<String>,

    /// Folder segments of the key that make the prefix: releases/v1/app.zip is releases/ at 1.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub prefix_depth: usize,
    /// Largest decompressed size of one log file; bigger files fail (gzip-bomb guard).
    #[arg(long, default_value = "4GiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_decompressed: u64,
    /// Worker threads (0 = one per core).
    #[arg(long, short = 'j', default_value_t = 0, value_name = "N")]
    pub threads: usize,
    /// Only decompress the inputs (benchmarks: the floor of the pipeline).
    #[arg(long, hide = true)]
    pub decode_only: bool,
}

/// Where a table goes and in which format.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Format [default: from --output's extension, else table on a terminal, csv in a pipe].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<Format>,
    /// Write to FILE, or to s3://bucket/key, instead of stdout (required for parquet).
    /// Repeatable: each output takes the format its extension names (.csv .json .ndjson .parquet
    /// .md .html), else --format.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Vec<PathBuf>,
}

/// How a run reports on itself.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Exit with status 3 when any denial is found (4 still wins when an input failed).
    #[arg(long)]
    pub fail_on_findings: bool,
    /// No progress bar and no summary on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// How to reach AWS for s3:// inputs and outputs.
#[derive(Debug, Args, Clone, Default)]
pub struct AwsArgs {
    /// AWS profile from the shared config files.
    #[arg(long, env = "AWS_PROFILE", hide_env_values = true, help_heading = "AWS")]
    pub profile: Option<String>,
    /// Region of the AWS clients (the bucket's own region is found automatically).
    #[arg(long, env = "AWS_REGION", hide_env_values = true, help_heading = "AWS")]
    pub aws_region: Option<String>,
    /// A custom S3-compatible endpoint (path-style addressing is used with it).
    #[arg(long, env = "AWS_ENDPOINT_URL", hide_env_values = true, help_heading = "AWS")]
    pub endpoint_url: Option<String>,
    /// S3 GET requests in flight at once (lower it for a small S3-compatible server).
    #[arg(long, default_value_t = 256, help_heading = "AWS")]
    pub concurrency: usize,
    /// Scan this trail's logs (name or ARN): its bucket and prefix come from DescribeTrails, and
    /// its event selectors are checked for S3 write data events first.
    #[arg(long, value_name = "NAME|ARN", help_heading = "AWS")]
    pub trail: Option<String>,
}

/// The flags only `scan` takes, for a friendlier refusal when another command is given one.
pub const SCAN_ONLY: [&str; 5] = ["--timeline", "--baseline", "--events-out", "--output", "--format"];

/// Parses a bucket width like `5m`, `1h`, `1d` into milliseconds (at least one second).
pub fn parse_width(s: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| format!("'{s}' is not a width like 5m, 1h or 1d ({e})"))?;
    let ms = i64::try_from(d.as_millis()).map_err(|_| format!("'{s}' is too wide"))?;
    if ms < 1_000 {
        return Err(format!("'{s}' is narrower than one second"));
    }
    Ok(ms)
}

/// Parses `4GiB`, `500MB`, `1048576`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("'{s}' is not a size like 4GiB or 500MB ({e})"))
}
