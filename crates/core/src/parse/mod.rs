//! Decode → split → prefilter → parse → filter, for one log object at a time.
//!
//! A [`Worker`] lives on one rayon thread and keeps its buffers between objects, so the hot path
//! allocates nothing per record: records are byte ranges of the chunk buffer, the prefilter is a
//! multi-needle search over those bytes, and only candidates are copied and parsed by simd-json.
//! Records inside an envelope ([`envelope`]) take the same path once taken out of it.

pub mod envelope;
pub mod extract;
pub mod split;

use std::borrow::Cow;
use std::io::BufRead;

use aho_corasick::AhoCorasick;
use aho_corasick::packed;

use crate::decode::{CHUNK, Counted, DecodeError, Decoder, Encoding};
use crate::event::{Event, EventRef, EventRole};
use crate::filter::{Filter, companion_kind};
use crate::stats::{Counts, ObjectError, SkipReason};
use envelope::{Envelope, Inner};
use split::{Shape, Splitter, Step};

/// A single record larger than this is treated as a broken file rather than buffered further.
pub const MAX_RECORD: usize = 64 << 20;

/// What the scan needs to know to process any object; shared read-only by all workers.
#[derive(Debug)]
pub struct ScanContext {
    pub filter: Filter,
    prefilter: Option<Prefilter>,
    pub prefix_depth: usize,
    pub max_decompressed: u64,
    /// Decode every object and stop there (the benchmark floor of the pipeline).
    pub decode_only: bool,
}

impl ScanContext {
    pub fn new(filter: Filter, prefix_depth: usize, max_decompressed: u64) -> Self {
        let prefilter = filter.needles().map(|n| Prefilter::new(minimal(n)));
        ScanContext { filter, prefilter, prefix_depth, max_decompressed, decode_only: false }
    }

    /// Parses every record from now on (fuzz targets compare this with the prefiltered scan).
    #[cfg(feature = "fuzzing")]
    pub fn drop_prefilter(&mut self) {
        self.prefilter = None;
    }

    /// Whether a record's raw bytes can match (the prefilter); records that cannot are never parsed.
    pub fn is_candidate(&self, record: &[u8]) -> bool {
        self.prefilter.as_ref().is_none_or(|p| p.is_match(record))
    }
}

/// The raw-byte needle search. Teddy (SIMD, in `aho_corasick::packed`) runs ~8× faster than
/// the automaton here because most needles start with `"`, a byte found every ~11 bytes of a
/// record, which defeats the automaton's start-byte prefilter. The automaton remains for CPUs
/// without SSSE3/AVX2 and for needle sets Teddy does not take.
#[derive(Debug)]
enum Prefilter {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Prefilter {
    fn new(needles: Vec<String>) -> Prefilter {
        match packed::Config::new().match_kind(packed::MatchKind::LeftmostFirst).builder().extend(&needles).build() {
            Some(searcher) => Prefilter::Packed(searcher),
            None => Prefilter::Automaton(AhoCorasick::new(&needles).expect("needles are plain strings")),
        }
    }

    fn is_match(&self, haystack: &[u8]) -> bool {
        match self {
            Prefilter::Packed(s) => s.find(haystack).is_some(),
            Prefilter::Automaton(a) => a.is_match(haystack),
        }
    }
}

/// Drops needles that contain another needle: any haystack they match, the shorter one matches.
fn minimal(mut needles: Vec<String>) -> Vec<String> {
    needles.sort_by_key(String::len);
    let mut kept: Vec<String> = Vec::new();
    for n in needles {
        if !kept.iter().any(|k| n.contains(k.as_str())) {
            kept.push(n);
        }
    }
    kept
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Read,
    Skipped(SkipReason),
    Failed(ObjectError),
}

/// Everything one object contributed to the scan.
#[derive(Debug)]
pub struct ObjectReport {
    pub name: String,
    pub outcome: Outcome,
    pub counts: Counts,
    pub shape: Shape,
    /// The envelope the records came in, when not plain CloudTrail.
    pub envelope: Option<Envelope>,
    /// For JSON of no known shape (skipped as holding no CloudTrail records): what it was.
    pub unknown_shape: Option<String>,
    pub events: Vec<Event>,
    /// For each of `events`, the hashes the collector folds it by ([`crate::tally::Keys`]):
    /// computed here, on the worker, for the targets and KMS denials (the others get none).
    pub keys: Vec<crate::tally::Keys>,
}

/// Per-thread state: reusable buffers. `buf` stays allocated (and initialised) between objects;
/// `buf[..filled]` is the decoded input not yet consumed.
pub struct Worker {
    buf: Vec<u8>,
    filled: usize,
    scratch: Vec<u8>,
    /// Decoded bytes read per step: [`CHUNK`], or less in fuzz targets.
    chunk: usize,
}

impl Default for Worker {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    /// One worker per thread, kept for the life of the thread: its 2 MiB buffer is allocated
    /// (and faulted in) once, not once per object or per rayon job.
    static WORKER: std::cell::RefCell<Worker> = std::cell::RefCell::new(Worker::new());
}

/// Runs `f` with this thread's worker.
pub fn with_worker<T>(f: impl FnOnce(&mut Worker) -> T) -> T {
    WORKER.with_borrow_mut(f)
}

/// File names that announce a log file even when their content says otherwise (they fail
/// instead of being skipped).
pub fn has_log_extension(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [".json", ".json.gz", ".jsonl", ".ndjson", ".gz"].iter().any(|e| n.ends_with(e))
}

impl Worker {
    pub fn new() -> Self {
        Worker { buf: vec![0; CHUNK * 2], filled: 0, scratch: Vec::new(), chunk: CHUNK }
    }

