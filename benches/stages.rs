//! Per-stage throughput on a generated trail: decompress, split + prefilter, parse + extract of the
//! candidates, and group/report. `cargo bench --bench stages`; the end-to-end comparison against
//! pigz, DuckDB and jq lives in `benches/compare.sh`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use denytrail::decode::{CHUNK, Decoder};
use denytrail::event::EventRole;
use denytrail::filter::Filter;
use denytrail::parse::split::{Splitter, Step};
use denytrail::parse::{ScanContext, Worker, extract};

/// About 32 MB of decompressed CloudTrail, as gzip files in memory.
fn trail() -> Vec<Vec<u8>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = denytrail_synth::SynthOptions::new(dir.path().to_path_buf(), 32 << 20);
    opts.max_file_bytes = 4 << 20;
    denytrail_synth::generate(&opts).expect("generate");
    let mut files = Vec::new();
    collect(dir.path(), &mut files);
    files
}

fn collect(dir: &Path, out: &mut Vec<Vec<u8>>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(std::fs::read(&p).expect("read"));
        }
    }
}

fn decompress(gz: &[u8]) -> Vec<u8> {
    let (mut d, _) = Decoder::new(gz, u64::MAX).expect("gzip");
    let (mut out, mut chunk) = (Vec::new(), vec![0u8; CHUNK]);
    loop {
        match d.fill(&mut chunk).expect("decode") {
            0 => return out,
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Records of a decompressed file, as byte ranges.
fn records(json: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut sp = Splitter::new();
    let mut out = Vec::new();
    loop {
        match sp.next(json, true).expect("valid") {
            Step::Record(r) => out.push(r),
            Step::NotObject(_) => {}
            Step::Done => return out,
            Step::NeedMore { .. } => unreachable!("whole input given"),
        }
    }
}

fn stages(c: &mut Criterion) {
    let gz = trail();
    let plain: Vec<Vec<u8>> = gz.iter().map(|f| decompress(f)).collect();
    let bytes: u64 = plain.iter().map(|p| p.len() as u64).sum();
    let ctx = ScanContext::new(Filter::default(), 1, u64::MAX);

    let mut g = c.benchmark_group("stages");
    g.sample_size(10).throughput(Throughput::Bytes(bytes));
    g.bench_function("decompress", |b| b.iter(|| gz.iter().map(|f| decompress(black_box(f)).len()).sum::<usize>()));
    g.bench_function("split+prefilter", |b| {
        b.iter(|| {
            plain
                .iter()
                .map(|p| records(p).into_iter().filter(|r| ctx.is_candidate(&p[r.clone()])).count())
                .sum::<usize>()
        })
    });
    g.bench_function("end-to-end one thread", |b| {
        let mut w = Worker::new();
        b.iter(|| gz.iter().map(|f| w.process(&ctx, "bench", false, &f[..]).counts.records_read).sum::<u64>())
    });
    g.finish();

    // Parse + extract only the candidates, as the scan does.
    let candidates: Vec<Vec<u8>> = plain
        .iter()
        .flat_map(|p| {
            records(p)
                .into_iter()
                .filter(|r| ctx.is_candidate(&p[r.clone()]))
                .map(|r| p[r].to_vec())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut g = c.benchmark_group("candidates");
    g.sample_size(10).throughput(Throughput::Elements(candidates.len() as u64));
    g.bench_function("parse+extract", |b| {
        b.iter(|| {
            candidates
                .iter()
                .map(|rec| {
                    let mut scratch = rec.clone();
                    let tape = simd_json::to_tape(&mut scratch).expect("valid");
                    extract::event(tape.as_value(), EventRole::Target, 1, "bench").event_name.len()
                })
                .sum::<usize>()
        })
    });
    g.finish();

    // Tally the matched events of the whole trail into groups, then the report rows.
    let mut w = Worker::new();
    let events: Vec<_> =
        gz.iter().flat_map(|f| w.process(&ctx, "bench", false, &f[..]).events).filter(|e| e.is_target()).collect();
    let mut g = c.benchmark_group("report");
    g.sample_size(10).throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("group", |b| {
        b.iter(|| {
            let mut denials = denytrail_core::tally::Denials::new();
            for e in black_box(&events) {
                denials.add(e);
            }
            denytrail::report::rows_of(&denials.finish().0, &Default::default()).len()
        })
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
