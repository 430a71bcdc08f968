//! From a parsed CloudTrail record (a simd-json tape) to the filter's facts and an owned [`Event`].
//!
//! Logs are untrusted: a field of an unexpected type reads as absent, never as an error.
//! The tape is read in place: no tree of the record is built, which in an outage (every
//! record a denial) was a third of the cost of a record.

use std::borrow::Cow;

use simd_json::prelude::*;
use simd_json::tape::Value;
use simd_json::{StaticNode, ValueType};

use crate::event::{ANONYMOUS, Event, EventRef, EventRole, MAX_POLICY_DOCUMENT, prefix_of, role_arn_from_session_arn};
use crate::filter::Facts;

/// A string field, or `None` when absent, null, empty or not text. Numbers and booleans read as
/// their JSON text; arrays of scalars are joined with `,` (some header values are logged as lists).
fn text(v: Option<Value>) -> Option<String> {
    let v = v?;
    let s = match v.value_type() {
        ValueType::String => v.into_string()?.to_string(),
        ValueType::Array => {
            let parts: Vec<String> = v.as_array()?.iter().filter_map(|i| text(Some(i))).collect();
            parts.join(",")
        }
        ValueType::Bool => StaticNode::Bool(v.as_bool()?).to_string(),
        ValueType::I64 => StaticNode::I64(v.as_i64()?).to_string(),
        ValueType::U64 => StaticNode::U64(v.as_u64()?).to_string(),
        ValueType::F64 => StaticNode::F64(v.as_f64()?).to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// [`text`], borrowed from the record when the value is a string (nearly every one is).
fn text_cow<'i>(v: Option<Value<'_, 'i>>) -> Option<Cow<'i, str>> {
    let v = v?;
    match v.into_string() {
        Some(s) => (!s.is_empty()).then_some(Cow::Borrowed(s)),
        None => text(Some(v)).map(Cow::Owned),
    }
}

fn str_of<'i>(v: Option<Value<'_, 'i>>) -> Option<&'i str> {
    v?.into_string().filter(|s| !s.is_empty())
}

fn get<'t, 'i>(v: Value<'t, 'i>, key: &str) -> Option<Value<'t, 'i>> {
    v.as_object()?.get(key)
}

fn path<'t, 'i>(v: Value<'t, 'i>, keys: &[&str]) -> Option<Value<'t, 'i>> {
    keys.iter().try_fold(v, |v, k| get(v, k))
}

/// Declares a view of a JSON object that keeps the fields named, found in one pass over its
/// keys (a `match` on each) rather than by a walk of the tape per look-up: `NAMES` in slot
/// order, `slot` from a name to its slot, `of` and `get`.
macro_rules! slots {
    ($(#[$doc:meta])* $vis:vis struct $view:ident [$($name:literal),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        $vis struct $view<'t, 'i> {
            slots: [Option<Value<'t, 'i>>; [$($name),*].len()],
        }

        impl<'t, 'i> $view<'t, 'i> {
            const NAMES: &'static [&'static str] = &[$($name),*];

            fn slot(key: &str) -> Option<usize> {
                match key {
                    $($name => Some(const { field_index(Self::NAMES, $name) }),)*
                    _ => None,
                }
            }

            /// The fields of `v` (none when it is not an object).
            pub fn of(v: Option<Value<'t, 'i>>) -> Self {
                let mut view = $view { slots: [None; [$($name),*].len()] };
                if let Some(o) = v.and_then(|v| v.as_object()) {
                    for (k, v) in o.iter() {
                        // The first of repeated keys, as the tape's own look-up finds.
                        if let Some(i) = Self::slot(k) {
                            view.slots[i].get_or_insert(v);
                        }
                    }
                }
                view
            }

            fn get(&self, key: &str) -> Option<Value<'t, 'i>> {
                debug_assert!(Self::slot(key).is_some(), "{key} is not one of {}'s fields", stringify!($view));
                self.slots[Self::slot(key)?]
            }

            /// The value at a path whose first key is one of the fields.
            #[allow(dead_code, reason = "not every view reads a nested path")]
            fn path(&self, keys: &[&str]) -> Option<Value<'t, 'i>> {
                let (first, rest) = keys.split_first()?;
                path(self.get(first)?, rest)
            }
        }
    };
}

slots! {
    /// The top-level fields of a record the extraction reads.
    pub struct Record [
        "eventSource",
        "eventName",
        "errorCode",
        "eventTime",
        "recipientAccountId",
        "awsRegion",
        "userIdentity",
        "requestParameters",
        "additionalEventData",
        "resources",
        "eventID",
        "sharedEventID",
        "requestID",
        "eventCategory",
        "eventType",
        "errorMessage",
        "sourceIPAddress",
        "userAgent",
        "tlsDetails",
        "vpcEndpointId",
        "vpcEndpointAccountId",
        "responseElements",
    ]
}

slots! {
    /// The fields of `userIdentity` the extraction reads.
    struct Caller [
        "type",
        "arn",
        "accountId",
        "principalId",
        "accessKeyId",
        "invokedBy",
        "userName",
        "userId",
        "sessionContext",
        "onBehalfOf",
    ]
}

slots! {
    /// The fields of `requestParameters` the extraction reads (the `x-amz-grant-*` and
    /// `x-amz-object-lock-*` headers aside, found by prefix).
    struct Params [
        "bucketName",
        "key",
        "policy",
        "policyArns",
        "keyId",
        "policyArn",
        "roleName",
        "userName",
        "groupName",
        "policyId",
        "targetId",
        "accountId",
        "Host",
        "x-amz-acl",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-expected-bucket-owner",
        "x-amz-request-payer",
        "encryptionContext",
        "roleArn",
        "bucketPolicy",
        "policyDocument",
        "content",
    ]
}

slots! {
    /// The fields of `additionalEventData` the extraction reads.
    struct Extra [
        "SignatureVersion",
        "AuthenticationMethod",
        "CipherSuite",
    ]
}

slots! {
    /// `userIdentity.sessionContext`.
    struct Session [
        "sessionIssuer",
        "attributes",
    ]
}

slots! {
    /// `sessionContext.sessionIssuer`.
    struct Issuer [
        "arn",
        "type",
    ]
}

slots! {
    /// One of `resources`.
    struct Resource [
        "type",
        "ARN",
        "accountId",
    ]
}

slots! {
    /// `tlsDetails`.
    struct Tls [
        "tlsVersion",
        "cipherSuite",
    ]
}

/// Where `name` is in `names`, at compile time.
const fn field_index(names: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < names.len() {
        let (f, n) = (names[i].as_bytes(), name.as_bytes());
        let mut same = f.len() == n.len();
        let mut j = 0;
        while same && j < f.len() {
            same = f[j] == n[j];
            j += 1;
        }
        if same {
            return i;
        }
        i += 1;
    }
    panic!("not a field of the list")
}

/// Parses a CloudTrail `eventTime` (RFC 3339) to ms since the epoch.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    utc_seconds_ms(s).or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis()))
}

