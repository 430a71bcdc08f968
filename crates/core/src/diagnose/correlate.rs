//! Correlation rules (causes.md §4): companion events indexed once per scan, and the look-ups that
//! join them to a target: the KMS denial behind an S3 write, the VpceAccessDenied network event, the
//! `AssumeRole*` call that issued a session, the owner's copy of a cross-account request, and policy
//! changes made shortly before a group's first denial.

use std::collections::HashMap;

use crate::event::{Event, EventRole};

use super::message::{PolicyKind, starts_with_ci};
use super::policy::Document;
use crate::event::is_account_id;
use crate::filter::S3_WRITES;

/// How long before the S3 event a KMS call may happen and still be the one S3 made for it.
const KMS_WINDOW_MS: i64 = 60_000;
/// Slack after the S3 `eventTime` (second-precision times, clock skew between services).
const KMS_SLACK_MS: i64 = 2_000;
/// A VpceAccessDenied network event and the data event of the same request.
const VPCE_WINDOW_MS: i64 = 300_000;
/// How far back a policy change still counts as "recent" for a group's first denial.
pub(crate) const CHANGE_LOOKBACK_MS: i64 = 7 * 86_400_000;

/// Companion events indexed for the correlation rules; built once per scan.
///
/// Pass every kept event: companions are indexed by kind, and targets (if included) are used only
/// to find the bucket owner from the other copy of a request (`sharedEventID`).
#[derive(Debug, Default)]
pub struct Companions<'e> {
    events: Vec<&'e Event>,
    /// KMS `GenerateDataKey`/`Decrypt` denials by caller identifier (access key, principal id, ARN).
    kms_by_caller: HashMap<String, Vec<usize>>,
    /// VpceAccessDenied network events.
    vpce: Vec<usize>,
    /// `AssumeRole*`/`GetFederationToken` by the access key they issued.
    session_by_key: HashMap<String, usize>,
    /// Successful policy changes, oldest first.
    changes: Vec<usize>,
    /// Every copy of a request by `sharedEventID`.
    by_shared_id: HashMap<String, Vec<usize>>,
    /// The parsed policy document of each change or session event that carries one.
    documents: HashMap<usize, Document>,
    /// Successful S3 writes by caller (role or user ARN), in time order: what the same
    /// principal could still do (kept only when the scan keeps successes).
    successes: HashMap<String, Vec<usize>>,
    /// Object reads (GetObject/HeadObject, any outcome) by bucket and key: a probe reads back.
    reads: HashMap<(String, String), Vec<usize>>,
    /// Buckets each principal was denied a write on (for "tries many buckets").
    denied_buckets: HashMap<String, Vec<String>>,
}

/// A KMS denial joined to an S3 write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KmsLink<'a> {
    pub event: &'a Event,
    /// Joined on the encryption context or the key (strong), or only on caller and time (weak).
    pub joined_on: Option<&'static str>,
}

/// What a policy change touched, as far as grouping is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeScope {
    Bucket,
    Account,
    Iam,
    Organizations,
    KmsKey,
}

/// The identity of a group, for matching policy changes to it.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupProfile<'a> {
    pub bucket: Option<&'a str>,
    pub principal_arn: Option<&'a str>,
    pub caller_account: Option<&'a str>,
    pub owner_account: Option<&'a str>,
    pub kms_key: Option<&'a str>,
    pub kms_involved: bool,
    pub first_denial_ms: Option<i64>,
    /// Some event of the group names no policy type (so any policy may be the one).
    pub generic: bool,
    /// The policy kinds the group's messages name.
    pub kinds: Vec<PolicyKind>,
}

impl GroupProfile<'_> {
    /// A policy of one of `kinds` may be what denies this group.
    fn could_be(&self, kinds: &[PolicyKind]) -> bool {
        self.generic || self.kinds.iter().any(|k| kinds.contains(k))
    }
}

