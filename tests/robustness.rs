//! Every bad input of docs/robustness.md, with what denytrail does about it: each case sits
//! beside one good log file in a folder that is scanned, and the case's own outcome (read,
//! skipped why, failed why; records kept or refused) and the exit status are asserted.

mod common;

use std::path::Path;

use common::*;
use serde_json::{Value, json};

/// One denied write under the folder `folder/` (so each case's records form their own group):
/// the good file beside every case, and the record the cases are built from.
fn denial(id: &str, folder: &str) -> Value {
    record(id, &format!("{folder}/object"), "aws-cli/2")
}

fn doc(records: &[Value]) -> Vec<u8> {
    json!({ "Records": records }).to_string().into_bytes()
}

/// The outcome of one case, from the report of its folder (the good file's share removed).
#[derive(Debug)]
struct Outcome {
    code: i32,
    stats: Value,
    groups: Vec<Value>,
}

impl Outcome {
    fn failed(&self, name: &str) -> Option<String> {
        self.stats["failed"]
            .as_array()?
            .iter()
            .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .map(|f| f["error"].as_str().unwrap_or_default().to_string())
    }
    fn skipped(&self, reason: &str) -> u64 {
        self.stats["skipped_by_reason"][reason].as_u64().unwrap_or(0)
    }
    /// `records_read` etc. of the case alone (the good file holds one record, one match).
    fn count(&self, field: &str) -> u64 {
        let good = match field {
            "records_read" | "records_parsed" | "records_matched" | "events_unique" | "files_read" => 1,
            _ => 0,
        };
        self.stats[field].as_u64().unwrap() - good
    }
    /// The folders of the groups the case's records made (the good file's left out).
    fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .groups
            .iter()
            .map(|g| g["prefix"].as_str().unwrap().trim_end_matches('/').to_string())
            .filter(|k| k != "good")
            .collect();
        keys.sort();
        keys
    }
}

/// Writes `files` beside the good file and scans the folder.
fn scan_case(files: &[(&str, Vec<u8>)], extra: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.json", &doc(&[denial("good", "good")]));
    for (name, bytes) in files {
        write(dir.path(), name, bytes);
    }
    scan_dir(dir.path(), extra)
}

fn scan_dir(dir: &Path, extra: &[&str]) -> Outcome {
    let mut args = vec!["scan", "-f", "json", "-q"];
    args.extend_from_slice(extra);
    if !extra.contains(&"--max-decompressed") {
        args.extend(["--max-decompressed", "10MiB"]);
    }
    let d = dir.to_str().unwrap().to_string();
    args.push(&d);
    let o = run(&args);
    let report: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&o.stderr)));
    Outcome {
        code: o.status.code().unwrap(),
        stats: report["stats"].clone(),
        groups: report["groups"].as_array().unwrap().clone(),
    }
}

#[test]
fn broken_gzip_fails_the_file_and_the_scan_goes_on() {
    let gz = gzip(&doc(&[denial("a", "a")]));
    let o = scan_case(&[("cut.json.gz", gz[..gz.len() * 6 / 10].to_vec())], &[]);
    assert_eq!(o.code, 4);
    assert!(o.failed("cut.json.gz").unwrap().starts_with("truncated gzip"), "{o:?}");

    let mut bad = gz.clone();
    bad[20] ^= 0xff;
    bad[25] ^= 0xff;
    let o = scan_case(&[("corrupt.json.gz", bad)], &[]);
    assert_eq!(o.code, 4);
    assert!(o.failed("corrupt.json.gz").unwrap().starts_with("bad gzip"), "{o:?}");
}

#[test]
fn a_gzip_bomb_stops_at_the_limit() {
    // 50 MiB of blanks in 50 KB: stopped at --max-decompressed (10 MiB here, 4 GiB by default).
    let o = scan_case(&[("bomb.json.gz", gzip(&vec![b' '; 50 << 20]))], &[]);
    assert_eq!(o.code, 4);
    assert!(o.failed("bomb.json.gz").unwrap().contains("exceeds the limit of 10485760 bytes"), "{o:?}");
}

