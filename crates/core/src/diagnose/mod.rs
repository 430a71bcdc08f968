//! Diagnosis: the stage between filter and report that says *why* a group of denied S3 writes was
//! most likely denied (causes.md §3–4).
//!
//! - [`message`] reads `errorMessage` (enhanced text, policy-ARN suffix, bare "Access Denied").
//! - [`rules`] holds one pure function per cause tag and the table in §3 order.
//! - [`correlate`] indexes companion events ([`Companions`]) and joins them to targets.
//! - [`steps`] fills the next-step commands with the group's own ARNs.
//! - [`policy`] reads the policy documents the trail holds and matches them against a request.
//! - [`remedy`] says where the fix goes: the policy type and place of the deny, per cause.
//! - [`explain`] renders the readable per-group section.
//!
//! Per event, every rule runs; an event no rule explains gets `unexplained`. Per group, each tag's
//! share is the fraction of events it explains, its confidence the highest any event gave it, and
//! its evidence that event's sentence. Facts (temporary credentials, presigned URL, suspicious, ...)
//! are listed apart from causes. Confidence comes from positive evidence: a missing optional
//! header alone is at most `low`.

pub mod confirm;
mod correlate;
mod explain;
pub(crate) mod message;
pub(crate) mod policy;
mod remedy;
mod rules;
mod steps;
mod text;

#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;

use crate::event::Event;

pub use correlate::Companions;
pub use correlate::{is_kms_denial, is_session_issuer, kms_denial, session_issuer, vpce_denial};
pub use explain::{Denied, corrective_policy, explain_denied, explain_group};
pub use remedy::{Remedy, RemedyPlace};
pub(crate) use rules::text_marks;

use correlate::GroupProfile;
use rules::{EventCtx, Finding, RULES, UNEXPLAINED, tag_rank};
use steps::Fill;

/// How sure a cause is. `Refuted` and `Confirmed` come only from `--live` / `--config`: the
/// account's configuration was read and judged against the denied requests ([`confirm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The configuration read would allow the request now: not this cause (any more).
    Refuted,
    Low,
    Medium,
    High,
    /// The evaluation reproduces the denial and names the deciding statement.
    Confirmed,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
            Confidence::Refuted => "refuted",
            Confidence::Confirmed => "confirmed",
        })
    }
}

/// One cause tag of a group, with the share of the group's events it explains.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseShare {
    pub tag: &'static str,
    pub confidence: Confidence,
    pub events: usize,
    /// 0..=1
    pub share: f64,
    pub evidence: String,
}

/// The diagnosis of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagnosis {
    /// Strongest first: confidence, then share, then the tag order of causes.md §3.
    pub causes: Vec<CauseShare>,
    /// Facts that are not causes: "cross-account", "anonymous", "temporary credentials",
    /// "presigned URL", "AWS service caller", "directory bucket", "expired request".
    pub facts: Vec<String>,
    /// One sentence: which fields led to the first cause.
    pub evidence: String,
    /// Commands to confirm the causes, filled in with the group's values, de-duplicated.
    pub next_steps: Vec<String>,
    /// For each of `next_steps`: the account it must run in.
    pub run_in: Vec<String>,
    /// Where the fix goes, strongest cause first (one per place); empty when no cause names one.
    pub remedies: Vec<Remedy>,
    /// The judgement against the account's configuration (`--live`, `--config`), when one was read.
    pub confirmation: Option<confirm::Confirmation>,
}

impl Diagnosis {
    /// "kms-denied (100%), cross-account (50%)".
    pub fn causes_column(&self) -> String {
        self.causes.iter().map(|c| format!("{} ({})", c.tag, percent(c.share))).collect::<Vec<_>>().join(", ")
    }

    /// `confirmed` or `refuted` when the configuration decided, else the first cause's confidence,
    /// or "" without causes.
    pub fn confidence_column(&self) -> String {
        match self.confirmation.as_ref().map(|c| c.verdict) {
            Some(confirm::Verdict::Confirmed) => Confidence::Confirmed.to_string(),
            Some(confirm::Verdict::Refuted) => Confidence::Refuted.to_string(),
            _ => self.causes.first().map(|c| c.confidence.to_string()).unwrap_or_default(),
        }
    }

