//! `denytrail query`: polars SQL over the events of a scan, for forensic questions the report
//! does not answer ("which source IPs, minute by minute, during the outage?").
//!
//! Two tables are registered: `events` (one row per kept event, the columns of `--events-out`)
//! and `groups` (the report, with its contract columns). The result is written like a report:
//! an aligned table on a terminal, or CSV, JSON, NDJSON, Markdown, Parquet.

use std::io::Write;

use anyhow::{Result, bail};
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets};
use polars::prelude::*;
use polars::sql::SQLContext;

use super::escape::{csv_cell, display, json_text, markdown_cell, shorten};
use super::write::{Format, write_parquet};

/// Runs `sql` over the named tables. Errors are the SQL's: unknown columns, syntax, types.
pub fn execute(sql: &str, tables: Vec<(&str, DataFrame)>) -> PolarsResult<DataFrame> {
    let mut ctx = SQLContext::new();
    for (name, df) in tables {
        ctx.register(name, df.lazy());
    }
    ctx.execute(sql)?.collect()
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
fn rows(df: &DataFrame) -> Vec<Vec<AnyValue<'_>>> {
    (0..df.height()).map(|i| df.columns().iter().map(|c| c.get(i).unwrap_or(AnyValue::Null)).collect()).collect()
}

/// Writes a query result in `format`. `width` sizes the terminal table.
pub fn write(format: Format, df: &DataFrame, width: usize, out: &mut dyn Write) -> Result<()> {
    let shown = readable(df)?;
    let names: Vec<&str> = shown.get_column_names().iter().map(|s| s.as_str()).collect();
    match format {
        Format::Table => {
            if shown.width() == 0 {
                writeln!(out, "(no columns)")?;
            } else {
                writeln!(out, "{}", table(&shown, &names, width))?;
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
        Format::Json | Format::Ndjson => {
            // Objects written by hand so the keys keep the query's column order.
            let keys: Vec<String> = names.iter().map(serde_json::to_string).collect::<Result<_, _>>()?;
            let objects = rows(&shown)
                .iter()
                .map(|row| {
                    let fields: Vec<String> = keys
                        .iter()
                        .zip(row)
                        .map(|(k, v)| Ok(format!("{k}:{}", serde_json::to_string(&json_value(v))?)))
                        .collect::<Result<_, serde_json::Error>>()?;
                    Ok(format!("{{{}}}", fields.join(",")))
                })
                .collect::<Result<Vec<String>, serde_json::Error>>()?;
            if format == Format::Json {
                writeln!(out, "{}", json_text(format!("[\n{}\n]", objects.join(",\n"))))?;
            } else {
                for o in objects {
                    writeln!(out, "{}", json_text(o))?;
                }
            }
        }
        Format::Markdown => {
            writeln!(out, "| {} |", names.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(names.len()))?;
            for row in rows(&shown) {
                let cells: Vec<String> = row.iter().map(|v| markdown_cell(&text(v))).collect();
                writeln!(out, "| {} |", cells.join(" | "))?;
            }
        }
        Format::Parquet => write_parquet(&mut df.clone(), out)?,
        Format::Html => bail!("query results have no HTML form; use --format csv, json, ndjson, markdown or parquet"),
    }
    out.flush()?;
    Ok(())
}

/// An aligned table that fits `width`: the widest columns are shortened first (never below
/// 8 characters), in the middle, rather than wrapped.
fn table(df: &DataFrame, names: &[&str], width: usize) -> String {
    let cells: Vec<Vec<(String, bool)>> = rows(df)
        .iter()
        .map(|row| row.iter().map(|v| (display(&text(v)), v.is_primitive_numeric())).collect())
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

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
            vec![("events", events())],
        )
        .unwrap();
        assert_eq!(df.height(), 2);
        let mut out = Vec::new();
        write(Format::Json, &df, 80, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v[0]["principal"], "a");
        assert_eq!(v[0]["denied"], 2);
        assert_eq!(v[0]["total"], 3);
        let text = String::from_utf8(out).unwrap();
        assert!(text.find("\"principal\"") < text.find("\"denied\""), "column order kept: {text}");
        assert!(execute("SELECT nope FROM events", vec![("events", events())]).is_err());
    }

    #[test]
    fn text_formats_are_defused() {
        let mut out = Vec::new();
        write(Format::Csv, &events(), 80, &mut out).unwrap();
        let csv = String::from_utf8(out).unwrap();
        assert!(csv.contains("'=1+1") && !csv.contains('\u{1b}'), "{csv}");
        let mut out = Vec::new();
        write(Format::Table, &events(), 60, &mut out).unwrap();
        let table = String::from_utf8(out).unwrap();
        assert!(!table.contains('\u{1b}') && table.contains("3 row(s)"), "{table}");
        assert!(table.lines().all(|l| l.chars().count() <= 60), "{table}");
    }
}
