//! The labelled corpus: every case is built here as `Event` values (see `cases.rs`), diagnosed, and
//! checked against its expectation. `testdata/diagnose/cases.ndjson` is the same corpus rendered as
//! CloudTrail records with an `_expect` object per line; `corpus_file_matches_cases` keeps the two
//! identical (regenerate with `DENYTRAIL_BLESS=1 cargo test diagnose`).

mod build;
mod cases;
mod record;
mod trail;

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::rules::{RULES, UNEXPLAINED};
use super::*;
use crate::event::{Event, EventRole};

/// What a case must produce.
#[derive(Debug, Default)]
pub struct Expect {
    /// The exact causes, strongest first.
    pub tags: &'static [&'static str],
    /// The first cause's confidence.
    pub confidence: &'static str,
    /// Each cause's share in percent, in `tags` order (empty: every cause explains all events).
    pub shares: &'static [u32],
    /// Tags that must not appear (the hard negatives).
    pub not: &'static [&'static str],
    /// The exact facts.
    pub facts: &'static [&'static str],
    /// Substrings of the group's evidence sentence.
    pub evidence: &'static [&'static str],
    /// Substrings the evidence must not contain.
    pub evidence_absent: &'static [&'static str],
    /// Substrings each of which some next step contains (the filled-in values).
    pub next_steps: &'static [&'static str],
    pub policy: PolicyExpect,
    /// The remedies' kind and place, in order: `bucket-policy@111122223333`, `request-change`,
    /// `none` (a probe: no grant). `None` leaves them unchecked (the corpus test forbids that).
    pub remedies: Option<&'static [&'static str]>,
    /// Substrings of the remedies' text (titles, lines, drafts).
    pub remedy_text: &'static [&'static str],
    /// Substrings no remedy may contain (an Allow where a Deny is, s3:PutObject in a KMS fix…).
    pub remedy_absent: &'static [&'static str],
    /// Substrings no next step may contain (an IAM simulation for an error no policy causes).
    pub steps_absent: &'static [&'static str],
}

/// `bucket-policy@111122223333`: a remedy's kind and place as the corpus spells it.
pub fn remedy_label(r: &Remedy) -> String {
    let kind = serde_json::to_value(r.place).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    match &r.account {
        Some(a) => format!("{kind}@{a}"),
        None => kind,
    }
}

/// The remedies' text, for substring checks.
fn remedy_text(d: &Diagnosis) -> String {
    d.remedies
        .iter()
        .map(|r| format!("{}\n{}\n{}", r.title, r.lines.join("\n"), r.draft.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Default)]
pub enum PolicyExpect {
    #[default]
    Unchecked,
    Absent,
    Present {
        s3_actions: &'static [&'static str],
        resource: &'static str,
        /// The KMS key ARN the kms:GenerateDataKey statement must name, if KMS is involved.
        kms_key: Option<&'static str>,
    },
}

pub struct Case {
    pub id: &'static str,
    pub note: &'static str,
    pub targets: Vec<Event>,
    pub companions: Vec<Event>,
    pub expect: Expect,
}

impl Case {
    pub fn new(id: &'static str, note: &'static str, targets: Vec<Event>, expect: Expect) -> Self {
        Case { id, note, targets, companions: Vec::new(), expect }
    }

    pub fn with(mut self, companions: Vec<Event>) -> Self {
        self.companions = companions;
        self
    }
}

/// One index over every case's companions (and targets, for the sharedEventID copies), as a scan
/// would build it: correlation must not leak from one case into another.
fn scan_companions(cases: &[Case]) -> Companions<'_> {
    let events = cases.iter().flat_map(|c| c.companions.iter().chain(&c.targets)).collect();
    Companions::new(events)
}

