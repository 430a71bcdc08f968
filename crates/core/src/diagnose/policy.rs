//! Reading the policy documents a trail holds (PutBucketPolicy, Put*Policy, PutKeyPolicy, the
//! session policy of AssumeRole…) and matching their statements against one denied request, so a
//! condition cause can be confirmed by a statement (quoted by Sid) or ruled out by its absence.
//!
//! Evaluation is three-valued: a condition key the record cannot tell (a tag, a policy variable,
//! an operator not modelled here) makes a statement `Unknown`, never a match.

use std::net::IpAddr;

use serde_json::Value;

use crate::event::Event;

use super::message::starts_with_ci;

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Unknown,
        }
    }

    fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Unknown,
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Unknown => Tri::Unknown,
        }
    }

    fn of(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }
}

/// Which cause a condition key speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum KeyClass {
    Sse,
    SseC,
    Transport,
    Network,
    Mfa,
    Acl,
    Other,
}

pub(crate) fn key_class(key: &str) -> KeyClass {
    let k = key.to_ascii_lowercase();
    if k == "s3:x-amz-server-side-encryption-customer-algorithm" {
        KeyClass::SseC
    } else if k.starts_with("s3:x-amz-server-side-encryption") {
        KeyClass::Sse
    } else if k == "aws:securetransport" || k == "s3:tlsversion" {
        KeyClass::Transport
    } else if matches!(k.as_str(), "aws:sourceip" | "aws:sourcevpce" | "aws:sourcevpc" | "aws:vpcsourceip") {
        KeyClass::Network
    } else if k.starts_with("aws:multifactorauth") {
        KeyClass::Mfa
    } else if k == "s3:x-amz-acl" || k.starts_with("s3:x-amz-grant-") {
        KeyClass::Acl
    } else {
        KeyClass::Other
    }
}

/// One condition: operator (as written), key, values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cond {
    pub op: String,
    pub key: String,
    pub values: Vec<String>,
}

impl Cond {
    /// `StringNotEquals s3:x-amz-server-side-encryption "aws:kms"`.
    pub(crate) fn describe(&self) -> String {
        let values: Vec<String> = self.values.iter().map(|v| format!("\"{v}\"")).collect();
        format!("{} {} {}", self.op, self.key, values.join(" or "))
    }
}

/// One statement of a policy document.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sid: Option<String>,
    pub deny: bool,
    /// `None` for identity policies (no Principal element).
    principal: Option<Value>,
    not_principal: bool,
    actions: Vec<String>,
    not_action: bool,
    resources: Vec<String>,
    not_resource: bool,
    pub conditions: Vec<Cond>,
    /// The statement as written, for quoting and for drafting its replacement.
    pub raw: Value,
}

