//! Where the fix goes (causes.md §3 "Where each remedy goes"): per cause, the policy *type* and
//! *place* of the deny, in the account where the change is made, with a draft only where a draft
//! can change the decision. An explicit deny gets the Deny statement to look for and the request
//! change that satisfies it, never an Allow; a key-policy denial gets a key-policy statement; an
//! `AWSReservedSSO_*` role gets a permission-set change; a probe gets nothing.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use super::CauseShare;
use super::message::{PolicyKind, Verdict, starts_with_ci};
use super::policy::{DenyHit, KeyClass};
use super::rules::{EventCtx, PolicyView};
use super::steps::Fill;
use super::text::{clip, iam_literal, iam_name, partition};
use crate::event::is_account_id;

/// The kind and place of a remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemedyPlace {
    /// The caller's own (IAM user or role) policies.
    IdentityPolicy,
    /// An IAM Identity Center permission set (the caller is an `AWSReservedSSO_*` role).
    PermissionSet,
    BucketPolicy,
    AccessPointPolicy,
    KeyPolicy,
    /// The KMS key's state (disabled, pending deletion), not a policy.
    KeyState,
    Boundary,
    SessionPolicy,
    Scp,
    Rcp,
    VpcEndpointPolicy,
    /// A header or client change: no policy grant fixes it.
    RequestChange,
    /// Working as intended (a probe, an anonymous write): nothing is granted.
    None,
}

impl RemedyPlace {
    pub fn label(self) -> &'static str {
        match self {
            RemedyPlace::IdentityPolicy => "identity policy",
            RemedyPlace::PermissionSet => "IAM Identity Center permission set",
            RemedyPlace::BucketPolicy => "bucket policy",
            RemedyPlace::AccessPointPolicy => "access point policy",
            RemedyPlace::KeyPolicy => "KMS key policy",
            RemedyPlace::KeyState => "KMS key state",
            RemedyPlace::Boundary => "permissions boundary",
            RemedyPlace::SessionPolicy => "session policy",
            RemedyPlace::Scp => "service control policy",
            RemedyPlace::Rcp => "resource control policy",
            RemedyPlace::VpcEndpointPolicy => "VPC endpoint policy",
            RemedyPlace::RequestChange => "request change",
            RemedyPlace::None => "no grant",
        }
    }
}

impl fmt::Display for RemedyPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One change that would make the denied writes succeed (or the statement that nothing should).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Remedy {
    pub place: RemedyPlace,
    /// The account where the change is made, when known.
    pub account: Option<String>,
    /// One line: what to change, and where.
    pub title: String,
    /// The reasoning and the steps, one sentence each.
    pub lines: Vec<String>,
    /// A policy document or statement to apply, as pretty JSON.
    pub draft: Option<String>,
    /// The draft is an Allow that grants the caller something (identity side).
    pub grant: bool,
}

impl Remedy {
    pub(crate) fn new(place: RemedyPlace, account: Option<&str>, title: String) -> Remedy {
        Remedy { place, account: account.map(str::to_string), title, lines: Vec::new(), draft: None, grant: false }
    }

    pub(crate) fn line(mut self, s: impl Into<String>) -> Remedy {
        self.lines.push(s.into());
        self
    }

    fn draft(mut self, v: &Value, grant: bool) -> Remedy {
        self.draft = serde_json::to_string_pretty(&Ordered(v)).ok();
        self.grant = grant;
        self
    }
}

/// What the remedies of one group are drawn from.
pub(crate) struct Group<'a, 'c> {
    pub ctxs: &'c [EventCtx<'a>],
    pub fill: &'c Fill,
    pub causes: &'c [CauseShare],
    /// Indicators that make this group a probe: no grant at all.
    pub withhold: &'c [String],
    /// Indicators on some events only: the grant stays, with a warning.
    pub suspicious: &'c [String],
}

const MULTIPART: &[&str] = &["CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload"];
/// Extra S3 actions a message may name as the one missing (sent ACL, tags, Object Lock headers).
const EXTRA_S3_ACTIONS: &[&str] =
    &["s3:PutObjectAcl", "s3:PutObjectTagging", "s3:PutObjectRetention", "s3:PutObjectLegalHold"];
/// Tags that describe a circumstance, not a place to fix, when a stronger cause names one.
const CONTEXT_TAGS: &[&str] = &["recent-policy-change", "requester-pays", "access-point"];

