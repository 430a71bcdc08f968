//! denytrail-core: the pipeline's pure stages, with no polars and no AWS SDK.
//!
//! [`decode`] (gzip or plain, size limit) → [`parse`] (record splitting, prefilter, simd-json →
//! [`event::Event`]) → [`filter`] (targets and companions) → [`collect`] (accounting in [`stats`],
//! dedupe) → [`diagnose`] (likely causes) → [`report`] (rows and the renderers that need no
//! dataframe). [`layout`] knows the CloudTrail key layout that sources prune by.
//!
//! Keeping these here lets their tests build and run in seconds; the `denytrail` binary adds
//! the sources, the worker pool, polars grouping and SQL, and AWS around them.

pub mod collect;
pub mod decode;
pub mod diagnose;
pub mod event;
pub mod filter;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod layout;
pub mod parse;
pub mod partial;
pub mod policy;
pub mod redact;
pub mod report;
pub mod shard;
pub mod stats;
pub mod tally;
#[cfg(test)]
mod testing;

use std::collections::HashMap;

use event::{Event, GroupKey};
use report::{CauseLine, GroupDetail, GroupDiagnosis};

/// The diagnosis columns of every group: the targets are grouped as the report groups them, and
/// correlated with the companion events (and with each other: a target can explain a neighbour).
pub fn diagnose_groups(targets: &[Event], companions: &[Event]) -> HashMap<GroupKey, GroupDiagnosis> {
    diagnose_groups_with(targets, companions, None)
}

/// [`diagnose_groups`], each group then judged against the account's configuration when a
/// snapshot was read (`--live`, `--config`): `confirmed` / `refuted` and `confirmed_by`.
pub fn diagnose_groups_with(
    targets: &[Event],
    companions: &[Event],
    snapshot: Option<&policy::Snapshot>,
) -> HashMap<GroupKey, GroupDiagnosis> {
    let index = diagnose::Companions::new(companions.iter().chain(targets).collect());
    let mut groups: HashMap<GroupKey, Vec<&Event>> = HashMap::new();
    for e in targets {
        groups.entry(GroupKey::of(e)).or_default().push(e);
    }
    groups.into_iter().map(|(key, events)| (key, group_diagnosis(&diagnose_one(&events, &index, snapshot)))).collect()
}

/// The diagnosis columns of groups reduced at ingest ([`tally`]): each group is diagnosed from
/// its weighted exemplars, correlated with the companions and with every group's exemplars.
pub fn diagnose_tallies(
    groups: &[tally::GroupTally],
    companions: &[Event],
    snapshot: Option<&policy::Snapshot>,
) -> HashMap<GroupKey, GroupDiagnosis> {
    let exemplars: Vec<Vec<(&Event, f64)>> = groups.iter().map(tally::GroupTally::exemplars).collect();
    let index =
        diagnose::Companions::new(companions.iter().chain(exemplars.iter().flatten().map(|(e, _)| *e)).collect());
    // Groups are diagnosed apart from each other: on every core, as the scan ran.
    use rayon::prelude::*;
    groups
        .par_iter()
        .zip(&exemplars)
        .map(|(g, ex)| (g.key.clone(), group_diagnosis(&diagnose_exemplars(ex, &index, snapshot))))
        .collect()
}

/// One group diagnosed from its tally's exemplars ([`tally::GroupTally::exemplars`]), confirmed
/// against `snapshot` when there is one.
pub fn diagnose_exemplars(
    exemplars: &[(&Event, f64)],
    index: &diagnose::Companions<'_>,
    snapshot: Option<&policy::Snapshot>,
) -> diagnose::Diagnosis {
    let (events, weights): (Vec<&Event>, Vec<f64>) = exemplars.iter().copied().unzip();
    confirmed(diagnose::diagnose_weighted(&events, &weights, index), &events, snapshot)
}

/// `d`, judged against `snapshot` when there is one.
fn confirmed(
    mut d: diagnose::Diagnosis,
    events: &[&Event],
    snapshot: Option<&policy::Snapshot>,
) -> diagnose::Diagnosis {
    if let Some(c) = snapshot.and_then(|s| diagnose::confirm::confirm_events(events, s)) {
        d.apply_confirmation(c);
    }
    d
}

/// One group's diagnosis, confirmed against `snapshot` when there is one.
pub fn diagnose_one(
    events: &[&Event],
    index: &diagnose::Companions<'_>,
    snapshot: Option<&policy::Snapshot>,
) -> diagnose::Diagnosis {
    confirmed(diagnose::diagnose_group(events, index), events, snapshot)
}

/// The report's view of a diagnosis.
pub fn group_diagnosis(d: &diagnose::Diagnosis) -> GroupDiagnosis {
    GroupDiagnosis {
        causes: d.causes_column(),
        confidence: d.confidence_column(),
        facts: d.facts_column(),
        confirmed_by: d.confirmed_by_column(),
        evidence: d.evidence.clone(),
        next_steps: d.next_steps_column(),
        detail: GroupDetail {
            causes: d
                .causes
                .iter()
                .map(|c| CauseLine {
                    tag: c.tag.to_string(),
                    confidence: c.confidence.to_string(),
                    share: c.share,
                    evidence: c.evidence.clone(),
                })
                .collect(),
            facts: d.facts.clone(),
            steps: d.next_steps.clone(),
        },
    }
}
