//! Report writers. Human formats escape log text; machine formats keep it, minus raw controls.

use std::io::Write;

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

use super::escape::{csv_cell, json_text, markdown_cell};
use super::{COLUMNS, Group, groups_to_frame, table};
use crate::stats::Stats;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
    Parquet,
    Markdown,
}

/// Whether the format is binary and must go to a file.
impl Format {
    pub fn needs_file(self) -> bool {
        self == Format::Parquet
    }
}

fn row_strings(g: &Group) -> [String; 19] {
    [
        g.principal.clone(),
        g.principal_type.clone(),
        g.account.clone(),
        g.bucket.clone(),
        g.bucket_owner.clone(),
        g.prefix.clone(),
        g.denied.to_string(),
        g.first_seen.clone(),
        g.last_seen.clone(),
        g.keys.to_string(),
        g.sessions.to_string(),
        g.source_ips.to_string(),
        g.operations.clone(),
        g.causes.clone(),
        g.confidence.clone(),
        g.evidence.clone(),
        g.next_steps.clone(),
        g.sample_event_id.clone(),
        g.sample_key.clone(),
    ]
}

#[derive(Serialize)]
struct JsonReport<'a> {
    stats: &'a Stats,
    groups: &'a [Group],
}

/// Writes the report in `format` to `out`. `width` sizes the table.
pub fn write(format: Format, groups: &[Group], stats: &Stats, width: usize, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table => {
            if groups.is_empty() {
                writeln!(out, "no matching denials")?;
            } else {
                writeln!(out, "{}", table::render(groups, width))?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(COLUMNS)?;
            for g in groups {
                w.write_record(row_strings(g).iter().map(|c| csv_cell(c)))?;
            }
            w.flush()?;
        }
        Format::Json => {
            let text = serde_json::to_string_pretty(&JsonReport { stats, groups })?;
            writeln!(out, "{}", json_text(text))?;
        }
        Format::Ndjson => {
            for g in groups {
                writeln!(out, "{}", json_text(serde_json::to_string(g)?))?;
            }
        }
        Format::Markdown => {
            writeln!(out, "| {} |", COLUMNS.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(COLUMNS.len()))?;
            for g in groups {
                let cells: Vec<String> = row_strings(g).iter().map(|c| markdown_cell(c)).collect();
                writeln!(out, "| {} |", cells.join(" | "))?;
            }
        }
        Format::Parquet => {
            let mut df = groups_to_frame(groups)?;
            write_parquet(&mut df, out)?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn write_parquet(df: &mut DataFrame, out: &mut dyn Write) -> Result<()> {
    anyhow::Context::context(ParquetWriter::new(out).finish(df), "cannot write Parquet")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> Group {
        Group {
            status: String::new(),
            principal: "arn:aws:iam::1:user/alice".into(),
            principal_type: "IAMUser".into(),
            account: "1".into(),
            bucket: "b".into(),
            bucket_owner: "1".into(),
            prefix: "-x/".into(),
            denied: 2,
            first_seen: "2026-11-21T09:00:00Z".into(),
            last_seen: "2026-11-21T09:05:00Z".into(),
            keys: 2,
            sessions: 0,
            source_ips: 1,
            operations: "PutObject".into(),
            causes: String::new(),
            confidence: String::new(),
            evidence: String::new(),
            next_steps: String::new(),
            sample_event_id: "e".into(),
            sample_key: "=HYPERLINK(\"http://x\")\u{1b}]8;;".into(),
            detail: Default::default(),
        }
    }

    fn render(format: Format) -> Vec<u8> {
        let mut out = Vec::new();
        write(format, &[group()], &Stats::default(), 100, &mut out).unwrap();
        out
    }

    #[test]
    fn csv_has_contract_columns_and_no_formulas() {
        let text = String::from_utf8(render(Format::Csv)).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), COLUMNS);
        for rec in r.records() {
            for cell in rec.unwrap().iter() {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "formula cell {cell}");
                assert!(!cell.contains('\u{1b}'));
            }
        }
    }

    #[test]
    fn json_is_stats_and_groups() {
        let v: serde_json::Value = serde_json::from_slice(&render(Format::Json)).unwrap();
        assert!(v["stats"]["files_seen"].is_u64());
        assert_eq!(v["groups"][0]["denied"], 2);
        assert_eq!(v["groups"][0]["sample_key"], "=HYPERLINK(\"http://x\")\u{1b}]8;;");
        let nd = String::from_utf8(render(Format::Ndjson)).unwrap();
        assert_eq!(nd.lines().count(), 1);
        assert!(!nd.contains('\u{1b}'));
    }

    #[test]
    fn markdown_and_parquet() {
        let md = String::from_utf8(render(Format::Markdown)).unwrap();
        assert_eq!(md.lines().count(), 3);
        assert!(md.starts_with("| principal | principal_type |"));
        let pq = render(Format::Parquet);
        let df = ParquetReader::new(std::io::Cursor::new(pq)).finish().unwrap();
        assert_eq!(df.get_column_names().iter().map(|s| s.as_str()).collect::<Vec<_>>(), COLUMNS);
        assert_eq!(df.height(), 1);
    }
}