fn check(case: &Case, companions: &Companions<'_>) -> Result<(), String> {
    let refs: Vec<&Event> = case.targets.iter().collect();
    let d = diagnose_group(&refs, companions);
    let e = &case.expect;
    let tags: Vec<&str> = d.causes.iter().map(|c| c.tag).collect();
    let mut problems = Vec::new();
    if tags != e.tags {
        problems.push(format!("tags {tags:?}, expected {:?}", e.tags));
    }
    if d.confidence_column() != e.confidence {
        problems.push(format!("confidence {:?}, expected {:?}", d.confidence_column(), e.confidence));
    }
    let shares: Vec<u32> = d.causes.iter().map(|c| (c.share * 100.0).round() as u32).collect();
    let expected_shares: Vec<u32> = if e.shares.is_empty() { vec![100; e.tags.len()] } else { e.shares.to_vec() };
    if shares != expected_shares {
        problems.push(format!("shares {shares:?}, expected {expected_shares:?}"));
    }
    for not in e.not {
        if tags.contains(not) {
            problems.push(format!("must not be tagged {not}"));
        }
    }
    if d.facts != e.facts {
        problems.push(format!("facts {:?}, expected {:?}", d.facts, e.facts));
    }
    for needle in e.evidence {
        if !d.evidence.contains(needle) {
            problems.push(format!("evidence lacks {needle:?}: {:?}", d.evidence));
        }
    }
    for needle in e.evidence_absent {
        if d.causes.iter().any(|c| c.evidence.contains(needle)) {
            problems.push(format!("evidence must not mention {needle:?}"));
        }
    }
    for needle in e.next_steps {
        if !d.next_steps.iter().any(|s| s.contains(needle)) {
            problems.push(format!("no next step contains {needle:?}: {:#?}", d.next_steps));
        }
    }
    if d.causes.iter().any(|c| c.evidence.is_empty()) || (d.evidence.is_empty() && !d.causes.is_empty()) {
        problems.push("a cause without evidence".to_string());
    }
    for needle in e.steps_absent {
        if d.next_steps.iter().any(|s| s.contains(needle)) {
            problems.push(format!("a next step contains {needle:?}: {:#?}", d.next_steps));
        }
    }
    let labels: Vec<String> = d.remedies.iter().map(remedy_label).collect();
    if let Some(expected) = e.remedies
        && labels != expected
    {
        problems.push(format!("remedies {labels:?}, expected {expected:?}"));
    }
    let text = remedy_text(&d);
    for needle in e.remedy_text {
        if !text.contains(needle) {
            problems.push(format!("remedies lack {needle:?}:\n{text}"));
        }
    }
    for needle in e.remedy_absent {
        if text.contains(needle) {
            problems.push(format!("remedies must not contain {needle:?}"));
        }
    }
    // A probe is never offered a grant, and an explicit deny never an Allow as its fix.
    if d.facts.iter().any(|f| f == "suspicious")
        && d.remedy_place() == Some(RemedyPlace::None)
        && (corrective_policy(&refs, &d).is_some() || d.remedies.iter().any(|r| r.draft.is_some()))
    {
        problems.push("a probe was offered a grant".to_string());
    }
    if let Err(p) = check_policy(&refs, &d, &e.policy) {
        problems.push(p);
    }
    let explain = explain_group(&refs, &d);
    for c in &d.causes {
        if !explain.contains(c.tag) || !explain.contains(&c.evidence) {
            problems.push(format!("explain view lacks {}", c.tag));
        }
    }
    for step in &d.next_steps {
        if !explain.contains(step.as_str()) {
            problems.push(format!("explain view lacks step {step}"));
        }
    }
    if d.run_in.len() != d.next_steps.len() {
        problems.push("every step must say where it runs".to_string());
    }
    for r in &d.remedies {
        if !explain.contains(&r.title) {
            problems.push(format!("explain view lacks remedy {}", r.title));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n    ")) }
}

fn actions_of(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn resources_of(statement: &Value) -> Vec<String> {
    match &statement["Resource"] {
        Value::String(r) => vec![r.clone()],
        Value::Array(r) => r.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The corrective policy is valid IAM JSON: Version 2012-10-17, Allow statements with explicit
/// actions (never a wildcard), the S3 statement scoped to the group's bucket/prefix*.
fn check_policy(targets: &[&Event], d: &Diagnosis, expect: &PolicyExpect) -> Result<(), String> {
    let policy = corrective_policy(targets, d);
    let (s3_expected, resource, kms_key) = match (expect, &policy) {
        (PolicyExpect::Unchecked, None) => return Ok(()),
        (PolicyExpect::Absent, None) => return Ok(()),
        (PolicyExpect::Absent, Some(p)) => return Err(format!("unexpected corrective policy {p}")),
        (PolicyExpect::Present { .. }, None) => return Err("no corrective policy".to_string()),
        (PolicyExpect::Unchecked, Some(_)) => (None, None, None),
        (PolicyExpect::Present { s3_actions, resource, kms_key }, Some(_)) => {
            (Some(*s3_actions), Some(*resource), Some(*kms_key))
        }
    };
    let policy: Value =
        serde_json::from_str(policy.as_deref().unwrap_or("")).map_err(|e| format!("policy is not JSON: {e}"))?;
    if policy["Version"] != "2012-10-17" {
        return Err("policy Version is not 2012-10-17".to_string());
    }
    let statements = policy["Statement"].as_array().ok_or("Statement is not an array")?;
    let mut s3_actions = Vec::new();
    let mut kms_statements = Vec::new();
    for st in statements {
        if st["Effect"] != "Allow" || st.get("NotAction").is_some() || st.get("NotResource").is_some() {
            return Err(format!("statement is not a plain Allow: {st}"));
        }
        let actions = actions_of(st);
        if actions.is_empty() || actions.iter().any(|a| a.contains('*')) {
            return Err(format!("wildcard or missing actions: {st}"));
        }
        if resources_of(st).is_empty() {
            return Err(format!("statement without Resource: {st}"));
        }
        if actions.iter().all(|a| a.starts_with("s3:")) {
            if let Some(expected) = resource
                && resources_of(st) != [expected.to_string()]
            {
                return Err(format!("S3 resource {:?}, expected {expected}", resources_of(st)));
            }
            s3_actions.extend(actions);
        } else if actions.iter().all(|a| a.starts_with("kms:")) {
            kms_statements.push(st.clone());
        } else {
            return Err(format!("mixed statement {st}"));
        }
    }
    if let Some(expected) = s3_expected
        && s3_actions != expected
    {
        return Err(format!("S3 actions {s3_actions:?}, expected {expected:?}"));
    }
    match kms_key {
        Some(None) if !kms_statements.is_empty() => Err(format!("unexpected KMS statements {kms_statements:?}")),
        Some(Some(key)) => {
            let ok = kms_statements.iter().any(|st| {
                actions_of(st).contains(&"kms:GenerateDataKey".to_string()) && resources_of(st) == [key.to_string()]
            });
            if ok { Ok(()) } else { Err(format!("no kms:GenerateDataKey on {key}: {kms_statements:?}")) }
        }
        _ => Ok(()),
    }
}

/// `DENYTRAIL_SHOW=1`: prints every case's remedies (to review them when labelling a case).
#[test]
fn show_remedies() {
    if std::env::var_os("DENYTRAIL_SHOW").is_none() {
        return;
    }
    let cases = cases::all();
    let companions = scan_companions(&cases);
    for case in &cases {
        let refs: Vec<&Event> = case.targets.iter().collect();
        let d = diagnose_group(&refs, &companions);
        let labels: Vec<String> = d.remedies.iter().map(remedy_label).collect();
        println!(
            "{}\t{:?}\t{:?}\t{:?}",
            case.id,
            d.causes.iter().map(|c| (c.tag, c.confidence)).collect::<Vec<_>>(),
            labels,
            d.remedies.iter().map(|r| r.title.clone()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn labelled_corpus() {
    let cases = cases::all();
    let companions = scan_companions(&cases);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check(case, &companions).err().map(|e| format!("{}:\n    {e}", case.id)))
        .collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn corpus_covers_every_tag_and_enough_negatives() {
    let cases = cases::all();
    let mut ids = BTreeSet::new();
    for case in &cases {
        assert!(ids.insert(case.id), "duplicate case id {}", case.id);
        assert!(!case.targets.is_empty(), "{} has no target", case.id);
    }
    for case in &cases {
        assert!(case.expect.remedies.is_some(), "{} does not assert its remedies", case.id);
    }
    // Every kind of remedy place is asserted somewhere.
    let places: BTreeSet<String> = cases
        .iter()
        .flat_map(|c| c.expect.remedies.unwrap_or(&[]).iter().map(|r| r.split('@').next().unwrap_or("").to_string()))
        .collect();
    for place in [
        "identity-policy",
        "permission-set",
        "bucket-policy",
        "key-policy",
        "key-state",
        "boundary",
        "session-policy",
        "scp",
        "rcp",
        "vpc-endpoint-policy",
        "access-point-policy",
        "request-change",
        "none",
    ] {
        assert!(places.contains(place), "no case asserts a {place} remedy");
    }
    let seen: BTreeSet<&str> = cases.iter().flat_map(|c| c.expect.tags.iter().copied()).collect();
    for tag in RULES.iter().map(|r| r.tag).chain([UNEXPLAINED]) {
        assert!(seen.contains(tag), "no case for {tag}");
    }
    let negatives = cases.iter().filter(|c| c.id.starts_with("neg-") && !c.expect.not.is_empty()).count();
    assert!(negatives >= 6, "only {negatives} hard negatives");
    // The facts of §3 are covered as facts.
    let facts: BTreeSet<&str> = cases.iter().flat_map(|c| c.expect.facts.iter().copied()).collect();
    for fact in ["anonymous", "presigned URL", "cross-account", "temporary credentials", "AWS service", "suspicious"] {
        assert!(facts.contains(fact), "no case for the fact {fact}");
    }
}

/// Renders the corpus as NDJSON: one CloudTrail record per line plus `_expect`.
fn render_corpus(cases: &[Case]) -> String {
    let mut out = String::new();
    for case in cases {
        for (i, ev) in case.targets.iter().enumerate() {
            let mut expect = Map::new();
            expect.insert("id".into(), json!(case.id));
            expect.insert("role".into(), json!("target"));
            if i == 0 {
                let e = &case.expect;
                expect.insert("tags".into(), json!(e.tags));
                expect.insert("confidence".into(), json!(e.confidence));
                if !e.shares.is_empty() {
                    expect.insert("shares".into(), json!(e.shares));
                }
                expect.insert("not".into(), json!(e.not));
                expect.insert("facts".into(), json!(e.facts));
                expect.insert("evidence".into(), json!(e.evidence));
                if !e.evidence_absent.is_empty() {
                    expect.insert("evidence_absent".into(), json!(e.evidence_absent));
                }
                expect.insert("next_steps".into(), json!(e.next_steps));
                expect.insert("remedies".into(), json!(e.remedies));
                if !e.remedy_text.is_empty() {
                    expect.insert("remedy_text".into(), json!(e.remedy_text));
                }
                if !e.remedy_absent.is_empty() {
                    expect.insert("remedy_absent".into(), json!(e.remedy_absent));
                }
                if !e.steps_absent.is_empty() {
                    expect.insert("steps_absent".into(), json!(e.steps_absent));
                }
                match &e.policy {
                    PolicyExpect::Unchecked => {}
                    PolicyExpect::Absent => {
                        expect.insert("policy".into(), Value::Null);
                    }
                    PolicyExpect::Present { s3_actions, resource, kms_key } => {
                        expect.insert(
                            "policy".into(),
                            json!({ "s3_actions": s3_actions, "resource": resource, "kms_key": kms_key }),
                        );
                    }
                }
                expect.insert("note".into(), json!(case.note));
            }
            out.push_str(&line(ev, expect));
        }
        for ev in &case.companions {
            let mut expect = Map::new();
            expect.insert("id".into(), json!(case.id));
            expect.insert("role".into(), json!("companion"));
            out.push_str(&line(ev, expect));
        }
    }
    out
}

fn line(ev: &Event, expect: Map<String, Value>) -> String {
    let mut rec = record::record(ev);
    if let Value::Object(map) = &mut rec {
        map.insert("_expect".into(), Value::Object(expect));
    }
    let mut s = serde_json::to_string(&rec).expect("serializable");
    s.push('\n');
    s
}

#[test]
fn corpus_file_matches_cases() {
    let rendered = render_corpus(&cases::all());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/diagnose/cases.ndjson");
    if std::env::var_os("DENYTRAIL_BLESS").is_some() {
        std::fs::write(path, &rendered).expect("write cases.ndjson");
    }
    // Read at run time (not include_str!), so a blessed file is checked in the same run and
    // blessing never turns this test into a pass by itself.
    let stored = std::fs::read_to_string(path).expect("read cases.ndjson");
    assert!(
        stored == rendered,
        "testdata/diagnose/cases.ndjson is out of date with src/diagnose/tests/cases.rs; regenerate with DENYTRAIL_BLESS=1"
    );
    for (n, line) in stored.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        assert!(v["eventVersion"].as_str().is_some_and(|s| s.starts_with("1.")), "line {}", n + 1);
        assert!(v["_expect"]["id"].is_string(), "line {}", n + 1);
    }
}

// ---- interface details ----

#[test]
fn columns() {
    let d = Diagnosis {
        causes: vec![
            CauseShare { tag: "kms-denied", confidence: Confidence::High, events: 2, share: 1.0, evidence: "e".into() },
            CauseShare {
                tag: "cross-account",
                confidence: Confidence::Medium,
                events: 1,
                share: 0.5,
                evidence: "f".into(),
            },
            CauseShare {
                tag: "requester-pays",
                confidence: Confidence::Low,
                events: 1,
                share: 0.001,
                evidence: "g".into(),
            },
        ],
        facts: vec![],
        evidence: "e".into(),
        next_steps: vec!["aws a".into(), "aws b".into()],
        run_in: vec!["x".into(), "y".into()],
        remedies: vec![],
        confirmation: None,
    };
    assert_eq!(d.causes_column(), "kms-denied (100%), cross-account (50%), requester-pays (<1%)");
    assert_eq!(d.confidence_column(), "high");
    assert_eq!(d.next_steps_column(), "aws a ; aws b");
    assert_eq!(Diagnosis::default().confidence_column(), "");
    assert_eq!(Diagnosis::default().causes_column(), "");
    assert_eq!(Confidence::Medium.to_string(), "medium");
    assert!(Confidence::High > Confidence::Medium && Confidence::Medium > Confidence::Low);
    assert!(Confidence::Confirmed > Confidence::High && Confidence::Refuted < Confidence::Low);
    assert_eq!(serde_json::to_value(Confidence::Low).unwrap(), json!("low"));
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(v["causes"][0]["tag"], "kms-denied");
    assert_eq!(v["causes"][0]["confidence"], "high");
}

#[test]
fn empty_group() {
    let d = diagnose_group(&[], &Companions::new(Vec::new()));
    assert_eq!(d, Diagnosis::default());
    assert_eq!(explain_group(&[], &d), "");
    assert_eq!(corrective_policy(&[], &d), None);
}

#[test]
fn commands_quote_hostile_log_text() {
    let ev = build::target(9001)
        .session(build::ACME, "ci", "s", "ASIAQUOTE", false)
        .obj("bkt", "a b/$(touch pwned)'x")
        .denied("because no identity-based policy allows the s3:PutObject action")
        .done();
    let d = diagnose_group(&[&ev], &Companions::new(Vec::new()));
    let step = d.next_steps.iter().find(|s| s.contains("simulate-principal-policy")).expect("simulate step");
    assert!(step.ends_with(r"--resource-arns 'arn:aws:s3:::bkt/a b/$(touch pwned)'\''x'"), "{step}");
}

#[test]
fn corrective_policy_never_widens() {
    // A prefix with IAM wildcards is escaped; an action named by a hostile message is not copied.
    let ev = build::target(9002)
        .session(build::ACME, "ci", "s", "ASIAWILD", false)
        .obj("bkt", "we*ird?/x")
        .denied_action("s3:*", "because no identity-based policy allows the s3:* action")
        .done();
    let d = diagnose_group(&[&ev], &Companions::new(Vec::new()));
    assert_eq!(d.causes_column(), "identity-no-allow (100%)");
    let policy: Value = serde_json::from_str(&corrective_policy(&[&ev], &d).expect("policy")).unwrap();
    assert_eq!(policy["Statement"][0]["Action"], json!(["s3:PutObject"]));
    assert_eq!(policy["Statement"][0]["Resource"], "arn:aws:s3:::bkt/we${*}ird${?}/*");
}

#[test]
fn kms_without_a_known_key_is_scoped_to_s3() {
    let ev = build::target(9003)
        .session(build::ACME, "ci", "s", "ASIANOKEY", false)
        .obj("bkt", "p/x")
        .set(|e| e.sse = Some("aws:kms".into()))
        .msg("Access Denied")
        .done();
    let d = diagnose_group(&[&ev], &Companions::new(Vec::new()));
    assert_eq!(d.causes_column(), "kms-denied (100%)");
    let policy: Value = serde_json::from_str(&corrective_policy(&[&ev], &d).expect("policy")).unwrap();
    // S3 authorization passed: the fix is the key alone.
    assert_eq!(policy["Statement"].as_array().map(Vec::len), Some(1));
    let kms = &policy["Statement"][0];
    assert_eq!(kms["Action"], json!(["kms:GenerateDataKey"]));
    assert_eq!(kms["Resource"], "arn:aws:kms:us-east-1:111122223333:key/*");
    assert_eq!(kms["Condition"]["StringEquals"]["kms:ViaService"], "s3.us-east-1.amazonaws.com");
}

#[test]
fn multipart_uploads_also_need_decrypt() {
    let ev = build::target(9004)
        .session(build::ACME, "ci", "s", "ASIAMPU", false)
        .obj("bkt", "p/big.bin")
        .set(|e| e.event_name = "CreateMultipartUpload".into())
        .kms_denied(
            "arn:aws:kms:us-east-1:111122223333:key/abcd",
            "because no identity-based policy allows the kms:GenerateDataKey action",
        )
        .done();
    let d = diagnose_group(&[&ev], &Companions::new(Vec::new()));
    let policy: Value = serde_json::from_str(&corrective_policy(&[&ev], &d).expect("policy")).unwrap();
    assert_eq!(policy["Statement"][0]["Action"], json!(["kms:GenerateDataKey", "kms:Decrypt"]));
}

#[test]
fn key_policy_denial_gets_no_identity_policy() {
    let ev = build::target(9005)
        .session(build::ACME, "ci", "s", "ASIAKP", false)
        .obj("bkt", "p/x")
        .kms_denied(
            "arn:aws:kms:us-east-1:111122223333:key/abcd",
            "because no resource-based policy allows the kms:GenerateDataKey action",
        )
        .done();
    let d = diagnose_group(&[&ev], &Companions::new(Vec::new()));
    assert_eq!(d.causes_column(), "kms-denied (100%)");
    assert_eq!(corrective_policy(&[&ev], &d), None);
}

/// Odd, hostile or truncated input never panics, in any stage.
#[test]
fn never_panics() {
    let texts = [
        "",
        "Access Denied",
        "User: ",
        "User: 😀 is not authorized to perform: 😀 on resource: \"😀",
        "User: x is not authorized to perform: kms:GenerateDataKey on resource: ",
        "because no ",
        "with an explicit deny in a ",
        "\u{0}\u{1b}[31m",
        "é",
    ];
    let mut events = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let mut b = build::target(9100 + i as u32).set(|e| {
            e.error_message = Some((*t).to_string());
            e.bucket = Some((*t).to_string());
            e.key = Some(t.repeat(300));
            e.prefix = (*t).to_string();
            e.principal = (*t).to_string();
            e.identity_arn = Some((*t).to_string());
            e.account = Some((*t).to_string());
            e.bucket_owner = Some("ß".repeat(i));
            e.expected_bucket_owner = Some((*t).to_string());
            e.sse = Some("aws:kms".into());
            e.sse_kms_key_id = Some((*t).to_string());
            e.source_ip = Some((*t).to_string());
            e.vpc_endpoint_id = Some((*t).to_string());
            e.host = Some(format!("{t}-{t}.s3-accesspoint.x"));
            e.access_point_arn = Some(format!("arn:{t}"));
            e.object_lock = Some((*t).to_string());
            e.grants = Some((*t).to_string());
            e.acl = Some((*t).to_string());
            e.event_time_ms = Some(i64::MIN + i as i64);
            e.error_code = Some(if i % 2 == 0 { "KMS.Weird".into() } else { (*t).to_string() });
        });
        if i % 3 == 0 {
            b = b.set(|e| e.event_time_ms = None);
        }
        events.push(b.done());
    }
    let mut companions: Vec<Event> = events.clone();
    for (i, ev) in companions.iter_mut().enumerate() {
        ev.role = Some(EventRole::Companion);
        ev.event_source =
            ["kms.amazonaws.com", "sts.amazonaws.com", "s3.amazonaws.com", "iam.amazonaws.com"][i % 4].into();
        ev.event_name = ["GenerateDataKey", "AssumeRole", "PutBucketPolicy", "PutRolePolicy"][i % 4].into();
        ev.error_code = if i % 4 == 0 { Some("AccessDenied".into()) } else { None };
        ev.issued_access_key_id = ev.access_key_id.clone();
        ev.kms_s3_arn = ev.object_arn();
        ev.changed_resource = ev.bucket.clone();
        ev.shared_event_id = Some("s".into());
    }
    let companions = Companions::new(companions.iter().collect());
    let refs: Vec<&Event> = events.iter().collect();
    let d = diagnose_group(&refs, &companions);
    assert!(!d.causes.is_empty());
    let _ = explain_group(&refs, &d);
    let _ = corrective_policy(&refs, &d);
    for ev in &events {
        let d = diagnose_group(&[ev], &companions);
        let _ = explain_group(&[ev], &d);
        if let Some(p) = corrective_policy(&[ev], &d) {
            serde_json::from_str::<Value>(&p).expect("policy JSON");
        }
    }
}
