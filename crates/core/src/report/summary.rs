//! The short summary on stderr: what was read, skipped and failed, and how fast.

use std::fmt::Write;

use super::escape::display;
use crate::stats::Stats;

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// One line per failed input, each with its path and reason.
pub fn failures(stats: &Stats) -> String {
    let mut out = String::new();
    for f in &stats.failed {
        let _ = writeln!(out, "denytrail: failed: {}: {}", display(&f.path), display(&f.error.to_string()));
    }
    out
}

/// Shapes a plain trail comes in; any other format is an envelope, named in the summary.
const PLAIN: [&str; 6] = ["records", "array", "ndjson", "single", "mixed", "empty"];

/// The envelopes read, what they skipped, and the JSON of no known shape (never silent).
fn formats_and_shapes(stats: &Stats) -> Option<String> {
    let c = &stats.counts;
    let mut out = String::new();
    if stats.formats.keys().any(|f| !PLAIN.contains(&f.as_str())) {
        let formats: Vec<String> = stats.formats.iter().map(|(f, n)| format!("{n} {f}")).collect();
        let mut skipped = Vec::new();
        if c.cwl_control_messages > 0 {
            skipped.push(format!("{} CloudWatch Logs control messages", c.cwl_control_messages));
        }
        if c.records_not_cloudtrail > 0 {
            skipped.push(format!("{} entries that are not CloudTrail events", c.records_not_cloudtrail));
        }
        let skipped = if skipped.is_empty() { String::new() } else { format!("; skipped {}", skipped.join(", ")) };
        let _ = writeln!(out, "denytrail: files by format: {}{skipped}", formats.join(", "));
    }
    if !stats.unknown_shapes.is_empty() {
        let n: u64 = stats.unknown_shapes.values().sum();
        let shapes: Vec<String> =
            stats.unknown_shapes.iter().map(|(shape, n)| format!("{} ({n})", display(shape))).collect();
        let _ = writeln!(out, "denytrail: {n} JSON file(s) in no known shape, not read: {}", shapes.join(", "));
    }
    (!out.is_empty()).then_some(out)
}

pub fn render(stats: &Stats, groups: usize) -> String {
    let c = &stats.counts;
    let mut out = failures(stats);
    let skipped = if stats.files_skipped == 0 {
        String::new()
    } else {
        let reasons: Vec<String> = stats.skipped_by_reason.iter().map(|(r, n)| format!("{n} {r}")).collect();
        format!(", {} skipped ({})", stats.files_skipped, reasons.join(", "))
    };
    let _ = writeln!(
        out,
        "denytrail: {} files: {} read{skipped}, {} failed; {} records, {} matched ({} unique, {} duplicates dropped) in {groups} groups; {} companion events",
        stats.files_seen,
        stats.files_read,
        stats.files_failed,
        c.records_read,
        c.records_matched,
        stats.events_unique,
        stats.duplicates_dropped,
        c.records_companion,
    );
    if let Some(line) = formats_and_shapes(stats) {
        out.push_str(&line);
    }
    if c.records_invalid > 0 {
        let _ = writeln!(
            out,
            "denytrail: {} records were not valid JSON objects and were counted but not read",
            c.records_invalid
        );
    }
    let _ = writeln!(
        out,
        "denytrail: {} compressed, {} decompressed in {:.2} s ({:.0} MB/s)",
        mb(c.bytes_compressed),
        mb(c.bytes_decompressed),
        stats.elapsed_seconds,
        stats.mb_per_s()
    );
    if let Some(live) = &stats.live {
        let read = match live.source.as_str() {
            "live" => format!("read live ({} API calls in {:.2} s)", live.live_calls, live.seconds),
            file => format!("from {}", display(file)),
        };
        let _ = writeln!(
            out,
            "denytrail: configuration of {} {read}, {} item(s) not visible; groups: {} confirmed, {} refuted, {} undetermined",
            live.snapshot_taken_at.as_deref().unwrap_or("an unknown time"),
            live.not_visible,
            live.confirmed,
            live.refuted,
            live.undetermined
        );
    }
    if stats.files_failed > 0 {
        let _ = writeln!(
            out,
            "denytrail: the report is incomplete: {} input(s) failed (exit status 4)",
            stats.files_failed
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_and_unknown_shapes_get_a_line_plain_trails_none() {
        let mut stats = Stats::default();
        stats.formats.insert("records".into(), 3);
        assert_eq!(formats_and_shapes(&stats), None);
        stats.formats.insert("cwl".into(), 2);
        stats.counts.cwl_control_messages = 1;
        stats.unknown_shape("{\"\\x1b\"}".into());
        stats.unknown_shape("{\"a\"}".into());
        stats.unknown_shape("{\"a\"}".into());
        let text = render(&stats, 0);
        assert!(
            text.contains("denytrail: files by format: 2 cwl, 3 records; skipped 1 CloudWatch Logs control messages\n"),
            "{text}"
        );
        assert!(
            text.contains("denytrail: 3 JSON file(s) in no known shape, not read: {\"\\x1b\"} (1), {\"a\"} (2)\n"),
            "{text}"
        );
    }

    #[test]
    fn distinct_unknown_shapes_are_capped() {
        let mut stats = Stats::default();
        for i in 0..Stats::UNKNOWN_SHAPES_KEPT + 5 {
            stats.unknown_shape(format!("{{\"k{i}\"}}"));
        }
        stats.unknown_shape("{\"k0\"}".into());
        assert_eq!(stats.unknown_shapes.len(), Stats::UNKNOWN_SHAPES_KEPT + 1);
        assert_eq!(stats.unknown_shapes["(other shapes)"], 5);
        assert_eq!(stats.unknown_shapes["{\"k0\"}"], 2);
        assert!(stats.nothing_read());
        stats.counts.records_read = 1;
        assert!(!stats.nothing_read());
    }
}
