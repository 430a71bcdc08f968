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
    if stats.files_failed > 0 {
        let _ = writeln!(
            out,
            "denytrail: the report is incomplete: {} input(s) failed (exit status 4)",
            stats.files_failed
        );
    }
    out
}
