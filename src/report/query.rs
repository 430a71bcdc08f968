//! `denytrail query`: polars SQL over the events of a scan, for forensic questions the report
//! does not answer ("which source IPs, minute by minute, during the outage?").
//!
//! Two tables are registered: `events` (one row per kept event, the columns of `--events-out`)
//! and `groups` (the report, with its contract columns). The result is a frame like any
//! other table, written by [`super::write::write_table`].

use polars::prelude::*;
use polars::sql::SQLContext;

/// Runs `sql` over the named tables. Errors are the SQL's: unknown columns, syntax, types.
pub fn execute(sql: &str, tables: Vec<(&str, DataFrame)>) -> PolarsResult<DataFrame> {
    let mut ctx = SQLContext::new();
    for (name, df) in tables {
        ctx.register(name, df.lazy());
    }
    ctx.execute(sql)?.collect()
}
