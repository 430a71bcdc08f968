//! The explain view: per group, what was denied, the causes with their evidence, the commands to
//! confirm them (with the account each must run in), and the remedies: where the fix goes, with
//! a draft where one can change the decision.
//!
//! Text from logs is passed through unescaped (the report layer escapes it), but long values are
//! clipped on char boundaries.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::event::Event;

use super::confirm::{Confirmation, Verdict, read_at};
use super::steps::principal_arn;
use super::text::{clip, fmt_time};
use super::{Diagnosis, percent};

/// The readable explain section for one group.
pub fn explain_group(targets: &[&Event], diagnosis: &Diagnosis) -> String {
    let mut out = String::new();
    let Some(first) = targets.first() else {
        return out;
    };
    let principal = principal_arn(first).unwrap_or_else(|| first.principal.clone());
    let bucket = first.bucket.as_deref().unwrap_or("<bucket>");
    let _ = writeln!(out, "## {} → s3://{}/{}", clip(&principal, 200), clip(bucket, 100), clip(&first.prefix, 200));

    // What was denied.
    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    for ev in targets {
        *ops.entry(ev.event_name.as_str()).or_default() += 1;
    }
    let ops = ops.iter().map(|(op, n)| format!("{} ×{n}", clip(op, 60))).collect::<Vec<_>>().join(", ");
    let mut keys: Vec<&str> = targets.iter().filter_map(|e| e.key.as_deref()).collect();
    keys.sort_unstable();
    keys.dedup();
    let times = targets.iter().filter_map(|e| e.event_time_ms);
    let (from, to) = (times.clone().min(), times.max());
    let when = if from == to { fmt_time(from) } else { format!("{} … {}", fmt_time(from), fmt_time(to)) };
    let _ = writeln!(
        out,
        "Denied: {} event{} ({ops}) on {} key{}, {when}",
        targets.len(),
        if targets.len() == 1 { "" } else { "s" },
        keys.len(),
        if keys.len() == 1 { "" } else { "s" },
    );
    let sample = targets.iter().find(|e| e.key.is_some()).unwrap_or(first);
    let _ = writeln!(
        out,
        "Sample: s3://{}/{} (eventID {}) {}: {}",
        clip(bucket, 100),
        clip(sample.key.as_deref().unwrap_or(""), 200),
        clip(&sample.event_id, 80),
        clip(sample.error_code.as_deref().unwrap_or("-"), 60),
        clip(sample.error_message.as_deref().unwrap_or("(no errorMessage)"), 300)
    );
    let owner = targets.iter().find_map(|e| e.bucket_owner.as_deref());
    let _ = writeln!(
        out,
        "Caller: {} in account {}{}",
        clip(&first.principal_type, 40),
        clip(first.account.as_deref().unwrap_or("?"), 40),
        owner.map(|o| format!("; bucket owner {}", clip(o, 40))).unwrap_or_default()
    );
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
