//! Policy documents as a trail carries them (PutBucketPolicy, Put*Policy, PutKeyPolicy, session
//! policies) and as a snapshot holds them: the diagnosis' reading and matching of a document,
//! and the evaluator over a document placed as bucket, identity and boundary policy, over a
//! whole snapshot, and over a request, never panic; a decision that names a statement renders.
#![no_main]

use std::sync::OnceLock;

use denytrail_core::event::Event;
use denytrail_core::fuzzing;
use denytrail_core::policy::{Policy, Request, Snapshot, Visibility, confirmed_by, evaluate, pretty_statement};
use libfuzzer_sys::fuzz_target;

struct Base {
    request: Request,
    snapshot: Snapshot,
    events: Vec<Event>,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../../testdata/policy/cases.json")).expect("policy cases");
        let put = |sse: Option<&str>, tls: Option<&str>| Event {
            event_name: "PutObject".into(),
            event_source: "s3.amazonaws.com".into(),
            bucket: Some("b".into()),
            key: Some("builds/1/k".into()),
            account: Some("111122223333".into()),
            identity_arn: Some("arn:aws:sts::111122223333:assumed-role/app/s1".into()),
            source_ip: Some("203.0.113.10".into()),
            sse: sse.map(Into::into),
            tls_version: tls.map(Into::into),
            signature_version: Some("SigV4".into()),
            error_code: Some("AccessDenied".into()),
            ..Event::default()
        };
        Base {
            request: serde_json::from_value(cases["base"]["request"].clone()).expect("base request"),
            snapshot: serde_json::from_value(cases["base"]["snapshot"].clone()).expect("base snapshot"),
            events: vec![put(None, Some("TLSv1.3")), put(Some("aws:kms"), None)],
        }
    })
}

fn decide(req: &Request, snap: &Snapshot) {
    let d = evaluate(req, snap);
    let _ = confirmed_by(&d);
    if let Some(s) = d.statement() {
        let _ = pretty_statement(s);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let b = base();
    for e in &b.events {
        let _ = fuzzing::policy_denies(text, e, Some("arn:aws:iam::111122223333:role/app".into()));
        let _ = fuzzing::policy_denies(text, e, None);
    }
    if let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) {
        let mut snap = b.snapshot.clone();
        let policy = Policy::new("arn:aws:s3:::b", doc);
        if let Some(bucket) = snap.buckets.get_mut("b") {
            bucket.policy = Visibility::Visible(Some(policy.clone()));
        }
        for p in snap.principals.values_mut() {
            p.identity_policies = Visibility::Visible(vec![policy.clone()]);
            p.permissions_boundary = Visibility::Visible(Some(policy.clone()));
        }
        decide(&b.request, &snap);
        for e in &b.events {
            if let Some(req) = Request::from_event(e) {
                decide(&req, &snap);
            }
        }
    }
    if let Ok(snap) = serde_json::from_str::<Snapshot>(text) {
        decide(&b.request, &snap);
    }
    if let Ok(req) = serde_json::from_str::<Request>(text) {
        decide(&req, &b.snapshot);
    }
});