/// A parsed policy document.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    pub statements: Vec<Statement>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
        Some(other) => scalar(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Document {
    /// Parses a policy document; `None` when the text is not a JSON object with statements.
    pub(crate) fn parse(text: &str) -> Option<Document> {
        let v: Value = serde_json::from_str(text).ok()?;
        let statements = match v.get("Statement")? {
            Value::Array(items) => items.iter().filter_map(Statement::parse).collect(),
            one @ Value::Object(_) => Statement::parse(one).into_iter().collect(),
            _ => return None,
        };
        Some(Document { statements })
    }

    /// Condition keys used anywhere in the document.
    #[cfg(test)]
    pub(crate) fn uses(&self, class: KeyClass) -> bool {
        self.statements.iter().flat_map(|s| &s.conditions).any(|c| key_class(&c.key) == class)
    }
}

impl Statement {
    fn parse(v: &Value) -> Option<Statement> {
        let obj = v.as_object()?;
        let deny = obj.get("Effect")?.as_str()?.eq_ignore_ascii_case("Deny");
        let (actions, not_action) = match (obj.get("Action"), obj.get("NotAction")) {
            (Some(a), _) => (strings(Some(a)), false),
            (None, Some(a)) => (strings(Some(a)), true),
            (None, None) => return None,
        };
        let (resources, not_resource) = match (obj.get("Resource"), obj.get("NotResource")) {
            (Some(r), _) => (strings(Some(r)), false),
            (None, Some(r)) => (strings(Some(r)), true),
            // Trust and session policies may omit Resource: it then means every resource.
            (None, None) => (vec!["*".to_string()], false),
        };
        let (principal, not_principal) = match (obj.get("Principal"), obj.get("NotPrincipal")) {
            (Some(p), _) => (Some(p.clone()), false),
            (None, Some(p)) => (Some(p.clone()), true),
            (None, None) => (None, false),
        };
        let mut conditions = Vec::new();
        if let Some(Value::Object(ops)) = obj.get("Condition") {
            for (op, keys) in ops {
                if let Value::Object(keys) = keys {
                    for (key, values) in keys {
                        conditions.push(Cond { op: op.clone(), key: key.clone(), values: strings(Some(values)) });
                    }
                }
            }
        }
        Some(Statement {
            sid: obj.get("Sid").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string),
            deny,
            principal,
            not_principal,
            actions,
            not_action,
            resources,
            not_resource,
            conditions,
            raw: v.clone(),
        })
    }

    /// `"DenyUnencryptedBuildUploads"` or `#2` (1-based position) when the statement has no Sid.
    pub(crate) fn name(&self, index: usize) -> String {
        match &self.sid {
            Some(sid) => format!("\"{sid}\""),
            None => format!("#{} (no Sid)", index + 1),
        }
    }
}

/// What a policy sees of one request.
#[derive(Debug, Clone)]
pub(crate) struct Request<'a> {
    pub ev: &'a Event,
    /// `s3:PutObject` for every write `s3:PutObject` authorizes, or the action the message names.
    pub action: &'a str,
    pub resource: String,
    /// The caller's role or user ARN (a session is matched by its role).
    pub principal_arn: Option<String>,
}

/// A condition key's value in the request: known present, known absent, or not in the record.
enum Known {
    Value(String),
    Absent,
    Unknown,
}

fn opt(v: Option<&str>) -> Known {
    match v {
        Some(v) if !v.is_empty() => Known::Value(v.to_string()),
        _ => Known::Absent,
    }
}

