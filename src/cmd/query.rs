//! `denytrail query`: polars SQL over the events of a scan and its report.
//!
//! The events table is never held: it is spooled to a Parquet file in a temporary directory
//! (a scan's events written by the collector's tap as they are kept, as `--events-out` writes
//! them; a saved file's read back a batch of row groups at a time), and polars' streaming engine
//! runs the SQL over that file. An outage's million denials cost disk, not memory; only the
//! result the SQL asks for is held.

use anyhow::{Context, Result};
use chrono::Utc;

use super::{Exit, exit_for, terminal_width};
use crate::cli::QueryArgs;
use crate::plan::{self, EventsFrom, usage};
use crate::report::write::{Format, write_table};
use crate::report::{self, query};
use polars::prelude::IntoLazy;

pub fn run(args: &QueryArgs) -> Result<Exit> {
    let outputs = plan::outputs(&args.output, |f| {
        if f == Format::Html {
            Err("query results have no HTML form; use --format table, csv, json, ndjson, markdown or parquet".into())
        } else {
            Ok(())
        }
    })?;
    let from = EventsFrom::of(args.events.as_deref(), &args.input, &args.aws, args.quiet, Utc::now())?;
    let aws = match &from {
        EventsFrom::Scan(p) => p.aws.clone(),
        EventsFrom::Saved(_, _, aws) => aws.clone(),
    };
    let saved = matches!(from, EventsFrom::Saved(..));
    let spool = tempfile::tempdir().context("cannot make a temporary directory for the events table")?;
    let events = spool.path().join("events.parquet");
    let out = super::spooled(from, &events)?;
    let diagnosis = denytrail_core::diagnose_tallies(&out.groups, &out.companions, None);
    let groups = report::rows_of(&out.groups, &diagnosis);
    let tables = vec![("events", query::scan_events(&events)?), ("groups", report::groups_to_frame(&groups)?.lazy())];
    let result =
        query::execute(&args.sql, tables).map_err(|e| usage(format!("--sql: {}", one_line(&e.to_string()))))?;
    let width = terminal_width();
    for o in &outputs {
        o.to.deliver(&aws, o.format.content_type(), |w| write_table(o.format, &result, None, width, w))?;
    }
    if !args.quiet && !saved {
        eprint!("{}", report::summary::render(&out.stats, groups.len()));
    }
    Ok(exit_for(&out, false, false))
}

/// Polars errors can span lines; the CLI reports one.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
