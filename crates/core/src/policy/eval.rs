//! The order across policy types, as AWS documents it: S3's own overrides, an explicit deny anywhere,
//! then RCPs, SCPs and the VPC endpoint policy as gates, then identity and resource policies with the
//! boundary and the session policy (same-account union, cross-account intersection).
//!
//! Anything not visible is carried as "unknown" (three-valued logic): a deny that holds whatever the
//! unknown part says is confirmed; an allow is confirmed only when nothing was missing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::request::{CallerKind, CtxValue, Request};
use super::snapshot::{ObjectOwnership, Policy, PublicAccessBlock, Snapshot, Visibility};
use super::statement::{Applies, ConditionCheck, Effect, Grantee, statements};

/// Which kind of policy a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    Rcp,
    Scp,
    VpcePolicy,
    BucketPolicy,
    KeyPolicy,
    Identity,
    Boundary,
    SessionPolicy,
}

impl PolicyKind {
    pub fn label(self) -> &'static str {
        match self {
            PolicyKind::Rcp => "rcp",
            PolicyKind::Scp => "scp",
            PolicyKind::VpcePolicy => "vpce-policy",
            PolicyKind::BucketPolicy => "bucket-policy",
            PolicyKind::KeyPolicy => "key-policy",
            PolicyKind::Identity => "identity",
            PolicyKind::Boundary => "boundary",
            PolicyKind::SessionPolicy => "session-policy",
        }
    }

    fn names_principals(self) -> bool {
        matches!(self, PolicyKind::VpcePolicy | PolicyKind::BucketPolicy | PolicyKind::KeyPolicy)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub kind: PolicyKind,
    /// ARN, inline policy name, bucket / key ARN or endpoint id.
    pub id: String,
}

/// The statement that decided, with how each of its conditions came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementRef {
    pub policy: PolicyRef,
    /// Position in the policy's `Statement` list (from 0).
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub conditions: Vec<ConditionCheck>,
    /// The statement as written.
    pub statement: Value,
}

/// An S3 setting that refuses the request before policies are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// Block Public Access `BlockPublicAcls` and the request sets a public ACL (AccessDenied).
    BlockPublicAcls { account_level: bool, acl: String },
    /// Object Ownership `BucketOwnerEnforced` and the request sets an ACL (AccessControlListNotSupported).
    BucketOwnerEnforced { acl: String },
}

/// Something the evaluation needed and did not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// `bucket-policy arn:aws:s3:::b`, `identity policies of arn:aws:iam::…:role/r`...
    pub item: String,
    /// `refused`, `throttled`, `not fetched`, `unsupported: …`...
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// Every required layer allows and nothing was missing.
    Allow { by: Vec<StatementRef> },
    /// A `Deny` statement applies.
    ExplicitDeny { by: StatementRef },
    /// No applicable `Allow` in `kind` (which had to allow). `policies`: those read for that layer (and,
    /// for a same-account identity miss, the resource policy that did not grant either). `nearest`: an
    /// `Allow` there that matched all but its conditions.
    ImplicitDeny { kind: PolicyKind, policies: Vec<PolicyRef>, nearest: Option<StatementRef>, cross_account: bool },
    /// An S3 setting refuses it whatever the policies say.
    Blocked { setting: Setting },
    /// What was visible neither confirms nor rules out a denial.
    Undetermined { missing: Vec<Missing> },
}

impl Decision {
    pub fn is_denied(&self) -> bool {
        matches!(self, Decision::ExplicitDeny { .. } | Decision::ImplicitDeny { .. } | Decision::Blocked { .. })
    }

    /// The statement to show in `explain`: the deny, or the nearest allow that failed.
    pub fn statement(&self) -> Option<&StatementRef> {
        match self {
            Decision::ExplicitDeny { by } => Some(by),
            Decision::ImplicitDeny { nearest, .. } => nearest.as_ref(),
            Decision::Allow { by } => by.first(),
            _ => None,
        }
    }
}

/// Three-valued truth: what is not visible is `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    Unknown,
}

impl Tri {
    fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Unknown,
        }
    }
    fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Unknown,
        }
    }
}

/// One policy's statements, decided against the request.
struct Judged {
    policy: PolicyRef,
    rows: Vec<(StatementRef, Applies)>,
}