    /// What decided against the configuration read (the `confirmed_by` column), "" without one.
    pub fn confirmed_by_column(&self) -> String {
        self.confirmation.as_ref().map(|c| c.line.clone()).unwrap_or_default()
    }

    /// The commands joined by " ; ".
    pub fn next_steps_column(&self) -> String {
        self.next_steps.join(" ; ")
    }

    /// The facts joined by ", " (the report's `facts` column).
    pub fn facts_column(&self) -> String {
        self.facts.join(", ")
    }

    /// The kind and place of the first remedy (`none` when the diagnosis withholds a grant,
    /// "" when no cause names a place).
    pub fn remedy_place(&self) -> Option<RemedyPlace> {
        self.remedies.first().map(|r| r.place)
    }

    /// The cause with `tag`, if present.
    pub fn cause(&self, tag: &str) -> Option<&CauseShare> {
        self.causes.iter().find(|c| c.tag == tag)
    }
}

/// "100%", "33%", "<1%".
pub(crate) fn percent(share: f64) -> String {
    let p = (share * 100.0).round();
    if p < 1.0 && share > 0.0 { "<1%".to_string() } else { format!("{p:.0}%") }
}

/// The fact labels in display order.
const FACTS: &[&str] = &[
    "suspicious",
    "cross-account",
    "anonymous",
    "temporary credentials",
    "presigned URL",
    "AWS service",
    "directory bucket",
    "expired request",
];

fn facts_of(c: &EventCtx<'_>) -> [bool; 8] {
    let ev = c.ev;
    [
        !c.suspicious.is_empty(),
        c.cross_account().is_some(),
        ev.anonymous(),
        ev.temporary_credentials(),
        ev.auth_method.as_deref() == Some("QueryString"),
        ev.service_caller(),
        ev.event_source.starts_with("s3express"),
        c.msg.shape == message::Shape::Expired,
    ]
}

#[derive(Default)]
struct Tally {
    /// The weight of the events the cause explains (each event weighs 1 unless it stands for
    /// others: an exemplar of a reduced group).
    events: f64,
    best: Option<Finding>,
}

impl Tally {
    fn add(&mut self, finding: Finding, weight: f64) {
        self.events += weight;
        if self.best.as_ref().is_none_or(|b| finding.confidence > b.confidence) {
            self.best = Some(finding);
        }
    }
}

/// Diagnose one group: all its target events (same principal, bucket, prefix).
pub fn diagnose_group(targets: &[&Event], companions: &Companions<'_>) -> Diagnosis {
    diagnose_weighted(targets, &vec![1.0; targets.len()], companions)
}

