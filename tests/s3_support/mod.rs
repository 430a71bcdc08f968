//! Support for the S3 integration tests: moto on loopback, a fault-injecting proxy, generated
//! trails, and running the CLI.

#![allow(dead_code)] // each test binary uses a different part

pub mod moto;
pub mod proxy;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

#[allow(unused_imports)] // not every test binary needs the account
pub use moto::{ACCOUNT, Moto, REGION};
#[allow(unused_imports)] // not every test binary injects faults
pub use proxy::{Fault, Proxy};

/// The checked-in trail (see testdata/EXPECTED.md).
pub fn testdata_trail() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/trail")
}

/// One generated log object: its key and gzip bytes.
pub type Object = (String, Vec<u8>);

/// A generated trail: for each account, region and day under `root` (`[prefix/]AWSLogs/[o-org/]`),
/// `per_day` delivery files, each holding two denied PutObject calls and one successful GetObject,
/// plus an hourly digest per day, an insight file, and a load balancer log beside CloudTrail's.
pub fn generate(root: &str, accounts: &[&str], regions: &[&str], days: &[&str], per_day: usize) -> Vec<Object> {
    let mut out = Vec::new();
    for acct in accounts {
        for region in regions {
            for day in days {
                let (y, m, d) = (&day[0..4], &day[5..7], &day[8..10]);
                for n in 0..per_day {
                    let stamp = format!("{y}{m}{d}T{:02}{:02}Z", n / 12, (n % 12) * 5);
                    let key = format!(
                        "{root}{acct}/CloudTrail/{region}/{y}/{m}/{d}/{acct}_CloudTrail_{region}_{stamp}_{n:016}.json.gz"
                    );
                    let time = format!("{day}T{:02}:{:02}:00Z", n / 12, (n % 12) * 5);
                    let records = (0..2)
                        .map(|i| denied_put(acct, region, &time, &format!("{acct}-{region}-{day}-{n}-{i}")))
                        .chain([ok_get(acct, region, &time)]);
                    out.push((key, gzip(&json!({ "Records": records.collect::<Vec<_>>() }))));
                }
                let digest = format!(
                    "{root}{acct}/CloudTrail-Digest/{region}/{y}/{m}/{d}/{acct}_CloudTrail-Digest_{region}_t_{region}_{y}{m}{d}T000000Z.json.gz"
                );
                out.push((digest, gzip(&json!({ "awsAccountId": acct, "digestStartTime": time0(day) }))));
                let insight = format!(
                    "{root}{acct}/CloudTrail-Insight/{region}/{y}/{m}/{d}/{acct}_CloudTrail-Insight_{region}_{y}{m}{d}T0000Z_x.json.gz"
                );
                out.push((insight, gzip(&json!({ "Records": [] }))));
            }
            let elb = format!(
                "{root}{acct}/elasticloadbalancing/{region}/2026/11/21/{acct}_elasticloadbalancing_{region}_app.log.gz"
            );
            out.push((
                elb,
                gzip_bytes(b"http 2026-11-21T00:00:00Z app/x 1.2.3.4:5 - 0 0 0 200 200 0 0 \"GET / HTTP/1.1\"\n"),
            ));
        }
    }
    out
}

/// Only the CloudTrail delivery files of a generated trail (what a scan must read).
pub fn deliveries(objects: &[Object]) -> Vec<String> {
    objects.iter().map(|(k, _)| k.clone()).filter(|k| k.contains("/CloudTrail/")).collect()
}

fn time0(day: &str) -> String {
    format!("{day}T00:00:00Z")
}

