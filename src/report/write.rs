//! Report writers. Human formats escape log text; machine formats keep it, minus raw controls.

use std::io::Write;

use anyhow::Result;
use polars::prelude::*;
use serde::Serialize;

use super::escape::{csv_cell, json_text, markdown_cell};
use super::html::{self, HtmlMeta};
use super::timeline::{POINT_COLUMNS, Timeline, TimelinePoint};
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
    /// One self-contained page: summary, chart, sortable table, causes and next steps.
    Html,
}

/// Whether the format is binary and must go to a file.
impl Format {
    pub fn needs_file(self) -> bool {
        self == Format::Parquet
    }

    /// The media type an S3 object of this format is stored with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Table => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Parquet => "application/vnd.apache.parquet",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// The columns of `groups`: the contract's, led by `status` when a baseline set it.
pub fn columns(groups: &[Group]) -> Vec<&'static str> {
    let status = groups.iter().any(|g| !g.status.is_empty());
    status.then_some("status").into_iter().chain(COLUMNS).collect()
}

fn row_strings(g: &Group, status: bool) -> Vec<String> {
    let lead = status.then(|| g.status.clone());
    lead.into_iter()
        .chain([
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
        ])
        .collect()
}

#[derive(Serialize)]
struct JsonReport<'a> {
    stats: &'a Stats,
    groups: &'a [Group],
}

/// Everything a writer may show.
pub struct Report<'a> {
    pub groups: &'a [Group],
    pub stats: &'a Stats,
    pub timeline: &'a Timeline,
    pub meta: HtmlMeta<'a>,
    /// Terminal width, for the table.
    pub width: usize,
}

/// Writes the report in `format` to `out`.
pub fn write(format: Format, report: &Report, out: &mut dyn Write) -> Result<()> {
    let groups = report.groups;
    let columns = columns(groups);
    let status = columns[0] == "status";
    match format {
        Format::Table => {
            if groups.is_empty() {
                writeln!(out, "no matching denials")?;
            } else {
                writeln!(out, "{}", table::render(groups, report.width))?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(&columns)?;
            for g in groups {
                w.write_record(row_strings(g, status).iter().map(|c| csv_cell(c)))?;
            }
            w.flush()?;
        }
        Format::Json => {
            let text = serde_json::to_string_pretty(&JsonReport { stats: report.stats, groups })?;
            writeln!(out, "{}", json_text(text))?;
        }
        Format::Ndjson => {
            for g in groups {
                writeln!(out, "{}", json_text(serde_json::to_string(g)?))?;
            }
        }
        Format::Markdown => {
            writeln!(out, "| {} |", columns.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(columns.len()))?;
            for g in groups {
                let cells: Vec<String> = row_strings(g, status).iter().map(|c| markdown_cell(c)).collect();
                writeln!(out, "| {} |", cells.join(" | "))?;
            }
        }
        Format::Parquet => {
            let mut df = groups_to_frame(groups)?;
            write_parquet(&mut df, out)?;
        }
        Format::Html => {
            out.write_all(html::render(groups, report.stats, report.timeline, &report.meta).as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}

#[derive(Serialize)]
struct JsonTimeline<'a> {
    bucket_width: String,
    stats: &'a Stats,
    points: &'a [TimelinePoint],
}

/// Writes `--timeline`: the bucketed view in `format` (the terminal chart for `table`).
pub fn write_timeline(format: Format, report: &Report, out: &mut dyn Write) -> Result<()> {
    let tl = report.timeline;
    let points = || tl.points(report.groups);
    match format {
        Format::Table => write!(out, "{}", tl.render_text(report.groups, report.width))?,
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(POINT_COLUMNS)?;
            for p in points() {
                let row = [p.bucket_start, p.principal, p.bucket, p.prefix, p.denied.to_string()];
                w.write_record(row.iter().map(|c| csv_cell(c)))?;
            }
            w.flush()?;
        }
        Format::Json => {
            let json = JsonTimeline { bucket_width: tl.width_label(), stats: report.stats, points: &points() };
            writeln!(out, "{}", json_text(serde_json::to_string_pretty(&json)?))?;
        }
        Format::Ndjson => {
            for p in points() {
                writeln!(out, "{}", json_text(serde_json::to_string(&p)?))?;
            }
        }
        Format::Markdown => {
            writeln!(out, "| {} |", POINT_COLUMNS.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(POINT_COLUMNS.len()))?;
            for p in points() {
                let row = [p.bucket_start, p.principal, p.bucket, p.prefix, p.denied.to_string()];
                let cells: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
                writeln!(out, "| {} |", cells.join(" | "))?;
            }
        }
        Format::Parquet => {
            let p = points();
            let s = |f: fn(&TimelinePoint) -> &str, name: &str| {
                Column::new(name.into(), p.iter().map(f).collect::<Vec<_>>())
            };
            let mut df = DataFrame::new(
                p.len(),
                vec![
                    s(|p| &p.bucket_start, "bucket_start"),
                    s(|p| &p.principal, "principal"),
                    s(|p| &p.bucket, "bucket"),
                    s(|p| &p.prefix, "prefix"),
                    Column::new("denied".into(), p.iter().map(|p| p.denied).collect::<Vec<_>>()),
                ],
            )?;
            write_parquet(&mut df, out)?;
        }
        // The page carries its own chart at the --timeline width.
        Format::Html => return write(format, report, out),
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

    fn render_groups(format: Format, groups: &[Group]) -> Vec<u8> {
        let stats = Stats::default();
        let timeline = Timeline::build(groups.len(), vec![(0, Some(0))], None, 48);
        let meta = HtmlMeta { title: "t", generated_at: "", inputs: &[], baseline: None };
        let report = Report { groups, stats: &stats, timeline: &timeline, meta, width: 100 };
        let mut out = Vec::new();
        write(format, &report, &mut out).unwrap();
        out
    }

    fn render(format: Format) -> Vec<u8> {
        render_groups(format, &[group()])
    }

    #[test]
    fn status_leads_when_a_baseline_set_it() {
        let mut g = group();
        g.status = "new".into();
        let text = String::from_utf8(render_groups(Format::Csv, &[g.clone()])).unwrap();
        assert!(text.starts_with("status,principal,"), "{text}");
        assert!(text.lines().nth(1).unwrap().starts_with("new,arn:"), "{text}");
        let pq = render_groups(Format::Parquet, &[g.clone()]);
        let df = ParquetReader::new(std::io::Cursor::new(pq)).finish().unwrap();
        assert_eq!(df.get_column_names()[0].as_str(), "status");
        let nd = String::from_utf8(render_groups(Format::Ndjson, &[g])).unwrap();
        assert!(nd.contains("\"status\":\"new\""));
        assert!(!String::from_utf8(render(Format::Ndjson)).unwrap().contains("status"));
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
