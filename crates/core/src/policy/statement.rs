//! One statement against one request: does it apply, and if not, why not.
//!
//! iam-rs decides `Action`/`NotAction`, `Resource`/`NotResource` (with policy variables) and each
//! condition entry. Principals are matched here because iam-rs 0.8 compares them as plain strings (a
//! role ARN does not match its session, an account id does not match the account's roles), and each
//! statement is parsed on its own so that one construct iam-rs cannot read (a `Principal` with two
//! types, a `ForAnyValue:…IfExists` operator) spoils only that statement, not the whole policy.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::request::{Caller, CallerKind, CtxValue, Request};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// How a resource policy's `Principal` reached the caller; it decides what an `Allow` is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// The account (id or `:root`): a delegation that the account's identity policies must still allow.
    Account,
    /// The role ARN behind a session: limited by the boundary and the session policy.
    Role,
    /// The user ARN, the session ARN, or `*`: granted directly.
    Direct,
}

/// One condition entry (operator × key) and how it came out for the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConditionCheck {
    pub operator: String,
    pub key: String,
    /// The policy's values.
    pub values: Value,
    /// What the request had for the key (`None`: absent).
    pub request_value: Option<CtxValue>,
    /// `None`: the evaluator could not decide (unsupported operator or value).
    pub holds: Option<bool>,
}

/// Why a statement did not apply, or that it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Applies {
    Yes {
        grantee: Option<Grantee>,
    },
    NoPrincipal,
    NoAction,
    NoResource,
    /// Principal, action and resource matched; at least one condition is false.
    NoCondition,
    /// Could not be decided (the reason is kept).
    Unknown(String),
}

/// A statement as found in a policy, with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Option<Effect>,
    pub raw: Value,
}

/// A policy's statements; a document that is not a policy at all yields one `Unknown` statement.
pub(crate) fn statements(document: &Value) -> Vec<Statement> {
    let doc = match document {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    let list = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => vec![Value::Null],
    };
    list.into_iter()
        .enumerate()
        .map(|(index, raw)| Statement {
            index,
            sid: raw.get("Sid").and_then(Value::as_str).map(str::to_string),
            effect: match raw.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Some(Effect::Allow),
                Some("Deny") => Some(Effect::Deny),
                _ => None,
            },
            raw,
        })
        .collect()
}

impl Statement {
    /// Whether this statement applies to `req`. `resource_policy`: the statement must name the
    /// caller in `Principal`/`NotPrincipal` (bucket, key and endpoint policies).
    pub fn applies(&self, req: &Request, resource_policy: bool) -> (Applies, Vec<ConditionCheck>) {
        let Some(obj) = self.raw.as_object() else {
            return (Applies::Unknown("statement is not an object".into()), vec![]);
        };
        if self.effect.is_none() {
            return (Applies::Unknown("no valid Effect".into()), vec![]);
        }
        let mut grantee = None;
        if resource_policy {
            match (obj.get("Principal"), obj.get("NotPrincipal")) {
                (Some(p), None) => match principal_grant(p, &req.caller) {
                    Some(g) => grantee = Some(g),
                    None => return (Applies::NoPrincipal, vec![]),
                },
                (None, Some(np)) => {
                    if not_principal_excludes(np, &req.caller) {
                        return (Applies::NoPrincipal, vec![]);
                    }
                    grantee = Some(Grantee::Direct);
                }
                _ => return (Applies::Unknown("needs exactly one of Principal / NotPrincipal".into()), vec![]),
            }
        }
        // Action and resource, by iam-rs on the statement without its principal and conditions.
        let mut bare = Map::new();
        bare.insert("Effect".into(), Value::String("Allow".into()));
        for k in ["Action", "NotAction", "Resource", "NotResource"] {
            if let Some(v) = obj.get(k) {
                bare.insert(k.into(), v.clone());
            }
        }
        match decide(Value::Object(bare), req) {
            Ok(Target::Matches) => {}
            Ok(Target::NoAction) => return (Applies::NoAction, vec![]),
            Ok(Target::NoResource) => return (Applies::NoResource, vec![]),
            Err(e) => return (Applies::Unknown(e), vec![]),
        }
        // Each condition entry alone; the statement's condition is their conjunction.
        let checks = condition_checks(obj.get("Condition"), req);
        let verdict = if checks.iter().any(|c| c.holds == Some(false)) {
            Applies::NoCondition
        } else if let Some(c) = checks.iter().find(|c| c.holds.is_none()) {
            Applies::Unknown(format!("cannot evaluate {} on {}", c.operator, c.key))
        } else {
            Applies::Yes { grantee }
        };
        (verdict, checks)
    }
}

enum Target {
    Matches,
    NoAction,
    NoResource,
}

