//! The accounting of a scan: every log object and every record ends up in exactly one bucket.
//!
//! Per-object outcomes are produced on worker threads and merged on one collector thread, so
//! nothing here is shared or locked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a log object was not read. The summary groups skipped objects by these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Under `CloudTrail-Digest/` or named `*_CloudTrail-Digest_*`.
    Digest,
    /// Under `CloudTrail-Insight/`.
    Insight,
    /// Found in a directory walk, neither gzip nor JSON, without a log-file extension.
    NotALogFile,
    /// JSON, but none of its records looks like a CloudTrail event.
    NotCloudTrail,
    /// Outside `--account`/`--region`/`--since`/`--until` by its CloudTrail key layout.
    OutOfScope,
    /// Found in a directory walk, and not a regular file: a FIFO, socket or device (reading one
    /// could block forever; name it as an INPUT to read it).
    NotARegularFile,
    /// A symbolic link that leads back to a directory above it.
    SymlinkLoop,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Digest => "digest file",
            SkipReason::Insight => "insight file",
            SkipReason::NotALogFile => "not a log file",
            SkipReason::NotCloudTrail => "no CloudTrail records",
            SkipReason::OutOfScope => "outside --account/--region/--since/--until",
            SkipReason::NotARegularFile => "not a regular file",
            SkipReason::SymlinkLoop => "symlink loop",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedObject {
    pub path: String,
    pub error: ObjectError,
}

/// Why a log object failed. The summary and `stats.failed[].error` show its one-line text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    /// A file or input that could not be opened.
    Open(String),
    /// A directory entry the walk could not read.
    Walk(String),
    /// An S3 GET that failed after its retries, or whose body never arrived whole.
    Fetch(String),
    /// Bad or truncated gzip, a read error, or more than `--max-decompressed`.
    Decode { detail: String, records_before: u64 },
    /// The JSON ends inside a value (a file cut short).
    TruncatedJson { detail: String, records_before: u64 },
    /// Not JSON, or JSON of a broken shape.
    InvalidJson { detail: String, records_before: u64 },
    /// One record larger than [`crate::parse::MAX_RECORD`].
    RecordTooLarge,
    /// A failure a shard already reported (read back from its partial), kept as its text.
    Reported(String),
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let after = |n: &u64| if *n > 0 { format!(" (after {n} records)") } else { String::new() };
        match self {
            ObjectError::Open(e) => write!(f, "cannot open: {e}"),
            ObjectError::Walk(e) => write!(f, "cannot read: {e}"),
            ObjectError::Fetch(e) | ObjectError::Reported(e) => f.write_str(e),
            ObjectError::Decode { detail, records_before } | ObjectError::TruncatedJson { detail, records_before } => {
                write!(f, "{detail}{}", after(records_before))
            }
            ObjectError::InvalidJson { detail, records_before } => {
                write!(f, "invalid JSON: {detail}{}", after(records_before))
            }
            ObjectError::RecordTooLarge => {
                write!(f, "a record is larger than {} bytes", crate::parse::MAX_RECORD)
            }
        }
    }
}

impl std::error::Error for ObjectError {}

impl Serialize for ObjectError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ObjectError {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(ObjectError::Reported)
    }
}

/// Counters for one object, or summed over a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub bytes_compressed: u64,
    pub bytes_decompressed: u64,
    pub records_read: u64,
    /// Records that passed the byte prefilter and were parsed.
    pub records_parsed: u64,
    /// Records that matched the target filter, before duplicates are dropped.
    pub records_matched: u64,
    /// Companion records kept for the diagnosis (KMS/VPC-endpoint denials, sessions, policy changes).
    pub records_companion: u64,
    /// Candidate records that were not valid JSON, and array elements that were not objects.
    pub records_invalid: u64,
    /// CloudWatch Logs `CONTROL_MESSAGE`s (health checks, holding no events), skipped.
    pub cwl_control_messages: u64,
    /// Envelope entries that are not CloudTrail events (EventBridge events of other types, log
    /// messages that are not JSON objects), skipped.
    pub records_not_cloudtrail: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.bytes_compressed += o.bytes_compressed;
        self.bytes_decompressed += o.bytes_decompressed;
        self.records_read += o.records_read;
        self.records_parsed += o.records_parsed;
        self.records_matched += o.records_matched;
        self.records_companion += o.records_companion;
        self.records_invalid += o.records_invalid;
        self.cwl_control_messages += o.cwl_control_messages;
        self.records_not_cloudtrail += o.records_not_cloudtrail;
    }
}