impl Judged {
    fn new(kind: PolicyKind, id: &str, doc: &Value, req: &Request) -> Judged {
        let rows = statements(doc)
            .into_iter()
            .map(|s| {
                let (applies, conditions) = s.applies(req, kind.names_principals());
                let r = StatementRef {
                    policy: PolicyRef { kind, id: id.to_string() },
                    index: s.index,
                    sid: s.sid,
                    effect: s.effect.unwrap_or(Effect::Allow),
                    conditions,
                    statement: s.raw,
                };
                (r, applies)
            })
            .collect();
        Judged { policy: PolicyRef { kind, id: id.to_string() }, rows }
    }

    fn allows(&self) -> impl Iterator<Item = (&StatementRef, &Applies)> {
        self.rows.iter().filter(|(s, _)| s.effect == Effect::Allow).map(|(s, a)| (s, a))
    }
}

/// The Allow verdict of a set of policies (any of them allowing suffices), with the statement.
fn any_allow<'a>(set: &[&'a Judged], accept: impl Fn(&Applies) -> bool) -> (Tri, Option<&'a StatementRef>) {
    let mut unknown = false;
    for j in set {
        for (s, a) in j.allows() {
            if accept(a) {
                return (Tri::Yes, Some(s));
            }
            unknown |= matches!(a, Applies::Unknown(_));
        }
    }
    (if unknown { Tri::Unknown } else { Tri::No }, None)
}

/// The allow that came closest: principal, action and resource matched, a condition did not.
fn nearest(set: &[&Judged]) -> Option<StatementRef> {
    set.iter().flat_map(|j| j.allows()).find(|(_, a)| **a == Applies::NoCondition).map(|(s, _)| s.clone())
}

/// A layer that is either read (some policies) or not (a gap).
struct Layer {
    judged: Vec<Judged>,
    /// False when the layer applies but could not be read (its verdict is then unknown).
    known: bool,
}

impl Layer {
    fn absent() -> Layer {
        Layer { judged: vec![], known: true }
    }
    fn unknown() -> Layer {
        Layer { judged: vec![], known: false }
    }
    fn refs(&self) -> Vec<&Judged> {
        self.judged.iter().collect()
    }
}