impl Group<'_, '_> {
    fn principal(&self) -> Option<&str> {
        self.fill.principal_arn.as_deref().filter(|a| a.starts_with("arn:"))
    }

    fn partition(&self) -> &str {
        self.principal().and_then(partition).unwrap_or("aws")
    }

    fn owner(&self) -> Option<&str> {
        self.fill.owner_account.as_deref().or(self.fill.caller_account.as_deref())
    }

    fn caller(&self) -> Option<&str> {
        self.fill.caller_account.as_deref()
    }

    fn bucket(&self) -> &str {
        self.fill.bucket.as_deref().unwrap_or("<bucket>")
    }

    fn prefix(&self) -> &str {
        self.ctxs.first().map_or("", |c| c.ev.prefix.as_str())
    }

    /// `arn:aws:s3:::bucket/prefix*`, wildcards in the prefix escaped.
    fn object_resource(&self) -> String {
        format!("arn:{}:s3:::{}/{}*", self.partition(), iam_literal(self.bucket()), iam_literal(self.prefix()))
    }

    fn multipart(&self) -> bool {
        self.ctxs.iter().any(|c| MULTIPART.contains(&c.ev.event_name.as_str()))
    }

    fn acl_sent(&self) -> bool {
        self.ctxs.iter().any(|c| c.ev.acl.is_some() || c.ev.grants.is_some())
    }

    /// The permission set behind an `AWSReservedSSO_<name>_<hex>` role.
    fn permission_set(&self) -> Option<String> {
        let role = iam_name(self.principal()?)?;
        let rest = role.strip_prefix("AWSReservedSSO_")?;
        let name = match rest.rsplit_once('_') {
            Some((name, hex)) if hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()) => name,
            _ => rest,
        };
        Some(name.to_string())
    }

    /// The S3 actions a grant needs: s3:PutObject, what messages name, ACL and multipart extras.
    fn s3_actions(&self) -> Vec<&'static str> {
        let mut actions = vec!["s3:PutObject"];
        for c in self.ctxs {
            let about_identity = c
                .msg
                .reason()
                .is_some_and(|r| matches!(r.kind, PolicyKind::Identity | PolicyKind::Boundary | PolicyKind::Session));
            if let Some(a) = c.msg.s3_action().filter(|_| about_identity)
                && let Some(known) = EXTRA_S3_ACTIONS.iter().find(|k| k.eq_ignore_ascii_case(a))
                && !actions.contains(known)
            {
                actions.push(known);
            }
        }
        if self.acl_sent() && !actions.contains(&"s3:PutObjectAcl") {
            actions.push("s3:PutObjectAcl");
        }
        if self.multipart() {
            actions.extend(["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]);
        }
        actions
    }

    /// The identity-side place: the permission set for SSO roles, else the caller's policies.
    fn identity_remedy(&self, what: &str) -> Remedy {
        match self.permission_set() {
            Some(ps) => Remedy::new(
                RemedyPlace::PermissionSet,
                None,
                format!("{what} in the IAM Identity Center permission set \"{ps}\" (not on the role)"),
            )
            .line(format!(
                "{} is created and managed by IAM Identity Center: IAM refuses edits to it, and a re-provision would undo them.",
                clip(self.principal().unwrap_or("the role"), 200)
            ))
            .line("From the Identity Center administration account: find the permission set (aws sso-admin list-instances; aws sso-admin list-permission-sets --instance-arn <instance-arn>; aws sso-admin describe-permission-set … --query 'PermissionSet.Name').")
            .line("Merge the statement into its inline policy (aws sso-admin get-inline-policy-for-permission-set first: put replaces the whole policy) with aws sso-admin put-inline-policy-to-permission-set --instance-arn <instance-arn> --permission-set-arn <permission-set-arn> --inline-policy file://policy.json, or attach a customer managed policy (aws sso-admin attach-customer-managed-policy-reference-to-permission-set).")
            .line(format!(
                "Then aws sso-admin provision-permission-set --instance-arn <instance-arn> --permission-set-arn <permission-set-arn> --target-type AWS_ACCOUNT --target-id {}.",
                self.caller().unwrap_or("<account-id>")
            )),
            None => Remedy::new(
                RemedyPlace::IdentityPolicy,
                self.caller(),
                format!(
                    "{what} in the identity policy of {}",
                    clip(self.principal().unwrap_or("the caller"), 200)
                ),
            ),
        }
    }

    fn s3_allow(&self, sid: &str, principal: Option<Value>) -> Statement {
        Statement {
            sid: sid.to_string(),
            effect: "Allow",
            principal,
            action: self.s3_actions().into_iter().map(str::to_string).collect(),
            resource: json!(self.object_resource()),
            condition: None,
        }
    }

    fn region(&self) -> Option<&str> {
        self.fill.region.as_deref().filter(|r| is_region(r))
    }
}

