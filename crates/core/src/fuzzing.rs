//! Hooks for the fuzz targets in `fuzz/` (feature `fuzzing`, never in a release build): they
//! pick the splitter's engine and reach the crate-private parsers that read log text.

use crate::diagnose::message::Message;
use crate::diagnose::policy::{self, Document};
use crate::event::Event;
use crate::filter::Filter;
use crate::parse::ScanContext;
use crate::parse::split::{Engine, force_engine};

/// How many splitter engines this CPU can run (the portable one included).
pub fn engines() -> usize {
    Engine::all().len()
}

/// Runs `f` with the splitters it creates on this thread using engine `index` (of [`engines`]).
pub fn with_engine<T>(index: usize, f: impl FnOnce() -> T) -> T {
    let all = Engine::all();
    force_engine(Some(all[index % all.len()]));
    let out = f();
    force_engine(None);
    out
}

/// A scan context for `filter` that parses every record: no prefilter, so whatever the
/// prefilter drops can be told apart from what the filter drops.
pub fn context_without_prefilter(filter: Filter, prefix_depth: usize, max_decompressed: u64) -> ScanContext {
    let mut ctx = ScanContext::new(filter, prefix_depth, max_decompressed);
    ctx.drop_prefilter();
    ctx
}

/// Parses an `errorMessage` and asks it every question the rules ask; returns its shape and
/// whether it names a transitive SCP. Panics when a part it hands out is not a slice of the text
/// (they are documented as borrowed from it).
pub fn error_message(text: &str) -> (String, bool) {
    let msg = Message::parse(Some(text));
    let range = text.as_ptr() as usize..=text.as_ptr() as usize + text.len();
    for part in
        [Some(msg.raw), msg.principal, msg.action, msg.resource, msg.policy_arn, Some(msg.rest)].into_iter().flatten()
    {
        let start = part.as_ptr() as usize;
        assert!(
            part.is_empty() || (range.contains(&start) && range.contains(&(start + part.len()))),
            "{part:?} is not a slice of {text:?}"
        );
    }
    let _ = (msg.reason(), msg.explicit_or_generic(), msg.is_generic(), msg.explicit_kind(), msg.is_kms());
    let _ = msg.s3_action();
    use crate::diagnose::message::PolicyKind::*;
    for kind in [Identity, Resource, Scp, Rcp, VpcEndpoint, Boundary, Session, RoleTrust] {
        let _ = msg.s3_reason(kind);
    }
    if let Some(reason) = msg.reason() {
        let _ = (reason.kind.phrase(), reason.kind.with_article(), reason.because());
    }
    (format!("{:?}", msg.shape), msg.transitive_scp)
}

/// Reads a policy document as the diagnosis does (from a companion's `policy_document`) and
/// matches it against `event` denied writing `action`. `None` when it is not a policy.
pub fn policy_denies(text: &str, event: &Event, principal_arn: Option<String>) -> Option<Vec<String>> {
    let doc = Document::parse(text)?;
    let req = policy::Request {
        ev: event,
        action: policy::s3_action_of(event),
        resource: event.object_arn().unwrap_or_default(),
        principal_arn,
    };
    Some(policy::denies(&doc, &req).iter().map(|hit| format!("{} {}", hit.name(), hit.conditions())).collect())
}

/// The IAM wildcard match the diagnosis uses on policy patterns.
pub fn iam_glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    policy::glob(pattern, text, ignore_case)
}
