//! The labelled corpus in testdata/policy/cases.json: every case's decision and deciding statement
//! must come out as the AWS documentation it cites says.

use denytrail_core::policy::{Decision, Request, Snapshot, confirmed_by, evaluate, pretty_statement};
use serde_json::Value;

/// Objects merge key by key, anything else replaces. In a request patch `null` removes the key (as in
/// RFC 7386); a `Visibility` replaces whole; in a snapshot patch it stays `null`, which there means "visible, and none".
fn merge_patch(target: &mut Value, patch: &Value, null_removes: bool) {
    // A `Visibility` (`{"visible": …}` / `{"not_visible": …}`) is one value: it replaces.
    let visibility = |m: &serde_json::Map<String, Value>| m.contains_key("visible") || m.contains_key("not_visible");
    let Value::Object(p) = patch.clone() else {
        *target = patch.clone();
        return;
    };
    if visibility(&p) {
        *target = patch.clone();
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let t = target.as_object_mut().expect("object");
    for (k, v) in &p {
        if v.is_null() && null_removes {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v, null_removes);
        }
    }
}

fn tag(d: &Decision) -> &'static str {
    match d {
        Decision::Allow { .. } => "allow",
        Decision::ExplicitDeny { .. } => "explicit_deny",
        Decision::ImplicitDeny { .. } => "implicit_deny",
        Decision::Blocked { .. } => "blocked",
        Decision::Undetermined { .. } => "undetermined",
    }
}

/// The condition entry that decided: the one that held in a Deny, or failed in the nearest Allow.
fn deciding_condition(d: &Decision) -> Option<String> {
    let s = d.statement()?;
    let want = matches!(d, Decision::ExplicitDeny { .. });
    s.conditions.iter().find(|c| c.holds == Some(want)).map(|c| format!("{} {}", c.operator, c.key))
}

#[test]
fn policy_corpus() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/policy/cases.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("corpus file")).expect("corpus JSON");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 60, "the corpus has {} cases", cases.len());
    let mut failures = vec![];
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        assert!(case["source"].as_str().is_some_and(|s| s.contains("https://")), "{name}: no source");
        let patched = |part: &str| {
            let mut v = doc["base"][part].clone();
            if let Some(p) = case.get(part) {
                merge_patch(&mut v, p, part == "request");
            }
            v
        };
        let (request, snapshot) = (patched("request"), patched("snapshot"));
        let request: Request = serde_json::from_value(request).unwrap_or_else(|e| panic!("{name}: request: {e}"));
        let snapshot: Snapshot = serde_json::from_value(snapshot).unwrap_or_else(|e| panic!("{name}: snapshot: {e}"));
        let d = evaluate(&request, &snapshot);
        let expect = &case["expect"];
        let got = (tag(&d), confirmed_by(&d), deciding_condition(&d));
        let want = (
            expect["decision"].as_str().unwrap_or(""),
            expect["confirmed_by"].as_str().unwrap_or("").to_string(),
            expect["condition"].as_str().map(str::to_string),
        );
        let condition_ok = want.2.is_none() || want.2 == got.2;
        if got.0 != want.0 || got.1 != want.1 || !condition_ok {
            let shown = d.statement().map(pretty_statement).unwrap_or_default();
            failures.push(format!("{name}\n  want {want:?}\n  got  {got:?}\n{shown}"));
        }
    }
    println!(
        "policy corpus: {}/{} cases agree with the cited AWS documentation",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{} failing:\n{}", failures.len(), failures.join("\n"));
}

#[test]
#[ignore = "prints every case's decision, for review"]
fn policy_corpus_dump() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/policy/cases.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let patched = |part: &str| {
            let mut v = doc["base"][part].clone();
            if let Some(p) = case.get(part) {
                merge_patch(&mut v, p, part == "request");
            }
            v
        };
        let request: Request = serde_json::from_value(patched("request")).unwrap();
        let snapshot: Snapshot = serde_json::from_value(patched("snapshot")).unwrap();
        let d = evaluate(&request, &snapshot);
        println!(
            "{:<80} {:<14} {} | {:?}",
            case["name"].as_str().unwrap(),
            tag(&d),
            confirmed_by(&d),
            deciding_condition(&d)
        );
    }
}