/// A policy statement in the conventional field order.
#[derive(Serialize)]
struct Statement {
    #[serde(rename = "Sid")]
    sid: String,
    #[serde(rename = "Effect")]
    effect: &'static str,
    #[serde(rename = "Principal", skip_serializing_if = "Option::is_none")]
    principal: Option<Value>,
    #[serde(rename = "Action")]
    action: Vec<String>,
    #[serde(rename = "Resource")]
    resource: Value,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    condition: Option<Value>,
}

/// A policy or statement serialized in IAM's conventional key order (Version, Statement; Sid,
/// Effect, Principal, Action, Resource, Condition), whatever order the JSON value keeps.
struct Ordered<'v>(&'v Value);

const KEY_ORDER: &[&str] = &[
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let rank = |k: &str| KEY_ORDER.iter().position(|x| *x == k).unwrap_or(KEY_ORDER.len());
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by_key(|k| rank(k));
                let mut m = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    // Condition blocks keep their own (operator, key) order.
                    m.serialize_entry(k, &Ordered(&map[k]))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(&Ordered(i))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

fn document(statements: Vec<Statement>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements.into_iter().map(|s| serde_json::to_value(s).unwrap_or(Value::Null)).collect::<Vec<_>>() })
}

/// The remedies of one group, strongest cause first, one per place.
pub(crate) fn remedies(g: &Group<'_, '_>) -> Vec<Remedy> {
    if !g.withhold.is_empty() {
        let mut r = Remedy::new(
            RemedyPlace::None,
            None,
            "No grant: these denials look like a probe, and the deny is working as intended".to_string(),
        );
        for sign in g.withhold {
            r = r.line(format!("Indicator: {sign}."));
        }
        return vec![r.line(
            "Confirm that public writes stay blocked (Block Public Access, no AllUsers grant), and identify the client before granting anything.",
        )];
    }
    let Some(first) = g.causes.first() else { return Vec::new() };
    let mut out: Vec<Remedy> = Vec::new();
    for cause in g.causes {
        // The first cause, and every other cause with positive evidence that names a place.
        let strong = std::ptr::eq(cause, first)
            || (cause.confidence >= super::Confidence::Medium && !CONTEXT_TAGS.contains(&cause.tag));
        if !strong {
            continue;
        }
        for r in remedy_for(g, cause.tag) {
            if !out.iter().any(|o| o.place == r.place && o.account == r.account) {
                out.push(r);
            }
        }
    }
    if !g.suspicious.is_empty() {
        for r in &mut out {
            r.lines.push(format!(
                "Note: some of these denials look hostile ({}); those requests are working as intended, whatever changes here.",
                g.suspicious.join("; ")
            ));
        }
    }
    out
}

/// The first Deny statement of a document in the trail that applies to the group's requests.
fn hit_of<'c, 'a>(g: &'c Group<'a, '_>, class: Option<KeyClass>) -> Option<(&'c PolicyView<'a>, &'c DenyHit)> {
    g.ctxs.iter().find_map(|c| match class {
        Some(k) => c.hit(k),
        None => c.any_hit(),
    })
}

