//! The pipeline: sources → rayon workers → the collector. The only place that knows the pool.
//!
//! Every source (the local walker and stdin, S3) hands [`Listed`] items to one bounded channel;
//! workers open or borrow each object's bytes and run the core's per-object stages; one small
//! [`ObjectReport`] per object goes to the collector, which merges the accounting, keeps the
//! companions and drives the progress bar. Denied writes are tallied on the workers as they
//! are parsed (a [`Folder`]) unless the collector needs them whole (`--events-out`, `explain`,
//! `query`). Nothing the size of the input is ever held.

use std::fs::File;
use std::io::BufReader;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use anyhow::{Context, Result};

pub use crate::collect::ScanOutput;
use crate::collect::{Collector, Folder};
use crate::event::EventRef;
use crate::layout::Scope;
use crate::parse::{ObjectReport, ScanContext};
use crate::progress::Progress;
use crate::shard::Shard;
use crate::source::{Input, Listed, Location, LogObject, local};
use denytrail_core::tally::Keys;

pub struct ScanOptions {
    pub inputs: Vec<Input>,
    pub context: ScanContext,
    pub scope: Scope,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    pub progress: bool,
    pub aws: crate::aws::AwsOptions,
    /// `--shard I/N`: only the objects this shard owns are listed and read.
    pub shard: Option<Shard>,
    /// Identities held in memory to drop repeats (`DENYTRAIL_SEEN_LIMIT`); the default if none.
    pub seen_limit: Option<usize>,
}

/// Items listed but not yet taken by a worker (local paths are small; S3 bodies are bounded by
/// the S3 source's own memory budget as well).
const LISTED_QUEUE: usize = 4096;
/// Batches of object reports queued for the collector per worker thread.
const REPORTS_PER_THREAD: usize = 2;
/// Reports a worker gathers before handing them to the collector, unless the listed queue runs
/// dry first: thousands of small S3 objects a second would otherwise wake the collector (and
/// switch threads) once each.
const REPORT_BATCH: usize = 32;
/// A report holding more events than this goes at once: in an outage, held events are memory.
const LIGHT_REPORT_EVENTS: usize = 64;

/// Runs the pipeline into `collector`; returns it with the seconds taken.
pub fn run(opts: &ScanOptions, mut collector: Collector) -> Result<(Collector, f64)> {
    let started = Instant::now();
    // The report's diagnosis runs on rayon's global pool: as many threads as the scan's. (Set
    // once per process; a second scan in one process keeps the first's.)
    let _ = rayon::ThreadPoolBuilder::new().num_threads(opts.threads).build_global();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .thread_name(|i| format!("denytrail-worker-{i}"))
        .build()
        .context("cannot start the worker threads")?;
    let s3_inputs: Vec<(String, String)> = opts
        .inputs
        .iter()
        .filter_map(|i| match i {
            Input::S3 { bucket, prefix } => Some((bucket.clone(), prefix.clone())),
            _ => None,
        })
        .collect();
    let log_groups: Vec<String> = opts
        .inputs
        .iter()
        .filter_map(|i| match i {
            Input::Logs { group } => Some(group.clone()),
            _ => None,
        })
        .collect();

    let progress = Progress::new(opts.progress, 0, 0);
    let ctx = &opts.context;
    // Reports waiting for the collector: few, since in an outage each holds an object's worth
    // of denied events; a worker waits rather than pile them up.
    let in_flight = REPORTS_PER_THREAD * pool.current_num_threads().max(1);
    let (reports_tx, reports) = sync_channel::<Vec<ObjectReport>>(in_flight);
    // Denied writes are tallied on the workers when the collector does not need them whole.
    if let Some(limit) = opts.seen_limit {
        collector = collector.with_seen_limit(limit);
    }
    let folder = collector.folder();
    let folding = folder.as_ref();
    std::thread::scope(|s| -> Result<()> {
        let (listed_tx, listed) = sync_channel::<Listed>(LISTED_QUEUE);
        let walk_progress = progress.clone();
        let local_tx = listed_tx.clone();
        s.spawn(move || walk_local(&opts.inputs, &opts.scope, opts.shard, &local_tx, &walk_progress));
        // The remote sources, each on its own thread with its own small runtime.
        let mut remote = Vec::new();
        if !s3_inputs.is_empty() {
            let (tx, progress) = (listed_tx.clone(), progress.clone());
            remote.push(
                s.spawn(move || crate::source::s3::read(&s3_inputs, &opts.aws, &opts.scope, opts.shard, tx, progress)),
            );
        }
        // An API source is one input: read whole by the shard its name hashes to.
        let ours = |name: &str| opts.shard.is_none_or(|s| s.owns(name));
        let log_groups: Vec<String> = log_groups.into_iter().filter(|g| ours(&format!("logs://{g}"))).collect();
        if !log_groups.is_empty() {
            let (tx, progress) = (listed_tx.clone(), progress.clone());
            let filter = &ctx.filter;
            remote.push(s.spawn(move || crate::source::logs::read(&log_groups, &opts.aws, filter, tx, progress)));
        }
        if opts.inputs.contains(&Input::Lookup) && ours("cloudtrail://lookup") {
            let (tx, progress) = (listed_tx.clone(), progress.clone());
            let (since, until) = (ctx.filter.since_ms, ctx.filter.until_ms);
            let now = chrono::Utc::now().timestamp_millis();
            remote.push(s.spawn(move || crate::source::lookup::read(&opts.aws, since, until, now, tx, progress)));
        }
        drop(listed_tx);
        let pool = &pool;
        let listed = Mutex::new(listed);
        s.spawn(move || pool.broadcast(|_| work(ctx, &listed, folding, &reports_tx)));
        for report in reports.into_iter().flatten() {
            progress.object_done(report.counts.bytes_compressed, report.counts.records_matched);
            collector.merge(report);
        }
        for h in remote {
            // Every object is accounted for through the channel; only a fatal error comes back.
            h.join().map_err(|_| anyhow::anyhow!("a remote source panicked"))??;
        }
        Ok(())
    })?;
    progress.finish();
    if let Some(folder) = folder {
        collector.absorb_folded(folder).context("cannot read back the identities spilled to disk to drop repeats")?;
    }

    Ok((collector, started.elapsed().as_secs_f64()))
}

