//! A small builder for `Event` values, so each labelled case reads like the CloudTrail record it
//! stands for (the JSON→Event parser is tested on its own; `record.rs` renders these back).

use chrono::DateTime;

use crate::event::{Event, EventRole, prefix_of};

/// The workload account (caller and bucket owner in same-account cases).
pub const ACME: &str = "111122223333";
/// A partner account (cross-account callers).
pub const PARTNER: &str = "444455556666";
/// The organization's management account.
pub const ORG_MGMT: &str = "999988887777";

pub const UA_CLI: &str = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1.97 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe sdk-ua/2.0 command/s3.cp";
pub const UA_SDK: &str = "aws-sdk-java/2.25.60 Linux/6.1.94 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard";

pub fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).expect("test time").timestamp_millis()
}

/// A deterministic, UUID-shaped eventID for case event `n`.
pub fn uuid(n: u32) -> String {
    format!("5e1d7c42-{:04x}-4a6e-9b1f-{:012x}", n, 0x3c4d_5e6f_u64 + u64::from(n) * 7919)
}

pub struct B(pub Event);

/// A denied S3 PutObject data event (TLS 1.3, SigV4 header auth, same account) to refine.
pub fn target(n: u32) -> B {
    B(Event {
        event_id: uuid(n),
        request_id: Some(format!("{:016X}", 0x7E3A_91C0_0000_0000_u64 + u64::from(n) * 0x1F3B)),
        event_source: "s3.amazonaws.com".into(),
        event_name: "PutObject".into(),
        event_category: Some("Data".into()),
        event_type: Some("AwsApiCall".into()),
        aws_region: Some("us-east-1".into()),
        error_code: Some("AccessDenied".into()),
        error_message: Some("Access Denied".into()),
        source_ip: Some("203.0.113.45".into()),
        user_agent: Some(UA_CLI.into()),
        signature_version: Some("SigV4".into()),
        auth_method: Some("AuthHeader".into()),
        cipher_suite: Some("TLS_AES_128_GCM_SHA256".into()),
        tls_version: Some("TLSv1.3".into()),
        tls_cipher_suite: Some("TLS_AES_128_GCM_SHA256".into()),
        source_object: "testdata/diagnose/cases.ndjson".into(),
        role: Some(EventRole::Target),
        ..Event::default()
    })
}

/// A management event kept to explain targets.
pub fn companion(n: u32, source: &str, name: &str) -> B {
    B(Event {
        event_id: uuid(n),
        request_id: Some(format!("{:08x}-77aa-4c1e-8d0b-{:012x}", 0x1b2c_0000_u32 + n, u64::from(n) * 104_729)),
        event_source: source.into(),
        event_name: name.into(),
        event_category: Some("Management".into()),
        event_type: Some("AwsApiCall".into()),
        aws_region: Some("us-east-1".into()),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some(UA_CLI.into()),
        tls_version: Some("TLSv1.3".into()),
        tls_cipher_suite: Some("TLS_AES_128_GCM_SHA256".into()),
        source_object: "testdata/diagnose/cases.ndjson".into(),
        role: Some(EventRole::Companion),
        ..Event::default()
    })
}

impl B {
    pub fn at(mut self, rfc3339: &str) -> Self {
        self.0.event_time_ms = Some(ms(rfc3339));
        self
    }

    pub fn set(mut self, f: impl FnOnce(&mut Event)) -> Self {
        f(&mut self.0);
        self
    }

