//! `denytrail merge`: the report of a sharded scan, from every shard's partial.
//!
//! The partials' accounting is added up and their events go through the same collector (the
//! global dedupe and session join happen here, across shards) and the same report step as a
//! scan, so one scan and a merge of its shards give the same report, diagnosis, accounting and
//! exit status.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};

use super::Exit;
use super::scan::Prepared;
use crate::cli::MergeArgs;
use crate::collect::Collector;
use crate::partial::Header;
use crate::plan::{self, usage};
use crate::report::escape::display;
use crate::sink::Destination;

/// Companions read from a partial before the collector takes them.
const COMPANIONS_BATCH: usize = 1024;

pub fn run(args: &MergeArgs) -> Result<Exit> {
    let started = Instant::now();
    let aws = plan::aws_options(&args.aws);
    if args.report.events_out.is_some() {
        return Err(usage(
            "a merge holds the shards' tallies, not their events: give --events-out to each shard's scan (they can share one directory or s3:// prefix)",
        ));
    }
    let prepared = Prepared::of(&args.report, &aws)?;
    let limit = crate::plan::seen_limit()?.unwrap_or(denytrail_core::tally::SEEN_LIMIT);
    let locations = expand(&args.partials, &aws)?;

    let mut collector = Collector::for_merge(limit);
    let mut first: Option<(String, Header)> = None;
    let mut seen: BTreeMap<u32, String> = BTreeMap::new();
    for at in &locations {
        let name = at.name();
        let file = at.open(&aws)?.ok_or_else(|| anyhow!("the partial {} does not exist", display(&name)))?;
        let cannot = |e: &dyn std::fmt::Display| anyhow!("the partial {} cannot be merged: {e}", display(&name));
        let (header, denials, mut body) =
            crate::partial::read(std::io::BufReader::with_capacity(1 << 16, file)).map_err(|e| cannot(&e))?;
        match &first {
            None => first = Some((name.clone(), header.clone())),
            Some((first_name, h)) => {
                let mismatch = if h.version != header.version {
                    Some(format!("denytrail {} wrote one and {} the other", header.version, h.version))
                } else if h.filter != header.filter {
                    Some("they were scanned with other filters".to_string())
                } else if h.shard.count != header.shard.count {
                    Some(format!("one is of {} shards, the other of {}", header.shard.count, h.shard.count))
                } else {
                    None
                };
                if let Some(why) = mismatch {
                    bail!("the partials {} and {} cannot be merged: {why}", display(first_name), display(&name));
                }
            }
        }
        if let Some(other) = seen.insert(header.shard.index, name.clone()) {
            bail!("shard {} is given twice: {} and {}", header.shard, display(&other), display(&name));
        }
        // The companions a batch at a time, then the ledger a record at a time: a partial is
        // never held whole.
        collector.absorb(header.stats, denials);
        collector.note_used_keys(std::mem::take(&mut body.used_keys));
        let mut batch = Vec::new();
        while let Some(e) = body.next_companion().map_err(|e| cannot(&e))? {
            batch.push(e);
            if batch.len() == COMPANIONS_BATCH {
                collector.add_companions(std::mem::take(&mut batch));
            }
        }
        collector.add_companions(batch);
        let waiting = body.waiting().map_err(|e| cannot(&e))?;
        collector.absorb_waiting(waiting).map_err(|e| cannot(&format!("its waiting copies are unreadable ({e})")))?;
        collector.absorb_ledger(body.ledger().map_err(|e| cannot(&e))?).map_err(|e| cannot(&e))?;
    }
    let (_, header) = first.ok_or_else(|| usage("give the partials to merge"))?;
    let missing: Vec<String> = (0..header.shard.count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{}", header.shard.count))
        .collect();
    if !missing.is_empty() {
        bail!("shard(s) {} missing: a merge without them would not be the whole trail", missing.join(", "));
    }
    collector.settle_merged().context("cannot read back the identities spilled to disk to drop repeats")?;
    let mut out = collector.finish();
    out.stats.elapsed_seconds = out.stats.elapsed_seconds.max(started.elapsed().as_secs_f64());
    super::refuse_unread(&out, args.report.run.quiet)?;
    let inputs: Vec<String> = locations.iter().map(Destination::name).collect();
    prepared.report(&args.report, &aws, out, &inputs)
}

/// The partials named: files, `s3://` objects, and globs of either (`*` and `?` in the last
/// path segment), sorted, each once.
fn expand(args: &[String], aws: &crate::aws::AwsOptions) -> Result<Vec<Destination>> {
    let mut out = Vec::new();
    for arg in args {
        if !arg.contains(['*', '?', '[']) {
            out.push(plan::location(Path::new(arg))?);
            continue;
        }
        let (dir, pattern) = arg.rsplit_once('/').unwrap_or((".", arg));
        let glob = globset::Glob::new(pattern).map_err(|e| usage(format!("'{arg}': {e}")))?.compile_matcher();
        let mut found: Vec<Destination> = match dir.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
                crate::aws::list_keys(aws, bucket, &prefix)?
                    .into_iter()
                    .filter(|k| !k[prefix.len()..].contains('/') && glob.is_match(&k[prefix.len()..]))
                    .map(|key| Destination::S3 { bucket: bucket.to_string(), key })
                    .collect()
            }
            None => std::fs::read_dir(dir)
                .map_err(|e| anyhow!("'{arg}': cannot read {dir}: {e}"))?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()) && glob.is_match(e.file_name()))
                .map(|e| Destination::File(e.path()))
                .collect(),
        };
        if found.is_empty() {
            return Err(usage(format!("'{arg}' matches no partial")));
        }
        found.sort_by_key(Destination::name);
        out.extend(found);
    }
    out.sort_by_key(Destination::name);
    out.dedup();
    Ok(out)
}
