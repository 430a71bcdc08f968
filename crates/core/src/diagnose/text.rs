//! Small text helpers shared by the rules, the commands and the explain view. Everything here is
//! total: any input (odd UTF-8, huge strings, shell metacharacters) gives an answer, never a panic.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};

/// At most `max` chars of `s`, cut on a char boundary, with "…" when something was cut.
pub(crate) fn clip(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}…", &s[..end])),
    }
}

/// RFC 3339 UTC with seconds, or "an unknown time".
pub(crate) fn fmt_time(ms: Option<i64>) -> String {
    ms.and_then(DateTime::<Utc>::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "an unknown time".to_string())
}

/// A duration in words: "45 s", "5 min", "2 h 10 min", "3 days".
pub(crate) fn fmt_gap(ms: i64) -> String {
    let s = ms.unsigned_abs() / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 if (s % 3600) / 60 == 0 => format!("{} h", s / 3600),
        3600..86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ if s / 86_400 == 1 => "1 day".to_string(),
        _ => format!("{} days", s / 86_400),
    }
}

/// Quotes a value for a POSIX shell when it holds anything beyond a conservative safe set, so a
/// command built from log text can be pasted without running anything the log author chose.
pub(crate) fn sh(value: &str) -> Cow<'_, str> {
    let safe = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c));
    if safe { Cow::Borrowed(value) } else { Cow::Owned(format!("'{}'", value.replace('\'', r"'\''"))) }
}

/// Escapes the IAM wildcard characters of a literal ARN part (`*` `?` `$` become `${*}` `${?}`
/// `${$}`), so a key prefix that contains them never widens a policy's Resource.
pub(crate) fn iam_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '*' => out.push_str("${*}"),
            '?' => out.push_str("${?}"),
            '$' => out.push_str("${$}"),
            c => out.push(c),
        }
    }
    out
}

/// The role or user name at the end of an IAM ARN (`arn:aws:iam::1:role/path/ci` → `ci`).
pub(crate) fn iam_name(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let name = resource.rsplit('/').next()?;
    (!name.is_empty() && resource.contains('/')).then_some(name)
}

/// The ARN partition (`aws`, `aws-cn`, `aws-us-gov`, ...), when `arn` is a well-formed ARN.
pub(crate) fn partition(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    (parts.next()? == "arn").then_some(())?;
    let p = parts.next()?;
    (!p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '-')).then_some(p)
}

/// True for a 12-digit account id.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::is_account_id;

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("äöüß", 2), "äö…");
        assert_eq!(clip("😀😀😀", 1), "😀…");
        assert_eq!(clip("", 0), "");
    }

    #[test]
    fn times_and_gaps() {
        assert_eq!(fmt_time(Some(1_725_184_800_000)), "2024-09-01T10:00:00Z");
        assert_eq!(fmt_time(None), "an unknown time");
        assert_eq!(fmt_time(Some(i64::MAX)), "an unknown time");
        assert_eq!(fmt_gap(300_000), "5 min");
        assert_eq!(fmt_gap(42_000), "42 s");
        assert_eq!(fmt_gap(7_800_000), "2 h 10 min");
        assert_eq!(fmt_gap(3_600_000), "1 h");
        assert_eq!(fmt_gap(86_400_000 * 3), "3 days");
        // A gap no clock can show still reads as text, without overflow.
        assert!(!fmt_gap(i64::MIN).is_empty());
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh("arn:aws:s3:::b/k"), "arn:aws:s3:::b/k");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("x'; rm -rf /"), r"'x'\''; rm -rf /'");
        assert_eq!(sh("$(id)"), "'$(id)'");
        assert_eq!(sh(""), "''");
    }

    #[test]
    fn iam_helpers() {
        assert_eq!(iam_literal("a*b?$"), "a${*}b${?}${$}");
        assert_eq!(iam_name("arn:aws:iam::1:role/path/ci"), Some("ci"));
        assert_eq!(iam_name("arn:aws:iam::1:root"), None);
        assert_eq!(partition("arn:aws-cn:iam::1:role/x"), Some("aws-cn"));
        assert_eq!(partition("nope"), None);
        assert!(is_account_id("111122223333"));
        assert!(!is_account_id("ANONYMOUS_PRINCIPAL"));
    }
}
