//! Where log bytes come from: local files and directories, stdin, and S3.
//!
//! A source only lists objects and produces their bytes (a path to open, stdin, or a body
//! fetched into memory); what is inside them is the pipeline's business (`crate::scan`).
//! Objects that are never read (digests, insights, out of scope) and objects that cannot be
//! reached are accounted for here, as [`Listed::Skipped`] and [`Listed::Failed`].

pub mod local;
pub mod logs;
pub mod lookup;
pub mod s3;
pub mod trail;

use std::path::PathBuf;

pub use crate::layout;
use crate::stats::{ObjectError, SkipReason};

/// Where one log object's bytes live.
#[derive(Debug)]
pub enum Location {
    File(PathBuf),
    Stdin,
    /// Fetched whole (an S3 object). `_budget` holds the body's share of the source's memory
    /// budget and returns it when the body is dropped, after parsing.
    Body {
        bytes: Vec<u8>,
        _budget: Box<dyn std::any::Any + Send>,
    },
}

/// One log file to read.
#[derive(Debug)]
pub struct LogObject {
    /// How the summary names it: a path, `-`, or `s3://bucket/key`.
    pub name: String,
    pub location: Location,
    /// Found by a directory walk rather than named by the user.
    pub walked: bool,
    /// Size in bytes, when the listing knows it (for progress).
    pub size: u64,
}

/// One item of a streamed listing.
#[derive(Debug)]
pub enum Listed {
    Object(LogObject),
    /// Accounted for without reading (digest, insight, out of scope).
    Skipped(String, SkipReason),
    /// Could not be listed, opened or fetched.
    Failed(String, ObjectError),
}

impl Listed {
    /// How the summary names the item.
    pub fn name(&self) -> &str {
        match self {
            Listed::Object(o) => &o.name,
            Listed::Skipped(n, _) | Listed::Failed(n, _) => n,
        }
    }
}

/// A positional input, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
    S3 {
        bucket: String,
        prefix: String,
    },
    /// `logs://GROUP`: a CloudWatch Logs group that a trail delivers to (FilterLogEvents).
    Logs {
        group: String,
    },
    /// `cloudtrail://lookup`: the management events of the last 90 days (LookupEvents).
    Lookup,
}

impl Input {
    pub fn parse(s: &str) -> Result<Input, String> {
        if s == "-" {
            return Ok(Input::Stdin);
        }
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("'{s}' names no bucket: expected s3://bucket[/prefix]"));
            }
            return Ok(Input::S3 { bucket: bucket.to_string(), prefix: prefix.to_string() });
        }
        if let Some(group) = s.strip_prefix("logs://") {
            if group.is_empty() || group.len() > 512 {
                return Err(format!("'{s}' names no log group: expected logs://LOG_GROUP"));
            }
            return Ok(Input::Logs { group: group.to_string() });
        }
        if let Some(rest) = s.strip_prefix("cloudtrail://") {
            return match rest {
                "lookup" | "lookup/" => Ok(Input::Lookup),
                _ => Err(format!("'{s}' is not a CloudTrail source: the one there is cloudtrail://lookup")),
            };
        }
        if s.is_empty() {
            return Err("an input path is empty".to_string());
        }
        Ok(Input::Path(PathBuf::from(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs() {
        assert_eq!(Input::parse("-"), Ok(Input::Stdin));
        assert_eq!(Input::parse("s3://b"), Ok(Input::S3 { bucket: "b".into(), prefix: "".into() }));
        assert_eq!(
            Input::parse("s3://b/AWSLogs/1/"),
            Ok(Input::S3 { bucket: "b".into(), prefix: "AWSLogs/1/".into() })
        );
        assert!(Input::parse("s3:///x").is_err());
        assert_eq!(Input::parse("logs"), Ok(Input::Path("logs".into())));
        assert_eq!(Input::parse("logs:///aws/cloudtrail/org"), Ok(Input::Logs { group: "/aws/cloudtrail/org".into() }));
        assert!(Input::parse("logs://").is_err());
        assert_eq!(Input::parse("cloudtrail://lookup"), Ok(Input::Lookup));
        assert!(Input::parse("cloudtrail://lake").is_err());
    }
}
