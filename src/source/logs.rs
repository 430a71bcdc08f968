//! CloudWatch Logs input (`logs://GROUP`): the log group a trail delivers to, read with
//! FilterLogEvents over `--since/--until`.
//!
//! A server-side filter pattern narrows the group to what the scan can use (denials, KMS and
//! VPC-endpoint errors, sessions, policy changes), so a busy group costs requests in proportion
//! to its denials, not its traffic. The pattern only narrows: every message still goes through
//! the scan's own filter. Each page becomes one object in the `aws logs filter-log-events`
//! output shape (`{"events":[{"message":…}]}`), which the parser reads like a saved file, so
//! dedupe and accounting are the same as for any other input.

use std::sync::mpsc::SyncSender;

use anyhow::{Result, anyhow};
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::Region;

use super::{Listed, Location, LogObject};
use crate::aws::{AwsOptions, FALLBACK_REGION, Problem, runtime, sdk_config};
use crate::filter::{ErrorCodes, Filter};
use crate::progress::Progress;
use crate::stats::ObjectError;

/// Events per FilterLogEvents page (the API's maximum is 10,000; pages are objects in memory).
const PAGE_EVENTS: i32 = 1_000;

/// Event-name globs of the records the diagnosis joins to denials: sessions and policy changes.
/// A test checks that every name in [`crate::filter::POLICY_CHANGES`] is covered.
const COMPANION_NAMES: [&str; 12] = [
    "AssumeRole*",
    "GetFederationToken",
    "Put*Policy*",
    "Put*PublicAccessBlock",
    "PutBucket*",
    "Delete*Policy*",
    "Delete*PublicAccessBlock",
    "Attach*Policy",
    "Detach*Policy",
    "*PolicyVersion",
    "UpdatePolicy",
    "Put*PermissionsBoundary",
];

/// The filter pattern for `filter`: its error codes, plus what the diagnosis correlates.
/// `None` when the scan wants every record (`--error-code '*'`).
pub fn filter_pattern(filter: &Filter) -> Option<String> {
    let errors: Vec<String> = match &filter.error_codes {
        ErrorCodes::Any => return None,
        ErrorCodes::AnyError => vec!["*".into()],
        ErrorCodes::Set(codes) => {
            let mut codes: Vec<String> = codes.iter().map(|c| c.replace('"', "")).collect();
            codes.sort();
            codes.extend(["AccessDenied*", "KMS.*", "VpceAccessDenied"].map(String::from));
            codes.dedup();
            codes
        }
    };
    let terms = errors
        .iter()
        .map(|c| if c == "*" { "($.errorCode = *)".to_string() } else { format!("($.errorCode = \"{c}\")") })
        .chain(COMPANION_NAMES.iter().map(|n| format!("($.eventName = \"{n}\")")));
    Some(format!("{{ {} }}", terms.collect::<Vec<_>>().join(" || ")))
}

/// Reads every group into `out`, one object per page. A group that cannot be read is one failed
/// object and the scan goes on; credentials that do not work end the scan.
pub fn read(
    groups: &[String],
    opts: &AwsOptions,
    filter: &Filter,
    out: SyncSender<Listed>,
    progress: Progress,
) -> Result<()> {
    let pattern = filter_pattern(filter);
    runtime()?.block_on(async {
        let sdk = sdk_config(opts).await;
        let region = sdk.region().map_or_else(|| FALLBACK_REGION.to_string(), |r| r.to_string());
        let client =
            Client::from_conf(aws_sdk_cloudwatchlogs::config::Builder::from(&sdk).region(Region::new(region)).build());
        for group in groups {
            let mut pages = client
                .filter_log_events()
                .log_group_name(group)
                .set_start_time(filter.since_ms)
                .set_end_time(filter.until_ms)
                .set_filter_pattern(pattern.clone())
                .limit(PAGE_EVENTS)
                .into_paginator()
                .send();
            let mut n = 0;
            while let Some(page) = pages.next().await {
                n += 1;
                let name = format!("logs://{group}#{n}");
                let page = match page {
                    Ok(page) => page,
                    Err(e) => {
                        let input = format!("logs://{group}");
                        page_failed(&input, name, "cannot read the log group", Problem::of(&e), &out, &progress)?;
                        break;
                    }
                };
                let messages: Vec<&str> = page.events().iter().filter_map(|e| e.message()).collect();
                // Empty pages (AWS returns some while it searches) add nothing but a request;
                // the first is kept so that a group with no match is still accounted for.
                if messages.is_empty() && n > 1 {
                    continue;
                }
                if !send_page(name, page_body("events", "message", &messages), &out, &progress) {
                    return Ok(()); // the pipeline stopped
                }
            }
        }
        Ok(())
    })
}