/// Runs one single-statement policy through iam-rs.
fn decide(statement: Value, req: &Request) -> Result<Target, String> {
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [statement]});
    let policy: iam_rs::IAMPolicy = serde_json::from_value(policy).map_err(|e| format!("unsupported: {e}"))?;
    let resource = iam_rs::Arn::parse(&req.resource).map_err(|e| format!("resource {}: {e}", req.resource))?;
    // The principal was matched above; iam-rs only needs a well-formed one.
    let principal = iam_rs::Principal::Aws(iam_rs::PrincipalId::String("arn:aws:iam::000000000000:root".into()));
    let request = iam_rs::IAMRequest::new_with_context(principal, req.action.clone(), resource, context_of(req));
    let options = iam_rs::EvaluationOptions { collect_match_details: true, ..Default::default() };
    let result = iam_rs::PolicyEvaluator::with_policies(vec![policy])
        .with_options(options)
        .evaluate(&request)
        .map_err(|e| e.to_string())?;
    Ok(match result.decision {
        iam_rs::Decision::Allow | iam_rs::Decision::Deny => Target::Matches,
        iam_rs::Decision::NotApplicable => {
            let reason = result.statement_details.first().map(|d| d.reason.as_str()).unwrap_or("");
            match reason {
                r if r.starts_with("Action") => Target::NoAction,
                r if r.starts_with("Resource") => Target::NoResource,
                other => return Err(format!("statement not evaluated: {other}")),
            }
        }
    })
}

fn condition_checks(condition: Option<&Value>, req: &Request) -> Vec<ConditionCheck> {
    let Some(Value::Object(ops)) = condition else {
        return vec![];
    };
    let mut out = vec![];
    for (op, entries) in ops {
        let Some(entries) = entries.as_object() else {
            out.push(ConditionCheck {
                operator: op.clone(),
                key: String::new(),
                values: entries.clone(),
                request_value: None,
                holds: None,
            });
            continue;
        };
        for (key, values) in entries {
            out.push(ConditionCheck {
                operator: op.clone(),
                key: key.clone(),
                values: values.clone(),
                request_value: req.get(key).cloned(),
                holds: condition_holds(op, key, values, req),
            });
        }
    }
    out
}

/// One condition entry, decided by iam-rs (with two operand rewrites it cannot read itself).
fn condition_holds(op: &str, key: &str, values: &Value, req: &Request) -> Option<bool> {
    // iam-rs has no `ForAnyValue:…IfExists` operators: with the key present they are the plain set
    // operator; with it absent, the condition is true (the IfExists rule).
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) if op.starts_with("For") => (base, true),
        _ => (op, false),
    };
    if if_exists && req.get(key).is_none() {
        return Some(true);
    }
    // iam-rs reads arrays of strings only; numbers and booleans in a list are the same values written as text.
    let values = match values {
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| match v {
                    Value::Number(n) => Value::String(n.to_string()),
                    Value::Bool(b) => Value::String(b.to_string()),
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    };
    let mut cond = Map::new();
    cond.insert(op.to_string(), serde_json::json!({ key: values }));
    let statement = serde_json::json!({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": cond});
    let policy: iam_rs::IAMPolicy =
        serde_json::from_value(serde_json::json!({"Version": "2012-10-17", "Statement": [statement]})).ok()?;
    let request = iam_rs::IAMRequest::new_with_context(
        iam_rs::Principal::Aws(iam_rs::PrincipalId::String("arn:aws:iam::000000000000:root".into())),
        req.action.clone(),
        iam_rs::Arn::parse("arn:aws:s3:::x").ok()?,
        context_of(req),
    );
    match iam_rs::evaluate_policy(&policy, &request).ok()? {
        iam_rs::Decision::Allow => Some(true),
        _ => Some(false),
    }
}

fn context_of(req: &Request) -> iam_rs::Context {
    let mut ctx = iam_rs::Context::new();
    for (k, v) in &req.context {
        let v = match v {
            CtxValue::Bool(b) => iam_rs::ContextValue::Boolean(*b),
            CtxValue::Number(n) => iam_rs::ContextValue::Number(*n),
            CtxValue::Str(s) => iam_rs::ContextValue::String(s.clone()),
            CtxValue::List(l) => iam_rs::ContextValue::StringList(l.clone()),
        };
        ctx.insert(k.clone(), v);
    }
    ctx
}

/// The principal values of a `Principal` element, by type (`"*"` is `AWS: *`).
fn principal_values(p: &Value) -> Vec<(String, String)> {
    let as_list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => vec![],
        }
    };
    match p {
        Value::String(s) if s == "*" => vec![("AWS".into(), "*".into())],
        Value::Object(m) => m.iter().flat_map(|(t, v)| as_list(v).into_iter().map(move |id| (t.clone(), id))).collect(),
        _ => vec![],
    }
}

