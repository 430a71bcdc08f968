//! `denytrail explain`: each group in prose — what was denied, the likely causes with evidence,
//! the commands that confirm them, and the corrective policy where one applies.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use anyhow::{Context, Result};
use chrono::Utc;

use super::{Exit, exit_for};
use crate::cli::ExplainArgs;
use crate::event::{Event, GroupKey};
use crate::plan::{EventsFrom, usage};
use crate::report::{self, escape::display};
use denytrail_core::tally::GroupTally;

/// Denials `explain` holds whole at most, over the groups it diagnoses from every denial (about
/// 2 KB each with the diagnosis' context, measured: ~70 MB). The chosen groups are read whole smallest
/// first while they fit; a group that does not (an outage's) is diagnosed from its tally's
/// exemplars, as the scan's report is, and says so. `DENYTRAIL_EXPLAIN_HELD` sets it.
const HELD: u64 = 32_768;

pub fn run(args: &ExplainArgs) -> Result<Exit> {
    let quiet = args.run.quiet;
    if args.group == Some(0) {
        return Err(usage("--group counts from 1 (the group with the most denials)"));
    }
    let held = crate::plan::explain_held(HELD)?;
    let from = EventsFrom::of(args.events.as_deref(), &args.input, &args.aws, quiet, Utc::now())?;
    let config_from = crate::plan::ConfigFrom::of(&args.live)?;
    let configuration = super::Configuration::prepare(&config_from)?;
    let saved = matches!(from, EventsFrom::Saved(..));
    // The events wait on disk; only the groups read whole come back into memory.
    let spool = tempfile::tempdir().context("cannot make a temporary directory for the events")?;
    let events = spool.path().join("events.parquet");
    let mut out = super::spooled(from, &events)?;
    let config = configuration.resolve(&out, &crate::plan::aws_options(&args.aws), quiet)?;
    let snapshot = config.as_ref().map(|c| &c.0);
    // Only the order and keys of the groups are needed here; each is diagnosed once below.
    let groups = report::rows_of(&out.groups, &HashMap::new());
    let chosen: Vec<(usize, &report::Group)> = match args.group {
        Some(n) if n > groups.len() => {
            return Err(usage(format!("--group {n}: the report has {} group(s)", groups.len())));
        }
        Some(n) => vec![(n, &groups[n - 1])],
        None => groups.iter().enumerate().map(|(i, g)| (i + 1, g)).collect(),
    };
    let tallies: HashMap<GroupKey, &GroupTally> = out.groups.iter().map(|g| (g.key.clone(), g)).collect();
    let whole = read_whole(&chosen, &tallies, held);
    let members = if whole.is_empty() { HashMap::new() } else { members_of(&events, &whole)? };
    // The correlations read the companions and the other groups too (a caller denied on many
    // buckets): every denial held, and the exemplars of the groups not read whole.
    let exemplars: Vec<Vec<(&Event, f64)>> =
        out.groups.iter().filter(|g| !members.contains_key(&g.key)).map(GroupTally::exemplars).collect();
    let mut targets: Vec<&Event> =
        members.values().flatten().chain(exemplars.iter().flatten().map(|(e, _)| *e)).collect();
    targets.sort_by(|a, b| Event::scan_order(a, b));
    let index = crate::diagnose::Companions::new(out.companions.iter().chain(targets).collect());
    let mut live = config.as_ref().map(|c| c.1.clone());
    let mut stdout = std::io::stdout().lock();
    if chosen.is_empty() {
        writeln!(stdout, "no matching denials")?;
    }
    for (rank, g) in chosen {
        let key = g.key();
        let (d, text) = match (members.get(&key), tallies.get(&key)) {
            (Some(members), _) => {
                let members: Vec<&Event> = members.iter().collect();
                let d = denytrail_core::diagnose_one(&members, &index, snapshot);
                let text = crate::diagnose::explain_group(&members, &d);
                (d, text)
            }
            (None, Some(tally)) => {
                let exemplars = tally.exemplars();
                let d = denytrail_core::diagnose_exemplars(&exemplars, &index, snapshot);
                let events: Vec<&Event> = exemplars.iter().map(|(e, _)| *e).collect();
                let text = crate::diagnose::Denied::of_tally(tally, &events)
                    .map_or_else(String::new, |denied| crate::diagnose::explain_denied(&denied, &d));
                (d, text)
            }
            (None, None) => continue,
        };
        if let Some(live) = &mut live {
            let (confidence, confirmed_by) = (d.confidence_column(), d.confirmed_by_column());
            super::count_verdicts(live, std::iter::once((confidence.as_str(), confirmed_by.as_str())));
        }
        writeln!(stdout, "## Group {rank} of {}\n", groups.len())?;
        // Log text inside the explanation is shown escaped, never raw.
        for line in text.lines() {
            writeln!(stdout, "{}", display(line))?;
        }
        writeln!(stdout)?;
    }
    drop(index);
    out.stats.live = live;
    if !quiet && !saved {
        eprint!("{}", report::summary::render(&out.stats, groups.len()));
    } else if !quiet && let Some(live) = &out.stats.live {
        let stats = crate::stats::Stats { live: Some(live.clone()), ..Default::default() };
        if let Some(line) = report::summary::render(&stats, 0).lines().find(|l| l.contains("configuration of")) {
            eprintln!("{line}");
        }
    }
    Ok(exit_for(&out, args.run.fail_on_findings, !groups.is_empty()))
}

