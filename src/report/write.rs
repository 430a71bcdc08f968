//! The one table writer. Every table — the report, the timeline, query results — is a polars
//! frame written by [`write_table`] in any format; the report and the timeline add only their
//! terminal views and the `stats` around their JSON rows. (`--events-out` streams the events
//! frame as Parquet: `super::hive`.)
//!
//! Human formats escape log text; machine formats keep it, minus raw controls; CSV cells never
//! start a formula.

use std::io::Write;

use anyhow::{Result, bail};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use polars::prelude::*;

use super::escape::{csv_cell, display, json_text, markdown_cell, shorten};
use super::html::{self, HtmlMeta};
use super::timeline::{POINT_COLUMNS, Timeline, TimelinePoint};
use super::{Group, groups_to_frame, table};
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

/// Fields written before the rows in the JSON format: `{"stats": {...}, "groups": [...]}`.
pub struct JsonEnvelope {
    /// `(key, JSON text)` pairs, in order.
    pub fields: Vec<(&'static str, String)>,
    /// The key of the rows array.
    pub rows: &'static str,
}

/// Writes `frame` in `format`: a table that fits `width` on a terminal, CSV, JSON (an array of
/// rows, or `envelope` around it), NDJSON, Markdown or Parquet. Rows keep the frame's column
/// order; datetimes are RFC 3339 UTC in the text formats.
pub fn write_table(
    format: Format,
    frame: &DataFrame,
    envelope: Option<&JsonEnvelope>,
    width: usize,
    out: &mut dyn Write,
) -> Result<()> {
    if format == Format::Parquet {
        return write_parquet(&mut frame.clone(), out);
    }
    let shown = readable(frame)?;
    let names: Vec<&str> = shown.get_column_names().iter().map(|s| s.as_str()).collect();
    match format {
        Format::Table => {
            if shown.width() == 0 {
                writeln!(out, "(no columns)")?;
            } else {
                writeln!(out, "{}", aligned(&shown, &names, width))?;
                writeln!(out, "{} row(s)", shown.height())?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(&names)?;
            for row in rows(&shown) {
                w.write_record(row.iter().map(|v| csv_cell(&text(v))))?;
            }
            w.flush()?;
        }
        Format::Ndjson => {
            for o in json_rows(&shown, &names) {
                writeln!(out, "{}", json_text(o?))?;
            }
        }
        Format::Json => {
            // Written a row at a time: a report of many groups is never held as text whole.
            // One row per line, indented one level inside the array (two inside an envelope).
            let pad = if envelope.is_some() { "  " } else { "" };
            if let Some(env) = envelope {
                writeln!(out, "{{")?;
                for (k, v) in &env.fields {
                    writeln!(out, "{}", json_text(format!("  \"{k}\": {v},")))?;
                }
                write!(out, "{}", json_text(format!("  \"{}\": ", env.rows)))?;
            }
            let mut objects = json_rows(&shown, &names).peekable();
            if objects.peek().is_none() {
                write!(out, "[]")?;
            } else {
                writeln!(out, "[")?;
                while let Some(o) = objects.next() {
                    let comma = if objects.peek().is_some() { "," } else { "" };
                    writeln!(out, "{pad}  {}{comma}", json_text(o?))?;
                }
                write!(out, "{pad}]")?;
            }
            writeln!(out, "{}", if envelope.is_some() { "\n}" } else { "" })?;
        }
        Format::Markdown => {
            writeln!(out, "| {} |", names.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(names.len()))?;
            for row in rows(&shown) {
                let cells: Vec<String> = row.iter().map(|v| markdown_cell(&text(v))).collect();
                writeln!(out, "| {} |", cells.join(" | "))?;
            }
        }
        Format::Html => {
            bail!("a table has no HTML form of its own; use --format csv, json, ndjson, markdown or parquet")
        }
        Format::Parquet => unreachable!("written above"),
    }
    out.flush()?;
    Ok(())
}

/// Each row as one JSON object, written by hand so the keys keep the frame's column order.
fn json_rows<'a>(df: &'a DataFrame, names: &[&str]) -> impl Iterator<Item = Result<String>> + 'a {
    let keys: Vec<String> = names.iter().map(|n| serde_json::to_string(n).expect("a string serializes")).collect();
    rows(df).map(move |row| {
        let mut object = String::from("{");
        for (i, (k, v)) in keys.iter().zip(&row).enumerate() {
            if i > 0 {
                object.push(',');
            }
            object.push_str(k);
            object.push(':');
            object.push_str(&serde_json::to_string(&json_value(v))?);
        }
        object.push('}');
        Ok(object)
    })
}

