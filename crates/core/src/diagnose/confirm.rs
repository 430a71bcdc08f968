//! Confirming a diagnosis against the account's configuration (`--live`, `--config`).
//!
//! Each denied event is rebuilt as the request AWS authorized ([`Request::from_event`]) and
//! decided against a [`Snapshot`] ([`evaluate`]); an upload encrypted with a KMS key is also
//! decided as the `kms:GenerateDataKey` S3 makes for it. The group's verdict:
//!
//! - `confirmed`: at least one event is denied by what was read, and the deciding statement (or
//!   setting, or the layer with no allow) is named in `confirmed_by`;
//! - `refuted`: every event would be allowed by what was read (fixed since, or the cause lies
//!   elsewhere);
//! - otherwise undetermined: something needed could not be read, and `confirmed_by` says what.
//!
//! The diagnosis is then made to fit: the matching cause becomes `confirmed` (added if the log
//! alone did not suggest it), refuted policy causes sink, and the remedies follow what was found
//! (a Deny is quoted and satisfied, never out-granted). Pure: the fetching is the binary's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::remedy::{Remedy, RemedyPlace};
use super::{CauseShare, Confidence, Diagnosis};
use crate::event::Event;
use crate::policy::{
    Decision, Effect, PolicyKind, Request, Setting, Snapshot, StatementRef, Visibility, confirmed_by, evaluate,
    pretty_statement,
};

/// How the configuration judged a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Confirmed,
    Refuted,
    Undetermined,
}

/// The judgement of one group against a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confirmation {
    pub verdict: Verdict,
    /// The `confirmed_by` column: the deciding statement(s), "allowed by …", or "cannot confirm: …".
    pub line: String,
    /// The decision of the verdict's most frequent kind (the one `explain` shows).
    pub decision: Decision,
    /// It was the KMS request S3 makes for the upload that decided.
    pub via_kms: bool,
    /// Events judged, and how many of them were denied / allowed by what was read.
    pub events: usize,
    pub denied: usize,
    pub allowed: usize,
    /// When the configuration was read (ms since the epoch).
    pub taken_at_ms: Option<i64>,
    /// The caller is an `AWSReservedSSO_*` role: its policies come from a permission set.
    pub sso_reserved: bool,
}

/// One event decided: its S3 request, and the KMS request when that is what decides.
pub fn decide_event(e: &Event, snap: &Snapshot) -> Option<(Decision, bool)> {
    let req = Request::from_event(e)?;
    let d = evaluate(&req, snap);
    if d.is_denied() || req.action != "s3:PutObject" {
        return Some((d, false));
    }
    let region = e.aws_region.as_deref();
    let encryption = req.bucket.as_deref().and_then(|b| snap.buckets.get(b)).map(|b| &b.default_encryption);
    let default = encryption.and_then(Visibility::visible).and_then(Option::as_ref);
    let Some((key, bucket_key)) = req.upload_kms_key(default, region) else {
        // No SSE header and the bucket's default encryption unread: a KMS key may still decide.
        if e.sse.is_none()
            && matches!(d, Decision::Allow { .. })
            && let Some(Visibility::NotVisible { reason, .. }) = encryption
        {
            let missing = vec![crate::policy::Missing {
                item: format!("default encryption of bucket {}", req.bucket.as_deref().unwrap_or("?")),
                reason: reason.to_string(),
            }];
            return Some((Decision::Undetermined { missing }, false));
        }
        return Some((d, false));
    };
    let k = evaluate(&req.kms_for_upload(&key, region, bucket_key), snap);
    Some(match (&d, &k) {
        (_, k) if k.is_denied() => (k.clone(), true),
        (Decision::Allow { .. }, Decision::Undetermined { .. }) => (k, true),
        _ => (d, false),
    })
}