fn remedy_for(g: &Group<'_, '_>, tag: &str) -> Vec<Remedy> {
    let p = g.partition().to_string();
    match tag {
        "identity-no-allow" | "object-lock-headers" => {
            let st = g.s3_allow("WriteUnderPrefix", None);
            let mut statements = vec![st];
            if g.ctxs.iter().any(|c| c.ev.sse.as_deref().is_some_and(|s| starts_with_ci(s, "aws:kms"))) {
                statements.extend(kms_identity_statements(g));
            }
            vec![g.identity_remedy("Allow the write").draft(&document(statements), true)]
        }
        "identity-explicit-deny" => vec![explicit_deny(g, g.identity_remedy("Narrow the Deny statement"), "the caller's identity policies")],
        "bucket-policy-deny" | "network-condition" | "sse-header-required" if hit_of(g, None).is_some_and(|(d, _)| d.place == super::rules::DocPlace::BucketPolicy) || tag == "bucket-policy-deny" => {
            vec![bucket_deny(g)]
        }
        "bucket-policy-no-allow" => {
            let principal = g.principal().map_or_else(|| json!({"AWS": format!("arn:{p}:iam::{}:root", g.caller().unwrap_or("<account-id>"))}), |a| json!({ "AWS": a }));
            let mut out = vec![
                Remedy::new(RemedyPlace::BucketPolicy, g.owner(), format!("Allow the caller in the bucket policy of {}", clip(g.bucket(), 100)))
                    .draft(&document(vec![g.s3_allow("AllowCallerWrites", Some(principal))]), false),
            ];
            if g.ctxs.iter().any(|c| c.cross_account().is_some()) {
                out.push(g.identity_remedy("Allow the write on the caller's side too").draft(&document(vec![g.s3_allow("WriteToPartnerBucket", None)]), true));
            }
            out
        }
        "cross-account" => {
            let principal = g.principal().map_or_else(|| json!({"AWS": format!("arn:{p}:iam::{}:root", g.caller().unwrap_or("<account-id>"))}), |a| json!({ "AWS": a }));
            let acl = if g.acl_sent() { " (s3:PutObjectAcl because the request sends an ACL)" } else { "" };
            vec![
                Remedy::new(RemedyPlace::BucketPolicy, g.owner(), format!("Allow the caller in the bucket policy of {} (bucket owner's side){acl}", clip(g.bucket(), 100)))
                    .line("A cross-account write needs an Allow on both sides: the bucket owner's bucket policy and the caller's identity policy.")
                    .draft(&document(vec![g.s3_allow("AllowPartnerWrites", Some(principal))]), false),
                g.identity_remedy("Allow the write on the caller's side")
                    .draft(&document(vec![g.s3_allow("WriteToPartnerBucket", None)]), true),
            ]
        }
        "scp-deny" => {
            let r = Remedy::new(RemedyPlace::Scp, None, "Narrow the Deny in the service control policy (from the management account)".to_string());
            let r = match g.fill.org_policy_ids.first() {
                Some(id) => r.line(format!("The message names policy {id}: read its Deny statements matching s3:PutObject.")),
                None => r.line(format!("Read the SCPs attached to account {} and every parent up to the root.", g.caller().unwrap_or("<account-id>"))),
            };
            vec![explicit_deny(g, r, "the SCPs")]
        }
        "rcp-deny" => vec![explicit_deny(
            g,
            Remedy::new(RemedyPlace::Rcp, None, format!("Narrow the Deny in the resource control policy that applies to account {}", g.owner().unwrap_or("<account-id>"))),
            "the RCPs",
        )],
        "vpce-policy" => {
            let explicit = g.ctxs.iter().any(|c| c.msg.explicit_kind() == Some(PolicyKind::VpcEndpoint));
            let endpoint = g.fill.vpce.as_deref().unwrap_or("<vpce-id>");
            let r = Remedy::new(RemedyPlace::VpcEndpointPolicy, g.fill.vpce_account.as_deref().or(g.caller()), format!("Change the policy of VPC endpoint {}", clip(endpoint, 80)));
            if explicit {
                vec![explicit_deny(g, r, "the endpoint policy")]
            } else {
                vec![r
                    .line("The endpoint policy must allow the write; it is applied in addition to identity and bucket policies.")
                    .draft(&document(vec![g.s3_allow("AllowWritesThroughEndpoint", Some(json!("*")))]), false)]
            }
        }
        "permissions-boundary" => {
            let st = g.s3_allow("BoundaryAllowsWriteUnderPrefix", None);
            vec![Remedy::new(RemedyPlace::Boundary, g.caller(), format!("Allow the write in the permissions boundary of {}", clip(g.principal().unwrap_or("the caller"), 200)))
                .line("A boundary only caps permissions: the identity policy must allow the write as well.")
                .draft(&document(vec![st]), true)]
        }
        "session-policy" => {
            let explicit = g.ctxs.iter().any(|c| c.msg.explicit_kind() == Some(PolicyKind::Session));
            let by = g.ctxs.iter().find_map(|c| c.session).map(|s| {
                format!(" passed by {} at {}", clip(s.identity_arn.as_deref().unwrap_or(&s.principal), 200), super::text::fmt_time(s.event_time_ms))
            }).unwrap_or_default();
            let r = Remedy::new(RemedyPlace::SessionPolicy, g.caller(), format!("Change the session policy{by}"))
                .line("Keep the session policy: it scopes the session (often per tenant); widen it only by this statement, in the code that calls AssumeRole.");
            if explicit {
                vec![explicit_deny(g, r, "the session policy")]
            } else {
                vec![r.draft(&document(vec![g.s3_allow("SessionWriteUnderPrefix", None)]), true)]
            }
        }
        // An AWS managed key cannot be shared: no key or identity policy fixes that.
        "kms-denied" if g.causes.iter().any(|c| c.tag == "kms-aws-managed-cross-account") => Vec::new(),
        "kms-denied" => kms_remedies(g),
        "kms-key-unusable" => vec![Remedy::new(RemedyPlace::KeyState, None, format!("Make the KMS key usable ({})", clip(g.fill.kms_key.as_deref().unwrap_or("the bucket's key"), 200)))
            .line("Enable it (aws kms enable-key) or cancel its deletion (aws kms cancel-key-deletion), or point the bucket's default encryption and the client at a usable symmetric key.")],
        "kms-aws-managed-cross-account" => vec![Remedy::new(RemedyPlace::RequestChange, g.owner(), "Use a customer managed KMS key instead of aws/s3".to_string())
            .line("The AWS managed key aws/s3 cannot be used by another account: switch the bucket's default encryption (or the client's x-amz-server-side-encryption-aws-kms-key-id) to a customer managed key whose key policy allows the caller.")],
        "block-public-acls" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Stop sending a public ACL".to_string())
            .line("Remove x-amz-acl public-read (or the AllUsers/AuthenticatedUsers grant) from the request; Block Public Access is doing its job. Share objects through a bucket policy or CloudFront instead.")],
        "acl-not-supported" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Stop sending ACLs".to_string())
            .line("The bucket uses BucketOwnerEnforced object ownership: ACLs are disabled, the bucket owner owns every object. Drop x-amz-acl / x-amz-grant-* from the request.")],
        "request-error" => {
            let code = g.fill.error_code.as_deref().unwrap_or("");
            let meaning = super::rules::request_error_meaning(code).unwrap_or("fix the request");
            vec![Remedy::new(RemedyPlace::RequestChange, None, format!("Fix the request ({code}); no policy is involved")).line(format!("{code}: {meaning}."))]
        }
        "bucket-owner-full-control-required" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Send x-amz-acl bucket-owner-full-control".to_string())
            .line("The bucket owner's policy likely requires the canned ACL; the caller then also needs s3:PutObjectAcl in its identity policy. Moot if the bucket uses BucketOwnerEnforced.")],
        "sse-header-required" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Send the encryption header the bucket policy may require".to_string())
            .line("Only a guess without the policy text: check the bucket policy for a Deny on s3:x-amz-server-side-encryption, then send x-amz-server-side-encryption (and the key id it names).")],
        "sse-c-blocked" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Use SSE-S3 or SSE-KMS instead of SSE-C".to_string())
            .line("The bucket blocks SSE-C uploads (BlockedEncryptionTypes): drop the x-amz-server-side-encryption-customer-* headers.")],
        "mfa-required" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Write from an MFA-authenticated session".to_string())
            .line("Get session credentials with MFA (aws sts get-session-token --serial-number … --token-code …, or assume the role with MFA) if a policy requires aws:MultiFactorAuthPresent.")],
        "insecure-transport" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Use HTTPS with TLS 1.2 or later".to_string())
            .line("The bucket policy denies requests without aws:SecureTransport (or below an s3:TlsVersion): fix the client's endpoint URL or TLS settings.")],
        "network-condition" => vec![Remedy::new(RemedyPlace::BucketPolicy, g.owner(), "Check the bucket policy's network conditions".to_string())
            .line("Look for a Deny with aws:SourceIp, aws:SourceVpce or aws:SourceVpc: traffic through a VPC endpoint has no public source IP, so the endpoint must be listed in aws:SourceVpce.")],
        "expected-owner-mismatch" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Fix x-amz-expected-bucket-owner".to_string())
            .line(format!("The client sends {} but the bucket belongs to {}: correct the header (or the bucket name, if the client writes to the wrong bucket).", g.fill.expected_owner.as_deref().unwrap_or("another account"), g.fill.owner_account.as_deref().unwrap_or("another account")))],
        "requester-pays" => vec![Remedy::new(RemedyPlace::RequestChange, None, "Send x-amz-request-payer: requester".to_string())
            .line("A Requester Pays bucket refuses callers from other accounts that do not accept the charges.")],
        "access-point" => vec![Remedy::new(RemedyPlace::AccessPointPolicy, g.fill.access_point.as_ref().map(|(a, _)| a.as_str()), "Check the access point policy and network origin".to_string())
            .line("An access point policy must allow the write too (and the bucket policy must delegate to access points); a VPC-only access point refuses internet requests.")],
        "recent-policy-change" => g.ctxs.iter().find_map(|c| c.change).map(|(e, _)| {
            let place = match (e.event_source.as_str(), e.event_name.as_str()) {
                ("s3.amazonaws.com", "PutBucketPolicy" | "DeleteBucketPolicy") => RemedyPlace::BucketPolicy,
                ("iam.amazonaws.com", n) if n.contains("Boundary") => RemedyPlace::Boundary,
                ("iam.amazonaws.com", _) => RemedyPlace::IdentityPolicy,
                ("organizations.amazonaws.com", _) => RemedyPlace::Scp,
                ("kms.amazonaws.com", _) => RemedyPlace::KeyPolicy,
                _ => RemedyPlace::RequestChange,
            };
            Remedy::new(place, e.recipient_account.as_deref(), format!("Review the {} change {} (eventID {})", place.label(), clip(&e.event_name, 60), clip(&e.event_id, 80)))
                .line("Compare the policy before and after the change; restore the statement the denied writes relied on.")
        }).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// An explicit deny: the Deny statement to look for (by Sid when the trail has it) and the
