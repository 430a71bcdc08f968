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

/// An [`Event`] whose text is borrowed (from a parsed record, or from an owned event): what the
/// tallies and the hashes read. A scan folds a denial through one, straight from simd-json's
/// tape, and copies it into an owned [`Event`] only when a sample keeps it. The destructurings
/// are exhaustive: a new field of [`Event`] fails to compile until it is added here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventRef<'a> {
    pub event_id: Cow<'a, str>,
    pub shared_event_id: Option<Cow<'a, str>>,
    pub request_id: Option<Cow<'a, str>>,
    pub event_time_ms: Option<i64>,
    pub event_source: Cow<'a, str>,
    pub event_name: Cow<'a, str>,
    pub event_category: Option<Cow<'a, str>>,
    pub event_type: Option<Cow<'a, str>>,
    pub aws_region: Option<Cow<'a, str>>,
    pub error_code: Option<Cow<'a, str>>,
    pub error_message: Option<Cow<'a, str>>,
    pub source_ip: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub recipient_account: Option<Cow<'a, str>>,
    pub principal: Cow<'a, str>,
    pub principal_type: Cow<'a, str>,
    pub identity_arn: Option<Cow<'a, str>>,
    pub account: Option<Cow<'a, str>>,
    pub principal_id: Option<Cow<'a, str>>,
    pub access_key_id: Option<Cow<'a, str>>,
    pub invoked_by: Option<Cow<'a, str>>,
    pub session_issuer_arn: Option<Cow<'a, str>>,
    pub session_issuer_type: Option<Cow<'a, str>>,
    pub session_name: Option<Cow<'a, str>>,
    pub mfa_authenticated: Option<bool>,
    pub on_behalf_of_user_id: Option<Cow<'a, str>>,
    pub bucket: Option<Cow<'a, str>>,
    pub key: Option<Cow<'a, str>>,
    pub prefix: Cow<'a, str>,
    pub bucket_owner: Option<Cow<'a, str>>,
    pub access_point_arn: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    pub acl: Option<Cow<'a, str>>,
    pub grants: Option<Cow<'a, str>>,
    pub sse: Option<Cow<'a, str>>,
    pub sse_kms_key_id: Option<Cow<'a, str>>,
    pub sse_customer_algorithm: Option<Cow<'a, str>>,
    pub object_lock: Option<Cow<'a, str>>,
    pub expected_bucket_owner: Option<Cow<'a, str>>,
    pub request_payer: Option<Cow<'a, str>>,
    pub signature_version: Option<Cow<'a, str>>,
    pub auth_method: Option<Cow<'a, str>>,
    pub cipher_suite: Option<Cow<'a, str>>,
    pub tls_version: Option<Cow<'a, str>>,
    pub tls_cipher_suite: Option<Cow<'a, str>>,
    pub vpc_endpoint_id: Option<Cow<'a, str>>,
    pub vpc_endpoint_account: Option<Cow<'a, str>>,
    pub kms_key_arn: Option<Cow<'a, str>>,
    pub kms_s3_arn: Option<Cow<'a, str>>,
    pub issued_access_key_id: Option<Cow<'a, str>>,
    pub assumed_role_arn: Option<Cow<'a, str>>,
    pub session_policy: Option<Cow<'a, str>>,
    pub changed_resource: Option<Cow<'a, str>>,
    pub policy_document: Option<Cow<'a, str>>,
    pub source_object: Cow<'a, str>,
    pub role: Option<EventRole>,
}