/// The form CloudTrail writes every `eventTime` in, `YYYY-MM-DDTHH:MM:SSZ`, read without
/// chrono's general parser (a twentieth of an outage denial's cost). Anything else, a leap
/// second included, is left to chrono: `None` here means "not this form", not "invalid".
fn utc_seconds_ms(s: &str) -> Option<i64> {
    let b: &[u8; 20] = s.as_bytes().try_into().ok()?;
    if [b[4], b[7], b[10], b[13], b[16], b[19]] != *b"--T::Z" {
        return None;
    }
    let num = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0i64, |n, &d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date, counted from March so the leap day
    // ends the year.
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

/// The filter's view of a record.
pub fn facts<'i>(rec: &Record<'_, 'i>) -> Facts<'i> {
    Facts {
        event_source: str_of(rec.get("eventSource")).unwrap_or(""),
        event_name: str_of(rec.get("eventName")).unwrap_or(""),
        error_code: str_of(rec.get("errorCode")),
        event_time_ms: str_of(rec.get("eventTime")).and_then(parse_time_ms),
        recipient_account: str_of(rec.get("recipientAccountId")),
        region: str_of(rec.get("awsRegion")),
    }
}

/// The grouping key for a caller (`userIdentity`), per the contract, and `userIdentity.type`.
fn principal_of<'i>(uid: Option<&Caller<'_, 'i>>, issuer: Option<&Issuer<'_, 'i>>) -> (Cow<'i, str>, &'i str) {
    let Some(uid) = uid else { return (Cow::Borrowed("unknown"), "Unknown") };
    let field = |k: &str| str_of(uid.get(k));
    let kind = field("type").unwrap_or("Unknown");
    let arn = field("arn");
    let account = field("accountId");
    let principal_id = field("principalId");
    if account == Some(ANONYMOUS) {
        return (Cow::Borrowed(ANONYMOUS), kind);
    }
    let chosen = match kind {
        "AssumedRole" => str_of(issuer.and_then(|i| i.get("arn")))
            .map(Cow::Borrowed)
            .or_else(|| arn.and_then(role_arn_from_session_arn).map(Cow::Owned)),
        "IAMUser" | "Root" | "FederatedUser" => arn.map(Cow::Borrowed),
        "AWSService" => field("invokedBy").map(Cow::Borrowed),
        "IdentityCenterUser" => str_of(uid.path(&["onBehalfOf", "userId"])).or(field("userId")).map(Cow::Borrowed),
        // The bucket owner's copy of a cross-account call names the role by its unique id
        // (`AROA…:session`): keep the id without the session so sessions share a group.
        "AWSAccount" => {
            principal_id.map(|p| p.split(':').next().unwrap_or(p)).filter(|p| !p.is_empty()).map(Cow::Borrowed)
        }
        _ => None,
    };
    let principal = chosen
        .or(arn.map(Cow::Borrowed))
        .or(principal_id.map(Cow::Borrowed))
        .or(field("userName").map(Cow::Borrowed))
        .or(account.map(Cow::Borrowed))
        .or(field("invokedBy").map(Cow::Borrowed))
        .unwrap_or_else(|| Cow::Owned(format!("unknown {kind}")));
    (principal, kind)
}

