//! Denials per time bucket per group: when an outage began and when it ended.
//!
//! Built from plain `(group index, event time)` pairs so the table, the terminal chart and the
//! HTML chart all read the same numbers.

use std::fmt::Write;

use serde::Serialize;

use super::Group;
use super::escape::{display, shorten};

/// Bucket widths a reader recognises, smallest first (milliseconds).
const NICE_WIDTHS: [i64; 14] = [
    1_000,
    5_000,
    15_000,
    60_000,
    5 * 60_000,
    15 * 60_000,
    30 * 60_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    86_400_000,
    7 * 86_400_000,
    30 * 86_400_000,
];

/// Denials per bucket: `rows[i].counts[b]` is group `rows[i].group`'s denials in bucket `b`,
/// which starts at `start_ms + b * width_ms`. Rows are in report order; buckets span first to
/// last denial, empty ones included, so a gap in the chart is a real gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub start_ms: i64,
    pub width_ms: i64,
    pub rows: Vec<TimelineRow>,
    /// Events without a usable `eventTime` (not in any bucket).
    pub untimed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRow {
    /// Index of the group in the report.
    pub group: usize,
    pub counts: Vec<u64>,
}

impl Timeline {
    /// Buckets `(group, time_ms)` pairs for `groups` groups. `width_ms` of `None`, or one that
    /// would make more than `max_buckets` buckets, is replaced by the smallest nice width that
    /// gives at most `max_buckets`.
    pub fn build(
        groups: usize,
        events: impl IntoIterator<Item = (usize, Option<i64>)> + Clone,
        width_ms: Option<i64>,
        max_buckets: usize,
    ) -> Timeline {
        Timeline::build_counted(
            groups,
            events.into_iter().map(|(g, t)| (g, t, 1)).collect::<Vec<_>>(),
            width_ms,
            max_buckets,
        )
    }

    /// [`Timeline::build`] from `(group, time_ms, denials)`: denials counted per time (a
    /// reduced group's per-second tally).
    pub fn build_counted(
        groups: usize,
        events: impl IntoIterator<Item = (usize, Option<i64>, u64)> + Clone,
        width_ms: Option<i64>,
        max_buckets: usize,
    ) -> Timeline {
        let (mut first, mut last, mut untimed) = (i64::MAX, i64::MIN, 0u64);
        for (_, t, n) in events.clone() {
            match t {
                Some(t) => (first, last) = (first.min(t), last.max(t)),
                None => untimed += n,
            }
        }
        if first > last {
            let width_ms = width_ms.unwrap_or(NICE_WIDTHS[3]);
            let rows = (0..groups).map(|group| TimelineRow { group, counts: Vec::new() }).collect();
            return Timeline { start_ms: 0, width_ms, rows, untimed };
        }
        // A width that would make more than `max_buckets` buckets gives way to a wider one.
        let width_ms = match width_ms {
            Some(w) if w > 0 && (last - first) / w < max_buckets.max(1) as i64 => w,
            _ => auto_width(first, last, max_buckets),
        };
        let start_ms = first.div_euclid(width_ms) * width_ms;
        let buckets = ((last - start_ms) / width_ms + 1) as usize;
        let mut rows: Vec<TimelineRow> =
            (0..groups).map(|group| TimelineRow { group, counts: vec![0; buckets] }).collect();
        for (g, t, n) in events {
            if let (Some(t), Some(row)) = (t, rows.get_mut(g)) {
                row.counts[((t - start_ms) / width_ms) as usize] += n;
            }
        }
        Timeline { start_ms, width_ms, rows, untimed }
    }

    pub fn buckets(&self) -> usize {
        self.rows.first().map_or(0, |r| r.counts.len())
    }

    /// Start of bucket `b`, ms since the epoch.
    pub fn bucket_start(&self, b: usize) -> i64 {
        self.start_ms + b as i64 * self.width_ms
    }

    /// Denials of all groups per bucket.
    pub fn totals(&self) -> Vec<u64> {
        let mut totals = vec![0; self.buckets()];
        for row in &self.rows {
            for (t, c) in totals.iter_mut().zip(&row.counts) {
                *t += c;
            }
        }
        totals
    }

    /// `width_ms` as a short duration: `5m`, `1h`, `1d`.
    pub fn width_label(&self) -> String {
        duration_label(self.width_ms)
    }
}

/// The smallest nice width that fits `first..=last` in `max_buckets` buckets.
pub fn auto_width(first: i64, last: i64, max_buckets: usize) -> i64 {
    let span = (last - first).max(0);
    let max = max_buckets.max(1) as i64;
    NICE_WIDTHS
        .iter()
        .copied()
        .find(|w| span / w < max)
        .unwrap_or_else(|| (span / max + 1).max(NICE_WIDTHS[NICE_WIDTHS.len() - 1]))
}

/// A duration as its largest units: `5m`, `1h35m`, `2d`; sub-second rests as `ms`.
pub fn duration_label(ms: i64) -> String {
    let mut out = String::new();
    let mut rest = ms.max(0);
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if rest >= size {
            let _ = write!(out, "{}{unit}", rest / size);
            rest %= size;
        }
    }
    if rest > 0 || out.is_empty() {
        let _ = write!(out, "{rest}ms");
    }
    out
}

