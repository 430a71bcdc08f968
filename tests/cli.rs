//! End-to-end tests of the `denytrail` binary: the bundled testdata/ trail, the real CloudTrail
//! data in ../shared/realdata, every output format, exit statuses and hostile input.
//!
//! Expected figures for testdata/ come from testdata/EXPECTED.md (computed by the script that
//! wrote the fixture); those for realdata/ from its README.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

mod common;
use common::*;

fn realdata(folder: &str) -> String {
    let p = root().join("../shared/realdata").join(folder);
    assert!(p.is_dir(), "{} is missing: the real-data tests need ../shared/realdata beside the checkout", p.display());
    p.display().to_string()
}

fn group<'a>(report: &'a Value, principal_suffix: &str, prefix: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["principal"].as_str().unwrap().ends_with(principal_suffix) && g["prefix"] == prefix)
        .unwrap_or_else(|| panic!("no group {principal_suffix} {prefix} in {:#}", report["groups"]))
}

// ---------------------------------------------------------------- testdata/

#[test]
fn testdata_accounts_for_every_file_and_record() {
    let (code, r) = scan_json(&[&trail()]);
    assert_eq!(code, 4, "a truncated file makes the report incomplete");
    let s = &r["stats"];
    assert_eq!(s["files_seen"], 19);
    assert_eq!(s["files_read"], 16);
    assert_eq!(s["files_skipped"], 2);
    assert_eq!(s["skipped_by_reason"], json!({"digest file": 1, "not a log file": 1}));
    assert_eq!(s["files_failed"], 1);
    let failed = &s["failed"][0];
    assert!(
        failed["path"]
            .as_str()
            .unwrap()
            .ends_with("111122223333_CloudTrail_us-east-1_20261122T0810Z_CIY4iSGhRmgnCtt5.json.gz")
    );
    assert!(failed["error"].as_str().unwrap().starts_with("truncated gzip"));
    assert_eq!(s["records_read"], 139);
    assert_eq!(s["records_matched"], 47);
    assert_eq!(s["duplicates_dropped"], 5);
    assert_eq!(s["events_unique"], 42);
    // 269,199 bytes in the 16 readable files, plus what was decoded of the README and of the
    // truncated file before its cut.
    let decompressed = s["bytes_decompressed"].as_u64().unwrap();
    assert!((269_199..269_199 + 16_000).contains(&decompressed), "{decompressed}");
    assert_eq!(s["formats"], json!({"records": 16}));
}

/// principal, account, bucket, bucket_owner, prefix, denied, keys, sessions, operations
type Row = (String, String, String, String, String, u64, u64, u64, String);

#[test]
fn testdata_groups_match_expected() {
    let (_, r) = scan_json(&[&trail()]);
    let groups = r["groups"].as_array().unwrap();
    let rows: Vec<Row> = groups
        .iter()
        .map(|g| {
            let s = |k: &str| g[k].as_str().unwrap().to_string();
            let n = |k: &str| g[k].as_u64().unwrap();
            (
                s("principal"),
                s("account"),
                s("bucket"),
                s("bucket_owner"),
                s("prefix"),
                n("denied"),
                n("keys"),
                n("sessions"),
                s("operations"),
            )
        })
        .collect();
    let row = |p: &str, a: &str, b: &str, o: &str, pre: &str, d, k, se, ops: &str| {
        (p.to_string(), a.to_string(), b.to_string(), o.to_string(), pre.to_string(), d, k, se, ops.to_string())
    };
    assert_eq!(
        rows,
        vec![
            row(
                "arn:aws:iam::111122223333:role/ci-deploy",
                "111122223333",
                "acme-artifacts",
                "111122223333",
                "builds/",
                24,
                22,
                12,
                "CreateMultipartUpload,PutObject,UploadPart"
            ),
            row(
                "arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_DataEngineer_0123456789abcdef",
                "444455556666",
                "acme-data-lake",
                "444455556666",
                "raw/",
                6,
                6,
                1,
                "PutObject"
            ),
            row(
                "arn:aws:iam::111122223333:user/alice",
                "111122223333",
                "acme-artifacts",
                "111122223333",
                "releases/",
                5,
                5,
                1,
                "PutObject"
            ),
            row(
                "arn:aws:iam::777788889999:role/partner-sync",
                "777788889999",
                "acme-data-lake",
                "444455556666",
                "partner/",
                4,
                4,
                1,
                "PutObject"
            ),
            row(
                "ANONYMOUS_PRINCIPAL",
                "ANONYMOUS_PRINCIPAL",
                "acme-data-lake",
                "444455556666",
                "incoming/",
                3,
                3,
                0,
                "PutObject"
            ),
        ]
    );
    let ci = &groups[0];
    assert_eq!(ci["principal_type"], "AssumedRole");
    assert_eq!(ci["first_seen"], "2026-11-21T09:00:05Z");
    assert_eq!(ci["last_seen"], "2026-11-21T10:55:15Z");
    // Every group is diagnosed: no diagnosis column is empty, and the samples name a real event.
    for g in groups {
        for column in ["causes", "confidence", "facts", "evidence", "next_steps", "sample_event_id", "sample_key"] {
            let value = g[column].as_str().unwrap_or_else(|| panic!("column {column} missing: {g}"));
            assert!(!value.trim().is_empty(), "{column} is empty: {g}");
        }
        assert!(["high", "medium", "low"].contains(&g["confidence"].as_str().unwrap()), "{g}");
        assert!(g["source_ips"].as_u64().is_some_and(|n| n >= 1), "{g}");
    }
    // The story of testdata/EXPECTED.md: each group's first cause and its facts.
    let first = |g: &Value| g["causes"].as_str().unwrap().split(' ').next().unwrap().to_string();
    let by = |p: &str| groups.iter().find(|g| g["principal"].as_str().unwrap().ends_with(p)).unwrap();
    assert_eq!(first(by("role/ci-deploy")), "bucket-policy-deny");
    assert!(by("role/ci-deploy")["evidence"].as_str().unwrap().contains("DenyUnencryptedBuildUploads"));
    assert_eq!(first(by("AWSReservedSSO_DataEngineer_0123456789abcdef")), "kms-denied");
    assert_eq!(first(by("user/alice")), "identity-no-allow");
    assert_eq!(first(by("role/partner-sync")), "cross-account");
    assert!(by("role/partner-sync")["facts"].as_str().unwrap().contains("cross-account"));
    assert!(by("ANONYMOUS_PRINCIPAL")["facts"].as_str().unwrap().contains("suspicious"));
    assert!(by("ANONYMOUS_PRINCIPAL")["facts"].as_str().unwrap().contains("anonymous"));
}