/// request change that satisfies it; an Allow cannot override it, so none is offered.
fn explicit_deny(g: &Group<'_, '_>, mut r: Remedy, in_what: &str) -> Remedy {
    r = r.line(format!(
        "An explicit Deny overrides every Allow: adding an Allow changes nothing while a Deny in {in_what} matches."
    ));
    match hit_of(g, None) {
        Some((doc, hit)) => {
            r = r.line(format!(
                "Deny statement {} of {} matches these requests{}.",
                hit.name(),
                doc.origin(),
                if hit.statement.conditions.is_empty() { String::new() } else { format!(" ({})", hit.conditions()) }
            ));
            r.draft(&hit.statement.raw, false)
        }
        None => r.line(format!(
            "Look for a Deny statement matching {} on {} for {} and narrow it, or send what its condition requires.",
            g.fill.s3_action.as_deref().unwrap_or("s3:PutObject"),
            g.object_resource(),
            clip(g.principal().unwrap_or("the caller"), 200)
        )),
    }
}

/// A Deny in the bucket policy: the statement by Sid, the request change that satisfies it, and
/// for the multipart gotcha the corrected statement.
fn bucket_deny(g: &Group<'_, '_>) -> Remedy {
    let title_sid = hit_of(g, None)
        .filter(|(d, _)| d.place == super::rules::DocPlace::BucketPolicy)
        .map(|(_, h)| format!(" {}", h.name()))
        .unwrap_or_default();
    let r = Remedy::new(
        RemedyPlace::BucketPolicy,
        g.owner(),
        format!("Bucket policy of {}: the Deny statement{title_sid} refuses these writes", clip(g.bucket(), 100)),
    );
    let Some((doc, hit)) =
        hit_of(g, Some(KeyClass::Sse)).filter(|(d, _)| d.place == super::rules::DocPlace::BucketPolicy)
    else {
        return explicit_deny(g, r, "the bucket policy");
    };
    let required: Vec<&str> = hit
        .statement
        .conditions
        .iter()
        .filter(|c| c.key.eq_ignore_ascii_case("s3:x-amz-server-side-encryption"))
        .flat_map(|c| c.values.iter().map(String::as_str))
        .collect();
    let value = required.first().copied().unwrap_or("aws:kms");
    let r = r
        .line("An explicit Deny overrides every Allow: an Allow changes nothing here.")
        .line(format!(
            "Deny statement {} of {} denies writes whose x-amz-server-side-encryption is not {value} ({}); a request without the header matches it too.",
            hit.name(),
            doc.origin(),
            hit.conditions()
        ));
    let parts = g.ctxs.iter().filter(|c| c.ev.event_name == "UploadPart" && c.hit(KeyClass::Sse).is_some()).count();
    let guarded = hit.statement.conditions.iter().any(|c| c.op == "Null");
    if parts == 0 || guarded {
        return r.line(format!(
            "Request change that satisfies it: send x-amz-server-side-encryption: {value} on PutObject and CreateMultipartUpload."
        ));
    }
    let initiate = g
        .ctxs
        .iter()
        .find_map(|c| c.initiate)
        .map(|i| {
            format!(
                " (CreateMultipartUpload of {} with the header succeeded at {}, eventID {})",
                clip(i.key.as_deref().unwrap_or(""), 160),
                super::text::fmt_time(i.event_time_ms),
                clip(&i.event_id, 80)
            )
        })
        .unwrap_or_default();
    let mut fixed = hit.statement.raw.clone();
    if let Some(cond) = fixed.get_mut("Condition").and_then(Value::as_object_mut) {
        cond.insert("Null".to_string(), json!({ "s3:x-amz-server-side-encryption": "false" }));
    }
    r.line(format!(
        "Multipart gotcha: {parts} UploadPart request(s) were denied{initiate}. UploadPart never carries x-amz-server-side-encryption (the upload's encryption is set by CreateMultipartUpload), so this Deny refuses every part; no client change can fix that."
    ))
    .line("An …IfExists operator does not help a Deny (a missing key makes it true). Deny only a wrong header: add \"Null\": {\"s3:x-amz-server-side-encryption\": \"false\"} to the statement's Condition, and let the bucket's default encryption (SSE-KMS) cover requests that send no header (aws s3api put-bucket-encryption).")
    .draft(&fixed, false)
}

