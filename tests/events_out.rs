//! `scan --events-out DIR/`: Hive-partitioned Parquet, checked against the single file of the
//! same scan, and read back by DuckDB with its Hive partitioning.
//!
//! The S3 form (`--events-out s3://bucket/prefix/`) is tested against moto in tests/s3.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use polars::prelude::{DataFrame, ParquetReader, SerReader};
use serde_json::Value;

mod common;
use common::*;

const DEFAULT: &str = "__HIVE_DEFAULT_PARTITION__";

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap()
}

/// The Parquet files under `dir`, at any depth.
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(parquet_files(&path));
        } else {
            assert!(path.extension().is_some_and(|e| e == "parquet"), "only Parquet files: {}", path.display());
            out.push(path);
        }
    }
    out.sort();
    out
}

fn text(df: &DataFrame, column: &str, i: usize) -> Option<String> {
    df.column(column).unwrap().str().unwrap().get(i).map(str::to_string)
}

/// Each row as `(partition directory, every other cell)`: the partition is computed from the
/// columns for the single file, and read from the directory for a part file.
fn rows(df: &DataFrame, partition: Option<&str>) -> Vec<(String, String)> {
    let mut names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    // `source_object` names the copy read first of a record delivered twice: streamed, the
    // events name whichever copy arrived first, which may differ from run to run.
    names.retain(|n| n != "recipient_account" && n != "aws_region" && n != "source_object");
    names.sort();
    (0..df.height())
        .map(|i| {
            let part = partition.map(str::to_string).unwrap_or_else(|| {
                let date = df.column("event_time").unwrap().get(i).unwrap().to_string();
                let date = if date == "null" { DEFAULT.to_string() } else { date[..10].to_string() };
                let v = |c: &str| text(df, c, i).filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT.into());
                format!("recipient_account={}/aws_region={}/date={date}", v("recipient_account"), v("aws_region"))
            });
            let cells: Vec<String> =
                names.iter().map(|n| format!("{n}={}", df.column(n).unwrap().get(i).unwrap())).collect();
            (part, cells.join("|"))
        })
        .collect()
}

/// Scans the bundled trail into `events.parquet` and `hive/`, returning the JSON report.
fn scan_both(dir: &Path) -> Value {
    let (code, report) = scan_json(&["--events-out", dir.join("events.parquet").to_str().unwrap(), &trail()]);
    assert_eq!(code, 4, "testdata holds one truncated file");
    let hive = format!("{}/", dir.join("hive").display());
    let o = run(&["scan", "-q", "--events-out", &hive, &trail()]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    report
}

#[test]
fn a_directory_gets_the_single_files_rows_partitioned_by_account_region_and_day() {
    let dir = tempfile::tempdir().unwrap();
    scan_both(dir.path());
    let single = read(&dir.path().join("events.parquet"));
    let mut expected = rows(&single, None);
    let partitions: BTreeSet<String> = expected.iter().map(|(p, _)| p.clone()).collect();
    assert!(partitions.len() >= 3, "the trail spans several accounts and days: {partitions:?}");

    let hive = dir.path().join("hive");
    let mut got = Vec::new();
    let mut found = BTreeSet::new();
    for path in parquet_files(&hive) {
        let partition = path.parent().unwrap().strip_prefix(&hive).unwrap().display().to_string();
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with("part-0000-"), "{name}");
        let df = read(&path);
        for c in ["recipient_account", "aws_region", "date"] {
            assert!(df.column(c).is_err(), "{c} is in the path, not repeated in {name}");
        }
        got.extend(rows(&df, Some(&partition)));
        found.insert(partition);
    }
    assert_eq!(found, partitions, "one directory per account × region × day of the events");
    expected.sort();
    got.sort();
    assert_eq!(got.len(), single.height());
    assert_eq!(got, expected, "the same rows, each under its own partition");
}

