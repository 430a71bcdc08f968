//! End-to-end: CloudTrail records inside CloudWatch Logs, Firehose, EventBridge and CLI-output
//! envelopes (issue 14), and no silent zero over JSON of no known shape. The fixtures and where
//! their shapes come from: testdata/envelopes/README.txt.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{Value, json};

fn envelopes(rel: &str) -> PathBuf {
    root().join("testdata/envelopes").join(rel)
}

fn issue14() -> String {
    envelopes("issue14").display().to_string()
}

/// Every fixture file of a folder, as (path relative to it, bytes), sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    if !bytes.starts_with(b"\x1f\x8b") {
        return bytes.to_vec();
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

fn total_denied(report: &Value) -> u64 {
    report["groups"].as_array().unwrap().iter().map(|g| g["denied"].as_u64().unwrap()).sum()
}

#[test]
fn the_issue14_folder_reads_every_envelope_and_counts_each_denial_once() {
    let (code, r) = scan_json(&[&issue14()]);
    let s = &r["stats"];
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["files_read"], 4, "{s:#}");
    assert_eq!(s["formats"], json!({"cwl": 1, "eventbridge": 1, "log-events": 1, "lookup-events": 1}));
    assert_eq!(s["records_read"], 59);
    assert_eq!(s["records_matched"], 48);
    assert_eq!(s["events_unique"], 40);
    assert_eq!(s["duplicates_dropped"], 8);
    assert_eq!(s["cwl_control_messages"], 1);
    assert_eq!(s["records_not_cloudtrail"], 1);
    assert_eq!(s["records_invalid"], 0);
    assert_eq!(s["unknown_shapes"], json!({}));
    assert_eq!(total_denied(&r), 40);
    assert_eq!(r["groups"][0]["principal"], "arn:aws:iam::111122223333:role/uploader", "{:#}", r["groups"]);
    // Findings are findings, whatever envelope they came in.
    assert_eq!(run(&["scan", "-q", "--fail-on-findings", &issue14()]).status.code(), Some(3));
}

#[test]
fn the_summary_names_the_envelopes_and_what_they_skipped() {
    let o = run(&["scan", "--format", "json", &issue14()]);
    let err = stderr(&o);
    assert!(
        err.contains(
            "denytrail: files by format: 1 cwl, 1 eventbridge, 1 log-events, 1 lookup-events; skipped 1 CloudWatch Logs control messages, 1 entries that are not CloudTrail events"
        ),
        "{err}"
    );
    assert!(
        err.contains("4 files: 4 read, 0 failed; 59 records, 48 matched (40 unique, 8 duplicates dropped)"),
        "{err}"
    );
}

#[test]
fn each_envelope_alone_gzip_and_plain_gives_the_same_report() {
    let want = [
        ("cli/filter-log-events.json", 7, 5, "log-events"),
        ("cli/lookup-events.json", 2, 0, "lookup-events"),
        ("eventbridge/2026-11-21.ndjson", 13, 13, "eventbridge"),
        ("firehose/", 37, 30, "cwl"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let fixtures = files(&envelopes("issue14"));
    assert_eq!(fixtures.len(), want.len());
    for ((rel, bytes), (prefix, records, matched, format)) in fixtures.iter().zip(want) {
        assert!(rel.starts_with(prefix), "{rel}");
        let plain = gunzip(bytes);
        let mut reports = Vec::new();
        for (name, body) in
            [("plain.json", plain.clone()), ("packed.json.gz", gzip(&plain)), ("as-stored", bytes.clone())]
        {
            let path = write(dir.path(), &format!("{format}/{name}"), &body);
            let (code, r) = scan_json(&[&path]);
            let s = &r["stats"];
            assert_eq!(code, 0, "{rel} as {name}: {s:#}");
            assert_eq!(
                (s["records_read"].as_u64(), s["records_matched"].as_u64()),
                (Some(records), Some(matched)),
                "{rel}"
            );
            assert_eq!(s["formats"], json!({ format: 1 }), "{rel} as {name}");
            assert_eq!(s["bytes_decompressed"], plain.len() as u64, "{rel} as {name}");
            reports.push(r["groups"].clone());
        }
        assert!(reports.windows(2).all(|w| w[0] == w[1]), "{rel}: {reports:#?}");
    }
    // Firehose's concatenation, decompressed, is `}{` with no separator at all.
    let firehose = gunzip(&fixtures[3].1);
    assert!(firehose.windows(2).filter(|w| w == b"}{").count() >= 3);
}

#[test]
fn eventbridge_events_as_an_array_read_as_one_per_line() {
    let ndjson = std::fs::read(envelopes("issue14/eventbridge/2026-11-21.ndjson")).unwrap();
    let events: Vec<Value> =
        ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    let dir = tempfile::tempdir().unwrap();
    let array = write(dir.path(), "events.json", &serde_json::to_vec_pretty(&events).unwrap());
    let lines = envelopes("issue14/eventbridge/2026-11-21.ndjson").display().to_string();
    let (_, a) = scan_json(&[&array]);
    let (_, b) = scan_json(&[&lines]);
    assert_eq!(a["groups"], b["groups"]);
    assert_eq!(a["stats"]["records_read"], 13);
    assert_eq!(a["stats"]["formats"], json!({"eventbridge": 1}));
    assert_eq!(total_denied(&a), 13);
}

#[test]
fn lookup_events_denials_are_found_with_a_wider_filter() {
    let path = envelopes("issue14/cli/lookup-events.json").display().to_string();
    let (code, r) = scan_json(&["--event-name", "*", &path]);
    assert_eq!(code, 0);
    assert_eq!(r["stats"]["records_matched"], 1);
    assert_eq!(r["groups"][0]["sample_event_id"], "0b0b0000-0000-4000-8000-000000000002");
}

#[test]
fn truncated_envelopes_are_failed_files_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, bytes) in files(&envelopes("issue14")) {
        let plain = gunzip(&bytes);
        let name = rel.replace('/', "_");
        write(dir.path(), &format!("plain/{name}.json"), &plain[..plain.len() - 30]);
        let packed = gzip(&plain);
        write(dir.path(), &format!("gzip/{name}.json.gz"), &packed[..packed.len() - 30]);
    }
    for (sub, reason) in [("plain", "truncated JSON"), ("gzip", "truncated gzip")] {
        // One whole envelope beside them, so the scan reads something and reports the rest.
        std::fs::copy(envelopes("issue14/cli/lookup-events.json"), dir.path().join(sub).join("whole.json")).unwrap();
        let (code, r) = scan_json(&[dir.path().join(sub).to_str().unwrap()]);
        let s = &r["stats"];
        assert_eq!(code, 4, "{sub}: {s:#}");
        assert_eq!((s["files_failed"].as_u64(), s["files_read"].as_u64()), (Some(4), Some(1)), "{sub}: {s:#}");
        for f in s["failed"].as_array().unwrap() {
            assert!(f["error"].as_str().unwrap().starts_with(reason), "{sub}: {f}");
        }
    }
}

