//! The explain view: per group, what was denied, the causes with their evidence, the commands to
//! confirm them (with the account each must run in), and the remedies: where the fix goes, with
//! a draft where one can change the decision.
//!
//! Text from logs is passed through unescaped (the report layer escapes it), but long values are
//! clipped on char boundaries.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::event::Event;
use crate::tally::GroupTally;

use super::confirm::{Confirmation, Verdict, read_at};
use super::steps::principal_arn;
use super::text::{clip, fmt_time};
use super::{Diagnosis, percent};

/// What a group's first lines say: read from every denial of the group, or from its tally when
/// the group is too large to hold (an outage's).
pub struct Denied<'a> {
    /// Names the caller, its type and account, the bucket and prefix.
    pub first: &'a Event,
    pub count: u64,
    /// Each operation, with its count when every denial was read.
    pub operations: Vec<(&'a str, Option<u64>)>,
    /// Distinct keys, and whether the number is an estimate.
    pub keys: (u64, bool),
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub sample: &'a Event,
    pub owner: Option<&'a str>,
    /// The diagnosis read a sample of the group, not every denial: its shares are estimates.
    pub sampled: bool,
}

impl<'a> Denied<'a> {
    /// From every denial of the group, in scan order.
    pub fn of_events(targets: &[&'a Event]) -> Option<Denied<'a>> {
        let first = *targets.first()?;
        let mut ops: BTreeMap<&str, u64> = BTreeMap::new();
        for ev in targets {
            *ops.entry(ev.event_name.as_str()).or_default() += 1;
        }
        let mut keys: Vec<&str> = targets.iter().filter_map(|e| e.key.as_deref()).collect();
        keys.sort_unstable();
        keys.dedup();
        let times = targets.iter().filter_map(|e| e.event_time_ms);
        Some(Denied {
            first,
            count: targets.len() as u64,
            operations: ops.into_iter().map(|(op, n)| (op, Some(n))).collect(),
            keys: (keys.len() as u64, false),
            from: times.clone().min(),
            to: times.max(),
            sample: targets.iter().find(|e| e.key.is_some()).copied().unwrap_or(first),
            owner: targets.iter().find_map(|e| e.bucket_owner.as_deref()),
            sampled: false,
        })
    }

    /// From a group's tally: its counts, and its exemplars (in scan order) for the rest.
    pub fn of_tally(g: &'a GroupTally, exemplars: &[&'a Event]) -> Option<Denied<'a>> {
        let first = *exemplars.first()?;
        Some(Denied {
            first,
            count: g.denied,
            operations: g.operations.iter().map(|op| (op.as_str(), None)).collect(),
            keys: g.keys.count(),
            from: g.first_seen,
            to: g.last_seen,
            sample: exemplars.iter().find(|e| e.key.is_some()).copied().unwrap_or(first),
            owner: Some(g.bucket_owner()).filter(|o| !o.is_empty()),
            sampled: !g.diagnosis_complete(),
        })
    }
}

/// The readable explain section for one group, from every denial of it.
pub fn explain_group(targets: &[&Event], diagnosis: &Diagnosis) -> String {
    Denied::of_events(targets).map_or_else(String::new, |d| explain_denied(&d, diagnosis))
}

