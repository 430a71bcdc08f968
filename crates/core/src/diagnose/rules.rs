//! The cause taxonomy of causes.md §3: one small pure function per tag, each returning its
//! confidence and the evidence that led there, and [`RULES`], the table in §3 order.
//!
//! A rule sees one target event together with what correlation found for it ([`EventCtx`]). Rules
//! that read "deny*" (an explicit deny or a generic message) never fire on a message shape the
//! parser does not know, so an unknown text ends as `unexplained`, not as a confident tag.

use std::net::IpAddr;

use crate::event::Event;

use super::Confidence::{self, High, Low, Medium};
use super::correlate::{Companions, KmsLink};
use super::message::{Message, PolicyKind, Reason, Shape, Verdict, find_ci, starts_with_ci};
use super::policy::{self, DenyHit, Document, KeyClass, Request, Tri};
use super::steps::{self, Fill};
use super::text::{clip, fmt_gap, fmt_time};
use crate::event::is_account_id;

/// What a rule concluded for one event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub confidence: Confidence,
    pub evidence: String,
}

fn found(confidence: Confidence, evidence: String) -> Option<Finding> {
    Some(Finding { confidence, evidence })
}

/// One row of the §3 table.
pub(crate) struct Rule {
    pub tag: &'static str,
    pub check: fn(&EventCtx<'_>) -> Option<Finding>,
    pub steps: fn(&Fill) -> Vec<steps::Step>,
}

pub(crate) const UNEXPLAINED: &str = "unexplained";

/// The cause tags in the order of causes.md §3 (which breaks ties when sorting). `anonymous` and
/// `presigned-url` are facts, reported in `Diagnosis::facts`; `unexplained` is applied last, only
/// to events no rule explains.
pub(crate) const RULES: &[Rule] = &[
    Rule { tag: "identity-no-allow", check: identity_no_allow, steps: steps::simulate },
    Rule { tag: "identity-explicit-deny", check: identity_explicit_deny, steps: steps::simulate },
    Rule { tag: "bucket-policy-deny", check: bucket_policy_deny, steps: steps::bucket_policy_deny },
    Rule { tag: "bucket-policy-no-allow", check: bucket_policy_no_allow, steps: steps::bucket_policy },
    Rule { tag: "scp-deny", check: scp_deny, steps: steps::scp },
    Rule { tag: "rcp-deny", check: rcp_deny, steps: steps::rcp },
    Rule { tag: "vpce-policy", check: vpce_policy, steps: steps::vpce },
    Rule { tag: "permissions-boundary", check: permissions_boundary, steps: steps::boundary },
    Rule { tag: "session-policy", check: session_policy, steps: steps::session },
    Rule { tag: "kms-denied", check: kms_denied, steps: steps::kms },
    Rule { tag: "kms-key-unusable", check: kms_key_unusable, steps: steps::kms_key },
    Rule { tag: "kms-aws-managed-cross-account", check: kms_aws_managed_cross_account, steps: steps::kms_managed },
    Rule { tag: "block-public-acls", check: block_public_acls, steps: steps::public_access_block },
    Rule { tag: "acl-not-supported", check: acl_not_supported, steps: steps::ownership_controls },
    Rule { tag: "request-error", check: request_error, steps: steps::request_error },
    Rule {
        tag: "bucket-owner-full-control-required",
        check: bucket_owner_full_control_required,
        steps: steps::bucket_policy,
    },
    Rule { tag: "cross-account", check: cross_account, steps: steps::cross_account },
    Rule { tag: "sse-header-required", check: sse_header_required, steps: steps::sse_policy },
    Rule { tag: "sse-c-blocked", check: sse_c_blocked, steps: steps::bucket_encryption },
    Rule { tag: "mfa-required", check: mfa_required, steps: steps::mfa },
    Rule { tag: "insecure-transport", check: insecure_transport, steps: steps::bucket_policy },
    Rule { tag: "network-condition", check: network_condition, steps: steps::network },
    Rule { tag: "expected-owner-mismatch", check: expected_owner_mismatch, steps: steps::bucket_owner },
    Rule { tag: "object-lock-headers", check: object_lock_headers, steps: steps::object_lock },
    Rule { tag: "requester-pays", check: requester_pays, steps: steps::requester_pays },
    Rule { tag: "access-point", check: access_point, steps: steps::access_point },
    Rule { tag: "recent-policy-change", check: recent_policy_change, steps: steps::policy_change },
];

/// Position of a tag in §3 order (`unexplained` last).
pub(crate) fn tag_rank(tag: &str) -> usize {
    RULES.iter().position(|r| r.tag == tag).unwrap_or(RULES.len())
}

/// One target event with what correlation found for it.
pub(crate) struct EventCtx<'a> {
    pub ev: &'a Event,
    pub msg: Message<'a>,
    /// The bucket owner account and where it was learnt.
    pub owner: Option<(&'a str, &'static str)>,
    pub kms: Option<KmsLink<'a>>,
    pub vpce: Option<&'a Event>,
    pub session: Option<&'a Event>,
    /// The newest relevant policy change before the group's first denial, and how many others.
    pub change: Option<(&'a Event, usize)>,
    pub first_denial_ms: Option<i64>,
    /// The policy documents in the trail that govern this request, matched against it.
    pub docs: Vec<PolicyView<'a>>,
    /// For an UploadPart: the same caller's successful CreateMultipartUpload of the object.
    pub initiate: Option<&'a Event>,
    /// Why this request looks like an attack rather than a misconfigured client (empty: it does not).
    pub suspicious: Vec<String>,
    /// The same caller's newest successful write to the same bucket and prefix before `change`.
    pub last_success: Option<&'a Event>,
}

/// Where a policy document found in the trail sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocPlace {
    BucketPolicy,
    IdentityPolicy,
    Organization,
    SessionPolicy,
}

impl DocPlace {
    pub(crate) fn label(self) -> &'static str {
        match self {
            DocPlace::BucketPolicy => "bucket policy",
            DocPlace::IdentityPolicy => "identity policy",
            DocPlace::Organization => "organization policy",
            DocPlace::SessionPolicy => "session policy",
        }
    }
}

/// One policy document from the trail, matched against one denied request.
#[derive(Debug, Clone)]
pub(crate) struct PolicyView<'a> {
    /// The event that set it (PutBucketPolicy, PutRolePolicy, AssumeRole…).
    pub source: &'a Event,
    pub place: DocPlace,
    /// The document is the whole policy of its place (a bucket policy, a session policy), so a
    /// Deny it lacks is not there at all.
    pub authoritative: bool,
    /// Deny statements that certainly apply to the request.
    pub hits: Vec<DenyHit>,
    /// Condition classes of Deny statements that may apply (certainly or not known).
    pub possible: Vec<KeyClass>,
}

