//! `denytrail scan s3://…` and `--trail` against a real S3- and CloudTrail-compatible server
//! (moto, started on loopback by each test), with a fault-injecting proxy where a test needs
//! one. Each test has its own server, so tests share no state.
//!
//! Needs `moto_server`: `scripts/moto-server.sh` installs it (scripts/test runs it first).

mod s3_support;

use std::collections::BTreeSet;

use serde_json::Value;

use s3_support::*;

const DAYS: [&str; 5] = ["2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"];

/// Uploads testdata/trail to `bucket` (key = path under testdata/trail).
fn upload_testdata(moto: &Moto, bucket: &str) -> usize {
    moto.create_bucket(bucket, REGION);
    moto.upload_dir(bucket, "", &testdata_trail())
}

fn local_report(dir: &std::path::Path, extra: &[&str]) -> Value {
    let dir = dir.to_str().expect("utf-8 path");
    let mut args = vec!["scan", "--format", "json", "-q", dir];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert!(r.code == 0 || r.code == 4, "local scan failed ({}): {}", r.code, r.stderr);
    let report = r.json();
    // Every test compares an S3 scan with this: two empty reports would prove nothing.
    assert!(report["groups"].as_array().is_some_and(|g| !g.is_empty()), "no groups in {dir} {extra:?}");
    comparable(&report, &format!("{dir}/"))
}

fn s3_run(endpoint: &str, input: &str, extra: &[&str]) -> Run {
    let mut args = vec!["scan", "--format", "json", "-q", "--endpoint-url", endpoint, input];
    args.extend_from_slice(extra);
    run(&args)
}

fn s3_report(endpoint: &str, input: &str, extra: &[&str]) -> (i32, Value) {
    let r = s3_run(endpoint, input, extra);
    assert!(r.code == 0 || r.code == 4, "S3 scan failed ({}): {}", r.code, r.stderr);
    let bucket_root = format!("s3://{}/", input.trim_start_matches("s3://").split('/').next().unwrap_or(""));
    (r.code, comparable(&r.json(), &bucket_root))
}