/// The readable explain section for one group.
pub fn explain_denied(denied: &Denied<'_>, diagnosis: &Diagnosis) -> String {
    let mut out = String::new();
    let first = denied.first;
    let principal = principal_arn(first).unwrap_or_else(|| first.principal.clone());
    let bucket = first.bucket.as_deref().unwrap_or("<bucket>");
    let _ = writeln!(out, "## {} → s3://{}/{}", clip(&principal, 200), clip(bucket, 100), clip(&first.prefix, 200));

    // What was denied.
    let ops = denied
        .operations
        .iter()
        .map(|(op, n)| match n {
            Some(n) => format!("{} ×{n}", clip(op, 60)),
            None => clip(op, 60).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (keys, estimated) = denied.keys;
    let (from, to) = (denied.from, denied.to);
    let when = if from == to { fmt_time(from) } else { format!("{} … {}", fmt_time(from), fmt_time(to)) };
    let _ = writeln!(
        out,
        "Denied: {} event{} ({ops}) on {}{keys} key{}, {when}",
        denied.count,
        if denied.count == 1 { "" } else { "s" },
        if estimated { "~" } else { "" },
        if keys == 1 { "" } else { "s" },
    );
    let sample = denied.sample;
    let _ = writeln!(
        out,
        "Sample: s3://{}/{} (eventID {}) {}: {}",
        clip(bucket, 100),
        clip(sample.key.as_deref().unwrap_or(""), 200),
        clip(&sample.event_id, 80),
        clip(sample.error_code.as_deref().unwrap_or("-"), 60),
        clip(sample.error_message.as_deref().unwrap_or("(no errorMessage)"), 300)
    );
    let _ = writeln!(
        out,
        "Caller: {} in account {}{}",
        clip(&first.principal_type, 40),
        clip(first.account.as_deref().unwrap_or("?"), 40),
        denied.owner.map(|o| format!("; bucket owner {}", clip(o, 40))).unwrap_or_default()
    );
    if denied.sampled {
        let _ = writeln!(
            out,
            "Read from a sample: the group is too large to hold whole here, so the shares below are estimates \
             (as in the scan's report); narrow it (--principal, --bucket, --prefix, --since) to read every denial."
        );
    }
    if !diagnosis.facts.is_empty() {
        let _ = writeln!(out, "Facts: {}", diagnosis.facts.join(", "));
    }

    // Causes with evidence.
    out.push('\n');
    if diagnosis.causes.is_empty() {
        out.push_str("Likely causes: none found\n");
    } else {
        out.push_str("Likely causes (strongest first):\n");
        for (i, c) in diagnosis.causes.iter().enumerate() {
            let _ =
                writeln!(out, "  {}. {} — {} of events, {} confidence", i + 1, c.tag, percent(c.share), c.confidence);
            let _ = writeln!(out, "     {}", c.evidence);
        }
    }

    if let Some(c) = &diagnosis.confirmation {
        live_section(&mut out, c);
    }

    if !diagnosis.next_steps.is_empty() {
        out.push_str("\nConfirm with:\n");
        for (i, cmd) in diagnosis.next_steps.iter().enumerate() {
            let _ = writeln!(out, "  $ {cmd}");
            if let Some(run_in) = diagnosis.run_in.get(i) {
                let _ = writeln!(out, "      (run in {run_in})");
            }
        }
    }

    for r in &diagnosis.remedies {
        let account = r.account.as_deref().map(|a| format!(", account {a}")).unwrap_or_default();
        let _ = writeln!(out, "\nRemedy ({}{account}): {}", r.place, r.title);
        for line in &r.lines {
            let _ = writeln!(out, "  {line}");
        }
        if let Some(draft) = &r.draft {
            for line in draft.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

/// What the configuration read said: the verdict, and the deciding statement with the
/// condition that decided marked.
fn live_section(out: &mut String, c: &Confirmation) {
    use crate::policy::{Decision, pretty_statement};
    let verdict = match c.verdict {
        Verdict::Confirmed => "confirmed",
        Verdict::Refuted => "refuted (the configuration allows these requests now)",
        Verdict::Undetermined => "cannot confirm",
    };
    let _ = writeln!(out, "\nAgainst the configuration read {}: {verdict}", read_at(c));
    let _ = writeln!(out, "  {}", c.line);
    if c.via_kms {
        out.push_str("  (decided by the kms:GenerateDataKey request S3 makes for the upload)\n");
    }
    let shown = match &c.decision {
        Decision::ExplicitDeny { by } => Some(("Deciding statement", by)),
        Decision::ImplicitDeny { nearest: Some(s), .. } => Some(("Nearest Allow (it did not apply)", s)),
        _ => None,
    };
    if let Some((what, s)) = shown {
        let _ = writeln!(out, "  {what}:");
        for line in pretty_statement(s).lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    if c.sso_reserved {
        out.push_str(
            "  The caller is an AWSReservedSSO_* role: its policies come from an IAM Identity Center permission set.\n",
        );
    }
}

/// The least-privilege Allow the caller's side needs (identity policy, permission set,
/// boundary or session policy) when the diagnosis puts the fix there, else `None`: never for an
/// explicit deny, a key-policy denial, a request change or a probe.
pub fn corrective_policy(_targets: &[&Event], diagnosis: &Diagnosis) -> Option<String> {
    use super::RemedyPlace::{Boundary, IdentityPolicy, PermissionSet, SessionPolicy};
    diagnosis
        .remedies
        .iter()
        .find(|r| r.grant && matches!(r.place, IdentityPolicy | PermissionSet | Boundary | SessionPolicy))
        .and_then(|r| r.draft.clone())
}
