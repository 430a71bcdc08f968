//! `--trail NAME|ARN`: find a trail's bucket and prefix, and check that it logs S3 writes.

use anyhow::{Result, bail};

use super::Input;
use super::s3::S3Options;

/// What a trail lookup found: the S3 inputs to scan, and warnings for the user (e.g. the trail
/// does not log S3 write data events for some or all buckets).
#[derive(Debug, Default)]
pub struct TrailInputs {
    pub inputs: Vec<Input>,
    pub warnings: Vec<String>,
}

pub fn resolve(trail: &str, _opts: &S3Options) -> Result<TrailInputs> {
    bail!("--trail {trail}: trail discovery is not supported by this build yet")
}
