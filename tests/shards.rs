//! A trail split over shards (`scan --shard I/N --partial OUT`, one process each, the index
//! from the engine's environment as Kubernetes and AWS Batch set it) and `merge` of the
//! partials give the report, accounting and exit status of one `scan` of the whole: on the
//! sample trail, on the real CloudTrail data in ../shared/realdata, and through S3 (moto).

mod common;
#[allow(unused_imports)] // each test binary uses a different part
mod s3_support;

use std::path::Path;

use common::{bin, root, stderr, trail, trail_again};
use serde_json::Value;

/// One scan's report (exit status, JSON), time and the names of the inputs left out.
fn report_of(out: std::process::Output) -> (i32, Value) {
    let mut v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    v["stats"].as_object_mut().unwrap().remove("elapsed_seconds");
    (out.status.code().unwrap(), v)
}

/// Runs `n` shards as `n` processes (index from `index_var`), then merges their partials.
fn sharded(input: &str, n: u32, index_var: &str, dir: &Path, extra: &[&str]) -> (i32, Value) {
    sharded_with(input, n, index_var, dir, extra, None)
}

/// [`sharded`], the shards holding at most `seen_limit` identities in memory.
fn sharded_with(
    input: &str,
    n: u32,
    index_var: &str,
    dir: &Path,
    extra: &[&str],
    seen_limit: Option<&str>,
) -> (i32, Value) {
    for i in 0..n {
        let partial = dir.join(format!("shard-{i}.partial"));
        let o = bin()
            .args(["scan", "-q", input, "--partial", partial.to_str().unwrap()])
            .args(extra)
            .env("DENYTRAIL_SHARDS", n.to_string())
            .env(index_var, i.to_string())
            .envs(seen_limit.map(|l| ("DENYTRAIL_SEEN_LIMIT", l)))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "shard {i}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "a shard writes its partial, not a report");
    }
    let glob = format!("{}/*.partial", dir.display());
    report_of(bin().args(["merge", "-q", "-f", "json", &glob]).output().unwrap())
}

fn whole(input: &str, extra: &[&str]) -> (i32, Value) {
    report_of(bin().args(["scan", "-q", "-f", "json", input]).args(extra).output().unwrap())
}

#[test]
fn shards_of_the_sample_trail_merge_into_one_scan() {
    let one = whole(&trail(), &[]);
    assert!(!one.1["groups"].as_array().unwrap().is_empty());
    for (n, var) in [(1, "JOB_COMPLETION_INDEX"), (2, "AWS_BATCH_JOB_ARRAY_INDEX"), (4, "JOB_COMPLETION_INDEX")] {
        let dir = tempfile::tempdir().unwrap();
        let merged = sharded(&trail(), n, var, dir.path(), &[]);
        assert_eq!(merged, one, "{n} shards");
    }
    // The same with filters, which every shard must share.
    let f = ["--prefix-depth", "2", "--since", "2026-11-21T00:00:00Z", "--until", "2026-11-22T00:00:00Z"];
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(sharded(&trail(), 3, "JOB_COMPLETION_INDEX", dir.path(), &f), whole(&trail(), &f));
}

/// The sample trail read twice (a symlinked copy), so that shards count the same records: the
/// merge drops every repeat whether it holds the identities or spills them all to disk, and
/// so do shards whose ledgers hold none in memory (each shard's own repeats found on disk, and
/// its bucket owners' copies of cross-account requests carried to the merge from disk).
#[test]
fn a_merge_that_spills_its_identities_drops_the_same_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let again = trail_again(dir.path());
    let one = whole(&trail(), &[&again]);
    for shards in [1, 2] {
        let spilled = dir.path().join(format!("spilled-{shards}"));
        std::fs::create_dir(&spilled).unwrap();
        let merged = sharded_with(&trail(), shards, "JOB_COMPLETION_INDEX", &spilled, &[&again], Some("0"));
        assert_eq!(merged, one, "{shards} shards spilling every identity");
    }
    let partials = dir.path().join("partials");
    std::fs::create_dir(&partials).unwrap();
    assert_eq!(sharded(&trail(), 3, "JOB_COMPLETION_INDEX", &partials, &[&again]), one);
    let glob = format!("{}/*.partial", partials.display());
    let spilled = bin().args(["merge", "-q", "-f", "json", &glob]).env("DENYTRAIL_SEEN_LIMIT", "0").output().unwrap();
    assert_eq!(report_of(spilled), one);
    let dups = one.1["stats"]["duplicates_dropped"].as_u64().unwrap();
    assert!(dups > one.1["stats"]["events_unique"].as_u64().unwrap(), "{}", one.1["stats"]);
}

