//! The compact, owned event: what survives of a CloudTrail record once it matched a filter.
//!
//! Only matching records are turned into an `Event` (the parser borrows everything else), so this
//! struct can afford to own its strings. Every field is optional text because CloudTrail omits
//! what was not sent, and because logs are untrusted input: an odd type becomes `None`, never an error.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

thread_local! {
    /// The text of an event, joined for [`Event::screen_secrets`], reused.
    static SCREENED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Why an event was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventRole {
    /// Matches the user's filter: a denied S3 write by default. These are grouped and reported.
    Target,
    /// Kept only to explain targets: KMS and VPC-endpoint denials, `AssumeRole*`, policy changes.
    Companion,
}

#[derive(Debug, Clone, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub shared_event_id: Option<String>,
    pub request_id: Option<String>,
    /// `eventTime` in milliseconds since the Unix epoch (UTC); `None` when absent or unparsable.
    pub event_time_ms: Option<i64>,
    pub event_source: String,
    pub event_name: String,
    pub event_category: Option<String>,
    pub event_type: Option<String>,
    pub aws_region: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// `recipientAccountId`: whose trail received this copy.
    pub recipient_account: Option<String>,

    // --- who (userIdentity) ---
    /// Grouping key, see [`crate::parse::extract::principal_of`].
    pub principal: String,
    /// `userIdentity.type`, or `Unknown`.
    pub principal_type: String,
    pub identity_arn: Option<String>,
    /// `userIdentity.accountId`: the caller's account (or `ANONYMOUS_PRINCIPAL`).
    pub account: Option<String>,
    pub principal_id: Option<String>,
    pub access_key_id: Option<String>,
    pub invoked_by: Option<String>,
    pub session_issuer_arn: Option<String>,
    pub session_issuer_type: Option<String>,
    /// Session name: the last segment of an assumed-role ARN, or the `principalId` suffix.
    pub session_name: Option<String>,
    /// `sessionContext.attributes.mfaAuthenticated`.
    pub mfa_authenticated: Option<bool>,
    /// `userIdentity.onBehalfOf.userId` (Identity Center users).
    pub on_behalf_of_user_id: Option<String>,

    // --- where ---
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The key's folder prefix at the scan's `--prefix-depth` ("" at the bucket root).
    pub prefix: String,
    /// Bucket owner account, from the `AWS::S3::Bucket` resource.
    pub bucket_owner: Option<String>,
    pub access_point_arn: Option<String>,
    pub host: Option<String>,

    // --- request facts (requestParameters / additionalEventData / tlsDetails) ---
    pub acl: Option<String>,
    /// `x-amz-grant-*` headers that were sent, as `header=value` joined by `; `.
    pub grants: Option<String>,
    pub sse: Option<String>,
    pub sse_kms_key_id: Option<String>,
    pub sse_customer_algorithm: Option<String>,
    /// `x-amz-object-lock-*` headers that were sent, comma separated.
    pub object_lock: Option<String>,
    pub expected_bucket_owner: Option<String>,
    pub request_payer: Option<String>,
    pub signature_version: Option<String>,
    /// `AuthHeader`, or `QueryString` for a presigned URL.
    pub auth_method: Option<String>,
    /// `additionalEventData.CipherSuite`.
    pub cipher_suite: Option<String>,
    pub tls_version: Option<String>,
    pub tls_cipher_suite: Option<String>,
    pub vpc_endpoint_id: Option<String>,
    pub vpc_endpoint_account: Option<String>,

    // --- companion facts ---
    /// `resources[type=AWS::KMS::Key].ARN`, or the `keyId` request parameter of a KMS call.
    pub kms_key_arn: Option<String>,
    /// `requestParameters.encryptionContext."aws:s3:arn"` of a KMS call made for S3.
    pub kms_s3_arn: Option<String>,
    /// `responseElements.credentials.accessKeyId` of an `AssumeRole*`/`GetFederationToken` call.
    pub issued_access_key_id: Option<String>,
    /// The role an `AssumeRole*` call asked for (`requestParameters.roleArn`).
    pub assumed_role_arn: Option<String>,
    /// An inline session policy or managed session policies were passed (`policy` / `policyArns`).
    pub session_policy: Option<String>,
    /// For policy-change events: the resource changed (bucket, policy ARN, role, key id...).
    pub changed_resource: Option<String>,
    /// The policy document a companion carries, as JSON text: `bucketPolicy` of PutBucketPolicy,
    /// `policyDocument` of Put*Policy/CreatePolicyVersion, `policy` of PutKeyPolicy and AssumeRole*,
    /// `content` of Organizations policies. Dropped (not cut) above [`MAX_POLICY_DOCUMENT`] bytes,
    /// so what is kept always parses.
    pub policy_document: Option<String>,

    /// The log object (file path or s3:// URL) the record came from.
    pub source_object: String,
    pub role: Option<EventRole>,
}