impl Event {
    /// This event, borrowed.
    pub fn view(&self) -> EventRef<'_> {
        let Event {
            event_id,
            shared_event_id,
            request_id,
            event_time_ms,
            event_source,
            event_name,
            event_category,
            event_type,
            aws_region,
            error_code,
            error_message,
            source_ip,
            user_agent,
            recipient_account,
            principal,
            principal_type,
            identity_arn,
            account,
            principal_id,
            access_key_id,
            invoked_by,
            session_issuer_arn,
            session_issuer_type,
            session_name,
            mfa_authenticated,
            on_behalf_of_user_id,
            bucket,
            key,
            prefix,
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
            source_object,
            role,
        } = self;
        EventRef {
            event_id: Cow::Borrowed(event_id),
            shared_event_id: shared_event_id.as_deref().map(Cow::Borrowed),
            request_id: request_id.as_deref().map(Cow::Borrowed),
            event_time_ms: *event_time_ms,
            event_source: Cow::Borrowed(event_source),
            event_name: Cow::Borrowed(event_name),
            event_category: event_category.as_deref().map(Cow::Borrowed),
            event_type: event_type.as_deref().map(Cow::Borrowed),
            aws_region: aws_region.as_deref().map(Cow::Borrowed),
            error_code: error_code.as_deref().map(Cow::Borrowed),
            error_message: error_message.as_deref().map(Cow::Borrowed),
            source_ip: source_ip.as_deref().map(Cow::Borrowed),
            user_agent: user_agent.as_deref().map(Cow::Borrowed),
            recipient_account: recipient_account.as_deref().map(Cow::Borrowed),
            principal: Cow::Borrowed(principal),
            principal_type: Cow::Borrowed(principal_type),
            identity_arn: identity_arn.as_deref().map(Cow::Borrowed),
            account: account.as_deref().map(Cow::Borrowed),
            principal_id: principal_id.as_deref().map(Cow::Borrowed),
            access_key_id: access_key_id.as_deref().map(Cow::Borrowed),
            invoked_by: invoked_by.as_deref().map(Cow::Borrowed),
            session_issuer_arn: session_issuer_arn.as_deref().map(Cow::Borrowed),
            session_issuer_type: session_issuer_type.as_deref().map(Cow::Borrowed),
            session_name: session_name.as_deref().map(Cow::Borrowed),
            mfa_authenticated: *mfa_authenticated,
            on_behalf_of_user_id: on_behalf_of_user_id.as_deref().map(Cow::Borrowed),
            bucket: bucket.as_deref().map(Cow::Borrowed),
            key: key.as_deref().map(Cow::Borrowed),
            prefix: Cow::Borrowed(prefix),
            bucket_owner: bucket_owner.as_deref().map(Cow::Borrowed),
            access_point_arn: access_point_arn.as_deref().map(Cow::Borrowed),
            host: host.as_deref().map(Cow::Borrowed),
            acl: acl.as_deref().map(Cow::Borrowed),
            grants: grants.as_deref().map(Cow::Borrowed),
            sse: sse.as_deref().map(Cow::Borrowed),
            sse_kms_key_id: sse_kms_key_id.as_deref().map(Cow::Borrowed),
            sse_customer_algorithm: sse_customer_algorithm.as_deref().map(Cow::Borrowed),
            object_lock: object_lock.as_deref().map(Cow::Borrowed),
            expected_bucket_owner: expected_bucket_owner.as_deref().map(Cow::Borrowed),
            request_payer: request_payer.as_deref().map(Cow::Borrowed),
            signature_version: signature_version.as_deref().map(Cow::Borrowed),
            auth_method: auth_method.as_deref().map(Cow::Borrowed),
            cipher_suite: cipher_suite.as_deref().map(Cow::Borrowed),
            tls_version: tls_version.as_deref().map(Cow::Borrowed),
            tls_cipher_suite: tls_cipher_suite.as_deref().map(Cow::Borrowed),
            vpc_endpoint_id: vpc_endpoint_id.as_deref().map(Cow::Borrowed),
            vpc_endpoint_account: vpc_endpoint_account.as_deref().map(Cow::Borrowed),
            kms_key_arn: kms_key_arn.as_deref().map(Cow::Borrowed),
            kms_s3_arn: kms_s3_arn.as_deref().map(Cow::Borrowed),
            issued_access_key_id: issued_access_key_id.as_deref().map(Cow::Borrowed),
            assumed_role_arn: assumed_role_arn.as_deref().map(Cow::Borrowed),
            session_policy: session_policy.as_deref().map(Cow::Borrowed),
            changed_resource: changed_resource.as_deref().map(Cow::Borrowed),
            policy_document: policy_document.as_deref().map(Cow::Borrowed),
            source_object: Cow::Borrowed(source_object),
            role: *role,
        }
    }
}