/// The chosen groups read whole: the smallest first, while their denials fit in `held`. Depends
/// only on the groups' sizes, never on the order the scan met them.
fn read_whole(
    chosen: &[(usize, &report::Group)],
    tallies: &HashMap<GroupKey, &GroupTally>,
    held: u64,
) -> HashSet<GroupKey> {
    let mut sizes: Vec<(u64, usize, GroupKey)> = chosen
        .iter()
        .filter_map(|(rank, g)| {
            let key = g.key();
            tallies.get(&key).map(|t| (t.denied, *rank, key))
        })
        .collect();
    sizes.sort();
    let mut total = 0;
    let mut whole = HashSet::new();
    for (denied, _, key) in sizes {
        total += denied;
        if total > held {
            break;
        }
        whole.insert(key);
    }
    whole
}

/// The denials of the `whole` groups, read back from the spooled events, each group in scan
/// order.
fn members_of(events: &std::path::Path, whole: &HashSet<GroupKey>) -> Result<HashMap<GroupKey, Vec<Event>>> {
    let mut members: HashMap<GroupKey, Vec<Event>> = HashMap::new();
    // Only the rows of those groups become events.
    let wanted: HashSet<(&str, &str, &str)> =
        whole.iter().map(|k| (k.principal.as_str(), k.bucket.as_str(), k.prefix.as_str())).collect();
    let keep = |df: &polars::prelude::DataFrame| {
        let text = |name: &str| df.column(name).ok().and_then(|c| c.str().ok().cloned());
        let (principal, bucket, prefix, role) = (text("principal")?, text("bucket")?, text("prefix")?, text("role")?);
        let rows = principal.iter().zip(bucket.iter()).zip(prefix.iter()).zip(role.iter());
        let unset = Option::unwrap_or_default;
        Some(
            rows.map(|(((p, b), x), r)| r == Some("target") && wanted.contains(&(unset(p), unset(b), unset(x))))
                .collect::<polars::prelude::BooleanChunked>(),
        )
    };
    super::read_saved_where(events, keep, |batch| {
        for e in batch.into_iter().filter(Event::is_target) {
            let key = GroupKey::of(&e);
            if whole.contains(&key) {
                members.entry(key).or_default().push(e);
            }
        }
        Ok(())
    })?;
    for m in members.values_mut() {
        denytrail_core::event::sort_events(m, Event::scan_order);
    }
    Ok(members)
}