/// Decides `req` against `snap`, following AWS's documented evaluation logic.
pub fn evaluate(req: &Request, snap: &Snapshot) -> Decision {
    let mut req = req.clone();
    let mut missing: Vec<Missing> = vec![];
    let miss = |missing: &mut Vec<Missing>, item: String, reason: String| missing.push(Missing { item, reason });
    let kms = req.action.to_ascii_lowercase().starts_with("kms:");
    let caller = req.caller.clone();
    let anonymous = matches!(caller.kind, CallerKind::Anonymous | CallerKind::AwsService);

    let bucket = if kms { None } else { req.bucket.as_deref().and_then(|b| snap.buckets.get(b)) };
    let resource_account = req.resource_account.clone().or_else(|| bucket.and_then(|b| b.owner_account.clone()));
    if req.resource_account.is_none() {
        req.resource_account = resource_account.clone();
        if let Some(a) = &resource_account {
            req.context.entry("s3:ResourceAccount".into()).or_insert(CtxValue::Str(a.clone()));
        }
    }
    // The organization id is a snapshot fact, not a log one.
    if let Some(Visibility::Visible(org)) = caller.account.as_deref().and_then(|a| snap.accounts.get(a))
        && let Some(id) = &org.org_id
    {
        req.context.entry("aws:PrincipalOrgID".into()).or_insert(CtxValue::Str(id.clone()));
    }

    // 1. S3 settings that refuse before any policy is read.
    if let Some(setting) = s3_override(&req, bucket, &mut missing) {
        return Decision::Blocked { setting };
    }

    // 2. Gather every layer.
    let org_levels = |account: Option<&str>, rcp: bool, missing: &mut Vec<Missing>| -> Option<Vec<Judged>> {
        let label = if rcp { "rcps" } else { "scps" };
        let Some(account) = account else {
            miss(missing, format!("{label} (account unknown)"), "not in the log".into());
            return None;
        };
        match snap.accounts.get(account) {
            Some(Visibility::Visible(org)) => {
                if org.org_id.is_none() || org.management {
                    return Some(vec![]);
                }
                let kind = if rcp { PolicyKind::Rcp } else { PolicyKind::Scp };
                let levels = if rcp { &org.rcps } else { &org.scps };
                // One Judged per level, so that each level can be asked for an allow.
                Some(
                    levels
                        .iter()
                        .map(|l| {
                            let mut j = Judged { policy: PolicyRef { kind, id: l.target.clone() }, rows: vec![] };
                            for p in &l.policies {
                                j.rows.extend(Judged::new(kind, &p.id, &p.document, &req).rows);
                            }
                            j
                        })
                        .collect(),
                )
            }
            Some(Visibility::NotVisible { reason, .. }) => {
                miss(missing, format!("{label} of account {account}"), reason.to_string());
                None
            }
            None => {
                miss(missing, format!("{label} of account {account}"), "not fetched".into());
                None
            }
        }
    };
    // RCPs do not apply to AWS service principals; SCPs apply to the caller's account only.
    let rcps = if caller.kind == CallerKind::AwsService {
        Some(vec![])
    } else {
        org_levels(resource_account.as_deref(), true, &mut missing)
    };
    let scps = if anonymous { Some(vec![]) } else { org_levels(caller.account.as_deref(), false, &mut missing) };

    let vpce: Option<Layer> = req.vpc_endpoint.as_ref().map(|id| match snap.vpc_endpoints.get(id).map(|v| &v.policy) {
        Some(Visibility::Visible(Some(p))) => {
            Layer { judged: vec![Judged::new(PolicyKind::VpcePolicy, id, &p.document, &req)], known: true }
        }
        Some(Visibility::Visible(None)) => Layer::absent(),
        other => {
            miss(&mut missing, format!("vpce-policy {id}"), reason_of(other));
            Layer::unknown()
        }
    });

    let resource = if kms {
        match snap.kms_keys.get(&req.resource).map(|k| &k.key_policy) {
            Some(Visibility::Visible(p)) => Layer {
                judged: vec![Judged::new(PolicyKind::KeyPolicy, &req.resource, &p.document, &req)],
                known: true,
            },
            other => {
                miss(&mut missing, format!("key-policy {}", req.resource), reason_of(other));
                Layer::unknown()
            }
        }
    } else {
        let arn = format!("arn:aws:s3:::{}", req.bucket.as_deref().unwrap_or(""));
        match bucket.map(|b| &b.policy) {
            Some(Visibility::Visible(Some(p))) => {
                Layer { judged: vec![Judged::new(PolicyKind::BucketPolicy, &arn, &p.document, &req)], known: true }
            }
            Some(Visibility::Visible(None)) => Layer::absent(),
            other => {
                miss(&mut missing, format!("bucket-policy {arn}"), reason_of(other));
                Layer::unknown()
            }
        }
    };

    let principal = caller.policy_holder().and_then(|a| snap.principals.get(a));
    let needs_identity = !anonymous && caller.kind != CallerKind::Root;
    let who = caller
        .policy_holder()
        .map(str::to_string)
        .unwrap_or_else(|| format!("a caller of account {}", caller.account.as_deref().unwrap_or("?")));
    let (identity, boundary) = if !needs_identity {
        (Layer::absent(), Layer::absent())
    } else if let Some(p) = principal {
        let mut identity = Layer::absent();
        for v in [&p.identity_policies, &p.group_policies] {
            match v {
                Visibility::Visible(list) => identity.judged.extend(judge_all(PolicyKind::Identity, list, &req)),
                Visibility::NotVisible { reason, .. } => {
                    miss(&mut missing, format!("identity policies of {who}"), reason.to_string());
                    identity.known = false;
                }
            }
        }
        let boundary = match &p.permissions_boundary {
            Visibility::Visible(Some(b)) => {
                Layer { judged: vec![Judged::new(PolicyKind::Boundary, &b.id, &b.document, &req)], known: true }
            }
            Visibility::Visible(None) => Layer::absent(),
            Visibility::NotVisible { reason, .. } => {
                miss(&mut missing, format!("boundary of {who}"), reason.to_string());
                Layer::unknown()
            }
        };
        (identity, boundary)
    } else {
        miss(&mut missing, format!("identity policies of {who}"), "not fetched".into());
        (Layer::unknown(), Layer::unknown())
    };

    let session = if caller.is_session() {
        match caller.access_key_id.as_deref().and_then(|k| snap.sessions.get(k)) {
            Some(Visibility::Visible(Some(p))) => {
                Layer { judged: vec![Judged::new(PolicyKind::SessionPolicy, &p.id, &p.document, &req)], known: true }
            }
            Some(Visibility::Visible(None)) => Layer::absent(),
            // A role session without a known AssumeRole companion is taken to have no session policy;
            // a federated user session always has one.
            None if caller.kind == CallerKind::AssumedRole => Layer::absent(),
            other => {
                miss(
                    &mut missing,
                    format!("session policy of {}", caller.session_arn.as_deref().unwrap_or("?")),
                    reason_of(other),
                );
                Layer::unknown()
            }
        }
    } else {
        Layer::absent()
    };

    // 3. An explicit deny anywhere.
    let all: Vec<&Judged> = rcps
        .iter()
        .flatten()
        .chain(scps.iter().flatten())
        .chain(vpce.iter().flat_map(|l| &l.judged))
        .chain(&resource.judged)
        .chain(&identity.judged)
        .chain(&boundary.judged)
        .chain(&session.judged)
        .collect();
    // An unreadable Deny could flip an allow; an unreadable Allow matters only if nothing else decides.
    let mut unreadable_allows: Vec<Missing> = vec![];
    for j in &all {
        for (s, a) in &j.rows {
            match a {
                Applies::Yes { .. } if s.effect == Effect::Deny => return Decision::ExplicitDeny { by: s.clone() },
                Applies::Unknown(why) => {
                    let item = format!("{} {} statement #{}", j.policy.kind.label(), j.policy.id, s.index);
                    let list = if s.effect == Effect::Deny { &mut missing } else { &mut unreadable_allows };
                    miss(list, item, why.clone());
                }
                _ => {}
            }
        }
    }

    let yes = |a: &Applies| matches!(a, Applies::Yes { .. });
    let mut allowed_by: Vec<StatementRef> = vec![];

    // 4. Gates: every RCP and SCP level, then the endpoint policy.
    let mut gates = Tri::Yes;
    for (levels, kind) in [(&rcps, PolicyKind::Rcp), (&scps, PolicyKind::Scp)] {
        match levels {
            None => gates = gates.and(Tri::Unknown),
            Some(levels) => {
                for level in levels {
                    let (t, s) = any_allow(&[level], yes);
                    if t == Tri::No {
                        let policies = level.rows.iter().map(|(s, _)| s.policy.clone()).fold(vec![], dedup);
                        return Decision::ImplicitDeny {
                            kind,
                            policies: if policies.is_empty() { vec![level.policy.clone()] } else { policies },
                            nearest: nearest(&[level]),
                            cross_account: false,
                        };
                    }
                    gates = gates.and(t);
                    allowed_by.extend(s.cloned());
                }
            }
        }
    }
    if let Some(v) = &vpce {
        if !v.known {
            gates = gates.and(Tri::Unknown);
        } else if !v.judged.is_empty() {
            let (t, s) = any_allow(&v.refs(), yes);
            if t == Tri::No {
                return Decision::ImplicitDeny {
                    kind: PolicyKind::VpcePolicy,
                    policies: v.judged.iter().map(|j| j.policy.clone()).collect(),
                    nearest: nearest(&v.refs()),
                    cross_account: false,
                };
            }
            gates = gates.and(t);
            allowed_by.extend(s.cloned());
        }
    }

    // 5. Identity and resource policies, the boundary and the session policy.
    let restrict = restrict_public(bucket, &req, &caller);
    let grant = |min: Grantee| {
        let (t, s) = any_allow(&resource.refs(), |a| match a {
            Applies::Yes { grantee: Some(g) } => *g >= min,
            _ => false,
        });
        let t = if !resource.known { t.or(Tri::Unknown) } else { t };
        match (t, s) {
            (Tri::Yes, Some(s)) if restrict && is_public(&s.statement) => (Tri::No, None),
            other => other,
        }
    };
    let (res_direct, s_direct) = grant(Grantee::Direct);
    let (res_role, s_role) = grant(Grantee::Role);
    let (res_any, s_any) = grant(Grantee::Account);
    let layer_allows = |l: &Layer, absent_means: Tri| -> (Tri, Option<StatementRef>) {
        if !l.known {
            return (Tri::Unknown, None);
        }
        if l.judged.is_empty() {
            return (absent_means, None);
        }
        let (t, s) = any_allow(&l.refs(), yes);
        (t, s.cloned())
    };
    let (id_allow, s_id) =
        if caller.kind == CallerKind::Root { (Tri::Yes, None) } else { layer_allows(&identity, Tri::No) };
    let (b_allow, s_b) = layer_allows(&boundary, Tri::Yes);
    let (sess_allow, s_sess) = layer_allows(&session, Tri::Yes);

    let cross = match (caller.account.as_deref(), resource_account.as_deref()) {
        (Some(c), Some(r)) => Tri::from_bool(c != r),
        _ if anonymous => Tri::Yes,
        _ => {
            miss(&mut missing, "the resource owner account".into(), "not in the log or snapshot".into());
            Tri::Unknown
        }
    };
    let limits = b_allow.and(sess_allow);
    let same_ok = if anonymous {
        res_direct
    } else if kms {
        res_direct.or(res_role.and(limits)).or(res_any.and(id_allow).and(limits))
    } else {
        res_direct.or(res_role.and(limits)).or(id_allow.and(limits))
    };
    let cross_ok = if anonymous { res_direct } else { res_any.and(id_allow).and(limits) };
    let permitted = match cross {
        Tri::Yes => cross_ok,
        Tri::No => same_ok,
        Tri::Unknown => match (same_ok, cross_ok) {
            (Tri::No, _) => Tri::No,
            (_, Tri::Yes) => Tri::Yes,
            _ => Tri::Unknown,
        },
    };

    match gates.and(permitted) {
        Tri::Yes if missing.is_empty() => {
            let res = [s_direct, s_role, s_any].into_iter().flatten().next().cloned();
            allowed_by.extend(res.into_iter().chain(s_id).chain(s_b).chain(s_sess));
            Decision::Allow { by: allowed_by }
        }
        Tri::No => {
            let is_cross = cross == Tri::Yes && !anonymous;
            let resource_refs: Vec<PolicyRef> = resource.judged.iter().map(|j| j.policy.clone()).collect();
            let res_kind = if kms { PolicyKind::KeyPolicy } else { PolicyKind::BucketPolicy };
            let deny = |kind: PolicyKind, l: &Layer, extra: Vec<PolicyRef>| Decision::ImplicitDeny {
                kind,
                policies: l.judged.iter().map(|j| j.policy.clone()).chain(extra).collect(),
                nearest: nearest(&l.refs()),
                cross_account: is_cross,
            };
            // Name the layer that lacked the allow: the resource side first when it had to grant.
            if anonymous || ((is_cross || kms) && res_any == Tri::No) {
                deny(res_kind, &resource, vec![])
            } else if id_allow == Tri::No && res_role != Tri::Yes {
                deny(PolicyKind::Identity, &identity, if is_cross { vec![] } else { resource_refs })
            } else if b_allow == Tri::No {
                deny(PolicyKind::Boundary, &boundary, vec![])
            } else if sess_allow == Tri::No {
                deny(PolicyKind::SessionPolicy, &session, vec![])
            } else {
                deny(PolicyKind::Identity, &identity, resource_refs)
            }
        }
        _ => {
            missing.extend(unreadable_allows);
            if missing.is_empty() {
                missing.push(Missing { item: "evaluation".into(), reason: "undecided".into() });
            }
            missing.dedup();
            Decision::Undetermined { missing }
        }
    }
}