/// Judges a group's denied events against `snap`. `None` when no event names a request.
pub fn confirm_events(targets: &[&Event], snap: &Snapshot) -> Option<Confirmation> {
    // Per line, in first-seen order: how many events, and one decision.
    let mut lines: Vec<(String, usize, Decision, bool)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let (mut denied, mut allowed, mut events) = (0, 0, 0);
    let mut sso_reserved = false;
    for e in targets {
        let Some((d, via_kms)) = decide_event(e, snap) else { continue };
        events += 1;
        denied += usize::from(d.is_denied());
        allowed += usize::from(matches!(d, Decision::Allow { .. }));
        if let Some(p) = Request::from_event(e).and_then(|r| r.caller.policy_holder().map(str::to_string))
            && snap.principals.get(&p).is_some_and(|c| c.sso_reserved)
        {
            sso_reserved = true;
        }
        let line = confirmed_by(&d);
        match index.get(&line) {
            Some(&i) => lines[i].1 += 1,
            None => {
                index.insert(line.clone(), lines.len());
                lines.push((line, 1, d, via_kms));
            }
        }
    }
    if events == 0 {
        return None;
    }
    let verdict = if denied > 0 {
        Verdict::Confirmed
    } else if allowed == events {
        Verdict::Refuted
    } else {
        Verdict::Undetermined
    };
    let of_kind = |d: &Decision| match verdict {
        Verdict::Confirmed => d.is_denied(),
        Verdict::Refuted => matches!(d, Decision::Allow { .. }),
        Verdict::Undetermined => matches!(d, Decision::Undetermined { .. }),
    };
    let mut chosen: Vec<&(String, usize, Decision, bool)> = lines.iter().filter(|l| of_kind(&l.2)).collect();
    // Most events first; the first seen on ties (a stable sort keeps it).
    chosen.sort_by_key(|l| std::cmp::Reverse(l.1));
    let (_, _, decision, via_kms) = chosen[0].clone();
    const SHOWN: usize = 3;
    let mut line = chosen.iter().take(SHOWN).map(|l| l.0.as_str()).collect::<Vec<_>>().join("; ");
    if chosen.len() > SHOWN {
        line.push_str(&format!("; and {} more", chosen.len() - SHOWN));
    }
    if via_kms && verdict == Verdict::Confirmed && !line.starts_with("key-policy") {
        line = format!("kms: {line}");
    }
    if verdict == Verdict::Confirmed && denied < events {
        line.push_str(&format!(" ({denied} of {events} events; {allowed} allowed now)"));
    }
    Some(Confirmation {
        verdict,
        line,
        decision,
        via_kms,
        events,
        denied,
        allowed,
        taken_at_ms: snap.taken_at_ms,
        sso_reserved,
    })
}

/// What a scan's denied requests need read, each once: the keys of the [`Snapshot`]'s maps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Needs {
    /// Bucket names, with the owner account the log names.
    pub buckets: BTreeMap<String, Option<String>>,
    /// Role or user ARNs.
    pub principals: std::collections::BTreeSet<String>,
    /// Key ARNs, with the region to ask in.
    pub kms_keys: std::collections::BTreeSet<String>,
    /// Endpoint ids, with the region of the request that came through them.
    pub vpc_endpoints: BTreeMap<String, Option<String>>,
    pub accounts: std::collections::BTreeSet<String>,
}

impl Needs {
    /// From the target events ([`Request::wants`]); KMS keys named by the requests' SSE-KMS headers.
    pub fn of(targets: &[Event]) -> Needs {
        let mut n = Needs::default();
        for e in targets {
            let Some(req) = Request::from_event(e) else { continue };
            let w = req.wants();
            if let Some(b) = w.bucket {
                let owner = n.buckets.entry(b).or_default();
                if owner.is_none() {
                    owner.clone_from(&e.bucket_owner);
                }
            }
            n.principals.extend(w.principal);
            n.kms_keys.extend(w.kms_key);
            if let Some(id) = w.vpc_endpoint {
                n.vpc_endpoints.entry(id).or_insert_with(|| e.aws_region.clone());
            }
            n.accounts.extend(w.accounts);
            if let Some((key, _)) = req.upload_kms_key(None, e.aws_region.as_deref()) {
                n.kms_keys.insert(key);
            }
        }
        n
    }