/// An outage at a deep prefix: thousands of small groups, whose evidence quotes the session
/// (`AssumeRole`) that issued the denied caller's key. A merge sees no target: it keeps the
/// sessions whose keys the shards' targets used, whichever shard read them (it once dropped
/// them all, and with them that evidence).
#[test]
fn shards_of_an_outage_of_small_groups_merge_into_one_scan() {
    let dir = tempfile::tempdir().unwrap();
    let trail_dir = dir.path().join("trail");
    let mut opts = denytrail_synth::SynthOptions::new(trail_dir.clone(), 8 << 20);
    (opts.max_file_bytes, opts.seed, opts.denied_ratio) = (1 << 20, 11, 0.5);
    denytrail_synth::generate(&opts).unwrap();
    let input = trail_dir.to_str().unwrap();
    let args = ["--prefix-depth", "3"];
    let one = whole(input, &args);
    let groups = one.1["groups"].as_array().unwrap();
    assert!(groups.len() > 100, "{} groups", groups.len());
    let with_session =
        groups.iter().filter(|g| g["evidence"].as_str().unwrap().contains("its session (access key")).count();
    assert!(with_session > 0, "some evidence quotes a session");
    let partials = dir.path().join("partials");
    std::fs::create_dir(&partials).unwrap();
    assert_eq!(sharded(input, 2, "JOB_COMPLETION_INDEX", &partials, &args), one);
}

#[test]
fn shards_of_real_data_merge_into_one_scan() {
    let real = root().join("../shared/realdata");
    assert!(real.is_dir(), "../shared/realdata is needed");
    let real = real.to_str().unwrap();
    let args = ["--event-name", "*", "--all-errors"];
    let one = whole(real, &args);
    assert!(one.1["stats"]["events_unique"].as_u64().unwrap() > 100, "{}", one.1["stats"]);
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(sharded(real, 4, "JOB_COMPLETION_INDEX", dir.path(), &args), one);
}

#[test]
fn merge_refuses_what_is_not_one_whole_scan() {
    let dir = tempfile::tempdir().unwrap();
    sharded(&trail(), 4, "JOB_COMPLETION_INDEX", dir.path(), &[]);
    let p = |i: u32| dir.path().join(format!("shard-{i}.partial")).to_str().unwrap().to_string();
    let merge = |args: &[String]| bin().arg("merge").arg("-q").args(args).output().unwrap();

    let o = merge(&[p(0), p(1), p(3)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("shard(s) 2/4 missing"), "{}", stderr(&o));

    // A partial named twice (a glob and its name) is read once: the sample trail's status, 4.
    let o = merge(&[p(0), p(1), p(2), p(3), p(1)]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));

    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let o = bin()
        .args(["scan", "-q", &trail(), "--prefix-depth", "2", "--shard", "2/4", "--partial"])
        .arg(other.join("two.partial"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = merge(&[p(0), p(1), other.join("two.partial").to_str().unwrap().to_string(), p(3)]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("two.partial") && err.contains("cannot be merged: they were scanned with other filters"),
        "{err}"
    );

    let cut = dir.path().join("cut.partial");
    let bytes = std::fs::read(p(2)).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = merge(&[p(0), p(1), cut.to_str().unwrap().to_string(), p(3)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cut.partial cannot be merged"), "{}", stderr(&o));

    let o = merge(&[dir.path().join("nope.partial").to_str().unwrap().to_string()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope.partial does not exist"), "{}", stderr(&o));

    // Mistakes of the command line are refused before any reading.
    for (args, needle) in [
        (vec!["--shards", "4"], "needs the shard index"),
        (vec!["--shard", "4/4"], "does not exist among 4"),
        (vec!["--shard", "1/4", "--shards", "3"], "disagree"),
        (vec!["--partial", "x.partial", "-o", "r.csv"], "--output is for the report"),
    ] {
        let o = bin()
            .arg("scan")
            .arg(trail())
            .args(&args)
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("AWS_BATCH_JOB_ARRAY_INDEX")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn shards_through_s3_merge_into_one_scan() {
    use s3_support::*;
    let moto = Moto::start();
    moto.create_bucket("trail", REGION);
    moto.upload_dir("trail", "", &testdata_trail());
    moto.create_bucket("runs", REGION);
    let url = moto.url();
    let one = run(&["scan", "-q", "-f", "json", "--endpoint-url", &url, "s3://trail/"]);
    assert_eq!(one.code, 4, "{}", one.stderr);
    for i in 0..3 {
        let partial = format!("s3://runs/run-1/shard-{i}.partial");
        let r = run_with(
            &["scan", "-q", "--endpoint-url", &url, "s3://trail/", "--partial", &partial],
            &[("AWS_REGION", REGION), ("DENYTRAIL_SHARDS", "3"), ("AWS_BATCH_JOB_ARRAY_INDEX", &i.to_string())],
            true,
        );
        assert_eq!(r.code, 0, "shard {i}: {}", r.stderr);
    }
    let merged = run(&["merge", "-q", "-f", "json", "--endpoint-url", &url, "s3://runs/run-1/*.partial"]);
    assert_eq!(merged.code, 4, "{}", merged.stderr);
    let (mut a, mut b) = (merged.json(), one.json());
    for r in [&mut a, &mut b] {
        r["stats"].as_object_mut().unwrap().remove("elapsed_seconds");
    }
    assert!(!b["groups"].as_array().unwrap().is_empty());
    assert_eq!(a, b);
}