/// KMS: the verdict of the message or of the correlated KMS event decides the place. S3
/// authorization already passed, so no s3:PutObject is drafted.
fn kms_remedies(g: &Group<'_, '_>) -> Vec<Remedy> {
    let verdict = g.ctxs.iter().find_map(|c| c.kms_verdict());
    let key_owner =
        g.fill.kms_key.as_deref().and_then(|k| k.split(':').nth(4)).filter(|a| is_account_id(a)).map(str::to_string);
    match verdict {
        Some(r) if r.kind == PolicyKind::Resource && r.verdict == Verdict::NoAllow => {
            let p = g.partition().to_string();
            let principal = g.principal().map_or_else(|| json!({"AWS": "<caller-role-arn>"}), |a| json!({ "AWS": a }));
            let via = match g.region() {
                Some(r) => json!({ "kms:ViaService": format!("s3.{r}.amazonaws.com") }),
                None => json!({ "kms:ViaService": "s3.<region>.amazonaws.com" }),
            };
            let st = Statement {
                sid: "AllowS3UploadsForCaller".to_string(),
                effect: "Allow",
                principal: Some(principal),
                action: kms_actions(g),
                resource: json!("*"),
                condition: Some(json!({
                    "StringEquals": via,
                    "StringLike": { "kms:EncryptionContext:aws:s3:arn": [g.object_resource(), format!("arn:{p}:s3:::{}", iam_literal(g.bucket()))] },
                })),
            };
            vec![Remedy::new(RemedyPlace::KeyPolicy, key_owner.as_deref(), format!("Add a statement to the key policy of {}", clip(g.fill.kms_key.as_deref().unwrap_or("the bucket's KMS key"), 200)))
                .line("The KMS event says no resource-based policy allows it: only the key policy can fix this. S3 authorization already passed, so s3:PutObject is not needed.")
                .line("The bucket ARN in the encryption context covers S3 Bucket Keys; drop it if the bucket does not use them.")
                .line("Apply with aws kms put-key-policy --key-id <key> --policy-name default --policy file://key-policy.json (merge with the current policy: put replaces it).")
                .draft(&serde_json::to_value(st).unwrap_or(Value::Null), false)]
        }
        Some(r) if r.verdict == Verdict::ExplicitDeny => {
            let place = match r.kind {
                PolicyKind::Resource => Remedy::new(RemedyPlace::KeyPolicy, key_owner.as_deref(), "Narrow the Deny in the KMS key policy".to_string()),
                PolicyKind::Scp => Remedy::new(RemedyPlace::Scp, None, "Narrow the Deny on KMS in the service control policy".to_string()),
                _ => g.identity_remedy("Narrow the Deny on the KMS key"),
            };
            vec![place.line(format!("An explicit deny on {} in {} refuses the data key; an Allow cannot override it.", g.fill.kms_key.as_deref().unwrap_or("the key"), r.kind.with_article()))]
        }
        Some(r) if r.kind == PolicyKind::Boundary => vec![Remedy::new(RemedyPlace::Boundary, g.caller(), "Allow the KMS key in the permissions boundary".to_string())
            .line("S3 authorization already passed: only kms:GenerateDataKey (and kms:Decrypt for multipart) is missing.")
            .draft(&document(kms_identity_statements(g)), true)],
        Some(r) if r.kind == PolicyKind::Session => vec![Remedy::new(RemedyPlace::SessionPolicy, g.caller(), "Allow the KMS key in the session policy".to_string())
            .line("Keep the session policy's scoping; add only this statement where AssumeRole is called.")
            .draft(&document(kms_identity_statements(g)), true)],
        _ => vec![g.identity_remedy("Allow the KMS key")
            .line("S3 authorization already passed: only kms:GenerateDataKey (and kms:Decrypt for multipart uploads) is missing; the key policy must allow the caller as well (it does when it delegates to IAM).")
            .draft(&document(kms_identity_statements(g)), true)],
    }
}