fn failed_paths(report: &Value) -> Vec<String> {
    report["stats"]["failed"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["path"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Reading

#[test]
fn s3_scan_reports_the_same_as_a_local_scan() {
    let moto = Moto::start();
    let uploaded = upload_testdata(&moto, "acme-log-archive");
    assert!(uploaded >= 19, "testdata/trail holds {uploaded} files");

    let local = local_report(&testdata_trail(), &[]);
    let (code, s3) = s3_report(&moto.url(), "s3://acme-log-archive", &[]);
    assert_same_report(&s3, &local, "whole bucket");
    assert_eq!(code, 4, "testdata holds a truncated file: the report is incomplete");
    assert!(local["groups"].as_array().is_some_and(|g| !g.is_empty()));
    assert!(s3["stats"]["skipped_by_reason"]["not a log file"] == 1, "README.txt is skipped by content, as in a walk");

    // The same with pruning filters, which the S3 listing applies to folders.
    let filters =
        ["--account", "111122223333", "--region", "us-east-1", "--since", "2026-11-21", "--until", "2026-11-21"];
    let local = local_report(&testdata_trail(), &filters);
    let (_, s3) = s3_report(&moto.url(), "s3://acme-log-archive/", &filters);
    assert_same_report(&s3, &local, "filtered");

    // A prefix names a folder; an exact key names one object.
    let local = local_report(&testdata_trail().join("AWSLogs/444455556666"), &[]);
    let (_, s3) = s3_report(&moto.url(), "s3://acme-log-archive/AWSLogs/444455556666", &[]);
    assert_eq!(s3["groups"], local["groups"]);
    assert_eq!(s3["stats"]["files_read"].as_u64().unwrap(), local["stats"]["files_read"].as_u64().unwrap());
    let key = "AWSLogs/777788889999/CloudTrail/us-east-1/2026/11/22/777788889999_CloudTrail_us-east-1_20261122T0215Z_SDQmCAtX4wcY9Pj3.json.gz";
    let (_, one) = s3_report(&moto.url(), &format!("s3://acme-log-archive/{key}"), &[]);
    assert_eq!(one["stats"]["files_read"], 1);
    // A prefix that names nothing fails like a missing local path.
    let r = s3_run(&moto.url(), "s3://acme-log-archive/AWSLog", &[]);
    assert_one_line(&r, "nothing could be scanned");
    assert!(r.stderr.contains("s3://acme-log-archive/AWSLog: no such key or prefix"), "{}", r.stderr);
}

#[test]
fn org_layout_under_a_key_prefix_matches_the_local_copy() {
    let moto = Moto::start();
    let objects: Vec<Object> = generate(
        "audit/AWSLogs/o-abc123defg/",
        &["111122223333", "444455556666"],
        &["us-east-1", "eu-west-1"],
        &DAYS[..3],
        3,
    )
    .into_iter()
    .filter(|(k, _)| !k.contains("elasticloadbalancing"))
    .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), &objects);
    moto.create_bucket("org-logs", REGION);
    moto.put_all("org-logs", objects.clone());

    let local = local_report(&dir.path().join("audit"), &[]);
    let (code, s3) = s3_report(&moto.url(), "s3://org-logs/audit/", &[]);
    assert_eq!(code, 0);
    assert_same_report(&s3, &local, "org trail under a prefix");
    assert_eq!(s3["stats"]["files_read"], deliveries(&objects).len() as u64);

    // Mixed inputs: the local copy and the bucket, read together, count both.
    let audit = dir.path().join("audit");
    let mixed = run(&[
        "scan",
        "--format",
        "json",
        "-q",
        "--endpoint-url",
        &moto.url(),
        audit.to_str().unwrap(),
        "s3://org-logs/audit/",
    ]);
    assert_eq!(mixed.code, 0, "{}", mixed.stderr);
    let mixed = mixed.json();
    assert_eq!(mixed["stats"]["files_read"], 2 * deliveries(&objects).len() as u64);
    // Each event is seen twice and counted once.
    assert_eq!(mixed["groups"], local["groups"]);
}

#[test]
fn pruned_listing_fetches_only_the_folders_in_scope() {
    let moto = Moto::start();
    let accounts = ["111122223333", "444455556666", "777788889999"];
    let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
    let objects = generate("AWSLogs/", &accounts, &regions, &DAYS, 2);
    // The bucket lives in eu-west-1; the CLI is given no region and must find it.
    moto.create_bucket("trail-eu", "eu-west-1");
    moto.put_all("trail-eu", objects.clone());
    let proxy = Proxy::pass(moto.port);

    let filters =
        ["--account", "444455556666", "--region", "eu-west-1", "--since", "2026-11-20", "--until", "2026-11-21"];
    let url = proxy.url();
    let mut args = vec!["scan", "--format", "json", "-q", "--endpoint-url", &url, "s3://trail-eu"];
    args.extend_from_slice(&filters);
    let r = run_with(&args, &[], true);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Days 20 and 21, and 22 for late deliveries (the folder is the delivery day).
    let wanted: BTreeSet<String> = deliveries(&objects)
        .into_iter()
        .filter(|k| {
            k.contains("/444455556666/CloudTrail/eu-west-1/")
                && ["/2026/11/20/", "/2026/11/21/", "/2026/11/22/"].iter().any(|d| k.contains(d))
        })
        .collect();
    let seen = proxy.seen();
    let fetched: BTreeSet<String> = seen.iter().filter_map(|r| r.object_key()).collect();
    assert_eq!(fetched, wanted, "exactly the in-scope delivery files are fetched");
    println!("fetched {} of {} objects in the bucket", fetched.len(), objects.len());
    assert_eq!(r.json()["stats"]["files_read"], wanted.len() as u64);

    let listed: Vec<String> = seen.iter().filter_map(|r| r.list_prefix()).collect();
    for prefix in &listed {
        for never in [
            "CloudTrail-Digest",
            "CloudTrail-Insight",
            "elasticloadbalancing",
            "111122223333",
            "777788889999",
            "us-east-1",
            "ap-southeast-2",
            "/19/",
            "/23/",
        ] {
            assert!(!prefix.contains(never), "listed {prefix}, which is out of scope ({never})");
        }
    }
    // Root, AWSLogs/, the account, CloudTrail/, the region, 2026/, 11/, and three day folders.
    assert!(listed.len() <= 10, "{} listings: {listed:?}", listed.len());
    // Found the bucket's region and signed for it after the first probe.
    let regions_used: BTreeSet<Option<String>> = seen.iter().skip(1).map(|r| r.region.clone()).collect();
    assert_eq!(regions_used, BTreeSet::from([Some("eu-west-1".to_string())]));
}

// ---------------------------------------------------------------------------------------------
// Faults

/// A stable small hash of a key, to spread faults over objects.
fn bucket_of(key: &str, n: u64) -> u64 {
    key.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))) % n
}

/// The object GETs a proxy saw: (through the SDK's orchestrator, key).
fn object_gets(proxy: &Proxy) -> Vec<(bool, String)> {
    proxy.seen().into_iter().filter_map(|r| r.object_key().map(|k| (r.through_sdk, k))).collect()
}

