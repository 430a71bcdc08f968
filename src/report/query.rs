//! `denytrail query`: polars SQL over the events of a scan, for forensic questions the report
//! does not answer ("which source IPs, minute by minute, during the outage?").
//!
//! Two tables are registered: `events` (one row per kept event, the columns of `--events-out`)
//! and `groups` (the report, with its contract columns). The result is a frame like any
//! other table, written by [`super::write::write_table`].

use polars::prelude::*;
use polars::sql::SQLContext;

/// Runs `sql` over the named tables with polars' streaming engine, which reads a Parquet table
/// in morsels instead of whole. Errors are the SQL's: unknown columns, syntax, types.
pub fn execute(sql: &str, tables: Vec<(&str, LazyFrame)>) -> PolarsResult<DataFrame> {
    let mut ctx = SQLContext::new();
    for (name, table) in tables {
        ctx.register(name, table);
    }
    // One plan, one sink: always a single result.
    Ok(ctx.execute(sql)?.collect_with_engine(Engine::Streaming)?.unwrap_single())
}

/// The events table of a Parquet file, read lazily.
pub fn scan_events(path: &std::path::Path) -> PolarsResult<LazyFrame> {
    LazyFrame::scan_parquet(PlRefPath::new(path.to_string_lossy().as_ref()), ScanArgsParquet::default())
}