/// Declares [`EventRef`] and the conversions between it and [`Event`] from one list of the
/// fields: the text ones, the optional text ones, and the rest (copied). [`Event::view`]
/// destructures an event exhaustively, so a new field of [`Event`] fails to compile until it
/// is listed here.
macro_rules! event_ref {
    (text: [$($text:ident),* $(,)?], optional: [$($opt:ident),* $(,)?], copied: [$($copy:ident: $ty:ty),* $(,)?] $(,)?) => {
        /// An [`Event`] whose text is borrowed (from a parsed record, or from an owned event):
        /// what the tallies and the hashes read. A scan folds a denial through one, straight
        /// from simd-json's tape, and copies it into an owned [`Event`] only when a sample keeps it.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct EventRef<'a> {
            $(pub $text: Cow<'a, str>,)*
            $(pub $opt: Option<Cow<'a, str>>,)*
            $(pub $copy: $ty,)*
        }

        impl Event {
            /// This event, borrowed.
            pub fn view(&self) -> EventRef<'_> {
                let Event { $($text,)* $($opt,)* $($copy,)* } = self;
                EventRef {
                    $($text: Cow::Borrowed($text),)*
                    $($opt: $opt.as_deref().map(Cow::Borrowed),)*
                    $($copy: *$copy,)*
                }
            }
        }

        impl EventRef<'_> {
            /// The owned event.
            pub fn to_event(&self) -> Event {
                Event {
                    $($text: self.$text.to_string(),)*
                    $($opt: self.$opt.as_deref().map(str::to_string),)*
                    $($copy: self.$copy,)*
                }
            }

            /// `*e = self.to_event()`, reusing `e`'s string buffers (a sample's displaced
            /// exemplar lends them to the one replacing it).
            pub fn assign_to(&self, e: &mut Event) {
                $(self.$text.as_ref().clone_into(&mut e.$text);)*
                $(match (e.$opt.as_mut(), self.$opt.as_deref()) {
                    (Some(s), Some(v)) => v.clone_into(s),
                    (_, v) => e.$opt = v.map(str::to_string),
                })*
                $(e.$copy = self.$copy;)*
            }
        }
    };
}

event_ref! {
    text: [
        event_id, event_source, event_name, principal, principal_type, prefix, source_object,
    ],
    optional: [
        shared_event_id, request_id, event_category, event_type, aws_region, error_code, error_message,
        source_ip, user_agent, recipient_account, identity_arn, account, principal_id, access_key_id,
        invoked_by, session_issuer_arn, session_issuer_type, session_name, on_behalf_of_user_id, bucket, key,
        bucket_owner, access_point_arn, host, acl, grants, sse, sse_kms_key_id, sse_customer_algorithm,
        object_lock, expected_bucket_owner, request_payer, signature_version, auth_method, cipher_suite,
        tls_version, tls_cipher_suite, vpc_endpoint_id, vpc_endpoint_account, kms_key_arn, kms_s3_arn,
        issued_access_key_id, assumed_role_arn, session_policy, changed_resource, policy_document,
    ],
    copied: [event_time_ms: Option<i64>, mfa_authenticated: Option<bool>, role: Option<EventRole>],
}