/// The `resources` an event reads: the first of each type, as `(ARN, accountId)`.
#[derive(Default)]
struct Resources<'i> {
    object: Option<(Option<&'i str>, Option<&'i str>)>,
    bucket: Option<(Option<&'i str>, Option<&'i str>)>,
    kms_key: Option<(Option<&'i str>, Option<&'i str>)>,
    access_point: Option<(Option<&'i str>, Option<&'i str>)>,
}

impl<'i> Resources<'i> {
    /// One pass over the array (it was walked once per type).
    fn of(rec: &Record<'_, 'i>) -> Resources<'i> {
        let mut found = Resources::default();
        let Some(all) = rec.get("resources").and_then(|r| r.as_array()) else { return found };
        for r in all.iter() {
            let r = Resource::of(Some(r));
            let slot = match str_of(r.get("type")) {
                Some("AWS::S3::Object") => &mut found.object,
                Some("AWS::S3::Bucket") => &mut found.bucket,
                Some("AWS::KMS::Key") => &mut found.kms_key,
                Some("AWS::S3::AccessPoint") => &mut found.access_point,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some((str_of(r.get("ARN")), str_of(r.get("accountId"))));
            }
        }
        found
    }
}

/// Builds the owned event, redacted. `prefix_depth` sets the prefix key; `source_object` names
/// the log object.
pub fn event(rec: Value, role: EventRole, prefix_depth: usize, source_object: &str) -> Event {
    let rec = Record::of(Some(rec));
    let mut e = view(&rec, &facts(&rec), role, prefix_depth, source_object).to_event();
    e.redact_secrets();
    e
}

/// [`event`] of a record whose [`facts`] the filter has read already, with the redaction
/// skipped when a screen of its text finds no secret can be there ([`Event::screen_secrets`]).
pub fn event_screened(rec: &Record, f: &Facts, role: EventRole, prefix_depth: usize, source_object: &str) -> Event {
    let mut e = view(rec, f, role, prefix_depth, source_object).to_event();
    e.screen_secrets();
    e
}

/// `:assumed-role/` in a caller's ARN, searched for once per denial: `str::contains` set up a
/// two-way search of the pattern each time.
static ASSUMED_ROLE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(":assumed-role/"));