    /// The KMS keys the buckets' default encryption adds, once the buckets are read.
    pub fn default_keys(targets: &[Event], snap: &Snapshot) -> std::collections::BTreeSet<String> {
        let mut keys = std::collections::BTreeSet::new();
        for e in targets {
            let Some(req) = Request::from_event(e) else { continue };
            let default = req
                .bucket
                .as_deref()
                .and_then(|b| snap.buckets.get(b))
                .and_then(|b| b.default_encryption.visible())
                .and_then(Option::as_ref);
            if let Some((key, _)) = req.upload_kms_key(default, e.aws_region.as_deref()) {
                keys.insert(key);
            }
        }
        keys
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
            && self.principals.is_empty()
            && self.kms_keys.is_empty()
            && self.vpc_endpoints.is_empty()
    }
}

/// The session policies the trail's `AssumeRole*` / `GetFederationToken` companions passed, by the
/// access key they issued (the snapshot's `sessions`): none passed is `Visible(None)`; an inline
/// policy is read from the call; managed session policies (`policyArns`) are not fetched.
pub fn sessions_from(companions: &[Event]) -> BTreeMap<String, Visibility<Option<crate::policy::Policy>>> {
    use crate::policy::{NotVisibleReason, Policy};
    let mut out = BTreeMap::new();
    for e in companions {
        let Some(key) = &e.issued_access_key_id else { continue };
        let v = match (&e.session_policy, &e.policy_document) {
            (None, _) => Visibility::Visible(None),
            (Some(p), _) if p.starts_with("policyArns:") => Visibility::NotVisible {
                reason: NotVisibleReason::NotFetched,
                detail: Some(format!("managed session policies ({p})")),
            },
            (Some(_), Some(doc)) => match serde_json::from_str(doc) {
                Ok(doc) => Visibility::Visible(Some(Policy::new(format!("session {key}"), doc))),
                Err(_) => Visibility::NotVisible { reason: NotVisibleReason::Error, detail: Some("unreadable".into()) },
            },
            (Some(_), None) => Visibility::NotVisible {
                reason: NotVisibleReason::NotFetched,
                detail: Some("the inline session policy is not in the log".into()),
            },
        };
        out.insert(key.clone(), v);
    }
    out
}

/// Every item of a snapshot that could not be read, with its reason (for the summary).
pub fn not_visible(snap: &Snapshot) -> Vec<(String, String)> {
    fn add<T>(out: &mut Vec<(String, String)>, item: String, v: &Visibility<T>) {
        if let Visibility::NotVisible { reason, detail } = v {
            let why = detail.as_ref().map_or_else(|| reason.to_string(), |d| format!("{reason}: {d}"));
            out.push((item, why));
        }
    }
    let mut out = Vec::new();
    for (name, b) in &snap.buckets {
        add(&mut out, format!("bucket policy of {name}"), &b.policy);
        add(&mut out, format!("public access block of {name}"), &b.public_access_block);
        add(&mut out, format!("account public access block of {name}'s owner"), &b.account_public_access_block);
        add(&mut out, format!("object ownership of {name}"), &b.ownership);
        add(&mut out, format!("default encryption of {name}"), &b.default_encryption);
        add(&mut out, format!("ACL of {name}"), &b.acl_grants);
    }
    for (arn, p) in &snap.principals {
        add(&mut out, format!("policies of {arn}"), &p.identity_policies);
        add(&mut out, format!("group policies of {arn}"), &p.group_policies);
        add(&mut out, format!("boundary of {arn}"), &p.permissions_boundary);
    }
    for (arn, k) in &snap.kms_keys {
        add(&mut out, format!("key policy of {arn}"), &k.key_policy);
    }
    for (id, v) in &snap.vpc_endpoints {
        add(&mut out, format!("endpoint policy of {id}"), &v.policy);
    }
    for (account, a) in &snap.accounts {
        add(&mut out, format!("organization policies of account {account}"), a);
    }
    out
}

/// Causes a policy or S3 setting can decide: what an evaluation confirms or refutes.
const POLICY_TAGS: &[&str] = &[
    "identity-no-allow",
    "identity-explicit-deny",
    "bucket-policy-deny",
    "bucket-policy-no-allow",
    "scp-deny",
    "rcp-deny",
    "vpce-policy",
    "permissions-boundary",
    "session-policy",
    "kms-denied",
    "block-public-acls",
    "acl-not-supported",
    "bucket-owner-full-control-required",
    "cross-account",
    "sse-header-required",
    "mfa-required",
    "insecure-transport",
    "network-condition",
];

