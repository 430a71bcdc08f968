//! Where the collector's time goes on a directory of CloudTrail files: parse on this thread,
//! then time the tally steps apart. `cargo run --release -p denytrail-core --example collect_cost DIR`
use std::io::BufReader;
use std::time::Instant;

#[path = "shared/cost.rs"]
mod cost;

use denytrail_core::collect::Collector;
use denytrail_core::parse::Worker;
use denytrail_core::tally::{Denials, Keys};

fn main() {
    let (dir, ctx) = cost::input();
    let mut worker = Worker::new();
    let mut reports = Vec::new();
    let t = Instant::now();
    for entry in cost::log_files(&dir) {
        let f = std::fs::File::open(&entry).unwrap();
        reports.push(worker.process(&ctx, &entry.to_string_lossy(), true, BufReader::new(f)));
    }
    let events: usize = reports.iter().map(|r| r.events.len()).sum();
    println!("parse (with keys): {:.2} s, {events} events", t.elapsed().as_secs_f64());
    let all: Vec<_> = reports.iter().flat_map(|r| r.events.iter()).filter(|e| e.is_target()).collect();
    let t = Instant::now();
    let keys: Vec<Keys> = all.iter().map(|e| Keys::of(e)).collect();
    println!(
        "keys: {:.3} s ({:.2} us each)",
        t.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64() * 1e6 / all.len() as f64
    );
    let t = Instant::now();
    let mut d = Denials::new();
    for (e, k) in all.iter().zip(&keys) {
        d.add_event(e, k);
    }
    println!(
        "tally: {:.3} s ({:.2} us each)",
        t.elapsed().as_secs_f64(),
        t.elapsed().as_secs_f64() * 1e6 / all.len() as f64
    );
    let t = Instant::now();
    let cloned: Vec<_> = reports.iter().map(|r| r.events.clone()).collect();
    println!("clone (the events' allocation): {:.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    drop(cloned);
    println!("drop: {:.3} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let mut c = Collector::new();
    for r in reports {
        c.merge(r);
    }
    let out = c.finish();
    println!("collector merge+finish: {:.3} s, {} groups", t.elapsed().as_secs_f64(), out.groups.len());
    let times: usize = out.groups.iter().map(|g| g.times().0.count()).sum();
    let exemplars: usize = out.groups.iter().map(|g| g.exemplars().len()).sum();
    println!("per-second entries {times}, exemplars {exemplars}, companions {}", out.companions.len());
    let t = Instant::now();
    let d = denytrail_core::diagnose_tallies(&out.groups, &out.companions, None);
    println!("diagnose: {:.3} s, {} groups", t.elapsed().as_secs_f64(), d.len());
}
