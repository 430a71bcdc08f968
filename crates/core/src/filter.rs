//! Which events a scan keeps: the user's target filter, and the companion events that the
//! diagnosis stage needs to explain the targets.
//!
//! The filter also derives the raw-byte needles of the prefilter: a record that contains none of
//! them cannot match, so it is counted and never parsed.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use globset::{Glob, GlobMatcher};

/// The S3 operations that `s3:PutObject` authorizes.
pub const S3_WRITES: [&str; 6] =
    ["PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject", "UploadPartCopy"];

pub const S3_SOURCE: &str = "s3.amazonaws.com";

/// Management events that change who may write where; kept to explain a sudden denial.
pub const POLICY_CHANGES: [&str; 27] = [
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketPublicAccessBlock",
    "DeleteBucketPublicAccessBlock",
    "PutPublicAccessBlock",
    "PutAccountPublicAccessBlock",
    "PutBucketOwnershipControls",
    "PutBucketEncryption",
    "PutBucketAcl",
    "PutAccessPointPolicy",
    "PutRolePolicy",
    "PutUserPolicy",
    "PutGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "DeleteRolePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "PutRolePermissionsBoundary",
    "PutUserPermissionsBoundary",
    "AttachPolicy",
    "UpdatePolicy",
    "DetachPolicy",
    "PutKeyPolicy",
];

/// A set of names (event names and sources, error codes, accounts, regions), looked up once or
/// twice for every record parsed: hashed with FNV, which for these short keys costs a fraction of
/// the default SipHash (not needed against flooding: the sets come from the command line).
pub type Names = HashSet<String, BuildHasherDefault<fnv::FnvHasher>>;

/// Which `errorCode`s match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCodes {
    /// Any outcome, successes included (`--error-code '*'`).
    Any,
    /// Any record that has an `errorCode` (`--all-errors`).
    AnyError,
    Set(Names),
}

#[derive(Debug, Clone)]
pub struct Glob1 {
    pub pattern: String,
    matcher: GlobMatcher,
}

impl Glob1 {
    pub fn new(pattern: &str) -> Result<Self, globset::Error> {
        let matcher = Glob::new(pattern)?.compile_matcher();
        Ok(Glob1 { pattern: pattern.to_string(), matcher })
    }
    pub fn is_match(&self, s: &str) -> bool {
        self.matcher.is_match(s)
    }
}

#[derive(Debug, Clone)]
pub struct Filter {
    /// `None` = any event name.
    pub event_names: Option<Names>,
    /// `None` = any event source.
    pub event_sources: Option<Names>,
    pub error_codes: ErrorCodes,
    /// Inclusive window on `eventTime`, in ms since the epoch.
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// `recipientAccountId` (the trail's account) must be one of these.
    pub accounts: Option<Names>,
    /// `awsRegion` must be one of these.
    pub regions: Option<Names>,
    pub principal: Option<Glob1>,
    pub bucket: Option<Glob1>,
    pub prefix: Option<Glob1>,
}

impl Default for Filter {
    /// The contract's default: S3 writes that `s3:PutObject` authorizes, denied with AccessDenied.
    fn default() -> Self {
        Filter {
            event_names: Some(S3_WRITES.iter().map(|s| s.to_string()).collect()),
            event_sources: Some(Names::from_iter([S3_SOURCE.to_string()])),
            error_codes: ErrorCodes::Set(Names::from_iter(["AccessDenied".to_string()])),
            since_ms: None,
            until_ms: None,
            accounts: None,
            regions: None,
            principal: None,
            bucket: None,
            prefix: None,
        }
    }
}

/// The fields a filter decision needs, borrowed from a parsed record.
#[derive(Debug, Default, Clone, Copy)]
pub struct Facts<'a> {
    pub event_source: &'a str,
    pub event_name: &'a str,
    pub error_code: Option<&'a str>,
    pub event_time_ms: Option<i64>,
    pub recipient_account: Option<&'a str>,
    pub region: Option<&'a str>,
}

impl Filter {
    /// Whether a record is a target, on the fields known before extraction. Principal, bucket and
    /// prefix globs are applied to the extracted event by [`Filter::matches_event_globs`].
    pub fn matches(&self, f: &Facts) -> bool {
        if let Some(names) = &self.event_names
            && !names.contains(f.event_name)
        {
            return false;
        }
        if let Some(sources) = &self.event_sources
            && !sources.contains(f.event_source)
        {
            return false;
        }
        let code_ok = match &self.error_codes {
            ErrorCodes::Any => true,
            ErrorCodes::AnyError => f.error_code.is_some_and(|c| !c.is_empty()),
            ErrorCodes::Set(codes) => f.error_code.is_some_and(|c| codes.contains(c)),
        };
        code_ok && self.in_window(f.event_time_ms) && self.in_scope(f)
    }

    fn in_window(&self, t: Option<i64>) -> bool {
        if self.since_ms.is_none() && self.until_ms.is_none() {
            return true;
        }
        // Without a readable eventTime a record cannot be placed in the window.
        let Some(t) = t else { return false };
        self.since_ms.is_none_or(|s| t >= s) && self.until_ms.is_none_or(|u| t <= u)
    }

    fn in_scope(&self, f: &Facts) -> bool {
        let ok = |set: &Option<Names>, v: Option<&str>| set.as_ref().is_none_or(|s| v.is_some_and(|v| s.contains(v)));
        ok(&self.accounts, f.recipient_account) && ok(&self.regions, f.region)
    }