#[test]
fn object_gets_skip_the_sdk_orchestrator_and_fall_back_to_it() {
    let moto = Moto::start();
    upload_testdata(&moto, "acme-log-archive");
    let input = "s3://acme-log-archive";

    // Direct: every object is read with one GET the SDK's orchestrator did not send.
    let direct = Proxy::pass(moto.port);
    let (code, report) = s3_report(&direct.url(), input, &[]);
    let gets = object_gets(&direct);
    let keys: BTreeSet<&String> = gets.iter().map(|(_, k)| k).collect();
    assert!(gets.len() > 16 && keys.len() == gets.len(), "one GET per object: {gets:?}");
    assert!(gets.iter().all(|(sdk, _)| !sdk), "direct GETs: {gets:?}");

    // DENYTRAIL_S3_GET=sdk: the same objects and report, every GET through the SDK.
    let sdk = Proxy::pass(moto.port);
    let r = run_with(
        &["scan", "--format", "json", "-q", "--endpoint-url", &sdk.url(), input],
        &[("DENYTRAIL_S3_GET", "sdk")],
        true,
    );
    assert_eq!(r.code, code, "{}", r.stderr);
    assert_same_report(&comparable(&r.json(), "s3://acme-log-archive/"), &report, "through the SDK");
    let sdk_gets = object_gets(&sdk);
    assert!(sdk_gets.iter().all(|(sdk, _)| *sdk), "SDK GETs: {sdk_gets:?}");
    assert_eq!(sdk_gets.iter().map(|(_, k)| k).collect::<BTreeSet<_>>(), keys);

    // A direct GET refused (as a server that signs differently would) is asked again through
    // the SDK; after 16 such refusals in a row the bucket's GETs all go through the SDK.
    let refusing = Proxy::start(moto.port, |r| match r.object_key() {
        Some(_) if !r.through_sdk => Fault::Error(403, "SignatureDoesNotMatch"),
        _ => Fault::Pass,
    });
    let (code_refused, refused) = s3_report(&refusing.url(), input, &["--concurrency", "1"]);
    assert_eq!(code_refused, code);
    assert_same_report(&refused, &report, "after refused direct GETs");
    let gets = object_gets(&refusing);
    let direct_tries: Vec<&String> = gets.iter().filter(|(sdk, _)| !sdk).map(|(_, k)| k).collect();
    assert_eq!(direct_tries.len(), 16, "direct GETs stop after 16 refusals: {gets:?}");
    let through_sdk: BTreeSet<&String> = gets.iter().filter(|(sdk, _)| *sdk).map(|(_, k)| k).collect();
    assert_eq!(through_sdk, keys, "every object is read through the SDK");
}

#[test]
fn direct_gets_go_where_the_sdk_would_send_them() {
    // S3's own endpoint variable, not the shared one: the SDK's client and the direct GETs must
    // both use it (an IP-address endpoint is addressed path-style by the SDK's rules).
    let moto = Moto::start();
    upload_testdata(&moto, "acme-log-archive");
    let (_, local) = s3_report(&moto.url(), "s3://acme-log-archive", &[]);
    let proxy = Proxy::pass(moto.port);
    let r = run_with(
        &["scan", "--format", "json", "-q", "s3://acme-log-archive"],
        &[("AWS_ENDPOINT_URL_S3", &proxy.url())],
        true,
    );
    assert!(r.code == 0 || r.code == 4, "{}", r.stderr);
    assert_same_report(&comparable(&r.json(), "s3://acme-log-archive/"), &local, "through AWS_ENDPOINT_URL_S3");
    let gets = object_gets(&proxy);
    assert!(!gets.is_empty() && gets.iter().all(|(sdk, _)| !sdk), "direct GETs through the proxy: {gets:?}");
}

#[test]
fn direct_gets_use_the_proxy_the_environment_names() {
    // HTTP_PROXY as a corporate network sets it: the proxy sees absolute-form requests and
    // forwards them; the SDK's client and the direct GETs must both go through it.
    let moto = Moto::start();
    upload_testdata(&moto, "acme-log-archive");
    let (_, plain) = s3_report(&moto.url(), "s3://acme-log-archive", &[]);
    let proxy = Proxy::pass(moto.port);
    let r = run_with(
        &["scan", "--format", "json", "-q", "--endpoint-url", &moto.url(), "s3://acme-log-archive"],
        &[("HTTP_PROXY", &proxy.url())],
        true,
    );
    assert!(r.code == 0 || r.code == 4, "{}", r.stderr);
    assert_same_report(&comparable(&r.json(), "s3://acme-log-archive/"), &plain, "through HTTP_PROXY");
    let seen = proxy.seen();
    let files = plain["stats"]["files_read"].as_u64().unwrap() + plain["stats"]["files_failed"].as_u64().unwrap();
    let direct = seen.iter().filter(|r| r.method == "GET" && !r.through_sdk && r.target.contains("x-id=GetObject"));
    assert!(direct.count() as u64 >= files, "direct GETs through the proxy: {seen:?}");
    assert!(seen.iter().any(|r| r.through_sdk), "the SDK's own requests go through it too");
}

