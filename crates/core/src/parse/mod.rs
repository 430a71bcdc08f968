//! Decode → split → prefilter → parse → filter, for one log object at a time.
//!
//! A [`Worker`] lives on one rayon thread and keeps its buffers between objects, so the hot path
//! allocates nothing per record: records are byte ranges of the chunk buffer, the prefilter is a
//! multi-needle search over those bytes, and only candidates are copied and parsed by simd-json.

pub mod extract;
pub mod split;

use std::io::BufRead;

use aho_corasick::AhoCorasick;
use aho_corasick::packed;

use crate::decode::{CHUNK, Counted, DecodeError, Decoder, Encoding};
use crate::event::{Event, EventRole};
use crate::filter::{Filter, companion_kind};
use crate::stats::{Counts, ObjectError, SkipReason};
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
    pub events: Vec<Event>,
}

/// Per-thread state: reusable buffers. `buf` stays allocated (and initialised) between objects;
/// `buf[..filled]` is the decoded input not yet consumed.
#[derive(Default)]
pub struct Worker {
    buf: Vec<u8>,
    filled: usize,
    scratch: Vec<u8>,
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
        Worker { buf: vec![0; CHUNK * 2], filled: 0, scratch: Vec::new() }
    }

    /// Processes one object. `walked` is true when it was found by a directory walk rather than
    /// named by the user, which makes unrecognisable content a skip instead of a failure.
    pub fn process<R: BufRead>(&mut self, ctx: &ScanContext, name: &str, walked: bool, raw: R) -> ObjectReport {
        let mut report = ObjectReport {
            name: name.to_string(),
            outcome: Outcome::Read,
            counts: Counts::default(),
            shape: Shape::default(),
            events: Vec::new(),
        };
        let result = self.run(ctx, name, walked, raw, &mut report);
        if let Err(outcome) = result {
            report.outcome = outcome;
        }
        report
    }

    fn run<R: BufRead>(
        &mut self,
        ctx: &ScanContext,
        name: &str,
        walked: bool,
        raw: R,
        report: &mut ObjectReport,
    ) -> Result<(), Outcome> {
        let fail = |e: DecodeError| Outcome::Failed(ObjectError::Decode { detail: e.to_string(), records_before: 0 });
        let (mut decoder, encoding) = Decoder::new(Counted::new(raw), ctx.max_decompressed).map_err(fail)?;
        if ctx.decode_only {
            return self.decode_only(&mut decoder, report);
        }
        let mut splitter = Splitter::new();
        let mut first_record = true;
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
                    if self.buf.len() < self.filled + CHUNK {
                        // Only a record longer than a chunk grows the buffer.
                        self.buf.resize(self.filled + CHUNK, 0);
                    }
                    match decoder.fill(&mut self.buf[self.filled..self.filled + CHUNK]) {
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
                    let record = &self.buf[range];
                    if first_record {
                        first_record = false;
                        if !looks_like_cloudtrail(record) {
                            break Err(Outcome::Skipped(SkipReason::NotCloudTrail));
                        }
                    }
                    report.counts.records_read += 1;
                    if ctx.is_candidate(record) {
                        self.scratch.clear();
                        self.scratch.extend_from_slice(record);
                        parse_candidate(ctx, name, &mut self.scratch, report);
                    }
                }
            }
        };
        report.counts.bytes_compressed = decoder.raw().count;
        report.counts.bytes_decompressed = decoder.decompressed();
        report.shape = splitter.shape();
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
fn looks_like_cloudtrail(record: &[u8]) -> bool {
    split::top_level_keys(record)
        .iter()
        .any(|k| matches!(*k, b"eventVersion" | b"eventName" | b"eventSource" | b"eventTime"))
}

fn parse_candidate(ctx: &ScanContext, name: &str, scratch: &mut [u8], report: &mut ObjectReport) {
    report.counts.records_parsed += 1;
    let Ok(value) = simd_json::to_borrowed_value(scratch) else {
        report.counts.records_invalid += 1;
        return;
    };
    let facts = extract::facts(&value);
    let target = ctx.filter.matches(&facts);
    let companion = companion_kind(&facts).is_some();
    if target {
        let event = extract::event(&value, EventRole::Target, ctx.prefix_depth, name);
        if ctx.filter.matches_event_globs(&event.principal, event.bucket.as_deref(), &event.prefix) {
            if companion {
                let mut copy = event.clone();
                copy.role = Some(EventRole::Companion);
                report.events.push(copy);
                report.counts.records_companion += 1;
            }
            report.counts.records_matched += 1;
            report.events.push(event);
            return;
        }
    }
    if companion {
        report.counts.records_companion += 1;
        report.events.push(extract::event(&value, EventRole::Companion, ctx.prefix_depth, name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