/// The strongest way a `Principal` element names the caller, if it does.
fn principal_grant(p: &Value, caller: &Caller) -> Option<Grantee> {
    principal_values(p).iter().filter_map(|(t, id)| names(t, id, caller)).max()
}

/// Whether one principal value names the caller, and how.
fn names(kind: &str, id: &str, caller: &Caller) -> Option<Grantee> {
    if kind == "AWS" && id == "*" {
        return Some(Grantee::Direct);
    }
    if caller.kind == CallerKind::Anonymous {
        return None;
    }
    match kind {
        "AWS" => {
            let account = caller.account.as_deref()?;
            if id == account || id.strip_suffix(":root").is_some_and(|a| a.ends_with(&format!(":{account}"))) {
                // The root user is the account itself: naming the account grants it directly.
                return Some(if caller.kind == CallerKind::Root { Grantee::Direct } else { Grantee::Account });
            }
            if caller.session_arn.as_deref() == Some(id) {
                return Some(Grantee::Direct);
            }
            if caller.arn.as_deref() == Some(id) {
                return Some(if caller.kind == CallerKind::AssumedRole { Grantee::Role } else { Grantee::Direct });
            }
            // The IAM user behind a federated session: limited like a role ARN (evaluation-logic page).
            if caller.parent_user.as_deref() == Some(id) {
                return Some(Grantee::Role);
            }
            None
        }
        "Service" => (caller.service.as_deref() == Some(id)).then_some(Grantee::Direct),
        _ => None,
    }
}

/// `NotPrincipal` spares the caller only when it lists every identity AWS checks for it: the account,
/// then the role or user, then the session (see the `NotPrincipal` page: for a role session, list
/// the session ARN, the role ARN and the account).
fn not_principal_excludes(np: &Value, caller: &Caller) -> bool {
    let listed = principal_values(np);
    if listed.iter().any(|(t, id)| t == "AWS" && id == "*") {
        return true;
    }
    let has = |id: &str| listed.iter().any(|(t, v)| t == "AWS" && v == id);
    let account_listed = caller
        .account
        .as_deref()
        .is_some_and(|a| listed.iter().any(|(t, v)| t == "AWS" && (v == a || *v == format!("arn:aws:iam::{a}:root"))));
    match caller.kind {
        CallerKind::Anonymous | CallerKind::Unknown => false,
        CallerKind::AwsService => {
            caller.service.as_deref().is_some_and(|s| listed.iter().any(|(t, v)| t == "Service" && v == s))
        }
        CallerKind::Root => account_listed,
        CallerKind::IamUser => account_listed && caller.arn.as_deref().is_some_and(has),
        CallerKind::AssumedRole => {
            account_listed && caller.session_arn.as_deref().is_some_and(has) && caller.arn.as_deref().is_some_and(has)
        }
        CallerKind::FederatedUser => account_listed && caller.session_arn.as_deref().is_some_and(has),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_session() -> Caller {
        Caller {
            kind: CallerKind::AssumedRole,
            account: Some("111122223333".into()),
            arn: Some("arn:aws:iam::111122223333:role/app".into()),
            session_arn: Some("arn:aws:sts::111122223333:assumed-role/app/s1".into()),
            ..Caller::default()
        }
    }

    #[test]
    fn principals_name_the_caller_by_account_role_or_session() {
        let c = role_session();
        let g = |p: Value| principal_grant(&p, &c);
        assert_eq!(g(serde_json::json!("*")), Some(Grantee::Direct));
        assert_eq!(g(serde_json::json!({"AWS": "111122223333"})), Some(Grantee::Account));
        assert_eq!(g(serde_json::json!({"AWS": "arn:aws:iam::111122223333:root"})), Some(Grantee::Account));
        assert_eq!(g(serde_json::json!({"AWS": ["arn:aws:iam::111122223333:role/app"]})), Some(Grantee::Role));
        assert_eq!(
            g(
                serde_json::json!({"AWS": "arn:aws:sts::111122223333:assumed-role/app/s1", "Service": "x.amazonaws.com"})
            ),
            Some(Grantee::Direct)
        );
        assert_eq!(g(serde_json::json!({"AWS": "arn:aws:iam::444455556666:root"})), None);
    }

    #[test]
    fn a_policy_without_version_or_with_one_statement_object_is_read() {
        let s = statements(&serde_json::json!({"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}}));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].effect, Some(Effect::Deny));
        let req = Request { action: "s3:PutObject".into(), resource: "arn:aws:s3:::b/k".into(), ..Request::default() };
        assert_eq!(s[0].applies(&req, false).0, Applies::Yes { grantee: None });
    }
}
