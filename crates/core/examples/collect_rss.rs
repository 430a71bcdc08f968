//! Peak memory of the collector alone on a directory of CloudTrail files, parsed and collected
//! on one thread, one object at a time. `cargo run --release -p denytrail-core --example collect_rss DIR`
use std::io::BufReader;

#[path = "shared/cost.rs"]
mod cost;

use denytrail_core::collect::Collector;
use denytrail_core::parse::Worker;

fn rss() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines().filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM")).collect::<Vec<_>>().join(" ")
}

fn main() {
    let (dir, ctx) = cost::input();
    let mut worker = Worker::new();
    let mut c = Collector::new();
    let paths = cost::log_files(&dir);
    for (i, entry) in paths.iter().enumerate() {
        let f = std::fs::File::open(entry).unwrap();
        c.merge(worker.process(&ctx, &entry.to_string_lossy(), true, BufReader::new(f)));
        if i % 200 == 0 {
            println!("{i} files: {} | {}", rss(), c.footprint());
        }
    }
    let out = c.finish();
    println!("finished: {} groups, {} companions: {}", out.groups.len(), out.companions.len(), rss());
}