    /// An assumed-role session: `role` in `account`, session name, `ASIA…` key, MFA attribute.
    pub fn session(mut self, account: &str, role: &str, session: &str, key: &str, mfa: bool) -> Self {
        let e = &mut self.0;
        let role_arn = format!("arn:aws:iam::{account}:role/{role}");
        e.principal = role_arn.clone();
        e.principal_type = "AssumedRole".into();
        e.identity_arn = Some(format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"));
        e.account = Some(account.into());
        e.principal_id = Some(format!("{}:{session}", role_id(role)));
        e.access_key_id = Some(key.into());
        e.session_issuer_arn = Some(role_arn);
        e.session_issuer_type = Some("Role".into());
        e.session_name = Some(session.into());
        e.mfa_authenticated = Some(mfa);
        self
    }

    /// An IAM user with a long-term (`AKIA…`) or console (`ASIA…`) key.
    pub fn user(mut self, account: &str, name: &str, key: &str) -> Self {
        let e = &mut self.0;
        let arn = format!("arn:aws:iam::{account}:user/{name}");
        e.principal = arn.clone();
        e.principal_type = "IAMUser".into();
        e.identity_arn = Some(arn);
        e.account = Some(account.into());
        e.principal_id = Some(user_id(name));
        e.access_key_id = Some(key.into());
        self
    }

    /// The object written (bucket, key, the depth-1 prefix, virtual-hosted Host).
    pub fn obj(mut self, bucket: &str, key: &str) -> Self {
        let e = &mut self.0;
        let region = e.aws_region.clone().unwrap_or_else(|| "us-east-1".into());
        e.bucket = Some(bucket.into());
        e.key = Some(key.into());
        e.prefix = prefix_of(key, 1).to_string();
        e.host = Some(format!("{bucket}.s3.{region}.amazonaws.com"));
        self
    }

    /// The bucket owner named by the `AWS::S3::Bucket` resource.
    pub fn owner(mut self, account: &str) -> Self {
        self.0.bucket_owner = Some(account.into());
        self
    }

    pub fn msg(mut self, text: &str) -> Self {
        self.0.error_message = Some(text.into());
        self
    }

    /// The enhanced message for s3:PutObject on this event's object, with `clause`.
    pub fn denied(self, clause: &str) -> Self {
        self.denied_action("s3:PutObject", clause)
    }

    /// The enhanced message for `action` on this event's object, with `clause`.
    pub fn denied_action(mut self, action: &str, clause: &str) -> Self {
        let who = self.0.identity_arn.clone().unwrap_or_default();
        let on = self.0.object_arn().unwrap_or_default();
        self.0.error_message =
            Some(format!("User: {who} is not authorized to perform: {action} on resource: \"{on}\" {clause}"));
        self
    }

    /// The enhanced KMS message S3 passes on when the data key could not be generated.
    pub fn kms_denied(mut self, key_arn: &str, clause: &str) -> Self {
        let who = self.0.identity_arn.clone().unwrap_or_default();
        self.0.error_message = Some(format!(
            "User: {who} is not authorized to perform: kms:GenerateDataKey on resource: {key_arn} {clause}"
        ));
        self
    }

    pub fn code(mut self, code: &str) -> Self {
        self.0.error_code = Some(code.into());
        self
    }

    pub fn region(mut self, region: &str) -> Self {
        self.0.aws_region = Some(region.into());
        self
    }

    /// A 2023-style record: no tlsDetails yet, TLS 1.2 cipher in additionalEventData.
    pub fn old_record(mut self) -> Self {
        self.0.tls_version = None;
        self.0.tls_cipher_suite = None;
        self.0.cipher_suite = Some("ECDHE-RSA-AES128-GCM-SHA256".into());
        self
    }

    pub fn done(mut self) -> Event {
        let e = &mut self.0;
        if e.recipient_account.is_none() {
            e.recipient_account = e.account.clone().filter(|a| a.len() == 12).or_else(|| e.bucket_owner.clone());
        }
        self.0
    }
}

/// A stable, realistic-looking role id (`AROA…`) for a role name.
pub fn role_id(role: &str) -> String {
    format!("AROA{}", id_suffix(role))
}

/// A stable, realistic-looking user id (`AIDA…`) for a user name.
pub fn user_id(name: &str) -> String {
    format!("AIDA{}", id_suffix(name))
}

fn id_suffix(name: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..17).map(|i| ALPHABET[((h >> ((i * 3) % 60)) & 31) as usize] as char).collect()
}
