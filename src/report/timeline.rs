//! Denials per time bucket per group: when an outage began and when it ended.
//!
//! Built from plain `(group index, event time)` pairs so the table, the terminal chart and the
//! HTML chart all read the same numbers.

use std::fmt::Write;

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
    /// Buckets `(group, time_ms)` pairs for `groups` groups. `width_ms` of `None` picks the
    /// smallest nice width that gives at most `max_buckets` buckets.
    pub fn build(
        groups: usize,
        events: impl IntoIterator<Item = (usize, Option<i64>)> + Clone,
        width_ms: Option<i64>,
        max_buckets: usize,
    ) -> Timeline {
        let (mut first, mut last, mut untimed) = (i64::MAX, i64::MIN, 0u64);
        for (_, t) in events.clone() {
            match t {
                Some(t) => (first, last) = (first.min(t), last.max(t)),
                None => untimed += 1,
            }
        }
        if first > last {
            let width_ms = width_ms.unwrap_or(NICE_WIDTHS[3]);
            let rows = (0..groups).map(|group| TimelineRow { group, counts: Vec::new() }).collect();
            return Timeline { start_ms: 0, width_ms, rows, untimed };
        }
        let width_ms = width_ms.unwrap_or_else(|| auto_width(first, last, max_buckets)).max(1);
        let start_ms = first.div_euclid(width_ms) * width_ms;
        let buckets = ((last - start_ms) / width_ms + 1) as usize;
        let mut rows: Vec<TimelineRow> =
            (0..groups).map(|group| TimelineRow { group, counts: vec![0; buckets] }).collect();
        for (g, t) in events {
            if let (Some(t), Some(row)) = (t, rows.get_mut(g)) {
                row.counts[((t - start_ms) / width_ms) as usize] += 1;
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

pub fn duration_label(ms: i64) -> String {
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms % size == 0 && ms >= size {
            let _ = write!(out, "{}{unit}", ms / size);
            return out;
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(duration_label(90_000), "90s");
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
