//! The sample trail (`testdata/trail`) scanned with the default filter and diagnosed per group,
//! as `scan` does: the diagnosis EXPECTED.md describes.

use std::collections::BTreeMap;
use std::io::BufReader;

use crate::collect::Collector;
use crate::event::{Event, GroupKey};
use crate::filter::Filter;
use crate::parse::{ScanContext, Worker};

use super::super::{Companions, Diagnosis, diagnose_group};

fn trail_files() -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("testdata/trail").flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() { walk(&p, out) } else { out.push(p) }
        }
    }
    let mut out = Vec::new();
    walk(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/trail")), &mut out);
    out
}

/// Targets and companions of a default scan of the sample trail.
pub(super) fn scan(filter: Filter) -> (Vec<Event>, Vec<Event>) {
    let out = scan_output(filter);
    (out.targets, out.companions)
}

/// A scan of the sample trail, its targets kept whole besides the tallies.
fn scan_output(filter: Filter) -> crate::collect::ScanOutput {
    let ctx = ScanContext::new(filter, 1, 1 << 30);
    let mut worker = Worker::new();
    let mut collector = Collector::keeping_targets();
    for path in trail_files() {
        let file = std::fs::File::open(&path).expect("open");
        collector.merge(worker.process(&ctx, &path.to_string_lossy(), true, BufReader::new(file)));
    }
    collector.finish()
}

/// The sample trail's groups are small, so their tallies keep every denial as an exemplar of
/// weight 1: the diagnosis from tallies (what `scan` reports) must equal the one from the whole
/// events, column for column, and no column may say it is estimated.
#[test]
fn tallies_diagnose_small_groups_exactly_as_whole_events() {
    for filter in [Filter::default(), Filter { error_codes: crate::filter::ErrorCodes::AnyError, ..Filter::default() }]
    {
        let out = scan_output(filter);
        assert!(out.groups.len() >= 5, "{} groups", out.groups.len());
        let whole = crate::diagnose_groups(&out.targets, &out.companions);
        let tallied = crate::diagnose_tallies(&out.groups, &out.companions, None);
        assert_eq!(whole.len(), tallied.len());
        for (key, d) in &whole {
            assert_eq!(tallied.get(key), Some(d), "{key:?}");
        }
        for g in &out.groups {
            assert_eq!(g.estimated(), "", "{:?} in {} classes", g.key, g.classes());
            let members = out.targets.iter().filter(|e| g.key.holds(e)).count() as u64;
            assert_eq!(g.denied, members, "{:?}", g.key);
            assert_eq!(g.exemplars().len() as u64, members, "every denial is an exemplar");
        }
    }
}

/// Each group's diagnosis, by principal (last path segment) and prefix.
pub(super) fn diagnose_trail(filter: Filter) -> BTreeMap<GroupKey, (Vec<Event>, Diagnosis)> {
    let (targets, companions) = scan(filter);
    let index = Companions::new(companions.iter().chain(&targets).collect());
    let mut groups: BTreeMap<GroupKey, Vec<&Event>> = BTreeMap::new();
    for e in &targets {
        groups.entry(GroupKey::of(e)).or_default().push(e);
    }
    groups
        .into_iter()
        .map(|(k, evs)| {
            let d = diagnose_group(&evs, &index);
            (k, (evs.into_iter().cloned().collect(), d))
        })
        .collect()
}

fn group<'m>(
    groups: &'m BTreeMap<GroupKey, (Vec<Event>, Diagnosis)>,
    principal_ends: &str,
    prefix: &str,
) -> &'m (Vec<Event>, Diagnosis) {
    groups
        .iter()
        .find(|(k, _)| k.principal.ends_with(principal_ends) && k.prefix == prefix)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no group {principal_ends} {prefix}"))
}

fn text(d: &Diagnosis) -> String {
    d.remedies
        .iter()
        .map(|r| format!("{}\n{}\n{}", r.title, r.lines.join("\n"), r.draft.as_deref().unwrap_or("")))
        .collect()
}

fn tags(d: &Diagnosis) -> Vec<(&str, String)> {
    d.causes.iter().map(|c| (c.tag, c.confidence.to_string())).collect()
}

