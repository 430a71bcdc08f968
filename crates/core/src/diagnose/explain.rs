//! The explain view: per group, what was denied, the causes with their evidence, the commands to
//! confirm them and, for identity, boundary or session causes, a least-privilege corrective policy
//! (`s3:PutObject` on `arn:aws:s3:::bucket/prefix*`, plus `kms:GenerateDataKey` on the key when KMS
//! is involved; never a wildcard action).
//!
//! Text from logs is passed through unescaped (the report layer escapes it), but long values are
//! clipped on char boundaries.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::event::Event;

use super::message::{Message, PolicyKind, starts_with_ci};
use super::steps::{is_user_arn, principal_arn};
use super::text::{clip, fmt_time, iam_literal, partition};
use super::{Diagnosis, percent};
use crate::event::is_account_id;

/// Tags a corrective identity-side policy fixes (or, for explicit denies, needs once the deny is gone).
const IDENTITY_SIDE: &[&str] =
    &["identity-no-allow", "identity-explicit-deny", "permissions-boundary", "session-policy"];

/// Extra S3 actions a message may name as the one missing (sent ACL, tags, Object Lock headers).
const EXTRA_S3_ACTIONS: &[&str] =
    &["s3:PutObjectAcl", "s3:PutObjectTagging", "s3:PutObjectRetention", "s3:PutObjectLegalHold"];

const MULTIPART: &[&str] = &["CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload"];

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

    if !diagnosis.next_steps.is_empty() {
        out.push_str("\nConfirm with:\n");
        for cmd in &diagnosis.next_steps {
            let _ = writeln!(out, "  $ {cmd}");
        }
    }

    if let Some(policy) = corrective_policy(targets, diagnosis) {
        let has = |tag: &str| diagnosis.cause(tag).is_some();
        let attach = if is_user_arn(&principal) { "the user" } else { "the role" };
        let _ = writeln!(out, "\nCorrective policy (least privilege, for {attach} {}):", clip(&principal, 200));
        if has("identity-explicit-deny") {
            out.push_str(
                "  An explicit Deny overrides any Allow: first remove or narrow the Deny statement that matches.\n",
            );
        }
        if has("permissions-boundary") {
            out.push_str("  The permissions boundary must allow these actions too, as well as the identity policy.\n");
        }
        if has("session-policy") {
            out.push_str(
                "  Pass this statement in the session policy (AssumeRole --policy), or drop the session policy.\n",
            );
        }
        if has("kms-denied") {
            out.push_str(
                "  If the key policy is what denies, it must also allow this principal (kms:GenerateDataKey).\n",
            );
        }
        for line in policy.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// The least-privilege corrective policy (pretty JSON) when an identity, boundary or session
/// cause applies (or a KMS denial the caller's own policy can fix), else `None`.
pub fn corrective_policy(targets: &[&Event], diagnosis: &Diagnosis) -> Option<String> {
    let bucket = targets.iter().find_map(|e| e.bucket.as_deref().filter(|b| !b.is_empty()))?;
    let first = targets.first()?;
    let identity_side = diagnosis.causes.iter().any(|c| IDENTITY_SIDE.contains(&c.tag));
    let kms_cause = diagnosis.cause("kms-denied").is_some();
    // A KMS denial is the caller's to fix unless every message blames the key policy or an
    // organization/endpoint policy.
    let kms_fixable_here = kms_cause
        && !targets.iter().all(|e| {
            let m = Message::parse(e.error_message.as_deref());
            m.is_kms()
                && m.reason().is_some_and(|r| {
                    !matches!(r.kind, PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session)
                })
        });
    // An AWS managed key cannot be shared across accounts: no identity policy fixes that.
    let kms_fixable_here = kms_fixable_here && diagnosis.cause("kms-aws-managed-cross-account").is_none();
    if !identity_side && !kms_fixable_here {
        return None;
    }

    let arn = principal_arn(first);
    let p = arn.as_deref().and_then(partition).unwrap_or("aws");
    let prefix = targets.iter().map(|e| e.prefix.as_str()).next().unwrap_or("");
    let resource = format!("arn:{p}:s3:::{}/{}*", iam_literal(bucket), iam_literal(prefix));

    let mut s3_actions = vec!["s3:PutObject"];
    for ev in targets {
        let m = Message::parse(ev.error_message.as_deref());
        let about_identity = m
            .reason()
            .is_some_and(|r| matches!(r.kind, PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session));
        if let Some(action) = m.s3_action().filter(|_| about_identity)
            && let Some(known) = EXTRA_S3_ACTIONS.iter().find(|a| a.eq_ignore_ascii_case(action))
            && !s3_actions.contains(known)
        {
            s3_actions.push(known);
        }
    }
    let mut statements = vec![Statement::allow("PutObjectUnderPrefix", s3_actions, json!(resource), None)];

    let kms_involved = kms_cause
        || targets.iter().any(|e| {
            e.sse.as_deref().is_some_and(|s| starts_with_ci(s, "aws:kms"))
                || Message::parse(e.error_message.as_deref()).is_kms()
        });
    if kms_involved {
        statements.extend(kms_statements(targets, diagnosis, p));
    }

    let policy = PolicyDocument { version: "2012-10-17", statement: statements };
    serde_json::to_string_pretty(&policy).ok()
}

/// An IAM policy document; fields serialize in the conventional order.
#[derive(Serialize)]
struct PolicyDocument {
    #[serde(rename = "Version")]
    version: &'static str,
    #[serde(rename = "Statement")]
    statement: Vec<Statement>,
}

#[derive(Serialize)]
struct Statement {
    #[serde(rename = "Sid")]
    sid: String,
    #[serde(rename = "Effect")]
    effect: &'static str,
    #[serde(rename = "Action")]
    action: Vec<&'static str>,
    #[serde(rename = "Resource")]
    resource: Value,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    condition: Option<Value>,
}

impl Statement {
    fn allow(sid: impl Into<String>, action: Vec<&'static str>, resource: Value, condition: Option<Value>) -> Self {
        Statement { sid: sid.into(), effect: "Allow", action, resource, condition }
    }
}

/// A KMS key as far as the logs name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeyRef {
    Arn(String),
    /// (region, account, alias name)
    Alias(String, String, String),
}