/// Lists the local inputs (paths and stdin) into the channel, in input order.
fn walk_local(inputs: &[Input], scope: &Scope, shard: Option<Shard>, listed: &SyncSender<Listed>, progress: &Progress) {
    let mut emit = |item: Listed| {
        // Every item, read, skipped or failed, is accounted for by the one shard that owns it.
        if shard.is_some_and(|s| !s.owns(item.name())) {
            return;
        }
        // Every listed item is counted, so "objects done/listed" adds up on the bar.
        let size = if let Listed::Object(o) = &item { o.size } else { 0 };
        progress.listed(1, size);
        let _ = listed.send(item);
    };
    for input in inputs {
        match input {
            Input::Path(p) => local::walk(p, scope, &mut emit),
            Input::Stdin => {
                emit(Listed::Object(LogObject { name: "-".into(), location: Location::Stdin, walked: false, size: 0 }))
            }
            Input::S3 { .. } | Input::Logs { .. } | Input::Lookup => {}
        }
    }
}

/// One worker's loop: takes listed items until the sources are done, and hands their reports to
/// the collector in batches, each sent as soon as the queue runs dry or it is full.
fn work(
    ctx: &ScanContext,
    listed: &Mutex<Receiver<Listed>>,
    folding: Option<&Folder>,
    out: &SyncSender<Vec<ObjectReport>>,
) {
    let mut batch = Vec::new();
    let flush = |batch: &mut Vec<ObjectReport>| {
        if !batch.is_empty() {
            let _ = out.send(std::mem::take(batch));
        }
    };
    let queue = || listed.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let next = queue().try_recv();
        let item = match next {
            Ok(item) => item,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                flush(&mut batch);
                let Ok(item) = queue().recv() else { break };
                item
            }
        };
        let report = process(ctx, item, folding);
        let heavy = report.events.len() > LIGHT_REPORT_EVENTS;
        batch.push(report);
        if heavy || batch.len() >= REPORT_BATCH {
            flush(&mut batch);
        }
    }
    flush(&mut batch);
}

/// One listed item, on a worker: objects are read through this thread's worker; skipped and
/// failed items become their report.
fn process(ctx: &ScanContext, item: Listed, folding: Option<&Folder>) -> ObjectReport {
    let obj = match item {
        Listed::Object(obj) => obj,
        Listed::Skipped(name, reason) => return ObjectReport::skipped(&name, reason),
        Listed::Failed(name, error) => return ObjectReport::failed(&name, error),
    };
    // The targets are tallied as they are parsed, when the collector does not need them whole.
    let mut held = folding.map(Folder::hold);
    let mut tally = |target: &EventRef, keys: &Keys| {
        if let Some(held) = held.as_mut() {
            held.fold(target, keys);
        }
    };
    let fold: crate::parse::Fold = if folding.is_some() { Some(&mut tally) } else { None };
    crate::parse::with_worker(|worker| match &obj.location {
        Location::File(path) => match File::open(path) {
            Ok(f) => worker.process_folding(ctx, &obj.name, obj.walked, BufReader::with_capacity(256 << 10, f), fold),
            Err(e) => ObjectReport::failed(&obj.name, crate::stats::ObjectError::Open(e.to_string())),
        },
        Location::Stdin => worker.process_folding(ctx, &obj.name, false, std::io::stdin().lock(), fold),
        // The body (and its share of the S3 memory budget) is freed when `obj` drops, after parsing.
        Location::Body { bytes, .. } => worker.process_folding(ctx, &obj.name, obj.walked, &bytes[..], fold),
    })
}
