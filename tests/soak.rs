//! S3 fault soak: a generated trail of many objects in moto, scanned once directly (the clean
//! run) and once through the fault-injecting proxy, which throws at it 503 SlowDown storms,
//! 500/503 errors, connection resets, bodies cut short, slow drips, stalled bodies, listing
//! pages that fail, and an outage mid-scan (the proxy's port closed for a while, requests in
//! flight dropped: the server going away and coming back).
//!
//! Faults are chosen per request from a seeded hash of the key (or listing page) and the attempt
//! number, so a run is reproducible. Every fault but the "permanent" ones stops after at most
//! three attempts of an object (never three request faults in a row), well inside the retry
//! budget (8 attempts per request in the SDK, 5 GETs per body), so the outcome is exact: the
//! objects made to fail permanently, and the objects beyond the first page of the one folder
//! whose later pages always fail, are the only ones not read.
//!
//! One source of chance remains: the outage is a window of time, and the attempts a request
//! makes while the port is closed (refused connections, which the proxy never sees) depend on
//! the SDK's random backoff. For a GET to fail, at worst (two request faults, then the attempt
//! in flight dropped) its five remaining attempts would all have to fall in the window: a
//! simulation of the SDK's backoff puts that at about 1 in 45,000 for a 1 s outage, 1 in 7,000
//! for 1.5 s, 1 in 2,500 for 2 s, per request so caught (a few per run are). The faulted run must then account for every object (read, failed with its key
//! and reason, or under the failed folder; none lost, none counted twice), read exactly the
//! clean run's records less those, and report exactly what a clean scan of the readable objects
//! reports.
//!
//! This is the short version (800 objects). `scripts/s3-soak.sh` runs the long one; the size
//! and the faults are set by environment variables (see [`Soak::from_env`]).

mod s3_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::Duration;

use flate2::read::GzDecoder;
use serde_json::Value;

use s3_support::proxy::{Options, Request};
use s3_support::*;

const BUCKET: &str = "soak";
const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// Delivery files per day folder, at most (generate() spaces them 5 minutes apart in one day).
const MAX_PER_DAY: usize = 240;
/// Bytes per piece of a slow drip.
const DRIP: usize = 48;
/// How long a stalled body sends nothing before the proxy closes it: twice the SDK's 5 s grace
/// period, so that the SDK, not the proxy, ends it.
const STALL_SECONDS: u64 = 10;

/// The soak's size and faults.
#[derive(Debug, Clone)]
struct Soak {
    /// Delivery files (`DENYTRAIL_SOAK_OBJECTS`, default 800).
    objects: usize,
    /// Seed of every fault choice (`DENYTRAIL_SOAK_SEED`, default 1).
    seed: u64,
    /// Keys per listing page (`DENYTRAIL_SOAK_PAGE`, default 40; 0 = moto's own 1,000).
    page: u32,
    /// How long the outage lasts (`DENYTRAIL_SOAK_OUTAGE_MS`, default 1,000).
    outage: Duration,
    /// Objects whose first GET stalls past the SDK's stalled-stream protection (which gives up
    /// on a body that sends nothing for 5 s), each costing that much time
    /// (`DENYTRAIL_SOAK_STALLS`, default 1).
    stalls: usize,
    /// One object in this many fails permanently (`DENYTRAIL_SOAK_PERMANENT_EVERY`, default 250;
    /// at least 5 do, one of each kind). Each costs the SDK's whole retry schedule.
    permanent_every: usize,
}

impl Soak {
    fn from_env() -> Soak {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
            match std::env::var(name) {
                Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v}: not a number")),
                Err(_) => default,
            }
        }
        Soak {
            objects: var("DENYTRAIL_SOAK_OBJECTS", 800),
            seed: var("DENYTRAIL_SOAK_SEED", 1),
            page: var("DENYTRAIL_SOAK_PAGE", 40),
            outage: Duration::from_millis(var("DENYTRAIL_SOAK_OUTAGE_MS", 1000)),
            stalls: var("DENYTRAIL_SOAK_STALLS", 1),
            permanent_every: var::<usize>("DENYTRAIL_SOAK_PERMANENT_EVERY", 250).max(1),
        }
    }

    /// Keys per listing page upstream.
    fn page_size(&self) -> usize {
        if self.page == 0 { 1000 } else { self.page as usize }
    }
}