#[test]
fn throttling_resets_and_truncated_bodies_are_retried() {
    let moto = Moto::start();
    upload_testdata(&moto, "acme-log-archive");
    let (_, clean) = s3_report(&moto.url(), "s3://acme-log-archive", &[]);

    let proxy = Proxy::start(moto.port, |r| {
        if r.list_prefix().is_some() {
            return if r.attempt == 1 { Fault::SlowDown } else { Fault::Pass };
        }
        let Some(key) = r.object_key() else { return Fault::Pass };
        match (bucket_of(&key, 3), r.attempt) {
            (0, 1) => Fault::SlowDown,
            (0, 2) => Fault::Error(500, "InternalError"),
            (1, 1) | (1, 2) => Fault::Truncate,
            (2, 1) => Fault::Reset,
            (2, 2) => Fault::Truncate,
            _ => Fault::Pass,
        }
    });
    let (code, faulty) = s3_report(&proxy.url(), "s3://acme-log-archive", &[]);
    assert_same_report(&faulty, &clean, "with injected faults");
    assert_eq!(code, 4, "only testdata's own broken file fails");
    assert_eq!(failed_paths(&faulty).len(), 1);
    for fault in [Fault::SlowDown, Fault::Truncate, Fault::Reset, Fault::Error(500, "InternalError")] {
        assert!(proxy.count(fault) >= 2, "{fault:?} injected {} times", proxy.count(fault));
    }
}

#[test]
fn an_object_that_keeps_failing_is_reported_with_its_key() {
    let moto = Moto::start();
    upload_testdata(&moto, "acme-log-archive");
    let (_, clean) = s3_report(&moto.url(), "s3://acme-log-archive", &[]);
    let cut = "AWSLogs/444455556666/CloudTrail/us-east-1/2026/11/22/444455556666_CloudTrail_us-east-1_20261122T0220Z_kMJiIkC9dXjJG4e9.json.gz";
    let slow = "AWSLogs/777788889999/CloudTrail/us-east-1/2026/11/22/777788889999_CloudTrail_us-east-1_20261122T0215Z_SDQmCAtX4wcY9Pj3.json.gz";
    let proxy = Proxy::start(moto.port, move |r| match r.object_key().as_deref() {
        Some(k) if k == cut => Fault::Truncate,
        Some(k) if k == slow => Fault::SlowDown,
        _ => Fault::Pass,
    });
    let r = s3_run(&proxy.url(), "s3://acme-log-archive", &[]);
    assert_eq!(r.code, 4, "incomplete report: {}", r.stderr);
    let report = r.json();
    let failed = report["stats"]["failed"].as_array().expect("failed list");
    let reason = |key: &str| {
        let name = format!("s3://acme-log-archive/{key}");
        failed.iter().find(|f| f["path"] == name.as_str()).and_then(|f| f["error"].as_str()).map(String::from)
    };
    let cut_reason = reason(cut).expect("the truncated object is listed as failed");
    assert!(cut_reason.contains("cut short") && cut_reason.contains("5 GETs"), "{cut_reason}");
    let slow_reason = reason(slow).expect("the throttled object is listed as failed");
    assert!(slow_reason.contains("SlowDown"), "{slow_reason}");
    assert_eq!(report["stats"]["files_failed"], clean["stats"]["files_failed"].as_u64().unwrap() + 2);
    assert_eq!(report["stats"]["files_read"], clean["stats"]["files_read"].as_u64().unwrap() - 2);
}

// ---------------------------------------------------------------------------------------------
// Fatal errors: one clear line, exit 1

fn assert_one_line(r: &Run, needle: &str) {
    assert_eq!(r.code, 1, "stderr: {}", r.stderr);
    let lines = r.error_lines();
    assert_eq!(lines.len(), 1, "one line, got: {}", r.stderr);
    assert!(lines[0].starts_with("denytrail: error: ") && lines[0].contains(needle), "{}", lines[0]);
    for noise in ["SdkError", "ServiceError", "DispatchFailure", "ConnectorError", "source:", "\\n"] {
        assert!(!lines[0].contains(noise), "SDK dump in: {}", lines[0]);
    }
}