/// Every row under `to` (a file, or a directory of parts), as [`rows`] gives them, sorted.
fn all_rows(to: &Path) -> Vec<(String, String)> {
    let mut got = Vec::new();
    if to.is_dir() {
        for path in parquet_files(to) {
            let partition = path.parent().unwrap().strip_prefix(to).unwrap().display().to_string();
            got.extend(rows(&read(&path), Some(&partition)));
        }
    } else {
        got = rows(&read(to), None);
    }
    got.sort();
    got
}

/// Past the identities' limit (0 here: every identity waits on disk) a denial read twice is
/// counted unchecked and written twice; at the end the files holding a second copy are
/// rewritten without it, so the rows are those of a scan that holds every identity, and one
/// row stands for each denial counted. Without the rewrite each repeat would be a second row.
#[test]
fn a_trail_read_twice_past_the_identities_limit_writes_each_denial_once() {
    let dir = tempfile::tempdir().unwrap();
    let again = trail_again(dir.path());
    let scan = |limit: Option<&str>, to: &str| -> (Option<i32>, Value, String) {
        let mut c = bin();
        c.args(["scan", "-f", "json", "-j", "2", "--events-out", to, &trail(), &again]);
        if let Some(limit) = limit {
            c.env("DENYTRAIL_SEEN_LIMIT", limit);
        }
        let o = c.output().unwrap();
        (o.status.code(), serde_json::from_slice(&o.stdout).unwrap(), stderr(&o))
    };
    for layout in ["single", "hive"] {
        let to = |name: &str| match layout {
            "single" => format!("{}/{name}.parquet", dir.path().display()),
            _ => format!("{}/{name}/", dir.path().display()),
        };
        let (held_code, held, _) = scan(None, &to("held"));
        let (spilled_code, spilled, said) = scan(Some("0"), &to("spilled"));
        assert_eq!(spilled_code, held_code, "{said}");
        assert_eq!(denied_per_group(&spilled), denied_per_group(&held));
        let (held_rows, spilled_rows) = (all_rows(Path::new(&to("held"))), all_rows(Path::new(&to("spilled"))));
        assert_eq!(spilled_rows, held_rows, "{layout}: the same rows as with every identity held");
        let files = if layout == "single" {
            vec![PathBuf::from(to("spilled"))]
        } else {
            parquet_files(Path::new(&to("spilled")))
        };
        let targets: usize = files
            .iter()
            .map(|f| read(f))
            .map(|df| (0..df.height()).filter(|&i| text(&df, "role", i).as_deref() == Some("target")).count())
            .sum();
        let unique = spilled["stats"]["events_unique"].as_u64().unwrap();
        assert!(unique > 10);
        assert_eq!(targets as u64, unique, "{layout}: one row per denial counted");
        // The summary line counts the rows left.
        let written = said.lines().find(|l| l.contains("rows written")).unwrap_or_else(|| panic!("{said}"));
        let n: usize = written.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert_eq!(n, spilled_rows.len(), "{written}");
    }
}

/// `--events-out /dev/stdout` into a pipe: the file is spooled and copied once finished, so
/// the repeats found at the end are taken out of it too, and the pipe gets one whole file.
#[test]
fn events_to_a_pipe_are_one_whole_file_with_each_denial_once() {
    let dir = tempfile::tempdir().unwrap();
    let again = trail_again(dir.path());
    let report = dir.path().join("report.json");
    let o = bin()
        .args(["scan", "-q", "-f", "json", "-o", report.to_str().unwrap(), "--events-out", "/dev/stdout"])
        .args([&trail(), &again])
        .env("DENYTRAIL_SEEN_LIMIT", "0")
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let df = ParquetReader::new(std::io::Cursor::new(o.stdout)).finish().unwrap();
    let targets = (0..df.height()).filter(|&i| text(&df, "role", i).as_deref() == Some("target")).count();
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(targets as u64, report["stats"]["events_unique"].as_u64().unwrap());
    assert!(targets > 10);
}