/// EXPECTED.md "Likely causes per group": the default scan of the sample trail.
#[test]
fn sample_trail_diagnosis() {
    use super::super::RemedyPlace as P;
    let groups = diagnose_trail(Filter::default());
    assert_eq!(groups.len(), 5);

    // ci-deploy: the Sid of the PutBucketPolicy in the trail, and the multipart gotcha.
    let (events, d) = group(&groups, "role/ci-deploy", "builds/");
    assert_eq!(events.len(), 24);
    assert_eq!(
        tags(d),
        [
            ("bucket-policy-deny", "high".into()),
            ("sse-header-required", "high".into()),
            ("recent-policy-change", "medium".into())
        ]
    );
    assert!(d.cause("bucket-policy-deny").unwrap().evidence.contains("\"DenyUnencryptedBuildUploads\""));
    assert!(d.cause("sse-header-required").unwrap().evidence.contains("UploadPart never carries that header"));
    assert!(
        d.cause("network-condition").is_none() && d.cause("mfa-required").is_none(),
        "ruled out by the policy text"
    );
    assert_eq!(d.remedies.iter().map(|r| r.place).collect::<Vec<_>>(), [P::BucketPolicy]);
    let t = text(d);
    assert!(t.contains("Multipart gotcha: 3 UploadPart") && t.contains("\"Null\""), "{t}");
    assert!(!t.contains("\"Allow\""));
    // Build-107's user agent carries a terminal escape: flagged, but the fix stays.
    assert!(d.facts.contains(&"suspicious".to_string()));
    assert!(
        d.next_steps.iter().all(|s| !s.contains("simulate-principal-policy")),
        "no simulation can see a bucket policy for a role"
    );

    // anonymous: a web-shell probe, no grant.
    let (_, d) = group(&groups, "ANONYMOUS_PRINCIPAL", "incoming/");
    assert_eq!(d.facts, ["suspicious", "anonymous"]);
    assert!(d.evidence.contains("probe file name «incoming/upload.php»"));
    assert_eq!(d.remedies.iter().map(|r| r.place).collect::<Vec<_>>(), [P::None]);
    assert!(d.remedies.iter().all(|r| r.draft.is_none()));

    // jane via SSO: the identity side of the KMS key, in the permission set, no s3:PutObject.
    let (_, d) = group(&groups, "AWSReservedSSO_DataEngineer_0123456789abcdef", "raw/");
    assert_eq!(tags(d), [("kms-denied", "high".into())]);
    assert_eq!(d.remedies.iter().map(|r| r.place).collect::<Vec<_>>(), [P::PermissionSet]);
    let t = text(d);
    assert!(t.contains("permission set \"DataEngineer\"") && t.contains("provision-permission-set"), "{t}");
    assert!(t.contains("kms:GenerateDataKey") && !t.contains("s3:PutObject\""), "{t}");

    // alice: her own policy; the bucket-policy change cannot cause an identity-policy denial.
    let (_, d) = group(&groups, "user/alice", "releases/");
    assert_eq!(tags(d), [("identity-no-allow", "high".into())]);
    assert!(d.evidence.contains("«releases/v2/=HYPERLINK(\"http://x\")»"), "{}", d.evidence);
    assert_eq!(d.remedies.iter().map(|r| r.place).collect::<Vec<_>>(), [P::IdentityPolicy]);

    // partner-sync: both sides' drafts.
    let (_, d) = group(&groups, "role/partner-sync", "partner/");
    assert_eq!(d.causes[0].tag, "cross-account");
    let places: Vec<_> = d.remedies.iter().map(|r| (r.place, r.account.clone().unwrap_or_default())).collect();
    assert_eq!(places, [(P::BucketPolicy, "444455556666".into()), (P::IdentityPolicy, "777788889999".into())]);
}

/// With the successful S3 writes kept as companions (as the scan must keep them for this), the
/// gotcha names the initiate that succeeded with the header.
#[test]
fn sample_trail_successes_name_the_initiate() {
    use crate::event::EventRole;
    use crate::filter::ErrorCodes;
    let (all, companions) = scan(Filter { error_codes: ErrorCodes::Any, ..Filter::default() });
    let (mut targets, mut kept) = (Vec::new(), companions);
    for mut e in all {
        if e.error_code.is_none() {
            e.role = Some(EventRole::Companion);
            kept.push(e);
        } else if e.error_code.as_deref() == Some("AccessDenied") {
            targets.push(e);
        }
    }
    let index = Companions::new(kept.iter().chain(&targets).collect());
    let group: Vec<&Event> = targets.iter().filter(|e| e.prefix == "builds/").collect();
    let d = diagnose_group(&group, &index);
    let t = text(&d);
    assert!(
        t.contains("CreateMultipartUpload of builds/101/image.tar with the header succeeded at 2026-11-21T09:00:02Z"),
        "{t}"
    );
    let change = &d.cause("recent-policy-change").unwrap().evidence;
    assert!(change.contains("after the caller's last successful PutObject here at 2026-11-20T14:05:10Z"), "{change}");
}

/// `--all-errors`: errors no policy causes get their own remedy and no IAM checks.
#[test]
fn sample_trail_all_errors() {
    use super::super::RemedyPlace as P;
    use crate::filter::ErrorCodes;
    let groups = diagnose_trail(Filter { error_codes: ErrorCodes::AnyError, ..Filter::default() });
    let (_, d) = group(&groups, "role/web-app", "2026/");
    assert_eq!(tags(d), [("request-error", "high".into())]);
    assert_eq!(d.remedy_place(), Some(P::RequestChange));
    assert!(d.next_steps.iter().all(|s| !s.contains("simulate") && !s.contains("lookup-events")), "{:?}", d.next_steps);
    let (_, d) = group(&groups, "user/alice", "public/");
    assert_eq!(tags(d), [("acl-not-supported", "high".into())]);
    assert_eq!(d.remedy_place(), Some(P::RequestChange));
    let (events, d) = group(&groups, "role/ci-deploy", "builds/");
    assert_eq!(events.len(), 25);
    assert!(d.cause("request-error").is_some_and(|c| c.events == 1), "ExpiredToken: {:?}", tags(d));
    assert_eq!(d.cause("recent-policy-change").map(|c| c.events), Some(24), "not for the ExpiredToken");
}

/// `DENYTRAIL_SHOW=1`: the explain view of every group of the sample trail.
#[test]
fn print_sample_trail() {
    if std::env::var_os("DENYTRAIL_SHOW").is_none() {
        return;
    }
    for (k, (evs, d)) in diagnose_trail(Filter::default()) {
        println!("== {} {} {} ({} events)", k.principal, k.bucket, k.prefix, evs.len());
        println!("{}", super::super::explain_group(&evs.iter().collect::<Vec<_>>(), &d));
    }
}