#[test]
fn prefix_depth_splits_folders() {
    let (_, r) = scan_json(&["--prefix-depth", "2", &trail()]);
    assert_eq!(group(&r, ":user/alice", "releases/v1/")["denied"], 3);
    assert_eq!(group(&r, ":user/alice", "releases/v2/")["denied"], 2);
}

#[test]
fn error_code_and_event_name_overrides() {
    let (_, all_errors) = scan_json(&["--all-errors", &trail()]);
    assert_eq!(all_errors["stats"]["events_unique"], 45);
    let ci = group(&all_errors, ":role/ci-deploy", "builds/");
    assert_eq!((ci["denied"].as_u64(), ci["sessions"].as_u64()), (Some(25), Some(13)));

    let (_, any_event) = scan_json(&["--event-name", "*", &trail()]);
    assert_eq!(any_event["stats"]["events_unique"], 52);

    let (_, reads) = scan_json(&["--event-name", "GetObject", "--event-source", "s3.amazonaws.com", &trail()]);
    assert_eq!(reads["stats"]["events_unique"], 3, "the three GetObject denials of the noise");

    let (_, acl) = scan_json(&["--error-code", "AccessControlListNotSupported", &trail()]);
    assert_eq!(acl["stats"]["events_unique"], 1);
}

#[test]
fn account_region_and_time_prune_before_reading() {
    let (_, all) = scan_json(&[&trail()]);
    let (_, partner) = scan_json(&["--account", "777788889999", &trail()]);
    assert_eq!(partner["groups"].as_array().unwrap().len(), 1);
    assert!(
        partner["stats"]["files_seen"].as_u64() < all["stats"]["files_seen"].as_u64(),
        "other accounts' folders are never listed"
    );
    assert_eq!(partner["stats"]["files_failed"], 0);

    // Window on 2026-11-22: the 11-22 and 11-23 folders only, and eventTime inside the window.
    let (code, late) = scan_json(&["--since", "2026-11-22T00:00:00Z", "--until", "2026-11-22", &trail()]);
    let principals: Vec<&str> =
        late["groups"].as_array().unwrap().iter().map(|g| g["principal"].as_str().unwrap()).collect();
    assert_eq!(principals, ["arn:aws:iam::777788889999:role/partner-sync"]);
    assert!(late["stats"]["files_seen"].as_u64().unwrap() < 19);
    assert_eq!(code, 4, "the truncated 11-22 file is in the window");

    let (_, eu) = scan_json(&["--region", "eu-west-1", &trail()]);
    assert!(eu["stats"]["files_seen"].as_u64().unwrap() < all["stats"]["files_seen"].as_u64().unwrap());
}

#[test]
fn summary_names_what_failed_and_quiet_silences_it() {
    let o = run(&["scan", "--format", "csv", &trail()]);
    let err = stderr(&o);
    assert!(err.contains("failed: ") && err.contains("CIY4iSGhRmgnCtt5.json.gz: truncated gzip"), "{err}");
    assert!(err.contains("19 files: 16 read, 2 skipped (1 digest file, 1 not a log file), 1 failed"), "{err}");
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "no progress bar when stderr is not a terminal: {err:?}");
    let q = run(&["scan", "-q", "--format", "csv", &trail()]);
    assert!(q.stderr.is_empty(), "{}", stderr(&q));
    assert_eq!(q.status.code(), Some(4));
}