/// The cause tags a denying decision stands for, most specific first.
fn tags_of(d: &Decision) -> Vec<&'static str> {
    let kind_tag = |k: PolicyKind, explicit: bool| match k {
        PolicyKind::Identity if explicit => "identity-explicit-deny",
        PolicyKind::Identity => "identity-no-allow",
        PolicyKind::BucketPolicy if explicit => "bucket-policy-deny",
        PolicyKind::BucketPolicy => "bucket-policy-no-allow",
        PolicyKind::Scp => "scp-deny",
        PolicyKind::Rcp => "rcp-deny",
        PolicyKind::VpcePolicy => "vpce-policy",
        PolicyKind::Boundary => "permissions-boundary",
        PolicyKind::SessionPolicy => "session-policy",
        PolicyKind::KeyPolicy => "kms-denied",
    };
    match d {
        Decision::ExplicitDeny { by } => {
            let mut tags: Vec<&'static str> = held_keys(by).iter().filter_map(|k| tag_of_key(k)).collect();
            tags.dedup();
            tags.push(kind_tag(by.policy.kind, true));
            tags
        }
        Decision::ImplicitDeny { kind, .. } => vec![kind_tag(*kind, false)],
        Decision::Blocked { setting: Setting::BlockPublicAcls { .. } } => vec!["block-public-acls"],
        Decision::Blocked { setting: Setting::BucketOwnerEnforced { .. } } => vec!["acl-not-supported"],
        _ => Vec::new(),
    }
}

/// The condition keys of a Deny statement that held (why it fired).
fn held_keys(s: &StatementRef) -> Vec<String> {
    s.conditions.iter().filter(|c| c.holds == Some(true)).map(|c| c.key.to_ascii_lowercase()).collect()
}

fn tag_of_key(key: &str) -> Option<&'static str> {
    Some(match key {
        k if k.starts_with("s3:x-amz-server-side-encryption") => "sse-header-required",
        "aws:securetransport" | "s3:tlsversion" => "insecure-transport",
        k if k.starts_with("aws:multifactorauth") => "mfa-required",
        "aws:sourceip" | "aws:sourcevpce" | "aws:sourcevpc" | "aws:vpcsourceip" => "network-condition",
        "s3:x-amz-acl" => "bucket-owner-full-control-required",
        _ => return None,
    })
}

fn place_of(kind: PolicyKind) -> RemedyPlace {
    match kind {
        PolicyKind::Rcp => RemedyPlace::Rcp,
        PolicyKind::Scp => RemedyPlace::Scp,
        PolicyKind::VpcePolicy => RemedyPlace::VpcEndpointPolicy,
        PolicyKind::BucketPolicy => RemedyPlace::BucketPolicy,
        PolicyKind::KeyPolicy => RemedyPlace::KeyPolicy,
        PolicyKind::Identity => RemedyPlace::IdentityPolicy,
        PolicyKind::Boundary => RemedyPlace::Boundary,
        PolicyKind::SessionPolicy => RemedyPlace::SessionPolicy,
    }
}

/// "2026-11-29T22:00:00Z", or "at an unknown time".
pub fn read_at(c: &Confirmation) -> String {
    c.taken_at_ms.map(crate::report::rfc3339_ms).unwrap_or_else(|| "at an unknown time".into())
}

