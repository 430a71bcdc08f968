//! Renders a test `Event` back into the CloudTrail record it stands for (real field names and
//! shapes, as in /work/shared/realdata), so `testdata/diagnose/cases.ndjson` is generated from the
//! Rust cases and cannot drift from them.

use chrono::DateTime;
use serde_json::{Map, Value, json};

use crate::event::Event;

use super::build::role_id;

fn time(ms: Option<i64>) -> Value {
    ms.and_then(DateTime::from_timestamp_millis)
        .map_or(Value::Null, |t| json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.to_string(), json!(v));
    }
}

fn user_identity(e: &Event) -> Value {
    let mut id = Map::new();
    if e.anonymous() {
        return json!({ "type": "AWSAccount", "principalId": "", "accountId": e.account });
    }
    id.insert("type".into(), json!(e.principal_type));
    put(&mut id, "principalId", e.principal_id.as_deref());
    put(&mut id, "arn", e.identity_arn.as_deref());
    put(&mut id, "accountId", e.account.as_deref());
    put(&mut id, "accessKeyId", e.access_key_id.as_deref());
    if e.principal_type == "IAMUser" {
        put(&mut id, "userName", e.identity_arn.as_deref().and_then(|a| a.rsplit('/').next()));
    }
    let creation = time(e.event_time_ms.map(|t| t - 1_800_000));
    if let Some(issuer) = e.session_issuer_arn.as_deref() {
        let role = issuer.rsplit('/').next().unwrap_or("");
        id.insert(
            "sessionContext".into(),
            json!({
                "sessionIssuer": {
                    "type": e.session_issuer_type.as_deref().unwrap_or("Role"),
                    "principalId": role_id(role),
                    "arn": issuer,
                    "accountId": e.account,
                    "userName": role,
                },
                "webIdFederationData": {},
                "attributes": {
                    "creationDate": creation,
                    "mfaAuthenticated": e.mfa_authenticated.unwrap_or(false).to_string(),
                },
            }),
        );
    } else if let Some(mfa) = e.mfa_authenticated {
        id.insert(
            "sessionContext".into(),
            json!({
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": { "creationDate": creation, "mfaAuthenticated": mfa.to_string() },
            }),
        );
    }
    put(&mut id, "invokedBy", e.invoked_by.as_deref());
    Value::Object(id)
}

/// The fields every record has.
fn envelope(e: &Event, version: &str) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("eventVersion".into(), json!(version));
    r.insert("userIdentity".into(), user_identity(e));
    r.insert("eventTime".into(), time(e.event_time_ms));
    r.insert("eventSource".into(), json!(e.event_source));
    r.insert("eventName".into(), json!(e.event_name));
    put(&mut r, "awsRegion", e.aws_region.as_deref());
    put(&mut r, "sourceIPAddress", e.source_ip.as_deref());
    put(&mut r, "userAgent", e.user_agent.as_deref());
    put(&mut r, "errorCode", e.error_code.as_deref());
    put(&mut r, "errorMessage", e.error_message.as_deref());
    put(&mut r, "requestID", e.request_id.as_deref());
    r.insert("eventID".into(), json!(e.event_id));
    put(&mut r, "eventType", e.event_type.as_deref());
    put(&mut r, "recipientAccountId", e.recipient_account.as_deref());
    put(&mut r, "sharedEventID", e.shared_event_id.as_deref());
    put(&mut r, "vpcEndpointId", e.vpc_endpoint_id.as_deref());
    put(&mut r, "vpcEndpointAccountId", e.vpc_endpoint_account.as_deref());
    put(&mut r, "eventCategory", e.event_category.as_deref());
    if let Some(v) = e.tls_version.as_deref() {
        r.insert(
            "tlsDetails".into(),
            json!({
                "tlsVersion": v,
                "cipherSuite": e.tls_cipher_suite,
                "clientProvidedHostHeader": e.host.clone().unwrap_or_else(|| e.event_source.clone()),
            }),
        );
    }
    r
}