impl PolicyView<'_> {
    fn of<'a>(
        source: &'a Event,
        place: DocPlace,
        authoritative: bool,
        doc: &Document,
        req: &Request<'_>,
    ) -> PolicyView<'a> {
        let mut possible: Vec<KeyClass> = doc
            .statements
            .iter()
            .filter(|st| st.deny && req.applies(st) != Tri::No)
            .flat_map(|st| st.conditions.iter().map(|c| policy::key_class(&c.key)))
            .collect();
        possible.sort();
        possible.dedup();
        PolicyView { source, place, authoritative, hits: policy::denies(doc, req), possible }
    }

    /// "the bucket policy set by PutBucketPolicy at 2026-11-21T08:55:00Z (eventID …)".
    pub(crate) fn origin(&self) -> String {
        format!(
            "the {} set by {} at {} (eventID {})",
            self.place.label(),
            clip(&self.source.event_name, 60),
            fmt_time(self.source.event_time_ms),
            clip(&self.source.event_id, 80)
        )
    }
}

impl<'a> EventCtx<'a> {
    pub(crate) fn new(ev: &'a Event, companions: &'a Companions<'_>) -> Self {
        let owner = ev
            .bucket_owner
            .as_deref()
            .filter(|o| !o.is_empty())
            .map(|o| (o, "the bucket resource"))
            .or_else(|| companions.owner_from_copies(ev).map(|o| (o, "the owner's copy (sharedEventID)")))
            .or_else(|| {
                // A copy delivered to an account other than the caller's went to the bucket owner.
                let recipient = ev.recipient_account.as_deref().filter(|r| is_account_id(r))?;
                (ev.account.as_deref() != Some(recipient)).then_some((recipient, "recipientAccountId"))
            });
        let msg = Message::parse(ev.error_message.as_deref());
        let session = companions.session_for(ev);
        let docs = documents_for(ev, &msg, session, companions);
        let initiate = (ev.event_name == "UploadPart").then(|| companions.initiate_before(ev)).flatten();
        let mut ctx = EventCtx {
            ev,
            msg,
            owner,
            kms: companions.kms_for(ev),
            vpce: companions.vpce_for(ev),
            session,
            change: None,
            first_denial_ms: None,
            docs,
            initiate,
            suspicious: Vec::new(),
            last_success: None,
        };
        ctx.suspicious = suspicious_signs(&ctx, companions);
        ctx
    }

    /// A Deny statement of a document this request's message points to, certainly applying,
    /// whose conditions include `class`.
    pub(crate) fn hit(&self, class: KeyClass) -> Option<(&PolicyView<'a>, &DenyHit)> {
        self.docs.iter().find_map(|d| d.hits.iter().find(|h| h.classes.contains(&class)).map(|h| (d, h)))
    }

    /// Any certainly-applying Deny statement (the first document's first).
    pub(crate) fn any_hit(&self) -> Option<(&PolicyView<'a>, &DenyHit)> {
        self.docs.iter().find_map(|d| d.hits.first().map(|h| (d, h)))
    }

    /// The whole policy of the place the message names is in the trail and no Deny statement of
    /// it that may apply uses a `class` condition: that cause is ruled out.
    pub(crate) fn ruled_out(&self, class: KeyClass) -> Option<&PolicyView<'a>> {
        self.docs.iter().find(|d| d.authoritative && !d.possible.contains(&class))
    }

    /// The verdict on the KMS key: from the S3 message when it names a KMS action, else from the
    /// correlated KMS event's own message (S3 may only have said "Access Denied").
    pub(crate) fn kms_verdict(&self) -> Option<Reason> {
        if self.msg.is_kms() {
            return self.msg.reason();
        }
        let link = self.kms?;
        Message::parse(link.event.error_message.as_deref()).reason()
    }

    /// A policy can have caused this error (AccessDenied, or nothing recorded).
    pub(crate) fn policy_can_cause(&self) -> bool {
        self.denied()
    }

    /// errorCode AccessDenied (or none recorded).
    fn denied(&self) -> bool {
        self.ev.error_code.as_deref().is_none_or(|c| c == "AccessDenied")
    }

    /// "deny*": an AccessDenied that is an explicit deny or says nothing more than "Access Denied".
    fn deny_star(&self) -> bool {
        self.denied() && self.msg.explicit_or_generic()
    }

    /// An AccessDenied whose message names no reason.
    pub(crate) fn generic(&self) -> bool {
        self.denied() && self.msg.is_generic()
    }

    fn explicit_in(&self, kinds: &[PolicyKind]) -> Option<PolicyKind> {
        self.msg.explicit_kind().filter(|k| kinds.contains(k))
    }

    fn who(&self) -> &'a str {
        self.msg.principal.or(self.ev.identity_arn.as_deref()).unwrap_or(self.ev.principal.as_str())
    }

    fn action(&self) -> &'a str {
        self.msg.action.unwrap_or("s3:PutObject")
    }

    /// "caller account A ≠ bucket owner B (from …)" for a cross-account request.
    pub(crate) fn cross_account(&self) -> Option<String> {
        let caller = self.ev.account.as_deref().filter(|a| is_account_id(a))?;
        let (owner, source) = self.owner?;
        (caller != owner).then(|| format!("caller account {caller} ≠ bucket owner {owner} (from {source})"))
    }

    fn anonymous(&self) -> bool {
        self.ev.anonymous()
    }
}

/// The policy documents the trail holds for the place(s) the message points to.
fn documents_for<'a>(
    ev: &'a Event,
    msg: &Message<'_>,
    session: Option<&'a Event>,
    companions: &'a Companions<'_>,
) -> Vec<PolicyView<'a>> {
    let mut out = Vec::new();
    let Some(resource) = ev.object_arn() else { return out };
    let principal_arn = super::steps::principal_arn(ev);
    let action = msg.s3_action().unwrap_or(policy::s3_action_of(ev));
    let req = Request { ev, action, resource, principal_arn: principal_arn.clone() };
    let kind = msg.reason().filter(|_| !msg.is_kms()).map(|r| r.kind);
    let generic = msg.is_generic();
    if (generic || kind == Some(PolicyKind::Resource))
        && let Some(bucket) = ev.bucket.as_deref()
        && let Some((source, doc)) = companions.bucket_policy_at(bucket, ev.event_time_ms)
    {
        out.push(PolicyView::of(source, DocPlace::BucketPolicy, true, doc, &req));
    }
    if (generic || kind == Some(PolicyKind::Identity))
        && let Some(arn) = principal_arn.as_deref()
    {
        for (source, doc) in companions.identity_documents(arn, ev.event_time_ms) {
            out.push(PolicyView::of(source, DocPlace::IdentityPolicy, false, doc, &req));
        }
    }
    if matches!(kind, Some(PolicyKind::Scp | PolicyKind::Rcp)) {
        for (source, doc) in companions.organization_documents(ev.event_time_ms) {
            out.push(PolicyView::of(source, DocPlace::Organization, false, doc, &req));
        }
    }
    if (generic || kind == Some(PolicyKind::Session))
        && let Some(s) = session
        && let Some(doc) = Companions::session_document(s)
    {
        out.push(PolicyView::of(s, DocPlace::SessionPolicy, true, &doc, &req));
    }
    out
}

