//! The request context AWS would have authorized, rebuilt from a CloudTrail event.
//!
//! Only what the log proves goes in: a key CloudTrail does not show is left out, never guessed,
//! because a missing key and a wrong value lead conditions to different answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{ANONYMOUS, Event, is_account_id, role_arn_from_session_arn};

/// A condition key's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CtxValue {
    Bool(bool),
    Number(f64),
    Str(String),
    List(Vec<String>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    IamUser,
    /// A role session (`AssumeRole*`, Identity Center, instance profiles...).
    AssumedRole,
    /// A `GetFederationToken` session.
    FederatedUser,
    Root,
    Anonymous,
    AwsService,
    /// CloudTrail named only the account (e.g. a cross-account caller seen from the bucket owner).
    #[default]
    Unknown,
}

/// Who made the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Caller {
    pub kind: CallerKind,
    pub account: Option<String>,
    /// `aws:PrincipalArn`: the role ARN for a role session, else the identity ARN.
    pub arn: Option<String>,
    /// The session ARN (`arn:aws:sts::A:assumed-role/R/S`, `…:federated-user/U`).
    #[serde(default)]
    pub session_arn: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// For `AwsService` callers: the service principal (`cloudtrail.amazonaws.com`).
    #[serde(default)]
    pub service: Option<String>,
    /// For a federated-user session: the IAM user who called `GetFederationToken`.
    #[serde(default)]
    pub parent_user: Option<String>,
}

impl Caller {
    /// The role or user whose identity policies and boundary apply (the snapshot's `principals` key).
    pub fn policy_holder(&self) -> Option<&str> {
        match self.kind {
            CallerKind::FederatedUser => self.parent_user.as_deref(),
            _ => self.arn.as_deref(),
        }
    }

    pub fn is_session(&self) -> bool {
        matches!(self.kind, CallerKind::AssumedRole | CallerKind::FederatedUser)
    }
}

/// One authorization request: action, resource, caller and condition keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// `s3:PutObject`, `kms:GenerateDataKey`...
    pub action: String,
    /// `arn:aws:s3:::bucket/key`, a bucket ARN or a key ARN.
    pub resource: String,
    pub caller: Caller,
    /// The account that owns the resource, when known (bucket owner, key account).
    #[serde(default)]
    pub resource_account: Option<String>,
    /// The bucket, for S3 requests (to find its configuration).
    #[serde(default)]
    pub bucket: Option<String>,
    /// The VPC endpoint the request came through.
    #[serde(default)]
    pub vpc_endpoint: Option<String>,
    /// Condition keys, as named in policies (looked up case-insensitively).
    #[serde(default)]
    pub context: BTreeMap<String, CtxValue>,
}

/// The IAM action an S3 event name is authorized as, and whether it addresses an object.
pub fn s3_action(event_name: &str) -> (String, bool) {
    let object = |a: &str| (format!("s3:{a}"), true);
    match event_name {
        "PutObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "PostObject" => object("PutObject"),
        "DeleteObjects" => object("DeleteObject"),
        "HeadObject" | "SelectObjectContent" => object("GetObject"),
        "PutObjectAcl"
        | "PutObjectTagging"
        | "PutObjectRetention"
        | "PutObjectLegalHold"
        | "DeleteObject"
        | "DeleteObjectTagging"
        | "AbortMultipartUpload"
        | "RestoreObject"
        | "GetObject"
        | "GetObjectAcl"
        | "GetObjectTagging"
        | "ListParts" => object(event_name),
        other => (format!("s3:{other}"), false),
    }
}

