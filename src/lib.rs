//! denytrail: who is denied writes to S3, where, and most likely why — from CloudTrail logs.
//!
//! The pipeline, one module per stage:
//! [`source`] (local files, stdin, S3) → [`decode`] (gzip, size limit) → [`parse`] (record
//! splitting, prefilter, simd-json) → [`filter`] (which events) → [`diagnose`] (likely causes) →
//! [`report`] (polars grouping, writers). [`scan`] wires the stages on a rayon pool and
//! [`stats`] accounts for every object and record.

pub mod app;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod event;
pub mod filter;
pub mod parse;
pub mod progress;
pub mod report;
pub mod scan;
pub mod source;
pub mod stats;
pub mod synth;

use std::collections::HashMap;

use event::Event;
use report::{GroupDiagnosis, GroupKey};

/// The diagnosis columns of every group: the targets are grouped as the report groups them, and
/// correlated with the companion events (and with each other: a target can explain a neighbour).
pub fn diagnose_groups(targets: &[Event], companions: &[Event]) -> HashMap<GroupKey, GroupDiagnosis> {
    let index = diagnose::Companions::new(companions.iter().chain(targets).collect());
    let mut groups: HashMap<GroupKey, Vec<&Event>> = HashMap::new();
    for e in targets {
        groups.entry(report::group_key(e)).or_default().push(e);
    }
    groups
        .into_iter()
        .map(|(key, events)| {
            let d = diagnose::diagnose_group(&events, &index);
            let columns = GroupDiagnosis {
                causes: d.causes_column(),
                confidence: d.confidence_column(),
                evidence: d.evidence.clone(),
                next_steps: d.next_steps_column(),
                detail: report::GroupDetail {
                    causes: d
                        .causes
                        .iter()
                        .map(|c| report::CauseLine {
                            tag: c.tag.to_string(),
                            confidence: c.confidence.to_string(),
                            share: c.share,
                            evidence: c.evidence.clone(),
                        })
                        .collect(),
                    facts: d.facts.clone(),
                    steps: d.next_steps.clone(),
                },
            };
            (key, columns)
        })
        .collect()
}