/// What the suspicion rules see in a key or user agent, in a few bits: a probe file name (1)
/// and which payload (the rest). Events that differ in these are never folded together.
pub(crate) fn text_marks(text: &str) -> u8 {
    let payload = match payload(text) {
        None => 0,
        Some(p) if p.starts_with("control") => 2,
        Some(_) => 4,
    };
    u8::from(probe_name(text)) | payload
}

/// File names web-shell and upload probes use.
fn probe_name(key: &str) -> bool {
    const EXT: &[&str] = &[".php", ".php5", ".phtml", ".jsp", ".jspx", ".asp", ".aspx", ".cgi"];
    const STEMS: &[&str] = &["shell", "webshell", "cmd.", "c99.", "r57.", "wso."];
    let bytes = key.as_bytes();
    let name = memchr::memrchr(b'/', bytes).map_or(bytes, |at| &bytes[at + 1..]);
    // Compared without case, without lowercasing a copy of the name. Each extension has one
    // dot, its first byte: a name ends with one when its last dot starts that extension. Every
    // denial's key passes here (for its class), so most names stop at a length or a first byte.
    let ext = memchr::memrchr(b'.', name).map_or(&[][..], |at| &name[at..]);
    (4..=6).contains(&ext.len()) && EXT.iter().any(|e| ext.eq_ignore_ascii_case(e.as_bytes()))
        || matches!(name.first().map(|b| b | 0x20), Some(b's' | b'w' | b'c' | b'r'))
            && STEMS.iter().any(|s| name.get(..s.len()).is_some_and(|h| h.eq_ignore_ascii_case(s.as_bytes())))
}

/// A spreadsheet formula or a terminal escape: text meant for whoever views the logs.
/// Every denial's key and user agent pass here (for its class): ASCII text (nearly all) is
/// checked as bytes in passes the compiler vectorizes, and its segments only looked at when a
/// formula is possible at all (it needs an `=` or a `(`).
fn payload(text: &str) -> Option<&'static str> {
    let bytes = text.as_bytes();
    let control = if bytes.is_ascii() {
        bytes.iter().fold(0u8, |seen, &b| seen | u8::from(b < 0x20) | u8::from(b == 0x7f)) != 0
    } else {
        text.chars().any(char::is_control)
    };
    if control {
        return Some("control characters (a terminal escape)");
    }
    // Segments between '/': one starting with '=', or with '+', '@' or '-' then a letter and
    // holding a '(' (`-cmd(...)`, not `-v2`). A multi-byte character is never a letter here.
    // Keys full of `name=value` folders are common: an '=' is looked at, not each segment.
    let starts_segment = |at: usize| at == 0 || bytes[at - 1] == b'/';
    let formula = memchr::memchr_iter(b'=', bytes).any(starts_segment)
        || (memchr::memchr(b'(', bytes).is_some()
            && bytes.split(|&b| b == b'/').any(|seg| match seg {
                [b'+' | b'@' | b'-', second, rest @ ..] => second.is_ascii_alphabetic() && rest.contains(&b'('),
                _ => false,
            }));
    formula.then_some("a spreadsheet formula")
}

/// The indicators of an attack on one denied write, each a short sentence.
fn suspicious_signs(c: &EventCtx<'_>, companions: &Companions<'_>) -> Vec<String> {
    let ev = c.ev;
    let mut signs = Vec::new();
    if !ev.event_source.starts_with("s3") {
        return signs;
    }
    if let Some(key) = ev.key.as_deref() {
        if probe_name(key) {
            signs.push(format!("probe file name {}", quote(key)));
        }
        if let Some(what) = payload(key) {
            signs.push(format!("{what} in the key {}", quote(key)));
        }
        if let Some(read) = companions.read_back(ev) {
            signs.push(format!(
                "the key {} was read back by {} at {} (write-then-read test)",
                quote(key),
                clip(read.source_ip.as_deref().unwrap_or(read.principal.as_str()), 60),
                fmt_time(read.event_time_ms)
            ));
        }
    }
    if let Some(what) = ev.user_agent.as_deref().and_then(payload) {
        signs.push(format!("{what} in the user agent"));
    }
    if ev.anonymous() && ev.event_name != "GetObject" {
        signs.push("an anonymous write (no credentials)".to_string());
    }
    if c.cross_account().is_some() && c.generic() {
        let n = companions.denied_bucket_count(&ev.principal);
        if n >= 3 {
            signs.push(format!("a caller outside the organization denied on {n} buckets"));
        }
    }
    signs
}

/// Log text quoted whole for evidence: clipped, and never cut inside: the quotes are ours.
pub(crate) fn quote(text: &str) -> String {
    format!("«{}»", clip(text, 160))
}

/// "errorMessage says no identity-based policy allows s3:PutObject on … for …" or
/// "errorMessage says an explicit deny in a resource-based policy refuses s3:PutObject on … to …".
fn msg_says(c: &EventCtx<'_>) -> String {
    let on = c.msg.resource.map(|r| format!(" on {}", clip(r, 200))).unwrap_or_default();
    let who = clip(c.who(), 200);
    let policy = c.msg.policy_arn.map(|a| format!(" (policy {})", clip(a, 160))).unwrap_or_default();
    match c.msg.reason() {
        Some(r) if r.verdict == Verdict::ExplicitDeny => format!(
            "errorMessage says an explicit deny in {}{policy} refuses {}{on} to {who}",
            r.kind.with_article(),
            c.action()
        ),
        Some(r) => format!("errorMessage says no {}{policy} allows {}{on} for {who}", r.kind.phrase(), c.action()),
        None => format!("errorMessage says {who} may not perform {}{on}", c.action()),
    }
}