#[test]
fn concatenated_gzip_members_are_all_read() {
    let mut two = gzip(&doc(&[denial("a", "m1")]));
    two.extend(gzip(&doc(&[denial("b", "m2")])));
    let o = scan_case(&[("two.json.gz", two)], &[]);
    assert_eq!((o.code, o.count("records_read"), o.keys()), (0, 2, vec!["m1".into(), "m2".into()]));
}

#[test]
fn non_json_fails_when_it_claims_to_be_a_log_and_is_skipped_otherwise() {
    let o = scan_case(&[("notes.json", b"hello, not json".to_vec()), ("notes.txt", b"hello".to_vec())], &[]);
    assert_eq!(o.code, 4);
    assert!(o.failed("notes.json").unwrap().starts_with("invalid JSON"), "{o:?}");
    assert_eq!(o.skipped("not a log file"), 1);
}

#[test]
fn deep_nesting_is_refused_in_constant_memory() {
    let mut deep = vec![b'['; 200_000];
    deep.extend(vec![b']'; 200_000]);
    let o = scan_case(&[("deep.json", deep)], &[]);
    assert_eq!(o.code, 4);
    assert!(o.failed("deep.json").unwrap().contains("nested too deeply"), "{o:?}");
}

#[test]
fn a_record_over_the_size_limit_fails_its_file() {
    let mut big = denial("big", "big");
    big["userAgent"] = json!("a".repeat(65 << 20));
    let o = scan_case(&[("big.json.gz", gzip(&doc(&[big])))], &["--max-decompressed", "1GiB"]);
    assert_eq!(o.code, 4);
    assert!(o.failed("big.json.gz").unwrap().contains("a record is larger than"), "{o:?}");
    let mut under = denial("under", "under");
    under["userAgent"] = json!("a".repeat(60 << 20));
    let o = scan_case(&[("under.json.gz", gzip(&doc(&[under])))], &["--max-decompressed", "1GiB"]);
    assert_eq!((o.code, o.keys()), (0, vec!["under".to_string()]), "a record under the limit is read");
}

#[test]
fn broken_records_are_counted_invalid_and_the_rest_is_read() {
    let good = denial("ok", "ok").to_string();
    // A raw NUL in a string, and invalid UTF-8 in a key: each record is refused alone.
    let mut nul = denial("nul", "nul").to_string().into_bytes();
    let at = nul.windows(11).position(|w| w == b"\"nul/object").unwrap() + 2;
    nul.insert(at, 0);
    let mut utf8 = denial("utf8", "utf8").to_string().into_bytes();
    let at = utf8.windows(11).position(|w| w == b"utf8/object").unwrap() + 4;
    utf8[at] = 0xff; // the '/' of the key becomes a byte that is not UTF-8
    let mut ndjson = Vec::new();
    for line in [good.as_bytes(), &nul, &utf8] {
        ndjson.extend_from_slice(line);
        ndjson.push(b'\n');
    }
    let o = scan_case(&[("mixed.ndjson", ndjson)], &[]);
    assert_eq!(o.code, 0);
    assert_eq!((o.count("records_read"), o.count("records_invalid"), o.count("events_unique")), (3, 2, 1), "{o:?}");
    assert_eq!(o.keys(), ["ok"]);
}

#[test]
fn bom_crlf_and_duplicate_keys_read_as_json_does() {
    let mut bom = b"\xef\xbb\xbf".to_vec();
    bom.extend(doc(&[denial("bom", "bom")]));
    let crlf = format!("{}\r\n{}\r\n", denial("c1", "crlf1"), denial("c2", "crlf2")).into_bytes();
    // The first of two `eventID`s and of two `key`s is the one read.
    let dup = denial("first", "first").to_string().replacen(
        "\"eventID\":\"first\"",
        "\"eventID\":\"first\",\"eventID\":\"second\"",
        1,
    );
    let dup = dup.replacen("\"key\":\"first/object\"", "\"key\":\"first/object\",\"key\":\"second/object\"", 1);
    let o = scan_case(&[("bom.json", bom), ("crlf.ndjson", crlf.clone()), ("dup.json", dup.into_bytes())], &[]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.count("records_invalid"), 0, "{o:?}");
    assert_eq!(o.keys(), ["bom", "crlf1", "crlf2", "first"], "{o:?}");
    let first = o.groups.iter().find(|g| g["prefix"] == "first/").unwrap();
    assert_eq!(first["sample_event_id"], "first");
    assert_eq!(o.count("events_unique"), 4);
}