fn kms_statements(targets: &[&Event], diagnosis: &Diagnosis, p: &str) -> Vec<Statement> {
    let region = targets.iter().find_map(|e| e.aws_region.as_deref()).filter(|r| is_region(r));
    let account = targets.iter().find_map(|e| e.account.as_deref()).filter(|a| is_account_id(a));

    let mut names: Vec<&str> = Vec::new();
    for ev in targets {
        let m = Message::parse(ev.error_message.as_deref());
        if m.is_kms() {
            names.extend(m.resource);
        }
        names.extend(ev.sse_kms_key_id.as_deref());
    }
    // Keys that correlation found (they are named in the kms-denied evidence and commands).
    let evidence = diagnosis.cause("kms-denied").map(|c| c.evidence.as_str()).unwrap_or("");
    let named = evidence.split_whitespace().chain(diagnosis.next_steps.iter().flat_map(|s| s.split_whitespace()));
    names.extend(named.filter(|t| t.starts_with("arn:") && t.contains(":kms:")));

    let mut keys: Vec<KeyRef> = names.into_iter().filter_map(|n| key_ref(n, p, region, account)).collect();
    keys.sort();
    keys.dedup();

    let mut actions = vec!["kms:GenerateDataKey"];
    let decrypt = targets.iter().any(|e| {
        MULTIPART.contains(&e.event_name.as_str())
            || Message::parse(e.error_message.as_deref()).action == Some("kms:Decrypt")
    });
    if decrypt {
        actions.push("kms:Decrypt");
    }

    let mut out = Vec::new();
    let arns: Vec<&str> = keys
        .iter()
        .filter_map(|k| match k {
            KeyRef::Arn(a) => Some(a.as_str()),
            KeyRef::Alias(..) => None,
        })
        .collect();
    if !arns.is_empty() {
        let resource = if arns.len() == 1 { json!(arns[0]) } else { json!(arns) };
        out.push(Statement::allow("UseKeyForUploads", actions.clone(), resource, None));
    }
    for (i, key) in keys.iter().enumerate() {
        if let KeyRef::Alias(r, a, alias) = key {
            out.push(Statement::allow(
                format!("UseAliasedKeyForUploads{}", i + 1),
                actions.clone(),
                json!(format!("arn:{p}:kms:{r}:{a}:key/*")),
                Some(json!({ "ForAnyValue:StringEquals": { "kms:ResourceAliases": alias } })),
            ));
        }
    }
    if out.is_empty() {
        // The key is not in the logs: allow it only when S3 uses it on the caller's behalf.
        let (condition, via) = match region {
            Some(r) => ("StringEquals", format!("s3.{r}.amazonaws.com")),
            None => ("StringLike", "s3.*.amazonaws.com".to_string()),
        };
        out.push(Statement::allow(
            "UseBucketKeyViaS3",
            actions,
            json!(format!("arn:{p}:kms:{}:{}:key/*", region.unwrap_or("*"), account.unwrap_or("*"))),
            Some(json!({ condition: { "kms:ViaService": via } })),
        ));
    }
    out
}