/// FNV-1a over the seed and the parts: the one source of every fault choice.
fn hash(seed: u64, parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for part in parts {
        for b in part.iter().chain(b"\x00") {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The day folder (`…/YYYY/MM/DD/`) of a delivery key.
fn folder_of(key: &str) -> String {
    key.rsplit_once('/').map(|(f, _)| format!("{f}/")).expect("a key in a folder")
}

/// Kinds of permanent failure, given out in turn; each has the words its reason must hold.
const PERMANENT: [(Fault, &str); 5] = [
    (Fault::SlowDown, "SlowDown"),
    (Fault::Error(500, "InternalError"), "InternalError"),
    (Fault::Reset, "cannot GET"),
    (Fault::Truncate, "cut short"),
    (Fault::DripTruncate(DRIP), "cut short"),
];

/// Which request gets which fault: decided up front from the keys, the seed and the attempt.
struct Plan {
    seed: u64,
    /// Keys faulted on every attempt, with the fault.
    permanent: BTreeMap<String, Fault>,
    /// Keys whose first GET stalls.
    stalled: BTreeSet<String>,
    /// Day folders in a SlowDown storm: their first two listing requests and the first two GETs
    /// of each of their keys are throttled.
    storms: BTreeSet<String>,
    /// The day folder whose listing fails permanently from its second page on (from the first
    /// if it has one page).
    broken: String,
    /// Whether `broken` fails from its second page.
    broken_later_page: bool,
}

impl Plan {
    fn new(soak: &Soak, deliveries: &[String]) -> Plan {
        let folders: BTreeSet<String> = deliveries.iter().map(|k| folder_of(k)).collect();
        let folders: Vec<String> = folders.into_iter().collect();
        assert!(folders.len() >= 4, "the soak needs a few day folders");
        // Listed early (the listing goes depth first in key order), so that its listing's
        // retries, which take seconds, overlap the rest of the scan.
        let broken = folders[1].clone();
        let per_folder = deliveries.iter().filter(|k| folder_of(k) == broken).count();
        // A storm every fifth folder, starting with the third.
        let storms = folders.iter().skip(2).step_by(5).cloned().collect();

        // Permanent failures among the first third of the keys in listing order, so that their
        // retries (up to 8 attempts with backoff capped at 10 s: ~11 s, at most ~23 s) overlap
        // the rest of the scan; the stalls likewise.
        let mut by_hash: Vec<&String> =
            deliveries[..deliveries.len() / 3].iter().filter(|k| folder_of(k) != broken).collect();
        by_hash.sort_by_key(|k| hash(soak.seed, &[b"permanent", k.as_bytes()]));
        let n_permanent = (deliveries.len() / soak.permanent_every).max(PERMANENT.len());
        let permanent = by_hash[..n_permanent]
            .iter()
            .enumerate()
            .map(|(i, k)| ((*k).clone(), PERMANENT[i % PERMANENT.len()].0))
            .collect();
        let stalled = by_hash[n_permanent..n_permanent + soak.stalls].iter().map(|k| (*k).clone()).collect();
        Plan { seed: soak.seed, permanent, stalled, storms, broken, broken_later_page: per_folder > soak.page_size() }
    }

    /// The fault for one request.
    fn fault(&self, r: &Request) -> Fault {
        if let Some(key) = r.object_key() {
            return self.object_fault(&key, r.attempt);
        }
        if let Some(prefix) = r.list_prefix() {
            return self.list_fault(&prefix, r);
        }
        Fault::Pass // the HeadBucket probe
    }

    fn object_fault(&self, key: &str, attempt: u32) -> Fault {
        if let Some(fault) = self.permanent.get(key) {
            return *fault;
        }
        if self.stalled.contains(key) && attempt == 1 {
            return Fault::Stall(STALL_SECONDS);
        }
        if self.storms.contains(&folder_of(key)) {
            return if attempt <= 2 { Fault::SlowDown } else { Fault::Pass };
        }
        let h = hash(self.seed, &[b"object", key.as_bytes()]);
        // Faulted attempts: none for 40% of the keys, at most three (inside the SDK's 8
        // attempts per request and the 5 GETs per body).
        let faulted = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3][(h % 10) as usize];
        if attempt > faulted {
            return if h.is_multiple_of(6) { Fault::Drip(DRIP) } else { Fault::Pass };
        }
        let kind = |attempt: u32| {
            let kinds = [
                Fault::SlowDown,
                Fault::SlowDown,
                Fault::Error(500, "InternalError"),
                Fault::Error(503, "ServiceUnavailable"),
                Fault::Reset,
                Fault::Reset,
                Fault::Truncate,
                Fault::DripTruncate(DRIP),
            ];
            kinds[(hash(self.seed, &[b"attempt", key.as_bytes(), &attempt.to_le_bytes()]) % 8) as usize]
        };
        // Never three request faults in a row: the outage may take a few more of the same GET's
        // 8 attempts unseen (refused connections), and must leave some. A body fault starts a
        // new GET, with 8 attempts of its own.
        let request_fault = |f: Fault| !matches!(f, Fault::Truncate | Fault::DripTruncate(_));
        if attempt == 3 && request_fault(kind(1)) && request_fault(kind(2)) && request_fault(kind(3)) {
            return if h.is_multiple_of(2) { Fault::Truncate } else { Fault::DripTruncate(DRIP) };
        }
        kind(attempt)
    }

    fn list_fault(&self, prefix: &str, r: &Request) -> Fault {
        if prefix == self.broken && (r.is_next_page() || !self.broken_later_page) {
            return Fault::Error(500, "InternalError");
        }
        if self.storms.contains(prefix) {
            return if r.attempt <= 2 { Fault::SlowDown } else { Fault::Pass };
        }
        // Each page (the continuation token is in the target) has its own faults.
        let h = hash(self.seed, &[b"list", r.target.as_bytes()]);
        let faulted = [0, 0, 0, 1, 1, 2][(h % 6) as usize];
        if r.attempt > faulted {
            return if h.is_multiple_of(5) { Fault::Drip(4 * DRIP) } else { Fault::Pass };
        }
        let kinds = [
            Fault::SlowDown,
            Fault::Error(500, "InternalError"),
            Fault::Error(503, "ServiceUnavailable"),
            Fault::Reset,
            Fault::Truncate,
        ];
        kinds[(hash(self.seed, &[b"list attempt", r.target.as_bytes(), &r.attempt.to_le_bytes()]) % 5) as usize]
    }
}

/// Records in one generated gzip object.
fn records_in(body: &[u8]) -> u64 {
    let mut text = String::new();
    GzDecoder::new(body).read_to_string(&mut text).expect("a generated object is gzip");
    let v: Value = serde_json::from_str(&text).expect("a generated object is JSON");
    v["Records"].as_array().map_or(0, |r| r.len() as u64)
}

fn scan(endpoint: &str) -> Run {
    run(&["scan", "--format", "json", "-q", "--endpoint-url", endpoint, &format!("s3://{BUCKET}")])
}

fn stat(report: &Value, field: &str) -> u64 {
    report["stats"][field].as_u64().unwrap_or_else(|| panic!("stats.{field} in {}", report["stats"]))
}

/// The day folders and days of a trail of about `objects` delivery files.
fn layout(objects: usize) -> (Vec<String>, usize) {
    let folders_per_day = ACCOUNTS.len() * REGIONS.len();
    let days = objects.div_ceil(folders_per_day * MAX_PER_DAY).max(3);
    assert!(days <= 28, "{objects} objects is more than the soak's layout holds");
    let per_day = objects.div_ceil(folders_per_day * days).max(1);
    ((1..=days).map(|d| format!("2026-11-{d:02}")).collect(), per_day)
}

#[test]
fn every_object_is_read_or_failed_under_a_storm_of_faults() {
    let soak = Soak::from_env();
    let (days, per_day) = layout(soak.objects);
    let days: Vec<&str> = days.iter().map(String::as_str).collect();
    let objects = generate("AWSLogs/", &ACCOUNTS, &REGIONS, &days, per_day);
    let mut deliveries = deliveries(&objects);
    deliveries.sort();
    let bodies: BTreeMap<&str, &[u8]> = objects.iter().map(|(k, b)| (k.as_str(), b.as_slice())).collect();
    let records: BTreeMap<&str, u64> =
        deliveries.iter().map(|k| (k.as_str(), records_in(bodies[k.as_str()]))).collect();

    let started = std::time::Instant::now();
    let moto = Moto::start();
    moto.create_bucket(BUCKET, REGION);
    moto.put_all(BUCKET, objects.clone());

    println!("uploaded {} objects in {:.1} s", objects.len(), started.elapsed().as_secs_f64());
    // The clean run: straight to moto.
    let t = std::time::Instant::now();
    let clean = scan(&moto.url());
    println!("clean run: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(clean.code, 0, "the clean run: {}", clean.stderr);
    let clean = clean.json();
    assert_eq!(stat(&clean, "files_read"), deliveries.len() as u64, "the clean run reads every delivery file");
    assert_eq!(stat(&clean, "records_read"), records.values().sum::<u64>());
    assert_eq!(stat(&clean, "files_failed"), 0);
    let clean_listed = stat(&clean, "files_seen");

    // The faulted run, through the proxy.
    let plan = Plan::new(&soak, &deliveries);
    let options =
        Options { page_size: (soak.page > 0).then_some(soak.page), outage: Some((deliveries.len() / 2, soak.outage)) };
    let plan = std::sync::Arc::new(plan);
    let rule = plan.clone();
    let proxy = Proxy::start_with(moto.port, options, move |r| rule.fault(r));
    let t = std::time::Instant::now();
    let faulted = scan(&proxy.url());
    println!("faulted run: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(faulted.code, 4, "the faulted run's report is incomplete: {}", faulted.stderr);
    let report = faulted.json();
    let seen = proxy.seen();
    if std::env::var_os("DENYTRAIL_SOAK_TRACE").is_some() {
        let t0 = seen[0].at;
        for r in &seen {
            println!("{:7.2} {:>2} {:<28} {}", (r.at - t0).as_secs_f64(), r.attempt, r.fault.kind(), r.target);
        }
    }

    // What must not be read: the permanent failures, and the broken folder's keys past its
    // first page (never listed: its listing failed).
    let in_broken: Vec<&String> = deliveries.iter().filter(|k| folder_of(k) == plan.broken).collect();
    let first_page = if plan.broken_later_page { soak.page_size() } else { 0 };
    let unlisted: BTreeSet<&str> = in_broken[first_page..].iter().map(|k| k.as_str()).collect();
    let failed_objects: BTreeSet<&str> =
        plan.permanent.keys().map(String::as_str).filter(|k| !unlisted.contains(k)).collect();
    let readable: Vec<&str> = deliveries
        .iter()
        .map(String::as_str)
        .filter(|k| !unlisted.contains(k) && !failed_objects.contains(k))
        .collect();

    // Failed: exactly the permanent objects and the broken folder, each with a reason.
    let name = |key: &str| format!("s3://{BUCKET}/{key}");
    let failed: BTreeMap<String, String> = report["stats"]["failed"]
        .as_array()
        .expect("stats.failed")
        .iter()
        .map(|f| {
            let path = f["path"].as_str().expect("a failed item's path").to_string();
            let error = f["error"].as_str().expect("a failed item's reason").to_string();
            (path, error)
        })
        .collect();
    let mut expected_failed: BTreeSet<String> = failed_objects.iter().map(|k| name(k)).collect();
    expected_failed.insert(name(&plan.broken));
    let got_failed: BTreeSet<String> = failed.keys().cloned().collect();
    assert_eq!(
        got_failed.difference(&expected_failed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "failed but not made to fail"
    );
    assert_eq!(
        expected_failed.difference(&got_failed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "made to fail but not reported failed"
    );
    assert_eq!(stat(&report, "files_failed"), expected_failed.len() as u64, "each failure counted once");
    // The reason is the last attempt's failure: the injected one, or the outage's when the last
    // attempts fell in it.
    let outage_words = ["Connection refused", "connection closed before message completed"];
    let by_outage = |reason: &str| reason.starts_with("cannot ") && outage_words.iter().any(|w| reason.contains(w));
    let mut ended_by_outage = 0;
    for key in &failed_objects {
        let reason = &failed[&name(key)];
        let (_, words) = PERMANENT.iter().find(|(f, _)| *f == plan.permanent[*key]).expect("a permanent kind");
        if !reason.contains(words) {
            assert!(by_outage(reason), "{key} ({:?}): {reason}", plan.permanent[*key]);
            ended_by_outage += 1;
        }
    }
    let folder_reason = &failed[&name(&plan.broken)];
    assert!(folder_reason.starts_with("cannot list: "), "{folder_reason}");
    if !folder_reason.contains("InternalError") {
        assert!(by_outage(folder_reason), "{folder_reason}");
        ended_by_outage += 1;
    }

    // Read: exactly the readable objects, each once, with exactly their records.
    let files_read = stat(&report, "files_read");
    assert_eq!(files_read, readable.len() as u64, "files read");
    let expected_records: u64 = readable.iter().map(|k| records[k]).sum();
    let lost_records: u64 = unlisted.iter().chain(&failed_objects).map(|k| records[k]).sum();
    assert_eq!(stat(&clean, "records_read") - lost_records, expected_records);
    assert_eq!(stat(&report, "records_read"), expected_records, "records read");
    assert_eq!(stat(&report, "duplicates_dropped"), 0, "no object's events were read twice");
    let skipped = stat(&report, "files_skipped");
    assert_eq!(stat(&report, "files_seen"), files_read + expected_failed.len() as u64 + skipped);
    let lost =
        clean_listed as i64 - (files_read + failed_objects.len() as u64 + unlisted.len() as u64 + skipped) as i64;
    assert_eq!(lost, 0, "objects of the clean run neither read, nor failed, nor under the failed folder");

    // Every readable object had a good answer, every permanent one none (the rule did its job).
    let mut answered: BTreeSet<String> = BTreeSet::new();
    for r in seen.iter().filter(|r| !r.fault.fails()) {
        if let Some(key) = r.object_key() {
            answered.insert(key);
        }
    }
    for key in &readable {
        assert!(answered.contains(*key), "{key} was read but never answered whole");
    }
    for key in &failed_objects {
        assert!(!answered.contains(*key), "{key} was answered whole");
    }

    // The report equals a clean scan of the readable objects alone (local copies).
    let dir = tempfile::tempdir().expect("tempdir");
    let readable_objects: Vec<Object> = readable.iter().map(|k| (k.to_string(), bodies[k].to_vec())).collect();
    write_tree(dir.path(), &readable_objects);
    let local = run(&["scan", "--format", "json", "-q", dir.path().to_str().expect("utf-8 path")]);
    assert_eq!(local.code, 0, "the scan of the readable objects: {}", local.stderr);
    let local = local.json();
    assert!(local["groups"].as_array().is_some_and(|g| !g.is_empty()), "the readable objects make groups");
    assert_eq!(stat(&local, "files_read"), files_read);
    assert_eq!(stat(&local, "records_read"), expected_records);
    assert_eq!(
        report["groups"], local["groups"],
        "the faulted run's groups equal a clean scan of the readable objects"
    );
    assert_ne!(report["groups"], clean["groups"], "the failed objects' denials are missing from the report");

    // The counts.
    assert_eq!(proxy.outages(), 1, "the outage happened");
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for r in seen.iter().filter(|r| r.fault != Fault::Pass) {
        *by_kind.entry(r.fault.kind()).or_default() += 1;
    }
    let (dropped, refused) = proxy.outage_drops();
    // How long after a stall its key was asked for again (the SDK's doing if under 10 s).
    let stall_retries: Vec<String> = seen
        .iter()
        .filter(|r| matches!(r.fault, Fault::Stall(_)))
        .filter_map(|stall| {
            let next = seen.iter().find(|r| r.target == stall.target && r.attempt == stall.attempt + 1)?;
            Some(format!("{:.1} s", (next.at - stall.at).as_secs_f64()))
        })
        .collect();
    let gets = seen.iter().filter(|r| r.object_key().is_some()).count();
    let lists = seen.iter().filter(|r| r.list_prefix().is_some()).count();
    let pages = seen.iter().filter(|r| r.list_prefix().is_some() && r.attempt == 1).count();
    let retried = seen.iter().filter(|r| r.attempt > 1).count();
    println!(
        "soak (seed {}, {} objects in {} day folders, pages of {}):",
        soak.seed,
        deliveries.len(),
        days.len() * 4,
        soak.page_size()
    );
    println!(
        "  requests: {} ({gets} GETs of objects, {lists} listings of {pages} pages), {retried} retried",
        seen.len()
    );
    println!("  faults injected: {}", by_kind.values().sum::<usize>());
    for (kind, n) in &by_kind {
        println!("    {kind:<24} {n}");
    }
    if !stall_retries.is_empty() {
        println!(
            "    (stalled bodies asked for again after {}; the proxy closes them after {STALL_SECONDS} s)",
            stall_retries.join(", ")
        );
    }
    println!(
        "    outage                   1 of {} ms: {dropped} requests dropped in flight, {refused} connections dropped, then the port closed",
        soak.outage.as_millis()
    );
    println!(
        "  objects: {} listed in the clean run; {files_read} read, {} failed (permanent faults), {} never listed (under the folder whose listing failed, reported failed), {skipped} skipped; lost {lost}",
        clean_listed,
        failed_objects.len(),
        unlisted.len()
    );
    println!("  failures whose last attempt fell in the outage (reason: the connection): {ended_by_outage}");
    println!(
        "  records: {} in the clean run, {} read, {lost_records} in the objects not read",
        stat(&clean, "records_read"),
        stat(&report, "records_read")
    );
    println!(
        "  groups: {} (equal to a clean scan of the readable objects)",
        report["groups"].as_array().map_or(0, Vec::len)
    );
}
