//! The labelled cases: at least one per cause tag of causes.md §3, the correlation cases of §4, and
//! hard negatives (`neg-…`) that must not get the tags they resemble. Event numbers are
//! `100 × case + i`, so every eventID in the corpus is unique.

use super::build::{ACME, B, ORG_MGMT, PARTNER, UA_SDK, companion, target};
use super::{Case, Expect, PolicyExpect};
use crate::event::Event;

const NO_IDENTITY: &str = "because no identity-based policy allows the s3:PutObject action";
const DENY_IDENTITY: &str = "with an explicit deny in an identity-based policy";
const DENY_RESOURCE: &str = "with an explicit deny in a resource-based policy";
const NO_RESOURCE: &str = "because no resource-based policy allows the s3:PutObject action";
const NO_KMS_IDENTITY: &str = "because no identity-based policy allows the kms:GenerateDataKey action";

const KEY_REPORTS: &str = "arn:aws:kms:us-east-1:111122223333:key/0b8c1e2f-3a4d-4e5f-8a9b-0c1d2e3f4a5b";
const KEY_INVOICES: &str = "arn:aws:kms:us-east-1:111122223333:key/7c1d2e3f-4a5b-4c6d-9e8f-1a2b3c4d5e6f";
const KEY_LOGS: &str = "arn:aws:kms:us-east-1:111122223333:key/2e4f6a8b-0c1d-4e2f-a3b4-c5d6e7f8a9b0";
const KEY_MIRROR: &str = "arn:aws:kms:us-east-1:111122223333:key/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const KEY_PAYROLL: &str = "arn:aws:kms:us-east-1:111122223333:key/4d3c2b1a-0f9e-48d7-b6c5-a4b3c2d1e0f9";

fn sse_kms(key: &str) -> impl FnOnce(&mut Event) {
    let key = key.to_string();
    move |e| {
        e.sse = Some("aws:kms".into());
        e.sse_kms_key_id = Some(key);
    }
}

fn aes256(e: &mut Event) {
    e.sse = Some("AES256".into());
}

/// A policy change made by the platform admin's SSO session.
fn bucket_policy_change(n: u32, at: &str, bucket: &str) -> B {
    companion(n, "s3.amazonaws.com", "PutBucketPolicy")
        .at(at)
        .session(ACME, "AWSReservedSSO_PlatformAdmin_3f9a1c2b7d4e5a60", "bob", "ASIAYXKQ7EXAMPLEBOB1", true)
        .set(|e| {
            e.bucket = Some(bucket.into());
            e.changed_resource = Some(bucket.into());
            e.host = Some(format!("{bucket}.s3.us-east-1.amazonaws.com"));
        })
}

/// S3's forward-access-session KMS call for a caller, denied.
fn kms_fas_denial(n: u32, at: &str, caller: &Event, key: &str, s3_arn: &str) -> Event {
    let mut b = companion(n, "kms.amazonaws.com", "GenerateDataKey").at(at);
    b.0.principal = caller.principal.clone();
    b.0.principal_type = caller.principal_type.clone();
    b.0.identity_arn = caller.identity_arn.clone();
    b.0.account = caller.account.clone();
    b.0.principal_id = caller.principal_id.clone();
    b.0.access_key_id = caller.access_key_id.clone();
    b.0.session_issuer_arn = caller.session_issuer_arn.clone();
    b.0.session_issuer_type = caller.session_issuer_type.clone();
    b.0.session_name = caller.session_name.clone();
    b.0.mfa_authenticated = caller.mfa_authenticated;
    let who = caller.identity_arn.clone().unwrap_or_default();
    b.set(|e| {
        e.invoked_by = Some("s3.amazonaws.com".into());
        e.source_ip = Some("s3.amazonaws.com".into());
        e.user_agent = Some("s3.amazonaws.com".into());
        e.error_code = Some("AccessDenied".into());
        e.error_message = Some(format!(
            "User: {who} is not authorized to perform: kms:GenerateDataKey on resource: {key} because no identity-based policy allows the kms:GenerateDataKey action"
        ));
        e.kms_key_arn = Some(key.into());
        e.kms_s3_arn = Some(s3_arn.into());
        e.tls_version = None;
        e.tls_cipher_suite = None;
    })
    .done()
}

/// The VpceAccessDenied network-activity event the endpoint owner's trail logs.
fn vpce_denial(n: u32, at: &str, caller: &Event) -> Event {
    companion(n, "s3.amazonaws.com", &caller.event_name)
        .at(at)
        .set(|e| {
            e.event_category = Some("NetworkActivity".into());
            e.event_type = Some("AwsVpceEvent".into());
            e.error_code = Some("VpceAccessDenied".into());
            e.error_message = Some("The request was denied due to a VPC endpoint policy".into());
            e.principal_type = "AWSAccount".into();
            e.principal = caller.principal_id.clone().unwrap_or_default();
            e.principal_id = caller.principal_id.clone();
            e.account = caller.account.clone();
            e.recipient_account = caller.vpc_endpoint_account.clone();
            e.bucket = caller.bucket.clone();
            e.key = caller.key.clone();
            e.source_ip = caller.source_ip.clone();
            e.user_agent = caller.user_agent.clone();
            e.vpc_endpoint_id = caller.vpc_endpoint_id.clone();
            e.vpc_endpoint_account = caller.vpc_endpoint_account.clone();
            e.tls_version = None;
            e.tls_cipher_suite = None;
        })
        .done()
}

fn via_endpoint(vpce: &'static str, ip: &'static str) -> impl FnOnce(&mut Event) {
    move |e| {
        e.vpc_endpoint_id = Some(vpce.into());
        e.vpc_endpoint_account = Some(ACME.into());
        e.source_ip = Some(ip.into());
        e.user_agent = Some(UA_SDK.into());
    }
}

pub fn all() -> Vec<Case> {
    let mut cases = Vec::new();
    positives(&mut cases);
    correlations(&mut cases);
    remedies(&mut cases);
    negatives(&mut cases);
    cases
}