#[test]
fn wrong_types_in_every_field_read_become_absent() {
    // Every field the parser reads, with a type CloudTrail never writes there.
    let mut r = denial("7", "k");
    for (field, value) in [
        ("eventID", json!(7)),
        ("eventTime", json!(12)),
        ("userIdentity", json!("x")),
        ("requestParameters", json!([1])),
        ("errorMessage", json!({"a": 1})),
        ("resources", json!("r")),
        ("sourceIPAddress", json!(false)),
        ("userAgent", json!(null)),
        ("additionalEventData", json!(3)),
        ("tlsDetails", json!([])),
        ("recipientAccountId", json!({})),
        ("sharedEventID", json!(1.5)),
        ("vpcEndpointId", json!([null])),
    ] {
        r[field] = value;
    }
    let o = scan_case(&[("types.json", doc(&[r]))], &[]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!((o.count("records_read"), o.count("records_invalid"), o.count("events_unique")), (1, 0, 1));
    let g = o.groups.iter().find(|g| g["prefix"] != "good/").unwrap();
    assert_eq!(g["principal"], "unknown Unknown", "the principal is never empty: {g}");
    assert_eq!(g["bucket"], "", "{g}");
}

#[test]
fn empty_files_are_skipped_as_holding_no_records() {
    let o = scan_case(
        &[("empty.json", Vec::new()), ("empty.json.gz", gzip(b"")), ("blank.ndjson", b"\n\r\n  \n".to_vec())],
        &[],
    );
    assert_eq!(o.code, 0);
    assert_eq!(o.skipped("no CloudTrail records"), 3, "{o:?}");
    assert_eq!(o.count("files_read"), 0);
}

#[cfg(unix)]
#[test]
fn fifos_symlink_loops_and_dangling_links() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.json", &doc(&[denial("good", "good")]));
    let fifo = dir.path().join("pipe.json");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    std::os::unix::fs::symlink(".", dir.path().join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("good.json"), dir.path().join("link.json")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/x", dir.path().join("dangling.json")).unwrap();
    let o = scan_dir(dir.path(), &[]);
    // A FIFO met in a walk is not opened (it could block forever), a loop is not followed, a
    // link to a file is read (its event counts once), a dangling link cannot be read.
    assert_eq!(o.skipped("not a regular file"), 1, "{o:?}");
    assert_eq!(o.skipped("symlink loop"), 1, "{o:?}");
    assert_eq!(o.stats["files_read"], 2, "good.json and the link to it: {o:?}");
    assert_eq!(o.stats["events_unique"], 1);
    assert!(o.failed("dangling.json").unwrap().starts_with("cannot read"), "{o:?}");
    assert_eq!(o.code, 4);

    // A FIFO named as an INPUT is read, as `denytrail scan <(zcat …)` needs.
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, doc(&[denial("piped", "piped")])).unwrap())
    };
    let out = run(&["scan", "-f", "json", "-q", fifo.to_str().unwrap()]);
    writer.join().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(r["groups"][0]["prefix"], "piped/");
}

#[test]
fn a_hundred_thousand_empty_files_are_each_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "good.json", &doc(&[denial("good", "good")]));
    let many = dir.path().join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..100_000 {
        std::fs::File::create(many.join(format!("{i:06}.json"))).unwrap();
    }
    let o = scan_dir(dir.path(), &[]);
    assert_eq!(o.code, 0);
    assert_eq!(o.stats["files_seen"], 100_001);
    assert_eq!(o.skipped("no CloudTrail records"), 100_000);
    assert_eq!(o.stats["events_unique"], 1);
}