/// One `--timeline` row for machine formats: a group's denials in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelinePoint {
    /// RFC 3339 UTC start of the bucket.
    pub bucket_start: String,
    pub principal: String,
    pub bucket: String,
    pub prefix: String,
    pub denied: u64,
}

/// Columns of [`TimelinePoint`], in order.
pub const POINT_COLUMNS: [&str; 5] = ["bucket_start", "principal", "bucket", "prefix", "denied"];

impl Timeline {
    /// Long rows, bucket by bucket, groups in report order. Empty buckets are kept (a zero is
    /// information when an outage ended), one row per group and bucket.
    pub fn points(&self, groups: &[Group]) -> Vec<TimelinePoint> {
        let mut out = Vec::with_capacity(self.buckets() * self.rows.len());
        for b in 0..self.buckets() {
            let start = super::rfc3339_ms(self.bucket_start(b));
            for row in &self.rows {
                let Some(g) = groups.get(row.group) else { continue };
                out.push(TimelinePoint {
                    bucket_start: start.clone(),
                    principal: g.principal.clone(),
                    bucket: g.bucket.clone(),
                    prefix: g.prefix.clone(),
                    denied: row.counts[b],
                });
            }
        }
        out
    }

    /// The terminal view: one line per bucket with the total, the top groups' counts and a bar,
    /// then a legend. Runs of three or more empty buckets are folded into one line.
    pub fn render_text(&self, groups: &[Group], width: usize) -> String {
        let mut out = String::new();
        let buckets = self.buckets();
        if buckets == 0 {
            out.push_str("no timed denials\n");
            return out;
        }
        let end = self.bucket_start(buckets);
        let _ = writeln!(
            out,
            "Denials per {} (UTC), {} to {}",
            self.width_label(),
            stamp(self.start_ms, self.width_ms),
            stamp(end, self.width_ms)
        );
        let shown = self.rows.len().min(TEXT_SERIES);
        let other = self.rows.len() > shown;
        let totals = self.totals();
        let max = totals.iter().copied().max().unwrap_or(0).max(1);
        let stamp_w = stamp(self.start_ms, self.width_ms).len();
        let count_w = max.to_string().len().max(5);
        let mut header = format!("{:<stamp_w$}  {:>count_w$}", "time", "total");
        for i in 0..shown {
            let _ = write!(header, " {:>cw$}", format!("#{}", i + 1), cw = cell_width(i + 1, count_w));
        }
        if other {
            let _ = write!(header, " {:>count_w$}", "other");
        }
        let bar_w = width.saturating_sub(header.chars().count() + 2).clamp(10, 60);
        let _ = writeln!(out, "{header}");
        let mut b = 0;
        while b < buckets {
            let run = totals[b..].iter().take_while(|&&t| t == 0).count();
            if run >= 3 {
                let _ = writeln!(
                    out,
                    "{:<stamp_w$}  {:>count_w$}  (no denials for {})",
                    stamp(self.bucket_start(b), self.width_ms),
                    "·",
                    duration_label(run as i64 * self.width_ms)
                );
                b += run;
                continue;
            }
            let _ = write!(out, "{:<stamp_w$}  {:>count_w$}", stamp(self.bucket_start(b), self.width_ms), totals[b]);
            for (i, row) in self.rows.iter().take(shown).enumerate() {
                let _ = write!(out, " {:>cw$}", count_cell(row.counts[b]), cw = cell_width(i + 1, count_w));
            }
            if other {
                let rest: u64 = self.rows[shown..].iter().map(|r| r.counts[b]).sum();
                let _ = write!(out, " {:>count_w$}", count_cell(rest));
            }
            let bar = bar(totals[b], max, bar_w);
            let _ = if bar.is_empty() { writeln!(out) } else { writeln!(out, "  {bar}") };
            b += 1;
        }
        out.push('\n');
        for row in self.rows.iter().take(shown) {
            if let Some(g) = groups.get(row.group) {
                let total: u64 = row.counts.iter().sum();
                let where_ = display(&format!("s3://{}/{}", g.bucket, g.prefix));
                let lead = format!("#{:<3} {total:>6}  ", row.group + 1);
                let room = width.saturating_sub(lead.chars().count() + where_.chars().count() + 2).max(24);
                let _ = writeln!(out, "{lead}{}  {where_}", shorten(&display(&g.principal), room));
            }
        }
        if other {
            let _ = writeln!(out, "other: {} more group(s)", self.rows.len() - shown);
        }
        if self.untimed > 0 {
            let _ = writeln!(out, "{} denial(s) without a usable eventTime are not shown", self.untimed);
        }
        out
    }
}

/// Groups given their own column in the terminal view.
const TEXT_SERIES: usize = 6;

fn cell_width(rank: usize, count_w: usize) -> usize {
    count_w.min(6).max(format!("#{rank}").len())
}