/// Diagnose one group from exemplars, each standing for `weights[i]` of its denials (a group
/// reduced at ingest, [`crate::tally`]): shares are weighted, the rest reads the exemplars.
pub fn diagnose_weighted(targets: &[&Event], weights: &[f64], companions: &Companions<'_>) -> Diagnosis {
    if targets.is_empty() {
        return Diagnosis::default();
    }
    debug_assert_eq!(targets.len(), weights.len());
    let mut ctxs: Vec<EventCtx<'_>> = targets.iter().map(|ev| EventCtx::new(ev, companions)).collect();

    // Group-level correlation: policy changes before the first denial.
    let fill = Fill::new(&ctxs);
    let kms_involved = ctxs
        .iter()
        .any(|c| c.msg.is_kms() || c.kms.is_some() || c.ev.sse.as_deref().is_some_and(|s| s.starts_with("aws:kms")));
    // Errors no policy can cause take no part in policy-change correlation.
    let policy_ctxs: Vec<&EventCtx<'_>> = ctxs.iter().filter(|c| c.policy_can_cause()).collect();
    let first_denial_ms = policy_ctxs.iter().filter_map(|c| c.ev.event_time_ms).min();
    let key = GroupProfile {
        bucket: fill.bucket.as_deref(),
        principal_arn: fill.principal_arn.as_deref(),
        caller_account: fill.caller_account.as_deref(),
        owner_account: fill.owner_account.as_deref(),
        kms_key: fill.kms_key.as_deref(),
        kms_involved,
        first_denial_ms,
        generic: policy_ctxs.iter().any(|c| c.msg.is_generic()),
        kinds: policy_ctxs.iter().filter_map(|c| c.msg.reason().map(|r| r.kind)).collect(),
    };
    let changes = companions.changes_before(&key);
    for c in &mut ctxs {
        c.first_denial_ms = first_denial_ms;
        c.change = changes.first().map(|&e| (e, changes.len() - 1));
        c.last_success = changes.first().and_then(|ch| companions.last_success(c.ev, ch.event_time_ms));
    }
    let fill = Fill::new(&ctxs);

    // Per event, then per group.
    let mut tallies: Vec<Tally> = (0..=RULES.len()).map(|_| Tally::default()).collect();
    let mut facts = [false; FACTS.len()];
    for (c, &w) in ctxs.iter().zip(weights) {
        let mut explained = false;
        for (i, rule) in RULES.iter().enumerate() {
            if let Some(finding) = (rule.check)(c) {
                tallies[i].add(finding, w);
                explained = true;
            }
        }
        if !explained {
            tallies[RULES.len()].add(rules::unexplained(c), w);
        }
        for (seen, now) in facts.iter_mut().zip(facts_of(c)) {
            *seen |= now;
        }
    }

    let total: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut causes: Vec<CauseShare> = tallies
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let best = t.best?;
            Some(CauseShare {
                tag: RULES.get(i).map_or(UNEXPLAINED, |r| r.tag),
                confidence: best.confidence,
                events: t.events.round() as usize,
                share: (t.events / total).min(1.0),
                evidence: best.evidence,
            })
        })
        .collect();
    causes.sort_by(|a, b| {
        b.confidence.cmp(&a.confidence).then(b.share.total_cmp(&a.share)).then(tag_rank(a.tag).cmp(&tag_rank(b.tag)))
    });

    // Suspicion: every indicator, once. A probe (an anonymous or outside caller, or mostly
    // hostile requests) gets no grant at all; a few odd requests from a known caller only a warning.
    let mut signs: Vec<String> = Vec::new();
    for sign in ctxs.iter().flat_map(|c| &c.suspicious) {
        if !signs.contains(sign) {
            signs.push(sign.clone());
        }
    }
    let hostile: f64 = ctxs.iter().zip(weights).filter(|(c, _)| !c.suspicious.is_empty()).map(|(_, w)| w).sum();
    let outsider = ctxs.iter().any(|c| c.ev.anonymous() || (c.cross_account().is_some() && c.generic()));
    let probe = !signs.is_empty() && (outsider || hostile * 2.0 >= total);
    let (withhold, warn) = if probe { (signs.clone(), Vec::new()) } else { (Vec::new(), signs.clone()) };

    let mut next_steps: Vec<String> = Vec::new();
    let mut run_in: Vec<String> = Vec::new();
    let mut add = |list: Vec<steps::Step>| {
        for s in list {
            if !next_steps.contains(&s.command) {
                next_steps.push(s.command);
                run_in.push(s.run_in);
            }
        }
    };
    if probe {
        add(steps::suspicious(&fill));
    }
    for cause in &causes {
        match RULES.iter().find(|r| r.tag == cause.tag) {
            // A probe is not investigated as a missing grant.
            Some(_) | None if probe && cause.tag != "recent-policy-change" => {}
            Some(rule) => add((rule.steps)(&fill)),
            None => add(steps::unexplained(&fill)),
        }
    }

    let remedies = remedy::remedies(&remedy::Group {
        ctxs: &ctxs,
        fill: &fill,
        causes: &causes,
        withhold: &withhold,
        suspicious: &warn,
    });
    let mut evidence = causes.first().map(|c| c.evidence.clone()).unwrap_or_default();
    if !signs.is_empty() {
        evidence.push_str(&format!("; suspicious: {}", signs.join("; ")));
    }

    Diagnosis {
        evidence,
        causes,
        facts: FACTS.iter().zip(facts).filter(|(_, on)| *on).map(|(f, _)| f.to_string()).collect(),
        next_steps,
        run_in,
        remedies,
        confirmation: None,
    }
}