// ---- identity, resource, organization and session policies (the message names them) ----

fn identity_no_allow(c: &EventCtx<'_>) -> Option<Finding> {
    let r = c.msg.s3_reason(PolicyKind::Identity)?;
    (r.verdict == Verdict::NoAllow).then(|| Finding { confidence: High, evidence: msg_says(c) })
}

/// "; statement "Sid" of the bucket policy set by … matches it (StringNotEquals …)".
fn statement_note(c: &EventCtx<'_>) -> String {
    match c.any_hit() {
        Some((doc, hit)) => format!(
            "; Deny statement {} of {} applies to this request{}",
            hit.name(),
            doc.origin(),
            if hit.statement.conditions.is_empty() {
                " unconditionally".to_string()
            } else {
                format!(" ({})", hit.conditions())
            }
        ),
        None => String::new(),
    }
}

fn identity_explicit_deny(c: &EventCtx<'_>) -> Option<Finding> {
    let r = c.msg.s3_reason(PolicyKind::Identity)?;
    (r.verdict == Verdict::ExplicitDeny)
        .then(|| Finding { confidence: High, evidence: format!("{}{}", msg_says(c), statement_note(c)) })
}

fn bucket_policy_deny(c: &EventCtx<'_>) -> Option<Finding> {
    let r = c.msg.s3_reason(PolicyKind::Resource)?;
    let note = statement_note(c);
    let note = if note.is_empty() {
        " (the bucket or access-point policy, or RestrictPublicBuckets)".to_string()
    } else {
        note
    };
    (r.verdict == Verdict::ExplicitDeny)
        .then(|| Finding { confidence: High, evidence: format!("{}{note}", msg_says(c)) })
}

/// A condition cause confirmed by a Deny statement in the trail: high, quoting the statement.
fn confirmed(c: &EventCtx<'_>, class: KeyClass, what: &str) -> Option<Finding> {
    let (doc, hit) = c.hit(class)?;
    found(
        High,
        format!(
            "Deny statement {} of {} applies to this request: {}; {what}",
            hit.name(),
            doc.origin(),
            hit.conditions()
        ),
    )
}

fn bucket_policy_no_allow(c: &EventCtx<'_>) -> Option<Finding> {
    if let Some(r) = c.msg.s3_reason(PolicyKind::Resource) {
        let cross =
            c.cross_account().map(|x| format!("; {x}, so the bucket policy must allow the caller")).unwrap_or_default();
        return (r.verdict == Verdict::NoAllow)
            .then(|| Finding { confidence: High, evidence: format!("{}{cross}", msg_says(c)) });
    }
    // Anonymous callers can only be allowed by the bucket policy (or an ACL).
    (c.anonymous() && c.generic()).then(|| Finding {
        confidence: Medium,
        evidence: "userIdentity.accountId is ANONYMOUS_PRINCIPAL (the client sent no credentials), so only a bucket policy or ACL could allow the write, and none does or Block Public Access stops it".to_string(),
    })
}

fn policy_kind_rule(c: &EventCtx<'_>, kind: PolicyKind) -> Option<Finding> {
    c.msg.reason().filter(|r| r.kind == kind)?;
    found(High, msg_says(c))
}

fn scp_deny(c: &EventCtx<'_>) -> Option<Finding> {
    policy_kind_rule(c, PolicyKind::Scp).or_else(|| {
        (c.msg.transitive_scp && c.msg.reason().is_some()).then(|| Finding {
            confidence: Medium,
            evidence: format!("{} transitively through a service control policy", msg_says(c)),
        })
    })
}

fn rcp_deny(c: &EventCtx<'_>) -> Option<Finding> {
    policy_kind_rule(c, PolicyKind::Rcp)
}

fn vpce_policy(c: &EventCtx<'_>) -> Option<Finding> {
    if let Some(f) = policy_kind_rule(c, PolicyKind::VpcEndpoint) {
        return Some(f);
    }
    let endpoint = c.ev.vpc_endpoint_id.as_deref();
    if c.msg.shape == Shape::VpceNetwork {
        return found(
            High,
            format!(
                "errorCode {} says the request was denied due to a VPC endpoint policy ({})",
                c.ev.error_code.as_deref().unwrap_or("VpceAccessDenied"),
                endpoint.unwrap_or("endpoint not recorded")
            ),
        );
    }
    if let Some(v) = c.vpce {
        return found(
            High,
            format!(
                "a VpceAccessDenied network event (eventID {}, endpoint {}, {}) for the same caller and {} says a VPC endpoint policy denied it",
                clip(&v.event_id, 80),
                v.vpc_endpoint_id.as_deref().or(endpoint).unwrap_or("not recorded"),
                fmt_time(v.event_time_ms),
                clip(&v.event_name, 60)
            ),
        );
    }
    let endpoint = endpoint.filter(|e| !e.is_empty())?;
    c.generic().then(|| Finding {
        confidence: Low,
        evidence: format!(
            "the request came through VPC endpoint {} (vpcEndpointId) and errorMessage is the generic \"Access Denied\" an in-organization endpoint denial gives, but no VpceAccessDenied network event was found to confirm it",
            clip(endpoint, 80)
        ),
    })
}

fn permissions_boundary(c: &EventCtx<'_>) -> Option<Finding> {
    policy_kind_rule(c, PolicyKind::Boundary)
}

/// "; the session (key ASIA…) was issued by AssumeRole at … by … with a session policy …".
fn session_note(c: &EventCtx<'_>) -> String {
    let Some(s) = c.session else { return String::new() };
    let by = s.identity_arn.as_deref().unwrap_or(s.principal.as_str());
    let policy = match s.session_policy.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => format!("with a session policy ({})", clip(p, 160)),
        None => "without a session policy".to_string(),
    };
    format!(
        "; its session (access key {}) was issued by {} at {} by {} {policy}",
        clip(c.ev.access_key_id.as_deref().unwrap_or(""), 40),
        clip(&s.event_name, 60),
        fmt_time(s.event_time_ms),
        clip(by, 200)
    )
}

fn session_policy(c: &EventCtx<'_>) -> Option<Finding> {
    if c.msg.reason().is_some_and(|r| r.kind == PolicyKind::Session) {
        return found(High, format!("{}{}", msg_says(c), session_note(c)));
    }
    // A session policy can only narrow the role's rights; with a generic message it is a lead.
    let s = c.session?;
    (c.generic() && s.session_policy.as_deref().is_some_and(|p| !p.is_empty())).then(|| Finding {
        confidence: Low,
        evidence: format!("errorMessage is the generic \"Access Denied\"{}", session_note(c)),
    })
}