#[test]
fn output_formats() {
    let dir = tempfile::tempdir().unwrap();
    // CSV (the default when piped) carries the contract's header.
    let csv = run(&["scan", "-q", &trail()]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("principal,principal_type,account,bucket,bucket_owner,prefix,denied,first_seen,last_seen,keys,sessions,source_ips,operations,causes,confidence,facts,confirmed_by,evidence,next_steps,sample_event_id,sample_key,estimated\n"));
    assert_eq!(text.lines().count(), 6);

    let table = bin().args(["scan", "-q", "--format", "table", &trail()]).env("COLUMNS", "100").output().unwrap();
    let t = String::from_utf8(table.stdout).unwrap();
    assert!(t.lines().all(|l| l.chars().count() <= 100), "{t}");
    assert!(t.contains("ci-deploy") && t.contains("24"));

    let md = String::from_utf8(run(&["scan", "-q", "--format", "markdown", &trail()]).stdout).unwrap();
    assert_eq!(md.lines().count(), 2 + 5);

    let nd = String::from_utf8(run(&["scan", "-q", "--format", "ndjson", &trail()]).stdout).unwrap();
    assert_eq!(nd.lines().count(), 5);
    for line in nd.lines() {
        serde_json::from_str::<Value>(line).unwrap();
    }

    // Parquet needs a file; the extension picks the format.
    let no_file = run(&["scan", "-q", "--format", "parquet", &trail()]);
    assert_eq!(no_file.status.code(), Some(2));
    let pq = dir.path().join("report.parquet");
    let events = dir.path().join("events.parquet");
    let o = run(&["scan", "-q", "-o", pq.to_str().unwrap(), "--events-out", events.to_str().unwrap(), &trail()]);
    assert_eq!(o.status.code(), Some(4));
    assert!(o.stdout.is_empty());
    assert_eq!(&std::fs::read(&pq).unwrap()[..4], b"PAR1");
    assert_eq!(&std::fs::read(&events).unwrap()[..4], b"PAR1");
}

// ---------------------------------------------------------------- ../shared/realdata/

/// (folder, files read, records, AccessDenied records, shape) from realdata/README.md.
const REALDATA: [(&str, u64, u64, u64, &str); 4] = [
    ("invictus-ir-aws_dataset", 55, 2900, 16, "records"),
    ("stratus-red-team-detonation-logs", 35, 310, 5, "array"),
    ("panther-analysis-fixtures", 1, 464, 32, "ndjson"),
    ("aws-docs-samples", 5, 7, 0, "single"),
];

#[test]
fn realdata_counts_match_the_readme() {
    for (folder, files, records, denied, shape) in REALDATA {
        let (code, r) = scan_json(&["--event-name", "*", "--error-code", "AccessDenied", &realdata(folder)]);
        let s = &r["stats"];
        assert_eq!(code, 0, "{folder}: {s:#}");
        assert_eq!(s["files_read"], files, "{folder}");
        assert_eq!(s["files_failed"], 0, "{folder}: {:#}", s["failed"]);
        assert_eq!(s["records_read"], records, "{folder}");
        assert_eq!(s["records_matched"], denied, "{folder}");
        assert_eq!(s["records_invalid"], 0, "{folder}");
        assert_eq!(
            s["events_unique"].as_u64().unwrap() + s["duplicates_dropped"].as_u64().unwrap(),
            denied,
            "{folder}: unique + duplicates = matched"
        );
        assert!(s["formats"][shape].as_u64().unwrap() >= 1, "{folder}: {}", s["formats"]);
        // Non-log files beside the logs (LICENSE, README, .txt, .tsv) are skipped, not failed.
        assert_eq!(s["files_seen"].as_u64().unwrap(), files + s["files_skipped"].as_u64().unwrap());
    }
}

#[test]
fn realdata_default_filter_finds_no_s3_write_denials() {
    // The README: no real source holds a PutObject AccessDenied.
    let (code, r) = scan_json(&[&realdata("")]);
    assert_eq!(code, 0);
    assert_eq!(r["stats"]["records_read"], 2900 + 310 + 464 + 7);
    assert_eq!(r["groups"], json!([]));
}

#[test]
fn realdata_enhanced_message_event_is_found_by_id() {
    let (_, r) = scan_json(&["--event-name", "LeaveOrganization", &realdata("invictus-ir-aws_dataset")]);
    assert_eq!(r["groups"][0]["sample_event_id"], "be7f89b5-d456-4423-b3e6-0fb0b19bad7c");
    let (_, r) = scan_json(&["--event-name", "LeaveOrganization", &realdata("stratus-red-team-detonation-logs")]);
    assert_eq!(r["groups"][0]["sample_event_id"], "16903cbd-fdff-4818-82f2-d66ad09aaf57");
}

// ---------------------------------------------------------------- formats and hostile input

#[test]
fn three_shapes_give_one_report() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<Value> = (0..3).map(|i| record(&format!("id-{i}"), &format!("up/{i}.bin"), "aws-cli/2")).collect();
    let records = serde_json::to_vec(&json!({ "Records": recs })).unwrap();
    let array = serde_json::to_vec_pretty(&recs).unwrap();
    let ndjson: Vec<u8> = recs.iter().flat_map(|r| [serde_json::to_vec(r).unwrap(), b"\n".to_vec()].concat()).collect();
    let mut reports = Vec::new();
    for (name, bytes) in
        [("a.json.gz", gzip(&records)), ("b.json", array), ("c.ndjson", ndjson.clone()), ("d.log", gzip(&ndjson))]
    {
        let path = write(dir.path(), name, &bytes);
        let (code, r) = scan_json(&[&path]);
        assert_eq!(code, 0, "{name}");
        assert_eq!(r["stats"]["records_read"], 3, "{name}");
        let plain = if name.starts_with('a') {
            records.len()
        } else if name.starts_with('b') {
            bytes.len()
        } else {
            ndjson.len()
        };
        assert_eq!(r["stats"]["bytes_decompressed"], plain as u64, "{name}");
        assert_eq!(r["stats"]["bytes_compressed"], bytes.len() as u64, "{name}");
        reports.push(r["groups"].clone());
    }
    assert!(reports.windows(2).all(|w| w[0] == w[1]));
    // Stdin works too.
    let mut child = bin()
        .args(["scan", "-q", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&gzip(&records)).unwrap();
    let out = child.wait_with_output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["groups"], reports[0]);
}