impl EventRef<'_> {
    /// [`Event::owner_known`].
    pub fn owner_known(&self) -> Option<&str> {
        owner_known(self.bucket_owner.as_deref(), &self.principal_type, self.recipient_account.as_deref())
    }

    /// [`Event::object_arn_parts`].
    pub fn object_arn_parts(&self) -> Option<[&str; 4]> {
        object_arn_parts(self.bucket.as_deref(), self.key.as_deref())
    }
}

/// [`Event::owner_known`] of an event's fields, owned or borrowed.
fn owner_known<'s>(bucket_owner: Option<&'s str>, principal_type: &str, recipient: Option<&'s str>) -> Option<&'s str> {
    bucket_owner.or_else(|| (principal_type == "AWSAccount").then_some(recipient).flatten())
}

/// [`Event::object_arn_parts`] of an event's fields, owned or borrowed.
fn object_arn_parts<'s>(bucket: Option<&'s str>, key: Option<&'s str>) -> Option<[&'s str; 4]> {
    let bucket = bucket?;
    Some(match key {
        Some(key) => ["arn:aws:s3:::", bucket, "/", key],
        None => ["arn:aws:s3:::", bucket, "", ""],
    })
}

/// Sorts events by `order` (a total order), moving each about once: an `Event` is over 1 KB, and
/// a sort in place moves each some log₂ n times (a report's thousands of companions, or the
/// targets `explain` and `query` hold). The order is found on indices, then applied cycle by
/// cycle; equal events are identical, so the result is the in-place sort's.
pub fn sort_events(events: &mut [Event], mut order: impl FnMut(&Event, &Event) -> std::cmp::Ordering) {
    const PLACED: usize = usize::MAX;
    let mut from: Vec<usize> = (0..events.len()).collect();
    from.sort_unstable_by(|&a, &b| order(&events[a], &events[b]));
    // Position `at` takes the event now at `from[at]`; each cycle of that permutation is
    // followed from its first position, one swap per step.
    for start in 0..events.len() {
        let mut at = start;
        while from[at] != PLACED {
            let next = std::mem::replace(&mut from[at], PLACED);
            if next == start {
                break;
            }
            events.swap(at, next);
            at = next;
        }
    }
}