/// The event a record holds, its text borrowed from the tape (or from `source_object`), **not
/// redacted**: the caller screens it before anything else reads it ([`Event::screen_secrets`] on
/// the owned event, or [`crate::tally::Keys::of_screened`] with the hashes).
pub fn view<'a>(
    rec: &Record<'_, 'a>,
    f: &Facts<'a>,
    role: EventRole,
    prefix_depth: usize,
    source_object: &'a str,
) -> EventRef<'a> {
    let uid = rec.get("userIdentity").map(|u| Caller::of(Some(u)));
    let uid = uid.as_ref();
    let rp = rec.get("requestParameters");
    let params = Params::of(rp);
    let param = |k: &str| text_cow(params.get(k));
    let extra = Extra::of(rec.get("additionalEventData"));
    let extra = |k: &str| text_cow(extra.get(k));
    let id = |k: &str| uid.and_then(|u| text_cow(u.get(k)));
    let field = |k: &str| text_cow(rec.get(k));

    let session = uid.map(|u| Session::of(u.get("sessionContext")));
    let issuer = session.map(|s| Issuer::of(s.get("sessionIssuer")));
    let (principal, principal_type) = principal_of(uid, issuer.as_ref());

    let resources = Resources::of(rec);
    let object = resources.object.and_then(|(arn, _)| arn);
    let (bucket_arn, bucket_owner) = resources.bucket.unwrap_or_default();
    let bucket = param("bucketName")
        .or_else(|| object.and_then(split_s3_arn).map(|(b, _)| Cow::Borrowed(b)))
        .or_else(|| bucket_arn.and_then(split_s3_arn).map(|(b, _)| Cow::Borrowed(b)));
    let key = param("key").or_else(|| object.and_then(split_s3_arn).and_then(|(_, k)| k.map(Cow::Borrowed)));
    let prefix = key.as_ref().and_then(|k| part_of(k, |k| Some(prefix_of(k, prefix_depth)))).unwrap_or_default();

    let identity_arn = id("arn");
    let principal_id = id("principalId");
    let session_name = identity_arn
        .as_ref()
        .filter(|a| ASSUMED_ROLE.find(a.as_bytes()).is_some())
        .and_then(|a| part_of(a, |a| a.rsplit('/').next()))
        .or_else(|| principal_id.as_ref().and_then(|p| part_of(p, |p| p.split_once(':').map(|(_, s)| s))))
        .filter(|s| !s.is_empty());

    let session_policy = param("policy").map(|p| Cow::Owned(truncate(p.into_owned(), 2048))).or_else(|| {
        let arns: Vec<&str> =
            params.get("policyArns")?.as_array()?.iter().filter_map(|p| str_of(get(p, "arn"))).collect();
        (!arns.is_empty()).then(|| Cow::Owned(format!("policyArns: {}", arns.join(", "))))
    });
    // The grant and object-lock headers, found by prefix in one pass (most requests have none).
    let (mut grants, mut locks): (Vec<String>, Vec<&str>) = (Vec::new(), Vec::new());
    for (k, v) in rp.and_then(|rp| rp.as_object()).into_iter().flat_map(|o| o.iter()) {
        if !k.starts_with("x-amz-") {
            continue;
        }
        if k.starts_with("x-amz-grant-") {
            grants.extend(text(Some(v)).map(|v| format!("{k}={v}")));
        } else if k.starts_with("x-amz-object-lock-") {
            locks.push(k);
        }
    }
    grants.sort();
    locks.sort_unstable();
    let grants = (!grants.is_empty()).then(|| Cow::Owned(grants.join("; ")));
    let object_lock = (!locks.is_empty()).then(|| Cow::Owned(locks.join(",")));

    let kms_key_arn = resources
        .kms_key
        .and_then(|(arn, _)| arn.map(Cow::Borrowed))
        .or_else(|| (f.event_source == "kms.amazonaws.com").then(|| param("keyId")).flatten());
    let changed_resource =
        ["bucketName", "policyArn", "roleName", "userName", "groupName", "keyId", "policyId", "targetId", "accountId"]
            .iter()
            .find_map(|k| param(k));
    let tls = Tls::of(rec.get("tlsDetails"));

    EventRef {
        event_id: field("eventID").unwrap_or_default(),
        shared_event_id: field("sharedEventID"),
        request_id: field("requestID"),
        event_time_ms: f.event_time_ms,
        event_source: Cow::Borrowed(f.event_source),
        event_name: Cow::Borrowed(f.event_name),
        event_category: field("eventCategory"),
        event_type: field("eventType"),
        aws_region: f.region.map(Cow::Borrowed),
        error_code: f.error_code.map(Cow::Borrowed),
        error_message: field("errorMessage"),
        source_ip: field("sourceIPAddress"),
        user_agent: field("userAgent"),
        recipient_account: f.recipient_account.map(Cow::Borrowed),
        principal,
        principal_type: Cow::Borrowed(principal_type),
        identity_arn,
        account: id("accountId"),
        principal_id,
        access_key_id: id("accessKeyId"),
        invoked_by: id("invokedBy"),
        session_issuer_arn: text_cow(issuer.and_then(|i| i.get("arn"))),
        session_issuer_type: text_cow(issuer.and_then(|i| i.get("type"))),
        session_name,
        mfa_authenticated: session
            .and_then(|s| str_of(s.path(&["attributes", "mfaAuthenticated"])))
            .and_then(|m| m.parse().ok()),
        on_behalf_of_user_id: uid.and_then(|u| text_cow(u.path(&["onBehalfOf", "userId"]))),
        bucket,
        key,
        prefix,
        bucket_owner: bucket_owner.map(Cow::Borrowed),
        access_point_arn: resources.access_point.and_then(|(arn, _)| arn).map(Cow::Borrowed),
        host: param("Host"),
        acl: param("x-amz-acl"),
        grants,
        sse: param("x-amz-server-side-encryption"),
        sse_kms_key_id: param("x-amz-server-side-encryption-aws-kms-key-id"),
        sse_customer_algorithm: param("x-amz-server-side-encryption-customer-algorithm"),
        object_lock,
        expected_bucket_owner: param("x-amz-expected-bucket-owner"),
        request_payer: param("x-amz-request-payer"),
        signature_version: extra("SignatureVersion"),
        auth_method: extra("AuthenticationMethod"),
        cipher_suite: extra("CipherSuite"),
        tls_version: text_cow(tls.get("tlsVersion")),
        tls_cipher_suite: text_cow(tls.get("cipherSuite")),
        vpc_endpoint_id: field("vpcEndpointId"),
        vpc_endpoint_account: field("vpcEndpointAccountId"),
        kms_key_arn,
        kms_s3_arn: text_cow(params.path(&["encryptionContext", "aws:s3:arn"])),
        issued_access_key_id: text_cow(rec.path(&["responseElements", "credentials", "accessKeyId"])),
        assumed_role_arn: param("roleArn"),
        session_policy,
        changed_resource,
        policy_document: policy_document(&params).map(Cow::Owned),
        source_object: Cow::Borrowed(source_object),
        role: Some(role),
    }
}