impl Request {
    /// The S3 request an event records. `None` when the event names no bucket.
    pub fn from_event(e: &Event) -> Option<Request> {
        let bucket = e.bucket.clone()?;
        let (action, object) = s3_action(&e.event_name);
        let resource = match (&e.key, object) {
            (Some(k), true) => format!("arn:aws:s3:::{bucket}/{k}"),
            _ => format!("arn:aws:s3:::{bucket}"),
        };
        let caller = caller_of(e);
        let mut ctx = common_context(e, &caller);
        if let Some(vpce) = &e.vpc_endpoint_id {
            // Through an endpoint AWS sets aws:SourceVpce and aws:VpcSourceIp, not aws:SourceIp.
            ctx.insert("aws:SourceVpce".into(), CtxValue::Str(vpce.clone()));
            if let Some(ip) = e.source_ip.as_deref().filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()) {
                ctx.insert("aws:VpcSourceIp".into(), CtxValue::Str(ip.into()));
            }
        } else if let Some(ip) = e.source_ip.as_deref().filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()) {
            ctx.insert("aws:SourceIp".into(), CtxValue::Str(ip.into()));
        }
        if let Some(tls) = secure_transport(e) {
            ctx.insert("aws:SecureTransport".into(), CtxValue::Bool(tls));
        }
        if let Some(v) = e.tls_version.as_deref().and_then(tls_number) {
            ctx.insert("s3:TlsVersion".into(), CtxValue::Number(v));
        }
        let s = |v: &Option<String>| v.clone().map(CtxValue::Str);
        for (key, value) in [
            ("s3:x-amz-acl", s(&e.acl)),
            ("s3:x-amz-server-side-encryption", s(&e.sse)),
            ("s3:x-amz-server-side-encryption-aws-kms-key-id", s(&e.sse_kms_key_id)),
            ("s3:x-amz-server-side-encryption-customer-algorithm", s(&e.sse_customer_algorithm)),
            ("s3:ResourceAccount", s(&e.bucket_owner)),
            ("s3:signatureversion", e.signature_version.as_deref().map(signature_version)),
            ("s3:authType", e.auth_method.as_deref().map(auth_type)),
        ] {
            if let Some(v) = value {
                ctx.insert(key.into(), v);
            }
        }
        for (header, value) in grant_headers(e.grants.as_deref()) {
            ctx.insert(format!("s3:{header}"), CtxValue::Str(value));
        }
        Some(Request {
            action,
            resource,
            caller,
            resource_account: e.bucket_owner.clone(),
            bucket: Some(bucket),
            vpc_endpoint: e.vpc_endpoint_id.clone(),
            context: ctx,
        })
    }

    /// The `kms:GenerateDataKey` call S3 makes on the caller's behalf to encrypt an upload with `key_arn`
    /// (from the request's SSE-KMS header, or the bucket's default encryption). `bucket_key`: S3 Bucket
    /// Keys are on, so the encryption context is the bucket ARN rather than the object's.
    pub fn kms_for_upload(&self, key_arn: &str, region: Option<&str>, bucket_key: bool) -> Request {
        let mut ctx: BTreeMap<String, CtxValue> = self
            .context
            .iter()
            .filter(|(k, _)| k.starts_with("aws:") && !matches!(k.as_str(), "aws:SourceVpce" | "aws:VpcSourceIp"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // S3 calls KMS itself: the caller's network keys do not travel with it.
        ctx.remove("aws:SourceIp");
        ctx.insert("aws:ViaAWSService".into(), CtxValue::Bool(true));
        if let Some(region) = region {
            ctx.insert("kms:ViaService".into(), CtxValue::Str(format!("s3.{region}.amazonaws.com")));
        }
        if let Some(account) = &self.caller.account {
            ctx.insert("kms:CallerAccount".into(), CtxValue::Str(account.clone()));
        }
        let s3_arn = match (&self.bucket, bucket_key) {
            (Some(b), true) => format!("arn:aws:s3:::{b}"),
            _ => self.resource.clone(),
        };
        ctx.insert("kms:EncryptionContext:aws:s3:arn".into(), CtxValue::Str(s3_arn));
        ctx.insert("kms:EncryptionContextKeys".into(), CtxValue::List(vec!["aws:s3:arn".into()]));
        Request {
            action: "kms:GenerateDataKey".into(),
            resource: key_arn.to_string(),
            caller: self.caller.clone(),
            resource_account: kms_account(key_arn),
            bucket: None,
            vpc_endpoint: None,
            context: ctx,
        }
    }

    /// A condition key's value, looked up case-insensitively as AWS does.
    pub fn get(&self, key: &str) -> Option<&CtxValue> {
        self.context.get(key).or_else(|| self.context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
    }
}

/// What a request needs read before it can be judged: the keys of [`super::Snapshot`]'s maps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wants {
    pub bucket: Option<String>,
    /// Role or user ARN (`principals`).
    pub principal: Option<String>,
    pub kms_key: Option<String>,
    pub vpc_endpoint: Option<String>,
    /// The caller's and the resource owner's accounts (`accounts`: SCPs, RCPs, organization id).
    pub accounts: Vec<String>,
    /// The access key of a session whose `AssumeRole*` companion may carry a session policy (`sessions`).
    pub session_key: Option<String>,
}

impl Request {
    /// The snapshot entries this request is judged against (for the fetcher: fetch each once per scan).
    pub fn wants(&self) -> Wants {
        let kms = self.action.to_ascii_lowercase().starts_with("kms:");
        let mut accounts: Vec<String> =
            [self.caller.account.clone(), self.resource_account.clone()].into_iter().flatten().collect();
        accounts.dedup();
        Wants {
            bucket: if kms { None } else { self.bucket.clone() },
            principal: self.caller.policy_holder().map(str::to_string),
            kms_key: kms.then(|| self.resource.clone()),
            vpc_endpoint: self.vpc_endpoint.clone(),
            accounts,
            session_key: self.caller.is_session().then(|| self.caller.access_key_id.clone()).flatten(),
        }
    }

    /// The KMS key an upload is encrypted with: the SSE-KMS header's key, else the bucket's default
    /// KMS key when the request asks for SSE-KMS or sends no SSE header. A bare key id is made an ARN
    /// with `region` and the bucket owner's account. `None` for SSE-S3, or when the key is unknown
    /// (e.g. the AWS managed `aws/s3` key). The flag: S3 Bucket Keys are on.
    pub fn upload_kms_key(
        &self,
        default: Option<&super::DefaultEncryption>,
        region: Option<&str>,
    ) -> Option<(String, bool)> {
        let header = |k: &str| match self.get(k) {
            Some(CtxValue::Str(s)) => Some(s.as_str()),
            _ => None,
        };
        let sse = header("s3:x-amz-server-side-encryption");
        let bucket_key = default.is_some_and(|d| d.bucket_key_enabled);
        let key = match (sse, header("s3:x-amz-server-side-encryption-aws-kms-key-id")) {
            (_, Some(k)) => k.to_string(),
            (Some(s), None) if !s.starts_with("aws:kms") => return None,
            _ => {
                let d = default.filter(|d| d.algorithm.starts_with("aws:kms") || sse.is_some())?;
                d.kms_key_arn.clone()?
            }
        };
        if key.starts_with("arn:") {
            return Some((key, bucket_key));
        }
        if key.starts_with("alias/") {
            return None;
        }
        let (region, account) = (region?, self.resource_account.as_deref()?);
        Some((format!("arn:aws:kms:{region}:{account}:key/{key}"), bucket_key))
    }
}

/// The account of a key ARN (`arn:aws:kms:region:account:key/id`).
pub fn kms_account(key_arn: &str) -> Option<String> {
    key_arn.split(':').nth(4).filter(|a| is_account_id(a)).map(str::to_string)
}

fn caller_of(e: &Event) -> Caller {
    let account = e.account.clone().filter(|a| a != ANONYMOUS);
    let mut c = Caller { account, access_key_id: e.access_key_id.clone(), ..Caller::default() };
    if e.anonymous() {
        c.kind = CallerKind::Anonymous;
        return c;
    }
    match e.principal_type.as_str() {
        "AssumedRole" => {
            c.kind = CallerKind::AssumedRole;
            c.session_arn = e.identity_arn.clone();
            c.arn =
                e.session_issuer_arn.clone().or_else(|| e.identity_arn.as_deref().and_then(role_arn_from_session_arn));
        }
        "IAMUser" => {
            c.kind = CallerKind::IamUser;
            c.arn = e.identity_arn.clone();
        }
        "Root" => {
            c.kind = CallerKind::Root;
            c.arn = e.identity_arn.clone();
        }
        "FederatedUser" => {
            c.kind = CallerKind::FederatedUser;
            c.session_arn = e.identity_arn.clone();
            c.arn = e.identity_arn.clone();
            c.parent_user = e.session_issuer_arn.clone();
        }
        "AWSService" => {
            c.kind = CallerKind::AwsService;
            c.service = e.invoked_by.clone();
        }
        _ => {}
    }
    c
}

fn common_context(e: &Event, c: &Caller) -> BTreeMap<String, CtxValue> {
    let mut ctx = BTreeMap::new();
    let mut put = |k: &str, v: CtxValue| {
        ctx.insert(k.to_string(), v);
    };
    if let Some(arn) = &c.arn {
        put("aws:PrincipalArn", CtxValue::Str(arn.clone()));
    }
    if let Some(a) = &c.account {
        put("aws:PrincipalAccount", CtxValue::Str(a.clone()));
    }
    let principal_type = match c.kind {
        CallerKind::IamUser => Some("User"),
        CallerKind::AssumedRole => Some("AssumedRole"),
        CallerKind::FederatedUser => Some("FederatedUser"),
        CallerKind::Root => Some("Account"),
        CallerKind::Anonymous => Some("Anonymous"),
        CallerKind::AwsService | CallerKind::Unknown => None,
    };
    if let Some(t) = principal_type {
        put("aws:PrincipalType", CtxValue::Str(t.into()));
    }
    if c.kind == CallerKind::IamUser
        && let Some(name) = c.arn.as_deref().and_then(|a| a.rsplit('/').next())
    {
        put("aws:username", CtxValue::Str(name.into()));
    }
    if let Some(id) = &e.principal_id {
        put("aws:userid", CtxValue::Str(id.clone()));
    }
    if !matches!(c.kind, CallerKind::Anonymous | CallerKind::Unknown) {
        put("aws:PrincipalIsAWSService", CtxValue::Bool(c.kind == CallerKind::AwsService));
        put("aws:ViaAWSService", CtxValue::Bool(false));
    }
    // Present for temporary credentials only; long-term keys leave the key out.
    if let Some(mfa) = e.mfa_authenticated {
        put("aws:MultiFactorAuthPresent", CtxValue::Bool(mfa));
    }
    if let Some(ms) = e.event_time_ms {
        put("aws:EpochTime", CtxValue::Number((ms / 1000) as f64));
        if let Some(t) = chrono::DateTime::from_timestamp_millis(ms) {
            put("aws:CurrentTime", CtxValue::Str(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
        }
    }
    if let Some(r) = &e.aws_region {
        put("aws:RequestedRegion", CtxValue::Str(r.clone()));
    }
    ctx
}

/// `Some(true)` with TLS evidence, `Some(false)` when the S3 extras were logged without any (plain
/// HTTP), `None` when the record says nothing either way.
fn secure_transport(e: &Event) -> Option<bool> {
    if e.tls_version.is_some() || e.tls_cipher_suite.is_some() || e.cipher_suite.is_some() {
        Some(true)
    } else if e.signature_version.is_some() || e.auth_method.is_some() {
        Some(false)
    } else {
        None
    }
}

/// `TLSv1.2` → 1.2.
fn tls_number(v: &str) -> Option<f64> {
    v.trim_start_matches("TLSv").parse().ok()
}

fn signature_version(v: &str) -> CtxValue {
    CtxValue::Str(
        match v {
            "SigV4" => "AWS4-HMAC-SHA256",
            "SigV2" => "AWS",
            other => other,
        }
        .into(),
    )
}

fn auth_type(v: &str) -> CtxValue {
    CtxValue::Str(
        match v {
            "AuthHeader" => "REST-HEADER",
            "QueryString" => "REST-QUERY-STRING",
            other => other,
        }
        .into(),
    )
}

/// `x-amz-grant-read=uri="…AllUsers"; x-amz-grant-write=id=…` → header/value pairs.
fn grant_headers(grants: Option<&str>) -> Vec<(String, String)> {
    grants
        .unwrap_or("")
        .split("; ")
        .filter_map(|g| g.split_once('='))
        .map(|(h, v)| (h.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(h, _)| h.starts_with("x-amz-grant-"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_event(name: &str) -> Event {
        Event {
            event_name: name.into(),
            event_source: "s3.amazonaws.com".into(),
            principal_type: "AssumedRole".into(),
            identity_arn: Some("arn:aws:sts::111122223333:assumed-role/app/s1".into()),
            session_issuer_arn: Some("arn:aws:iam::111122223333:role/app".into()),
            account: Some("111122223333".into()),
            access_key_id: Some("ASIAEXAMPLE".into()),
            mfa_authenticated: Some(false),
            bucket: Some("b".into()),
            key: Some("dir/k".into()),
            bucket_owner: Some("111122223333".into()),
            source_ip: Some("203.0.113.10".into()),
            aws_region: Some("us-east-1".into()),
            event_time_ms: Some(1_764_410_400_000),
            signature_version: Some("SigV4".into()),
            auth_method: Some("AuthHeader".into()),
            tls_version: Some("TLSv1.2".into()),
            ..Event::default()
        }
    }

    #[test]
    fn multipart_calls_are_authorized_as_put_object() {
        for name in ["PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject"] {
            let r = Request::from_event(&session_event(name)).unwrap();
            assert_eq!(r.action, "s3:PutObject", "{name}");
            assert_eq!(r.resource, "arn:aws:s3:::b/dir/k");
        }
        let r = Request::from_event(&session_event("PutBucketPolicy")).unwrap();
        assert_eq!((r.action.as_str(), r.resource.as_str()), ("s3:PutBucketPolicy", "arn:aws:s3:::b"));
    }

    #[test]
    fn a_role_session_is_its_role_for_principal_arn() {
        let r = Request::from_event(&session_event("PutObject")).unwrap();
        assert_eq!(r.caller.kind, CallerKind::AssumedRole);
        assert_eq!(r.caller.arn.as_deref(), Some("arn:aws:iam::111122223333:role/app"));
        assert_eq!(r.caller.session_arn.as_deref(), Some("arn:aws:sts::111122223333:assumed-role/app/s1"));
        assert_eq!(r.get("aws:principalarn"), Some(&CtxValue::Str("arn:aws:iam::111122223333:role/app".into())));
        assert_eq!(r.get("aws:MultiFactorAuthPresent"), Some(&CtxValue::Bool(false)));
        assert_eq!(r.get("aws:SecureTransport"), Some(&CtxValue::Bool(true)));
        assert_eq!(r.get("s3:TlsVersion"), Some(&CtxValue::Number(1.2)));
        assert_eq!(r.get("s3:signatureversion"), Some(&CtxValue::Str("AWS4-HMAC-SHA256".into())));
        assert_eq!(r.get("aws:CurrentTime"), Some(&CtxValue::Str("2025-11-29T10:00:00Z".into())));
        // No SSE header sent: the key is absent, not empty.
        assert_eq!(r.get("s3:x-amz-server-side-encryption"), None);
    }

    #[test]
    fn transport_is_only_what_the_record_proves() {
        let mut e = session_event("PutObject");
        e.tls_version = None;
        let r = Request::from_event(&e).unwrap();
        assert_eq!(r.get("aws:SecureTransport"), Some(&CtxValue::Bool(false)));
        e.signature_version = None;
        e.auth_method = None;
        let r = Request::from_event(&e).unwrap();
        assert_eq!(r.get("aws:SecureTransport"), None);
    }

    #[test]
    fn through_an_endpoint_there_is_no_source_ip() {
        let mut e = session_event("PutObject");
        e.vpc_endpoint_id = Some("vpce-1a2b".into());
        e.source_ip = Some("10.0.1.15".into());
        let r = Request::from_event(&e).unwrap();
        assert_eq!(r.get("aws:SourceIp"), None);
        assert_eq!(r.get("aws:SourceVpce"), Some(&CtxValue::Str("vpce-1a2b".into())));
        assert_eq!(r.get("aws:VpcSourceIp"), Some(&CtxValue::Str("10.0.1.15".into())));
        assert_eq!(r.vpc_endpoint.as_deref(), Some("vpce-1a2b"));
    }

    #[test]
    fn headers_and_callers() {
        let mut e = session_event("PutObject");
        e.sse = Some("aws:kms".into());
        e.sse_kms_key_id = Some("arn:aws:kms:us-east-1:111122223333:key/k1".into());
        e.acl = Some("public-read".into());
        e.grants = Some("x-amz-grant-read=uri=http://acs.amazonaws.com/groups/global/AllUsers".into());
        let r = Request::from_event(&e).unwrap();
        assert_eq!(r.get("s3:x-amz-server-side-encryption"), Some(&CtxValue::Str("aws:kms".into())));
        assert_eq!(r.get("s3:x-amz-acl"), Some(&CtxValue::Str("public-read".into())));
        assert_eq!(
            r.get("s3:x-amz-grant-read"),
            Some(&CtxValue::Str("uri=http://acs.amazonaws.com/groups/global/AllUsers".into()))
        );

        let mut anon = session_event("PutObject");
        anon.account = Some(ANONYMOUS.into());
        anon.principal_type = "AWSAccount".into();
        let r = Request::from_event(&anon).unwrap();
        assert_eq!((r.caller.kind, r.caller.account.as_deref()), (CallerKind::Anonymous, None));

        let mut user = session_event("PutObject");
        user.principal_type = "IAMUser".into();
        user.identity_arn = Some("arn:aws:iam::111122223333:user/alice".into());
        user.session_issuer_arn = None;
        let r = Request::from_event(&user).unwrap();
        assert_eq!(r.get("aws:username"), Some(&CtxValue::Str("alice".into())));
    }

    #[test]
    fn what_to_fetch_and_which_key() {
        let mut r = Request::from_event(&session_event("PutObject")).unwrap();
        let w = r.wants();
        assert_eq!(w.bucket.as_deref(), Some("b"));
        assert_eq!(w.principal.as_deref(), Some("arn:aws:iam::111122223333:role/app"));
        assert_eq!(w.accounts, vec!["111122223333".to_string()]);
        assert_eq!(w.session_key.as_deref(), Some("ASIAEXAMPLE"));
        let default = super::super::DefaultEncryption {
            algorithm: "aws:kms".into(),
            kms_key_arn: Some("arn:aws:kms:us-east-1:111122223333:key/d".into()),
            bucket_key_enabled: true,
        };
        // No header: the bucket default applies.
        assert_eq!(
            r.upload_kms_key(Some(&default), Some("us-east-1")),
            Some(("arn:aws:kms:us-east-1:111122223333:key/d".into(), true))
        );
        r.context.insert("s3:x-amz-server-side-encryption".into(), CtxValue::Str("AES256".into()));
        assert_eq!(r.upload_kms_key(Some(&default), Some("us-east-1")), None);
        r.context.insert("s3:x-amz-server-side-encryption".into(), CtxValue::Str("aws:kms".into()));
        r.context.insert("s3:x-amz-server-side-encryption-aws-kms-key-id".into(), CtxValue::Str("k9".into()));
        assert_eq!(
            r.upload_kms_key(None, Some("eu-west-1")),
            Some(("arn:aws:kms:eu-west-1:111122223333:key/k9".into(), false))
        );
        let k = r.kms_for_upload("arn:aws:kms:eu-west-1:111122223333:key/k9", Some("eu-west-1"), false);
        assert_eq!(k.wants().kms_key.as_deref(), Some("arn:aws:kms:eu-west-1:111122223333:key/k9"));
        assert_eq!(k.wants().bucket, None);
    }

    #[test]
    fn the_kms_companion_of_an_upload() {
        let r = Request::from_event(&session_event("PutObject")).unwrap();
        let k = r.kms_for_upload("arn:aws:kms:us-east-1:444455556666:key/k1", Some("us-east-1"), false);
        assert_eq!(k.action, "kms:GenerateDataKey");
        assert_eq!(k.resource_account.as_deref(), Some("444455556666"));
        assert_eq!(k.get("kms:ViaService"), Some(&CtxValue::Str("s3.us-east-1.amazonaws.com".into())));
        assert_eq!(k.get("kms:EncryptionContext:aws:s3:arn"), Some(&CtxValue::Str("arn:aws:s3:::b/dir/k".into())));
        assert_eq!(k.get("aws:SourceIp"), None);
        assert_eq!(k.get("aws:PrincipalArn"), r.get("aws:PrincipalArn"));
        let k = r.kms_for_upload("arn:aws:kms:us-east-1:444455556666:key/k1", Some("us-east-1"), true);
        assert_eq!(k.get("kms:EncryptionContext:aws:s3:arn"), Some(&CtxValue::Str("arn:aws:s3:::b".into())));
    }
}