/// Writes Parquet carrying [`CHECKSUM_KEY`]: the SHA-256 of its column data, so a damaged
/// copy read back as a `--baseline` is refused before polars decodes it (a flipped length in a
/// page can make the decoder ask for exabytes, which no `catch_unwind` survives).
pub fn write_parquet(df: &mut DataFrame, out: &mut dyn Write) -> Result<()> {
    let plain = parquet_bytes(df, None)?;
    let sum = data_of(&plain).map(sha256_hex);
    let bytes = match sum {
        Some(sum) => {
            let kv = KeyValueMetadata::from_static(vec![(CHECKSUM_KEY.to_string(), sum.clone())]);
            let marked = parquet_bytes(df, Some(kv))?;
            // The writer is deterministic, so the data is the same bytes; if not, no checksum.
            if data_of(&marked).map(sha256_hex) == Some(sum) { marked } else { plain }
        }
        None => plain,
    };
    out.write_all(&bytes)?;
    Ok(())
}

fn parquet_bytes(df: &mut DataFrame, kv: Option<KeyValueMetadata>) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let writer = ParquetWriter::new(&mut bytes).with_key_value_metadata(kv);
    anyhow::Context::context(writer.finish(df), "cannot write Parquet")?;
    Ok(bytes)
}

/// The file-level metadata key of the column data's SHA-256 (hex).
pub const CHECKSUM_KEY: &str = "denytrail.data_sha256";

/// A Parquet file's column data: from after the leading magic to the footer.
pub fn data_of(file: &[u8]) -> Option<&[u8]> {
    let n = file.len();
    if n < 12 || &file[..4] != b"PAR1" || &file[n - 4..] != b"PAR1" {
        return None;
    }
    let footer = u32::from_le_bytes(file[n - 8..n - 4].try_into().ok()?) as usize;
    file.get(4..n.checked_sub(8 + footer)?.max(4))
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Datetime columns as RFC 3339 UTC text, for the text formats.
fn readable(df: &DataFrame) -> PolarsResult<DataFrame> {
    let exprs: Vec<Expr> = df
        .columns()
        .iter()
        .map(|c| match c.dtype() {
            DataType::Datetime(_, _) => col(c.name().clone()).dt().to_string("%Y-%m-%dT%H:%M:%SZ"),
            _ => col(c.name().clone()),
        })
        .collect();
    df.clone().lazy().select(exprs).collect()
}

fn text(v: &AnyValue) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn json_value(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value;
    match v {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(*b),
        AnyValue::Int8(_) | AnyValue::Int16(_) | AnyValue::Int32(_) | AnyValue::Int64(_) => {
            v.extract::<i64>().map_or(Value::Null, Value::from)
        }
        AnyValue::UInt8(_) | AnyValue::UInt16(_) | AnyValue::UInt32(_) | AnyValue::UInt64(_) => {
            v.extract::<u64>().map_or(Value::Null, Value::from)
        }
        AnyValue::Float32(_) | AnyValue::Float64(_) => v.extract::<f64>().map_or(Value::Null, Value::from),
        other => Value::String(text(other)),
    }
}

/// The rows of `df` as cells, column by column converted once.
/// The rows of `df`, one at a time.
fn rows(df: &DataFrame) -> impl Iterator<Item = Vec<AnyValue<'_>>> {
    (0..df.height()).map(|i| df.columns().iter().map(|c| c.get(i).unwrap_or(AnyValue::Null)).collect())
}

/// An aligned table that fits `width`: the widest columns are shortened first (never below
/// 8 characters), in the middle, rather than wrapped.
fn aligned(df: &DataFrame, names: &[&str], width: usize) -> String {
    let cells: Vec<Vec<(String, bool)>> =
        rows(df).map(|row| row.iter().map(|v| (display(&text(v)), v.is_primitive_numeric())).collect()).collect();
    let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
    for row in &cells {
        for (w, (c, _)) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let budget = width.saturating_sub(1 + 3 * names.len());
    while widths.iter().sum::<usize>() > budget {
        let Some((i, &w)) = widths.iter().enumerate().filter(|(_, w)| **w > 8).max_by_key(|(_, w)| **w) else {
            break;
        };
        let excess = widths.iter().sum::<usize>() - budget;
        widths[i] = (w - excess.min(w - 8)).max(8);
    }
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(names.iter().zip(&widths).map(|(n, &w)| Cell::new(shorten(n, w))));
    for row in cells {
        t.add_row(row.iter().zip(&widths).map(|((c, numeric), &w)| {
            let cell = Cell::new(shorten(c, w));
            if *numeric { cell.set_alignment(CellAlignment::Right) } else { cell }
        }));
    }
    t.to_string()
}

/// Everything a report writer may show.
pub struct Report<'a> {
    pub groups: &'a [Group],
    pub stats: &'a Stats,
    pub timeline: &'a Timeline,
    pub meta: HtmlMeta<'a>,
    /// Terminal width, for the table.
    pub width: usize,
}