fn denied_put(acct: &str, region: &str, time: &str, id: &str) -> Value {
    let bucket = format!("data-{region}");
    let key = format!("uploads/{id}.bin");
    json!({
        "eventVersion": "1.11",
        "userIdentity": { "type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::{acct}:user/writer"), "accountId": acct },
        "eventTime": time,
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutObject",
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "[aws-cli/2.17.0]",
        "errorCode": "AccessDenied",
        "errorMessage": "Access Denied",
        "requestParameters": { "bucketName": bucket, "key": key },
        "responseElements": null,
        "eventID": id,
        "readOnly": false,
        "resources": [
            { "type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}") },
            { "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}"), "accountId": acct }
        ],
        "eventType": "AwsApiCall",
        "managementEvent": false,
        "recipientAccountId": acct,
        "eventCategory": "Data"
    })
}

fn ok_get(acct: &str, region: &str, time: &str) -> Value {
    json!({
        "eventVersion": "1.11",
        "userIdentity": { "type": "IAMUser", "arn": format!("arn:aws:iam::{acct}:user/reader"), "accountId": acct },
        "eventTime": time,
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": region,
        "requestParameters": { "bucketName": format!("data-{region}"), "key": "x" },
        "eventID": format!("get-{acct}-{region}-{time}"),
        "readOnly": true,
        "recipientAccountId": acct,
        "eventCategory": "Data"
    })
}

pub fn gzip(v: &Value) -> Vec<u8> {
    gzip_bytes(v.to_string().as_bytes())
}

pub fn gzip_bytes(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(b).expect("gzip to memory");
    e.finish().expect("gzip to memory")
}

/// Writes objects as files under `dir` (the local twin of a bucket).
pub fn write_tree(dir: &Path, objects: &[Object]) {
    for (key, body) in objects {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create test dirs");
        std::fs::write(path, body).expect("write test file");
    }
}

/// What one CLI run produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The `--format json` report.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not a JSON report ({e}); stderr: {}", self.stderr))
    }

    /// stderr lines that are not the closing summary.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.trim().is_empty()).collect()
    }
}

/// Runs `denytrail` with a hermetic AWS environment: static test credentials (unless `creds` is
/// false), no shared config files, no instance metadata, plus `env`.
pub fn run_with(args: &[&str], env: &[(&str, &str)], creds: bool) -> Run {
    let home = tempfile::tempdir().expect("temp home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_denytrail"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    if creds {
        cmd.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing");
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run denytrail");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
    }
}

pub fn run(args: &[&str]) -> Run {
    run_with(args, &[("AWS_REGION", REGION)], true)
}

/// A report with what legitimately differs between two sources of the same objects removed:
/// object names (a local path or an `s3://` URL, given as `name_prefix`), timing, and the digest
/// and insight files a local walk counts but an S3 scan never lists.
pub fn comparable(report: &Value, name_prefix: &str) -> Value {
    let mut r = report.clone();
    let stats = r.get_mut("stats").and_then(Value::as_object_mut).expect("stats in the report");
    stats.remove("elapsed_seconds");
    let mut not_listed = 0;
    if let Some(by) = stats.get_mut("skipped_by_reason").and_then(Value::as_object_mut) {
        for reason in ["digest file", "insight file"] {
            not_listed += by.remove(reason).and_then(|v| v.as_u64()).unwrap_or(0);
        }
    }
    for field in ["files_seen", "files_skipped"] {
        if let Some(n) = stats.get(field).and_then(Value::as_u64) {
            stats.insert(field.into(), json!(n - not_listed));
        }
    }
    if let Some(failed) = stats.get_mut("failed").and_then(Value::as_array_mut) {
        for f in failed {
            if let Some(path) = f.get("path").and_then(Value::as_str) {
                let short = path.strip_prefix(name_prefix).unwrap_or(path).to_string();
                f["path"] = json!(short);
            }
        }
    }
    r
}

/// Asserts two reports are equal, printing the first difference.
pub fn assert_same_report(a: &Value, b: &Value, what: &str) {
    if a == b {
        return;
    }
    assert_eq!(a["groups"], b["groups"], "{what}: groups differ");
    assert_eq!(a["stats"], b["stats"], "{what}: stats differ");
    panic!("{what}: reports differ");
}