impl Event {
    /// The order a scan's events are in: time, event ID, log object, key, then the whole content
    /// (text and integers only, so total). The diagnosis quotes the first event showing a cause.
    pub fn scan_order(a: &Event, b: &Event) -> std::cmp::Ordering {
        (a.event_time_ms, &a.event_id, &a.source_object, &a.key)
            .cmp(&(b.event_time_ms, &b.event_id, &b.source_object, &b.key))
            .then_with(|| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
    }

    /// The bucket owner this copy knows: the owner it names, or the recipient of the owner's own
    /// `AWSAccount` copy of a cross-account request.
    pub fn owner_known(&self) -> Option<&str> {
        owner_known(self.bucket_owner.as_deref(), &self.principal_type, self.recipient_account.as_deref())
    }

    /// Replaces secrets (presigned-URL signatures, session tokens, secret keys) in every text
    /// field by `[redacted]`.
    pub fn redact_secrets(&mut self) {
        self.record_texts_mut(crate::redact::redact_in_place);
        crate::redact::redact_in_place(&mut self.source_object);
    }

    /// [`Event::redact_secrets`], when one screen of all the text read from the record finds
    /// there may be a secret in it ([`crate::redact::may_hold_secret`]); nearly no event has.
    /// (The log object's name is not read from the record: the parser redacts it once per object.)
    pub fn screen_secrets(&mut self) {
        let may_hold = SCREENED.with_borrow_mut(|text| {
            text.clear();
            self.record_texts_mut(|s| {
                text.extend_from_slice(s.as_bytes());
                text.push(b'\n');
            });
            crate::redact::may_hold_secret(text)
        });
        if may_hold {
            self.redact_secrets();
        }
    }

    /// Calls `f` with every text field read from the record (all but `source_object`). The
    /// destructuring is exhaustive: a new field must be listed here.
    fn record_texts_mut(&mut self, mut f: impl FnMut(&mut String)) {
        let Event {
            event_id,
            event_source,
            event_name,
            principal,
            principal_type,
            prefix,
            source_object,
            shared_event_id,
            request_id,
            event_category,
            event_type,
            aws_region,
            error_code,
            error_message,
            source_ip,
            user_agent,
            recipient_account,
            identity_arn,
            account,
            principal_id,
            access_key_id,
            invoked_by,
            session_issuer_arn,
            session_issuer_type,
            session_name,
            on_behalf_of_user_id,
            bucket,
            key,
            bucket_owner,
            access_point_arn,
            host,
            acl,
            grants,
            sse,
            sse_kms_key_id,
            sse_customer_algorithm,
            object_lock,
            expected_bucket_owner,
            request_payer,
            signature_version,
            auth_method,
            cipher_suite,
            tls_version,
            tls_cipher_suite,
            vpc_endpoint_id,
            vpc_endpoint_account,
            kms_key_arn,
            kms_s3_arn,
            issued_access_key_id,
            assumed_role_arn,
            session_policy,
            changed_resource,
            policy_document,
            event_time_ms: _,
            mfa_authenticated: _,
            role: _,
        } = self;
        let _ = source_object;
        for s in [event_id, event_source, event_name, principal, principal_type, prefix] {
            f(s);
        }
        for s in [
            shared_event_id,
            request_id,
            event_category,
            event_type,
            aws_region,
            error_code,
            error_message,
            source_ip,
            user_agent,
            recipient_account,
            identity_arn,
            account,
            principal_id,
            access_key_id,
            invoked_by,
            session_issuer_arn,
            session_issuer_type,
            session_name,
            on_behalf_of_user_id,
            bucket,
            key,
            bucket_owner,
            access_point_arn,
            host,
            acl,
            grants,
            sse,
            sse_kms_key_id,
            sse_customer_algorithm,
            object_lock,
            expected_bucket_owner,
            request_payer,
            signature_version,
            auth_method,
            cipher_suite,
            tls_version,
            tls_cipher_suite,
            vpc_endpoint_id,
            vpc_endpoint_account,
            kms_key_arn,
            kms_s3_arn,
            issued_access_key_id,
            assumed_role_arn,
            session_policy,
            changed_resource,
            policy_document,
        ]
        .into_iter()
        .flatten()
        {
            f(s);
        }
    }

    pub fn is_target(&self) -> bool {
        self.role == Some(EventRole::Target)
    }

    /// The role ARN behind an assumed-role session, or the identity ARN itself.
    pub fn principal_arn(&self) -> Option<&str> {
        self.session_issuer_arn.as_deref().or(self.identity_arn.as_deref())
    }

    /// The object ARN this event addressed (the bucket's when no key is known), when the bucket
    /// is known.
    pub fn object_arn(&self) -> Option<String> {
        self.object_arn_parts().map(|parts| parts.concat())
    }

    /// [`Event::object_arn`] in pieces, for callers that hash it without building it.
    pub fn object_arn_parts(&self) -> Option<[&str; 4]> {
        object_arn_parts(self.bucket.as_deref(), self.key.as_deref())
    }

    /// True when the caller used temporary credentials (an `ASIA` key or a session identity).
    pub fn temporary_credentials(&self) -> bool {
        self.access_key_id.as_deref().is_some_and(|k| k.starts_with("ASIA"))
            || matches!(self.principal_type.as_str(), "AssumedRole" | "FederatedUser")
    }

    /// True when an AWS service made the call on the caller's behalf.
    pub fn service_caller(&self) -> bool {
        self.principal_type == "AWSService" || self.invoked_by.is_some()
    }

    /// True for `ANONYMOUS_PRINCIPAL` callers (no credentials were sent).
    pub fn anonymous(&self) -> bool {
        self.account.as_deref() == Some(ANONYMOUS)
    }
}

/// What a report row is: one principal × bucket × prefix. Built only by [`GroupKey::of`], so the
/// report, the diagnosis and the timeline agree on which events form a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    pub principal: String,
    /// "" when the event names no bucket.
    pub bucket: String,
    pub prefix: String,
}