fn count_cell(n: u64) -> String {
    if n == 0 { ".".to_string() } else { n.to_string() }
}

/// A bucket start, as precise as the width needs.
fn stamp(ms: i64, width_ms: i64) -> String {
    let fmt = if width_ms % 86_400_000 == 0 {
        "%Y-%m-%d"
    } else if width_ms % 60_000 == 0 {
        "%Y-%m-%d %H:%M"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format(fmt).to_string()).unwrap_or_default()
}

/// A horizontal bar of `n` out of `max` in `width` cells, with eighth-block precision; a
/// non-zero count always shows at least a sliver.
fn bar(n: u64, max: u64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = ((n as u128 * width as u128 * 8) / max as u128) as usize;
    let eighths = if n > 0 { eighths.max(1) } else { 0 };
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(PARTS[eighths % 8]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(principal: &str) -> Group {
        Group { principal: principal.into(), bucket: "b".into(), prefix: "p/".into(), ..Group::default() }
    }

    #[test]
    fn text_view_folds_quiet_runs_and_scales_bars() {
        let t0 = 1_763_715_600_000; // 2025-11-21T09:00:00Z
        let mut events = vec![(0, Some(t0)); 8];
        events.extend(vec![(1, Some(t0)); 4]);
        events.push((1, Some(t0 + 30 * MIN)));
        let tl = Timeline::build(2, events, Some(5 * MIN), 100);
        let text = tl.render_text(&[group("arn:aws:iam::1:role/ci"), group("evil\u{1b}[2J")], 100);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Denials per 5m (UTC), 2025-11-21 09:00 to 2025-11-21 09:35"), "{text}");
        assert!(lines[2].starts_with("2025-11-21 09:00     12     8     4  ████"), "{text}");
        assert!(lines[3].contains("(no denials for 25m)"), "{text}");
        assert!(lines[4].starts_with("2025-11-21 09:30      1     .     1  █████"), "{text}");
        assert!(
            text.lines().any(|l| l.starts_with("#1 ") && l.ends_with(" 8  arn:aws:iam::1:role/ci  s3://b/p/")),
            "{text}"
        );
        assert!(!text.contains('\u{1b}') && text.contains("evil\\x1b[2J"), "{text}");
        assert_eq!(bar(12, 12, 10), "██████████");
        assert_eq!(bar(1, 1000, 10), "▏");
        assert_eq!(bar(0, 10, 10), "");
    }

    #[test]
    fn points_keep_empty_buckets() {
        let tl = Timeline::build(1, vec![(0, Some(0)), (0, Some(2 * MIN))], Some(MIN), 100);
        let points = tl.points(&[group("p")]);
        assert_eq!(points.iter().map(|p| p.denied).collect::<Vec<_>>(), vec![1, 0, 1]);
        assert_eq!(points[1].bucket_start, "1970-01-01T00:01:00Z");
    }

    const MIN: i64 = 60_000;

    #[test]
    fn buckets_span_first_to_last_with_gaps() {
        let t0 = 1_700_000_000_000 - 1_700_000_000_000 % (5 * MIN);
        let events = vec![(0, Some(t0 + 1)), (0, Some(t0 + 4 * MIN)), (1, Some(t0 + 21 * MIN)), (1, None)];
        let tl = Timeline::build(2, events, Some(5 * MIN), 100);
        assert_eq!(tl.start_ms, t0);
        assert_eq!(tl.buckets(), 5);
        assert_eq!(tl.rows[0].counts, vec![2, 0, 0, 0, 0]);
        assert_eq!(tl.rows[1].counts, vec![0, 0, 0, 0, 1]);
        assert_eq!(tl.totals(), vec![2, 0, 0, 0, 1]);
        assert_eq!(tl.untimed, 1);
        assert_eq!(tl.width_label(), "5m");
    }

    #[test]
    fn auto_width_is_nice_and_bounded() {
        assert_eq!(auto_width(0, 59 * MIN, 60), MIN);
        assert_eq!(auto_width(0, 60 * MIN, 60), 5 * MIN);
        assert_eq!(auto_width(0, 3 * 86_400_000, 48), 3 * 3_600_000);
        let tl = Timeline::build(1, vec![(0, Some(0)), (0, Some(10 * 86_400_000))], None, 48);
        assert!(tl.buckets() <= 48, "{}", tl.buckets());
        assert_eq!(duration_label(90_000), "1m30s");
        assert_eq!(duration_label(95 * MIN), "1h35m");
        assert_eq!(duration_label(1_500), "1s500ms");
        let too_fine = Timeline::build(1, vec![(0, Some(0)), (0, Some(86_400_000))], Some(1_000), 100);
        assert_eq!(too_fine.width_ms, 15 * MIN);
        assert_eq!(duration_label(86_400_000), "1d");
    }

    #[test]
    fn no_times_gives_empty_rows() {
        let tl = Timeline::build(2, vec![(0, None)], None, 48);
        assert_eq!(tl.buckets(), 0);
        assert_eq!(tl.rows.len(), 2);
        assert_eq!(tl.untimed, 1);
    }
}
