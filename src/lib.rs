//! denytrail: who is denied writes to S3, where, and most likely why — from CloudTrail logs.
//!
//! The pure stages live in `denytrail-core` (re-exported here under their own names):
//! [`decode`] → [`parse`] → [`filter`] → [`collect`] → [`diagnose`]. This crate adds what needs
//! I/O, threads, polars or AWS: [`source`] (local files, stdin, S3), [`scan`] (the rayon
//! pipeline), [`report`] (polars grouping, the table writer, SQL, baselines), [`sink`] (outputs), [`aws`]
//! (shared SDK plumbing), [`live`] (the account configuration `--live` and `snapshot` read), and [`cli`] → [`plan`] → [`cmd`] (flags, the checked plan, one module per
//! command).

pub use denytrail_core::{
    collect, decode, diagnose, diagnose_groups, event, filter, layout, parse, partial, shard, stats,
};

pub mod aws;
pub mod cli;
pub mod cmd;
pub mod live;
pub mod plan;
pub mod progress;
pub mod report;
pub mod scan;
pub mod sink;
pub mod source;