impl Request<'_> {
    fn key(&self, key: &str) -> Known {
        let ev = self.ev;
        match key.to_ascii_lowercase().as_str() {
            "s3:x-amz-server-side-encryption" => opt(ev.sse.as_deref()),
            "s3:x-amz-server-side-encryption-aws-kms-key-id" => opt(ev.sse_kms_key_id.as_deref()),
            "s3:x-amz-server-side-encryption-customer-algorithm" => opt(ev.sse_customer_algorithm.as_deref()),
            "s3:x-amz-acl" => opt(ev.acl.as_deref()),
            "aws:securetransport" => {
                let tls = ev.tls_version.is_some() || ev.tls_cipher_suite.is_some() || ev.cipher_suite.is_some();
                let complete = ev.signature_version.is_some() || ev.auth_method.is_some();
                if tls {
                    Known::Value("true".into())
                } else if complete {
                    Known::Value("false".into())
                } else {
                    Known::Unknown
                }
            }
            "s3:tlsversion" => match ev.tls_version.as_deref().and_then(|v| v.strip_prefix("TLSv")) {
                Some(v) => Known::Value(v.to_string()),
                None => Known::Unknown,
            },
            "aws:sourcevpce" => opt(ev.vpc_endpoint_id.as_deref()),
            "aws:sourceip" => match ev.source_ip.as_deref().filter(|ip| ip.parse::<IpAddr>().is_ok()) {
                // Through a VPC endpoint there is no aws:SourceIp (only aws:VpcSourceIp).
                Some(_) if ev.vpc_endpoint_id.is_some() => Known::Absent,
                Some(ip) => Known::Value(ip.to_string()),
                None => Known::Unknown,
            },
            "aws:multifactorauthpresent" => match ev.mfa_authenticated {
                Some(m) => Known::Value(m.to_string()),
                // Long-term keys carry no MFA context at all.
                None if ev.access_key_id.as_deref().is_some_and(|k| starts_with_ci(k, "AKIA")) => Known::Absent,
                None => Known::Unknown,
            },
            "aws:principalarn" => match &self.principal_arn {
                Some(a) => Known::Value(a.clone()),
                None => Known::Unknown,
            },
            "aws:principalaccount" => match ev.account.as_deref().filter(|a| crate::event::is_account_id(a)) {
                Some(a) => Known::Value(a.to_string()),
                None => Known::Unknown,
            },
            _ => Known::Unknown,
        }
    }

    /// Whether the statement applies to this request (principal, action, resource, conditions).
    pub(crate) fn applies(&self, st: &Statement) -> Tri {
        let action = Tri::of(st.actions.iter().any(|a| glob(a, self.action, true)));
        let action = if st.not_action { action.not() } else { action };
        let resource = Tri::of(st.resources.iter().any(|r| glob(r, &self.resource, false)));
        let resource = if st.not_resource { resource.not() } else { resource };
        let principal = match &st.principal {
            None => Tri::Yes,
            Some(p) => {
                let m = self.principal_matches(p);
                if st.not_principal { m.not() } else { m }
            }
        };
        let conditions = st.conditions.iter().fold(Tri::Yes, |acc, c| acc.and(self.condition(c)));
        action.and(resource).and(principal).and(conditions)
    }

    fn principal_matches(&self, p: &Value) -> Tri {
        let mut names = Vec::new();
        match p {
            Value::String(s) => names.push(s.clone()),
            Value::Object(o) => {
                for (kind, v) in o {
                    if kind.eq_ignore_ascii_case("AWS") {
                        names.extend(strings(Some(v)));
                    }
                }
            }
            _ => {}
        }
        if names.iter().any(|n| n == "*") {
            return Tri::Yes;
        }
        let (Some(arn), Some(account)) = (self.principal_arn.as_deref(), self.ev.account.as_deref()) else {
            return Tri::Unknown;
        };
        Tri::of(names.iter().any(|n| {
            n == arn || n == account || n.strip_suffix(":root").and_then(|h| h.rsplit(':').next()) == Some(account)
        }))
    }

    fn condition(&self, c: &Cond) -> Tri {
        let mut op = c.op.as_str();
        for prefix in ["ForAnyValue:", "ForAllValues:"] {
            if let Some(rest) = op.strip_prefix(prefix) {
                op = rest;
            }
        }
        let (op, if_exists) = match op.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (op, false),
        };
        if c.values.iter().any(|v| v.contains("${")) {
            return Tri::Unknown;
        }
        let value = match self.key(&c.key) {
            Known::Unknown => return Tri::Unknown,
            Known::Absent => {
                if op == "Null" {
                    return Tri::of(c.values.iter().any(|v| v.eq_ignore_ascii_case("true")));
                }
                // A missing key fails a positive operator and satisfies a negated one (and any
                // …IfExists): why a Deny on StringNotEquals refuses every headerless request.
                let negated = op.contains("Not");
                return Tri::of(if_exists || negated);
            }
            Known::Value(v) => v,
        };
        let any = |f: &dyn Fn(&str) -> bool| c.values.iter().any(|x| f(x));
        match op {
            "Null" => Tri::of(c.values.iter().any(|v| v.eq_ignore_ascii_case("false"))),
            "StringEquals" | "ArnEquals" => Tri::of(any(&|x| x == value)),
            "StringNotEquals" | "ArnNotEquals" => Tri::of(!any(&|x| x == value)),
            "StringEqualsIgnoreCase" => Tri::of(any(&|x| x.eq_ignore_ascii_case(&value))),
            "StringNotEqualsIgnoreCase" => Tri::of(!any(&|x| x.eq_ignore_ascii_case(&value))),
            "StringLike" | "ArnLike" => Tri::of(any(&|x| glob(x, &value, false))),
            "StringNotLike" | "ArnNotLike" => Tri::of(!any(&|x| glob(x, &value, false))),
            "Bool" => Tri::of(any(&|x| x.eq_ignore_ascii_case(&value))),
            "IpAddress" | "NotIpAddress" => {
                let hits: Vec<Option<bool>> = c.values.iter().map(|x| in_cidr(&value, x)).collect();
                if hits.contains(&None) {
                    return Tri::Unknown;
                }
                let hit = Tri::of(hits.contains(&Some(true)));
                if op == "NotIpAddress" { hit.not() } else { hit }
            }
            "NumericLessThan"
            | "NumericLessThanEquals"
            | "NumericGreaterThan"
            | "NumericGreaterThanEquals"
            | "NumericEquals"
            | "NumericNotEquals" => {
                let Ok(v) = value.parse::<f64>() else { return Tri::Unknown };
                let cmp = |x: &str| -> Option<bool> {
                    let x = x.parse::<f64>().ok()?;
                    Some(match op {
                        "NumericLessThan" => v < x,
                        "NumericLessThanEquals" => v <= x,
                        "NumericGreaterThan" => v > x,
                        "NumericGreaterThanEquals" => v >= x,
                        "NumericEquals" => v == x,
                        _ => v != x,
                    })
                };
                c.values.iter().map(|x| cmp(x).map_or(Tri::Unknown, Tri::of)).fold(Tri::No, Tri::or)
            }
            _ => Tri::Unknown,
        }
    }
}