fn kms_actions(g: &Group<'_, '_>) -> Vec<String> {
    let mut a = vec!["kms:GenerateDataKey".to_string()];
    if g.multipart() || g.ctxs.iter().any(|c| c.msg.action == Some("kms:Decrypt")) {
        a.push("kms:Decrypt".to_string());
    }
    a
}

/// Identity-side KMS statements: the keys the trail names, or any key used through S3.
fn kms_identity_statements(g: &Group<'_, '_>) -> Vec<Statement> {
    let p = g.partition().to_string();
    let account = g.caller();
    let mut keys: Vec<String> = Vec::new();
    for c in g.ctxs {
        let candidates = [
            c.msg.resource.filter(|_| c.msg.is_kms()),
            c.ev.sse_kms_key_id.as_deref(),
            c.kms.and_then(|k| k.event.kms_key_arn.as_deref()),
        ];
        for k in candidates.into_iter().flatten() {
            if let Some(arn) = key_arn(k, &p, g.region(), account)
                && !keys.contains(&arn)
            {
                keys.push(arn);
            }
        }
    }
    keys.sort();
    let actions = kms_actions(g);
    if keys.is_empty() {
        let (op, via) = match g.region() {
            Some(r) => ("StringEquals", format!("s3.{r}.amazonaws.com")),
            None => ("StringLike", "s3.*.amazonaws.com".to_string()),
        };
        return vec![Statement {
            sid: "UseBucketKeyViaS3".to_string(),
            effect: "Allow",
            principal: None,
            action: actions,
            resource: json!(format!("arn:{p}:kms:{}:{}:key/*", g.region().unwrap_or("*"), account.unwrap_or("*"))),
            condition: Some(json!({ op: { "kms:ViaService": via } })),
        }];
    }
    vec![Statement {
        sid: "UseKeyForUploads".to_string(),
        effect: "Allow",
        principal: None,
        action: actions,
        resource: if keys.len() == 1 { json!(keys[0]) } else { json!(keys) },
        condition: None,
    }]
}

