//! The one-line `confirmed_by` and the statement as `explain` shows it.

use serde_json::Value;

use super::eval::{Decision, PolicyKind, PolicyRef, Setting, StatementRef};
use super::request::CtxValue;
use super::statement::{ConditionCheck, Effect};

/// `bucket-policy arn:aws:s3:::b Sid DenyUnEncryptedUploads`, `boundary arn:…:policy/dev-boundary`,
/// `no allow in 3 identity policies`...
pub fn confirmed_by(d: &Decision) -> String {
    match d {
        Decision::ExplicitDeny { by } => statement_label(by),
        Decision::Allow { by } => match by.first() {
            Some(s) => format!("allowed by {}", statement_label(s)),
            None => "allowed".into(),
        },
        Decision::Blocked { setting } => match setting {
            Setting::BlockPublicAcls { account_level: false, acl } => {
                format!("block-public-access BlockPublicAcls (bucket) vs acl {acl}")
            }
            Setting::BlockPublicAcls { account_level: true, acl } => {
                format!("block-public-access BlockPublicAcls (account) vs acl {acl}")
            }
            Setting::BucketOwnerEnforced { acl } => format!("object-ownership BucketOwnerEnforced vs acl {acl}"),
        },
        Decision::ImplicitDeny { kind, policies, cross_account, .. } => {
            let own: Vec<&PolicyRef> = policies.iter().filter(|p| p.kind == *kind).collect();
            let others: Vec<&PolicyRef> = policies.iter().filter(|p| p.kind != *kind).collect();
            let mut line = match (kind, own.as_slice()) {
                (PolicyKind::Identity, _) => {
                    format!("no allow in {}", count(own.len(), "identity policy", "identity policies"))
                }
                (_, [one]) => format!("{} {}", kind.label(), one.id),
                (_, []) => format!("no {}", kind.label()),
                (_, many) => format!("no allow in {} {}s", many.len(), kind.label()),
            };
            for p in others {
                line.push_str(&format!(" nor {} {}", p.kind.label(), p.id));
            }
            if *cross_account {
                line.push_str(" (cross-account)");
            }
            line
        }
        Decision::Undetermined { missing } => {
            let items: Vec<String> = missing.iter().map(|m| format!("{} ({})", m.item, m.reason)).collect();
            format!("cannot confirm: {}", items.join(", "))
        }
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn statement_label(s: &StatementRef) -> String {
    let at = match &s.sid {
        Some(sid) if !sid.is_empty() => format!("Sid {sid}"),
        _ => format!("statement #{}", s.index),
    };
    format!("{} {} {at}", s.policy.kind.label(), s.policy.id)
}

/// The statement, pretty-printed, each condition entry followed by how it came out:
/// `<-- holds` (for a Deny: this is why it fired) or `<-- FAILS` (for an Allow: this is why it did
/// not grant), with the request's value.
pub fn pretty_statement(s: &StatementRef) -> String {
    let mut out = format!("{}\n", statement_label(s));
    let obj = s.statement.as_object();
    let field = |k: &str| obj.and_then(|o| o.get(k));
    out.push_str("{\n");
    for key in ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource"] {
        if let Some(v) = field(key) {
            out.push_str(&format!("  \"{key}\": {},\n", compact(v)));
        }
    }
    if s.conditions.is_empty() {
        if let Some(c) = field("Condition") {
            out.push_str(&format!("  \"Condition\": {}\n", compact(c)));
        }
    } else {
        out.push_str("  \"Condition\": {\n");
        let mut ops: Vec<&str> = s.conditions.iter().map(|c| c.operator.as_str()).collect();
        ops.dedup();
        for op in ops {
            out.push_str(&format!("    \"{op}\": {{\n"));
            for c in s.conditions.iter().filter(|c| c.operator == op) {
                out.push_str(&format!("      \"{}\": {}{}\n", c.key, compact(&c.values), mark(c, s.effect)));
            }
            out.push_str("    }\n");
        }
        out.push_str("  }\n");
    }
    out.push('}');
    out
}

fn mark(c: &ConditionCheck, effect: Effect) -> String {
    let seen = match &c.request_value {
        None => "request has no such key".to_string(),
        Some(v) => format!("request: {}", ctx_text(v)),
    };
    match (c.holds, effect) {
        (Some(true), Effect::Deny) => format!("    <-- holds ({seen})"),
        (Some(false), Effect::Allow) => format!("    <-- FAILS ({seen})"),
        (Some(true), Effect::Allow) => format!("    <-- holds ({seen})"),
        (Some(false), Effect::Deny) => format!("    <-- does not hold ({seen})"),
        (None, _) => format!("    <-- not evaluated ({seen})"),
    }
}

fn ctx_text(v: &CtxValue) -> String {
    match v {
        CtxValue::Bool(b) => b.to_string(),
        CtxValue::Number(n) => n.to_string(),
        CtxValue::Str(s) => format!("\"{s}\""),
        CtxValue::List(l) => format!("{l:?}"),
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::{Policy, Request, Snapshot, evaluate};
    use super::*;

    #[test]
    fn the_deciding_condition_is_marked() {
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyUnEncryptedUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]});
        let snap: Snapshot = serde_json::from_value(serde_json::json!({
            "buckets": {"b": {"owner_account": "111122223333",
                              "policy": {"visible": Policy::new("arn:aws:s3:::b", doc)}}}}))
        .unwrap();
        let req: Request = serde_json::from_value(serde_json::json!({
            "action": "s3:PutObject", "resource": "arn:aws:s3:::b/k", "bucket": "b",
            "caller": {"kind": "assumed_role", "account": "111122223333", "arn": "arn:aws:iam::111122223333:role/app"}}))
        .unwrap();
        let d = evaluate(&req, &snap);
        assert_eq!(confirmed_by(&d), "bucket-policy arn:aws:s3:::b Sid DenyUnEncryptedUploads");
        let shown = pretty_statement(d.statement().unwrap());
        assert!(
            shown.contains("\"s3:x-amz-server-side-encryption\": \"aws:kms\"    <-- holds (request has no such key)"),
            "{shown}"
        );
        assert!(shown.contains("\"Effect\": \"Deny\","), "{shown}");
    }
}