/// An S3 data event (the targets, and the owner's copy of a cross-account request).
fn s3_data_event(e: &Event) -> Value {
    let old = e.event_time_ms.is_some_and(|t| t < super::build::ms("2024-01-01T00:00:00Z"));
    let mut r = envelope(e, if old { "1.09" } else { "1.10" });
    let mut rp = Map::new();
    put(&mut rp, "bucketName", e.bucket.as_deref());
    put(&mut rp, "Host", e.host.as_deref());
    put(&mut rp, "key", e.key.as_deref());
    put(&mut rp, "x-amz-acl", e.acl.as_deref());
    for grant in e.grants.as_deref().unwrap_or("").split("; ").filter(|g| !g.is_empty()) {
        if let Some((header, value)) = grant.split_once('=') {
            rp.insert(header.into(), json!(value));
        }
    }
    put(&mut rp, "x-amz-server-side-encryption", e.sse.as_deref());
    put(&mut rp, "x-amz-server-side-encryption-aws-kms-key-id", e.sse_kms_key_id.as_deref());
    put(&mut rp, "x-amz-server-side-encryption-customer-algorithm", e.sse_customer_algorithm.as_deref());
    for header in e.object_lock.as_deref().unwrap_or("").split(',').filter(|h| !h.is_empty()) {
        let (name, value) = header.split_once('=').unwrap_or((header, "ON"));
        rp.insert(name.into(), json!(value));
    }
    put(&mut rp, "x-amz-expected-bucket-owner", e.expected_bucket_owner.as_deref());
    put(&mut rp, "x-amz-request-payer", e.request_payer.as_deref());
    r.insert("requestParameters".into(), Value::Object(rp));
    r.insert("responseElements".into(), Value::Null);

    if e.signature_version.is_some() || e.auth_method.is_some() || e.cipher_suite.is_some() {
        let mut extra = Map::new();
        put(&mut extra, "SignatureVersion", e.signature_version.as_deref());
        put(&mut extra, "CipherSuite", e.cipher_suite.as_deref());
        extra.insert("bytesTransferredIn".into(), json!(0));
        put(&mut extra, "AuthenticationMethod", e.auth_method.as_deref());
        extra.insert(
            "x-amz-id-2".into(),
            json!(format!(
                "Qm9ndXMtaWQtMi1mb3ItdGVzdHM{}/dGhpcyBpcyBub3QgYSByZWFsIGhvc3QgaWQ=",
                e.event_id.rsplit('-').next().unwrap_or("")
            )),
        );
        extra.insert("bytesTransferredOut".into(), json!(0));
        r.insert("additionalEventData".into(), Value::Object(extra));
    }
    let mut resources = Vec::new();
    if let Some(arn) = e.object_arn().filter(|_| e.key.is_some()) {
        resources.push(json!({ "type": "AWS::S3::Object", "ARN": arn }));
    }
    if let Some(b) = e.bucket.as_deref() {
        let mut bucket = Map::new();
        put(&mut bucket, "accountId", e.bucket_owner.as_deref());
        bucket.insert("type".into(), json!("AWS::S3::Bucket"));
        bucket.insert("ARN".into(), json!(format!("arn:aws:s3:::{b}")));
        resources.push(Value::Object(bucket));
    }
    if let Some(ap) = e.access_point_arn.as_deref() {
        resources.push(json!({ "accountId": ap.split(':').nth(4), "type": "AWS::S3::AccessPoint", "ARN": ap }));
    }
    r.insert("resources".into(), json!(resources));
    r.insert("readOnly".into(), json!(false));
    r.insert("managementEvent".into(), json!(false));
    Value::Object(r)
}

fn kms_event(e: &Event) -> Value {
    let mut r = envelope(e, "1.09");
    let mut rp = Map::new();
    if let Some(arn) = e.kms_s3_arn.as_deref() {
        rp.insert("encryptionContext".into(), json!({ "aws:s3:arn": arn }));
    }
    rp.insert("keySpec".into(), json!("AES_256"));
    put(&mut rp, "keyId", e.kms_key_arn.as_deref());
    r.insert("requestParameters".into(), Value::Object(rp));
    r.insert("responseElements".into(), Value::Null);
    if let Some(key) = e.kms_key_arn.as_deref() {
        r.insert(
            "resources".into(),
            json!([{ "accountId": key.split(':').nth(4), "type": "AWS::KMS::Key", "ARN": key }]),
        );
    }
    r.insert("readOnly".into(), json!(true));
    r.insert("managementEvent".into(), json!(true));
    Value::Object(r)
}