#[test]
fn access_denied_on_the_log_bucket_is_one_line() {
    let moto = Moto::start();
    upload_testdata(&moto, "acme-log-archive");
    let proxy = Proxy::start(moto.port, |r| {
        if r.list_prefix().is_some() { Fault::Error(403, "AccessDenied") } else { Fault::Pass }
    });
    let r = s3_run(&proxy.url(), "s3://acme-log-archive", &[]);
    assert_one_line(&r, "s3://acme-log-archive: access denied trying to list the log bucket (AccessDenied");
}

#[test]
fn expired_or_missing_credentials_are_one_line() {
    let moto = Moto::start();
    upload_testdata(&moto, "acme-log-archive");

    let proxy =
        Proxy::start(moto.port, |r| if r.method == "GET" { Fault::Error(400, "ExpiredToken") } else { Fault::Pass });
    let r = s3_run(&proxy.url(), "s3://acme-log-archive", &[]);
    assert_one_line(&r, "the AWS credentials were refused (ExpiredToken");

    let r = run_with(
        &["scan", "-q", "--endpoint-url", &moto.url(), "s3://acme-log-archive"],
        &[("AWS_REGION", REGION)],
        false,
    );
    assert_one_line(&r, "no usable AWS credentials");

    let r = s3_run(&moto.url(), "s3://no-such-bucket", &[]);
    assert_one_line(&r, "s3://no-such-bucket: no such bucket");
}

// ---------------------------------------------------------------------------------------------
// --output s3://

fn get_object(moto: &Moto, bucket: &str, key: &str) -> (Vec<u8>, Option<String>) {
    let client = moto.s3();
    moto.block_on(async {
        let out = client.get_object().bucket(bucket).key(key).send().await.expect("the report object exists");
        let content_type = out.content_type().map(str::to_string);
        (out.body.collect().await.expect("body").into_bytes().to_vec(), content_type)
    })
}

