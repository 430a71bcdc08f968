//! One log object through `Worker::process` (sniff, decode, split, envelope, prefilter, parse,
//! extract) and the diagnosis of what it found. Never panics; the counts add up; the prefilter
//! never drops a record the filter keeps (same outcome, records and events as a scan that parses
//! every record); reading the decoded bytes in small chunks changes nothing (but see the one
//! exception below, after a decode error); and gzip-compressing
//! a plain object changes nothing but its compressed size.
#![no_main]

use std::io::Write;

use denytrail_core::event::{Event, EventRole};
use denytrail_core::filter::{ErrorCodes, Filter};
use denytrail_core::fuzzing;
use denytrail_core::parse::{ObjectReport, Outcome, ScanContext, Worker, with_worker};
use denytrail_core::stats::ObjectError;
use libfuzzer_sys::fuzz_target;

struct Contexts {
    default: ScanContext,
    default_all: ScanContext,
    errors: ScanContext,
    errors_all: ScanContext,
}

fn contexts() -> &'static Contexts {
    static CTX: std::sync::OnceLock<Contexts> = std::sync::OnceLock::new();
    CTX.get_or_init(|| {
        let limit = 1 << 20;
        let errors =
            Filter { event_names: None, event_sources: None, error_codes: ErrorCodes::AnyError, ..Filter::default() };
        Contexts {
            default: ScanContext::new(Filter::default(), 1, limit),
            default_all: fuzzing::context_without_prefilter(Filter::default(), 1, limit),
            errors: ScanContext::new(errors.clone(), 2, limit),
            errors_all: fuzzing::context_without_prefilter(errors, 2, limit),
        }
    })
}

fn scan(ctx: &ScanContext, data: &[u8]) -> ObjectReport {
    let report = with_worker(|w| w.process(ctx, "fuzz.json", false, data));
    let c = &report.counts;
    assert!(c.records_read >= c.records_parsed, "{c:?}");
    assert!(c.records_parsed >= c.records_matched, "{c:?}");
    assert_eq!(report.events.len() as u64, c.records_matched + c.records_companion, "{c:?}");
    assert!(c.bytes_compressed <= data.len() as u64, "{c:?}");
    report
}

/// What must not depend on the prefilter: the outcome, records read, and what was kept.
fn kept(r: &ObjectReport) -> impl PartialEq + std::fmt::Debug + '_ {
    let c = &r.counts;
    (&r.outcome, c.records_read, c.records_matched, c.records_companion, &r.events, r.shape, r.envelope)
}

fn diagnose(events: &[Event]) {
    let (targets, companions): (Vec<Event>, Vec<Event>) =
        events.iter().cloned().partition(|e| e.role == Some(EventRole::Target));
    let groups = denytrail_core::diagnose_groups(&targets, &companions);
    for g in groups.values() {
        let _ = (&g.causes, &g.next_steps);
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fuzz_target!(|data: &[u8]| {
    let cx = contexts();
    let default = scan(&cx.default, data);
    // Decoded bytes read a few at a time: records and envelopes cut at chunk edges, the buffer
    // grown for records longer than a chunk. Nothing may change.
    let chunk = 1 + data.last().map_or(0, |&b| b as usize % 61);
    let mut small = Worker::with_chunk(chunk).process(&cx.default, "fuzz.json", false, data);
    if small.outcome != Outcome::Read && default.outcome != Outcome::Read {
        // A failure or a skip stops reading: how many bytes were read by then depends on the
        // chunks.
        small.counts.bytes_compressed = default.counts.bytes_compressed;
        small.counts.bytes_decompressed = default.counts.bytes_decompressed;
    }
    // Known and left as is: when decoding fails, the bytes decoded in the failing read are
    // dropped, so what was read before the failure (and whether the text before it fails or
    // is skipped first, as not JSON or not CloudTrail) depends on where the chunk edges fall.
    // Neither may read the object as whole.
    let decode_failed = |r: &ObjectReport| matches!(r.outcome, Outcome::Failed(ObjectError::Decode { .. }));
    if decode_failed(&default) || decode_failed(&small) {
        assert!(
            small.outcome != Outcome::Read && default.outcome != Outcome::Read,
            "{:?} vs {:?}",
            default.outcome,
            small.outcome
        );
    } else {
        assert_eq!(format!("{default:?}"), format!("{small:?}"), "chunks of {chunk} bytes changed the scan");
    }
    let default_all = scan(&cx.default_all, data);
    assert_eq!(kept(&default), kept(&default_all), "the prefilter changed the default scan");
    let errors = scan(&cx.errors, data);
    let errors_all = scan(&cx.errors_all, data);
    assert_eq!(kept(&errors), kept(&errors_all), "the prefilter changed the --all-errors scan");
    diagnose(&errors.events);

    if !data.starts_with(&[0x1f, 0x8b]) {
        let mut z = scan(&cx.default, &gzip(data));
        z.counts.bytes_compressed = default.counts.bytes_compressed;
        assert_eq!(format!("{:?}", default), format!("{z:?}"), "gzip changed the scan");
    }
});