fn is_region(r: &str) -> bool {
    !r.is_empty() && r.len() <= 32 && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_key_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 80 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_alias_name(alias: &str) -> bool {
    alias.len() > "alias/".len()
        && alias.len() <= 256
        && alias.starts_with("alias/")
        && alias.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
}

/// A key spelling from a log turned into something a policy can name, or `None` if it is not a
/// well-formed key ARN, alias or key id (log text never reaches the policy unchecked).
fn key_ref(name: &str, p: &str, region: Option<&str>, account: Option<&str>) -> Option<KeyRef> {
    let name = name.trim_end_matches(['.', ',', ';', ')']);
    if name.starts_with("arn:") {
        let parts: Vec<&str> = name.splitn(6, ':').collect();
        let [_, kp, "kms", r, a, resource] = parts.as_slice() else { return None };
        if partition(name) != Some(kp) || !is_region(r) || !is_account_id(a) {
            return None;
        }
        if let Some(id) = resource.strip_prefix("key/") {
            return is_key_id(id).then(|| KeyRef::Arn(name.to_string()));
        }
        return is_alias_name(resource).then(|| KeyRef::Alias(r.to_string(), a.to_string(), resource.to_string()));
    }
    if name.starts_with("alias/") {
        return is_alias_name(name).then(|| {
            KeyRef::Alias(region.unwrap_or("*").to_string(), account.unwrap_or("*").to_string(), name.to_string())
        });
    }
    // A bare key id resolves in the caller's account and the request's region.
    let (Some(r), Some(a)) = (region, account) else { return None };
    is_key_id(name).then(|| KeyRef::Arn(format!("arn:{p}:kms:{r}:{a}:key/{name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs_are_validated() {
        let r = Some("us-east-1");
        let a = Some("111122223333");
        assert_eq!(
            key_ref("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab", "aws", r, a),
            Some(KeyRef::Arn("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab".into()))
        );
        assert_eq!(
            key_ref("1234abcd", "aws", r, a),
            Some(KeyRef::Arn("arn:aws:kms:us-east-1:111122223333:key/1234abcd".into()))
        );
        assert_eq!(
            key_ref("alias/app", "aws", r, a),
            Some(KeyRef::Alias("us-east-1".into(), "111122223333".into(), "alias/app".into()))
        );
        assert_eq!(key_ref("arn:aws:kms:us-east-1:111122223333:key/*", "aws", r, a), None);
        assert_eq!(key_ref("arn:aws:kms:us-east-1:1:key/x", "aws", r, a), None);
        assert_eq!(key_ref("*", "aws", r, a), None);
        assert_eq!(key_ref("1234abcd", "aws", None, a), None);
    }
}