impl<'e> Companions<'e> {
    /// Indexes `events` (borrowed: the scan's companions and targets are not copied).
    pub fn new(events: Vec<&'e Event>) -> Self {
        let mut this = Companions { events, ..Companions::default() };
        let mut changes = Vec::new();
        for (i, ev) in this.events.iter().enumerate() {
            if let Some(shared) = ev.shared_event_id.as_deref().filter(|s| !s.is_empty()) {
                this.by_shared_id.entry(shared.to_string()).or_default().push(i);
            }
            if ev.event_source == "s3.amazonaws.com" {
                if let (Some(b), Some(k)) = (ev.bucket.as_deref(), ev.key.as_deref())
                    && matches!(ev.event_name.as_str(), "GetObject" | "HeadObject")
                {
                    this.reads.entry((b.to_string(), k.to_string())).or_default().push(i);
                }
                if S3_WRITES.contains(&ev.event_name.as_str()) {
                    if ev.error_code.is_none() {
                        if let Some(who) = ev.principal_arn() {
                            this.successes.entry(caller_key(who)).or_default().push(i);
                        }
                    } else if ev.error_code.as_deref() == Some("AccessDenied")
                        && let Some(b) = ev.bucket.as_deref()
                    {
                        let slot = this.denied_buckets.entry(ev.principal.clone()).or_default();
                        if !slot.iter().any(|x| x == b) {
                            slot.push(b.to_string());
                        }
                    }
                }
            }
            if let Some(doc) = ev.policy_document.as_deref().and_then(Document::parse)
                && (is_session_issuer(ev) || change_scope(ev).is_some())
                && ev.error_code.is_none()
            {
                this.documents.insert(i, doc);
            }
            if ev.role == Some(EventRole::Target) {
                continue;
            }
            if is_kms_denial(ev) {
                for id in caller_ids(ev) {
                    let slot = this.kms_by_caller.entry(id.to_string()).or_default();
                    if !slot.contains(&i) {
                        slot.push(i);
                    }
                }
            } else if is_vpce_denial(ev) {
                this.vpce.push(i);
            } else if is_session_issuer(ev) {
                if let Some(key) = ev.issued_access_key_id.as_deref().filter(|k| !k.is_empty()) {
                    this.session_by_key.insert(key.to_string(), i);
                }
            } else if change_scope(ev).is_some() && ev.error_code.is_none() {
                changes.push(i);
            }
        }
        // Every index is kept in time order (untimed events first) so look-ups can binary-search
        // their window instead of scanning.
        let events = &this.events;
        let by_time = |&i: &usize| (events[i].event_time_ms, i);
        for slot in this.kms_by_caller.values_mut() {
            slot.sort_by_key(by_time);
        }
        this.vpce.sort_by_key(by_time);
        for slot in this.successes.values_mut().chain(this.reads.values_mut()) {
            slot.sort_by_key(by_time);
        }
        changes.sort_by_key(by_time);
        this.changes = changes;
        this
    }