#[test]
fn json_of_no_known_shape_alone_is_never_a_clean_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(envelopes("lake/get-query-results.json"), dir.path().join("lake.json")).unwrap();
    write(dir.path(), "package.json", br#"{"name":"app","version":"1.0.0","scripts":{}}"#);
    let out = dir.path().join("report.json");
    for quiet in [true, false] {
        let mut args = vec!["scan", "--format", "json", "-o", out.to_str().unwrap(), dir.path().to_str().unwrap()];
        if quiet {
            args.push("-q");
        }
        let o = run(&args);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
        let err = stderr(&o);
        let last = err.lines().last().unwrap();
        assert_eq!(
            last,
            r#"denytrail: error: no CloudTrail record was read: 2 JSON file(s) in no known shape ({"QueryResultRows","QueryStatistics","QueryStatus"} ×1, {"name","scripts","version"} ×1); see "Formats read" in the README"#
        );
        // No report: an empty one would pass for "nothing denied" (and overwrite a baseline).
        assert!(o.stdout.is_empty() && !out.exists());
    }
    // `explain` and `query` read through the same scan and refuse the same way.
    let o = run(&["query", "--sql", "SELECT 1", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn unknown_shapes_beside_records_are_named_and_the_run_stays_clean() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(envelopes("lake/get-query-results.json"), dir.path().join("lake.json")).unwrap();
    // Records read, none matched: exit 0 as before, but the unknown file is not silent.
    let read = serde_json::to_vec(&json!({"Records": [{"eventVersion": "1.11", "eventName": "GetObject",
        "eventSource": "s3.amazonaws.com", "eventID": "r1"}]}))
    .unwrap();
    write(dir.path(), "trail.json", &read);
    let o = run(&["scan", "--format", "json", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["stats"]["unknown_shapes"], json!({r#"{"QueryResultRows","QueryStatistics","QueryStatus"}"#: 1}));
    assert_eq!(r["stats"]["skipped_by_reason"], json!({"no CloudTrail records": 1}));
    assert!(
        stderr(&o).contains(
            r#"denytrail: 1 JSON file(s) in no known shape, not read: {"QueryResultRows","QueryStatistics","QueryStatus"} (1)"#
        ),
        "{}",
        stderr(&o)
    );
    // An envelope of something else than CloudTrail is named with its envelope.
    let logs =
        json!({"events": [{"logStreamName": "app", "timestamp": 1, "message": "{\"level\":\"info\",\"msg\":\"up\"}"}]});
    write(dir.path(), "app-logs.json", &serde_json::to_vec(&logs).unwrap());
    let (code, r) = scan_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(r["stats"]["unknown_shapes"][r#"log-events: {"level","msg"}"#], 1, "{:#}", r["stats"]);
}

#[test]
fn real_data_reads_as_plain_cloudtrail_with_no_unknown_shape() {
    let realdata = root().join("../shared/realdata");
    assert!(realdata.is_dir(), "the real-data tests need ../shared/realdata beside the checkout");
    let (code, r) = scan_json(&["--event-name", "*", "--error-code", "AccessDenied", realdata.to_str().unwrap()]);
    let s = &r["stats"];
    assert_eq!(code, 0, "{s:#}");
    assert_eq!(s["formats"], json!({"array": 35, "ndjson": 1, "records": 57, "single": 3}), "{s:#}");
    assert_eq!(s["unknown_shapes"], json!({}));
    assert_eq!(s["records_read"], 2900 + 310 + 464 + 7);
    assert_eq!(s["records_matched"], 16 + 5 + 32);
    assert_eq!((s["cwl_control_messages"].as_u64(), s["records_not_cloudtrail"].as_u64()), (Some(0), Some(0)));
}
