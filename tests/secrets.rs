//! No secret out: presigned-URL signatures and credentials, session tokens and secret keys that
//! reach a trail (in an object key, a user agent, an error message) appear in no output of any
//! command or format, nor in the events a scan saves.

mod common;

use common::*;
use polars::prelude::{ParquetReader, SerReader};
use serde_json::json;

/// The secret parts; none may be printed, saved or shown.
const SECRETS: [&str; 5] = [
    "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
    "AKIAIOSFODNN7EXAMPLE%2F20261121",
    "IQoJb3JpZ2luX2VjEJrSECRETSESSIONTOKEN",
    "vjbyPxybdZaNmGa",
    "wJalrXUtnFEMI",
];

fn trail(dir: &std::path::Path) -> String {
    let presigned = "inbox/report.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261121%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
    let mut records = vec![
        record("e1", presigned, "aws-sdk-go/1.0 X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJrSECRETSESSIONTOKEN"),
        record("e2", "inbox/v2?Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D", "curl/8.0"),
        record("e3", "inbox/creds.txt", "boto3 aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ];
    records[2]["errorMessage"] = json!(
        "User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::victim-bucket/inbox/creds.txt\" because no identity-based policy allows the s3:PutObject action SessionToken=IQoJb3JpZ2luX2VjEJrSECRETSESSIONTOKEN"
    );
    let body = json!({ "Records": records }).to_string();
    write(dir, "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/21/t.json.gz", &gzip(body.as_bytes()))
}

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows the secret {s}:\n{text}");
    }
}

#[test]
fn no_output_carries_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = trail(dir.path());
    // The trail does hold them (the test would prove nothing otherwise).
    let raw = String::from_utf8_lossy(&flate2_decode(&std::fs::read(&file).unwrap())).into_owned();
    for s in SECRETS {
        assert!(raw.contains(s), "the fixture lacks {s}");
    }

    let mut outputs = Vec::new();
    for format in ["table", "csv", "json", "ndjson", "markdown", "html"] {
        outputs.push(run(&["scan", "-f", format, &file]));
        outputs.push(run(&["scan", "-f", format, "--timeline", "1h", &file]));
    }
    outputs.push(run(&["explain", &file]));
    outputs.push(run(&["query", "-f", "csv", "--sql", "SELECT * FROM events", &file]));
    outputs.push(run(&["query", "-f", "json", "--sql", "SELECT * FROM groups", &file]));
    for o in &outputs {
        assert!(o.status.code().is_some_and(|c| c == 0), "{}", stderr(o));
        assert!(!o.stdout.is_empty());
        assert_clean("stdout", &String::from_utf8_lossy(&o.stdout));
        assert_clean("stderr", &stderr(o));
    }
    // The redaction keeps what is not secret: the key's path and the access key id's holder.
    let csv = String::from_utf8_lossy(&outputs[2].stdout).into_owned();
    assert!(csv.contains("inbox/") && csv.contains("[redacted]"), "{csv}");

    // Saved files: the events Parquet, read back, and a Parquet report.
    let events = dir.path().join("events.parquet");
    let report = dir.path().join("report.parquet");
    let o = run(&["scan", "-q", "--events-out", events.to_str().unwrap(), "-o", report.to_str().unwrap(), &file]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The same events, Hive-partitioned: the part files and their directory names.
    let hive = dir.path().join("hive");
    let o = run(&["scan", "-q", "--events-out", &format!("{}/", hive.display()), &file]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut parts = Vec::new();
    for entry in walk(&hive) {
        assert_clean("a partition path", &entry.display().to_string());
        parts.push(entry);
    }
    assert!(!parts.is_empty());
    for path in [&events, &report].into_iter().chain(&parts) {
        let df = ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap();
        assert!(df.height() > 0);
        assert_clean(&path.display().to_string(), &format!("{:?}", values(&df)));
    }
    // A log object whose name carries a secret (a presigned URL saved as a file), its records
    // clean: the events name the object they were read from, redacted.
    let clean = json!({ "Records": [record("e4", "inbox/plain.csv", "curl/8.0")] }).to_string();
    let named = write(
        dir.path(),
        "named/t.json.gz?X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        &gzip(clean.as_bytes()),
    );
    let saved = dir.path().join("named.parquet");
    let o = run(&["scan", "-q", "--events-out", saved.to_str().unwrap(), &named]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let df = ParquetReader::new(std::fs::File::open(&saved).unwrap()).finish().unwrap();
    let cells = format!("{:?}", values(&df));
    assert!(cells.contains("named/t.json.gz?X-Amz-Signature=[redacted]"), "{cells}");
    assert_clean("the events of a secret-named object", &cells);
    let o = run(&["query", "-f", "csv", "--sql", "SELECT source_object FROM events", &named]);
    assert_clean("a query of a secret-named object", &String::from_utf8_lossy(&o.stdout));
    // An error that quotes a secret-bearing name is redacted too.
    let o = run(&[
        "scan",
        &format!(
            "{}/missing?X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
            dir.path().display()
        ),
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert_clean("an error line", &stderr(&o));
}

/// The files under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

/// Every cell of a frame as text.
fn values(df: &polars::prelude::DataFrame) -> Vec<String> {
    let mut out = Vec::new();
    for c in df.columns() {
        for i in 0..df.height() {
            out.push(c.get(i).map(|v| v.to_string()).unwrap_or_default());
        }
    }
    out
}

fn flate2_decode(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}