impl GroupKey {
    pub fn of(e: &Event) -> GroupKey {
        GroupKey {
            principal: e.principal.clone(),
            bucket: e.bucket.clone().unwrap_or_default(),
            prefix: e.prefix.clone(),
        }
    }

    /// Whether `e` belongs to this group (without building its key).
    pub fn holds(&self, e: &Event) -> bool {
        e.principal == self.principal && e.bucket.as_deref().unwrap_or("") == self.bucket && e.prefix == self.prefix
    }
}

pub const ANONYMOUS: &str = "ANONYMOUS_PRINCIPAL";

/// Largest policy document kept on an [`Event`] (IAM's own limits are 20 KiB for a bucket
/// policy and 32 KiB for a key policy, so a longer one is not a real policy).
pub const MAX_POLICY_DOCUMENT: usize = 64 << 10;

/// A 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The folder prefix of `key` at `depth` segments: `releases/v1/app.zip` → `releases/` (1),
/// `releases/v1/` (2). A key with fewer folders keeps the folders it has; a root key gives "".
pub fn prefix_of(key: &str, depth: usize) -> &str {
    let mut end = 0;
    for (seen, (i, _)) in key.match_indices('/').enumerate() {
        if seen == depth {
            break;
        }
        end = i + 1;
    }
    &key[..end]
}