// ---- encryption ----

fn is_kms_sse(ev: &Event) -> bool {
    ev.sse.as_deref().is_some_and(|s| starts_with_ci(s, "aws:kms")) || ev.sse_kms_key_id.is_some()
}

fn kms_denied(c: &EventCtx<'_>) -> Option<Finding> {
    if c.msg.is_kms() {
        let reason = c.msg.reason().map(|r| format!(" {}", r.because())).unwrap_or_default();
        return found(
            High,
            format!(
                "errorMessage says {} is not authorized to perform {} on {}{reason}",
                clip(c.who(), 200),
                c.action(),
                clip(c.msg.resource.unwrap_or("the key"), 200)
            ),
        );
    }
    if let Some(link) = c.kms {
        let k = link.event;
        let gap = match (k.event_time_ms, c.ev.event_time_ms) {
            (Some(a), Some(b)) if b >= a => format!("{} before", fmt_gap(b.saturating_sub(a))),
            (Some(a), Some(b)) => format!("{} after", fmt_gap(a.saturating_sub(b))),
            _ => "near".to_string(),
        };
        let kms_msg = Message::parse(k.error_message.as_deref());
        let why = kms_msg.reason().map(|r| format!(" {}", r.because())).unwrap_or_default();
        let key = k.kms_key_arn.as_deref().map(|a| format!(" on key {}", clip(a, 200))).unwrap_or_default();
        let this = match c.msg.shape {
            Shape::Generic | Shape::Absent => "the S3 record itself only says \"Access Denied\"".to_string(),
            _ => "S3 reported the write as denied".to_string(),
        };
        let (confidence, joined) = match link.joined_on {
            Some(on) => (High, format!("joined on {on}")),
            None => (Medium, "same caller and time, no encryption context to join".to_string()),
        };
        return found(
            confidence,
            format!(
                "a kms:{} denial ({}{why}; eventID {}){key} for the same caller {gap} the write ({joined}) broke it; {this}",
                clip(&k.event_name, 60),
                clip(k.error_code.as_deref().unwrap_or("AccessDenied"), 60),
                clip(&k.event_id, 80),
            ),
        );
    }
    (is_kms_sse(c.ev) && c.generic()).then(|| Finding {
        confidence: Medium,
        evidence: format!(
            "requestParameters ask for SSE {}{} and errorMessage is the generic \"Access Denied\"; no KMS event was found to confirm a key denial",
            clip(c.ev.sse.as_deref().unwrap_or("aws:kms"), 40),
            c.ev.sse_kms_key_id.as_deref().map(|k| format!(" with key {}", clip(k, 200))).unwrap_or_default()
        ),
    })
}

fn kms_key_unusable(c: &EventCtx<'_>) -> Option<Finding> {
    let code = c.ev.error_code.as_deref().filter(|code| code.starts_with("KMS."))?;
    let key = c.ev.sse_kms_key_id.as_deref().map(|k| format!(" ({})", clip(k, 200))).unwrap_or_default();
    found(
        High,
        format!(
            "errorCode {} says the KMS key{key} cannot be used (disabled, pending deletion, missing or wrong usage)",
            clip(code, 80)
        ),
    )
}

fn kms_aws_managed_cross_account(c: &EventCtx<'_>) -> Option<Finding> {
    let cross = c.cross_account()?;
    let managed = match c.ev.sse_kms_key_id.as_deref() {
        Some(k) if find_ci(k, "alias/aws/s3").is_some() => {
            format!("the request names the AWS managed key {}", clip(k, 200))
        }
        None if is_kms_sse(c.ev) => "SSE aws:kms without a key id means the AWS managed key aws/s3".to_string(),
        _ => return None,
    };
    found(Medium, format!("{managed} and {cross}: an AWS managed key cannot be used across accounts"))
}

fn sse_c_blocked(c: &EventCtx<'_>) -> Option<Finding> {
    if c.msg.shape == Shape::SseCBlocked {
        return found(
            High,
            "errorMessage says the bucket blocks uploads that use SSE-C (BlockedEncryptionTypes)".to_string(),
        );
    }
    let algorithm = c.ev.sse_customer_algorithm.as_deref()?;
    c.deny_star().then(|| Finding {
        confidence: Medium,
        evidence: format!(
            "the request used SSE-C (x-amz-server-side-encryption-customer-algorithm {}) and was denied; buckets can block SSE-C uploads",
            clip(algorithm, 40)
        ),
    })
}

fn sse_header_required(c: &EventCtx<'_>) -> Option<Finding> {
    use PolicyKind::{Rcp, Resource, Scp};
    let sent = match c.ev.sse.as_deref() {
        Some(v) => format!("the request sent x-amz-server-side-encryption {}", clip(v, 40)),
        None => "the request sent no x-amz-server-side-encryption header".to_string(),
    };
    let gotcha = if c.ev.event_name == "UploadPart" {
        let initiate = c
            .initiate
            .map(|i| {
                format!(
                    " (its CreateMultipartUpload{} succeeded at {}, eventID {})",
                    i.sse
                        .as_deref()
                        .map(|v| format!(" with x-amz-server-side-encryption {}", clip(v, 40)))
                        .unwrap_or_default(),
                    fmt_time(i.event_time_ms),
                    clip(&i.event_id, 80)
                )
            })
            .unwrap_or_default();
        format!("; UploadPart never carries that header, so the Deny refuses every part of an upload{initiate}")
    } else {
        String::new()
    };
    if c.denied()
        && let Some(f) = confirmed(c, KeyClass::Sse, &format!("{sent}{gotcha}"))
    {
        return Some(f);
    }
    if c.ruled_out(KeyClass::Sse).is_some() {
        return None;
    }
    let kind = c.explicit_in(&[Resource, Scp, Rcp])?;
    // A missing optional header is no evidence by itself: SSE-S3 is the default since 2023 and
    // clients rarely send the header.
    if c.ev.sse.is_none() && c.ev.sse_customer_algorithm.is_none() {
        return found(
            Low,
            format!(
                "no x-amz-server-side-encryption header was sent and errorMessage names an explicit deny in {}, where a Deny on s3:x-amz-server-side-encryption would match",
                kind.with_article()
            ),
        );
    }
    (is_kms_sse(c.ev) && c.ev.sse_kms_key_id.is_none()).then(|| Finding {
        confidence: Low,
        evidence: format!(
            "SSE aws:kms was sent without x-amz-server-side-encryption-aws-kms-key-id and errorMessage names an explicit deny in {}, which may require a specific key",
            kind.with_article()
        ),
    })
}

