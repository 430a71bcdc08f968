//! `--live`, `snapshot` and `--config` against moto's server on loopback: each scenario is seeded
//! as real configuration (S3, IAM, KMS, EC2, Organizations), a trail whose denials it explains is
//! written, and the binary must name the deciding statement.

mod s3_support;

use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};

use s3_support::{ACCOUNT, Moto, REGION, gzip, run_with};

/// The policy that denies uploads without SSE-KMS (the runbook's classic).
fn sse_deny(bucket: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyUnEncryptedUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}]})
    .to_string()
}

fn allow(actions: &[&str]) -> String {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}).to_string()
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// One denied PutObject by a role session.
fn denied_put(account: &str, role: &str, bucket: &str, key: &str, id: &str) -> Value {
    json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole", "principalId": format!("AROAEXAMPLE{role}:s1"),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/s1"), "accountId": account,
            "accessKeyId": format!("ASIA{id}"),
            "sessionContext": {"attributes": {"creationDate": "2026-11-21T08:00:00Z", "mfaAuthenticated": "false"},
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": format!("arn:aws:iam::{account}:role/{role}"),
                    "accountId": account, "userName": role}}
        },
        "eventTime": "2026-11-21T09:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutObject",
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "[aws-cli/2.17.0]",
        "errorCode": "AccessDenied",
        "errorMessage": "Access Denied",
        "requestParameters": {"bucketName": bucket, "key": key, "Host": format!("{bucket}.s3.amazonaws.com")},
        "responseElements": null,
        "additionalEventData": {"SignatureVersion": "SigV4", "AuthenticationMethod": "AuthHeader", "CipherSuite": "TLS_AES_128_GCM_SHA256"},
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
        "eventID": id,
        "readOnly": false,
        "resources": [
            {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
            {"type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}"), "accountId": ACCOUNT}
        ],
        "eventType": "AwsApiCall",
        "managementEvent": false,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data"
    })
}

/// What the scenarios seeded that the trail and the assertions need.
struct Seeded {
    kms_key: String,
    vpce: String,
    member: String,
    scp_id: String,
}

fn seed(moto: &Moto) -> Seeded {
    let config = moto.config();
    let s3 = moto.s3();
    let iam = aws_sdk_iam::Client::new(&config);
    let kms = aws_sdk_kms::Client::new(&config);
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let org = aws_sdk_organizations::Client::new(&config);
    for b in ["sse-bucket", "plain-bucket", "kms-bucket", "fixed-bucket"] {
        moto.create_bucket(b, REGION);
    }
    moto.block_on(async {
        // 1. A bucket policy Deny with a Sid on the missing SSE header; the role may write.
        s3.put_bucket_policy().bucket("sse-bucket").policy(sse_deny("sse-bucket")).send().await.expect("bucket policy");
        let role = |name: &'static str| iam.create_role().role_name(name).assume_role_policy_document(TRUST).send();
        role("app").await.expect("role app");
        iam.put_role_policy().role_name("app").policy_name("s3-write").policy_document(allow(&["s3:*"])).send().await.unwrap();

        // 2. A role with no allow for the write (a managed read-only policy).
        role("reader").await.expect("role reader");
        let ro = iam.create_policy().policy_name("read-only").policy_document(allow(&["s3:GetObject"])).send().await.unwrap();
        let ro_arn = ro.policy().and_then(|p| p.arn()).unwrap().to_string();
        iam.attach_role_policy().role_name("reader").policy_arn(&ro_arn).send().await.unwrap();

        // 3. A boundary that does not allow the write.
        let boundary =
            iam.create_policy().policy_name("dev-boundary").policy_document(allow(&["s3:GetObject"])).send().await.unwrap();
        let boundary_arn = boundary.policy().and_then(|p| p.arn()).unwrap().to_string();
        iam.create_role()
            .role_name("bounded")
            .assume_role_policy_document(TRUST)
            .permissions_boundary(&boundary_arn)
            .send()
            .await
            .expect("role bounded");
        iam.put_role_policy().role_name("bounded").policy_name("s3-write").policy_document(allow(&["s3:*"])).send().await.unwrap();

        // 4. A KMS key whose policy does not name the caller (nor delegate to the account).
        let key_policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "KeyAdminsOnly", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/key-admin")}, "Action": "kms:*", "Resource": "*"}]});
        let key = kms.create_key().policy(key_policy.to_string()).send().await.expect("kms key");
        let kms_key = key.key_metadata().and_then(|m| m.arn()).unwrap().to_string();
        role("kms-writer").await.expect("role kms-writer");
        iam.put_role_policy()
            .role_name("kms-writer")
            .policy_name("s3-kms")
            .policy_document(allow(&["s3:*", "kms:*"]))
            .send()
            .await
            .unwrap();

        // 5. A VPC endpoint whose policy allows reads only.
        let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.expect("vpc");
        let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap().to_string();
        let endpoint_policy = json!({"Statement": [{"Sid": "ReadsOnly", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": "*"}]});
        let vpce = ec2
            .create_vpc_endpoint()
            .vpc_id(vpc_id)
            .service_name(format!("com.amazonaws.{REGION}.s3"))
            .policy_document(endpoint_policy.to_string())
            .send()
            .await
            .expect("vpc endpoint");
        let vpce = vpce.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).unwrap().to_string();
        role("vpce-writer").await.expect("role vpce-writer");
        iam.put_role_policy().role_name("vpce-writer").policy_name("s3").policy_document(allow(&["s3:*"])).send().await.unwrap();

        // 6. An organization whose SCP denies the member account's writes.
        org.create_organization().feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All).send().await.expect("org");
        let created = org.create_account().account_name("member").email("member@example.com").send().await.expect("account");
        let member = created.create_account_status().and_then(|s| s.account_id()).unwrap().to_string();
        let roots = org.list_roots().send().await.unwrap();
        let root = roots.roots()[0].id().unwrap().to_string();
        org.enable_policy_type()
            .root_id(&root)
            .policy_type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
            .send()
            .await
            .expect("enable SCPs");
        let scp = json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyPuts", "Effect": "Deny",
            "Action": "s3:PutObject", "Resource": "*"}]});
        let scp = org
            .create_policy()
            .name("deny-puts")
            .description("no writes from members")
            .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
            .content(scp.to_string())
            .send()
            .await
            .expect("scp");
        let scp_id = scp.policy().and_then(|p| p.policy_summary()).and_then(|s| s.id()).unwrap().to_string();
        org.attach_policy().policy_id(&scp_id).target_id(&member).send().await.expect("attach scp");

        // 7. Already fixed: the role may write the bucket now.
        role("fixed").await.expect("role fixed");
        iam.put_role_policy().role_name("fixed").policy_name("s3").policy_document(allow(&["s3:*"])).send().await.unwrap();

        Seeded { kms_key, vpce, member, scp_id }
    })
}

