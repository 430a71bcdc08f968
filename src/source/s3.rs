//! S3 input: lists a trail bucket (pruned by the CloudTrail layout) and streams its objects into
//! the same worker pool as local files.

use std::sync::mpsc::SyncSender;

use anyhow::{Result, bail};

use super::Listing;
use super::layout::Scope;
use crate::parse::{ObjectReport, ScanContext};
use crate::progress::Progress;

/// How to reach S3.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    pub profile: Option<String>,
    /// The client's region; `None` = the credential chain's, then the bucket's own.
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// GETs in flight at once.
    pub concurrency: usize,
}

/// Reads every in-scope object under the given `(bucket, prefix)` inputs.
pub fn scan(
    inputs: &[(String, String)],
    _opts: &S3Options,
    _scope: &Scope,
    _ctx: &ScanContext,
    _pool: &rayon::ThreadPool,
    _tx: SyncSender<ObjectReport>,
    _progress: Progress,
) -> Result<Listing> {
    let (bucket, _) = &inputs[0];
    bail!(
        "reading s3://{bucket} is not supported by this build yet; copy the logs locally (aws s3 sync) and scan the folder"
    )
}