fn vpce_event(e: &Event) -> Value {
    let mut r = envelope(e, "1.09");
    r.insert("requestParameters".into(), json!({ "bucketName": e.bucket, "key": e.key }));
    r.insert("responseElements".into(), Value::Null);
    Value::Object(r)
}

fn assume_role_event(e: &Event) -> Value {
    let mut r = envelope(e, "1.08");
    let role = e.assumed_role_arn.as_deref().unwrap_or("");
    let role_name = role.rsplit('/').next().unwrap_or("");
    let account = role.split(':').nth(4).unwrap_or("");
    let session = "vendor-acme-upload";
    let mut rp = Map::new();
    rp.insert("roleArn".into(), json!(role));
    rp.insert("roleSessionName".into(), json!(session));
    put(&mut rp, "policy", e.session_policy.as_deref());
    rp.insert("durationSeconds".into(), json!(3600));
    r.insert("requestParameters".into(), Value::Object(rp));
    r.insert(
        "responseElements".into(),
        json!({
            "credentials": {
                "accessKeyId": e.issued_access_key_id,
                "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLEtestSESSIONtokenNOTrealAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
                "expiration": "Oct 1, 2024, 11:57:00 AM",
            },
            "assumedRoleUser": {
                "assumedRoleId": format!("{}:{session}", role_id(role_name)),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}"),
            },
        }),
    );
    r.insert("resources".into(), json!([{ "accountId": account, "type": "AWS::IAM::Role", "ARN": role }]));
    r.insert("readOnly".into(), json!(true));
    r.insert("managementEvent".into(), json!(true));
    Value::Object(r)
}

fn bucket_policy_event(e: &Event) -> Value {
    let mut r = envelope(e, "1.10");
    let bucket = e.bucket.as_deref().unwrap_or("");
    // The document the case set, as CloudTrail logs it (an object). A case without one renders
    // without one, so the parser sees exactly what the case's event holds.
    let document: Option<Value> = e.policy_document.as_deref().and_then(|d| serde_json::from_str(d).ok());
    let mut params = json!({
        "bucketName": bucket,
        "Host": e.host.clone().unwrap_or_else(|| format!("{bucket}.s3.amazonaws.com")),
        "policy": "",
    });
    if let Some(document) = document {
        params["bucketPolicy"] = document;
    }
    r.insert("requestParameters".into(), params);
    r.insert("responseElements".into(), Value::Null);
    r.insert(
        "additionalEventData".into(),
        json!({ "SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 312, "AuthenticationMethod": "AuthHeader", "bytesTransferredOut": 0 }),
    );
    r.insert(
        "resources".into(),
        json!([{ "accountId": e.recipient_account, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}") }]),
    );
    r.insert("readOnly".into(), json!(false));
    r.insert("managementEvent".into(), json!(true));
    Value::Object(r)
}

/// An IAM or Organizations policy change (management event).
fn policy_change_event(e: &Event) -> Value {
    let mut r = envelope(e, "1.09");
    let target = e.changed_resource.as_deref().unwrap_or("");
    let rp = match e.event_source.as_str() {
        "organizations.amazonaws.com" => json!({
            "policyId": target,
            "content": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"s3:PutObject\",\"Resource\":\"*\",\"Condition\":{\"StringNotEquals\":{\"aws:RequestedRegion\":[\"eu-west-1\"]}}}]}",
        }),
        _ => json!({
            "roleName": target,
            "policyName": "s3-write-access",
            "policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::acme-quarterly-reports/*\"}]}",
        }),
    };
    r.insert("requestParameters".into(), rp);
    r.insert("responseElements".into(), Value::Null);
    r.insert("readOnly".into(), json!(false));
    r.insert("managementEvent".into(), json!(true));
    Value::Object(r)
}

/// The CloudTrail record for a test event.
pub fn record(e: &Event) -> Value {
    match (e.event_source.as_str(), e.event_name.as_str()) {
        ("kms.amazonaws.com", _) => kms_event(e),
        ("sts.amazonaws.com", _) => assume_role_event(e),
        ("s3.amazonaws.com", "PutBucketPolicy") => bucket_policy_event(e),
        ("iam.amazonaws.com" | "organizations.amazonaws.com", _) => policy_change_event(e),
        _ if e.error_code.as_deref() == Some("VpceAccessDenied") => vpce_event(e),
        _ => s3_data_event(e),
    }
}