fn write_trail(dir: &Path, s: &Seeded) {
    let mut records = vec![
        denied_put(ACCOUNT, "app", "sse-bucket", "in/a.bin", "sse1"),
        denied_put(ACCOUNT, "reader", "plain-bucket", "in/b.bin", "noallow1"),
        denied_put(ACCOUNT, "bounded", "plain-bucket", "in/c.bin", "boundary1"),
        denied_put(ACCOUNT, "fixed", "fixed-bucket", "in/e.bin", "fixed1"),
        denied_put(ACCOUNT, "ghost", "gone-bucket", "in/f.bin", "ghost1"),
        denied_put(&s.member, "ci", "plain-bucket", "in/g.bin", "scp1"),
    ];
    let mut kms = denied_put(ACCOUNT, "kms-writer", "kms-bucket", "in/d.bin", "kms1");
    kms["requestParameters"]["x-amz-server-side-encryption"] = json!("aws:kms");
    kms["requestParameters"]["x-amz-server-side-encryption-aws-kms-key-id"] = json!(s.kms_key);
    records.push(kms);
    let mut vpce = denied_put(ACCOUNT, "vpce-writer", "plain-bucket", "in/h.bin", "vpce1");
    vpce["vpcEndpointId"] = json!(s.vpce);
    vpce["vpcEndpointAccountId"] = json!(ACCOUNT);
    vpce["sourceIPAddress"] = json!("10.0.1.15");
    records.push(vpce);
    let path = dir.join(format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/21/{ACCOUNT}_CloudTrail_{REGION}_20261121T0900Z_live.json.gz"
    ));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, gzip(&json!({ "Records": records }))).unwrap();
}

fn group<'r>(report: &'r Value, role: &str) -> &'r Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["principal"].as_str().is_some_and(|p| p.ends_with(&format!(":role/{role}"))))
        .unwrap_or_else(|| panic!("no group for role {role}: {report:#}"))
}