/// The whole scan, as reported in `stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub files_seen: u64,
    pub files_read: u64,
    pub files_skipped: u64,
    pub skipped_by_reason: BTreeMap<String, u64>,
    pub files_failed: u64,
    pub failed: Vec<FailedObject>,
    #[serde(flatten)]
    pub counts: Counts,
    /// Unique target events (after duplicates are dropped): the `denied` total of the report.
    pub events_unique: u64,
    /// Repeats of an `eventID`, and second copies of a cross-account request (`sharedEventID`).
    pub duplicates_dropped: u64,
    /// Record formats seen: by shape (`records`, `array`, `ndjson`, `single`), or by envelope
    /// (`cwl`, `eventbridge`, `log-events`, `lookup-events`).
    pub formats: BTreeMap<String, u64>,
    /// Files of JSON in no known shape, by what they held (e.g. `{"name","version"}`): skipped as
    /// holding no CloudTrail records, and never silently.
    pub unknown_shapes: BTreeMap<String, u64>,
    pub elapsed_seconds: f64,
    /// With `--live` or `--config`: the configuration the denials were judged against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveStats>,
}

/// The configuration read for `--live` / `--config`, and what reading it cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveStats {
    /// `live`, or the `--config` file.
    pub source: String,
    /// When the configuration was read (RFC 3339), as the snapshot says.
    pub snapshot_taken_at: Option<String>,
    /// AWS API calls made (0 with `--config`).
    pub live_calls: u64,
    /// Items that could not be read (refused, throttled, not found, errors).
    pub not_visible: u64,
    /// Wall time spent reading the configuration.
    pub seconds: f64,
    /// Groups by verdict.
    pub confirmed: u64,
    pub refuted: u64,
    pub undetermined: u64,
}

impl Stats {
    pub fn skip(&mut self, reason: SkipReason) {
        self.files_seen += 1;
        self.files_skipped += 1;
        *self.skipped_by_reason.entry(reason.as_str().to_string()).or_default() += 1;
    }

    /// Adds another part of the same scan (a shard's accounting): counts add up, failures are
    /// listed together, time is the longest part's. `events_unique` and `duplicates_dropped`
    /// are the merge's to set, after its own dedupe.
    pub fn absorb(&mut self, o: Stats) {
        self.files_seen += o.files_seen;
        self.files_read += o.files_read;
        self.files_skipped += o.files_skipped;
        self.files_failed += o.files_failed;
        for (k, n) in o.skipped_by_reason {
            *self.skipped_by_reason.entry(k).or_default() += n;
        }
        for (k, n) in o.formats {
            *self.formats.entry(k).or_default() += n;
        }
        for (k, n) in o.unknown_shapes {
            *self.unknown_shapes.entry(k).or_default() += n;
        }
        self.failed.extend(o.failed);
        self.failed.sort_by(|a, b| a.path.cmp(&b.path));
        self.counts.add(&o.counts);
        self.duplicates_dropped += o.duplicates_dropped;
        self.elapsed_seconds = self.elapsed_seconds.max(o.elapsed_seconds);
    }

    pub fn fail(&mut self, path: String, error: ObjectError) {
        self.files_seen += 1;
        self.files_failed += 1;
        self.failed.push(FailedObject { path, error });
    }

    /// Distinct unknown shapes kept by name; more are counted under one entry.
    pub const UNKNOWN_SHAPES_KEPT: usize = 20;

    /// One more file of JSON in no known shape.
    pub fn unknown_shape(&mut self, shape: String) {
        let key = if self.unknown_shapes.len() < Self::UNKNOWN_SHAPES_KEPT || self.unknown_shapes.contains_key(&shape) {
            shape
        } else {
            "(other shapes)".to_string()
        };
        *self.unknown_shapes.entry(key).or_default() += 1;
    }

    /// True when no record at all was read while JSON files of no known shape were: the scan
    /// saw nothing it could report on, which must not pass for "nothing denied".
    pub fn nothing_read(&self) -> bool {
        self.counts.records_read == 0 && !self.unknown_shapes.is_empty()
    }

    /// True when some input failed: the report is then incomplete (exit status 4).
    pub fn incomplete(&self) -> bool {
        self.files_failed > 0
    }

    /// Decompressed megabytes per second over the scan.
    pub fn mb_per_s(&self) -> f64 {
        if self.elapsed_seconds > 0.0 {
            self.counts.bytes_decompressed as f64 / 1e6 / self.elapsed_seconds
        } else {
            0.0
        }
    }
}