/// A page that could not be fetched: credentials that do not work end the scan (an error);
/// anything else fails this page, named, and the input stops there.
pub(super) fn page_failed(
    input: &str,
    name: String,
    doing: &str,
    problem: Problem,
    out: &SyncSender<Listed>,
    progress: &Progress,
) -> Result<()> {
    if let Some(line) = problem.credentials_line() {
        return Err(anyhow!("{input}: {line}"));
    }
    progress.listed(1, 0);
    let _ = out.send(Listed::Failed(name, ObjectError::Fetch(format!("{doing}: {}", problem.detail()))));
    Ok(())
}

/// Hands a page to the pipeline as one object; false when the pipeline has stopped.
pub(super) fn send_page(name: String, bytes: Vec<u8>, out: &SyncSender<Listed>, progress: &Progress) -> bool {
    progress.listed(1, bytes.len() as u64);
    let location = Location::Body { bytes, _budget: Box::new(()) };
    out.send(Listed::Object(LogObject { name, location, walked: false, size: 0 })).is_ok()
}

/// A page as the CLI prints it: `{"<array>":[{"<field>":"<record>"},…]}`.
pub fn page_body(array: &str, field: &str, records: &[&str]) -> Vec<u8> {
    let items: Vec<serde_json::Value> = records.iter().map(|r| serde_json::json!({ field: r })).collect();
    serde_json::to_vec(&serde_json::json!({ array: items })).expect("strings serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::POLICY_CHANGES;

    /// `*` in a filter-pattern value matches any run of characters.
    fn glob(pattern: &str, name: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == name,
            Some((head, rest)) => {
                name.starts_with(head) && (0..=name.len() - head.len()).any(|i| glob(rest, &name[head.len() + i..]))
            }
        }
    }

    #[test]
    fn the_pattern_keeps_every_companion_and_the_asked_errors() {
        let p = filter_pattern(&Filter::default()).unwrap();
        assert!(p.len() <= 1024, "CloudWatch Logs caps a filter pattern at 1024 characters: {}", p.len());
        assert!(p.starts_with("{ ") && p.ends_with(" }"), "{p}");
        assert!(p.contains("($.errorCode = \"AccessDenied\")") && p.contains("($.errorCode = \"KMS.*\")"), "{p}");
        for name in POLICY_CHANGES.iter().chain(&["AssumeRole", "AssumeRoleWithSAML", "GetFederationToken"]) {
            assert!(COMPANION_NAMES.iter().any(|g| glob(g, name)), "{name} is not in the pattern");
        }
        // Data events that are not denials stay out: a busy bucket's successes cost nothing.
        for name in ["PutObject", "GetObject", "UploadPart", "CreateMultipartUpload"] {
            assert!(!COMPANION_NAMES.iter().any(|g| glob(g, name)), "{name} would be fetched");
        }
        let mut all = Filter { error_codes: ErrorCodes::AnyError, ..Filter::default() };
        assert!(filter_pattern(&all).unwrap().contains("($.errorCode = *)"));
        all.error_codes = ErrorCodes::Any;
        assert_eq!(filter_pattern(&all), None);
    }

    #[test]
    fn pages_have_the_cli_shape() {
        let body = page_body("events", "message", &["{\"eventID\":\"a\"}"]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["events"][0]["message"], "{\"eventID\":\"a\"}");
    }
}