    /// The KMS denial S3 ran into while serving `target`, if the logs hold it.
    pub(crate) fn kms_for(&self, target: &Event) -> Option<KmsLink<'_>> {
        let object_arn = target.object_arn();
        let bucket_arn = target.bucket.as_deref().map(|b| format!("arn:aws:s3:::{b}"));
        let mut seen = Vec::new();
        let mut best: Option<(bool, i64, KmsLink<'_>)> = None;
        for id in caller_ids(target) {
            let slot = self.kms_by_caller.get(id).map(Vec::as_slice).unwrap_or_default();
            let range = target.event_time_ms.map(|t| (t.saturating_sub(KMS_WINDOW_MS), t.saturating_add(KMS_SLACK_MS)));
            for i in window(&self.events, slot, range) {
                if seen.contains(&i) {
                    continue;
                }
                seen.push(i);
                let kms = self.events[i];
                let gap = match (kms.event_time_ms, target.event_time_ms) {
                    (Some(k), Some(t)) => Some(t.saturating_sub(k)),
                    _ => None,
                };
                let in_window = gap.is_some_and(|g| (-KMS_SLACK_MS..=KMS_WINDOW_MS).contains(&g));
                let context = kms.kms_s3_arn.as_deref();
                let joined_on = if context.is_some() && context == object_arn.as_deref() {
                    Some("encryption context")
                } else if context.is_some() && context == bucket_arn.as_deref() {
                    Some("encryption context (bucket key)")
                } else if let (Some(a), Some(b)) = (kms.kms_key_arn.as_deref(), target.sse_kms_key_id.as_deref())
                    && same_key(a, b)
                {
                    Some("key ARN")
                } else {
                    None
                };
                let accept = match joined_on {
                    // An exact object join needs no clock; a bucket or key join does.
                    Some("encryption context") => gap.is_none() || in_window,
                    Some(_) => in_window,
                    // Caller and time only: the KMS call names no other object, and S3 made it.
                    None => in_window && context.is_none() && made_by_s3(kms),
                };
                if !accept {
                    continue;
                }
                let rank = (joined_on.is_some(), -gap.unwrap_or(KMS_WINDOW_MS).saturating_abs());
                if best.as_ref().is_none_or(|(s, g, _)| rank > (*s, *g)) {
                    best = Some((rank.0, rank.1, KmsLink { event: kms, joined_on }));
                }
            }
        }
        best.map(|(_, _, link)| link)
    }

    /// The VpceAccessDenied network event of the same request, if the endpoint owner logged it.
    pub(crate) fn vpce_for(&self, target: &Event) -> Option<&Event> {
        let t = target.event_time_ms?;
        let range = Some((t.saturating_sub(VPCE_WINDOW_MS), t.saturating_add(VPCE_WINDOW_MS)));
        window(&self.events, &self.vpce, range)
            .map(|i| self.events[i])
            .filter(|v| {
                let same_endpoint = match (v.vpc_endpoint_id.as_deref(), target.vpc_endpoint_id.as_deref()) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                let same_caller = caller_ids(v).any(|id| caller_ids(target).any(|t| t == id));
                let same_call = v.event_name == target.event_name
                    && opt_eq(v.bucket.as_deref(), target.bucket.as_deref())
                    && opt_eq(v.key.as_deref(), target.key.as_deref());
                let close = matches!((v.event_time_ms, target.event_time_ms),
                    (Some(a), Some(b)) if a.saturating_sub(b).saturating_abs() <= VPCE_WINDOW_MS);
                same_endpoint && same_caller && same_call && close
            })
            .min_by_key(|v| match (v.event_time_ms, target.event_time_ms) {
                (Some(a), Some(b)) => a.saturating_sub(b).saturating_abs(),
                _ => i64::MAX,
            })
    }

    /// The `AssumeRole*`/`GetFederationToken` event that issued the target's temporary key.
    pub(crate) fn session_for(&self, target: &Event) -> Option<&Event> {
        let key = target.access_key_id.as_deref().filter(|k| starts_with_ci(k, "ASIA"))?;
        self.session_by_key.get(key).map(|&i| self.events[i])
    }

    /// The bucket owner learnt from another copy of the same request (`sharedEventID`): a copy
    /// delivered to an account other than the caller's went to the owner.
    pub(crate) fn owner_from_copies(&self, target: &Event) -> Option<&str> {
        let shared = target.shared_event_id.as_deref()?;
        let copies = self.by_shared_id.get(shared)?;
        copies.iter().map(|&i| self.events[i]).filter(|copy| copy.event_id != target.event_id).find_map(|copy| {
            if let Some(owner) = copy.bucket_owner.as_deref().filter(|o| !o.is_empty()) {
                return Some(owner);
            }
            let recipient = copy.recipient_account.as_deref()?;
            (Some(recipient) != target.account.as_deref() && is_account_id(recipient)).then_some(recipient)
        })
    }