const SSE_DENY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyUnencryptedUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::acme-build-cache/artifacts/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},{"Sid":"DenyHttp","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::acme-build-cache","arn:aws:s3:::acme-build-cache/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

const TLS_DENY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::acme-kiosk-uploads","arn:aws:s3:::acme-kiosk-uploads/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;

/// A successful S3 call of `caller`'s (kept as a companion: what the same principal could do).
fn success(n: u32, at: &str, caller: &Event, name: &str, key: &str) -> B {
    let mut b = target(n).at(at).set(|e| {
        e.role = Some(crate::event::EventRole::Companion);
        e.event_name = name.into();
        e.error_code = None;
        e.error_message = None;
    });
    for (dst, src) in [
        (&mut b.0.identity_arn, &caller.identity_arn),
        (&mut b.0.account, &caller.account),
        (&mut b.0.principal_id, &caller.principal_id),
        (&mut b.0.access_key_id, &caller.access_key_id),
        (&mut b.0.session_issuer_arn, &caller.session_issuer_arn),
        (&mut b.0.session_issuer_type, &caller.session_issuer_type),
        (&mut b.0.session_name, &caller.session_name),
        (&mut b.0.vpc_endpoint_id, &caller.vpc_endpoint_id),
        (&mut b.0.vpc_endpoint_account, &caller.vpc_endpoint_account),
    ] {
        dst.clone_from(src);
    }
    b.0.principal = caller.principal.clone();
    b.0.principal_type = caller.principal_type.clone();
    b.0.source_ip = caller.source_ip.clone();
    b.obj(caller.bucket.as_deref().unwrap_or(""), key).owner(caller.bucket_owner.as_deref().unwrap_or(ACME))
}

/// Cases for where the fix goes (issue 11): each asserts the remedy's kind and place.
fn remedies(cases: &mut Vec<Case>) {
    // The bucket policy in the trail names the Deny; the multipart parts carry no SSE header.
    let ci = |n: u32, at: &str, session: &str, key: &str, op: &str| {
        target(n)
            .at(at)
            .session(ACME, "build-runner", session, &format!("ASIAYXKQ7EXAMPLEB{n:03}"), false)
            .obj("acme-build-cache", key)
            .owner(ACME)
            .set(via_endpoint("vpce-0d1e2f3a4b5c6d7e8", "10.30.1.17"))
            .set(|e| e.event_name = op.into())
            .denied(DENY_RESOURCE)
            .done()
    };
    let part = ci(7001, "2024-11-05T09:00:09Z", "run-41", "artifacts/41/image.tar", "UploadPart");
    let initiate = success(7002, "2024-11-05T09:00:02Z", &part, "CreateMultipartUpload", "artifacts/41/image.tar")
        .set(sse_kms(KEY_MIRROR))
        .done();
    cases.push(
        Case::new(
            "remedy-bucket-deny-sid-multipart",
            "PutBucketPolicy in the trail denies s3:PutObject without SSE aws:kms; the initiate with the header succeeded, its UploadPart (no header, as always) was denied: the fix is a Null guard in the Deny, not a client change",
            vec![part, ci(7003, "2024-11-05T09:03:00Z", "run-42", "artifacts/42/app.tar.gz", "PutObject")],
            Expect {
                tags: &["bucket-policy-deny", "sse-header-required", "recent-policy-change"],
                confidence: "high",
                not: &["network-condition", "insecure-transport", "mfa-required"],
                facts: &["temporary credentials"],
                evidence: &["Deny statement \"DenyUnencryptedUploads\"", "StringNotEquals s3:x-amz-server-side-encryption \"aws:kms\""],
                next_steps: &["aws s3api get-bucket-policy --bucket acme-build-cache --region us-east-1"],
                policy: PolicyExpect::Absent,
                remedies: Some(&["bucket-policy@111122223333"]),
                remedy_text: &[
                    "\"DenyUnencryptedUploads\"",
                    "UploadPart never carries x-amz-server-side-encryption",
                    "CreateMultipartUpload of artifacts/41/image.tar with the header succeeded",
                    "\"Null\": {",
                    "IfExists operator does not help a Deny",
                ],
                remedy_absent: &["\"Effect\": \"Allow\""],
                ..Expect::default()
            },
        )
        .with(vec![
            bucket_policy_change(7004, "2024-11-05T08:50:00Z", "acme-build-cache")
                .set(|e| e.policy_document = Some(SSE_DENY_POLICY.into()))
                .done(),
            initiate,
        ]),
    );

    let http = target(7101)
        .at("2024-11-05T10:00:00Z")
        .user(ACME, "kiosk-7", "AKIAYXKQ7EXAMPLEKSK7")
        .obj("acme-kiosk-uploads", "photos/7/0001.jpg")
        .owner(ACME)
        .set(|e| {
            e.tls_version = None;
            e.tls_cipher_suite = None;
            e.cipher_suite = None;
        })
        .denied(DENY_RESOURCE)
        .done();
    cases.push(
        Case::new(
            "remedy-insecure-transport-sid",
            "plain-HTTP upload and a DenyInsecureTransport statement in the trail: the Deny quoted by Sid, the fix a client change (HTTPS)",
            vec![http],
            Expect {
                tags: &["bucket-policy-deny", "insecure-transport", "recent-policy-change"],
                confidence: "high",
                not: &["sse-header-required", "network-condition", "mfa-required"],
                facts: &[],
                evidence: &["\"DenyInsecureTransport\""],
                next_steps: &["--resource-policy file://bucket-policy.json --resource-owner arn:aws:iam::111122223333:root"],
                policy: PolicyExpect::Absent,
                remedies: Some(&["bucket-policy@111122223333", "request-change"]),
                remedy_text: &["Use HTTPS", "\"DenyInsecureTransport\""],
                remedy_absent: &["\"Effect\": \"Allow\""],
                ..Expect::default()
            },
        )
        .with(vec![
            bucket_policy_change(7102, "2024-11-01T08:00:00Z", "acme-kiosk-uploads")
                .set(|e| e.policy_document = Some(TLS_DENY_POLICY.into()))
                .done(),
        ]),
    );

    cases.push(Case::new(
        "remedy-sso-permission-set",
        "an IAM Identity Center role lacks s3:PutObject: the fix goes in the permission set, then provision-permission-set",
        vec![target(7201).at("2024-11-05T11:00:00Z")
            .session(ACME, "AWSReservedSSO_Analyst_5d2c1b0a9f8e7d6c", "li.wei@example.com", "ASIAYXKQ7EXAMPLESSO1", false)
            .set(|e| e.session_issuer_arn = Some("arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Analyst_5d2c1b0a9f8e7d6c".into()))
            .obj("acme-analytics-sandbox", "analyst/li.wei/q4.csv").owner(ACME).denied(NO_IDENTITY).done()],
        Expect {
            tags: &["identity-no-allow"],
            confidence: "high",
            facts: &["temporary credentials"],
            evidence: &["no identity-based policy allows s3:PutObject"],
            policy: PolicyExpect::Present { s3_actions: &["s3:PutObject"], resource: "arn:aws:s3:::acme-analytics-sandbox/analyst/*", kms_key: None },
            remedies: Some(&["permission-set"]),
            remedy_text: &["permission set \"Analyst\"", "put-inline-policy-to-permission-set", "provision-permission-set"],
            remedy_absent: &["put-role-policy"],
            ..Expect::default()
        },
    ));

    let kp_target = target(7301)
        .at("2024-11-05T12:00:03Z")
        .session(ACME, "statement-writer", "lambda-1", "ASIAYXKQ7EXAMPLESTW1", false)
        .obj("acme-statements", "2024/11/acct-0001.pdf")
        .owner(ACME)
        .set(sse_kms(KEY_PAYROLL))
        .done();
    let mut kp_event = kms_fas_denial(
        7302,
        "2024-11-05T12:00:02Z",
        &kp_target,
        KEY_PAYROLL,
        "arn:aws:s3:::acme-statements/2024/11/acct-0001.pdf",
    );
    kp_event.error_message =
        kp_event.error_message.map(|m| m.replace("no identity-based policy", "no resource-based policy"));
    cases.push(
        Case::new(
            "remedy-key-policy-from-companion",
            "S3 says only \"Access Denied\"; the KMS event says no resource-based policy allows kms:GenerateDataKey: the key policy (principal, ViaService, encryption context), no s3:PutObject",
            vec![kp_target],
            Expect {
                tags: &["kms-denied"],
                confidence: "high",
                facts: &["temporary credentials"],
                evidence: &["no resource-based policy allows it"],
                next_steps: &["aws kms get-key-policy --key-id arn:aws:kms:us-east-1:111122223333:key/4d3c2b1a-0f9e-48d7-b6c5-a4b3c2d1e0f9 --policy-name default --region us-east-1"],
                policy: PolicyExpect::Absent,
                remedies: Some(&["key-policy@111122223333"]),
                remedy_text: &[
                    "\"AWS\": \"arn:aws:iam::111122223333:role/statement-writer\"",
                    "\"kms:GenerateDataKey\"",
                    "\"kms:ViaService\": \"s3.us-east-1.amazonaws.com\"",
                    "kms:EncryptionContext:aws:s3:arn",
                ],
                remedy_absent: &["s3:PutObject\""],
                ..Expect::default()
            },
        )
        .with(vec![kp_event]),
    );

    cases.push(Case::new(
        "remedy-multipart-identity",
        "a multipart writer lacks s3:PutObject: the grant adds s3:AbortMultipartUpload and s3:ListMultipartUploadParts",
        vec![
            target(7401)
                .at("2024-11-05T13:00:00Z")
                .session(ACME, "video-encoder", "batch-9", "ASIAYXKQ7EXAMPLEVID9", false)
                .obj("acme-media-out", "renders/9/master.mov")
                .owner(ACME)
                .set(|e| e.event_name = "CreateMultipartUpload".into())
                .denied(NO_IDENTITY)
                .done(),
        ],
        Expect {
            tags: &["identity-no-allow"],
            confidence: "high",
            facts: &["temporary credentials"],
            policy: PolicyExpect::Present {
                s3_actions: &["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                resource: "arn:aws:s3:::acme-media-out/renders/*",
                kms_key: None,
            },
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    let probe = |n: u32, at: &str, key: &str| {
        target(n)
            .at(at)
            .set(|e| {
                e.principal = "ANONYMOUS_PRINCIPAL".into();
                e.principal_type = "AWSAccount".into();
                e.account = Some("ANONYMOUS_PRINCIPAL".into());
                e.principal_id = Some(String::new());
                e.signature_version = None;
                e.auth_method = None;
                e.source_ip = Some("198.51.100.77".into());
                e.user_agent = Some("curl/8.5.0".into());
            })
            .obj("acme-web-assets", key)
            .owner(ACME)
            .done()
    };
    let readback = target(7504)
        .at("2024-11-05T14:00:09Z")
        .set(|e| {
            e.role = Some(crate::event::EventRole::Companion);
            e.event_name = "GetObject".into();
            e.principal = "ANONYMOUS_PRINCIPAL".into();
            e.principal_type = "AWSAccount".into();
            e.account = Some("ANONYMOUS_PRINCIPAL".into());
            e.principal_id = Some(String::new());
            e.signature_version = None;
            e.auth_method = None;
            e.source_ip = Some("198.51.100.77".into());
            e.user_agent = Some("curl/8.5.0".into());
        })
        .obj("acme-web-assets", "uploads/test.txt")
        .owner(ACME)
        .done();
    cases.push(
        Case::new(
            "remedy-suspicious-probe",
            "unsigned writes of upload.php and cmd.jsp, then test.txt written and read back from the same address: a web-shell probe, working as intended, no grant",
            vec![
                probe(7501, "2024-11-05T14:00:01Z", "uploads/upload.php"),
                probe(7502, "2024-11-05T14:00:03Z", "uploads/cmd.jsp"),
                probe(7503, "2024-11-05T14:00:05Z", "uploads/test.txt"),
            ],
            Expect {
                tags: &["bucket-policy-no-allow"],
                confidence: "medium",
                facts: &["suspicious", "anonymous"],
                evidence: &["suspicious: ", "probe file name «uploads/upload.php»", "read back by 198.51.100.77"],
                policy: PolicyExpect::Absent,
                remedies: Some(&["none"]),
                remedy_text: &["No grant", "working as intended"],
                steps_absent: &["simulate-principal-policy"],
                ..Expect::default()
            },
        )
        .with(vec![readback]),
    );

    cases.push(Case::new(
        "remedy-suspicious-formula-key",
        "a known user's writes, one with a spreadsheet-formula key: the grant stays, with a warning naming the payload",
        vec![
            target(7601)
                .at("2024-11-05T15:00:00Z")
                .user(ACME, "report-bot", "AKIAYXKQ7EXAMPLERPT1")
                .obj("acme-exports", "csv/2024-11-05.csv")
                .owner(ACME)
                .denied(NO_IDENTITY)
                .done(),
            target(7602)
                .at("2024-11-05T15:01:00Z")
                .user(ACME, "report-bot", "AKIAYXKQ7EXAMPLERPT1")
                .obj("acme-exports", "csv/=HYPERLINK(\"http://x\")")
                .owner(ACME)
                .denied(NO_IDENTITY)
                .done(),
            target(7603)
                .at("2024-11-05T15:02:00Z")
                .user(ACME, "report-bot", "AKIAYXKQ7EXAMPLERPT1")
                .obj("acme-exports", "csv/2024-11-06.csv")
                .owner(ACME)
                .denied(NO_IDENTITY)
                .done(),
        ],
        Expect {
            tags: &["identity-no-allow"],
            confidence: "high",
            facts: &["suspicious"],
            evidence: &["a spreadsheet formula in the key «csv/=HYPERLINK(\"http://x\")»"],
            policy: PolicyExpect::Present {
                s3_actions: &["s3:PutObject"],
                resource: "arn:aws:s3:::acme-exports/csv/*",
                kms_key: None,
            },
            remedies: Some(&["identity-policy@111122223333"]),
            remedy_text: &["look hostile"],
            ..Expect::default()
        },
    ));

    let outsider = |n: u32, bucket: &str| {
        target(n)
            .at("2024-11-05T16:00:00Z")
            .session("999900001111", "scanner", "s-1", "ASIAOUTSIDEREXAMPLE1", false)
            .obj(bucket, "probe/x.txt")
            .owner(ACME)
    };
    cases.push(
        Case::new(
            "remedy-suspicious-outsider",
            "a caller outside the organization (generic message) denied on three buckets: a scan, no grant",
            vec![outsider(7701, "acme-payments").done()],
            Expect {
                tags: &["cross-account", "bucket-owner-full-control-required", "requester-pays"],
                confidence: "medium",
                facts: &["suspicious", "cross-account", "temporary credentials"],
                evidence: &["outside the organization denied on 3 buckets"],
                policy: PolicyExpect::Absent,
                remedies: Some(&["none"]),
                ..Expect::default()
            },
        )
        .with(vec![
            outsider(7702, "acme-payroll").set(|e| e.role = Some(crate::event::EventRole::Companion)).done(),
            outsider(7703, "acme-hr").set(|e| e.role = Some(crate::event::EventRole::Companion)).done(),
        ]),
    );

    cases.push(
        Case::new(
            "remedy-request-error",
            "--all-errors: NoSuchBucket is no policy's doing: its own remedy, no IAM check, no policy-change correlation",
            vec![target(7801).at("2024-11-05T17:00:00Z").session(ACME, "web-app", "i-0abc", "ASIAYXKQ7EXAMPLEWEB1", false)
                .obj("acme-logs-old", "2024/11/05/app.log").code("NoSuchBucket").msg("The specified bucket does not exist").done()],
            Expect {
                tags: &["request-error"],
                confidence: "high",
                not: &["recent-policy-change", "unexplained"],
                facts: &["temporary credentials"],
                evidence: &["errorCode NoSuchBucket", "no policy can cause it"],
                next_steps: &["aws s3api head-bucket --bucket acme-logs-old --region us-east-1"],
                steps_absent: &["simulate-principal-policy", "get-bucket-policy", "lookup-events"],
                policy: PolicyExpect::Absent,
                remedies: Some(&["request-change"]),
                remedy_text: &["the bucket does not exist"],
                ..Expect::default()
            },
        )
        .with(vec![bucket_policy_change(7802, "2024-11-05T16:55:00Z", "acme-logs-old").done()]),
    );
}

fn positives(cases: &mut Vec<Case>) {
    cases.push(Case::new(
        "identity-no-allow",
        "enhanced message (quoted resource), CI role session: the role's policies lack s3:PutObject",
        vec![target(101).at("2024-10-01T08:00:00Z").session(ACME, "ci-deploy", "build-4711", "ASIAYXKQ7EXAMPLE4711", false)
            .obj("acme-build-artifacts", "releases/v1.4.2/app.zip").owner(ACME).denied(NO_IDENTITY).done()],
        Expect {
            tags: &["identity-no-allow"],
            confidence: "high",
            not: &["kms-denied", "mfa-required", "unexplained"],
            facts: &["temporary credentials"],
            evidence: &["no identity-based policy allows s3:PutObject", "assumed-role/ci-deploy/build-4711"],
            next_steps: &["aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::111122223333:role/ci-deploy --action-names s3:PutObject --resource-arns arn:aws:s3:::acme-build-artifacts/releases/v1.4.2/app.zip"],
            policy: PolicyExpect::Present { s3_actions: &["s3:PutObject"], resource: "arn:aws:s3:::acme-build-artifacts/releases/*", kms_key: None },
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "identity-explicit-deny",
        "explicit deny in an identity-based policy, with the newer policy-ARN suffix; long-term AKIA key",
        vec![target(201).at("2024-10-01T08:30:00Z").user(ACME, "deploy-bot", "AKIAYXKQ7EXAMPLEBOT1")
            .obj("acme-static-site", "assets/css/main.css").owner(ACME)
            .denied(&format!("{DENY_IDENTITY}: arn:aws:iam::111122223333:policy/DenyProdSiteWrites")).done()],
        Expect {
            tags: &["identity-explicit-deny", "mfa-required"],
            confidence: "high",
            not: &["bucket-policy-deny", "insecure-transport"],
            facts: &[],
            evidence: &["an explicit deny in an identity-based policy", "policy/DenyProdSiteWrites", "user/deploy-bot"],
            next_steps: &["--policy-source-arn arn:aws:iam::111122223333:user/deploy-bot --action-names s3:PutObject --resource-arns arn:aws:s3:::acme-static-site/assets/css/main.css"],
            policy: PolicyExpect::Absent,
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "bucket-policy-deny",
        "explicit deny in the bucket policy; TLS 1.3, SSE header sent, MFA session: nothing else to blame",
        vec![
            target(301)
                .at("2024-10-01T09:00:00Z")
                .session(ACME, "data-engineer", "maria.garcia", "ASIAYXKQ7EXAMPLEDEN1", true)
                .obj("acme-raw-events", "ingest/2024/10/01/part-0001.json")
                .owner(ACME)
                .set(aes256)
                .denied(DENY_RESOURCE)
                .done(),
        ],
        Expect {
            tags: &["bucket-policy-deny"],
            confidence: "high",
            not: &["insecure-transport", "sse-header-required", "mfa-required", "identity-explicit-deny"],
            facts: &["temporary credentials"],
            evidence: &["an explicit deny in a resource-based policy"],
            next_steps: &[
                "aws s3api get-bucket-policy --bucket acme-raw-events --region us-east-1 --query 'Policy' --output text",
                "aws s3api get-public-access-block --bucket acme-raw-events --region us-east-1",
            ],
            policy: PolicyExpect::Absent,
            remedies: Some(&["bucket-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "bucket-policy-no-allow",
        "same-organization cross-account caller: the bucket policy grants the partner role nothing",
        vec![
            target(401)
                .at("2024-10-01T09:15:00Z")
                .session(PARTNER, "partner-export", "nightly-20241001", "ASIAZP4EXAMPLEEXP01", false)
                .obj("acme-partner-dropbox", "inbound/partner/export-20241001.csv.gz")
                .owner(ACME)
                .set(|e| {
                    e.acl = Some("bucket-owner-full-control".into());
                    e.shared_event_id = Some("0f3a9c1e-5b7d-4e2f-9a8b-6c5d4e3f2a10".into());
                })
                .denied(NO_RESOURCE)
                .done(),
        ],
        Expect {
            tags: &["bucket-policy-no-allow"],
            confidence: "high",
            not: &["bucket-owner-full-control-required", "requester-pays"],
            facts: &["cross-account", "temporary credentials"],
            evidence: &[
                "no resource-based policy allows s3:PutObject",
                "caller account 444455556666 ≠ bucket owner 111122223333",
            ],
            next_steps: &["aws s3api get-bucket-policy --bucket acme-partner-dropbox"],
            policy: PolicyExpect::Unchecked,
            remedies: Some(&["bucket-policy@111122223333", "identity-policy@444455556666"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "scp-deny",
        "explicit deny in an SCP (region guardrail) with the organizations policy-ARN suffix",
        vec![target(501).at("2024-10-01T09:30:00Z").region("eu-west-1")
            .session(ACME, "etl-runner", "i-0a1b2c3d4e5f60789", "ASIAYXKQ7EXAMPLEETL1", false)
            .obj("acme-analytics-eu", "curated/daily/2024-10-01.parquet").owner(ACME).set(aes256)
            .denied(&format!(
                "with an explicit deny in a service control policy: arn:aws:organizations::{ORG_MGMT}:policy/o-a1b2c3d4e5/service_control_policy/p-8f2kq1zx"
            ))
            .done()],
        Expect {
            tags: &["scp-deny", "mfa-required"],
            confidence: "high",
            not: &["identity-explicit-deny", "bucket-policy-deny"],
            facts: &["temporary credentials"],
            evidence: &["an explicit deny in a service control policy", "p-8f2kq1zx"],
            next_steps: &[
                "id=111122223333; while :; do aws organizations list-policies-for-target --target-id \"$id\" --filter SERVICE_CONTROL_POLICY",
                "aws organizations describe-policy --policy-id p-8f2kq1zx",
            ],
            policy: PolicyExpect::Absent,
            remedies: Some(&["scp"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "rcp-deny",
        "explicit deny in a resource control policy of the bucket owner's organization",
        vec![
            target(601)
                .at("2024-10-01T09:45:00Z")
                .session(PARTNER, "backup-writer", "backup-20241001T0945", "ASIAZP4EXAMPLEBKP01", false)
                .obj("acme-backup-vault", "vault/partner/2024-10-01.tar.gz")
                .owner(ACME)
                .set(|e| {
                    aes256(e);
                    e.acl = Some("bucket-owner-full-control".into());
                })
                .denied("with an explicit deny in a resource control policy")
                .done(),
        ],
        Expect {
            tags: &["rcp-deny", "mfa-required"],
            confidence: "high",
            not: &["scp-deny", "cross-account", "bucket-owner-full-control-required"],
            facts: &["cross-account", "temporary credentials"],
            evidence: &["an explicit deny in a resource control policy"],
            next_steps: &[
                "id=111122223333; while :; do aws organizations list-policies-for-target --target-id \"$id\" --filter RESOURCE_CONTROL_POLICY",
            ],
            policy: PolicyExpect::Absent,
            remedies: Some(&["rcp"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "vpce-policy",
        "implicit deny by the VPC endpoint policy, named in the message",
        vec![target(701).at("2024-10-01T10:00:00Z").session(ACME, "app-server", "i-0f9e8d7c6b5a43210", "ASIAYXKQ7EXAMPLEAPP1", false)
            .obj("acme-app-uploads", "avatars/u-18273/avatar.png").owner(ACME)
            .set(via_endpoint("vpce-0a1b2c3d4e5f67890", "10.0.12.34"))
            .denied("because no VPC endpoint policy allows the s3:PutObject action").done()],
        Expect {
            tags: &["vpce-policy"],
            confidence: "high",
            not: &["network-condition"],
            facts: &["temporary credentials"],
            evidence: &["no VPC endpoint policy allows s3:PutObject"],
            next_steps: &["aws ec2 describe-vpc-endpoints --vpc-endpoint-ids vpce-0a1b2c3d4e5f67890 --region us-east-1 --query 'VpcEndpoints[].PolicyDocument'"],
            policy: PolicyExpect::Absent,
            remedies: Some(&["vpc-endpoint-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "vpce-policy-low",
        "generic message through a VPC endpoint and no VpceAccessDenied record: only a lead",
        vec![
            target(801)
                .at("2024-10-01T10:10:00Z")
                .session(ACME, "batch-ingest", "job-5512", "ASIAYXKQ7EXAMPLEBAT1", false)
                .obj("acme-batch-landing", "drop/2024-10-01/batch-5512.csv")
                .owner(ACME)
                .set(via_endpoint("vpce-0c3d4e5f6a7b89012", "10.0.8.9"))
                .done(),
        ],
        Expect {
            tags: &["vpce-policy"],
            confidence: "low",
            not: &["unexplained"],
            facts: &["temporary credentials"],
            evidence: &["vpce-0c3d4e5f6a7b89012", "no VpceAccessDenied network event"],
            next_steps: &["--vpc-endpoint-ids vpce-0c3d4e5f6a7b89012"],
            remedies: Some(&["vpc-endpoint-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "permissions-boundary",
        "implicit deny by the role's permissions boundary",
        vec![
            target(901)
                .at("2024-10-01T10:20:00Z")
                .session(ACME, "contractor-sandbox", "jdoe-cli", "ASIAYXKQ7EXAMPLECTR1", true)
                .obj("acme-sandbox-share", "contractors/jdoe/notes.txt")
                .owner(ACME)
                .denied("because no permissions boundary allows the s3:PutObject action")
                .done(),
        ],
        Expect {
            tags: &["permissions-boundary"],
            confidence: "high",
            facts: &["temporary credentials"],
            not: &["identity-no-allow"],
            evidence: &["no permissions boundary allows s3:PutObject"],
            next_steps: &["aws iam get-role --role-name contractor-sandbox --query 'Role.PermissionsBoundary.PermissionsBoundaryArn'"],
            policy: PolicyExpect::Present {
                s3_actions: &["s3:PutObject"],
                resource: "arn:aws:s3:::acme-sandbox-share/contractors/*",
                kms_key: None,
            },
            remedies: Some(&["boundary@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "session-policy-old-spelling",
        "explicit deny in a \"sessions policy\" (the older IAM spelling)",
        vec![
            target(1001)
                .at("2024-10-01T10:40:00Z")
                .session(ACME, "shared-uploader", "vendor-globex-upload", "ASIAYXKQ7EXAMPLEGLX1", true)
                .obj("acme-globex-exchange", "outgoing/orders/po-5531.json")
                .owner(ACME)
                .set(aes256)
                .denied("with an explicit deny in a sessions policy")
                .done(),
        ],
        Expect {
            tags: &["session-policy"],
            confidence: "high",
            not: &["mfa-required", "sse-header-required"],
            facts: &["temporary credentials"],
            evidence: &["an explicit deny in a session policy"],
            next_steps: &["AttributeKey=ResourceName,AttributeValue=arn:aws:iam::111122223333:role/shared-uploader"],
            policy: PolicyExpect::Absent,
            remedies: Some(&["session-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "kms-denied",
        "S3 passes on the KMS message: the role may not use the bucket's customer managed key",
        vec![target(1101).at("2024-10-01T11:10:00Z").session(ACME, "ci-deploy", "build-4712", "ASIAYXKQ7EXAMPLE4712", false)
            .obj("acme-secure-reports", "finance/q3/report.xlsx").owner(ACME).set(sse_kms(KEY_REPORTS))
            .kms_denied(KEY_REPORTS, NO_KMS_IDENTITY).done()],
        Expect {
            tags: &["kms-denied"],
            confidence: "high",
            not: &["identity-no-allow"],
            facts: &["temporary credentials"],
            evidence: &["kms:GenerateDataKey", KEY_REPORTS, "no identity-based policy allows"],
            next_steps: &[
                "aws kms get-key-policy --key-id arn:aws:kms:us-east-1:111122223333:key/0b8c1e2f-3a4d-4e5f-8a9b-0c1d2e3f4a5b --policy-name default",
                "aws s3api get-bucket-encryption --bucket acme-secure-reports",
                "--policy-source-arn arn:aws:iam::111122223333:role/ci-deploy --action-names kms:GenerateDataKey",
            ],
            policy: PolicyExpect::Present {
                s3_actions: &[],
                resource: "arn:aws:s3:::acme-secure-reports/finance/*",
                kms_key: Some(KEY_REPORTS),
            },
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "kms-denied-header-only",
        "SSE-KMS header and a generic message (before the enhanced text), no KMS record: medium",
        vec![target(1201).at("2024-06-14T09:12:44Z").session(ACME, "log-shipper", "fluent-bit-3", "ASIAYXKQ7EXAMPLELOG1", false)
            .obj("acme-app-logs", "prod/api/2024/06/14/09/api-1.log.gz").owner(ACME).set(sse_kms(KEY_LOGS)).done()],
        Expect {
            tags: &["kms-denied"],
            confidence: "medium",
            not: &["kms-aws-managed-cross-account", "unexplained"],
            facts: &["temporary credentials"],
            evidence: &["aws:kms", KEY_LOGS, "no KMS event was found"],
            next_steps: &["aws kms get-key-policy --key-id arn:aws:kms:us-east-1:111122223333:key/2e4f6a8b-0c1d-4e2f-a3b4-c5d6e7f8a9b0 --policy-name default"],
            policy: PolicyExpect::Present { s3_actions: &[], resource: "arn:aws:s3:::acme-app-logs/prod/*", kms_key: Some(KEY_LOGS) },
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "kms-key-unusable",
        "errorCode KMS.DisabledException: the bucket's key is disabled",
        vec![target(1301).at("2024-10-01T11:30:00Z").session(ACME, "etl-loader", "glue-run-12", "ASIAYXKQ7EXAMPLEGLU1", false)
            .obj("acme-payroll-exports", "payroll/2024-09/run.csv").owner(ACME).set(sse_kms(KEY_PAYROLL))
            .code("KMS.DisabledException").msg(&format!("{KEY_PAYROLL} is disabled.")).done()],
        Expect {
            tags: &["kms-key-unusable"],
            confidence: "high",
            not: &["kms-denied", "unexplained"],
            facts: &["temporary credentials"],
            evidence: &["errorCode KMS.DisabledException"],
            next_steps: &["aws kms describe-key --key-id arn:aws:kms:us-east-1:111122223333:key/4d3c2b1a-0f9e-48d7-b6c5-a4b3c2d1e0f9"],
            policy: PolicyExpect::Absent,
            remedies: Some(&["key-state"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "kms-aws-managed-cross-account",
        "a partner writes with SSE aws:kms and the AWS managed key aws/s3 of the bucket owner: generic message",
        vec![
            target(1401)
                .at("2024-10-01T13:00:00Z")
                .session(PARTNER, "partner-ingest", "sync-20241001", "ASIAZP4EXAMPLEING01", false)
                .obj("acme-shared-ingest", "partner/feeds/2024-10-01.json")
                .owner(ACME)
                .set(sse_kms("arn:aws:kms:us-east-1:111122223333:alias/aws/s3"))
                .set(|e| e.acl = Some("bucket-owner-full-control".into()))
                .done(),
        ],
        Expect {
            tags: &["kms-denied", "kms-aws-managed-cross-account", "cross-account", "requester-pays"],
            confidence: "medium",
            not: &["bucket-owner-full-control-required"],
            facts: &["cross-account", "temporary credentials"],
            evidence: &["aws:kms"],
            next_steps: &[
                "aws kms describe-key --key-id arn:aws:kms:us-east-1:111122223333:alias/aws/s3",
                "aws kms describe-key --key-id alias/aws/s3 --region us-east-1 --query 'KeyMetadata.KeyManager'",
                "aws s3api get-bucket-request-payment --bucket acme-shared-ingest",
            ],
            policy: PolicyExpect::Unchecked,
            remedies: Some(&[
                "request-change@111122223333",
                "bucket-policy@111122223333",
                "identity-policy@444455556666",
            ]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "block-public-acls",
        "BlockPublicAcls message for a public-read upload",
        vec![
            target(1501)
                .at("2024-10-01T13:20:00Z")
                .user(ACME, "web-publisher", "AKIAYXKQ7EXAMPLEWEB1")
                .obj("acme-marketing-assets", "campaigns/fall-2024/banner.png")
                .owner(ACME)
                .set(|e| e.acl = Some("public-read".into()))
                .denied("because public ACLs are prevented by the BlockPublicAcls setting in S3 Block Public Access.")
                .done(),
        ],
        Expect {
            tags: &["block-public-acls"],
            confidence: "high",
            not: &["mfa-required", "unexplained"],
            facts: &[],
            evidence: &["BlockPublicAcls"],
            next_steps: &[
                "aws s3api get-public-access-block --bucket acme-marketing-assets",
                "aws s3control get-public-access-block --account-id 111122223333",
            ],
            policy: PolicyExpect::Absent,
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "block-public-acls-generic",
        "2023 record: only \"Access Denied\", but the request carried x-amz-acl public-read",
        vec![
            target(1601)
                .at("2023-05-10T16:02:11Z")
                .old_record()
                .user(ACME, "legacy-uploader", "AKIAYXKQ7EXAMPLELEG1")
                .obj("acme-legacy-public", "downloads/installer-3.2.1.exe")
                .owner(ACME)
                .set(|e| e.acl = Some("public-read".into()))
                .done(),
        ],
        Expect {
            tags: &["block-public-acls"],
            confidence: "medium",
            not: &["unexplained"],
            facts: &[],
            evidence: &["x-amz-acl public-read"],
            next_steps: &["aws s3api get-public-access-block --bucket acme-legacy-public"],
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "block-public-acls-grant",
        "generic message and a read grant to AllUsers",
        vec![
            target(1701)
                .at("2024-03-02T12:00:00Z")
                .session(ACME, "cms-publisher", "wp-sync", "ASIAYXKQ7EXAMPLECMS1", false)
                .obj("acme-cms-media", "uploads/2024/03/hero.jpg")
                .owner(ACME)
                .set(|e| {
                    e.grants = Some("x-amz-grant-read=uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"".into())
                })
                .done(),
        ],
        Expect {
            tags: &["block-public-acls"],
            confidence: "medium",
            facts: &["temporary credentials"],
            evidence: &["a public grant", "AllUsers"],
            next_steps: &["aws s3api get-public-access-block --bucket acme-cms-media"],
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "acl-not-supported",
        "errorCode AccessControlListNotSupported: an ACL sent to a BucketOwnerEnforced bucket",
        vec![
            target(1801)
                .at("2024-10-01T13:40:00Z")
                .user(ACME, "report-bot", "AKIAYXKQ7EXAMPLERPT1")
                .obj("acme-exports", "daily/2024-10-01/export.csv")
                .owner(ACME)
                .set(|e| e.acl = Some("private".into()))
                .code("AccessControlListNotSupported")
                .msg("The bucket does not allow ACLs")
                .done(),
        ],
        Expect {
            tags: &["acl-not-supported"],
            confidence: "high",
            not: &["block-public-acls", "unexplained"],
            facts: &[],
            evidence: &["AccessControlListNotSupported", "x-amz-acl private"],
            next_steps: &["aws s3api get-bucket-ownership-controls --bucket acme-exports"],
            policy: PolicyExpect::Absent,
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "bucket-owner-full-control-required",
        "cross-account write without x-amz-acl bucket-owner-full-control, generic message",
        vec![
            target(1901)
                .at("2024-10-01T14:00:00Z")
                .session(PARTNER, "log-forwarder", "vector-0", "ASIAZP4EXAMPLEFWD01", false)
                .obj("acme-central-logs", "partner-444455556666/2024/10/01/app.log.gz")
                .owner(ACME)
                .done(),
        ],
        Expect {
            tags: &["cross-account", "bucket-owner-full-control-required", "requester-pays"],
            confidence: "medium",
            facts: &["cross-account", "temporary credentials"],
            evidence: &["caller account 444455556666 ≠ bucket owner 111122223333"],
            next_steps: &["aws s3api get-bucket-policy --bucket acme-central-logs"],
            policy: PolicyExpect::Unchecked,
            remedies: Some(&["bucket-policy@111122223333", "identity-policy@444455556666"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "cross-account",
        "partner IAM user outside the organization: generic message, owner from the bucket resource",
        vec![
            target(2001)
                .at("2024-10-01T14:10:00Z")
                .user(PARTNER, "svc-uploader", "AKIAZP4EXAMPLEUPL01")
                .obj("acme-data-exchange", "from-partner/catalog.json")
                .owner(ACME)
                .set(|e| e.acl = Some("bucket-owner-full-control".into()))
                .done(),
        ],
        Expect {
            tags: &["cross-account", "requester-pays"],
            confidence: "medium",
            not: &["bucket-owner-full-control-required", "unexplained"],
            facts: &["cross-account"],
            evidence: &["caller account 444455556666 ≠ bucket owner 111122223333 (from the bucket resource)"],
            next_steps: &[
                "--policy-source-arn arn:aws:iam::444455556666:user/svc-uploader",
                "aws s3api get-bucket-policy --bucket acme-data-exchange",
            ],
            remedies: Some(&["bucket-policy@111122223333", "identity-policy@444455556666"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "cross-account-owner-copy",
        "the bucket owner's copy: userIdentity AWSAccount without an ARN, recipientAccountId is the owner",
        vec![
            target(2101)
                .at("2024-10-01T14:20:00Z")
                .set(|e| {
                    e.principal_type = "AWSAccount".into();
                    e.principal_id = Some(format!("{}:export-job", super::build::role_id("export-job")));
                    e.principal = e.principal_id.clone().unwrap_or_default();
                    e.account = Some(PARTNER.into());
                    e.recipient_account = Some(ACME.into());
                    e.shared_event_id = Some("7b2e4c6a-8d0f-4b1e-a3c5-e7f9a1b3c5d7".into());
                    e.acl = Some("bucket-owner-full-control".into());
                })
                .obj("acme-partner-inbox", "exports/2024-10-01/orders.csv")
                .done(),
        ],
        Expect {
            tags: &["cross-account", "requester-pays"],
            confidence: "medium",
            facts: &["cross-account"],
            evidence: &["caller account 444455556666 ≠ bucket owner 111122223333 (from recipientAccountId)"],
            next_steps: &["aws s3api get-bucket-policy --bucket acme-partner-inbox"],
            remedies: Some(&["bucket-policy@111122223333", "identity-policy@444455556666"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "sse-header-required",
        "explicit bucket-policy deny and no SSE header: the classic DenyUnencryptedObjectUploads",
        vec![
            target(2201)
                .at("2024-10-01T14:30:00Z")
                .session(ACME, "data-analyst", "kim.lee", "ASIAYXKQ7EXAMPLEKIM1", true)
                .obj("acme-pii-vault", "customers/2024-10-01/extract.csv")
                .owner(ACME)
                .denied(DENY_RESOURCE)
                .done(),
        ],
        Expect {
            tags: &["bucket-policy-deny", "sse-header-required"],
            confidence: "high",
            not: &["insecure-transport", "mfa-required"],
            facts: &["temporary credentials"],
            evidence: &["an explicit deny in a resource-based policy"],
            next_steps: &["aws s3api get-bucket-encryption --bucket acme-pii-vault"],
            policy: PolicyExpect::Absent,
            remedies: Some(&["bucket-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "sse-c-blocked",
        "the bucket blocks SSE-C uploads (BlockedEncryptionTypes)",
        vec![target(2301).at("2025-05-02T10:00:00Z").session(ACME, "media-encoder", "enc-worker-2", "ASIAYXKQ7EXAMPLEENC1", false)
            .obj("acme-media-masters", "masters/2025/ep-101.mov").owner(ACME)
            .set(|e| e.sse_customer_algorithm = Some("AES256".into()))
            .denied("because this bucket has blocked upload requests that specify Server Side Encryption with Customer provided keys (SSE-C). Please specify a different server-side encryption type")
            .done()],
        Expect {
            tags: &["sse-c-blocked"],
            confidence: "high",
            not: &["sse-header-required", "unexplained"],
            facts: &["temporary credentials"],
            evidence: &["SSE-C"],
            next_steps: &["aws s3api get-bucket-encryption --bucket acme-media-masters"],
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "sse-c-blocked-generic",
        "generic message on an SSE-C upload",
        vec![
            target(2401)
                .at("2024-05-20T08:00:00Z")
                .user(ACME, "archiver", "AKIAYXKQ7EXAMPLEARC1")
                .obj("acme-cold-archive", "2024/05/20/dump.bin")
                .owner(ACME)
                .set(|e| e.sse_customer_algorithm = Some("AES256".into()))
                .done(),
        ],
        Expect {
            tags: &["sse-c-blocked"],
            confidence: "medium",
            facts: &[],
            evidence: &["x-amz-server-side-encryption-customer-algorithm AES256"],
            next_steps: &["aws s3api get-bucket-encryption --bucket acme-cold-archive"],
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "mfa-required",
        "console user without MFA hits an explicit identity deny (a DenyAllExceptListedIfNoMFA policy)",
        vec![
            target(2501)
                .at("2024-10-01T15:10:00Z")
                .user(ACME, "maria", "ASIAYXKQ7EXAMPLEMAR1")
                .obj("acme-finance-close", "ledger/2024-09/close.xlsx")
                .owner(ACME)
                .set(|e| {
                    e.mfa_authenticated = Some(false);
                    e.user_agent = Some("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750]".into());
                })
                .denied(DENY_IDENTITY)
                .done(),
        ],
        Expect {
            tags: &["identity-explicit-deny", "mfa-required"],
            confidence: "high",
            facts: &["temporary credentials"],
            evidence: &["an explicit deny in an identity-based policy"],
            next_steps: &["ContextKeyName=aws:MultiFactorAuthPresent,ContextKeyValues=true,ContextKeyType=boolean"],
            policy: PolicyExpect::Absent,
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "insecure-transport",
        "explicit bucket-policy deny of a plain-HTTP request: no tlsDetails and no CipherSuite",
        vec![
            target(2601)
                .at("2024-10-01T15:20:00Z")
                .session(ACME, "field-tech", "tablet-0042", "ASIAYXKQ7EXAMPLEFLD1", true)
                .obj("acme-field-reports", "sites/site-77/report.pdf")
                .owner(ACME)
                .set(|e| {
                    aes256(e);
                    e.tls_version = None;
                    e.tls_cipher_suite = None;
                    e.cipher_suite = None;
                    e.host = Some("acme-field-reports.s3.amazonaws.com".into());
                })
                .denied(DENY_RESOURCE)
                .done(),
        ],
        Expect {
            tags: &["bucket-policy-deny", "insecure-transport"],
            confidence: "high",
            not: &["sse-header-required"],
            facts: &["temporary credentials"],
            next_steps: &["aws s3api get-bucket-policy --bucket acme-field-reports"],
            remedies: Some(&["bucket-policy@111122223333", "request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "insecure-transport-tls10",
        "generic message on a TLS 1.0 connection (an s3:TlsVersion condition)",
        vec![
            target(2701)
                .at("2024-02-12T07:45:00Z")
                .user(ACME, "scanner-uploader", "AKIAYXKQ7EXAMPLESCN1")
                .obj("acme-scans", "inbox/2024-02-12/scan-0001.tiff")
                .owner(ACME)
                .set(|e| {
                    e.tls_version = Some("TLSv1".into());
                    e.tls_cipher_suite = Some("ECDHE-RSA-AES128-SHA".into());
                    e.cipher_suite = Some("ECDHE-RSA-AES128-SHA".into());
                    e.user_agent = Some(
                        "aws-sdk-java/1.11.30 Linux/3.10.0 Java_HotSpot(TM)_64-Bit_Server_VM/25.102-b14/1.8.0_102"
                            .into(),
                    );
                })
                .done(),
        ],
        Expect {
            tags: &["insecure-transport"],
            confidence: "medium",
            facts: &[],
            evidence: &["tlsVersion is TLSv1"],
            next_steps: &["aws s3api get-bucket-policy --bucket acme-scans"],
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "network-condition",
        "explicit bucket-policy deny of a request that came through a VPC endpoint from a private address",
        vec![
            target(2801)
                .at("2024-10-01T15:30:00Z")
                .session(ACME, "data-scientist", "li.wei", "ASIAYXKQ7EXAMPLELIW1", true)
                .obj("acme-research", "notebooks/li.wei/model-v3.pkl")
                .owner(ACME)
                .set(aes256)
                .set(via_endpoint("vpce-0d4e5f6a7b8c90123", "10.20.3.44"))
                .denied(DENY_RESOURCE)
                .done(),
        ],
        Expect {
            tags: &["bucket-policy-deny", "network-condition"],
            confidence: "high",
            not: &["vpce-policy", "insecure-transport"],
            facts: &["temporary credentials"],
            next_steps: &[
                "aws s3api get-bucket-policy --bucket acme-research",
                "--vpc-endpoint-ids vpce-0d4e5f6a7b8c90123",
            ],
            remedies: Some(&["bucket-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "expected-owner-mismatch",
        "x-amz-expected-bucket-owner names another account than the bucket's owner",
        vec![
            target(2901)
                .at("2024-10-01T15:40:00Z")
                .session(ACME, "backup-agent", "nightly", "ASIAYXKQ7EXAMPLEBKA1", false)
                .obj("acme-db-backups", "postgres/2024-10-01/base.tar.zst")
                .owner(ACME)
                .set(|e| e.expected_bucket_owner = Some("222233334444".into()))
                .done(),
        ],
        Expect {
            tags: &["expected-owner-mismatch"],
            confidence: "high",
            facts: &["temporary credentials"],
            evidence: &["x-amz-expected-bucket-owner 222233334444", "bucket owner 111122223333"],
            next_steps: &["aws s3api head-bucket --bucket acme-db-backups --expected-bucket-owner 222233334444 --region us-east-1"],
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "expected-owner-unknown",
        "x-amz-expected-bucket-owner sent, generic message, owner not in the record: medium",
        vec![
            target(3001)
                .at("2024-10-01T15:45:00Z")
                .session(ACME, "sync-tool", "rclone-1", "ASIAYXKQ7EXAMPLESYN1", false)
                .obj("acme-sync-target", "mirror/site/index.html")
                .set(|e| e.expected_bucket_owner = Some("555566667777".into()))
                .done(),
        ],
        Expect {
            tags: &["expected-owner-mismatch"],
            confidence: "medium",
            facts: &["temporary credentials"],
            evidence: &["x-amz-expected-bucket-owner 555566667777"],
            next_steps: &["aws s3api head-bucket --bucket acme-sync-target --expected-bucket-owner 555566667777 --region us-east-1"],
            remedies: Some(&["request-change"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "anonymous",
        "an unsigned upload: the owner's trail logs ANONYMOUS_PRINCIPAL; anonymous is a fact",
        vec![
            target(3101)
                .at("2024-10-01T16:05:00Z")
                .set(|e| {
                    e.principal = "ANONYMOUS_PRINCIPAL".into();
                    e.principal_type = "AWSAccount".into();
                    e.account = Some("ANONYMOUS_PRINCIPAL".into());
                    e.principal_id = Some(String::new());
                    e.recipient_account = Some(ACME.into());
                    e.signature_version = None;
                    e.auth_method = None;
                    e.source_ip = Some("192.0.2.77".into());
                    e.user_agent = Some("curl/8.5.0".into());
                })
                .obj("acme-public-uploads", "incoming/upload.bin")
                .done(),
        ],
        Expect {
            tags: &["bucket-policy-no-allow"],
            confidence: "medium",
            not: &["cross-account", "requester-pays", "unexplained"],
            facts: &["suspicious", "anonymous"],
            evidence: &["ANONYMOUS_PRINCIPAL"],
            next_steps: &["aws s3api get-public-access-block --bucket acme-public-uploads"],
            policy: PolicyExpect::Absent,
            remedies: Some(&["none"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "presigned-url",
        "a presigned URL (AuthenticationMethod QueryString): the signer's rights apply; presigned is a fact",
        vec![target(3201).at("2024-10-01T16:15:00Z").user(ACME, "upload-signer", "AKIAYXKQ7EXAMPLESGN1")
            .obj("acme-customer-uploads", "tickets/48213/screenshot.png").owner(ACME)
            .set(|e| {
                e.auth_method = Some("QueryString".into());
                e.source_ip = Some("198.51.100.203".into());
                e.user_agent = Some("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36".into());
            })
            .denied(NO_IDENTITY).done()],
        Expect {
            tags: &["identity-no-allow"],
            confidence: "high",
            facts: &["presigned URL"],
            evidence: &["user/upload-signer"],
            next_steps: &["--policy-source-arn arn:aws:iam::111122223333:user/upload-signer"],
            policy: PolicyExpect::Present { s3_actions: &["s3:PutObject"], resource: "arn:aws:s3:::acme-customer-uploads/tickets/*", kms_key: None },
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "object-lock-headers",
        "Object Lock headers sent; the message names s3:PutObjectRetention as the missing action",
        vec![target(3301).at("2024-10-01T16:25:00Z").session(ACME, "compliance-archiver", "archive-job-12", "ASIAYXKQ7EXAMPLECMP1", false)
            .obj("acme-worm-archive", "records/2024/10/01/batch-0001.zip").owner(ACME)
            .set(|e| {
                e.object_lock = Some("x-amz-object-lock-mode=COMPLIANCE,x-amz-object-lock-retain-until-date=2031-10-01T00:00:00Z".into());
            })
            .denied_action("s3:PutObjectRetention", "because no identity-based policy allows the s3:PutObjectRetention action")
            .done()],
        Expect {
            tags: &["identity-no-allow", "object-lock-headers"],
            confidence: "high",
            facts: &["temporary credentials"],
            evidence: &["s3:PutObjectRetention"],
            next_steps: &[
                "--action-names s3:PutObjectRetention --resource-arns arn:aws:s3:::acme-worm-archive/records/2024/10/01/batch-0001.zip",
                "aws s3api get-object-lock-configuration --bucket acme-worm-archive",
            ],
            policy: PolicyExpect::Present {
                s3_actions: &["s3:PutObject", "s3:PutObjectRetention"],
                resource: "arn:aws:s3:::acme-worm-archive/records/*",
                kms_key: None,
            },
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "access-point",
        "a write through an access point (resource and s3-accesspoint Host), generic message",
        vec![
            target(3401)
                .at("2024-10-01T16:35:00Z")
                .session(ACME, "finance-app", "ecs-task-1", "ASIAYXKQ7EXAMPLEFIN1", false)
                .obj("acme-finance-data", "ledgers/2024/10/gl.csv")
                .owner(ACME)
                .set(|e| {
                    e.access_point_arn = Some("arn:aws:s3:us-east-1:111122223333:accesspoint/finance-ap".into());
                    e.host = Some("finance-ap-111122223333.s3-accesspoint.us-east-1.amazonaws.com".into());
                })
                .done(),
        ],
        Expect {
            tags: &["access-point"],
            confidence: "medium",
            facts: &["temporary credentials"],
            evidence: &["accesspoint/finance-ap"],
            next_steps: &[
                "aws s3control get-access-point --account-id 111122223333 --name finance-ap",
                "aws s3control get-access-point-policy --account-id 111122223333 --name finance-ap",
            ],
            remedies: Some(&["access-point-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "unexplained",
        "generic \"Access Denied\" from a same-account role, nothing else in the record",
        vec![target(3501).at("2024-03-18T11:00:00Z").session(ACME, "batch-writer", "job-1", "ASIAYXKQ7EXAMPLEBWR1", false)
            .obj("acme-misc-scratch", "tmp/run-77/out.json").owner(ACME).done()],
        Expect {
            tags: &["unexplained"],
            confidence: "low",
            facts: &["temporary credentials"],
            evidence: &["generic \"Access Denied\""],
            next_steps: &[
                "--policy-source-arn arn:aws:iam::111122223333:role/batch-writer --action-names s3:PutObject --resource-arns arn:aws:s3:::acme-misc-scratch/tmp/run-77/out.json",
                "aws s3api get-bucket-policy --bucket acme-misc-scratch",
                "aws s3api get-bucket-encryption --bucket acme-misc-scratch",
            ],
            policy: PolicyExpect::Absent,
            remedies: Some(&[]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "mixed-kms-identity",
        "one group, two causes: half the writes lack s3:PutObject, half lack kms:GenerateDataKey",
        vec![
            target(3601).at("2024-10-01T17:00:00Z").session(ACME, "release-bot", "gh-run-9001", "ASIAYXKQ7EXAMPLEREL1", false)
                .obj("acme-release-mirror", "builds/9001/app.tar.gz").owner(ACME).denied(NO_IDENTITY).done(),
            target(3602).at("2024-10-01T17:05:00Z").session(ACME, "release-bot", "gh-run-9002", "ASIAYXKQ7EXAMPLEREL2", false)
                .obj("acme-release-mirror", "builds/9002/app.tar.gz").owner(ACME).set(sse_kms(KEY_MIRROR))
                .kms_denied(KEY_MIRROR, NO_KMS_IDENTITY).done(),
        ],
        Expect {
            tags: &["identity-no-allow", "kms-denied"],
            confidence: "high",
            shares: &[50, 50],
            facts: &["temporary credentials"],
            evidence: &["no identity-based policy allows s3:PutObject"],
            next_steps: &[
                "--policy-source-arn arn:aws:iam::111122223333:role/release-bot --action-names s3:PutObject --resource-arns arn:aws:s3:::acme-release-mirror/builds/9001/app.tar.gz",
                "aws kms get-key-policy --key-id arn:aws:kms:us-east-1:111122223333:key/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d --policy-name default",
            ],
            policy: PolicyExpect::Present {
                s3_actions: &["s3:PutObject"],
                resource: "arn:aws:s3:::acme-release-mirror/builds/*",
                kms_key: Some(KEY_MIRROR),
            },
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));
}

fn correlations(cases: &mut Vec<Case>) {
    let vpce_target = target(3701)
        .at("2024-10-01T10:00:05Z")
        .session(ACME, "report-builder", "ecs-task-7f3e", "ASIAYXKQ7EXAMPLERPB1", false)
        .obj("acme-reports-internal", "monthly/2024-09/summary.pdf")
        .owner(ACME)
        .set(via_endpoint("vpce-0b2c3d4e5f6a78901", "10.0.40.17"))
        .done();
    let vpce_event = vpce_denial(3702, "2024-10-01T10:00:05Z", &vpce_target);
    cases.push(
        Case::new(
            "vpce-policy-correlated",
            "generic message; the endpoint owner's trail has the VpceAccessDenied network event of the same call",
            vec![vpce_target],
            Expect {
                tags: &["vpce-policy"],
                confidence: "high",
                not: &["unexplained"],
                facts: &["temporary credentials"],
                evidence: &["VpceAccessDenied", "vpce-0b2c3d4e5f6a78901", "5e1d7c42-0e76-"],
                next_steps: &["aws ec2 describe-vpc-endpoints --vpc-endpoint-ids vpce-0b2c3d4e5f6a78901"],
                policy: PolicyExpect::Absent,
                remedies: Some(&["vpc-endpoint-policy@111122223333"]),
                ..Expect::default()
            },
        )
        .with(vec![vpce_event]),
    );

    let session_target = target(3801)
        .at("2024-10-01T11:00:00Z")
        .session(ACME, "shared-uploader", "vendor-acme-upload", "ASIAYXKQ7EXAMPLEVND1", false)
        .obj("acme-vendor-exchange", "outgoing/invoices/2024-10.csv")
        .owner(ACME)
        .denied("because no session policy allows the s3:PutObject action")
        .done();
    let assume_role = companion(3802, "sts.amazonaws.com", "AssumeRole").at("2024-10-01T10:57:00Z")
        .user(ACME, "alice", "AKIAYXKQ7EXAMPLEALC1")
        .set(|e| {
            e.assumed_role_arn = Some("arn:aws:iam::111122223333:role/shared-uploader".into());
            e.issued_access_key_id = Some("ASIAYXKQ7EXAMPLEVND1".into());
            e.session_policy = Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-vendor-exchange/incoming/*"}]}"#.into());
            e.changed_resource = None;
        })
        .done();
    cases.push(
        Case::new(
            "session-policy",
            "no session policy allows the write; the AssumeRole that issued this ASIA key passed a read-only session policy",
            vec![session_target],
            Expect {
                tags: &["session-policy"],
                confidence: "high",
                not: &["identity-no-allow"],
                facts: &["temporary credentials"],
                evidence: &[
                    "no session policy allows s3:PutObject",
                    "access key ASIAYXKQ7EXAMPLEVND1",
                    "issued by AssumeRole at 2024-10-01T10:57:00Z by arn:aws:iam::111122223333:user/alice",
                    "with a session policy",
                    "s3:GetObject",
                ],
                next_steps: &[
                    "aws cloudtrail lookup-events --region us-east-1 --lookup-attributes AttributeKey=ResourceName,AttributeValue=arn:aws:iam::111122223333:role/shared-uploader",
                    "aws iam simulate-custom-policy --policy-input-list file://session-policy.json --action-names s3:PutObject --resource-arns arn:aws:s3:::acme-vendor-exchange/outgoing/invoices/2024-10.csv",
                ],
                policy: PolicyExpect::Present {
                    s3_actions: &["s3:PutObject"],
                    resource: "arn:aws:s3:::acme-vendor-exchange/outgoing/*",
                    kms_key: None,
                },
                remedies: Some(&["session-policy@111122223333"]),
                ..Expect::default()
            },
        )
        .with(vec![assume_role]),
    );

    let kms_target = target(3901)
        .at("2024-10-01T12:00:03Z")
        .session(ACME, "invoice-renderer", "lambda-9f2c", "ASIAYXKQ7EXAMPLEINV1", false)
        .obj("acme-invoices", "rendered/2024/10/INV-000812.pdf")
        .owner(ACME)
        .done();
    let kms_event = kms_fas_denial(
        3902,
        "2024-10-01T12:00:02Z",
        &kms_target,
        KEY_INVOICES,
        "arn:aws:s3:::acme-invoices/rendered/2024/10/INV-000812.pdf",
    );
    cases.push(
        Case::new(
            "kms-denied-correlated",
            "the S3 record only says \"Access Denied\"; S3's GenerateDataKey call for the same session, 1 s earlier, with the object's encryption context, was denied",
            vec![kms_target],
            Expect {
                tags: &["kms-denied"],
                confidence: "high",
                not: &["unexplained"],
                facts: &["temporary credentials"],
                evidence: &["kms:GenerateDataKey denial", "joined on encryption context", KEY_INVOICES, "1 s before", "only says \"Access Denied\""],
                next_steps: &[
                    "aws kms get-key-policy --key-id arn:aws:kms:us-east-1:111122223333:key/7c1d2e3f-4a5b-4c6d-9e8f-1a2b3c4d5e6f --policy-name default",
                    "aws s3api get-bucket-encryption --bucket acme-invoices",
                ],
                policy: PolicyExpect::Present {
                    s3_actions: &[],
                    resource: "arn:aws:s3:::acme-invoices/rendered/*",
                    kms_key: Some(KEY_INVOICES),
                },
                remedies: Some(&["identity-policy@111122223333"]),
                ..Expect::default()
            },
        )
        .with(vec![kms_event]),
    );

    cases.push(
        Case::new(
            "cross-account-shared-copy",
            "the caller's copy has no bucket accountId; the owner's copy (same sharedEventID, recipient = owner) gives the owner",
            vec![target(4001).at("2024-10-01T12:30:00Z").session(PARTNER, "etl-partner", "glue-job-77", "ASIAZP4EXAMPLEGLU01", false)
                .obj("acme-lakehouse-raw", "partner/orders/part-00000.parquet")
                .set(|e| {
                    e.shared_event_id = Some("c4a1e2b3-d5f6-4a7b-8c9d-0e1f2a3b4c5d".into());
                    e.acl = Some("bucket-owner-full-control".into());
                })
                .done()],
            Expect {
                tags: &["cross-account", "requester-pays"],
                confidence: "medium",
                facts: &["cross-account", "temporary credentials"],
                evidence: &["bucket owner 111122223333 (from the owner's copy (sharedEventID))"],
                next_steps: &["aws s3api get-bucket-policy --bucket acme-lakehouse-raw"],
                remedies: Some(&["bucket-policy@111122223333", "identity-policy@444455556666"]),
                ..Expect::default()
            },
        )
        .with(vec![target(4002).at("2024-10-01T12:30:00Z")
            .set(|e| {
                e.role = Some(crate::event::EventRole::Companion);
                e.principal_type = "AWSAccount".into();
                e.principal_id = Some(format!("{}:glue-job-77", super::build::role_id("etl-partner")));
                e.principal = e.principal_id.clone().unwrap_or_default();
                e.account = Some(PARTNER.into());
                e.recipient_account = Some(ACME.into());
                e.shared_event_id = Some("c4a1e2b3-d5f6-4a7b-8c9d-0e1f2a3b4c5d".into());
                e.acl = Some("bucket-owner-full-control".into());
                e.request_id = Some("7E3A91C000007D2F".into());
            })
            .obj("acme-lakehouse-raw", "partner/orders/part-00000.parquet")
            .done()]),
    );

    cases.push(
        Case::new(
            "recent-policy-change",
            "PutBucketPolicy on the bucket 5 minutes before the first denial, by the platform admin",
            vec![target(4101).at("2024-10-01T15:05:00Z").session(ACME, "ml-trainer", "sm-training-job-88", "ASIAYXKQ7EXAMPLEMLT1", false)
                .obj("acme-ml-datasets", "features/v7/part-0000.parquet").owner(ACME).done()],
            Expect {
                tags: &["recent-policy-change"],
                confidence: "medium",
                not: &["unexplained"],
                facts: &["temporary credentials"],
                evidence: &[
                    "PutBucketPolicy on acme-ml-datasets",
                    "by arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformAdmin_3f9a1c2b7d4e5a60/bob",
                    "at 2024-10-01T15:00:00Z",
                    "5 min before the first denial",
                ],
                next_steps: &["aws cloudtrail lookup-events --region us-east-1 --lookup-attributes AttributeKey=EventId,AttributeValue=5e1d7c42-1006-"],
                remedies: Some(&["bucket-policy@111122223333"]),
                ..Expect::default()
            },
        )
        .with(vec![bucket_policy_change(4102, "2024-10-01T15:00:00Z", "acme-ml-datasets").done()]),
    );

    cases.push(
        Case::new(
            "recent-policy-change-iam",
            "PutRolePolicy on the caller's own role 2 hours before the first denial replaced its S3 write access",
            vec![
                target(4201)
                    .at("2024-10-01T18:00:00Z")
                    .session(ACME, "report-runner", "cron-7", "ASIAYXKQ7EXAMPLERRN1", false)
                    .obj("acme-quarterly-reports", "q3/summary.pdf")
                    .owner(ACME)
                    .denied(NO_IDENTITY)
                    .done(),
            ],
            Expect {
                tags: &["identity-no-allow", "recent-policy-change"],
                confidence: "high",
                facts: &["temporary credentials"],
                evidence: &["no identity-based policy allows s3:PutObject"],
                next_steps: &["AttributeKey=EventId,AttributeValue=5e1d7c42-106a-"],
                remedies: Some(&["identity-policy@111122223333"]),
                ..Expect::default()
            },
        )
        .with(vec![
            companion(4202, "iam.amazonaws.com", "PutRolePolicy")
                .at("2024-10-01T16:00:00Z")
                .session(ACME, "AWSReservedSSO_PlatformAdmin_3f9a1c2b7d4e5a60", "bob", "ASIAYXKQ7EXAMPLEBOB1", true)
                .set(|e| e.changed_resource = Some("report-runner".into()))
                .done(),
        ]),
    );
}

fn negatives(cases: &mut Vec<Case>) {
    cases.push(
        Case::new(
            "neg-org-change-identity",
            "an SCP was updated an hour before, but the message blames the identity policy: the SCP change is not a cause",
            vec![target(6901).at("2024-10-02T20:00:00Z").session(ACME, "importer", "job-3", "ASIAYXKQ7EXAMPLEIMP1", false)
                .obj("acme-imports", "feeds/x.csv").owner(ACME).denied(NO_IDENTITY).done()],
            Expect {
                tags: &["identity-no-allow"],
                confidence: "high",
                not: &["recent-policy-change", "scp-deny"],
                facts: &["temporary credentials"],
                remedies: Some(&["identity-policy@111122223333"]),
                ..Expect::default()
            },
        )
        .with(vec![companion(6902, "organizations.amazonaws.com", "UpdatePolicy").at("2024-10-02T19:00:00Z")
            .session(ORG_MGMT, "OrganizationAccountAccessRole", "cloud-admin", "ASIAORG4EXAMPLEADM01", true)
            .set(|e| e.changed_resource = Some("p-8f2kq1zx".into()))
            .done()]),
    );

    cases.push(Case::new(
        "neg-explicit-deny-tls",
        "explicit deny in the bucket policy over TLS 1.3 with SSE and MFA: only bucket-policy-deny",
        vec![
            target(5001)
                .at("2024-10-02T08:00:00Z")
                .session(ACME, "report-viewer", "sam.ito", "ASIAYXKQ7EXAMPLESAM1", true)
                .obj("acme-board-minutes", "2024/q3/minutes.docx")
                .owner(ACME)
                .set(aes256)
                .denied(DENY_RESOURCE)
                .done(),
        ],
        Expect {
            tags: &["bucket-policy-deny"],
            confidence: "high",
            not: &["insecure-transport", "sse-header-required", "mfa-required", "network-condition"],
            facts: &["temporary credentials"],
            remedies: Some(&["bucket-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-explicit-deny-no-tls-fields",
        "explicit deny from a stripped export with no additionalEventData and no tlsDetails: no TLS fact at all",
        vec![
            target(5101)
                .at("2024-10-02T08:10:00Z")
                .session(ACME, "report-viewer", "sam.ito", "ASIAYXKQ7EXAMPLESAM2", true)
                .obj("acme-board-archive", "2024/q3/minutes.docx")
                .owner(ACME)
                .set(aes256)
                .set(|e| {
                    e.signature_version = None;
                    e.auth_method = None;
                    e.cipher_suite = None;
                    e.tls_version = None;
                    e.tls_cipher_suite = None;
                })
                .denied(DENY_RESOURCE)
                .done(),
        ],
        Expect {
            tags: &["bucket-policy-deny"],
            confidence: "high",
            not: &["insecure-transport"],
            facts: &["temporary credentials"],
            remedies: Some(&["bucket-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-unknown-shape",
        "an enhanced-looking message with a reason no rule knows, plus an SSE-KMS header: unexplained, not a guess",
        vec![
            target(5201)
                .at("2024-10-02T08:20:00Z")
                .session(ACME, "ingest-api", "pod-7", "ASIAYXKQ7EXAMPLEPOD1", false)
                .obj("acme-ingest-api", "events/2024/10/02/e.json")
                .owner(ACME)
                .set(|e| e.sse = Some("aws:kms".into()))
                .denied("because the request violated the organization's data perimeter guardrail")
                .done(),
        ],
        Expect {
            tags: &["unexplained"],
            confidence: "low",
            not: &["kms-denied", "bucket-policy-deny", "identity-explicit-deny", "sse-header-required"],
            facts: &["temporary credentials"],
            evidence: &["a reason no rule knows", "data perimeter guardrail"],
            policy: PolicyExpect::Absent,
            remedies: Some(&[]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-role-trust",
        "a role-trust-policy message is not about S3 writes: unexplained",
        vec![target(5301).at("2024-10-02T08:30:00Z").user(ACME, "ops", "AKIAYXKQ7EXAMPLEOPS1")
            .obj("acme-ops-drop", "runbooks/r.md").owner(ACME)
            .msg("User: arn:aws:iam::111122223333:user/ops is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/writer because no role trust policy allows the sts:AssumeRole action")
            .done()],
        Expect {
            tags: &["unexplained"],
            confidence: "low",
            not: &["identity-no-allow", "bucket-policy-no-allow", "mfa-required"],
            facts: &[],
            evidence: &["role trust policy"],
            remedies: Some(&[]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-public-acl-identity",
        "public-read sent, but the message blames the identity policy (an implicit deny is not deny*)",
        vec![
            target(5401)
                .at("2024-10-02T08:40:00Z")
                .session(ACME, "web-deployer", "gh-77", "ASIAYXKQ7EXAMPLEWBD1", false)
                .obj("acme-docs-site", "v2/index.html")
                .owner(ACME)
                .set(|e| e.acl = Some("public-read".into()))
                .denied(NO_IDENTITY)
                .done(),
        ],
        Expect {
            tags: &["identity-no-allow"],
            confidence: "high",
            not: &["block-public-acls"],
            facts: &["temporary credentials"],
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-expected-owner-match",
        "x-amz-expected-bucket-owner equals the real owner",
        vec![
            target(5501)
                .at("2024-03-02T09:00:00Z")
                .session(ACME, "backup-agent", "weekly", "ASIAYXKQ7EXAMPLEBKA2", false)
                .obj("acme-db-backups-weekly", "mysql/2024-03-02/full.xb")
                .owner(ACME)
                .set(|e| e.expected_bucket_owner = Some(ACME.into()))
                .done(),
        ],
        Expect {
            tags: &["unexplained"],
            confidence: "low",
            not: &["expected-owner-mismatch"],
            facts: &["temporary credentials"],
            remedies: Some(&[]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-kms-header-identity",
        "SSE-KMS header, but the message says the S3 action itself is not allowed",
        vec![
            target(5601)
                .at("2024-10-02T09:10:00Z")
                .session(ACME, "payroll-app", "task-2", "ASIAYXKQ7EXAMPLEPAY1", false)
                .obj("acme-payroll-inbox", "uploads/2024-10/timesheets.csv")
                .owner(ACME)
                .set(sse_kms(KEY_PAYROLL))
                .denied(NO_IDENTITY)
                .done(),
        ],
        Expect {
            tags: &["identity-no-allow"],
            confidence: "high",
            not: &["kms-denied"],
            facts: &["temporary credentials"],
            policy: PolicyExpect::Present {
                s3_actions: &["s3:PutObject"],
                resource: "arn:aws:s3:::acme-payroll-inbox/uploads/*",
                kms_key: Some(KEY_PAYROLL),
            },
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-aws-managed-same-account",
        "alias/aws/s3 in the caller's own account: not the cross-account managed-key problem",
        vec![
            target(5701)
                .at("2024-05-02T09:20:00Z")
                .session(ACME, "etl-runner", "i-0b", "ASIAYXKQ7EXAMPLEETL2", false)
                .obj("acme-etl-staging", "stage/2024-05-02/x.parquet")
                .owner(ACME)
                .set(sse_kms("alias/aws/s3"))
                .done(),
        ],
        Expect {
            tags: &["kms-denied"],
            confidence: "medium",
            not: &["kms-aws-managed-cross-account", "cross-account"],
            facts: &["temporary credentials"],
            next_steps: &["aws kms describe-key --key-id alias/aws/s3"],
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    cases.push(
        Case::new(
            "neg-change-after",
            "the bucket policy was changed 10 minutes AFTER the denial (someone fixing it)",
            vec![
                target(5801)
                    .at("2024-10-02T16:00:00Z")
                    .session(ACME, "ml-trainer", "sm-job-89", "ASIAYXKQ7EXAMPLEMLT2", false)
                    .obj("acme-ml-features", "features/v8/part-0000.parquet")
                    .owner(ACME)
                    .done(),
            ],
            Expect {
                tags: &["unexplained"],
                confidence: "low",
                not: &["recent-policy-change"],
                facts: &["temporary credentials"],
                remedies: Some(&[]),
                ..Expect::default()
            },
        )
        .with(vec![bucket_policy_change(5802, "2024-10-02T16:10:00Z", "acme-ml-features").done()]),
    );

    cases.push(
        Case::new(
            "neg-change-other-bucket",
            "a bucket policy change before the denial, but on another bucket",
            vec![
                target(5901)
                    .at("2024-10-02T16:30:00Z")
                    .session(ACME, "ml-trainer", "sm-job-90", "ASIAYXKQ7EXAMPLEMLT3", false)
                    .obj("acme-quiet-bucket", "features/v9/part-0000.parquet")
                    .owner(ACME)
                    .done(),
            ],
            Expect {
                tags: &["unexplained"],
                confidence: "low",
                not: &["recent-policy-change"],
                facts: &["temporary credentials"],
                remedies: Some(&[]),
                ..Expect::default()
            },
        )
        .with(vec![bucket_policy_change(5902, "2024-10-02T16:25:00Z", "acme-other-bucket").done()]),
    );

    cases.push(
        Case::new(
            "neg-change-failed",
            "a PutBucketPolicy before the denial that itself failed (AccessDenied) changed nothing",
            vec![
                target(6001)
                    .at("2024-10-02T16:50:00Z")
                    .session(ACME, "ml-trainer", "sm-job-91", "ASIAYXKQ7EXAMPLEMLT4", false)
                    .obj("acme-ml-scratch", "features/v10/part-0000.parquet")
                    .owner(ACME)
                    .done(),
            ],
            Expect {
                tags: &["unexplained"],
                confidence: "low",
                not: &["recent-policy-change"],
                facts: &["temporary credentials"],
                remedies: Some(&[]),
                ..Expect::default()
            },
        )
        .with(vec![
            bucket_policy_change(6002, "2024-10-02T16:45:00Z", "acme-ml-scratch")
                .code("AccessDenied")
                .msg("Access Denied")
                .done(),
        ]),
    );

    let thumb = target(6101)
        .at("2024-10-02T17:00:02Z")
        .session(ACME, "thumbnailer", "lambda-1", "ASIAYXKQ7EXAMPLETHM1", false)
        .obj("acme-images", "thumbs/2024/10/02/a.jpg")
        .owner(ACME)
        .done();
    let other = target(6199).session(ACME, "resizer", "lambda-2", "ASIAYXKQ7EXAMPLERSZ1", false).done();
    let kms_other = kms_fas_denial(
        6102,
        "2024-10-02T17:00:01Z",
        &other,
        KEY_INVOICES,
        "arn:aws:s3:::acme-images/resized/2024/10/02/b.jpg",
    );
    cases.push(
        Case::new(
            "neg-kms-other-caller",
            "a KMS denial at the same second, but by another role for another object",
            vec![thumb],
            Expect {
                tags: &["unexplained"],
                confidence: "low",
                not: &["kms-denied"],
                facts: &["temporary credentials"],
                remedies: Some(&[]),
                ..Expect::default()
            },
        )
        .with(vec![kms_other]),
    );

    let stale = target(6201)
        .at("2024-10-02T17:30:00Z")
        .session(ACME, "exporter", "cron-1", "ASIAYXKQ7EXAMPLEEXP1", false)
        .obj("acme-exports-hourly", "hourly/2024-10-02T17/x.csv")
        .owner(ACME)
        .done();
    let kms_stale = kms_fas_denial(
        6202,
        "2024-10-02T17:20:00Z",
        &stale,
        KEY_INVOICES,
        "arn:aws:s3:::acme-exports-hourly/hourly/2024-10-02T17/x.csv",
    );
    cases.push(
        Case::new(
            "neg-kms-window",
            "same caller and object, but the KMS denial is 10 minutes older than the write: outside the window",
            vec![stale],
            Expect {
                tags: &["unexplained"],
                confidence: "low",
                not: &["kms-denied"],
                facts: &["temporary credentials"],
                remedies: Some(&[]),
                ..Expect::default()
            },
        )
        .with(vec![kms_stale]),
    );

    cases.push(
        Case::new(
            "neg-session-other-key",
            "an AssumeRole with a session policy, but it issued a different key than the denied session's",
            vec![target(6301).at("2024-10-02T18:00:00Z").session(ACME, "shared-uploader", "vendor-initech", "ASIAYXKQ7EXAMPLEOTH1", false)
                .obj("acme-initech-exchange", "outgoing/x.csv").owner(ACME).denied(NO_IDENTITY).done()],
            Expect {
                tags: &["identity-no-allow"],
                confidence: "high",
                not: &["session-policy"],
                facts: &["temporary credentials"],
                evidence_absent: &["AssumeRole"],
                remedies: Some(&["identity-policy@111122223333"]),
                ..Expect::default()
            },
        )
        .with(vec![companion(6302, "sts.amazonaws.com", "AssumeRole").at("2024-10-02T17:58:00Z")
            .user(ACME, "alice", "AKIAYXKQ7EXAMPLEALC1")
            .set(|e| {
                e.assumed_role_arn = Some("arn:aws:iam::111122223333:role/shared-uploader".into());
                e.issued_access_key_id = Some("ASIAYXKQ7EXAMPLEOTH2".into());
                e.session_policy = Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#.into());
            })
            .done()]),
    );

    cases.push(Case::new(
        "neg-presigned-generic",
        "a presigned URL with a generic message: presigned is a fact, never a cause",
        vec![
            target(6401)
                .at("2024-03-03T10:00:00Z")
                .user(ACME, "upload-signer", "AKIAYXKQ7EXAMPLESGN1")
                .obj("acme-support-uploads", "tickets/1/a.png")
                .owner(ACME)
                .set(|e| e.auth_method = Some("QueryString".into()))
                .done(),
        ],
        Expect {
            tags: &["unexplained"],
            confidence: "low",
            not: &["presigned-url", "identity-no-allow"],
            facts: &["presigned URL"],
            remedies: Some(&[]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-mfa-true",
        "explicit identity deny for an MFA-authenticated session: not mfa-required",
        vec![
            target(6501)
                .at("2024-10-02T18:20:00Z")
                .session(ACME, "break-glass", "oncall-ana", "ASIAYXKQ7EXAMPLEBRK1", true)
                .obj("acme-prod-config", "flags/prod.json")
                .owner(ACME)
                .denied(DENY_IDENTITY)
                .done(),
        ],
        Expect {
            tags: &["identity-explicit-deny"],
            confidence: "high",
            not: &["mfa-required"],
            facts: &["temporary credentials"],
            remedies: Some(&["identity-policy@111122223333"]),
            ..Expect::default()
        },
    ));

    let truncated = {
        let ev = target(6601)
            .at("2024-10-02T18:30:00Z")
            .session(ACME, "doc-indexer", "idx-3", "ASIAYXKQ7EXAMPLEIDX1", false)
            .obj("acme-docs-intl", &format!("exports/{}/cv.pdf", "données-über-größe-".repeat(36)))
            .owner(ACME)
            .denied(DENY_RESOURCE)
            .done();
        let full = ev.error_message.clone().unwrap_or_default();
        let mut cut = 1024.min(full.len());
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut ev = ev;
        ev.error_message = Some(full[..cut].to_string());
        ev
    };
    cases.push(Case::new(
        "neg-truncated",
        "an explicit-deny message cut by the 1 KB limit inside its reason clause (multibyte key): no confident tag",
        vec![truncated],
        Expect {
            tags: &["unexplained"],
            confidence: "low",
            not: &["bucket-policy-deny", "identity-explicit-deny", "sse-header-required"],
            facts: &["temporary credentials"],
            evidence: &["names no policy type"],
            remedies: Some(&[]),
            ..Expect::default()
        },
    ));

    cases.push(Case::new(
        "neg-service-caller",
        "ELB log delivery (AWSService) denied with a generic message: the service caller is a fact",
        vec![
            target(6701)
                .at("2024-10-02T18:40:00Z")
                .set(|e| {
                    e.principal = "delivery.logs.amazonaws.com".into();
                    e.principal_type = "AWSService".into();
                    e.invoked_by = Some("delivery.logs.amazonaws.com".into());
                    e.source_ip = Some("delivery.logs.amazonaws.com".into());
                    e.user_agent = Some("delivery.logs.amazonaws.com".into());
                    e.acl = Some("bucket-owner-full-control".into());
                    e.recipient_account = Some(ACME.into());
                })
                .obj("acme-alb-logs", "AWSLogs/111122223333/elasticloadbalancing/us-east-1/2024/10/02/lb.log.gz")
                .owner(ACME)
                .done(),
        ],
        Expect {
            tags: &["unexplained"],
            confidence: "low",
            not: &["cross-account", "bucket-owner-full-control-required"],
            facts: &["AWS service"],
            remedies: Some(&[]),
            ..Expect::default()
        },
    ));

    let quiet = target(6801)
        .at("2024-10-02T19:00:00Z")
        .session(ACME, "uploader", "u-1", "ASIAYXKQ7EXAMPLEUPL1", false)
        .obj("acme-uploads-direct", "in/a.bin")
        .owner(ACME)
        .done();
    let stranger = target(6899)
        .at("2024-10-02T19:00:00Z")
        .session(ACME, "someone-else", "s-9", "ASIAYXKQ7EXAMPLESMN1", false)
        .obj("acme-elsewhere", "in/a.bin")
        .set(via_endpoint("vpce-0e5f6a7b8c9d01234", "10.9.9.9"))
        .done();
    cases.push(
        Case::new(
            "neg-vpce-other-endpoint",
            "a VpceAccessDenied event at the same time, but for another caller, bucket and endpoint",
            vec![quiet],
            Expect {
                tags: &["unexplained"],
                confidence: "low",
                not: &["vpce-policy"],
                facts: &["temporary credentials"],
                remedies: Some(&[]),
                ..Expect::default()
            },
        )
        .with(vec![vpce_denial(6802, "2024-10-02T19:00:00Z", &stranger)]),
    );
}
