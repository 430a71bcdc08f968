//! The scan's hot path on one thread, for profilers: every log file under a directory read and
//! its targets folded as `denytrail scan` folds them, then the collector finished.
//! `cargo run --profile profiling -p denytrail-core --example fold_cost DIR`
use std::io::BufReader;
use std::time::Instant;

#[path = "shared/cost.rs"]
mod cost;

use denytrail_core::collect::Collector;
use denytrail_core::parse::Worker;

fn main() {
    let (dir, ctx) = cost::input();
    let mut collector = Collector::new();
    let folder = collector.folder().expect("a scan's collector folds");
    let mut worker = Worker::new();
    let t = Instant::now();
    for path in cost::log_files(&dir) {
        let f = std::fs::File::open(&path).unwrap();
        let mut held = folder.hold();
        let mut fold = |e: &denytrail_core::event::EventRef, k: &denytrail_core::tally::Keys| held.fold(e, k);
        let report = worker.process_folding(&ctx, &path.to_string_lossy(), true, BufReader::new(f), Some(&mut fold));
        drop(held);
        collector.merge(report);
    }
    collector.absorb_folded(folder).unwrap();
    let out = collector.finish();
    let counted: u64 = out.groups.iter().map(|g| g.denied).sum();
    println!("{:.2} s, {} groups, {counted} denials", t.elapsed().as_secs_f64(), out.groups.len());
}