    /// The bucket policy in force at `before_ms` as the trail knows it: the newest PutBucketPolicy
    /// (or DeleteBucketPolicy, which leaves none) on `bucket`, with its parsed document. A
    /// PutBucketPolicy replaces the whole policy, so its document is authoritative.
    pub(crate) fn bucket_policy_at(&self, bucket: &str, before_ms: Option<i64>) -> Option<(&'e Event, &Document)> {
        let i = self.newest_change(before_ms, |c| {
            matches!(c.event_name.as_str(), "PutBucketPolicy" | "DeleteBucketPolicy")
                && (c.bucket.as_deref() == Some(bucket) || c.changed_resource.as_deref() == Some(bucket))
        })?;
        Some((self.events[i], self.documents.get(&i)?))
    }

    /// Identity-side documents the trail holds for a principal (inline policies put on its role
    /// or user, newest first). One inline policy among many: it can confirm a Deny, not rule one out.
    pub(crate) fn identity_documents(
        &self,
        principal_arn: &str,
        before_ms: Option<i64>,
    ) -> Vec<(&'e Event, &Document)> {
        let name = super::text::iam_name(principal_arn);
        self.documents_where(before_ms, |c| {
            c.event_source == "iam.amazonaws.com"
                && c.changed_resource.as_deref().is_some_and(|r| r == principal_arn || Some(r) == name)
        })
    }

    /// Organization policy documents (SCP/RCP contents) the trail holds, newest first.
    pub(crate) fn organization_documents(&self, before_ms: Option<i64>) -> Vec<(&'e Event, &Document)> {
        self.documents_where(before_ms, |c| c.event_source == "organizations.amazonaws.com")
    }

    /// The parsed session policy of a session-issuing event (`session_policy` is what a compact
    /// session companion keeps of it).
    pub(crate) fn session_document(session: &Event) -> Option<Document> {
        session.policy_document.as_deref().or(session.session_policy.as_deref()).and_then(Document::parse)
    }

    /// The policy changes at or before `before_ms` (all of them when a time is unknown), newest first.
    fn changes_until(&self, before_ms: Option<i64>) -> impl Iterator<Item = usize> + '_ {
        self.changes.iter().rev().copied().filter(move |&i| match (self.events[i].event_time_ms, before_ms) {
            (Some(t), Some(b)) => t <= b,
            _ => true,
        })
    }

    fn newest_change(&self, before_ms: Option<i64>, pick: impl Fn(&Event) -> bool) -> Option<usize> {
        self.changes_until(before_ms).find(|&i| pick(self.events[i]))
    }

    fn documents_where(&self, before_ms: Option<i64>, pick: impl Fn(&Event) -> bool) -> Vec<(&'e Event, &Document)> {
        self.changes_until(before_ms)
            .filter(|&i| pick(self.events[i]))
            .filter_map(|i| Some((self.events[i], self.documents.get(&i)?)))
            .collect()
    }

    /// The same caller's successful CreateMultipartUpload of the same object before an UploadPart.
    pub(crate) fn initiate_before(&self, part: &Event) -> Option<&'e Event> {
        let who = caller_key(part.principal_arn()?);
        self.successes.get(&who)?.iter().rev().map(|&i| self.events[i]).find(|s| {
            s.event_name == "CreateMultipartUpload"
                && s.bucket == part.bucket
                && s.key == part.key
                && matches!((s.event_time_ms, part.event_time_ms), (Some(a), Some(b)) if a <= b)
        })
    }

    /// The caller's newest successful write to the same bucket and prefix before `before_ms`.
    pub(crate) fn last_success(&self, like: &Event, before_ms: Option<i64>) -> Option<&'e Event> {
        let who = caller_key(like.principal_arn()?);
        self.successes.get(&who)?.iter().rev().map(|&i| self.events[i]).find(|s| {
            s.bucket == like.bucket
                && s.prefix == like.prefix
                && matches!((s.event_time_ms, before_ms), (Some(a), Some(b)) if a < b)
        })
    }

    /// A read of the object a denied write tried to create, after the write, from the same
    /// address or caller: a probe checking whether its upload landed.
    pub(crate) fn read_back(&self, write: &Event) -> Option<&'e Event> {
        let key = (write.bucket.clone()?, write.key.clone()?);
        self.reads.get(&key)?.iter().map(|&i| self.events[i]).find(|r| {
            let same = (r.source_ip.is_some() && r.source_ip == write.source_ip) || r.principal == write.principal;
            let after = matches!((r.event_time_ms, write.event_time_ms), (Some(a), Some(b)) if a >= b);
            same && after
        })
    }

    /// How many buckets this principal was denied a write on, in the whole scan.
    pub(crate) fn denied_bucket_count(&self, principal: &str) -> usize {
        self.denied_buckets.get(principal).map_or(0, Vec::len)
    }

    /// Policy changes relevant to a group made before its first denial (newest first).
    pub(crate) fn changes_before(&self, group: &GroupProfile<'_>) -> Vec<&Event> {
        let Some(first) = group.first_denial_ms else {
            return Vec::new();
        };
        let range = Some((first.saturating_sub(CHANGE_LOOKBACK_MS), first.saturating_sub(1)));
        let mut found: Vec<&Event> = window(&self.events, &self.changes, range)
            .map(|i| self.events[i])
            .filter(|c| c.event_time_ms.is_some_and(|t| t < first && first.saturating_sub(t) <= CHANGE_LOOKBACK_MS))
            .filter(|c| change_touches(c, group))
            .collect();
        found.reverse();
        found
    }
}