#[test]
fn shards_write_into_one_directory_without_clashing() {
    let dir = tempfile::tempdir().unwrap();
    let hive = format!("{}/", dir.path().join("hive").display());
    for shard in ["0/2", "1/2"] {
        let o = run(&["scan", "-q", "--shard", shard, "--events-out", &hive, &trail()]);
        assert!(matches!(o.status.code(), Some(0 | 4)), "{}", stderr(&o));
    }
    let files = parquet_files(&dir.path().join("hive"));
    let names: BTreeSet<String> =
        files.iter().map(|p| p.file_name().unwrap().to_string_lossy()[..9].to_string()).collect();
    assert_eq!(names, BTreeSet::from(["part-0000".to_string(), "part-0001".to_string()]));
    let targets = |df: &DataFrame| -> Vec<String> {
        (0..df.height())
            .filter(|&i| text(df, "role", i).as_deref() == Some("target"))
            .map(|i| text(df, "event_id", i).unwrap())
            .collect()
    };
    // A set: each shard drops repeats only among its own files, so an event delivered twice, to
    // files of two shards, is in both shards' parts (a merge would count it once).
    let sharded: BTreeSet<String> = files.iter().flat_map(|p| targets(&read(p))).collect();
    let whole = dir.path().join("whole.parquet");
    run(&["scan", "-q", "--events-out", whole.to_str().unwrap(), &trail()]);
    let all: BTreeSet<String> = targets(&read(&whole)).into_iter().collect();
    assert_eq!(sharded, all, "the shards' denials are the whole scan's");
}

#[test]
fn a_file_destination_is_still_one_file_that_query_reads() {
    let dir = tempfile::tempdir().unwrap();
    let report = scan_both(dir.path());
    let events = dir.path().join("events.parquet");
    assert!(events.is_file());
    let o = run(&[
        "query",
        "-f",
        "json",
        "--events",
        events.to_str().unwrap(),
        "--sql",
        "SELECT principal, bucket, prefix, COUNT(*) AS n FROM events WHERE role = 'target' GROUP BY principal, bucket, prefix",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(counts_of_rows(&serde_json::from_slice(&o.stdout).unwrap(), "n"), denied_per_group(&report));
}

type GroupCounts = BTreeMap<(String, String, String), u64>;

fn denied_per_group(report: &Value) -> GroupCounts {
    counts_of_rows(&report["groups"], "denied")
}

fn counts_of_rows(rows: &Value, count: &str) -> GroupCounts {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let s = |k: &str| g[k].as_str().unwrap().to_string();
            ((s("principal"), s("bucket"), s("prefix")), g[count].as_u64().unwrap())
        })
        .collect()
}

