//! `denytrail query`: polars SQL over the events of a scan and its report.

use anyhow::Result;
use chrono::Utc;

use super::{Exit, exit_for, terminal_width};
use crate::cli::QueryArgs;
use crate::event::Event;
use crate::plan::{self, EventsFrom, usage};
use crate::report::write::{Format, write_table};
use crate::report::{self, query};

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
    let out = super::events(from)?;
    let diagnosis = denytrail_core::diagnose_tallies(&out.groups, &out.companions, None);
    let groups = report::rows_of(&out.groups, &diagnosis);
    let all: Vec<&Event> = out.targets.iter().chain(&out.companions).collect();
    let tables = vec![("events", report::frame::events_frame(&all)?), ("groups", report::groups_to_frame(&groups)?)];
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