// ---- ACLs, ownership, accounts ----

const PUBLIC_ACLS: &[&str] = &["public-read", "public-read-write", "authenticated-read"];

fn public_grant(grants: &str) -> bool {
    find_ci(grants, "acs.amazonaws.com/groups/global/AllUsers").is_some()
        || find_ci(grants, "acs.amazonaws.com/groups/global/AuthenticatedUsers").is_some()
}

fn block_public_acls(c: &EventCtx<'_>) -> Option<Finding> {
    if c.msg.shape == Shape::BlockPublicAcls {
        return found(
            High,
            "errorMessage says public ACLs are prevented by the BlockPublicAcls setting of S3 Block Public Access"
                .to_string(),
        );
    }
    if !c.deny_star() {
        return None;
    }
    let acl = c.ev.acl.as_deref().filter(|a| PUBLIC_ACLS.iter().any(|p| a.eq_ignore_ascii_case(p)));
    let what = match (acl, c.ev.grants.as_deref().filter(|g| public_grant(g))) {
        (Some(acl), _) => format!("the public canned ACL x-amz-acl {acl}"),
        (None, Some(grants)) => format!("a public grant ({})", clip(grants, 160)),
        (None, None) => return None,
    };
    found(Medium, format!("the request sent {what} and was denied, which BlockPublicAcls rejects"))
}

fn acl_not_supported(c: &EventCtx<'_>) -> Option<Finding> {
    (c.ev.error_code.as_deref() == Some("AccessControlListNotSupported")).then(|| Finding {
        confidence: High,
        evidence: format!(
            "errorCode AccessControlListNotSupported: the bucket enforces BucketOwnerEnforced object ownership and the request sent an ACL{}",
            c.ev.acl.as_deref().map(|a| format!(" (x-amz-acl {})", clip(a, 60))).unwrap_or_default()
        ),
    })
}

/// What an errorCode no policy can cause means, and what fixes it (`--all-errors`).
pub(crate) fn request_error_meaning(code: &str) -> Option<&'static str> {
    Some(match code {
        "NoSuchBucket" => {
            "the bucket does not exist (deleted, misspelt, or in another partition): fix the bucket name or create the bucket"
        }
        "ExpiredToken" | "TokenRefreshRequired" => {
            "the session credentials had expired: the client must refresh them (a longer session or a credential provider that renews)"
        }
        "InvalidToken" => {
            "the session token is malformed or belongs to another partition: fix the client's credentials"
        }
        "InvalidAccessKeyId" => {
            "the access key does not exist (deleted, or from another account or partition): fix the client's credentials"
        }
        "SignatureDoesNotMatch" => {
            "the request signature is wrong (secret key, clock, or a proxy that rewrote the request): fix the client's signing"
        }
        "RequestTimeTooSkewed" => "the client's clock is more than 15 minutes off: fix its time sync (NTP)",
        "AllAccessDisabled" => "all access to the bucket is disabled by AWS: contact AWS Support",
        "AccountProblem" => "the bucket owner's account has a problem (billing, suspension): contact AWS Support",
        "InvalidRequest" | "InvalidArgument" => {
            "the request itself is invalid (a header or argument S3 refuses): fix the client"
        }
        "EntityTooLarge" | "EntityTooSmall" => {
            "the object or part size is outside S3's limits: use multipart upload with valid part sizes"
        }
        "NoSuchUpload" => "the multipart upload no longer exists (completed or aborted): restart the upload",
        "SlowDown" | "ServiceUnavailable" | "InternalError" => "S3 throttled or failed the request: retry with backoff",
        _ => return None,
    })
}

fn request_error(c: &EventCtx<'_>) -> Option<Finding> {
    let code = c.ev.error_code.as_deref()?;
    let meaning = request_error_meaning(code)?;
    found(High, format!("errorCode {}: {meaning}; no policy can cause it", clip(code, 60)))
}

fn bucket_owner_full_control_required(c: &EventCtx<'_>) -> Option<Finding> {
    let cross = c.cross_account()?;
    let acl = c.ev.acl.as_deref();
    if acl.is_some_and(|a| a.eq_ignore_ascii_case("bucket-owner-full-control")) {
        return None;
    }
    let sent = acl.map(|a| format!("x-amz-acl {}", clip(a, 60))).unwrap_or_else(|| "no x-amz-acl".to_string());
    if let Some(f) = confirmed(c, KeyClass::Acl, &format!("{cross} and the request sent {sent}")) {
        return Some(f);
    }
    if c.ruled_out(KeyClass::Acl).is_some() {
        return None;
    }
    let bucket_side = c.generic() || c.explicit_in(&[PolicyKind::Resource]).is_some();
    // Without the policy text this is a guess (and moot under BucketOwnerEnforced, the default
    // since 2023): it never outranks `cross-account`.
    bucket_side.then(|| Finding {
        confidence: Low,
        evidence: format!(
            "{cross} and the request sent {} instead of x-amz-acl bucket-owner-full-control, which policies of shared buckets often require",
            acl.map(|a| format!("x-amz-acl {}", clip(a, 60))).unwrap_or_else(|| "no x-amz-acl".to_string())
        ),
    })
}

fn cross_account(c: &EventCtx<'_>) -> Option<Finding> {
    let cross = c.cross_account()?;
    c.generic().then(|| Finding {
        confidence: Medium,
        evidence: format!(
            "{cross} and errorMessage names no policy, as for callers outside the organization: both the caller's identity policy and the bucket policy must allow the write"
        ),
    })
}

fn expected_owner_mismatch(c: &EventCtx<'_>) -> Option<Finding> {
    let expected = c.ev.expected_bucket_owner.as_deref().map(str::trim).filter(|e| !e.is_empty())?;
    match c.owner {
        Some((owner, source)) if owner != expected => found(
            High,
            format!("x-amz-expected-bucket-owner {} differs from the bucket owner {owner} (from {source})", clip(expected, 40)),
        ),
        Some(_) => None,
        None => c.generic().then(|| Finding {
            confidence: Medium,
            evidence: format!(
                "the request sent x-amz-expected-bucket-owner {} and got the generic \"Access Denied\" a mismatch gives; the owner is not in the record",
                clip(expected, 40)
            ),
        }),
    }
}

fn requester_pays(c: &EventCtx<'_>) -> Option<Finding> {
    let cross = c.cross_account()?;
    (c.generic() && c.ev.request_payer.is_none()).then(|| Finding {
        confidence: Low,
        evidence: format!("{cross} and no x-amz-request-payer was sent, which a Requester Pays bucket refuses"),
    })
}