#[test]
fn attacker_text_never_reaches_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let evil_ua = "aws-cli/2 \u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}";
    let recs = vec![record("e1", "=cmd|' /C calc'!A0", evil_ua), record("e2", "-2+3", evil_ua)];
    let path = write(dir.path(), "evil.json", &serde_json::to_vec(&json!({ "Records": recs })).unwrap());
    for format in ["table", "csv", "json", "ndjson", "markdown"] {
        let o = run(&["scan", "--format", format, "--prefix-depth", "1", &path]);
        let out = String::from_utf8(o.stdout.clone()).unwrap();
        assert!(
            !out.chars().any(|c| c == '\u{1b}' || c == '\u{9b}' || c == '\u{7}' || c == '\u{202e}'),
            "{format}: {out:?}"
        );
        assert!(!stderr(&o).contains('\u{1b}'));
    }
    let csv = String::from_utf8(run(&["scan", "-q", "--format", "csv", &path]).stdout).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    for rec in reader.records() {
        for cell in rec.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "formula reached the CSV: {cell}");
        }
    }
    // JSON keeps the data exact (escaped, not altered).
    let (_, r) = scan_json(&[&path]);
    let keys: Vec<&Value> = r["groups"].as_array().unwrap().iter().map(|g| &g["sample_key"]).collect();
    assert!(keys.contains(&&json!("=cmd|' /C calc'!A0")), "{keys:?}");
}

#[test]
fn gzip_bomb_fails_the_file_not_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_vec(&json!({ "Records": [record("ok", "k/1", "x")] })).unwrap();
    write(dir.path(), "good.json.gz", &gzip(&good));
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b"{\"Records\":[").unwrap();
    let zeros = vec![b' '; 1 << 20];
    for _ in 0..256 {
        e.write_all(&zeros).unwrap();
    }
    write(dir.path(), "bomb.json.gz", &e.finish().unwrap());
    let (code, r) = scan_json(&["--max-decompressed", "8MiB", dir.path().to_str().unwrap()]);
    assert_eq!(code, 4);
    assert_eq!(r["stats"]["files_read"], 1);
    let failed = &r["stats"]["failed"][0];
    assert!(failed["path"].as_str().unwrap().ends_with("bomb.json.gz"));
    assert!(failed["error"].as_str().unwrap().contains("exceeds the limit"), "{failed}");
    assert_eq!(r["groups"][0]["denied"], 1);
}

#[test]
fn broken_files_are_counted_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_vec(&json!({ "Records": [record("ok", "k/1", "x")] })).unwrap();
    write(dir.path(), "a-good.json", &good);
    write(dir.path(), "b-invalid.json", b"{\"Records\":[{\"eventVersion\":\"1.08\"} {\"b\":2}]}");
    write(dir.path(), "c-truncated.json", &good[..good.len() - 10]);
    write(dir.path(), "d-notgzip.json.gz", b"\x1f\x8bnot really gzip at all");
    write(dir.path(), "e-notes.txt", b"just some notes\n");
    write(dir.path(), "f-other.json", b"{\"name\": \"package\", \"version\": \"1.0\"}");
    write(dir.path(), "g-empty.json", b"");
    let (code, r) = scan_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 4);
    let s = &r["stats"];
    assert_eq!(s["files_seen"], 7);
    assert_eq!(s["files_read"], 1);
    assert_eq!(s["skipped_by_reason"], json!({"no CloudTrail records": 2, "not a log file": 1}));
    let reasons: Vec<(String, String)> = s["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().rsplit('/').next().unwrap().to_string(),
                f["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3);
    assert!(
        reasons[0].0 == "b-invalid.json" && reasons[0].1.starts_with("invalid JSON: expected ',' or ']'"),
        "{reasons:?}"
    );
    assert!(reasons[1].0 == "c-truncated.json" && reasons[1].1.starts_with("truncated JSON"), "{reasons:?}");
    assert!(reasons[2].0 == "d-notgzip.json.gz" && reasons[2].1.starts_with("bad gzip"), "{reasons:?}");
}

#[test]
fn exit_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_vec(&json!({ "Records": [record("ok", "k/1", "x")] })).unwrap();
    let path = write(dir.path(), "good.json", &good);
    assert_eq!(run(&["scan", "-q", &path]).status.code(), Some(0));
    assert_eq!(run(&["scan", "-q", "--fail-on-findings", &path]).status.code(), Some(3));
    let clean = write(dir.path(), "clean/none.json", b"{\"Records\":[]}");
    assert_eq!(run(&["scan", "-q", "--fail-on-findings", &clean]).status.code(), Some(0));
    // 4 wins over 3: an incomplete report never passes for a routine one.
    assert_eq!(run(&["scan", "-q", "--fail-on-findings", &trail()]).status.code(), Some(4));
}

