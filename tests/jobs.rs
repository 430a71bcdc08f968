//! The nightly and forensic workflows end to end: `--baseline`, `--timeline`, `--format html`
//! (checked in a real headless Chromium), and `denytrail query --sql`.
//!
//! `--output s3://` is tested against a real S3 server in tests/s3.rs.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

mod common;
use common::*;

/// A denied PutObject by IAM user `user` on `key` of `bucket` at `time` (RFC 3339).
fn denial(id: &str, user: &str, bucket: &str, key: &str, time: &str) -> Value {
    let mut r = record(id, key, "aws-cli/2.15");
    r["userIdentity"]["arn"] = json!(format!("arn:aws:iam::111122223333:user/{user}"));
    r["userIdentity"]["userName"] = json!(user);
    r["eventTime"] = json!(time);
    r["requestParameters"]["bucketName"] = json!(bucket);
    r["resources"][0]["ARN"] = json!(format!("arn:aws:s3:::{bucket}/{key}"));
    r["resources"][1]["ARN"] = json!(format!("arn:aws:s3:::{bucket}"));
    r
}

/// Writes one delivery file holding `records` into a fresh folder under `dir`.
fn night(dir: &Path, name: &str, records: Vec<Value>) -> String {
    let bytes = gzip(&serde_json::to_vec(&json!({ "Records": records })).unwrap());
    let path = write(&dir.join(name), "111122223333_CloudTrail_us-east-1_20261121T0900Z_x.json.gz", &bytes);
    Path::new(&path).parent().unwrap().display().to_string()
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let user = g["principal"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
            (g["status"].as_str().unwrap_or("").to_string(), user)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Nightly: --baseline

#[test]
fn baseline_marks_groups_new_ongoing_and_resolved_new_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t = "2026-11-21T09:00:00Z";
    let monday = night(
        d,
        "mon",
        vec![
            denial("m1", "alice", "b", "a/1", t),
            denial("m2", "alice", "b", "a/2", t),
            denial("m3", "bob", "b", "x/1", t),
        ],
    );
    let tuesday = night(d, "tue", vec![denial("t1", "alice", "b", "a/3", t), denial("t2", "carol", "b", "c/1", t)]);
    let base = d.join("mon.parquet").display().to_string();
    let o = run(&["scan", "-q", "-f", "parquet", "-o", &base, &monday]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // New first, then ongoing, then resolved (the baseline's row, with its counts).
    let o = run(&["scan", "-f", "json", "--baseline", &base, &tuesday]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let want = [("new", "carol"), ("ongoing", "alice"), ("resolved", "bob")];
    assert_eq!(statuses(&report), want.map(|(s, u)| (s.to_string(), u.to_string())));
    assert_eq!(report["groups"][1]["denied"], 1, "ongoing groups carry tonight's counts");
    assert_eq!(report["groups"][2]["denied"], 1, "resolved groups keep the baseline's counts");
    assert!(stderr(&o).contains("since the baseline: 1 new, 1 ongoing, 1 resolved"), "{}", stderr(&o));
    let csv = String::from_utf8(run(&["scan", "-q", "-f", "csv", "--baseline", &base, &tuesday]).stdout).unwrap();
    assert!(csv.starts_with("status,principal,") && csv.lines().nth(1).unwrap().starts_with("new,"), "{csv}");

    // Findings exist (new and ongoing): exit 3 with --fail-on-findings.
    let o = run(&["scan", "-q", "-f", "json", "--fail-on-findings", "--baseline", &base, &tuesday]);
    assert_eq!(o.status.code(), Some(3));

    // Tuesday's report (with bob resolved) is Wednesday's baseline: bob is history by then.
    let tue_base = d.join("tue.parquet").display().to_string();
    let o = run(&["scan", "-q", "-o", &tue_base, "--baseline", &base, &tuesday]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (_, report) = scan_json(&["--baseline", &tue_base, &tuesday]);
    let want = [("ongoing", "alice"), ("ongoing", "carol")];
    assert_eq!(statuses(&report), want.map(|(s, u)| (s.to_string(), u.to_string())));

    // A quiet night: only resolved groups, which are not findings.
    let quiet = write(&d.join("wed"), "empty.json", br#"{"Records":[]}"#);
    let o = run(&["scan", "-q", "-f", "json", "--fail-on-findings", "--baseline", &tue_base, &quiet]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(statuses(&report).iter().all(|(s, _)| s == "resolved"), "{report}");

    // The first night of a job: no baseline yet, every group is new, and a warning says so.
    let o = run(&["scan", "-f", "json", "--baseline", &d.join("none.parquet").display().to_string(), &tuesday]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("does not exist yet: every group is new"), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(statuses(&report).iter().all(|(s, _)| s == "new"));

    // Something that is not a report: one line, exit 1, before any scanning.
    let not_parquet = write(d, "notes.parquet", b"hello");
    let o = run(&["scan", "-q", "--baseline", &not_parquet, &tuesday]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a Parquet file"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// Forensic: --timeline

/// alice is denied every minute from 09:00 to 09:19, bob at 09:10, and alice once more at 11:02.
fn outage(dir: &Path) -> String {
    let mut recs: Vec<Value> = (0..20)
        .map(|m| denial(&format!("a{m}"), "alice", "b", &format!("out/{m}"), &format!("2026-11-21T09:{m:02}:30Z")))
        .collect();
    recs.push(denial("b1", "bob", "b", "other/1", "2026-11-21T09:10:00Z"));
    recs.push(denial("a99", "alice", "b", "out/99", "2026-11-21T11:02:00Z"));
    night(dir, "outage", recs)
}

#[test]
fn timeline_shows_when_an_outage_began_and_ended() {
    let dir = tempfile::tempdir().unwrap();
    let trail = outage(dir.path());

    let o = run(&["scan", "-q", "-f", "csv", "--timeline", "5m", &trail]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let points: Vec<(String, String, u64)> = rows
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].rsplit('/').next().unwrap().to_string(), r[4].parse().unwrap())
        })
        .collect();
    // 09:00 .. 11:00 in 5-minute buckets, every group in every bucket, quiet ones as zeros.
    assert_eq!(points.first().unwrap().0, "2026-11-21T09:00:00Z");
    assert_eq!(points.last().unwrap().0, "2026-11-21T11:00:00Z");
    assert_eq!(points.len(), 25 * 2);
    let alice: Vec<u64> = points.iter().filter(|p| p.1 == "alice").map(|p| p.2).collect();
    assert_eq!(&alice[..5], &[5, 5, 5, 5, 0]);
    assert_eq!(alice.iter().sum::<u64>(), 21);
    assert_eq!(alice[24], 1);
    let bob: Vec<(String, u64)> =
        points.iter().filter(|p| p.1 == "bob" && p.2 > 0).map(|p| (p.0.clone(), p.2)).collect();
    assert_eq!(bob, vec![("2026-11-21T09:10:00Z".to_string(), 1)]);

    // The terminal view: a header, one bar per busy bucket, the quiet stretch folded.
    let o =
        bin().args(["scan", "-q", "-f", "table", "--timeline", "5m", &trail]).env("COLUMNS", "100").output().unwrap();
    let view = String::from_utf8(o.stdout).unwrap();
    assert!(view.starts_with("Denials per 5m (UTC), 2026-11-21 09:00 to 2026-11-21 11:05"), "{view}");
    let bars: Vec<&str> = view.lines().filter(|l| l.contains('█')).collect();
    assert_eq!(bars.len(), 5, "{view}");
    assert!(bars[2].starts_with("2026-11-21 09:10      6     5     1  "), "{view}");
    assert!(view.contains("(no denials for 1h40m)"), "{view}");
    assert!(view.lines().all(|l| l.chars().count() <= 100), "{view}");

    // Widths: nonsense is a usage error; a too-fine width for the span gives way, with a warning.
    let o = run(&["scan", "-q", "--timeline", "0s", &trail]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("narrower than one second"), "{}", stderr(&o));
    let o = run(&["scan", "-f", "json", "--timeline", "1s", &trail]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("would make more than 5000 buckets; using 5s"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// HTML, in a real browser

fn browser_python() -> String {
    std::env::var("DENYTRAIL_BROWSER_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        let venv = format!("{home}/.cache/denytrail-venv/bin/python");
        assert!(
            Path::new(&venv).exists() && Path::new("/usr/bin/chromium").exists(),
            "the HTML test needs Debian's chromium and Selenium: run scripts/browser.sh (scripts/test does)"
        );
        venv
    })
}

fn check_in_browser(report: &Path, expected: Value) -> String {
    let exp = report.with_extension("expected.json");
    std::fs::write(&exp, expected.to_string()).unwrap();
    let script = root().join("tests/browser/check_report.py");
    let o = Command::new(browser_python())
        .arg(script)
        .arg(report)
        .arg(&exp)
        .arg("--screenshot")
        .arg(report.with_extension("png"))
        .output()
        .expect("run the browser check");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(0), "browser check failed:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
    out
}

#[test]
fn html_report_renders_sorts_and_stays_inert_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut recs: Vec<Value> = (0..6)
        .map(|i| {
            denial(
                &format!("x{i}"),
                "alice",
                "b",
                &format!("<script>window.__pwned=1</script>/{i}"),
                "2026-11-21T09:00:00Z",
            )
        })
        .collect();
    recs.push(denial("y", "bob\"><img src=x onerror=window.__pwned=1>", "b", "k/1", "2026-11-21T10:00:00Z"));
    recs.push(denial("z", "eve", "c", "\u{1b}]0;pwned\u{7}\u{202e}/1", "2026-11-21T11:30:00Z"));
    recs.push(denial("z2", "eve", "c", "<script>alert(1)</script>", "2026-11-21T11:31:00Z"));
    let trail = night(d, "hostile", recs);
    let html = d.join("report.html");
    let o = run(&["scan", "-q", "-o", html.to_str().unwrap(), &trail]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains('\u{1b}') && !page.contains('\u{202e}'));
    assert_eq!(page.matches("<script").count(), 1, "only the page's own script");
    let out = check_in_browser(&html, json!({"groups": 4, "hostile": "<script>alert(1)</script>"}));
    assert!(out.starts_with("ok: "), "{out}");

    // One scan, several outputs, each in the format its extension names.
    let (page, table, rows) = (d.join("all.html"), d.join("all.parquet"), d.join("all.csv"));
    let o = run(&[
        "scan",
        "-q",
        "-o",
        page.to_str().unwrap(),
        "-o",
        table.to_str().unwrap(),
        "-o",
        rows.to_str().unwrap(),
        &trail,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(std::fs::read_to_string(&page).unwrap().starts_with("<!DOCTYPE html>"));
    assert!(std::fs::read(&table).unwrap().starts_with(b"PAR1"));
    assert!(std::fs::read_to_string(&rows).unwrap().starts_with("principal,principal_type,"));

    // The bundled trail, with its failed file: the page says the report is incomplete.
    let html = d.join("testdata.html");
    let o = run(&["scan", "-q", "-f", "html", "-o", html.to_str().unwrap(), &common::trail()]);
    assert_eq!(o.status.code(), Some(4));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Incomplete"), "the failed input is announced");
    check_in_browser(&html, json!({"groups": 5, "hostile": "acme-artifacts"}));
}

// ---------------------------------------------------------------------------------------------
// Forensic: query --sql

/// The whole events table, in a fixed order, as CSV.
const ALL_EVENTS: &str = "SELECT * FROM events ORDER BY event_time, event_id, source_object, key, role";

#[test]
fn query_spools_the_same_events_table_a_saved_file_holds() {
    // `query` over a scan spools its events to Parquet as `--events-out` writes them: the two
    // tables are one, row for row, and the caller's copy of a cross-account request carries
    // the owner account learned from the owner's copy (the report's groups name it too).
    // One worker reads the files in listing order, so a record delivered in two files is read
    // from the same one each time: the tables are equal byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.parquet").display().to_string();
    let table = |args: &[&str]| {
        let o = run(&[&["query", "-q", "-f", "csv"], args].concat());
        assert_eq!(o.status.code().map(|c| c == 0 || c == 4), Some(true), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    run(&["scan", "-q", "-j", "1", "--events-out", &events, &trail()]);
    let scanned = table(&["-j", "1", "--sql", ALL_EVENTS, &trail()]);
    let saved = table(&["--events", &events, "--sql", ALL_EVENTS]);
    assert_eq!(scanned, saved);

    // A saved file holding every row twice (the table and itself): its copy keeps one row per
    // denial, whether the identities are held or wait on disk (the repeats then taken back
    // from the copy at the end).
    let twice = dir.path().join("twice.parquet").display().to_string();
    let all_twice = "SELECT * FROM events UNION ALL SELECT * FROM events";
    let o = run(&["query", "-q", "-f", "parquet", "-o", &twice, "--events", &events, "--sql", all_twice]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let targets = "SELECT * FROM events WHERE role = 'target' ORDER BY event_time, event_id, key";
    let once = table(&["--events", &events, "--sql", targets]);
    assert!(once.lines().count() > 10, "{once}");
    for limit in ["0", "65536"] {
        let o = bin()
            .args(["query", "-q", "-f", "csv", "--events", &twice, "--sql", targets])
            .env("DENYTRAIL_SEEN_LIMIT", limit)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(String::from_utf8(o.stdout).unwrap(), once, "limit {limit}");
    }

    // With more workers, which of the two files a repeated record is read from first is a race
    // (the row is written when it is read, never held for the other copy): every other column
    // is the same, and a denial's `source_object` names a file that holds it.
    let but_source = "SELECT * EXCLUDE (source_object) FROM events \
                      ORDER BY event_time, event_id, key, role, principal";
    let one_worker = table(&["-j", "1", "--sql", but_source, &trail()]);
    let parallel = dir.path().join("parallel.parquet").display().to_string();
    run(&["scan", "-q", "-j", "4", "--events-out", &parallel, &trail()]);
    assert_eq!(table(&["-j", "4", "--sql", but_source, &trail()]), one_worker);
    assert_eq!(table(&["--events", &parallel, "--sql", but_source]), one_worker);
    let sources =
        table(&["--events", &parallel, "--sql", "SELECT event_id, source_object FROM events WHERE role = 'target'"]);
    for line in sources.lines().skip(1) {
        let (id, file) = line.split_once(',').unwrap();
        let text = common::gunzip(file);
        assert!(text.contains(id), "{file} does not hold {id}");
    }
    let (_, report) = scan_json(&[&trail()]);
    let denied: u64 = report["groups"].as_array().unwrap().iter().map(|g| g["denied"].as_u64().unwrap()).sum();
    assert_eq!(scanned.lines().filter(|l| l.ends_with(",target")).count() as u64, denied);

    let sql = "SELECT DISTINCT bucket_owner FROM events WHERE role = 'target' AND shared_event_id IS NOT NULL \
               AND principal_type <> 'AWSAccount'";
    let o = run(&["query", "-q", "-f", "csv", "--events", &events, "--sql", sql]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "bucket_owner\n444455556666\n");
    let owner =
        report["groups"].as_array().unwrap().iter().find(|g| g["principal"].as_str().unwrap().contains("partner-sync"));
    assert_eq!(owner.unwrap()["bucket_owner"], "444455556666");
}

#[test]
fn query_runs_sql_over_scanned_and_saved_events() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT principal, COUNT(*) AS denied FROM events WHERE role = 'target' \
               GROUP BY principal ORDER BY denied DESC, principal";
    let o = run(&["query", "-q", "-f", "json", "--sql", sql, &trail()]);
    assert_eq!(o.status.code(), Some(4), "testdata holds a truncated file: {}", stderr(&o));
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();

    // The same numbers as the report's groups, summed per principal.
    let (_, report) = scan_json(&[&trail()]);
    let mut per_principal: std::collections::BTreeMap<String, u64> = Default::default();
    for g in report["groups"].as_array().unwrap() {
        *per_principal.entry(g["principal"].as_str().unwrap().to_string()).or_default() +=
            g["denied"].as_u64().unwrap();
    }
    let from_sql: std::collections::BTreeMap<String, u64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["principal"].as_str().unwrap().to_string(), r["denied"].as_u64().unwrap()))
        .collect();
    assert_eq!(from_sql, per_principal);
    assert_eq!(rows[0]["denied"], 24, "ordered by the SQL");

    // From a saved --events-out file: the same answer, and the groups table is there too.
    let events = dir.path().join("events.parquet").display().to_string();
    run(&["scan", "-q", "-f", "json", "--events-out", &events, &trail()]);
    let o = run(&["query", "-f", "json", "--events", &events, "--sql", sql]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(serde_json::from_slice::<Value>(&o.stdout).unwrap(), rows);
    let o = run(&[
        "query",
        "-f",
        "csv",
        "--events",
        &events,
        "--sql",
        "SELECT STRFTIME(event_time, '%H') AS hour, COUNT(*) AS n FROM events \
         WHERE role = 'target' AND bucket = 'acme-artifacts' GROUP BY hour ORDER BY hour",
    ]);
    let csv = String::from_utf8(o.stdout).unwrap();
    assert!(csv.starts_with("hour,n\n09,"), "{csv}");
    let o = run(&["query", "-f", "csv", "--events", &events, "--sql", "SELECT prefix, denied FROM groups LIMIT 1"]);
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "prefix,denied\nbuilds/,24\n");

    // Mistakes are usage errors on one line.
    for (sql, needle) in [("SELEC 1", "sql parser error"), ("SELECT nope FROM events", "nope")] {
        let o = run(&["query", "--events", &events, "--sql", sql]);
        assert_eq!(o.status.code(), Some(2), "{sql}");
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
    let o = run(&["query", "-f", "html", "--events", &events, "--sql", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(2));
    for flag in [&["--timeline", "5m"][..], &["--baseline", "b.parquet"], &["--events-out", "e.parquet"]] {
        let mut args = vec!["query", "--events", &events, "--sql", "SELECT 1"];
        args.extend_from_slice(flag);
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{flag:?}");
        assert!(stderr(&o).contains("is for `denytrail scan`"), "{}", stderr(&o));
    }
    let o = run(&["query", "--events", &events, "--sql", "SELECT 1", &trail()]);
    assert_eq!(o.status.code(), Some(2), "a saved file and inputs at once is ambiguous");
    assert!(stderr(&o).contains("without INPUTs"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// Forensic: --principal, --bucket, --prefix globs

#[test]
fn globs_narrow_a_scan_to_the_groups_in_question() {
    let trail = common::trail();
    let keys = |args: &[&str]| -> Vec<(String, String, String)> {
        let mut all = vec![trail.as_str()];
        all.extend_from_slice(args);
        let (code, report) = scan_json(&all);
        assert_eq!(code, 4, "testdata holds a truncated file");
        report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let s = |k: &str| g[k].as_str().unwrap().to_string();
                (s("principal"), s("bucket"), s("prefix"))
            })
            .collect()
    };
    let everything = keys(&[]);
    assert_eq!(everything.len(), 5);
    let ci = keys(&["--principal", "arn:aws:iam::*:role/ci-*"]);
    assert_eq!(ci, vec![everything[0].clone()], "only ci-deploy");
    let lake = keys(&["--bucket", "acme-data-*"]);
    assert_eq!(lake.len(), 3);
    assert!(lake.iter().all(|(_, b, _)| b == "acme-data-lake"));
    let releases = keys(&["--prefix", "rel*"]);
    assert_eq!(releases.len(), 1);
    assert!(releases[0].0.ends_with(":user/alice") && releases[0].2 == "releases/");
    // Globs combine (all must match), and a glob matching nothing gives an empty report.
    assert!(keys(&["--bucket", "acme-data-*", "--prefix", "rel*"]).is_empty());
    assert_eq!(keys(&["--principal", "*partner*", "--bucket", "acme-data-lake"]).len(), 1);
}
