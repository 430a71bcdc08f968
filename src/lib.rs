//! denytrail: who is denied writes to S3, where, and most likely why — from CloudTrail logs.
//!
//! The pipeline, one module per stage:
//! [`source`] (local files, stdin, S3) → [`decode`] (gzip, size limit) → [`parse`] (record
//! splitting, prefilter, simd-json) → [`filter`] (which events) → `diagnose` (likely causes) →
//! [`report`] (polars grouping, writers). [`scan`] wires the stages on a rayon pool and
//! [`stats`] accounts for every object and record.

pub mod app;
pub mod cli;
pub mod decode;
pub mod event;
pub mod filter;
pub mod parse;
pub mod progress;
pub mod report;
pub mod scan;
pub mod source;
pub mod stats;

use std::collections::HashMap;

use event::Event;
use report::{GroupDiagnosis, GroupKey};

/// Diagnosis columns per group. Empty until the diagnosis stage lands.
pub fn diagnose_groups(targets: &[Event], companions: &[Event]) -> HashMap<GroupKey, GroupDiagnosis> {
    let _ = (targets, companions);
    HashMap::new()
}

/// TEMPORARY stand-in until src/synth.rs lands.
pub mod synth {
    #[derive(Debug, Default, Clone, serde::Serialize)]
    pub struct SynthSummary {}
    pub struct SynthOptions {
        pub seed: u64,
        pub denied_ratio: f64,
        pub min_file_bytes: u64,
        pub max_file_bytes: u64,
    }
    impl SynthOptions {
        pub fn new(_: std::path::PathBuf, _: u64) -> Self {
            SynthOptions { seed: 0, denied_ratio: 0.0, min_file_bytes: 0, max_file_bytes: 0 }
        }
    }
    pub fn generate(_: &SynthOptions) -> std::io::Result<SynthSummary> {
        Err(std::io::Error::other("not yet"))
    }
}