// ---- request conditions ----

fn mfa_required(c: &EventCtx<'_>) -> Option<Finding> {
    use PolicyKind::{Boundary, Identity, Rcp, Resource, Scp, Session};
    if c.denied()
        && let Some(f) = confirmed(c, KeyClass::Mfa, "the request was made without MFA")
    {
        return Some(f);
    }
    if c.ruled_out(KeyClass::Mfa).is_some() {
        return None;
    }
    let kind = c.explicit_in(&[Identity, Resource, Scp, Rcp, Boundary, Session])?;
    let key = c.ev.access_key_id.as_deref().filter(|k| starts_with_ci(k, "AKIA"));
    let without = match (c.ev.mfa_authenticated, key) {
        (Some(false), _) => "sessionContext mfaAuthenticated is false".to_string(),
        (_, Some(k)) => format!("the long-term access key {} carries no MFA", clip(k, 40)),
        _ => return None,
    };
    found(
        Low,
        format!(
            "errorMessage names an explicit deny in {} and {without}; an aws:MultiFactorAuthPresent condition would deny it",
            kind.with_article()
        ),
    )
}

fn insecure_transport(c: &EventCtx<'_>) -> Option<Finding> {
    if c.denied()
        && let Some(f) = confirmed(c, KeyClass::Transport, "the request did not use (recent) TLS")
    {
        return Some(f);
    }
    if c.ruled_out(KeyClass::Transport).is_some() {
        return None;
    }
    let bucket_side = c.generic() || c.explicit_in(&[PolicyKind::Resource, PolicyKind::Rcp]).is_some();
    if !bucket_side {
        return None;
    }
    let ev = c.ev;
    let no_tls = ev.tls_version.is_none() && ev.tls_cipher_suite.is_none() && ev.cipher_suite.is_none();
    // Only a record that kept additionalEventData can say the request had no TLS.
    let complete = ev.signature_version.is_some() || ev.auth_method.is_some();
    let transport = if no_tls && complete {
        "neither tlsDetails nor additionalEventData.CipherSuite is present, so the request used plain HTTP".to_string()
    } else if let Some(v) = ev.tls_version.as_deref().filter(|v| matches!(*v, "TLSv1" | "TLSv1.0" | "TLSv1.1")) {
        format!("tlsDetails.tlsVersion is {v}")
    } else {
        return None;
    };
    found(
        Medium,
        format!("{transport} and the request was denied, which an aws:SecureTransport or s3:TlsVersion condition does"),
    )
}

fn is_private(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        Ok(IpAddr::V6(v6)) => v6.is_unique_local() || v6.is_loopback() || v6.is_unicast_link_local(),
        Err(_) => false,
    }
}

fn network_condition(c: &EventCtx<'_>) -> Option<Finding> {
    use PolicyKind::{Identity, Rcp, Resource, Scp};
    let via = match (c.ev.vpc_endpoint_id.as_deref(), c.ev.source_ip.as_deref()) {
        (Some(e), _) => format!(
            "the request came through {} from {}",
            clip(e, 80),
            clip(c.ev.source_ip.as_deref().unwrap_or("?"), 60)
        ),
        (None, Some(ip)) => format!("the request came from {}", clip(ip, 60)),
        _ => "the request's origin is not recorded".to_string(),
    };
    if c.denied()
        && let Some(f) = confirmed(c, KeyClass::Network, &via)
    {
        return Some(f);
    }
    // The whole policy is in the trail and no Deny that may apply names a network key.
    if c.ruled_out(KeyClass::Network).is_some() {
        return None;
    }
    let kind = c.explicit_in(&[Resource, Identity, Scp, Rcp])?;
    let ip = c.ev.source_ip.as_deref().unwrap_or("");
    if let Some(endpoint) = c.ev.vpc_endpoint_id.as_deref().filter(|e| !e.is_empty()) {
        return found(
            Low,
            format!(
                "errorMessage names an explicit deny in {} and the request came through {} from {}: aws:SourceIp never matches VPC-endpoint traffic and aws:SourceVpce must list this endpoint",
                kind.with_article(),
                clip(endpoint, 80),
                if ip.is_empty() { "an unrecorded address".to_string() } else { clip(ip, 60).into_owned() }
            ),
        );
    }
    is_private(ip).then(|| Finding {
        confidence: Low,
        evidence: format!(
            "errorMessage names an explicit deny in {} and sourceIPAddress {} is private, which an aws:SourceIp condition on public ranges never matches",
            kind.with_article(),
            clip(ip, 60)
        ),
    })
}

fn object_lock_headers(c: &EventCtx<'_>) -> Option<Finding> {
    let headers = c.ev.object_lock.as_deref().filter(|h| !h.is_empty())?;
    let lock_action = c
        .msg
        .s3_action()
        .filter(|a| a.eq_ignore_ascii_case("s3:PutObjectRetention") || a.eq_ignore_ascii_case("s3:PutObjectLegalHold"));
    (c.deny_star() || lock_action.is_some()).then(|| Finding {
        confidence: Medium,
        evidence: format!(
            "the request sent Object Lock headers ({}), which also need s3:PutObjectRetention / s3:PutObjectLegalHold{}",
            clip(headers, 160),
            lock_action.map(|a| format!(", and errorMessage names {a}")).unwrap_or_default()
        ),
    })
}

fn access_point(c: &EventCtx<'_>) -> Option<Finding> {
    let via = match (c.ev.access_point_arn.as_deref(), c.ev.host.as_deref()) {
        (Some(arn), _) if !arn.is_empty() => format!("access point {}", clip(arn, 200)),
        (_, Some(host)) if find_ci(host, "s3-accesspoint").is_some() => {
            format!("access-point host {}", clip(host, 200))
        }
        _ => return None,
    };
    let fits = c.generic() || c.msg.s3_reason(PolicyKind::Resource).is_some();
    fits.then(|| Finding {
        confidence: Medium,
        evidence: format!("the request went through the {via}, whose policy or network origin (VPC only) can deny it"),
    })
}