impl Diagnosis {
    /// Makes the diagnosis fit what the configuration showed (see the module documentation).
    pub fn apply_confirmation(&mut self, c: Confirmation) {
        let when = read_at(&c);
        let suspicious = self.evidence.find("; suspicious: ").map(|i| self.evidence[i..].to_string());
        match c.verdict {
            Verdict::Confirmed => {
                let tags = tags_of(&c.decision);
                let evidence = format!("confirmed against the configuration read {when}: {}", c.line);
                let found = tags.iter().find_map(|t| self.causes.iter().position(|cause| cause.tag == *t));
                match (found, tags.first()) {
                    (Some(i), _) => {
                        let cause = &mut self.causes[i];
                        cause.confidence = Confidence::Confirmed;
                        cause.evidence = evidence;
                    }
                    (None, Some(tag)) => self.causes.push(CauseShare {
                        tag,
                        confidence: Confidence::Confirmed,
                        events: c.denied,
                        share: c.denied as f64 / c.events.max(1) as f64,
                        evidence,
                    }),
                    (None, None) => {}
                }
                self.remedies = confirmed_remedies(std::mem::take(&mut self.remedies), &c);
            }
            Verdict::Refuted => {
                for cause in self.causes.iter_mut().filter(|cause| POLICY_TAGS.contains(&cause.tag)) {
                    cause.confidence = Confidence::Refuted;
                    cause.evidence = format!(
                        "refuted: the configuration read {when} allows the request ({}); was: {}",
                        c.line, cause.evidence
                    );
                }
                let mut remedies: Vec<Remedy> = vec![
                    Remedy::new(
                        RemedyPlace::None,
                        None,
                        format!("The configuration read {when} allows these requests now: no policy change is proposed"),
                    )
                    .line(format!("Evaluated: {}.", c.line))
                    .line("Either it was fixed after the denials (see recent policy changes in the trail), or the cause lies elsewhere: the request itself (headers, expired credentials), a KMS key's state, or a policy this account cannot read."),
                ];
                remedies.extend(std::mem::take(&mut self.remedies).into_iter().filter(|r| !r.grant));
                self.remedies = remedies;
            }
            Verdict::Undetermined => {}
        }
        // Strongest first again, `confirmed` leading and `refuted` last (a stable sort keeps the rest).
        self.causes.sort_by_key(|c| std::cmp::Reverse(c.confidence));
        if let Some(first) = self.causes.first() {
            self.evidence = first.evidence.clone() + suspicious.as_deref().unwrap_or("");
        }
        self.confirmation = Some(c);
    }
}

/// The remedies once a denial is confirmed: what decided leads, and a Deny is never out-granted.
fn confirmed_remedies(mut old: Vec<Remedy>, c: &Confirmation) -> Vec<Remedy> {
    let mut first: Vec<Remedy> = Vec::new();
    match &c.decision {
        Decision::ExplicitDeny { by } => {
            // An Allow cannot beat an explicit Deny: drop every grant.
            old.retain(|r| !r.grant);
            let held: Vec<&crate::policy::ConditionCheck> =
                by.conditions.iter().filter(|k| k.holds == Some(true)).collect();
            let headers: Vec<&&crate::policy::ConditionCheck> =
                held.iter().filter(|k| k.key.to_ascii_lowercase().starts_with("s3:x-amz-")).collect();
            let label = confirmed_by(&c.decision);
            let mut r = if !held.is_empty() && headers.len() == held.len() {
                Remedy::new(
                    RemedyPlace::RequestChange,
                    None,
                    format!("Send what the Deny statement {label} requires, rather than widen any policy"),
                )
            } else {
                Remedy::new(
                    place_of(by.policy.kind),
                    None,
                    format!("The Deny statement {label} decides: satisfy it or narrow it"),
                )
            };
            for k in &held {
                let header = k.key.to_ascii_lowercase();
                let want = want_values(&k.values);
                let line = match header.strip_prefix("s3:") {
                    Some(h) if h.starts_with("x-amz-") && k.operator.contains("Not") && !want.is_empty() => {
                        format!(
                            "Its condition {} on {} held: send the header {h}: {want} with every request.",
                            k.operator, k.key
                        )
                    }
                    Some(h) if h.starts_with("x-amz-") && k.operator == "Null" => {
                        format!("Its condition Null on {} held: send the header {h} with every request.", k.key)
                    }
                    _ => format!(
                        "Its condition {} {} {} held for these requests: change the request so it does not, or narrow the statement.",
                        k.operator,
                        k.key,
                        serde_json::to_string(&k.values).unwrap_or_default()
                    ),
                };
                r = r.line(line);
            }
            if held.is_empty() && by.effect == Effect::Deny {
                r = r.line("It has no condition that a request could satisfy: only narrowing the statement (or using another principal or resource) lets these requests through.");
            }
            r.draft = Some(pretty_statement(by));
            first.push(r);
        }
        Decision::ImplicitDeny { kind, .. } => {
            let place = if *kind == PolicyKind::Identity && c.sso_reserved {
                RemedyPlace::PermissionSet
            } else {
                place_of(*kind)
            };
            // The remedy already placed there leads; else say where the missing allow goes.
            match old.iter().position(|r| r.place == place) {
                Some(i) => {
                    let mut r = old.remove(i);
                    r.lines.insert(0, format!("Confirmed against the configuration read {}: {}.", read_at(c), c.line));
                    first.push(r);
                }
                None => {
                    let mut r = Remedy::new(place, None, format!("No statement allows these requests: {}", c.line))
                        .line(format!("Add an Allow for the request to the {place}; nothing else read denies it."));
                    if c.sso_reserved {
                        r = r.line("The caller is an AWSReservedSSO_* role: the fix belongs in its IAM Identity Center permission set, not on the role.");
                    }
                    first.push(r);
                }
            }
            if let Some(s) = c.decision.statement() {
                let mut r = first.pop().expect("one remedy");
                r.lines.push(format!("The nearest Allow failed on a condition:\n{}", pretty_statement(s)));
                first.push(r);
            }
        }
        Decision::Blocked { setting } => {
            old.retain(|r| !r.grant);
            let (place, line) = match setting {
                Setting::BlockPublicAcls { acl, .. } => (
                    RemedyPlace::RequestChange,
                    format!(
                        "Block Public Access refuses the public ACL {acl}: drop the ACL from the request (or keep the bucket private by other means)."
                    ),
                ),
                Setting::BucketOwnerEnforced { acl } => (
                    RemedyPlace::RequestChange,
                    format!(
                        "Object Ownership is BucketOwnerEnforced (ACLs disabled): drop the ACL {acl} from the request."
                    ),
                ),
            };
            first.push(Remedy::new(place, None, format!("{}: the request must change", c.line)).line(line));
        }
        _ => {}
    }
    let rest: Vec<Remedy> =
        old.into_iter().filter(|r| !first.iter().any(|f| f.place == r.place && f.title == r.title)).collect();
    first.extend(rest);
    first
}