#[test]
fn live_names_the_deciding_statement_and_snapshots_round_trip() {
    let moto = Moto::start();
    let seeded = seed(&moto);
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), &seeded);
    let trail = dir.path().to_str().unwrap().to_string();
    let url = moto.url();
    let aws = ["--endpoint-url", url.as_str(), "--aws-region", REGION];

    // Without --live: no confirmed_by, no live stats.
    let plain = run_with(&["scan", &trail, "--format", "json"], &[], true);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    let plain = plain.json();
    assert!(plain["stats"].get("live").is_none());
    assert_eq!(group(&plain, "app")["confirmed_by"], "");

    let started = Instant::now();
    let live = run_with(&[&["scan", &trail, "--format", "json", "--live"][..], &aws].concat(), &[], true);
    let live_seconds = started.elapsed().as_secs_f64();
    assert_eq!(live.code, 0, "a refused or missing item never fails the scan: {}", live.stderr);
    let report = live.json();
    let confirmed = |role: &str, by: &str| {
        let row = group(&report, role);
        assert_eq!(row["confidence"], "confirmed", "{role}: {row:#}");
        assert!(row["confirmed_by"].as_str().unwrap().contains(by), "{role}: {row:#}");
    };
    confirmed("app", "bucket-policy arn:aws:s3:::sse-bucket Sid DenyUnEncryptedUploads");
    assert!(
        group(&report, "app")["causes"].as_str().unwrap().starts_with("sse-header-required"),
        "{:#}",
        group(&report, "app")
    );
    confirmed("reader", "no allow in 1 identity policy");
    confirmed("bounded", &format!("boundary arn:aws:iam::{ACCOUNT}:policy/dev-boundary"));
    confirmed("kms-writer", &format!("key-policy {}", seeded.kms_key));
    confirmed("vpce-writer", &format!("vpce-policy {}", seeded.vpce));
    confirmed("ci", "Sid DenyPuts");
    assert!(group(&report, "ci")["confirmed_by"].as_str().unwrap().starts_with("scp "), "{:#}", group(&report, "ci"));
    assert!(
        group(&report, "ci")["confirmed_by"].as_str().unwrap().contains(&seeded.scp_id),
        "{:#}",
        group(&report, "ci")
    );

    // Already fixed: the configuration allows it now.
    assert_eq!(group(&report, "fixed")["confidence"], "refuted", "{:#}", group(&report, "fixed"));
    assert!(
        group(&report, "fixed")["confirmed_by"].as_str().unwrap().starts_with("allowed by "),
        "{:#}",
        group(&report, "fixed")
    );

    // A missing role and bucket: not visible, said, and the scan's status is the normal one.
    let ghost = group(&report, "ghost")["confirmed_by"].as_str().unwrap();
    assert!(ghost.starts_with("cannot confirm: ") && ghost.contains("not found"), "{ghost}");
    assert!(live.stderr.contains("denytrail: warning: not visible: "), "{}", live.stderr);

    let stats = &report["stats"]["live"];
    assert_eq!(stats["source"], "live");
    assert!(stats["snapshot_taken_at"].as_str().unwrap().ends_with('Z'));
    let calls = stats["live_calls"].as_u64().unwrap();
    assert!(calls > 0 && calls < 120, "{stats:#}");
    assert_eq!(stats["confirmed"], 6, "{stats:#}");
    assert_eq!(stats["refuted"], 1, "{stats:#}");
    assert!(live.stderr.contains("API calls"), "{}", live.stderr);
    eprintln!(
        "live: {calls} API calls for {} groups; scan --live took {live_seconds:.2} s, the configuration {:.2} s of it",
        report["groups"].as_array().unwrap().len(),
        stats["seconds"].as_f64().unwrap()
    );

    // explain shows the statement with the condition that decided marked, and the remedy asks
    // for the header rather than a wider policy.
    let explain =
        run_with(&[&["explain", &trail, "--live", "--principal", "*:role/app"][..], &aws].concat(), &[], true);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    let text = &explain.stdout;
    assert!(text.contains(": confirmed"), "{text}");
    assert!(
        text.contains("\"s3:x-amz-server-side-encryption\": \"aws:kms\"    <-- holds (request has no such key)"),
        "{text}"
    );
    assert!(text.contains("Remedy (request change)"), "{text}");
    assert!(text.contains("x-amz-server-side-encryption: aws:kms"), "{text}");
    let explain_fixed =
        run_with(&[&["explain", &trail, "--live", "--principal", "*:role/fixed"][..], &aws].concat(), &[], true);
    assert!(explain_fixed.stdout.contains("allows these requests now"), "{}", explain_fixed.stdout);

    // snapshot → --config: the same report, with no endpoint reachable at all.
    let config = dir.path().join("config.json");
    let snap = run_with(&[&["snapshot", &trail, "--out", config.to_str().unwrap()][..], &aws].concat(), &[], true);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(!saved.contains("testing"), "no credentials in a snapshot");
    assert!(saved.contains("DenyUnEncryptedUploads"));
    drop(moto);
    let offline = run_with(
        &[
            "scan",
            &trail,
            "--format",
            "json",
            "--config",
            config.to_str().unwrap(),
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        &[],
        false,
    );
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    let offline = offline.json();
    // The same verdicts and statements; only the time the configuration was read differs.
    let at = |r: &Value| r["stats"]["live"]["snapshot_taken_at"].as_str().unwrap().to_string();
    let groups = |r: &Value| r["groups"].to_string().replace(&at(r), "<read at>");
    assert_eq!(groups(&offline), groups(&report), "--config gives the report --live gave");
    assert_eq!(offline["stats"]["live"]["live_calls"], 0);
    assert_eq!(offline["stats"]["live"]["source"], config.to_str().unwrap());
}

#[test]
fn live_and_config_together_is_a_usage_error() {
    let r = run_with(&["scan", "nowhere", "--live", "--config", "c.json"], &[], false);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("give one of them"), "{}", r.stderr);
}