fn recent_policy_change(c: &EventCtx<'_>) -> Option<Finding> {
    if !c.policy_can_cause() {
        return None;
    }
    let (change, others) = c.change?;
    let actor = change.identity_arn.as_deref().unwrap_or(change.principal.as_str());
    let target = change
        .changed_resource
        .as_deref()
        .or(change.bucket.as_deref())
        .map(|r| format!(" on {}", clip(r, 200)))
        .unwrap_or_default();
    let gap = match (change.event_time_ms, c.first_denial_ms) {
        (Some(t), Some(first)) => format!("{} before the first denial", fmt_gap(first.saturating_sub(t))),
        _ => "before the first denial".to_string(),
    };
    // The caller wrote here successfully before the change: the change sits between success and denial.
    let gap =
        match c.last_success.filter(|s| matches!((s.event_time_ms, change.event_time_ms), (Some(a), Some(b)) if a < b))
        {
            Some(s) => format!(
                "{gap}, after the caller's last successful {} here at {}",
                clip(&s.event_name, 60),
                fmt_time(s.event_time_ms)
            ),
            None => gap,
        };
    let statement = c
        .docs
        .iter()
        .find(|d| d.source.event_id == change.event_id && !d.hits.is_empty())
        .map(|d| {
            let names: Vec<String> = d.hits.iter().map(DenyHit::name).collect();
            format!("; its document holds Deny statement {} that applies to this request", names.join(", "))
        })
        .unwrap_or_default();
    let more = match others {
        0 => String::new(),
        1 => " (and 1 earlier change)".to_string(),
        n => format!(" (and {n} earlier changes)"),
    };
    found(
        Medium,
        format!(
            "{}{target} by {} at {} ({gap}, eventID {}){more} may have removed the access{statement}",
            clip(&change.event_name, 80),
            clip(actor, 200),
            fmt_time(change.event_time_ms),
            clip(&change.event_id, 80)
        ),
    )
}

/// Why an event stays unexplained, in one sentence.
pub(crate) fn unexplained(c: &EventCtx<'_>) -> Finding {
    let code = c.ev.error_code.as_deref().unwrap_or("");
    let evidence = if !c.denied() && !code.is_empty() {
        format!("errorCode {} matches no cause rule", clip(code, 80))
    } else {
        match c.msg.shape {
            Shape::Generic | Shape::Absent => "errorMessage is the generic \"Access Denied\" and no other field (SSE, ACL, owner, endpoint, session, companion events) points to a cause".to_string(),
            Shape::NoReason => format!("errorMessage names no policy type (the format before August 2024, or cut by the 1 KB limit): \"{}\"", clip(c.msg.raw, 200)),
            Shape::Expired => "errorMessage \"Request has expired\": the presigned URL or signed request was used after its expiry".to_string(),
            Shape::Enhanced(r) if r.kind == PolicyKind::RoleTrust => "errorMessage names a role trust policy, which does not govern S3 writes".to_string(),
            _ if !c.msg.rest.is_empty() => format!(
                "errorMessage has a reason no rule knows: \"{}\" (about {})",
                clip(c.msg.rest, 200),
                clip(c.action(), 80)
            ),
            _ => format!("errorMessage has a shape no rule knows: \"{}\"", clip(c.msg.raw, 200)),
        }
    };
    Finding { confidence: Low, evidence }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_section_3_order_and_unique() {
        let tags: Vec<_> = RULES.iter().map(|r| r.tag).collect();
        let mut sorted = tags.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), tags.len());
        assert_eq!(tag_rank("identity-no-allow"), 0);
        assert!(tag_rank("kms-denied") < tag_rank("cross-account"));
        assert_eq!(tag_rank(UNEXPLAINED), RULES.len());
    }

    #[test]
    fn private_addresses() {
        assert!(is_private("10.1.2.3"));
        assert!(is_private("172.31.0.9"));
        assert!(is_private("100.64.1.1"));
        assert!(is_private("fd00::1"));
        assert!(!is_private("203.0.113.9"));
        assert!(!is_private("s3.amazonaws.com"));
        assert!(!is_private("255.090.254.5"));
    }

    /// The payload check as first written (char by char, `split('/')`): the byte-wise one must
    /// answer the same on every text.
    fn payload_by_chars(text: &str) -> Option<&'static str> {
        if text.chars().any(char::is_control) {
            return Some("control characters (a terminal escape)");
        }
        let formula = text.split('/').any(|seg| {
            let mut chars = seg.chars();
            match chars.next() {
                Some('=') => true,
                Some('+' | '@' | '-') => seg.contains('(') && chars.next().is_some_and(|c| c.is_ascii_alphabetic()),
                _ => false,
            }
        });
        formula.then_some("a spreadsheet formula")
    }

    /// The probe-name check as first written (the name's tail compared with each extension).
    fn probe_name_by_tails(key: &str) -> bool {
        let name = key.rsplit('/').next().unwrap_or(key).to_ascii_lowercase();
        [".php", ".php5", ".phtml", ".jsp", ".jspx", ".asp", ".aspx", ".cgi"].iter().any(|e| name.ends_with(e))
            || ["shell", "webshell", "cmd.", "c99.", "r57.", "wso."].iter().any(|s| name.starts_with(s))
    }

    #[test]
    fn probe_names_by_the_last_dot_agree_with_the_tails() {
        for key in ["up/x.php", "x.PHP5", "a.b.jspx", "x.php.txt", "shell.txt", "a/CMD.exe", ".cgi", "x.phpx", "é.asp"]
        {
            assert_eq!(probe_name(key), probe_name_by_tails(key), "{key:?}");
        }
        let alphabet = ['.', 'p', 'H', 'P', '5', '/', 'x', 'a', 's'];
        let mut texts = vec![String::new()];
        for _ in 0..6 {
            texts = texts.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))).collect();
            for text in &texts {
                assert_eq!(probe_name(text), probe_name_by_tails(text), "{text:?}");
            }
        }
    }

    #[test]
    fn payload_bytewise_agrees_with_the_char_by_char_check() {
        let named = [
            "",
            "/",
            "//",
            "a/b/c.txt",
            "=HYPERLINK(\"x\")",
            "p/=1+1",
            "p/+cmd(1)",
            "p/-v2",
            "p/-v(2)",
            "-a(",
            "@SUM(A1)",
            "@1(",
            "+é(",
            "-é(",
            "x/y\u{1b}[31m",
            "tab\there",
            "del\u{7f}",
            "c1\u{85}",
            "ünï/=x",
            "ünï/-b(c",
            "date=2024/x",
            "a/@b",
            "a/@b/(",
            "/=",
            "=/",
        ];
        for text in named {
            assert_eq!(payload(text), payload_by_chars(text), "{text:?}");
        }
        // Every string of up to three characters from an alphabet of the bytes that matter.
        let alphabet = ['a', 'Z', '=', '+', '@', '-', '(', '/', '\u{1}', '\u{7f}', '\u{85}', 'é', '1'];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            texts = texts.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))).collect();
            for text in &texts {
                assert_eq!(payload(text), payload_by_chars(text), "{text:?}");
            }
        }
    }
}
