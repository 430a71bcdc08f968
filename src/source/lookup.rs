//! CloudTrail LookupEvents input (`cloudtrail://lookup`): the management events of the last
//! 90 days, straight from the CloudTrail API.
//!
//! Data events (S3 writes) are never there, but what the diagnosis joins to them is: policy
//! changes, `AssumeRole` sessions, KMS denials, management-plane AccessDenied. So a scan of a
//! trail bucket that only holds data events can still see the bucket policy change of last week.
//! LookupEvents allows 2 requests per second per account and region: pages are paced to that,
//! and the SDK retries a throttled request with backoff. Each page becomes one object in the
//! `aws cloudtrail lookup-events` output shape (`{"Events":[{"CloudTrailEvent":…}]}`).

use std::sync::mpsc::SyncSender;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::Region;
use aws_sdk_cloudtrail::primitives::DateTime;

use super::Listed;
use super::logs::{page_body, page_failed, send_page};
use crate::aws::{AwsOptions, FALLBACK_REGION, Problem, runtime, sdk_config};
use crate::progress::Progress;

/// The API's rate: 2 calls per second per account and region.
const PACE: Duration = Duration::from_millis(500);
/// How far back LookupEvents reaches, and the default window.
const RETENTION_MS: i64 = 90 * 86_400_000;
/// The API's page size maximum.
const PAGE_EVENTS: i32 = 50;

/// Reads the management events of `[since, until]` (default: the last 90 days) into `out`.
pub fn read(
    opts: &AwsOptions,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    now_ms: i64,
    out: SyncSender<Listed>,
    progress: Progress,
) -> Result<()> {
    let until = until_ms.unwrap_or(now_ms);
    let since = since_ms.unwrap_or(until - RETENTION_MS).max(now_ms - RETENTION_MS);
    runtime()?.block_on(async {
        let sdk = sdk_config(opts).await;
        let region = sdk.region().map_or_else(|| FALLBACK_REGION.to_string(), |r| r.to_string());
        let client =
            Client::from_conf(aws_sdk_cloudtrail::config::Builder::from(&sdk).region(Region::new(region)).build());
        let mut pages = client
            .lookup_events()
            .start_time(DateTime::from_millis(since))
            .end_time(DateTime::from_millis(until))
            .max_results(PAGE_EVENTS)
            .into_paginator()
            .send();
        let mut n = 0;
        loop {
            if n > 0 {
                tokio::time::sleep(PACE).await;
            }
            let Some(page) = pages.next().await else { break };
            n += 1;
            let name = format!("cloudtrail://lookup#{n}");
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    page_failed(
                        "cloudtrail://lookup",
                        name,
                        "cannot look up events",
                        Problem::of(&e),
                        &out,
                        &progress,
                    )?;
                    break;
                }
            };
            let records: Vec<&str> = page.events().iter().filter_map(|e| e.cloud_trail_event()).collect();
            if !send_page(name, page_body("Events", "CloudTrailEvent", &records), &out, &progress) {
                return Ok(()); // the pipeline stopped
            }
        }
        Ok(())
    })
}