#[test]
fn the_report_is_written_to_s3_in_the_format_its_key_names() {
    let moto = Moto::start();
    moto.create_bucket("acme-reports", REGION);
    let trail = testdata_trail();
    let trail = trail.to_str().unwrap();
    let local = run(&["scan", "-q", "--format", "json", trail]);
    for (key, check) in [
        ("nightly/2026-11-23.json", "application/json"),
        ("nightly/2026-11-23.parquet", "application/vnd.apache.parquet"),
        ("nightly/2026-11-23.html", "text/html; charset=utf-8"),
    ] {
        let out = format!("s3://acme-reports/{key}");
        let r = run(&["scan", "-q", "--endpoint-url", &moto.url(), "--output", &out, trail]);
        // testdata holds one truncated file: the report is complete for what was read.
        assert_eq!(r.code, 4, "{key}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{key}: the report went to S3, not stdout");
        let (body, content_type) = get_object(&moto, "acme-reports", key);
        assert_eq!(content_type.as_deref(), Some(check), "{key}");
        if key.ends_with(".json") {
            let uploaded: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(uploaded["groups"], local.json()["groups"], "S3 copy equals the local report");
        } else if key.ends_with(".parquet") {
            assert!(body.starts_with(b"PAR1") && body.ends_with(b"PAR1"), "a Parquet file");
        } else {
            assert!(String::from_utf8(body).unwrap().starts_with("<!DOCTYPE html>"));
        }
    }
    // Refusals are one line naming the permission; a key-less destination is a usage error.
    let r = run(&["scan", "-q", "--endpoint-url", &moto.url(), "-o", "s3://no-such-bucket/r.json", trail]);
    assert_one_line(&r, "s3://no-such-bucket/r.json: no such bucket");
    let proxy =
        Proxy::start(moto.port, |r| if r.method == "PUT" { Fault::Error(403, "AccessDenied") } else { Fault::Pass });
    let r = run(&["scan", "-q", "--endpoint-url", &proxy.url(), "-o", "s3://acme-reports/r.csv", trail]);
    assert_one_line(&r, "access denied writing the report (AccessDenied");
    assert!(r.stderr.contains("s3:PutObject on arn:aws:s3:::acme-reports/r.csv"), "{}", r.stderr);
    let r = run(&["scan", "-q", "-o", "s3://acme-reports/", trail]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn a_nightly_baseline_rolls_forward_in_s3() {
    let moto = Moto::start();
    moto.create_bucket("acme-reports", REGION);
    let trail = testdata_trail();
    let trail = trail.to_str().unwrap();
    let base = "s3://acme-reports/denytrail/baseline.parquet";
    let url = moto.url();
    let night = |n: &str, extra: &[&str]| {
        let page = format!("s3://acme-reports/denytrail/{n}.json");
        let mut args = vec!["scan", "--endpoint-url", &url, "--baseline", base, "-o", base, "-o", &page, trail];
        args.extend_from_slice(extra);
        let r = run(&args);
        assert_eq!(r.code, 4, "{n}: {}", r.stderr);
        let (body, _) = get_object(&moto, "acme-reports", &format!("denytrail/{n}.json"));
        (r.stderr, serde_json::from_slice::<Value>(&body).unwrap())
    };
    let statuses = |report: &Value| -> Vec<String> {
        report["groups"].as_array().unwrap().iter().map(|g| g["status"].as_str().unwrap().to_string()).collect()
    };
    // First night: no baseline object yet, every group new; the baseline is written for tomorrow.
    let (stderr, first) = night("monday", &[]);
    assert!(stderr.contains("does not exist yet: every group is new"), "{stderr}");
    assert_eq!(statuses(&first), vec!["new"; 5]);
    // Second night, only acme-artifacts is still denied: its groups go on, the others resolved.
    let (_, second) = night("tuesday", &["--bucket", "acme-artifacts"]);
    assert_eq!(statuses(&second), vec!["ongoing", "ongoing", "resolved", "resolved", "resolved"]);
    // Third night: the resolved groups were history in Tuesday's baseline.
    let (_, third) = night("wednesday", &["--bucket", "acme-artifacts"]);
    assert_eq!(statuses(&third), vec!["ongoing", "ongoing"]);
    // A baseline that cannot be read is one line, before anything is scanned.
    let r = run(&["scan", "-q", "--endpoint-url", &moto.url(), "--baseline", "s3://no-such-bucket/b.parquet", trail]);
    assert_one_line(&r, "s3://no-such-bucket/b.parquet: no such bucket");
}

/// Every object under `prefix`: key → body.
fn objects_under(moto: &Moto, bucket: &str, prefix: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let client = moto.s3();
    let keys: Vec<String> = moto.block_on(async {
        let mut keys = Vec::new();
        let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            keys.extend(page.expect("list").contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        keys
    });
    keys.into_iter().map(|k| (k.clone(), get_object(moto, bucket, &k).0)).collect()
}

#[test]
fn events_out_to_an_s3_prefix_writes_the_local_partitions() {
    use polars::prelude::{ParquetReader, SerReader};
    let moto = Moto::start();
    moto.create_bucket("acme-events", REGION);
    let trail = testdata_trail();
    let trail = trail.to_str().unwrap();
    let dir = tempfile::tempdir().expect("tempdir");
    let local = format!("{}/", dir.path().join("hive").display());
    let r = run(&["scan", "-q", "--events-out", &local, trail]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let r = run(&[
        "scan",
        "-q",
        "--endpoint-url",
        &moto.url(),
        "--events-out",
        "s3://acme-events/denytrail/events/",
        trail,
    ]);
    assert_eq!(r.code, 4, "{}", r.stderr);

    // The same partition directories, the same rows in each, every object a whole Parquet file.
    let rows_of = |bytes: Vec<u8>| ParquetReader::new(std::io::Cursor::new(bytes)).finish().expect("Parquet").height();
    let mut local_parts = std::collections::BTreeMap::new();
    for path in s3_support::moto::files_under(&dir.path().join("hive")) {
        let partition = path.parent().unwrap().strip_prefix(dir.path().join("hive")).unwrap().display().to_string();
        *local_parts.entry(partition).or_insert(0) += rows_of(std::fs::read(&path).unwrap());
    }
    let mut s3_parts = std::collections::BTreeMap::new();
    for (key, body) in objects_under(&moto, "acme-events", "denytrail/events/") {
        assert!(body.starts_with(b"PAR1") && body.ends_with(b"PAR1"), "{key} is a whole Parquet file");
        let (partition, name) = key.strip_prefix("denytrail/events/").unwrap().rsplit_once('/').unwrap();
        assert!(name.starts_with("part-0000-") && name.ends_with(".parquet"), "{key}");
        *s3_parts.entry(partition.to_string()).or_insert(0) += rows_of(body);
    }
    assert!(s3_parts.len() >= 3, "{s3_parts:?}");
    assert_eq!(s3_parts, local_parts);

    // The trail read twice with every identity on disk: each repeat is written, then taken
    // back by putting its part again without it (GetObject, PutObject; never a delete).
    let again = dir.path().join("again");
    std::os::unix::fs::symlink(trail, &again).unwrap();
    let again = format!("{}/", again.display());
    let args = ["scan", "-q", "--endpoint-url", &moto.url(), "--events-out", "s3://acme-events/twice/", trail, &again];
    let r = run_with(&args, &[("AWS_REGION", REGION), ("DENYTRAIL_SEEN_LIMIT", "0")], true);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let mut twice = std::collections::BTreeMap::new();
    for (key, body) in objects_under(&moto, "acme-events", "twice/") {
        let (partition, _) = key.strip_prefix("twice/").unwrap().rsplit_once('/').unwrap();
        *twice.entry(partition.to_string()).or_insert(0) += rows_of(body);
    }
    assert_eq!(twice, local_parts, "each denial once");
    // Reading a part back needs s3:GetObject: refused, the run fails in one line that says so.
    let proxy = Proxy::start(moto.port, |r| {
        if r.method == "GET" && r.target.contains("/refused/") {
            Fault::Error(403, "AccessDenied")
        } else {
            Fault::Pass
        }
    });
    let args =
        ["scan", "-q", "--endpoint-url", &proxy.url(), "--events-out", "s3://acme-events/refused/", trail, &again];
    let r = run_with(&args, &[("AWS_REGION", REGION), ("DENYTRAIL_SEEN_LIMIT", "0")], true);
    assert_one_line(&r, "access denied reading the events (AccessDenied");
    assert!(r.stderr.contains("s3:GetObject on arn:aws:s3:::acme-events/refused/recipient_account="), "{}", r.stderr);

    // A key that is not a prefix is one object; a refusal is one line naming the permission.
    let r = run(&["scan", "-q", "--endpoint-url", &moto.url(), "--events-out", "s3://acme-events/all.parquet", trail]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    let (body, content_type) = get_object(&moto, "acme-events", "all.parquet");
    assert_eq!(content_type.as_deref(), Some("application/vnd.apache.parquet"));
    assert_eq!(rows_of(body), local_parts.values().sum::<usize>());
    let proxy =
        Proxy::start(moto.port, |r| if r.method == "PUT" { Fault::Error(403, "AccessDenied") } else { Fault::Pass });
    let r = run(&["scan", "-q", "--endpoint-url", &proxy.url(), "--events-out", "s3://acme-events/e/", trail]);
    assert_one_line(&r, "access denied writing the events (AccessDenied");
    assert!(r.stderr.contains("s3:PutObject on arn:aws:s3:::acme-events/e/recipient_account="), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// --trail

/// Creates `name` writing to `bucket` under `prefix`, logging.
fn create_trail(moto: &Moto, name: &str, bucket: &str, prefix: &str) -> String {
    let ct = moto.cloudtrail();
    let out = moto
        .block_on(
            ct.create_trail()
                .name(name)
                .s3_bucket_name(bucket)
                .s3_key_prefix(prefix)
                .is_multi_region_trail(true)
                .send(),
        )
        .unwrap_or_else(|e| panic!("create trail: {}", aws_sdk_cloudtrail::error::DisplayErrorContext(e)));
    moto.block_on(ct.start_logging().name(name).send()).expect("start logging");
    out.trail_arn().expect("trail ARN").to_string()
}

fn trail_run(moto: &Moto, trail: &str) -> Run {
    // Not quiet: the warnings are the point.
    run(&["scan", "--format", "json", "--endpoint-url", &moto.url(), "--trail", trail])
}

fn warnings(r: &Run) -> Vec<String> {
    r.stderr.lines().filter(|l| l.starts_with("denytrail: warning:")).map(String::from).collect()
}

#[test]
fn trail_discovery_scans_the_trails_own_folders() {
    use aws_sdk_cloudtrail::types::{DataResource, EventSelector, ReadWriteType};
    let moto = Moto::start();
    let bucket = "central-trail";
    moto.create_bucket(bucket, REGION);
    // This account's logs under the trail's prefix, and another account's beside them.
    let own = generate("audit/AWSLogs/", &[ACCOUNT], &["us-east-1", "eu-west-1"], &DAYS[..2], 2);
    let other = generate("audit/AWSLogs/", &["444455556666"], &["us-east-1"], &DAYS[..2], 2);
    moto.put_all(bucket, own.iter().chain(&other).cloned().collect());
    let arn = create_trail(&moto, "main", bucket, "audit");
    let all_writes = EventSelector::builder()
        .read_write_type(ReadWriteType::All)
        .data_resources(DataResource::builder().r#type("AWS::S3::Object").values("arn:aws:s3").build())
        .build();
    moto.block_on(moto.cloudtrail().put_event_selectors().trail_name("main").event_selectors(all_writes).send())
        .expect("put selectors");

    let dir = tempfile::tempdir().expect("tempdir");
    let own_logs: Vec<Object> = own.into_iter().filter(|(k, _)| k.contains("/CloudTrail/")).collect();
    write_tree(dir.path(), &own_logs);
    let local = local_report(dir.path(), &[]);

    for name in ["main", arn.as_str()] {
        let r = trail_run(&moto, name);
        assert_eq!(r.code, 0, "--trail {name}: {}", r.stderr);
        assert!(warnings(&r).is_empty(), "a trail with S3 write data events gets no warning: {:?}", warnings(&r));
        let report = comparable(&r.json(), &format!("s3://{bucket}/"));
        assert_eq!(report["stats"]["files_read"], own_logs.len() as u64, "only the trail's account is read");
        assert_eq!(report["groups"], local["groups"]);
    }

    let r = trail_run(&moto, "no-such-trail");
    assert_one_line(&r, "--trail no-such-trail: no such trail in us-east-1");
}

#[test]
fn trails_that_miss_s3_writes_are_named_in_a_warning() {
    use aws_sdk_cloudtrail::types::{
        AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
    };
    let moto = Moto::start();
    moto.create_bucket("trail-logs", REGION);
    moto.put_all("trail-logs", generate("AWSLogs/", &[ACCOUNT], &["us-east-1"], &DAYS[..1], 1));
    let ct = moto.cloudtrail();

    // The default: management events only.
    create_trail(&moto, "mgmt-only", "trail-logs", "");
    let w = warnings(&trail_run(&moto, "mgmt-only"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("trail mgmt-only logs no S3 data events: denied PutObject calls are not in its logs"),
        "{}",
        w[0]
    );

    // Basic selector, read-only S3 data events.
    create_trail(&moto, "reads-only", "trail-logs", "");
    let reads = EventSelector::builder()
        .read_write_type(ReadWriteType::ReadOnly)
        .data_resources(DataResource::builder().r#type("AWS::S3::Object").values("arn:aws:s3").build())
        .build();
    moto.block_on(ct.put_event_selectors().trail_name("reads-only").event_selectors(reads).send())
        .expect("put selectors");
    let w = warnings(&trail_run(&moto, "reads-only"));
    assert!(w.len() == 1 && w[0].contains("trail reads-only selects only read-only S3 data events"), "{w:?}");

    // Basic selector scoped to two buckets.
    create_trail(&moto, "two-buckets", "trail-logs", "");
    let scoped = EventSelector::builder()
        .read_write_type(ReadWriteType::All)
        .data_resources(
            DataResource::builder()
                .r#type("AWS::S3::Object")
                .values("arn:aws:s3:::acme-artifacts/")
                .values("arn:aws:s3:::acme-backups/db/")
                .build(),
        )
        .build();
    moto.block_on(ct.put_event_selectors().trail_name("two-buckets").event_selectors(scoped).send())
        .expect("put selectors");
    let w = warnings(&trail_run(&moto, "two-buckets"));
    assert!(
        w.len() == 1
            && w[0].contains("trail two-buckets logs S3 write data events only for: arn:aws:s3:::acme-artifacts/, arn:aws:s3:::acme-backups/db/; denials elsewhere are not in its logs"),
        "{w:?}"
    );

    // Advanced selector scoped by ARN prefix.
    create_trail(&moto, "advanced", "trail-logs", "");
    let field = |f: &str, op: &str, v: &str| {
        let b = AdvancedFieldSelector::builder().field(f);
        let b = if op == "Equals" { b.equals(v) } else { b.starts_with(v) };
        b.build().expect("field selector")
    };
    let advanced = AdvancedEventSelector::builder()
        .name("artifacts writes")
        .field_selectors(field("eventCategory", "Equals", "Data"))
        .field_selectors(field("resources.type", "Equals", "AWS::S3::Object"))
        .field_selectors(field("readOnly", "Equals", "false"))
        .field_selectors(field("resources.ARN", "StartsWith", "arn:aws:s3:::acme-artifacts/"))
        .build()
        .expect("advanced selector");
    moto.block_on(ct.put_event_selectors().trail_name("advanced").advanced_event_selectors(advanced).send())
        .expect("put selectors");
    let r = trail_run(&moto, "advanced");
    let w = warnings(&r);
    assert!(
        w.len() == 1
            && w[0].contains("trail advanced logs S3 write data events only for: arn:aws:s3:::acme-artifacts/"),
        "{w:?}"
    );
    // The warning does not stop the scan.
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["stats"]["files_read"], 1);
}