/// IAM wildcard match (`*` any run, `?` one char); actions compare case-insensitively.
pub(crate) fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| if ignore_case { a.eq_ignore_ascii_case(&b) } else { a == b };
    // Iterative matcher with one backtrack point: linear in practice, never exponential.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `Some(true)` when `ip` is inside `cidr`, `None` when either does not parse.
fn in_cidr(ip: &str, cidr: &str) -> Option<bool> {
    let ip: IpAddr = ip.parse().ok()?;
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n.parse::<IpAddr>().ok()?, b.parse::<u32>().ok()?),
        None => {
            let n = cidr.parse::<IpAddr>().ok()?;
            (n, if n.is_ipv4() { 32 } else { 128 })
        }
    };
    Some(match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    })
}

/// A Deny statement that applies to a denied request, with the conditions that made it apply.
#[derive(Debug, Clone)]
pub(crate) struct DenyHit {
    pub index: usize,
    pub statement: Statement,
    /// Classes of the statement's condition keys (empty: an unconditional Deny).
    pub classes: Vec<KeyClass>,
}

impl DenyHit {
    pub(crate) fn name(&self) -> String {
        self.statement.name(self.index)
    }

    /// "StringNotEquals s3:x-amz-server-side-encryption \"aws:kms\"; Bool aws:SecureTransport \"false\"".
    pub(crate) fn conditions(&self) -> String {
        self.statement.conditions.iter().map(Cond::describe).collect::<Vec<_>>().join("; ")
    }
}

/// The Deny statements of `doc` that certainly apply to `req`.
pub(crate) fn denies(doc: &Document, req: &Request<'_>) -> Vec<DenyHit> {
    doc.statements
        .iter()
        .enumerate()
        .filter(|(_, st)| st.deny && req.applies(st) == Tri::Yes)
        .map(|(index, st)| {
            let mut classes: Vec<KeyClass> = st.conditions.iter().map(|c| key_class(&c.key)).collect();
            classes.sort();
            classes.dedup();
            DenyHit { index, statement: st.clone(), classes }
        })
        .collect()
}