#[test]
fn bad_command_lines_get_one_clear_line() {
    let cases: [(&[&str], i32, &str); 8] = [
        (&["scan"], 2, "at least one INPUT"),
        (&["scan", "--bogus", "x"], 2, "--bogus"),
        (&["scan", "--since", "last tuesday", "x"], 2, "not a time"),
        (&["scan", "--since", "2026-11-22", "--until", "2026-11-01", "x"], 2, "is after --until"),
        (&["scan", "--account", "12", "x"], 2, "12-digit"),
        (&["scan", "--max-decompressed", "lots", "x"], 2, "not a size"),
        (&["scan", "--prefix", "[", "x"], 2, "--prefix"),
        (&["scan", "/definitely/not/here"], 1, "nothing could be scanned"),
    ];
    for (args, code, needle) in cases {
        let o = run(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{args:?}: {err}");
        let lines = err.lines().filter(|l| l.starts_with("denytrail: error") || l.starts_with("error:")).count();
        assert_eq!(lines, 1, "{args:?}: {err}");
    }
    let help = run(&["scan", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8(help.stdout).unwrap().contains("Examples:"));
}

// ---------------------------------------------------------------- the labelled diagnosis corpus

/// Every record of testdata/diagnose/cases.ndjson goes through the real splitter, parser and
/// extractor; each case's group must get exactly the tags, confidence, facts, evidence and
/// next steps its `_expect` names.
#[test]
fn diagnosis_corpus_through_the_real_parser() {
    use denytrail::diagnose::{Companions, diagnose_group};
    use denytrail::event::EventRole;
    use denytrail::filter::{ErrorCodes, Filter};
    use denytrail::parse::{ScanContext, Worker};
    use std::collections::BTreeMap;

    let text = std::fs::read_to_string(root().join("testdata/diagnose/cases.ndjson")).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Everything is parsed; roles come from the corpus, as the scan's filter would assign them.
    let ctx = ScanContext::new(
        Filter { event_names: None, event_sources: None, error_codes: ErrorCodes::Any, ..Filter::default() },
        1,
        u64::MAX,
    );
    let report = Worker::new().process(&ctx, "cases.ndjson", false, text.as_bytes());
    assert_eq!(report.counts.records_read as usize, lines.len());
    assert_eq!(report.counts.records_invalid, 0);
    let parsed: Vec<_> = report.events.into_iter().filter(|e| e.role == Some(EventRole::Target)).collect();
    assert_eq!(parsed.len(), lines.len(), "every record became an event");

    let mut cases: BTreeMap<String, (Option<Value>, Vec<usize>)> = BTreeMap::new();
    let mut all = Vec::new();
    for (i, (line, mut event)) in lines.iter().zip(parsed).enumerate() {
        let expect = &line["_expect"];
        let target = expect["role"] == "target";
        event.role = Some(if target { EventRole::Target } else { EventRole::Companion });
        if target {
            let case = cases.entry(expect["id"].as_str().unwrap().to_string()).or_default();
            if case.0.is_none() && expect.get("tags").is_some() {
                case.0 = Some(expect.clone());
            }
            case.1.push(i);
        }
        all.push(event);
    }
    let companions = Companions::new(all.iter().collect());
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for (id, (expect, members)) in &cases {
        let expect = expect.as_ref().unwrap_or_else(|| panic!("{id}: no expectation"));
        let targets: Vec<_> = members.iter().map(|&i| &all[i]).collect();
        let d = diagnose_group(&targets, &companions);
        let tags: Vec<&str> = d.causes.iter().map(|c| c.tag).collect();
        let want: Vec<&str> = expect["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(tags, want, "{id}: tags");
        assert_eq!(d.confidence_column(), expect["confidence"].as_str().unwrap_or(""), "{id}: confidence");
        for not in expect["not"].as_array().into_iter().flatten() {
            assert!(!tags.contains(&not.as_str().unwrap()), "{id}: must not be tagged {not}");
        }
        if let Some(facts) = expect.get("facts").and_then(Value::as_array) {
            let want: Vec<&str> = facts.iter().map(|f| f.as_str().unwrap()).collect();
            assert_eq!(d.facts, want, "{id}: facts");
        }
        for needle in expect["evidence"].as_array().into_iter().flatten() {
            assert!(d.evidence.contains(needle.as_str().unwrap()), "{id}: evidence {:?} lacks {needle}", d.evidence);
        }
        for needle in expect["next_steps"].as_array().into_iter().flatten() {
            let n = needle.as_str().unwrap();
            assert!(d.next_steps.iter().any(|s| s.contains(n)), "{id}: no next step contains {n}: {:#?}", d.next_steps);
        }
    }
}

// ---------------------------------------------------------------- explain

/// The corrective policy printed by `explain` (the indented JSON block after its heading).
/// The JSON draft of the remedy whose heading starts with `place` ("identity policy", …).
fn policy_in(text: &str, place: &str) -> Option<Value> {
    let start = text.find(&format!("Remedy ({place}"))?;
    let rest = &text[start..];
    let open = rest.find("\n  {")? + 1;
    let end = rest[open..].find("\n  }")? + open + 4;
    Some(serde_json::from_str(&rest[open..end]).expect("the remedy's draft is valid JSON"))
}

#[test]
fn explain_from_events_parquet_does_not_depend_on_the_order_they_were_written() {
    // One worker and the files named newest first: the Parquet file holds the events in that
    // order, the opposite of the scan's own, and `explain --events` must say the same.
    let mut files: Vec<String> = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(trail())];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                files.push(path.to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files.reverse();
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.parquet");
    let mut args = vec!["scan", "-q", "-j", "1", "--format", "csv", "--events-out", events.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    run(&args);
    let mut live = vec!["explain", "-q", "--group", "3"];
    live.extend(files.iter().map(String::as_str));
    let live = String::from_utf8(run(&live).stdout).unwrap();
    let stored = run(&["explain", "--events", events.to_str().unwrap(), "--group", "3"]);
    assert!(live.contains("## Group 3 of 5"), "{live}");
    assert_eq!(live, String::from_utf8(stored.stdout).unwrap());
}

#[test]
fn explain_from_inputs_and_from_events_parquet_agree() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.parquet");
    let o = run(&["scan", "-q", "--format", "csv", "--events-out", events.to_str().unwrap(), &trail()]);
    assert_eq!(o.status.code(), Some(4));
    let live = run(&["explain", "-q", "--group", "3", &trail()]);
    let stored = run(&["explain", "--events", events.to_str().unwrap(), "--group", "3"]);
    assert_eq!(live.status.code(), Some(4), "the truncated file still makes the run incomplete");
    assert_eq!(stored.status.code(), Some(0));
    let (live, stored) = (String::from_utf8(live.stdout).unwrap(), String::from_utf8(stored.stdout).unwrap());
    assert_eq!(live, stored);
    assert!(live.starts_with("## Group 3 of 5"), "{live}");
    assert!(live.contains("arn:aws:iam::111122223333:user/alice → s3://acme-artifacts/releases/"), "{live}");
    assert!(live.contains("identity-no-allow"), "{live}");
    assert!(
        live.contains("aws iam simulate-principal-policy --policy-source-arn arn:aws:iam::111122223333:user/alice")
    );
    let policy = policy_in(&live, "identity policy").expect("an identity cause gets an identity-policy draft");
    assert_eq!(policy["Version"], "2012-10-17");
    let stmt = &policy["Statement"][0];
    assert_eq!(stmt["Effect"], "Allow");
    assert_eq!(stmt["Action"], json!(["s3:PutObject"]));
    assert_eq!(stmt["Resource"], "arn:aws:s3:::acme-artifacts/releases/*");
    assert!(!live.contains("s3:*"));
}

#[test]
fn explain_kms_group_scopes_the_key_and_rejects_bad_groups() {
    let out = String::from_utf8(run(&["explain", "-q", "--group", "2", &trail()]).stdout).unwrap();
    assert!(out.contains("kms-denied — 100% of events, high confidence"), "{out}");
    // An AWSReservedSSO_ role is fixed in its permission set, and only the KMS permission is
    // missing (S3 authorization already passed).
    assert!(policy_in(&out, "identity policy").is_none(), "{out}");
    let policy = policy_in(&out, "IAM Identity Center permission set").expect("a permission-set draft");
    let statements = policy["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1, "{out}");
    assert_eq!(statements[0]["Action"], json!(["kms:GenerateDataKey"]));
    assert_eq!(
        statements[0]["Resource"],
        "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    );
    assert!(out.contains("provision-permission-set"), "{out}");
    // No Allow fixes a bucket policy's explicit deny: the remedy is the Deny itself, narrowed.
    let ci = String::from_utf8(run(&["explain", "-q", "--group", "1", &trail()]).stdout).unwrap();
    assert!(ci.contains("bucket-policy-deny") && policy_in(&ci, "identity policy").is_none(), "{ci}");
    let deny = policy_in(&ci, "bucket policy").expect("the Deny statement to change");
    assert_eq!(deny["Sid"], "DenyUnencryptedBuildUploads");
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Condition"]["Null"]["s3:x-amz-server-side-encryption"], "false");
    for bad in ["0", "6"] {
        let o = run(&["explain", "-q", "--group", bad, &trail()]);
        assert_eq!(o.status.code(), Some(2), "--group {bad}");
    }
}

// ---------------------------------------------------------------- generated trails

/// An outage (half the records denied writes): every denial is counted exactly, the groups
/// too large to diagnose event by event say so in the estimated column and on stderr, and the
/// same scan with one thread or two gives the same report.
#[test]
fn an_outage_trail_is_counted_exactly_and_says_what_is_estimated() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = denytrail_synth::SynthOptions::new(dir.path().to_path_buf(), 8 << 20);
    (opts.max_file_bytes, opts.seed, opts.denied_ratio) = (1 << 20, 11, 0.5);
    let summary = serde_json::to_value(denytrail_synth::generate(&opts).unwrap()).unwrap();
    let path = dir.path().to_str().unwrap();
    let o = run(&["scan", "-f", "json", "-j", "2", path]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = r["groups"].as_array().unwrap();
    let denied: u64 = groups.iter().map(|g| g["denied"].as_u64().unwrap()).sum();
    assert_eq!(denied, summary["denied_writes"].as_u64().unwrap(), "every denial counted once");
    let estimated = groups.iter().filter(|g| g["estimated"].as_str().unwrap().contains("causes")).count();
    assert!(estimated > 0, "a group of thousands of denials is diagnosed from exemplars");
    assert!(groups.iter().all(|g| !g["causes"].as_str().unwrap().is_empty()), "every group gets causes");
    assert!(stderr(&o).contains(&format!("{estimated} group(s) too large to count exactly")), "{}", stderr(&o));
    let (_, one) = scan_json(&["-j", "1", path]);
    assert_eq!(one["groups"], r["groups"], "the same report whatever the worker order");
}

/// `explain` holds at most `DENYTRAIL_EXPLAIN_HELD` denials whole; a group past that is
/// explained from its tally, as the scan's report diagnoses it: the same text where the tally
/// holds every denial (but the count of each operation), and said to be read from a sample
/// where it does not, exactly for the groups whose causes the report marks estimated.
#[test]
fn explain_reads_the_groups_too_large_to_hold_from_their_tallies() {
    let explain = |held: &str, path: &str| {
        let o = bin().args(["explain", "-q", path]).env("DENYTRAIL_EXPLAIN_HELD", held).output().unwrap();
        (o.status.code(), String::from_utf8(o.stdout).unwrap())
    };
    // " ×16": the count of an operation, which only a group read whole has.
    let without_op_counts = |text: &str| {
        let mut out = String::new();
        let mut parts = text.split(" ×");
        out.push_str(parts.next().unwrap_or(""));
        for part in parts {
            out.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
        }
        out
    };
    let (status, whole) = explain("1000000", &trail());
    let (tallied_status, tallied) = explain("0", &trail());
    assert_eq!((tallied_status, status), (Some(4), Some(4)), "testdata holds a truncated file");
    assert!(whole.contains("PutObject ×16"), "{whole}");
    assert_eq!(tallied, without_op_counts(&whole));
    assert!(!tallied.contains("Read from a sample"));

    let dir = tempfile::tempdir().unwrap();
    let mut opts = denytrail_synth::SynthOptions::new(dir.path().to_path_buf(), 8 << 20);
    (opts.max_file_bytes, opts.seed, opts.denied_ratio) = (1 << 20, 11, 0.5);
    denytrail_synth::generate(&opts).unwrap();
    let path = dir.path().to_str().unwrap();
    let (_, report) = scan_json(&[path]);
    let groups = report["groups"].as_array().unwrap();
    let estimated = groups.iter().filter(|g| g["estimated"].as_str().unwrap().contains("causes")).count();
    assert!(estimated > 0);
    let (status, tallied) = explain("0", path);
    assert_eq!(status, Some(0));
    assert_eq!(tallied.matches("## Group ").count(), groups.len());
    assert_eq!(tallied.matches("Read from a sample").count(), estimated, "{tallied}");
    let (_, whole) = explain("1000000", path);
    assert_eq!(whole.matches("## Group ").count(), groups.len());
    assert!(!whole.contains("Read from a sample"));
    let o = bin().args(["explain", path]).env("DENYTRAIL_EXPLAIN_HELD", "lots").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("DENYTRAIL_EXPLAIN_HELD must be a number"), "{}", stderr(&o));
}

#[test]
fn synthetic_trail_is_fully_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = denytrail_synth::SynthOptions::new(dir.path().to_path_buf(), 24 << 20);
    (opts.max_file_bytes, opts.seed) = (2 << 20, 7);
    let summary = serde_json::to_value(denytrail_synth::generate(&opts).unwrap()).unwrap();
    for threads in ["1", "2"] {
        let (code, r) = scan_json(&["-j", threads, dir.path().to_str().unwrap()]);
        assert_eq!(code, 0);
        let s = &r["stats"];
        assert_eq!(s["files_read"].as_u64().unwrap(), summary["files"].as_u64().unwrap());
        assert_eq!(s["records_read"].as_u64().unwrap(), summary["records"].as_u64().unwrap());
        assert_eq!(
            s["records_matched"].as_u64().unwrap(),
            summary["denied_writes"].as_u64().unwrap(),
            "every denied write is found, nothing else"
        );
        assert_eq!(s["bytes_decompressed"].as_u64().unwrap(), summary["bytes_decompressed"].as_u64().unwrap());
        assert_eq!(s["bytes_compressed"].as_u64().unwrap(), summary["bytes_compressed"].as_u64().unwrap());
        assert!(
            s["records_parsed"].as_u64().unwrap() * 10 < s["records_read"].as_u64().unwrap(),
            "the prefilter skips most records"
        );
        let groups = r["groups"].as_array().unwrap();
        assert!(groups.len() > 5);
        let denied: u64 = groups.iter().map(|g| g["denied"].as_u64().unwrap()).sum();
        assert_eq!(denied, s["events_unique"].as_u64().unwrap());
    }
}

#[test]
fn events_out_holds_every_kept_event_and_field() {
    use polars::prelude::{ParquetReader, SerReader};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let (_, r) = scan_json(&["--events-out", path.to_str().unwrap(), &trail()]);
    let df = ParquetReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap();
    let s = &r["stats"];
    let roles = df.column("role").unwrap().str().unwrap().clone();
    let targets = roles.iter().filter(|r| *r == Some("target")).count() as u64;
    assert_eq!(targets, s["events_unique"].as_u64().unwrap());
    assert!(df.height() as u64 > targets, "companion events are kept too");
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    for column in [
        "event_time",
        "event_id",
        "principal",
        "bucket",
        "key",
        "prefix",
        "user_agent",
        "error_message",
        "sse_kms_key_id",
        "vpc_endpoint_id",
        "issued_access_key_id",
        "source_object",
    ] {
        assert!(names.contains(&column.to_string()), "{column} missing from {names:?}");
    }
}

/// Runs the binary with a pseudo-terminal as stdin/stdout/stderr (util-linux `script`).
fn run_in_pty(args: &str) -> String {
    let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_denytrail"));
    let o = Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().expect("util-linux `script` is needed");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn progress_bar_only_on_a_terminal_and_never_with_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.csv");
    let shown = run_in_pty(&format!("scan {} -o {}", trail(), out.display()));
    assert!(shown.contains("ETA") && shown.contains("objects "), "{shown:?}");
    let quiet = run_in_pty(&format!("scan -q {} -o {}", trail(), out.display()));
    assert!(!quiet.contains("ETA") && !quiet.contains("objects "), "{quiet:?}");
    assert!(quiet.trim().is_empty(), "{quiet:?}");
}

#[test]
fn decode_only_reads_the_same_bytes_and_stops_there() {
    let (_, full) = scan_json(&[&trail()]);
    let (code, only) = scan_json(&["--decode-only", &trail()]);
    assert_eq!(code, 4, "the truncated file still fails");
    // The README is plain text: decode-only reads it whole, the scan stops at its first byte.
    let (f, o) = (&full["stats"], &only["stats"]);
    assert!(o["bytes_decompressed"].as_u64() >= f["bytes_decompressed"].as_u64());
    assert_eq!(o["records_read"], 0);
    assert_eq!(only["groups"], json!([]));
}

// ---------------------------------------------------------------- the plan is checked before any I/O

#[test]
fn bad_flags_are_refused_before_any_io() {
    // The baseline and the output name an S3 endpoint that does not answer: a plan checked first
    // refuses the bad --since at once, without trying to reach it.
    let o = run(&[
        "scan",
        "--since",
        "yesterday-ish",
        "--baseline",
        "s3://no-such-bucket/b.parquet",
        "--endpoint-url",
        "http://127.0.0.1:9",
        &trail(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("'yesterday-ish' is not a time"), "{err}");

    // A flag the command does not take is refused by the parser, with the command that takes it.
    for (command, flag) in [("explain", "--timeline=5m"), ("explain", "--output=r.csv"), ("query", "--baseline=b")] {
        let mut args = vec![command, flag];
        if command == "query" {
            args.extend(["--sql", "SELECT 1"]);
        }
        let t = trail();
        args.push(&t);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{command} {flag}");
        let err = stderr(&o);
        let name = flag.split('=').next().unwrap();
        assert!(err.contains(&format!("{name} is for `denytrail scan`; `denytrail {command}`")), "{err}");
    }
    // Other unknown flags keep clap's own message.
    let o = run(&["query", "--sql", "SELECT 1", "--fail-on-findings", &trail()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unexpected argument '--fail-on-findings'"), "{}", stderr(&o));
}

// ---------------------------------------------------------------- closed stdout

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let t = trail();
    let mut runs: Vec<Vec<&str>> = Vec::new();
    for format in ["table", "csv", "json", "ndjson", "markdown", "html"] {
        runs.push(vec!["scan", "-q", "-f", format, &t]);
        runs.push(vec!["scan", "-q", "-f", format, "--timeline", "1h", &t]);
    }
    runs.push(vec!["explain", "-q", &t]);
    runs.push(vec!["query", "-q", "-f", "csv", "--sql", "SELECT * FROM events", &t]);
    for args in runs {
        let mut child = bin().args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // The reader goes away before the first byte is written, as `| head -c0` would.
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(o.stderr.is_empty(), "{args:?} is not quiet: {}", stderr(&o));
    }
}

// ---------------------------------------------------------------- Ctrl-C

#[test]
fn ctrl_c_exits_130_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.csv");
    // Reading stdin that never ends: the scan is running when the signal comes.
    let mut child = bin()
        .args([
            "scan",
            "-",
            "-o",
            out.to_str().unwrap(),
            "--events-out",
            dir.path().join("e.parquet").to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(record("a", "k", "ua").to_string().as_bytes()).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

/// The same trail read twice (a symlinked second copy): with the identities spilled to disk
/// from the first (`DENYTRAIL_SEEN_LIMIT=0`), and the bucket owners' copies of cross-account
/// requests with them, every repeat is still dropped, every owner's copy whose caller's copy was
/// read is withdrawn, and the report is the one a scan holding them all in memory writes.
#[test]
fn identities_spilled_to_disk_drop_repeats_as_held_ones_do() {
    let dir = tempfile::tempdir().unwrap();
    let again = trail_again(dir.path());
    let report = |limit: Option<&str>| {
        let mut c = bin();
        c.args(["scan", "--format", "json", "-q", &trail(), &again]);
        if let Some(limit) = limit {
            c.env("DENYTRAIL_SEEN_LIMIT", limit);
        }
        let o = c.output().unwrap();
        let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["stats"]["elapsed_seconds"] = json!(0);
        (o.status.code(), v)
    };
    let (held_status, held) = report(None);
    let (spilled_status, spilled) = report(Some("0"));
    assert_eq!(spilled_status, held_status);
    assert_eq!(spilled, held);
    // Every denial once, and the second copy's records all repeats.
    let (_, once) = scan_json(&[&trail()]);
    let n = |v: &Value, k: &str| v["stats"][k].as_u64().unwrap();
    assert!(n(&once, "events_unique") > 10);
    assert_eq!(n(&spilled, "events_unique"), n(&once, "events_unique"));
    assert_eq!(n(&spilled, "duplicates_dropped"), 2 * n(&once, "duplicates_dropped") + n(&once, "events_unique"));
    // A limit that is not a number is a usage error, found with the flags: before `--trail`
    // would ask AWS (here a closed port) for the trail's bucket.
    for args in [
        &["scan", "-q", "--trail", "t", "--endpoint-url", "http://127.0.0.1:9", "--aws-region", "us-east-1"][..],
        &["merge", "-q", "/nonexistent/*.partial"],
    ] {
        let o = bin().args(args).env("DENYTRAIL_SEEN_LIMIT", "lots").output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("DENYTRAIL_SEEN_LIMIT") && err.contains("\"lots\""), "{err}");
    }
}