impl Tri {
    fn from_bool(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }
}

fn dedup(mut v: Vec<PolicyRef>, p: PolicyRef) -> Vec<PolicyRef> {
    if !v.contains(&p) {
        v.push(p);
    }
    v
}

fn judge_all(kind: PolicyKind, list: &[Policy], req: &Request) -> Vec<Judged> {
    list.iter().map(|p| Judged::new(kind, &p.id, &p.document, req)).collect()
}

fn reason_of<T>(v: Option<&Visibility<T>>) -> String {
    match v {
        Some(Visibility::NotVisible { reason, detail }) => match detail {
            Some(d) => format!("{reason}: {d}"),
            None => reason.to_string(),
        },
        _ => "not fetched".into(),
    }
}

const PUBLIC_ACLS: [&str; 3] = ["public-read", "public-read-write", "authenticated-read"];

/// Block Public Access and Object Ownership, which S3 applies before policies.
fn s3_override(
    req: &Request,
    bucket: Option<&super::snapshot::BucketConfig>,
    missing: &mut Vec<Missing>,
) -> Option<Setting> {
    let acl = match req.get("s3:x-amz-acl") {
        Some(CtxValue::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let grants: Vec<String> = req
        .context
        .iter()
        .filter(|(k, _)| k.to_ascii_lowercase().starts_with("s3:x-amz-grant-"))
        .map(|(k, v)| {
            format!(
                "{}={}",
                &k[3..],
                match v {
                    CtxValue::Str(s) => s.clone(),
                    other => format!("{other:?}"),
                }
            )
        })
        .collect();
    if acl.is_none() && grants.is_empty() {
        return None;
    }
    let name = req.bucket.as_deref().unwrap_or("?");
    let Some(b) = bucket else {
        missing.push(Missing { item: format!("settings of bucket {name}"), reason: "not fetched".into() });
        return None;
    };
    let shown = acl.clone().unwrap_or_else(|| grants.join("; "));
    let sets_acl = acl.as_deref().is_some_and(|a| a != "bucket-owner-full-control") || !grants.is_empty();
    if sets_acl {
        match &b.ownership {
            Visibility::Visible(Some(ObjectOwnership::BucketOwnerEnforced)) => {
                return Some(Setting::BucketOwnerEnforced { acl: shown });
            }
            Visibility::Visible(_) => {}
            Visibility::NotVisible { reason, .. } => missing
                .push(Missing { item: format!("ownership controls of bucket {name}"), reason: reason.to_string() }),
        }
    }
    let public = acl.as_deref().is_some_and(|a| PUBLIC_ACLS.contains(&a))
        || grants.iter().any(|g| g.contains("AllUsers") || g.contains("AuthenticatedUsers"));
    if public {
        for (v, account_level) in [(&b.public_access_block, false), (&b.account_public_access_block, true)] {
            match v {
                Visibility::Visible(Some(PublicAccessBlock { block_public_acls: true, .. })) => {
                    return Some(Setting::BlockPublicAcls { account_level, acl: shown });
                }
                Visibility::Visible(_) => {}
                Visibility::NotVisible { reason, .. } => missing.push(Missing {
                    item: format!(
                        "{} public access block of bucket {name}",
                        if account_level { "account" } else { "bucket" }
                    ),
                    reason: reason.to_string(),
                }),
            }
        }
    }
    None
}

/// `RestrictPublicBuckets` is on (bucket or account) and the caller is outside the owner's account:
/// a public bucket policy then grants it nothing.
fn restrict_public(
    bucket: Option<&super::snapshot::BucketConfig>,
    req: &Request,
    caller: &super::request::Caller,
) -> bool {
    let Some(b) = bucket else { return false };
    let on = [&b.public_access_block, &b.account_public_access_block]
        .iter()
        .any(|v| matches!(v, Visibility::Visible(Some(PublicAccessBlock { restrict_public_buckets: true, .. }))));
    on && caller.account.as_deref() != req.resource_account.as_deref()
}

/// Condition keys that pin a `*` grant to known callers, so that S3 does not count it as public.
const NON_PUBLIC_KEYS: [&str; 10] = [
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
    "aws:sourceip",
];

/// A statement granting to everyone without a condition that pins the caller.
fn is_public(statement: &Value) -> bool {
    let star = match statement.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(m)) => {
            m.get("AWS").is_some_and(|v| v == "*" || v.as_array().is_some_and(|a| a.iter().any(|x| x == "*")))
        }
        _ => false,
    };
    let pinned = statement.get("Condition").and_then(Value::as_object).is_some_and(|ops| {
        ops.values()
            .filter_map(Value::as_object)
            .any(|entries| entries.keys().any(|k| NON_PUBLIC_KEYS.contains(&k.to_ascii_lowercase().as_str())))
    });
    star && !pinned
}