fn is_region(r: &str) -> bool {
    !r.is_empty() && r.len() <= 32 && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_key_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 80 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A key spelling from a log as a key ARN a policy can name, or `None` (aliases and anything not
/// well formed never reach a policy).
pub(crate) fn key_arn(name: &str, p: &str, region: Option<&str>, account: Option<&str>) -> Option<String> {
    let name = name.trim_end_matches(['.', ',', ';', ')']);
    if name.starts_with("arn:") {
        let parts: Vec<&str> = name.splitn(6, ':').collect();
        let [_, kp, "kms", r, a, resource] = parts.as_slice() else { return None };
        let id = resource.strip_prefix("key/")?;
        return (partition(name) == Some(kp) && is_region(r) && is_account_id(a) && is_key_id(id))
            .then(|| name.to_string());
    }
    let (Some(r), Some(a)) = (region, account) else { return None };
    is_key_id(name).then(|| format!("arn:{p}:kms:{r}:{a}:key/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_arns_are_validated() {
        let (r, a) = (Some("us-east-1"), Some("111122223333"));
        assert_eq!(
            key_arn("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab", "aws", r, a).as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab")
        );
        assert_eq!(
            key_arn("1234abcd", "aws", r, a).as_deref(),
            Some("arn:aws:kms:us-east-1:111122223333:key/1234abcd")
        );
        assert_eq!(key_arn("arn:aws:kms:us-east-1:111122223333:key/*", "aws", r, a), None);
        assert_eq!(key_arn("alias/app", "aws", r, a), None);
        assert_eq!(key_arn("*", "aws", r, a), None);
        assert_eq!(key_arn("1234abcd", "aws", None, a), None);
    }
}