    /// A worker that reads `chunk` decoded bytes per step, so that fuzz targets cut records at
    /// chunk edges with small inputs.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn with_chunk(chunk: usize) -> Self {
        Worker { buf: vec![0; chunk * 2], filled: 0, scratch: Vec::new(), chunk: chunk.max(1) }
    }

    /// Processes one object. `walked` is true when it was found by a directory walk rather than
    /// named by the user, which makes unrecognisable content a skip instead of a failure.
    pub fn process<R: BufRead>(&mut self, ctx: &ScanContext, name: &str, walked: bool, raw: R) -> ObjectReport {
        self.process_folding(ctx, name, walked, raw, None)
    }

    /// [`Worker::process`], handing each target to `fold` as it is parsed instead of adding it
    /// to the report (a [`crate::collect::Folder`] tallies them there): in an outage nearly every
    /// record is one, and an object's worth of events is then never held.
    pub fn process_folding<R: BufRead>(
        &mut self,
        ctx: &ScanContext,
        name: &str,
        walked: bool,
        raw: R,
        mut fold: Fold,
    ) -> ObjectReport {
        let mut report = ObjectReport {
            name: name.to_string(),
            outcome: Outcome::Read,
            counts: Counts::default(),
            shape: Shape::default(),
            envelope: None,
            unknown_shape: None,
            events: Vec::new(),
            keys: Vec::new(),
        };
        let result = self.run(ctx, name, walked, raw, &mut report, &mut fold);
        if let Err(outcome) = result {
            report.outcome = outcome;
        }
        report.keys = report.events.iter().map(crate::tally::Keys::wanted).collect();
        report
    }