/// The report's JSON envelope: the stats, then the groups.
fn stats_envelope(stats: &Stats, extra: Vec<(&'static str, String)>, rows: &'static str) -> Result<JsonEnvelope> {
    let mut fields = extra;
    fields.push(("stats", indent(&serde_json::to_string_pretty(stats)?)));
    Ok(JsonEnvelope { fields, rows })
}

/// Indents all but the first line of a pretty-printed value by two spaces (it sits one level in).
fn indent(text: &str) -> String {
    text.replace('\n', "\n  ")
}

/// Writes the report in `format`: the fitted table and the HTML page are its own views; every
/// other format is the report frame through [`write_table`].
pub fn write(format: Format, report: &Report, out: &mut dyn Write) -> Result<()> {
    let groups = report.groups;
    match format {
        Format::Table => {
            if groups.is_empty() {
                writeln!(out, "no matching denials")?;
            } else {
                writeln!(out, "{}", table::render(groups, report.width))?;
            }
            out.flush()?;
        }
        Format::Html => {
            out.write_all(html::render(groups, report.stats, report.timeline, &report.meta).as_bytes())?;
            out.flush()?;
        }
        _ => {
            let envelope = stats_envelope(report.stats, Vec::new(), "groups")?;
            write_table(format, &groups_to_frame(groups)?, Some(&envelope), report.width, out)?;
        }
    }
    Ok(())
}

/// The timeline's long rows as a frame (`POINT_COLUMNS`).
pub fn points_frame(points: &[TimelinePoint]) -> PolarsResult<DataFrame> {
    let s =
        |f: fn(&TimelinePoint) -> &str, name: &str| Column::new(name.into(), points.iter().map(f).collect::<Vec<_>>());
    let columns = vec![
        s(|p| &p.bucket_start, POINT_COLUMNS[0]),
        s(|p| &p.principal, POINT_COLUMNS[1]),
        s(|p| &p.bucket, POINT_COLUMNS[2]),
        s(|p| &p.prefix, POINT_COLUMNS[3]),
        Column::new(POINT_COLUMNS[4].into(), points.iter().map(|p| p.denied).collect::<Vec<_>>()),
    ];
    DataFrame::new(points.len(), columns)
}

/// Writes `--timeline`: the bar chart on a terminal, the page's own chart in HTML, and the long
/// rows (one per bucket and group) in every other format.
pub fn write_timeline(format: Format, report: &Report, out: &mut dyn Write) -> Result<()> {
    let tl = report.timeline;
    match format {
        Format::Table => {
            write!(out, "{}", tl.render_text(report.groups, report.width))?;
            out.flush()?;
            Ok(())
        }
        // The page carries its own chart at the --timeline width.
        Format::Html => write(format, report, out),
        _ => {
            let width = ("bucket_width", serde_json::to_string(&tl.width_label())?);
            let envelope = stats_envelope(report.stats, vec![width], "points")?;
            let frame = points_frame(&tl.points(report.groups))?;
            write_table(format, &frame, Some(&envelope), report.width, out)
        }
    }
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
            facts: String::new(),
            confirmed_by: String::new(),
            evidence: String::new(),
            next_steps: String::new(),
            sample_event_id: "e".into(),
            sample_key: "=HYPERLINK(\"http://x\")\u{1b}]8;;".into(),
            estimated: String::new(),
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
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), super::super::column_names().collect::<Vec<_>>());
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
        assert_eq!(
            df.get_column_names().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            super::super::column_names().collect::<Vec<_>>()
        );
        assert_eq!(df.height(), 1);
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;
    use crate::report::query::execute;

    fn events() -> DataFrame {
        df!(
            "principal" => ["a", "a", "b\u{1b}[2J"],
            "source_ip" => ["1.1.1.1", "2.2.2.2", "=1+1"],
            "n" => [1i64, 2, 3],
        )
        .unwrap()
    }

    #[test]
    fn sql_groups_and_orders() {
        let df = execute(
            "SELECT principal, COUNT(*) AS denied, SUM(n) AS total FROM events GROUP BY principal ORDER BY denied DESC",
            vec![("events", events().lazy())],
        )
        .unwrap();
        assert_eq!(df.height(), 2);
        let mut out = Vec::new();
        write_table(Format::Json, &df, None, 80, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["principal"], "a");
        assert_eq!(v[0]["denied"], 2);
        assert_eq!(v[0]["total"], 3);
        let text = String::from_utf8(out).unwrap();
        assert!(text.find("\"principal\"") < text.find("\"denied\""), "column order kept: {text}");
        assert!(execute("SELECT nope FROM events", vec![("events", events().lazy())]).is_err());
    }

    #[test]
    fn text_formats_are_defused() {
        let mut out = Vec::new();
        write_table(Format::Csv, &events(), None, 80, &mut out).unwrap();
        let csv = String::from_utf8(out).unwrap();
        assert!(csv.contains("'=1+1") && !csv.contains('\u{1b}'), "{csv}");
        let mut out = Vec::new();
        write_table(Format::Table, &events(), None, 60, &mut out).unwrap();
        let table = String::from_utf8(out).unwrap();
        assert!(!table.contains('\u{1b}') && table.contains("3 row(s)"), "{table}");
        assert!(table.lines().all(|l| l.chars().count() <= 60), "{table}");
    }
}