/// A part of `whole` (a slice `part` finds in it), borrowed as long as `whole` is.
fn part_of<'a>(whole: &Cow<'a, str>, part: impl for<'w> FnOnce(&'w str) -> Option<&'w str>) -> Option<Cow<'a, str>> {
    match whole {
        Cow::Borrowed(w) => part(w).map(Cow::Borrowed),
        Cow::Owned(w) => part(w).map(|p| Cow::Owned(p.to_string())),
    }
}

/// The policy document of a policy change or session request, as JSON text. CloudTrail logs
/// `bucketPolicy` as an object and the IAM/KMS/STS documents as strings; either is kept as text
/// the rules parse. Only documents of the size IAM accepts are kept, never a cut one.
fn policy_document(rp: &Params) -> Option<String> {
    let doc = ["bucketPolicy", "policyDocument", "policy", "content"].iter().find_map(|k| {
        let v = rp.get(k)?;
        match v.into_string() {
            Some(s) => (!s.trim().is_empty()).then(|| s.to_string()),
            None => v.is_object().then(|| v.encode()),
        }
    })?;
    (doc.len() <= MAX_POLICY_DOCUMENT).then_some(doc)
}

/// `arn:aws:s3:::bucket/key` → (`bucket`, `Some(key)`).
fn split_s3_arn(arn: &str) -> Option<(&str, Option<&str>)> {
    let rest = arn.strip_prefix("arn:aws:s3:::")?;
    Some(rest.split_once('/').map_or((rest, None), |(b, k)| (b, Some(k))))
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(json: &str) -> Event {
        let mut bytes = json.as_bytes().to_vec();
        let tape = simd_json::to_tape(&mut bytes).expect("json");
        event(tape.as_value(), EventRole::Companion, 1, "t")
    }

    /// Every field the extraction looks up has its slot, and each slot its one name.
    #[test]
    fn record_slots_name_their_fields() {
        for (i, k) in Record::NAMES.iter().enumerate() {
            assert_eq!(Record::slot(k), Some(i), "{k}");
        }
        for (i, k) in Caller::NAMES.iter().enumerate() {
            assert_eq!(Caller::slot(k), Some(i), "{k}");
        }
        for (i, k) in Params::NAMES.iter().enumerate() {
            assert_eq!(Params::slot(k), Some(i), "{k}");
        }
        for (names, slot) in [
            (Extra::NAMES, Extra::slot as fn(&str) -> Option<usize>),
            (Session::NAMES, Session::slot),
            (Issuer::NAMES, Issuer::slot),
            (Resource::NAMES, Resource::slot),
            (Tls::NAMES, Tls::slot),
        ] {
            for (i, k) in names.iter().enumerate() {
                assert_eq!(slot(k), Some(i), "{k}");
            }
        }
        assert_eq!(Record::slot("eventVersion"), None);
        let mut bytes = br#"{"eventName":"PutObject","eventName":"Second","x":{"eventName":"nested"}}"#.to_vec();
        let tape = simd_json::to_tape(&mut bytes).unwrap();
        let rec = Record::of(Some(tape.as_value()));
        assert_eq!(str_of(rec.get("eventName")), Some("PutObject"), "the first of repeated keys");
        assert_eq!(rec.get("eventID"), None);
    }

    /// An event a sparser record's view is assigned to ([`EventRef::assign_to`], as a sample
    /// reuses a displaced exemplar) keeps nothing of the one before: every field is overwritten,
    /// whether the new record has it or not.
    #[test]
    fn a_reassigned_event_keeps_nothing_of_the_last_record() {
        let rich = r#"{"eventID":"e1","sharedEventID":"s1","requestID":"r1","eventTime":"2026-11-01T00:00:00Z",
            "eventSource":"s3.amazonaws.com","eventName":"PutObject","eventCategory":"Data","eventType":"AwsApiCall",
            "awsRegion":"us-east-1","errorCode":"AccessDenied","errorMessage":"Access Denied","sourceIPAddress":"10.0.0.1",
            "userAgent":"ua","recipientAccountId":"111122223333","vpcEndpointId":"vpce-1","vpcEndpointAccountId":"4",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/sess","accountId":"1",
              "principalId":"AROA:sess","accessKeyId":"ASIA1","invokedBy":"svc","onBehalfOf":{"userId":"u"},
              "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/r","type":"Role"},
                "attributes":{"mfaAuthenticated":"true"}}},
            "requestParameters":{"bucketName":"b","key":"a/b/c","Host":"h","x-amz-acl":"private",
              "x-amz-grant-write":"id=2","x-amz-grant-read":"id=1","x-amz-server-side-encryption":"aws:kms",
              "x-amz-object-lock-retain-until-date":"2030-01-01T00:00:00Z","x-amz-object-lock":"no, not a header",
              "x-amz-server-side-encryption-aws-kms-key-id":"k","x-amz-server-side-encryption-customer-algorithm":"AES256",
              "x-amz-object-lock-mode":"GOVERNANCE","x-amz-expected-bucket-owner":"2","x-amz-request-payer":"requester",
              "policy":"{}","roleArn":"arn:aws:iam::1:role/x","encryptionContext":{"aws:s3:arn":"arn:aws:s3:::b/a"}},
            "additionalEventData":{"SignatureVersion":"SigV4","AuthenticationMethod":"AuthHeader","CipherSuite":"c"},
            "tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"c2"},
            "responseElements":{"credentials":{"accessKeyId":"ASIA2"}},
            "resources":[{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b","accountId":"2"},
              {"type":"AWS::S3::AccessPoint","ARN":"arn:aws:s3:us-east-1:2:accesspoint/ap"},
              {"type":"AWS::KMS::Key","ARN":"arn:aws:kms:us-east-1:2:key/k"}]}"#;
        let sparse = r#"{"eventName":"PutObject","eventID":"e2"}"#;
        let fill = |e: &mut Event, json: &str, source: &str| {
            let mut bytes = json.as_bytes().to_vec();
            let tape = simd_json::to_tape(&mut bytes).expect("json");
            let rec = Record::of(Some(tape.as_value()));
            view(&rec, &facts(&rec), EventRole::Target, 1, source).assign_to(e);
        };
        let mut reused = Event::default();
        fill(&mut reused, rich, "first");
        let first = reused.clone();
        assert_eq!(first.grants.as_deref(), Some("x-amz-grant-read=id=1; x-amz-grant-write=id=2"));
        assert_eq!(first.object_lock.as_deref(), Some("x-amz-object-lock-mode,x-amz-object-lock-retain-until-date"));
        assert_eq!(first.session_name.as_deref(), Some("sess"));
        assert!(first.access_point_arn.is_some());
        assert!(first.session_name.is_some() && first.kms_key_arn.is_some() && first.mfa_authenticated.is_some());
        fill(&mut reused, sparse, "second");
        let mut fresh = Event::default();
        fill(&mut fresh, sparse, "second");
        assert_eq!(reused, fresh);
        fill(&mut reused, rich, "first");
        assert_eq!(reused, first);
    }

    #[test]
    fn policy_documents_are_kept_as_json_text() {
        // PutBucketPolicy logs the policy as an object.
        let e = extract(
            r#"{"eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","requestParameters":{"bucketName":"b","policy":"","bucketPolicy":{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Deny"}]}}}"#,
        );
        let doc: serde_json::Value = serde_json::from_str(e.policy_document.as_deref().unwrap()).unwrap();
        assert_eq!(doc["Statement"][0]["Sid"], "S");
        // IAM and STS log it as a string.
        let e = extract(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"PutRolePolicy","requestParameters":{"roleName":"r","policyDocument":"{\"Version\":\"2012-10-17\"}"}}"#,
        );
        assert_eq!(e.policy_document.as_deref(), Some(r#"{"Version":"2012-10-17"}"#));
        let e = extract(
            r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","requestParameters":{"roleArn":"arn:aws:iam::1:role/r","policy":"{\"Statement\":[]}"}}"#,
        );
        assert_eq!(e.policy_document.as_deref(), Some(r#"{"Statement":[]}"#));
        // Nothing, or too large to be a real policy: dropped, never cut.
        assert_eq!(extract(r#"{"eventName":"PutObject","requestParameters":{"key":"k"}}"#).policy_document, None);
        let big = format!(
            r#"{{"eventName":"PutKeyPolicy","requestParameters":{{"policy":"{}"}}}}"#,
            "x".repeat(MAX_POLICY_DOCUMENT + 1)
        );
        assert_eq!(extract(&big).policy_document, None);
    }

    /// CloudTrail's own time form is read as chrono reads it: every field at and past its
    /// bounds (month 13, 30 February, a leap second, year 0), and each byte replaced in turn.
    #[test]
    fn event_times_in_cloudtrails_form_read_as_chrono_reads_them() {
        let chrono_ms = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis());
        let mut rng = crate::testing::Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: u64| rng.below(n);
        let (mut fast, mut checked) = (0, 0);
        for _ in 0..200_000 {
            let year = [0, 1, 1600, 1700, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 9999][next(12) as usize];
            let s =
                format!("{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", next(14), next(33), next(25), next(61), next(62));
            let mut variants = vec![s.clone()];
            let mut bytes = s.clone().into_bytes();
            bytes[next(20) as usize] = b"0123456789-:TZtz .+"[next(19) as usize];
            variants.extend(String::from_utf8(bytes).ok());
            for v in variants {
                let ours = utc_seconds_ms(&v);
                if ours.is_some() {
                    fast += 1;
                    assert_eq!(ours, chrono_ms(&v), "{v}");
                }
                assert_eq!(parse_time_ms(&v), chrono_ms(&v), "{v}");
                checked += 1;
            }
        }
        assert!(fast > checked / 5, "the fast form was read {fast} times of {checked}");
        assert_eq!(parse_time_ms("2026-11-01T00:09:45Z"), Some(1_793_491_785_000));
        assert_eq!(utc_seconds_ms("2024-02-29T23:59:60Z"), None, "a leap second is chrono's");
        assert_eq!(utc_seconds_ms("2026-11-01T00:09:45.123Z"), None);
    }
}