    fn run<R: BufRead>(
        &mut self,
        ctx: &ScanContext,
        name: &str,
        walked: bool,
        raw: R,
        report: &mut ObjectReport,
        fold: &mut Fold,
    ) -> Result<(), Outcome> {
        let fail = |e: DecodeError| Outcome::Failed(ObjectError::Decode { detail: e.to_string(), records_before: 0 });
        let (mut decoder, encoding) = Decoder::new(Counted::new(raw), ctx.max_decompressed).map_err(fail)?;
        if ctx.decode_only {
            return self.decode_only(&mut decoder, report);
        }
        // Events name the object they were read from; a name can carry a secret too (a
        // presigned URL saved as a file): redacted once here, not in each event.
        let source = crate::redact::redact(name);
        let name_in_events = source.as_ref();
        let mut splitter = Splitter::new();
        let mut first_record = true;
        let mut envelope = None;
        let mut first_inner = true;
        let mut eof = false;
        self.filled = 0;
        let result = loop {
            let step = match splitter.next(&self.buf[..self.filled], eof) {
                Ok(step) => step,
                Err(e) => {
                    let before_any = first_record && splitter.shape() == Shape::default();
                    if before_any && walked && encoding == Encoding::Plain && !has_log_extension(name) {
                        break Err(Outcome::Skipped(SkipReason::NotALogFile));
                    }
                    let (detail, records_before) = (e.to_string(), report.counts.records_read);
                    break Err(Outcome::Failed(if e.truncated() {
                        ObjectError::TruncatedJson { detail, records_before }
                    } else {
                        ObjectError::InvalidJson { detail, records_before }
                    }));
                }
            };
            match step {
                Step::Done => break Ok(()),
                Step::NeedMore { keep_from } => {
                    self.buf.copy_within(keep_from..self.filled, 0);
                    self.filled -= keep_from;
                    splitter.consumed(keep_from);
                    if self.filled > MAX_RECORD {
                        break Err(Outcome::Failed(ObjectError::RecordTooLarge));
                    }
                    if self.buf.len() < self.filled + self.chunk {
                        // Only a record longer than a chunk grows the buffer.
                        self.buf.resize(self.filled + self.chunk, 0);
                    }
                    match decoder.fill(&mut self.buf[self.filled..self.filled + self.chunk]) {
                        Ok(0) => eof = true,
                        Ok(n) => self.filled += n,
                        Err(e) => {
                            let records_before = report.counts.records_read;
                            break Err(Outcome::Failed(ObjectError::Decode { detail: e.to_string(), records_before }));
                        }
                    }
                }
                Step::NotObject(_) => {
                    report.counts.records_read += 1;
                    report.counts.records_invalid += 1;
                }
                Step::Record(range) => {
                    let record = &self.buf[range.clone()];
                    if first_record {
                        first_record = false;
                        let keys = split::top_level_keys(record);
                        if !is_cloudtrail(&keys) {
                            let container = splitter.container();
                            envelope = Envelope::detect(container, &keys);
                            if envelope.is_none() {
                                report.unknown_shape = Some(envelope::describe(container, &keys));
                                break Err(Outcome::Skipped(SkipReason::NotCloudTrail));
                            }
                        }
                    }
                    if let Some(envelope) = envelope {
                        match open(ctx, name_in_events, envelope, record, &mut first_inner, report, fold) {
                            Ok(()) => continue,
                            Err(outcome) => break Err(outcome),
                        }
                    }
                    report.counts.records_read += 1;
                    if ctx.is_candidate(record) {
                        // Parsed where it was decoded, the bytes after it as simd-json's padding
                        // (left as they were); copied only when the buffer ends too soon after it.
                        let len = range.len();
                        let padded = if range.end + simd_json::INPUT_PADDING <= self.buf.len() {
                            &mut self.buf[range.start..range.end + simd_json::INPUT_PADDING]
                        } else {
                            self.scratch.clear();
                            self.scratch.extend_from_slice(&self.buf[range]);
                            self.scratch.resize(len + simd_json::INPUT_PADDING, b' ');
                            &mut self.scratch[..]
                        };
                        parse_candidate(ctx, name_in_events, padded, len, report, fold);
                    }
                }
            }
        };
        report.counts.bytes_compressed = decoder.raw().count;
        report.counts.bytes_decompressed = decoder.decompressed();
        report.shape = splitter.shape();
        report.envelope = envelope;
        if result.is_ok()
            && first_record
            && report.counts.records_read == 0
            && splitter.shape().wrappers == 0
            && splitter.shape().arrays == 0
        {
            // Nothing but whitespace: an empty file holds no CloudTrail records.
            return Err(Outcome::Skipped(SkipReason::NotCloudTrail));
        }
        result
    }
}

impl Worker {
    fn decode_only<R: BufRead>(
        &mut self,
        decoder: &mut Decoder<Counted<R>>,
        report: &mut ObjectReport,
    ) -> Result<(), Outcome> {
        if self.buf.len() < CHUNK {
            self.buf.resize(CHUNK, 0);
        }
        let result = loop {
            match decoder.fill(&mut self.buf[..CHUNK]) {
                Ok(0) => break Ok(()),
                Ok(_) => {}
                Err(e) => break Err(Outcome::Failed(ObjectError::Decode { detail: e.to_string(), records_before: 0 })),
            }
        };
        report.counts.bytes_compressed = decoder.raw().count;
        report.counts.bytes_decompressed = decoder.decompressed();
        result
    }
}

/// A record is CloudTrail when it has one of the keys every CloudTrail event carries.
fn is_cloudtrail(keys: &[&[u8]]) -> bool {
    keys.iter().any(|k| matches!(*k, b"eventVersion" | b"eventName" | b"eventSource" | b"eventTime"))
}

