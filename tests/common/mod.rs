//! Helpers shared by the end-to-end tests: the binary, the bundled trail, generated records.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_denytrail"));
    c.env_remove("AWS_ENDPOINT_URL").env_remove("COLUMNS");
    c
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn trail() -> String {
    root().join("testdata/trail").display().to_string()
}

/// The sample trail once more, through a symlink in `dir`: its records read again as repeats.
pub fn trail_again(dir: &Path) -> String {
    let again = dir.join("again");
    std::os::unix::fs::symlink(root().join("testdata/trail"), &again).unwrap();
    format!("{}/", again.display())
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run denytrail")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a scan with `--format json -q` and returns (exit code, parsed report).
pub fn scan_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["scan", "--format", "json", "-q"];
    all.extend_from_slice(args);
    let o = run(&all);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): stdout={} stderr={}", String::from_utf8_lossy(&o.stdout), stderr(&o))
    });
    (o.status.code().unwrap(), v)
}

pub fn record(id: &str, key: &str, user_agent: &str) -> Value {
    json!({
        "eventVersion": "1.11",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/mallory",
                          "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": "mallory"},
        "eventTime": "2026-11-21T10:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": user_agent,
        "errorCode": "AccessDenied",
        "errorMessage": "Access Denied",
        "requestParameters": {"bucketName": "victim-bucket", "Host": "victim-bucket.s3.us-east-1.amazonaws.com", "key": key},
        "eventID": id,
        "readOnly": false,
        "resources": [{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::victim-bucket/{key}")},
                      {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::victim-bucket"}],
        "eventType": "AwsApiCall",
        "managementEvent": false,
        "recipientAccountId": "111122223333",
        "eventCategory": "Data"
    })
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The text of a log file, gunzipped when its name says it is compressed.
pub fn gunzip(path: &str) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if !path.ends_with(".gz") {
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut text).unwrap();
    text
}
