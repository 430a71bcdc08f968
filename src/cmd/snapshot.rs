//! `denytrail snapshot`: scan, then save the configuration `--live` would read for the report, so
//! that `--config` can judge the denials later with no AWS call.

use anyhow::Result;
use chrono::Utc;

use super::{Exit, exit_for, warn};
use crate::cli::SnapshotArgs;
use crate::plan::ScanPlan;

pub fn run(args: &SnapshotArgs) -> Result<Exit> {
    let quiet = args.run.quiet;
    let scan = ScanPlan::of(&args.input, &args.aws, quiet, Utc::now())?;
    let aws = scan.aws.clone();
    let out = super::scan(scan)?;
    let Some((snapshot, live)) = super::Configuration::Live.resolve(&out, &aws, quiet)? else {
        unreachable!("a live configuration is always read")
    };
    crate::live::save(&snapshot, &args.out)?;
    if !quiet {
        eprintln!(
            "denytrail: configuration of {} saved to {}: {} bucket(s), {} principal(s), {} KMS key(s), {} VPC endpoint(s), {} account(s); {} API calls in {:.2} s, {} item(s) not visible",
            live.snapshot_taken_at.as_deref().unwrap_or("?"),
            args.out.display(),
            snapshot.buckets.len(),
            snapshot.principals.len(),
            snapshot.kms_keys.len(),
            snapshot.vpc_endpoints.len(),
            snapshot.accounts.len(),
            live.live_calls,
            live.seconds,
            live.not_visible
        );
        if out.groups.is_empty() {
            warn(quiet, "no denial matched: the snapshot holds nothing to judge against");
        }
    }
    Ok(exit_for(&out, args.run.fail_on_findings, !out.groups.is_empty()))
}
