//! The CloudTrail key layout, and pruning a listing by account, region and date before reading.
//!
//! `[prefix/]AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>` — the same for S3
//! keys and for a local copy of a trail bucket. The date folder is the *delivery* day, so a
//! window ending on day D must also read day D+1.

use crate::filter::Names;

use chrono::{Datelike, NaiveDate};

/// Which part of a trail a path belongs to, as far as the path says (a folder path is partial).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout<'a> {
    pub org: Option<&'a str>,
    pub account: Option<&'a str>,
    /// `CloudTrail`, `CloudTrail-Digest`, `CloudTrail-Insight`.
    pub kind: Option<&'a str>,
    pub region: Option<&'a str>,
    pub year: Option<i32>,
    pub month: Option<u32>,
    pub day: Option<u32>,
}

/// Reads the layout from path segments; `None` when there is no `AWSLogs` segment.
pub fn parse<'a>(segments: &[&'a str]) -> Option<Layout<'a>> {
    let start = segments.iter().rposition(|s| *s == "AWSLogs")? + 1;
    let mut it = segments[start..].iter().copied().peekable();
    let mut l = Layout::default();
    if let Some(org) = it.next_if(|s| s.starts_with("o-")) {
        l.org = Some(org);
    }
    l.account = it.next_if(|s| crate::event::is_account_id(s));
    if l.account.is_none() {
        return Some(l);
    }
    l.kind = it.next_if(|s| s.starts_with("CloudTrail"));
    if l.kind.is_none() {
        return Some(l);
    }
    l.region = it.next();
    l.year = it.next().and_then(|s| s.parse().ok());
    l.month = l.year.and(it.next()).and_then(|s| s.parse().ok());
    l.day = l.month.and(it.next()).and_then(|s| s.parse().ok());
    Some(l)
}

/// What `--account`, `--region`, `--since` and `--until` keep.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub accounts: Option<Names>,
    pub regions: Option<Names>,
    /// First delivery day to read.
    pub from_day: Option<NaiveDate>,
    /// Last delivery day to read (the day after `--until`, for late deliveries).
    pub to_day: Option<NaiveDate>,
}

impl Scope {
    pub fn is_unbounded(&self) -> bool {
        self.accounts.is_none() && self.regions.is_none() && self.from_day.is_none() && self.to_day.is_none()
    }

    /// Whether anything under this (possibly partial) layout can be in scope.
    pub fn admits(&self, l: &Layout) -> bool {
        let set_ok = |set: &Option<Names>, v: Option<&str>| match (set, v) {
            (Some(set), Some(v)) => set.contains(v),
            _ => true,
        };
        if !set_ok(&self.accounts, l.account) || !set_ok(&self.regions, l.region) {
            return false;
        }
        let Some(year) = l.year else { return true };
        // Compare at the precision the path gives: (year), (year, month) or the full date.
        let key = |d: NaiveDate| (d.year(), l.month.map_or(0, |_| d.month()), l.day.map_or(0, |_| d.day()));
        let here = (year, l.month.unwrap_or(0), l.day.unwrap_or(0));
        self.from_day.is_none_or(|f| here >= key(f)) && self.to_day.is_none_or(|t| here <= key(t))
    }
}

/// Why a path is never read, from its name alone.
pub fn skip_by_name(segments: &[&str]) -> Option<crate::stats::SkipReason> {
    use crate::stats::SkipReason;
    let file = segments.last().copied().unwrap_or("");
    if segments.contains(&"CloudTrail-Digest") || file.contains("_CloudTrail-Digest_") {
        Some(SkipReason::Digest)
    } else if segments.contains(&"CloudTrail-Insight") || file.contains("_CloudTrail-Insight_") {
        Some(SkipReason::Insight)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<&str> {
        p.split('/').filter(|s| !s.is_empty()).collect()
    }

    #[test]
    fn parses_plain_and_org_layouts() {
        let l = parse(&segs("logs/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/21/f.json.gz")).unwrap();
        assert_eq!(
            (l.account, l.region, l.year, l.month, l.day),
            (Some("111122223333"), Some("us-east-1"), Some(2026), Some(11), Some(21))
        );
        let l = parse(&segs("AWSLogs/o-3h3h3h3h3h/123456789012/CloudTrail/us-east-1/2020/06")).unwrap();
        assert_eq!(
            (l.org, l.account, l.year, l.month, l.day),
            (Some("o-3h3h3h3h3h"), Some("123456789012"), Some(2020), Some(6), None)
        );
        assert_eq!(parse(&segs("data/x/y.json")), None);
    }

    #[test]
    fn scope_prunes_at_each_level() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let s = Scope {
            accounts: Some(Names::from_iter(["111122223333".into()])),
            regions: Some(Names::from_iter(["eu-west-1".into()])),
            from_day: Some(d(2026, 11, 20)),
            to_day: Some(d(2026, 12, 1)),
        };
        let admits = |p: &str| s.admits(&parse(&segs(p)).unwrap());
        assert!(admits("AWSLogs"));
        assert!(admits("AWSLogs/111122223333"));
        assert!(!admits("AWSLogs/444455556666"));
        assert!(!admits("AWSLogs/111122223333/CloudTrail/us-east-1"));
        assert!(admits("AWSLogs/111122223333/CloudTrail/eu-west-1/2026"));
        assert!(!admits("AWSLogs/111122223333/CloudTrail/eu-west-1/2025"));
        assert!(admits("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/12"));
        assert!(!admits("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/10"));
        assert!(!admits("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/19"));
        assert!(admits("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20"));
        assert!(admits("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/12/01"));
        assert!(!admits("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/12/02"));
    }

    #[test]
    fn digests_and_insights_by_name() {
        use crate::stats::SkipReason;
        assert_eq!(skip_by_name(&segs("AWSLogs/1/CloudTrail-Digest/us-east-1/x.json.gz")), Some(SkipReason::Digest));
        assert_eq!(
            skip_by_name(&segs("x/1_CloudTrail-Digest_us-east-1_t_us-east-1_20261121T010000Z.json.gz")),
            Some(SkipReason::Digest)
        );
        assert_eq!(skip_by_name(&segs("AWSLogs/1/CloudTrail-Insight/r/f.json.gz")), Some(SkipReason::Insight));
        assert_eq!(skip_by_name(&segs("AWSLogs/1/CloudTrail/r/f.json.gz")), None);
    }
}