impl EventRef<'_> {
    /// The owned event.
    pub fn to_event(&self) -> Event {
        let EventRef {
            event_id,
            shared_event_id,
            request_id,
            event_time_ms,
            event_source,
            event_name,
            event_category,
            event_type,
            aws_region,
            error_code,
            error_message,
            source_ip,
            user_agent,
            recipient_account,
            principal,
            principal_type,
            identity_arn,
            account,
            principal_id,
            access_key_id,
            invoked_by,
            session_issuer_arn,
            session_issuer_type,
            session_name,
            mfa_authenticated,
            on_behalf_of_user_id,
            bucket,
            key,
            prefix,
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
            source_object,
            role,
        } = self;
        Event {
            event_id: event_id.to_string(),
            shared_event_id: shared_event_id.as_deref().map(str::to_string),
            request_id: request_id.as_deref().map(str::to_string),
            event_time_ms: *event_time_ms,
            event_source: event_source.to_string(),
            event_name: event_name.to_string(),
            event_category: event_category.as_deref().map(str::to_string),
            event_type: event_type.as_deref().map(str::to_string),
            aws_region: aws_region.as_deref().map(str::to_string),
            error_code: error_code.as_deref().map(str::to_string),
            error_message: error_message.as_deref().map(str::to_string),
            source_ip: source_ip.as_deref().map(str::to_string),
            user_agent: user_agent.as_deref().map(str::to_string),
            recipient_account: recipient_account.as_deref().map(str::to_string),
            principal: principal.to_string(),
            principal_type: principal_type.to_string(),
            identity_arn: identity_arn.as_deref().map(str::to_string),
            account: account.as_deref().map(str::to_string),
            principal_id: principal_id.as_deref().map(str::to_string),
            access_key_id: access_key_id.as_deref().map(str::to_string),
            invoked_by: invoked_by.as_deref().map(str::to_string),
            session_issuer_arn: session_issuer_arn.as_deref().map(str::to_string),
            session_issuer_type: session_issuer_type.as_deref().map(str::to_string),
            session_name: session_name.as_deref().map(str::to_string),
            mfa_authenticated: *mfa_authenticated,
            on_behalf_of_user_id: on_behalf_of_user_id.as_deref().map(str::to_string),
            bucket: bucket.as_deref().map(str::to_string),
            key: key.as_deref().map(str::to_string),
            prefix: prefix.to_string(),
            bucket_owner: bucket_owner.as_deref().map(str::to_string),
            access_point_arn: access_point_arn.as_deref().map(str::to_string),
            host: host.as_deref().map(str::to_string),
            acl: acl.as_deref().map(str::to_string),
            grants: grants.as_deref().map(str::to_string),
            sse: sse.as_deref().map(str::to_string),
            sse_kms_key_id: sse_kms_key_id.as_deref().map(str::to_string),
            sse_customer_algorithm: sse_customer_algorithm.as_deref().map(str::to_string),
            object_lock: object_lock.as_deref().map(str::to_string),
            expected_bucket_owner: expected_bucket_owner.as_deref().map(str::to_string),
            request_payer: request_payer.as_deref().map(str::to_string),
            signature_version: signature_version.as_deref().map(str::to_string),
            auth_method: auth_method.as_deref().map(str::to_string),
            cipher_suite: cipher_suite.as_deref().map(str::to_string),
            tls_version: tls_version.as_deref().map(str::to_string),
            tls_cipher_suite: tls_cipher_suite.as_deref().map(str::to_string),
            vpc_endpoint_id: vpc_endpoint_id.as_deref().map(str::to_string),
            vpc_endpoint_account: vpc_endpoint_account.as_deref().map(str::to_string),
            kms_key_arn: kms_key_arn.as_deref().map(str::to_string),
            kms_s3_arn: kms_s3_arn.as_deref().map(str::to_string),
            issued_access_key_id: issued_access_key_id.as_deref().map(str::to_string),
            assumed_role_arn: assumed_role_arn.as_deref().map(str::to_string),
            session_policy: session_policy.as_deref().map(str::to_string),
            changed_resource: changed_resource.as_deref().map(str::to_string),
            policy_document: policy_document.as_deref().map(str::to_string),
            source_object: source_object.to_string(),
            role: *role,
        }
    }

    /// `*e = self.to_event()`, reusing `e`'s string buffers (a sample's displaced exemplar
    /// lends them to the one replacing it).
    pub fn assign_to(&self, e: &mut Event) {
        fn put(slot: &mut String, v: &str) {
            slot.clear();
            slot.push_str(v);
        }
        fn put_opt(slot: &mut Option<String>, v: Option<&str>) {
            match (slot.as_mut(), v) {
                (Some(s), Some(v)) => put(s, v),
                (_, v) => *slot = v.map(str::to_string),
            }
        }
        let EventRef {
            event_id,
            shared_event_id,
            request_id,
            event_time_ms,
            event_source,
            event_name,
            event_category,
            event_type,
            aws_region,
            error_code,
            error_message,
            source_ip,
            user_agent,
            recipient_account,
            principal,
            principal_type,
            identity_arn,
            account,
            principal_id,
            access_key_id,
            invoked_by,
            session_issuer_arn,
            session_issuer_type,
            session_name,
            mfa_authenticated,
            on_behalf_of_user_id,
            bucket,
            key,
            prefix,
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
            source_object,
            role,
        } = self;
        put(&mut e.event_id, event_id);
        put_opt(&mut e.shared_event_id, shared_event_id.as_deref());
        put_opt(&mut e.request_id, request_id.as_deref());
        e.event_time_ms = *event_time_ms;
        put(&mut e.event_source, event_source);
        put(&mut e.event_name, event_name);
        put_opt(&mut e.event_category, event_category.as_deref());
        put_opt(&mut e.event_type, event_type.as_deref());
        put_opt(&mut e.aws_region, aws_region.as_deref());
        put_opt(&mut e.error_code, error_code.as_deref());
        put_opt(&mut e.error_message, error_message.as_deref());
        put_opt(&mut e.source_ip, source_ip.as_deref());
        put_opt(&mut e.user_agent, user_agent.as_deref());
        put_opt(&mut e.recipient_account, recipient_account.as_deref());
        put(&mut e.principal, principal);
        put(&mut e.principal_type, principal_type);
        put_opt(&mut e.identity_arn, identity_arn.as_deref());
        put_opt(&mut e.account, account.as_deref());
        put_opt(&mut e.principal_id, principal_id.as_deref());
        put_opt(&mut e.access_key_id, access_key_id.as_deref());
        put_opt(&mut e.invoked_by, invoked_by.as_deref());
        put_opt(&mut e.session_issuer_arn, session_issuer_arn.as_deref());
        put_opt(&mut e.session_issuer_type, session_issuer_type.as_deref());
        put_opt(&mut e.session_name, session_name.as_deref());
        e.mfa_authenticated = *mfa_authenticated;
        put_opt(&mut e.on_behalf_of_user_id, on_behalf_of_user_id.as_deref());
        put_opt(&mut e.bucket, bucket.as_deref());
        put_opt(&mut e.key, key.as_deref());
        put(&mut e.prefix, prefix);
        put_opt(&mut e.bucket_owner, bucket_owner.as_deref());
        put_opt(&mut e.access_point_arn, access_point_arn.as_deref());
        put_opt(&mut e.host, host.as_deref());
        put_opt(&mut e.acl, acl.as_deref());
        put_opt(&mut e.grants, grants.as_deref());
        put_opt(&mut e.sse, sse.as_deref());
        put_opt(&mut e.sse_kms_key_id, sse_kms_key_id.as_deref());
        put_opt(&mut e.sse_customer_algorithm, sse_customer_algorithm.as_deref());
        put_opt(&mut e.object_lock, object_lock.as_deref());
        put_opt(&mut e.expected_bucket_owner, expected_bucket_owner.as_deref());
        put_opt(&mut e.request_payer, request_payer.as_deref());
        put_opt(&mut e.signature_version, signature_version.as_deref());
        put_opt(&mut e.auth_method, auth_method.as_deref());
        put_opt(&mut e.cipher_suite, cipher_suite.as_deref());
        put_opt(&mut e.tls_version, tls_version.as_deref());
        put_opt(&mut e.tls_cipher_suite, tls_cipher_suite.as_deref());
        put_opt(&mut e.vpc_endpoint_id, vpc_endpoint_id.as_deref());
        put_opt(&mut e.vpc_endpoint_account, vpc_endpoint_account.as_deref());
        put_opt(&mut e.kms_key_arn, kms_key_arn.as_deref());
        put_opt(&mut e.kms_s3_arn, kms_s3_arn.as_deref());
        put_opt(&mut e.issued_access_key_id, issued_access_key_id.as_deref());
        put_opt(&mut e.assumed_role_arn, assumed_role_arn.as_deref());
        put_opt(&mut e.session_policy, session_policy.as_deref());
        put_opt(&mut e.changed_resource, changed_resource.as_deref());
        put_opt(&mut e.policy_document, policy_document.as_deref());
        put(&mut e.source_object, source_object);
        e.role = *role;
    }

    /// [`Event::owner_known`].
    pub fn owner_known(&self) -> Option<&str> {
        self.bucket_owner
            .as_deref()
            .or_else(|| (self.principal_type == "AWSAccount").then_some(self.recipient_account.as_deref()).flatten())
    }

    /// [`Event::object_arn_parts`].
    pub fn object_arn_parts(&self) -> Option<[&str; 4]> {
        let bucket = self.bucket.as_deref()?;
        Some(match self.key.as_deref() {
            Some(key) => ["arn:aws:s3:::", bucket, "/", key],
            None => ["arn:aws:s3:::", bucket, "", ""],
        })
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
        self.bucket_owner
            .as_deref()
            .or_else(|| (self.principal_type == "AWSAccount").then_some(self.recipient_account.as_deref()).flatten())
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
        let bucket = self.bucket.as_deref()?;
        Some(match self.key.as_deref() {
            Some(key) => ["arn:aws:s3:::", bucket, "/", key],
            None => ["arn:aws:s3:::", bucket, "", ""],
        })
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
}