/// The records of one envelope unit, through the same prefilter and parse as plain records.
/// The first record found decides, as a plain file's does, whether the file holds CloudTrail.
fn open(
    ctx: &ScanContext,
    name: &str,
    envelope: Envelope,
    unit: &[u8],
    first_inner: &mut bool,
    report: &mut ObjectReport,
    fold: &mut Fold,
) -> Result<(), Outcome> {
    let inner = envelope.open(unit, MAX_RECORD).map_err(|_| Outcome::Failed(ObjectError::RecordTooLarge))?;
    for entry in inner {
        let mut record: Cow<[u8]> = match entry {
            Inner::Raw(record) => Cow::Borrowed(record),
            Inner::Text(text) => Cow::Owned(text.into_bytes()),
            Inner::Control => {
                report.counts.cwl_control_messages += 1;
                continue;
            }
            Inner::Other => {
                report.counts.records_not_cloudtrail += 1;
                continue;
            }
            Inner::Broken => {
                report.counts.records_read += 1;
                report.counts.records_invalid += 1;
                continue;
            }
        };
        if *first_inner {
            *first_inner = false;
            let keys = split::top_level_keys(&record);
            if !is_cloudtrail(&keys) {
                let shape = envelope::describe(split::Container::Bare, &keys);
                report.unknown_shape = Some(format!("{}: {shape}", envelope.name()));
                return Err(Outcome::Skipped(SkipReason::NotCloudTrail));
            }
        }
        report.counts.records_read += 1;
        if ctx.is_candidate(&record) {
            // simd-json parses in place, padded: a record borrowed from the unit is copied first.
            let len = record.len();
            let padded = record.to_mut();
            padded.resize(len + simd_json::INPUT_PADDING, b' ');
            parse_candidate(ctx, name, padded, len, report, fold);
        }
    }
    Ok(())
}