/// The part of a time-sorted index whose times fall in `[from, to]`, plus its untimed prefix (or
/// everything when the window is unknown).
fn window<'a>(events: &[&Event], index: &'a [usize], range: Option<(i64, i64)>) -> impl Iterator<Item = usize> + 'a {
    let time = |i: usize| events[i].event_time_ms;
    let untimed = index.partition_point(|&i| time(i).is_none());
    let (start, end) = match range {
        Some((from, to)) => (
            index.partition_point(|&i| time(i).is_none_or(|t| t < from)),
            index.partition_point(|&i| time(i).is_none_or(|t| t <= to)),
        ),
        None => (untimed, index.len()),
    };
    index[..untimed].iter().chain(&index[start.max(untimed)..end.max(start).max(untimed)]).copied()
}

/// Sessions of one role share their successes: the role ARN, not the session ARN, is the key.
fn caller_key(arn: &str) -> String {
    crate::event::role_arn_from_session_arn(arn).unwrap_or_else(|| arn.to_string())
}

/// Identifiers a caller is known by, for joining its own events: access key, principal id, ARN.
fn caller_ids(ev: &Event) -> impl Iterator<Item = &str> {
    [ev.access_key_id.as_deref(), ev.principal_id.as_deref(), ev.identity_arn.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
}

fn opt_eq(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

pub fn is_kms_denial(ev: &Event) -> bool {
    kms_denial(&ev.event_source, &ev.event_name, ev.error_code.as_deref())
}

/// [`is_kms_denial`] of an event's fields, owned or borrowed.
pub fn kms_denial(event_source: &str, event_name: &str, error_code: Option<&str>) -> bool {
    event_source == "kms.amazonaws.com"
        && matches!(event_name, "GenerateDataKey" | "Decrypt")
        && error_code.is_some_and(|c| c == "AccessDenied" || c == "AccessDeniedException")
}

fn is_vpce_denial(ev: &Event) -> bool {
    vpce_denial(ev.error_code.as_deref())
}

/// A VPC endpoint's network activity event of a request its policy denied, by error code.
pub fn vpce_denial(error_code: Option<&str>) -> bool {
    error_code == Some("VpceAccessDenied")
}

/// An STS call that issues session credentials (`AssumeRole*`, `GetFederationToken`).
pub fn is_session_issuer(ev: &Event) -> bool {
    session_issuer(&ev.event_source, &ev.event_name)
}

/// [`is_session_issuer`] of an event's fields, owned or borrowed.
pub fn session_issuer(event_source: &str, event_name: &str) -> bool {
    event_source == "sts.amazonaws.com" && (event_name.starts_with("AssumeRole") || event_name == "GetFederationToken")
}

/// S3 made the KMS call on the caller's behalf (forward access session).
fn made_by_s3(kms: &Event) -> bool {
    [kms.invoked_by.as_deref(), kms.source_ip.as_deref(), kms.user_agent.as_deref()]
        .into_iter()
        .flatten()
        .any(|s| s.ends_with("s3.amazonaws.com"))
}

/// Two spellings of one KMS key: full ARNs, a bare key id, `key/<id>`, or the same alias.
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    fn tail(k: &str) -> &str {
        let k = k.rsplit(':').next().unwrap_or(k);
        k.strip_prefix("key/").unwrap_or(k)
    }
    a == b || (!tail(a).is_empty() && tail(a) == tail(b))
}

/// Which kind of policy a companion event changed, if it is a policy change at all.
pub(crate) fn change_scope(ev: &Event) -> Option<ChangeScope> {
    let name = ev.event_name.as_str();
    match ev.event_source.as_str() {
        "s3.amazonaws.com" => match name {
            "PutBucketPolicy"
            | "DeleteBucketPolicy"
            | "PutBucketPublicAccessBlock"
            | "PutBucketOwnershipControls"
            | "PutBucketEncryption"
            | "PutBucketRequestPayment" => Some(ChangeScope::Bucket),
            "PutPublicAccessBlock" | "PutAccountPublicAccessBlock" if ev.bucket.is_some() => Some(ChangeScope::Bucket),
            "PutPublicAccessBlock" | "PutAccountPublicAccessBlock" => Some(ChangeScope::Account),
            _ => None,
        },
        "s3-control.amazonaws.com" | "s3control.amazonaws.com"
            if matches!(name, "PutPublicAccessBlock" | "PutAccountPublicAccessBlock") =>
        {
            Some(ChangeScope::Account)
        }
        "iam.amazonaws.com" => {
            let policy_change = (name.starts_with("Put")
                && (name.ends_with("Policy") || name.ends_with("PermissionsBoundary")))
                || ((name.starts_with("Attach") || name.starts_with("Detach")) && name.ends_with("Policy"))
                || matches!(name, "CreatePolicyVersion" | "SetDefaultPolicyVersion");
            policy_change.then_some(ChangeScope::Iam)
        }
        "organizations.amazonaws.com" => {
            matches!(name, "AttachPolicy" | "UpdatePolicy" | "DetachPolicy").then_some(ChangeScope::Organizations)
        }
        "kms.amazonaws.com" => (name == "PutKeyPolicy").then_some(ChangeScope::KmsKey),
        _ => None,
    }
}

/// Whether a policy change can affect the group.
fn change_touches(change: &Event, group: &GroupProfile<'_>) -> bool {
    let resource = change.changed_resource.as_deref().filter(|r| !r.is_empty());
    match change_scope(change) {
        Some(ChangeScope::Bucket) => {
            let Some(bucket) = group.bucket else { return false };
            // A bucket setting cannot be what a message blaming another policy type names.
            let relevant = group.kinds.is_empty()
                || group.could_be(&[PolicyKind::Resource])
                || (change.event_name == "PutBucketEncryption" && group.kms_involved);
            relevant
                && (change.bucket.as_deref() == Some(bucket)
                    || resource.is_some_and(|r| r == bucket || r.strip_prefix("arn:aws:s3:::") == Some(bucket)))
        }
        Some(ChangeScope::Account) => {
            let account = resource.filter(|r| is_account_id(r)).or(change.recipient_account.as_deref());
            account.is_some() && account == group.owner_account.or(group.caller_account)
        }
        Some(ChangeScope::Iam) => {
            let (Some(resource), Some(principal)) = (resource, group.principal_arn) else {
                return false;
            };
            let name = super::text::iam_name(principal);
            let same_principal = resource == principal || name.is_some_and(|n| resource == n);
            // A managed policy in the caller's account may be attached to the principal.
            let managed_here = resource.contains(":policy/")
                && group.caller_account.is_some_and(|a| resource.split(':').nth(4) == Some(a))
                && group.could_be(&[PolicyKind::Identity, PolicyKind::Boundary, PolicyKind::Session]);
            same_principal || managed_here
        }
        Some(ChangeScope::Organizations) if !group.could_be(&[PolicyKind::Scp, PolicyKind::Rcp]) => false,
        Some(ChangeScope::Organizations) => match resource {
            // AttachPolicy names its target; an account other than the caller's or owner's is elsewhere.
            Some(r) if is_account_id(r) => Some(r) == group.caller_account || Some(r) == group.owner_account,
            _ => true,
        },
        Some(ChangeScope::KmsKey) => match (group.kms_key, resource.or(change.kms_key_arn.as_deref())) {
            (Some(key), Some(changed)) => same_key(key, changed),
            _ => group.kms_involved,
        },
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spellings() {
        assert!(same_key("arn:aws:kms:us-east-1:1:key/abc", "abc"));
        assert!(same_key("arn:aws:kms:us-east-1:1:key/abc", "key/abc"));
        assert!(same_key("alias/x", "arn:aws:kms:us-east-1:1:alias/x"));
        assert!(!same_key("arn:aws:kms:us-east-1:1:key/abc", "arn:aws:kms:us-east-1:1:key/abd"));
    }

    #[test]
    fn window_selects_by_time() {
        let at = |t: Option<i64>| Event { event_time_ms: t, ..Event::default() };
        let events = [at(Some(10)), at(None), at(Some(30)), at(Some(20)), at(Some(40))];
        let mut index: Vec<usize> = (0..events.len()).collect();
        index.sort_by_key(|&i| (events[i].event_time_ms, i));
        let refs: Vec<&Event> = events.iter().collect();
        let pick = |range| window(&refs, &index, range).collect::<Vec<_>>();
        assert_eq!(pick(Some((15, 30))), vec![1, 3, 2]);
        assert_eq!(pick(Some((41, 50))), vec![1]);
        assert_eq!(pick(Some((0, 5))), vec![1]);
        assert_eq!(pick(None), vec![1, 0, 3, 2, 4]);
        assert_eq!(window(&refs, &[], Some((0, 1))).count(), 0);
    }

    #[test]
    fn scopes() {
        let ev = |source: &str, name: &str| Event {
            event_source: source.into(),
            event_name: name.into(),
            ..Event::default()
        };
        assert_eq!(change_scope(&ev("s3.amazonaws.com", "PutBucketPolicy")), Some(ChangeScope::Bucket));
        assert_eq!(change_scope(&ev("iam.amazonaws.com", "PutRolePolicy")), Some(ChangeScope::Iam));
        assert_eq!(change_scope(&ev("iam.amazonaws.com", "AttachRolePolicy")), Some(ChangeScope::Iam));
        assert_eq!(change_scope(&ev("iam.amazonaws.com", "GetRolePolicy")), None);
        assert_eq!(change_scope(&ev("organizations.amazonaws.com", "UpdatePolicy")), Some(ChangeScope::Organizations));
        assert_eq!(change_scope(&ev("kms.amazonaws.com", "PutKeyPolicy")), Some(ChangeScope::KmsKey));
        assert_eq!(change_scope(&ev("s3.amazonaws.com", "PutObject")), None);
    }
}