/// The virtualenv python with DuckDB: `$DENYTRAIL_DUCKDB_PYTHON` (scripts/test sets it), else
/// what `scripts/duckdb.sh` prints (it installs DuckDB on first use).
fn duckdb_python() -> String {
    if let Ok(p) = std::env::var("DENYTRAIL_DUCKDB_PYTHON") {
        return p;
    }
    let o = Command::new(root().join("scripts/duckdb.sh")).output().expect("run scripts/duckdb.sh");
    assert!(o.status.success(), "scripts/duckdb.sh failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// Runs `sql` in DuckDB and returns its rows as JSON arrays (dates as text).
fn duckdb(sql: &str) -> Vec<Value> {
    let script = r#"
import json, sys, duckdb
rows = duckdb.sql(sys.argv[1]).fetchall()
print(json.dumps([[None if v is None else (v if isinstance(v, (int, str)) else str(v)) for v in r] for r in rows]))
"#;
    let o = Command::new(duckdb_python()).args(["-c", script, sql]).output().expect("run python");
    assert!(o.status.success(), "DuckDB failed on {sql}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn duckdb_reads_the_partitions_back() {
    let dir = tempfile::tempdir().unwrap();
    let report = scan_both(dir.path());
    let glob = format!("{}/hive/**/*.parquet", dir.path().display());
    let source = format!("read_parquet('{glob}', hive_partitioning = true)");

    let got: GroupCounts =
        duckdb(&format!("SELECT principal, bucket, prefix, count(*) FROM {source} WHERE role = 'target' GROUP BY ALL"))
            .into_iter()
            .map(|r| {
                let s = |i: usize| r[i].as_str().unwrap().to_string();
                ((s(0), s(1), s(2)), r[3].as_u64().unwrap())
            })
            .collect();
    assert_eq!(got, denied_per_group(&report), "DuckDB's counts are the report's");

    // The partition columns, as text (account ids are not numbers: they may begin with 0).
    let typed = format!(
        "read_parquet('{glob}', hive_partitioning = true, hive_types = {{'recipient_account': VARCHAR, 'aws_region': VARCHAR, 'date': DATE}})"
    );
    let seen: BTreeSet<String> =
        duckdb(&format!("SELECT DISTINCT recipient_account, aws_region, CAST(date AS VARCHAR) FROM {typed}"))
            .into_iter()
            .map(|r| {
                let v = |i: usize| r[i].as_str().unwrap_or(DEFAULT).to_string();
                format!("recipient_account={}/aws_region={}/date={}", v(0), v(1), v(2))
            })
            .collect();
    let single = read(&dir.path().join("events.parquet"));
    let expected: BTreeSet<String> = rows(&single, None).into_iter().map(|(p, _)| p).collect();
    assert_eq!(seen, expected, "DuckDB sees each row's account, region and day (NULL for the default partition)");
    let total = duckdb(&format!("SELECT count(*) FROM {typed}"));
    assert_eq!(total[0][0].as_u64().unwrap() as usize, single.height());
}

/// Shards that write partials stream their events too (a merge holds tallies, not events):
/// every denial of the merged report is a target row in the shards' parts, and `merge` itself
/// refuses `--events-out`, saying where it belongs.
#[test]
fn shards_writing_partials_write_their_events_and_merge_refuses_to() {
    let dir = tempfile::tempdir().unwrap();
    let hive = format!("{}/", dir.path().join("hive").display());
    let mut partials = Vec::new();
    for i in 0..3 {
        let partial = dir.path().join(format!("p{i}.json.gz"));
        let o = bin()
            .args([
                "scan",
                "-q",
                "--shards",
                "3",
                "--partial",
                partial.to_str().unwrap(),
                "--events-out",
                &hive,
                &trail(),
            ])
            .env("JOB_COMPLETION_INDEX", i.to_string())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        partials.push(partial.to_str().unwrap().to_string());
    }
    let mut merge: Vec<&str> = vec!["merge", "-q", "-f", "json"];
    merge.extend(partials.iter().map(String::as_str));
    let o = run(&merge);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let denied: u64 = report["groups"].as_array().unwrap().iter().map(|g| g["denied"].as_u64().unwrap()).sum();
    // (event ID, sharedEventID, principal type) of every target row of every shard.
    let targets: BTreeSet<(String, Option<String>, String)> = parquet_files(&dir.path().join("hive"))
        .iter()
        .flat_map(|p| {
            let df = read(p);
            (0..df.height())
                .filter(|&i| text(&df, "role", i).as_deref() == Some("target"))
                .map(|i| {
                    let t = |c: &str| text(&df, c, i);
                    (t("event_id").unwrap(), t("shared_event_id"), t("principal_type").unwrap())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // A shard cannot know that another shard read the caller's copy of a cross-account
    // request: it writes the bucket owner's copy too, which the merge then counts once.
    let callers: BTreeSet<&String> =
        targets.iter().filter(|(_, _, kind)| kind != "AWSAccount").filter_map(|(_, s, _)| s.as_ref()).collect();
    let owner_copies = targets
        .iter()
        .filter(|(_, s, kind)| kind == "AWSAccount" && s.as_ref().is_some_and(|s| callers.contains(s)))
        .count();
    assert!(denied > 0);
    assert_eq!((targets.len() - owner_copies) as u64, denied, "one target row per denial the merge reports");

    let mut refused = merge.clone();
    let out = dir.path().join("e.parquet");
    refused.extend(["--events-out", out.to_str().unwrap()]);
    let o = run(&refused);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("give --events-out to each shard's scan"), "{}", stderr(&o));
    assert!(!out.exists());
}