thread_local! {
    /// simd-json's buffers and a tape, reused from one record to the next.
    static TAPE: std::cell::RefCell<(simd_json::Buffers, simd_json::Tape<'static>)> =
        std::cell::RefCell::new((simd_json::Buffers::default(), simd_json::Tape(Vec::new())));
}

/// Where targets go instead of the report, when they are folded as they come, and the
/// companions the workers fold ([`crate::collect::folded_by_workers`]): each with the keys the
/// tallies look it up by.
pub type Fold<'a> = Option<&'a mut dyn FnMut(&EventRef, &crate::tally::Keys)>;

/// Parses the record `padded[..len]`; `padded[len..]` is at least [`simd_json::INPUT_PADDING`]
/// bytes of any content, which simd-json reads past the record instead of copying it.
fn parse_candidate(
    ctx: &ScanContext,
    name: &str,
    padded: &mut [u8],
    len: usize,
    report: &mut ObjectReport,
    fold: &mut Fold,
) {
    report.counts.records_parsed += 1;
    TAPE.with_borrow_mut(|(buffers, kept)| {
        let mut tape = std::mem::replace(kept, simd_json::Tape(Vec::new())).reset();
        if simd_json::fill_tape_padded(padded, len, buffers, &mut tape).is_ok() {
            add_record(ctx, name, tape.as_value(), report, fold);
        } else {
            report.counts.records_invalid += 1;
        }
        *kept = tape.reset();
    });
}

/// Reads and keeps one parsed record. Its events are redacted before anything reads them (the
/// globs included): a target that is folded is read through a view of the tape and screened
/// with its hashes, in the bytes they are written from ([`crate::tally::Keys::of_screened`]),
/// and becomes an owned event only if a sample keeps it; any other event is owned and screened
/// on its own.
fn add_record(
    ctx: &ScanContext,
    name: &str,
    value: simd_json::tape::Value,
    report: &mut ObjectReport,
    fold: &mut Fold,
) {
    let value = &extract::Record::of(Some(value));
    let facts = extract::facts(value);
    let companion = companion_kind(&facts).is_some();
    if ctx.filter.matches(&facts) {
        let view = extract::view(value, &facts, EventRole::Target, ctx.prefix_depth, name);
        let kept = match fold {
            // With globs to pass first, most targets may never be hashed.
            Some(fold) if !ctx.filter.has_event_globs() => {
                let (keys, redacted) = crate::tally::Keys::of_screened(&view);
                let redacted_view = redacted.as_ref().map(Event::view);
                let target = redacted_view.as_ref().unwrap_or(&view);
                let kept = count_target(ctx, target, companion, report);
                if kept {
                    fold(target, &keys);
                }
                kept
            }
            _ => {
                let mut target = view.to_event();
                target.screen_secrets();
                let kept = count_target(ctx, &target.view(), companion, report);
                if kept {
                    match fold {
                        Some(fold) => fold(&target.view(), &crate::tally::Keys::of(&target)),
                        None => report.events.push(target),
                    }
                }
                kept
            }
        };
        if kept {
            return;
        }
    }
    if companion {
        report.counts.records_companion += 1;
        let view = extract::view(value, &facts, EventRole::Companion, ctx.prefix_depth, name);
        match fold {
            Some(fold) if crate::collect::folded_by_workers(&view) => {
                let (keys, redacted) = crate::tally::Keys::of_screened(&view);
                fold(redacted.as_ref().map(Event::view).as_ref().unwrap_or(&view), &keys);
            }
            _ => {
                let mut companion = view.to_event();
                companion.screen_secrets();
                report.events.push(companion);
            }
        }
    }
}

/// Whether a record the filter matched is a target (its principal, bucket and prefix pass the
/// globs), counted; one that is also a companion has its copy as one added to the report.
fn count_target(ctx: &ScanContext, target: &EventRef, companion: bool, report: &mut ObjectReport) -> bool {
    if !ctx.filter.matches_event_globs(&target.principal, target.bucket.as_deref(), &target.prefix) {
        return false;
    }
    if companion {
        let mut copy = target.to_event();
        copy.role = Some(EventRole::Companion);
        report.events.push(copy);
        report.counts.records_companion += 1;
    }
    report.counts.records_matched += 1;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::Write;

    use serde_json::{Value, json};

    /// A denied PutObject, as CloudTrail writes it.
    fn denied(id: &str) -> Value {
        json!({
            "eventVersion": "1.11",
            "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": "111122223333",
                             "arn": "arn:aws:iam::111122223333:user/mallory", "accessKeyId": "AKIAEXAMPLE"},
            "eventTime": "2026-11-21T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "PutObject",
            "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2",
            "errorCode": "AccessDenied", "errorMessage": "Access Denied",
            "requestParameters": {"bucketName": "victim-bucket", "key": format!("up/{id}.bin")},
            "eventID": id, "readOnly": false, "eventType": "AwsApiCall", "managementEvent": false,
            "recipientAccountId": "111122223333", "eventCategory": "Data"
        })
    }

    /// A record the default filter passes over without parsing.
    fn harmless(id: &str) -> Value {
        json!({"eventVersion": "1.11", "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventID": id})
    }

    fn scan(bytes: &[u8]) -> ObjectReport {
        let ctx = ScanContext::new(Filter::default(), 1, 1 << 30);
        Worker::new().process(&ctx, "obj", true, bytes)
    }

    fn ids(report: &ObjectReport) -> Vec<&str> {
        let mut ids: Vec<&str> = report.events.iter().map(|e| e.event_id.as_str()).collect();
        ids.sort_unstable();
        ids
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn cwl(records: &[Value]) -> Vec<u8> {
        let events: Vec<Value> = records
            .iter()
            .enumerate()
            .map(|(i, r)| json!({"id": format!("{i}"), "timestamp": 1_795_000_000_000u64, "message": r.to_string()}))
            .collect();
        serde_json::to_vec(&json!({
            "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "aws-cloudtrail-logs",
            "logStream": "111122223333_CloudTrail_us-east-1", "subscriptionFilters": ["to-firehose"],
            "logEvents": events
        }))
        .unwrap()
    }

    const CONTROL: &[u8] = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1795000000000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;

    /// simd-json unescapes a record where it was decoded, reading the bytes after it as padding:
    /// records with escapes, read back to back at every chunk size (each boundary, and the
    /// copy made when the buffer ends too soon after a record), come out the same.
    #[test]
    fn records_parsed_in_place_leave_their_neighbours_intact() {
        let records: Vec<String> = (0..6).map(|i| denied(&format!("e{i}")).to_string()).collect();
        // Escapes in the key of every other record: a quote, a backslash and a \u0041 ('A').
        let text = format!(
            "{{\"Records\":[{}]}}",
            records
                .iter()
                .enumerate()
                .map(|(i, r)| if i % 2 == 0 { r.replace("up/e", r#"up/\"q\\\u0041e"#) } else { r.clone() })
                .collect::<Vec<_>>()
                .join(",")
        );
        let keys = |report: &ObjectReport| {
            let mut keys: Vec<(String, String)> =
                report.events.iter().map(|e| (e.event_id.clone(), e.key.clone().unwrap_or_default())).collect();
            keys.sort();
            keys
        };
        let ctx = ScanContext::new(Filter::default(), 1, 1 << 30);
        let whole = Worker::new().process(&ctx, "obj", true, text.as_bytes());
        let want: Vec<(String, String)> = (0..6)
            .map(|i| (format!("e{i}"), if i % 2 == 0 { format!("up/\"q\\Ae{i}.bin") } else { format!("up/e{i}.bin") }))
            .collect();
        assert_eq!(keys(&whole), want);
        for chunk in 1..=text.len() + 64 {
            let report = Worker::with_chunk(chunk).process(&ctx, "obj", true, text.as_bytes());
            assert_eq!(keys(&report), want, "chunk {chunk}");
        }
    }

    #[test]
    fn cwl_messages_concatenated_as_firehose_writes_them() {
        let mut firehose = CONTROL.to_vec();
        firehose.extend(cwl(&[denied("a"), harmless("b")]));
        firehose.extend(cwl(&[denied("c")]));
        // Plain `}{`, and one gzip member per message as CloudWatch Logs compresses each.
        let members: Vec<u8> = [CONTROL.to_vec(), cwl(&[denied("a"), harmless("b")]), cwl(&[denied("c")])]
            .iter()
            .flat_map(|m| gzip(m))
            .collect();
        for bytes in [firehose, members] {
            let r = scan(&bytes);
            assert_eq!(r.outcome, Outcome::Read);
            assert_eq!(r.envelope, Some(Envelope::Cwl));
            assert_eq!((r.counts.records_read, r.counts.records_parsed, r.counts.records_matched), (3, 2, 2));
            assert_eq!(r.counts.cwl_control_messages, 1);
            assert_eq!(ids(&r), ["a", "c"]);
            assert_eq!(r.events[0].bucket.as_deref(), Some("victim-bucket"));
        }
    }

    #[test]
    fn eventbridge_events_one_per_line_or_as_an_array() {
        let event = |r: Value| {
            json!({"version": "0", "id": "36eb8523", "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
                   "account": "111122223333", "time": "2026-11-21T10:00:00Z", "region": "us-east-1", "resources": [],
                   "detail": r})
        };
        let other =
            json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3", "detail": {"bucket": {}}});
        let events = [event(denied("a")), other, event(harmless("b")), event(denied("c"))];
        let ndjson: Vec<u8> = events.iter().flat_map(|e| format!("{e}\n").into_bytes()).collect();
        let array = serde_json::to_vec_pretty(&events).unwrap();
        // Firehose writes EventBridge events to S3 with no separator, as it does CloudWatch Logs'.
        let firehose: Vec<u8> = events.iter().flat_map(|e| e.to_string().into_bytes()).collect();
        for bytes in [ndjson, array, firehose] {
            let r = scan(&bytes);
            assert_eq!((r.outcome.clone(), r.envelope), (Outcome::Read, Some(Envelope::EventBridge)));
            assert_eq!((r.counts.records_read, r.counts.records_not_cloudtrail, r.counts.records_matched), (3, 1, 2));
            assert_eq!(ids(&r), ["a", "c"]);
        }
    }

    #[test]
    fn cli_outputs_of_filter_log_events_and_lookup_events() {
        let events: Vec<Value> = [denied("a"), harmless("b")]
            .iter()
            .map(|r| {
                json!({"logStreamName": "111122223333_CloudTrail_us-east-1", "timestamp": 1, "message": r.to_string(),
                       "ingestionTime": 2, "eventId": "3"})
            })
            .collect();
        let log_events = json!({"events": events, "searchedLogStreams": []});
        let r = scan(&serde_json::to_vec_pretty(&log_events).unwrap());
        assert_eq!((r.outcome.clone(), r.envelope), (Outcome::Read, Some(Envelope::LogEvents)));
        assert_eq!((r.counts.records_read, r.counts.records_matched), (2, 1));
        assert_eq!(ids(&r), ["a"]);

        let events: Vec<Value> = [harmless("b"), denied("a")]
            .iter()
            .map(|r| {
                json!({"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "false",
                       "EventTime": "2026-11-21T10:00:00+00:00", "EventSource": "s3.amazonaws.com", "Resources": [],
                       "CloudTrailEvent": r.to_string()})
            })
            .collect();
        let lookup = json!({ "Events": events });
        let r = scan(&gzip(&serde_json::to_vec(&lookup).unwrap()));
        assert_eq!((r.outcome.clone(), r.envelope), (Outcome::Read, Some(Envelope::Lookup)));
        assert_eq!((r.counts.records_read, r.counts.records_matched), (2, 1));
        assert_eq!(ids(&r), ["a"]);
    }

    #[test]
    fn plain_files_are_not_envelopes_and_unknown_shapes_are_named() {
        let plain = serde_json::to_vec(&json!({"Records": [denied("a")]})).unwrap();
        let r = scan(&plain);
        assert_eq!((r.envelope, r.unknown_shape.clone(), r.counts.records_matched), (None, None, 1));

        for (bytes, shape) in [
            (&br#"{"name":"pkg","version":"1.0"}"#[..], r#"{"name","version"}"#),
            (br#"[{"b":1,"a":2}]"#, r#"[{"a","b"}]"#),
            (br#"{"Records":[{"x":1}]}"#, r#"{"Records":[{"x"}]}"#),
            (
                br#"{"QueryStatus":"FINISHED","QueryStatistics":{},"QueryResultRows":[[{"eventName":"PutObject"}]]}"#,
                r#"{"QueryResultRows","QueryStatistics","QueryStatus"}"#,
            ),
            (br#"{"events":[{"message":"{\"level\":\"info\"}"}]}"#, r#"log-events: {"level"}"#),
        ] {
            let r = scan(bytes);
            assert_eq!(r.outcome, Outcome::Skipped(SkipReason::NotCloudTrail), "{shape}");
            assert_eq!(r.unknown_shape.as_deref(), Some(shape));
        }
        // Nothing but whitespace is no shape at all.
        assert_eq!(scan(b" \n").unknown_shape, None);
    }

    #[test]
    fn truncated_envelopes_fail_like_truncated_logs() {
        let mut firehose = cwl(&[denied("a")]);
        firehose.extend(cwl(&[denied("b")]));
        let cut = &firehose[..firehose.len() - 40];
        let r = scan(cut);
        assert!(
            matches!(r.outcome, Outcome::Failed(ObjectError::TruncatedJson { records_before: 1, .. })),
            "{:?}",
            r.outcome
        );
        let lookup = format!(
            r#"{{"Events":[{{"EventId":"a","CloudTrailEvent":{}}}"#,
            serde_json::to_string(&denied("a").to_string()).unwrap()
        );
        let r = scan(lookup.as_bytes());
        assert!(matches!(r.outcome, Outcome::Failed(ObjectError::TruncatedJson { .. })), "{:?}", r.outcome);
        // A message that is a cut record is an invalid record, as a cut array element would be.
        let broken = json!({"events": [{"message": "{\"eventVersion\":\"1.11\",\"errorCode\":\"AccessDenied\""}]});
        let r = scan(&serde_json::to_vec(&broken).unwrap());
        assert_eq!((r.outcome.clone(), r.counts.records_read, r.counts.records_invalid), (Outcome::Read, 1, 1));
    }

    #[test]
    fn needles_are_minimal_and_both_searchers_agree() {
        let n = minimal(vec!["\"AccessDenied\"".into(), "AccessDenied".into(), "\"KMS.".into(), "\"KMS.x".into()]);
        assert_eq!(n, ["\"KMS.", "AccessDenied"]);
        let needles = Filter::default().needles().unwrap();
        let packed = Prefilter::new(minimal(needles.clone()));
        let automaton = Prefilter::Automaton(AhoCorasick::new(&needles).unwrap());
        let mut hay = b"{\"eventName\":\"GetObject\",\"errorCode\":\"NoSuchKey\"} ".repeat(40);
        assert!(!packed.is_match(&hay) && !automaton.is_match(&hay));
        for needle in &needles {
            let at = hay.len() - 7;
            let mut h = hay.clone();
            h.splice(at..at, needle.bytes());
            assert!(packed.is_match(&h) && automaton.is_match(&h), "{needle}");
        }
        hay.truncate(3);
        assert!(!packed.is_match(&hay));
    }
}