    /// Whether [`Filter::matches_event_globs`] can reject an event.
    pub fn has_event_globs(&self) -> bool {
        self.principal.is_some() || self.bucket.is_some() || self.prefix.is_some()
    }

    pub fn matches_event_globs(&self, principal: &str, bucket: Option<&str>, prefix: &str) -> bool {
        self.principal.as_ref().is_none_or(|g| g.is_match(principal))
            && self.bucket.as_ref().is_none_or(|g| bucket.is_some_and(|b| g.is_match(b)))
            && self.prefix.as_ref().is_none_or(|g| g.is_match(prefix))
    }

    /// Byte strings of which a matching record must contain at least one, or `None` when the
    /// filter is too open to prefilter (every record is then parsed).
    pub fn needles(&self) -> Option<Vec<String>> {
        let mut needles: Vec<String> = match (&self.error_codes, &self.event_names) {
            (ErrorCodes::Set(codes), _) => codes.iter().map(|c| format!("\"{c}\"")).collect(),
            (ErrorCodes::AnyError, _) => vec!["\"errorCode\"".to_string()],
            (ErrorCodes::Any, Some(names)) => names.iter().map(|n| format!("\"{n}\"")).collect(),
            (ErrorCodes::Any, None) => return None,
        };
        needles.extend(companion_needles());
        needles.sort();
        needles.dedup();
        Some(needles)
    }
}

/// Why a record is kept as a companion, if it is one.
pub fn companion_kind(f: &Facts) -> Option<&'static str> {
    let denied = f.error_code.is_some_and(|c| c.starts_with("AccessDenied"));
    match (f.event_source, f.event_name) {
        ("kms.amazonaws.com", "GenerateDataKey" | "Decrypt") if denied => Some("kms-denied"),
        ("kms.amazonaws.com", _) if f.error_code.is_some_and(|c| c.starts_with("KMS.")) => Some("kms-error"),
        _ if f.error_code == Some("VpceAccessDenied") => Some("vpce-denied"),
        ("sts.amazonaws.com", n)
            if f.error_code.is_none() && (n.starts_with("AssumeRole") || n == "GetFederationToken") =>
        {
            Some("session-issued")
        }
        (_, n) if f.error_code.is_none() && POLICY_CHANGES.contains(&n) => Some("policy-change"),
        _ => None,
    }
}

fn companion_needles() -> impl Iterator<Item = String> {
    ["AccessDenied", "\"KMS.", "\"AssumeRole", "\"GetFederationToken\""]
        .into_iter()
        .map(str::to_string)
        .chain(POLICY_CHANGES.iter().map(|n| format!("\"{n}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(source: &'a str, name: &'a str, code: Option<&'a str>) -> Facts<'a> {
        Facts { event_source: source, event_name: name, error_code: code, ..Facts::default() }
    }

    #[test]
    fn default_matches_denied_s3_writes_only() {
        let f = Filter::default();
        for op in S3_WRITES {
            assert!(f.matches(&facts(S3_SOURCE, op, Some("AccessDenied"))), "{op}");
        }
        assert!(!f.matches(&facts(S3_SOURCE, "GetObject", Some("AccessDenied"))));
        assert!(!f.matches(&facts(S3_SOURCE, "PutObject", None)));
        assert!(!f.matches(&facts(S3_SOURCE, "PutObject", Some("NoSuchBucket"))));
        assert!(!f.matches(&facts("s3-outposts.amazonaws.com", "PutObject", Some("AccessDenied"))));
    }

    #[test]
    fn error_code_modes_and_window() {
        let mut f = Filter { error_codes: ErrorCodes::AnyError, ..Filter::default() };
        assert!(f.matches(&facts(S3_SOURCE, "PutObject", Some("ExpiredToken"))));
        assert!(!f.matches(&facts(S3_SOURCE, "PutObject", None)));
        f.error_codes = ErrorCodes::Any;
        assert!(f.matches(&facts(S3_SOURCE, "PutObject", None)));
        f.since_ms = Some(1000);
        f.until_ms = Some(2000);
        let at = |t| Facts { event_time_ms: t, ..facts(S3_SOURCE, "PutObject", None) };
        assert!(f.matches(&at(Some(1000))) && f.matches(&at(Some(2000))));
        assert!(!f.matches(&at(Some(999))) && !f.matches(&at(Some(2001))) && !f.matches(&at(None)));
    }

    #[test]
    fn needles_follow_the_filter() {
        let n = Filter::default().needles().unwrap();
        assert!(n.contains(&"\"AccessDenied\"".to_string()));
        assert!(n.contains(&"\"PutBucketPolicy\"".to_string()));
        let open = Filter { error_codes: ErrorCodes::Any, event_names: None, ..Filter::default() };
        assert_eq!(open.needles(), None);
    }

    #[test]
    fn companions() {
        assert_eq!(
            companion_kind(&facts("kms.amazonaws.com", "GenerateDataKey", Some("AccessDenied"))),
            Some("kms-denied")
        );
        assert_eq!(companion_kind(&facts("kms.amazonaws.com", "GenerateDataKey", None)), None);
        assert_eq!(companion_kind(&facts("sts.amazonaws.com", "AssumeRoleWithSAML", None)), Some("session-issued"));
        assert_eq!(companion_kind(&facts("s3.amazonaws.com", "PutBucketPolicy", None)), Some("policy-change"));
        assert_eq!(companion_kind(&facts("s3.amazonaws.com", "PutBucketPolicy", Some("AccessDenied"))), None);
        assert_eq!(
            companion_kind(&facts("s3.amazonaws.com", "PutObject", Some("VpceAccessDenied"))),
            Some("vpce-denied")
        );
    }
}