/// The values a negated condition wants, as one header value (`aws:kms`, `AES256 or aws:kms`).
fn want_values(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" or "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{BucketConfig, Policy, PrincipalConfig};
    use serde_json::json;

    fn put(sse: Option<&str>) -> Event {
        Event {
            event_name: "PutObject".into(),
            event_source: "s3.amazonaws.com".into(),
            principal_type: "AssumedRole".into(),
            principal: "arn:aws:iam::111122223333:role/app".into(),
            identity_arn: Some("arn:aws:sts::111122223333:assumed-role/app/s1".into()),
            session_issuer_arn: Some("arn:aws:iam::111122223333:role/app".into()),
            account: Some("111122223333".into()),
            bucket: Some("b".into()),
            key: Some("dir/k".into()),
            bucket_owner: Some("111122223333".into()),
            aws_region: Some("us-east-1".into()),
            error_code: Some("AccessDenied".into()),
            sse: sse.map(str::to_string),
            ..Event::default()
        }
    }

    fn snap(bucket_policy: Option<serde_json::Value>, identity: serde_json::Value) -> Snapshot {
        let mut s = Snapshot { taken_at_ms: Some(1_764_410_400_000), ..Snapshot::default() };
        s.buckets.insert(
            "b".into(),
            BucketConfig {
                owner_account: Some("111122223333".into()),
                policy: Visibility::Visible(bucket_policy.map(|d| Policy::new("arn:aws:s3:::b", d))),
                public_access_block: Visibility::Visible(None),
                ownership: Visibility::Visible(None),
                default_encryption: Visibility::Visible(None),
                ..BucketConfig::default()
            },
        );
        s.principals.insert(
            "arn:aws:iam::111122223333:role/app".into(),
            PrincipalConfig {
                identity_policies: Visibility::Visible(vec![Policy::new(
                    "arn:aws:iam::111122223333:policy/app",
                    identity,
                )]),
                group_policies: Visibility::Visible(vec![]),
                permissions_boundary: Visibility::Visible(None),
                sso_reserved: false,
            },
        );
        s.accounts.insert("111122223333".into(), Visibility::Visible(Default::default()));
        s
    }

    fn allow_all() -> serde_json::Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    }

    fn sse_deny() -> serde_json::Value {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyUnEncryptedUploads", "Effect": "Deny", "Principal": "*",
            "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]})
    }

    fn diagnosis(tag: &'static str) -> Diagnosis {
        let remedy = Remedy { grant: true, ..Remedy::new(RemedyPlace::IdentityPolicy, None, "Allow the write".into()) };
        Diagnosis {
            causes: vec![CauseShare {
                tag,
                confidence: Confidence::High,
                events: 1,
                share: 1.0,
                evidence: "log".into(),
            }],
            evidence: "log".into(),
            remedies: vec![remedy],
            ..Diagnosis::default()
        }
    }

    #[test]
    fn a_deny_on_the_sse_header_is_confirmed_and_asks_for_the_header() {
        let s = snap(Some(sse_deny()), allow_all());
        let e = put(None);
        let c = confirm_events(&[&e], &s).unwrap();
        assert_eq!(c.verdict, Verdict::Confirmed);
        assert_eq!(c.line, "bucket-policy arn:aws:s3:::b Sid DenyUnEncryptedUploads");
        let mut d = diagnosis("identity-no-allow");
        d.apply_confirmation(c);
        assert_eq!(d.confidence_column(), "confirmed");
        assert_eq!(d.causes[0].tag, "sse-header-required");
        assert_eq!(d.causes[0].confidence, Confidence::Confirmed);
        // Widening the identity policy would not help: the grant is gone, the header is asked for.
        assert!(d.remedies.iter().all(|r| !r.grant), "{:?}", d.remedies);
        let r = &d.remedies[0];
        assert_eq!(r.place, RemedyPlace::RequestChange);
        assert!(r.lines[0].contains("x-amz-server-side-encryption: aws:kms"), "{:?}", r.lines);
        assert!(r.draft.as_deref().unwrap().contains("DenyUnEncryptedUploads"));
    }

    #[test]
    fn an_allowed_request_is_refuted() {
        let s = snap(Some(sse_deny()), allow_all());
        let e = put(Some("aws:kms"));
        let c = confirm_events(&[&e], &s).unwrap();
        assert_eq!(c.verdict, Verdict::Refuted, "{c:?}");
        assert!(c.line.starts_with("allowed by "), "{}", c.line);
        let mut d = diagnosis("identity-no-allow");
        d.apply_confirmation(c);
        assert_eq!(d.confidence_column(), "refuted");
        assert_eq!(d.causes[0].confidence, Confidence::Refuted);
        assert_eq!(d.remedies[0].place, RemedyPlace::None);
        assert!(d.remedies[0].title.contains("allows these requests now"));
        assert!(d.remedies.iter().all(|r| !r.grant));
    }

    #[test]
    fn no_allow_is_confirmed_at_the_identity_layer() {
        let none = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        let s = snap(None, none);
        let e = put(None);
        let c = confirm_events(&[&e], &s).unwrap();
        assert_eq!((c.verdict, c.line.as_str()), (Verdict::Confirmed, "no allow in 1 identity policy"));
        let mut d = diagnosis("identity-no-allow");
        d.apply_confirmation(c);
        assert_eq!(d.remedies[0].place, RemedyPlace::IdentityPolicy);
        assert!(d.remedies[0].grant, "the grant stays: nothing denies explicitly");
    }

    #[test]
    fn what_cannot_be_read_stays_undetermined() {
        let mut s = snap(None, allow_all());
        s.buckets.get_mut("b").unwrap().policy = Visibility::not_visible(crate::policy::NotVisibleReason::Refused);
        let e = put(None);
        let c = confirm_events(&[&e], &s).unwrap();
        assert_eq!(c.verdict, Verdict::Undetermined);
        assert!(c.line.starts_with("cannot confirm: bucket-policy arn:aws:s3:::b (refused"), "{}", c.line);
        let mut d = diagnosis("identity-no-allow");
        d.apply_confirmation(c);
        assert_eq!(d.confidence_column(), "high");
        assert!(d.remedies[0].grant);
    }

    #[test]
    fn mixed_groups_say_how_many() {
        let s = snap(Some(sse_deny()), allow_all());
        let (a, b) = (put(None), put(Some("aws:kms")));
        let c = confirm_events(&[&a, &b], &s).unwrap();
        assert_eq!(c.verdict, Verdict::Confirmed);
        assert!(c.line.ends_with("(1 of 2 events; 1 allowed now)"), "{}", c.line);
    }
}