/// Rewrites `arn:aws:sts::A:assumed-role/R/S` as `arn:aws:iam::A:role/R` (keeping the partition).
pub fn role_arn_from_session_arn(arn: &str) -> Option<String> {
    let (head, rest) = arn.split_once(":assumed-role/")?;
    let (partition_and_account, role) = (head, rest.rsplit_once('/').map_or(rest, |(r, _)| r));
    let mut parts = partition_and_account.splitn(5, ':');
    let (arn_lit, partition, _sts, _region, account) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if arn_lit != "arn" || role.is_empty() {
        return None;
    }
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both screens cover every text field read from the record: a secret in any one of them
    /// (the others present) is redacted by [`Event::screen_secrets`] and by the screen of the
    /// bytes the hashes are written from, which then hashes what a redacted event hashes.
    #[test]
    fn a_secret_in_any_field_is_screened_out() {
        let mut every = serde_json::to_value(Event::default()).unwrap();
        for (k, v) in every.as_object_mut().unwrap().iter_mut() {
            if (v.is_null() || v.is_string()) && !matches!(k.as_str(), "role" | "event_time_ms" | "mfa_authenticated") {
                *v = serde_json::Value::from("v");
            }
        }
        let every: Event = serde_json::from_value(every).unwrap();
        // Its shared part is now one found clean, which a planted one must not pass for.
        crate::tally::Keys::of_screened(&every.view());
        let mut texts = 0;
        every.clone().record_texts_mut(|_| texts += 1);
        assert!(texts >= 50, "{texts} texts");
        for i in 0..texts {
            let mut planted = every.clone();
            let mut at = 0;
            planted.record_texts_mut(|s| {
                if at == i {
                    *s = "up/f.txt?X-Amz-Signature=fe5f80f77d5f".to_string();
                }
                at += 1;
            });
            let mut redacted = planted.clone();
            redacted.redact_secrets();
            let mut screened = planted.clone();
            screened.screen_secrets();
            assert_eq!(screened, redacted, "field {i}");
            let (keys, folded) = crate::tally::Keys::of_screened(&planted.view());
            let folded = folded.expect("a secret: the redacted copy");
            assert_eq!(folded, redacted, "field {i}");
            assert_eq!(keys, crate::tally::Keys::of(&redacted), "field {i}");
            assert!(!format!("{folded:?}").contains("fe5f80"), "field {i}");
        }
        // Nothing to redact: no copy, and the keys are the plain ones.
        assert_eq!(crate::tally::Keys::of_screened(&every.view()), (crate::tally::Keys::of(&every), None));
    }

    #[test]
    fn prefix_depths() {
        assert_eq!(prefix_of("releases/v1/app.zip", 1), "releases/");
        assert_eq!(prefix_of("releases/v1/app.zip", 2), "releases/v1/");
        assert_eq!(prefix_of("releases/v1/app.zip", 3), "releases/v1/");
        assert_eq!(prefix_of("releases/app.zip", 2), "releases/");
        assert_eq!(prefix_of("app.zip", 1), "");
        assert_eq!(prefix_of("a//b", 2), "a//");
        assert_eq!(prefix_of("x/y", 0), "");
    }

    /// Every field of `Event` set (to text naming it and `tag`), or every optional one unset.
    fn event_with_all(tag: Option<&str>) -> Event {
        let serde_json::Value::Object(mut fields) = serde_json::to_value(Event::default()).expect("serializes") else {
            panic!("an object")
        };
        for (name, v) in fields.iter_mut() {
            *v = match (name.as_str(), tag) {
                ("event_time_ms", Some(_)) => serde_json::json!(1_700_000_000_000_i64),
                ("mfa_authenticated", Some(_)) => serde_json::json!(true),
                ("role", Some(_)) => serde_json::json!("companion"),
                (_, Some(tag)) => serde_json::json!(format!("{name} {tag}")),
                (_, None) if v.is_string() => serde_json::json!(""),
                (_, None) => serde_json::Value::Null,
            };
        }
        serde_json::from_value(serde_json::Value::Object(fields)).expect("deserializes")
    }

    #[test]
    fn assign_to_equals_a_clone_whatever_was_there() {
        let full = event_with_all(Some("a"));
        let other = event_with_all(Some("a much longer value than the first"));
        let empty = event_with_all(None);
        assert_ne!(full, empty);
        for (into, from) in [(&empty, &full), (&full, &empty), (&full, &other), (&other, &full)] {
            let mut e = into.clone();
            from.view().assign_to(&mut e);
            assert_eq!(&e, from);
            assert_eq!(&from.view().to_event(), from);
        }
    }

    #[test]
    fn session_arn_to_role_arn() {
        assert_eq!(
            role_arn_from_session_arn("arn:aws:sts::111122223333:assumed-role/ci-deploy/build-42").as_deref(),
            Some("arn:aws:iam::111122223333:role/ci-deploy")
        );
        assert_eq!(
            role_arn_from_session_arn("arn:aws-cn:sts::111122223333:assumed-role/r/s").as_deref(),
            Some("arn:aws-cn:iam::111122223333:role/r")
        );
        assert_eq!(role_arn_from_session_arn("arn:aws:iam::1:user/u"), None);
    }

    /// Sorting by indices then following the permutation's cycles gives what the in-place sort
    /// gives, repeated events included, at every size.
    #[test]
    fn events_sorted_by_their_indices_are_sorted_as_in_place() {
        let mut rng = crate::testing::Rng(0x2545_f491_4f6c_dd1d);
        let mut next = |n: u64| rng.below(n);
        for n in [0, 1, 2, 3, 17, 100, 1_000] {
            let events: Vec<Event> = (0..n)
                .map(|_| Event {
                    event_id: format!("e{}", next(n as u64 / 2 + 1)),
                    event_time_ms: Some(next(5) as i64),
                    key: Some(format!("k{}", next(3))),
                    ..Event::default()
                })
                .collect();
            let mut want = events.clone();
            want.sort_unstable_by(Event::scan_order);
            let mut got = events.clone();
            sort_events(&mut got, Event::scan_order);
            assert_eq!(got, want, "{n} events");
            sort_events(&mut got, |a, b| b.event_id.cmp(&a.event_id).then_with(|| Event::scan_order(a, b)));
            want.sort_unstable_by(|a, b| b.event_id.cmp(&a.event_id).then_with(|| Event::scan_order(a, b)));
            assert_eq!(got, want, "{n} events, sorted again");
        }
    }
}