/// The S3 action a write event is authorized as.
pub(crate) fn s3_action_of(ev: &Event) -> &'static str {
    match ev.event_name.as_str() {
        "PutObjectAcl" => "s3:PutObjectAcl",
        "PutObjectTagging" => "s3:PutObjectTagging",
        "PutObjectRetention" => "s3:PutObjectRetention",
        "PutObjectLegalHold" => "s3:PutObjectLegalHold",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "GetObject" | "HeadObject" => "s3:GetObject",
        _ => "s3:PutObject",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CI_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"DenyUnencryptedBuildUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
         "Resource":"arn:aws:s3:::acme-artifacts/builds/*",
         "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
        {"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*",
         "Resource":["arn:aws:s3:::acme-artifacts","arn:aws:s3:::acme-artifacts/*"],
         "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

    fn put(key: &str, f: impl FnOnce(&mut Event)) -> Event {
        let mut e = Event {
            event_name: "PutObject".into(),
            bucket: Some("acme-artifacts".into()),
            key: Some(key.into()),
            account: Some("111122223333".into()),
            tls_version: Some("TLSv1.3".into()),
            signature_version: Some("SigV4".into()),
            ..Event::default()
        };
        f(&mut e);
        e
    }

    fn hits(ev: &Event, doc: &Document) -> Vec<String> {
        let req = Request {
            ev,
            action: s3_action_of(ev),
            resource: ev.object_arn().unwrap(),
            principal_arn: Some("arn:aws:iam::111122223333:role/ci-deploy".into()),
        };
        denies(doc, &req).iter().map(DenyHit::name).collect()
    }

    #[test]
    fn the_sse_deny_matches_headerless_writes_only() {
        let doc = Document::parse(CI_POLICY).unwrap();
        assert_eq!(doc.statements.len(), 2);
        assert!(doc.uses(KeyClass::Sse) && doc.uses(KeyClass::Transport) && !doc.uses(KeyClass::Network));
        let bare = put("builds/1/a", |_| {});
        assert_eq!(hits(&bare, &doc), ["\"DenyUnencryptedBuildUploads\""]);
        let part = put("builds/1/a", |e| e.event_name = "UploadPart".into());
        assert_eq!(hits(&part, &doc), ["\"DenyUnencryptedBuildUploads\""]);
        let kms = put("builds/1/a", |e| e.sse = Some("aws:kms".into()));
        assert!(hits(&kms, &doc).is_empty());
        let elsewhere = put("releases/a", |_| {});
        assert!(hits(&elsewhere, &doc).is_empty());
        let http = put("docs/a", |e| {
            e.tls_version = None;
        });
        assert_eq!(hits(&http, &doc), ["\"DenyInsecureTransport\""]);
    }

    #[test]
    fn the_null_guard_lets_headerless_writes_through() {
        let fixed = CI_POLICY.replace(
            r#"{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}"#,
            r#"{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"},"Null":{"s3:x-amz-server-side-encryption":"false"}}"#,
        );
        let doc = Document::parse(&fixed).unwrap();
        assert!(hits(&put("builds/1/a", |_| {}), &doc).is_empty());
        assert_eq!(hits(&put("builds/1/a", |e| e.sse = Some("AES256".into())), &doc).len(), 1);
        // …IfExists does not help a Deny: the missing key makes it true.
        let if_exists = CI_POLICY.replace("StringNotEquals", "StringNotEqualsIfExists");
        assert_eq!(hits(&put("builds/1/a", |_| {}), &Document::parse(&if_exists).unwrap()).len(), 1);
    }

    #[test]
    fn unknowns_never_match() {
        let doc = Document::parse(
            r#"{"Statement":{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"s3:*","Resource":"*"}}"#,
        )
        .unwrap();
        assert!(hits(&put("x", |_| {}), &doc).is_empty());
        let doc = Document::parse(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"x"}}}]}"#,
        )
        .unwrap();
        assert!(hits(&put("x", |_| {}), &doc).is_empty());
        assert!(Document::parse("not json").is_none());
        assert!(Document::parse("{}").is_none());
    }

    #[test]
    fn globs_and_cidrs() {
        assert!(glob("arn:aws:s3:::b/builds/*", "arn:aws:s3:::b/builds/1/x", false));
        assert!(!glob("arn:aws:s3:::b/builds/*", "arn:aws:s3:::b/Builds/1", false));
        assert!(glob("s3:Put*", "s3:putobject", true));
        assert!(glob("a?c*", "abcdef", false) && !glob("a?c", "ac", false));
        assert!(glob(&"*".repeat(50), &"a".repeat(200), false));
        assert_eq!(in_cidr("10.1.2.3", "10.0.0.0/8"), Some(true));
        assert_eq!(in_cidr("203.0.113.9", "10.0.0.0/8"), Some(false));
        assert_eq!(in_cidr("x", "10.0.0.0/8"), None);
    }
}
