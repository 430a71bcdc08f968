//! The report: matched events as a polars DataFrame, grouped by principal × bucket × prefix.
//!
//! polars only runs here, at the end, on the small matched set. The events frame is also what
//! `--events-out` writes, so ad-hoc work in polars/DuckDB/Athena sees exactly what was grouped.

pub mod baseline;
pub mod frame;
pub mod hive;
pub mod query;
pub mod write;

pub use denytrail_core::report::{
    COLUMNS, CauseLine, Cell, Group, GroupDetail, GroupDiagnosis, STATUS, column_names, columns_of, escape, html,
    rfc3339_ms, summary, table, timeline,
};

use std::collections::HashMap;

use polars::prelude::*;

use crate::event::{Event, GroupKey};

/// Groups the target events with polars: one row per principal × bucket × prefix, most denials
/// first (ties by principal, bucket, prefix, so the order is stable). `sessions` counts distinct
/// `principalId`s: `AROA…:session` for a role session, one per long-term identity otherwise.
pub fn group_frame(events: &DataFrame) -> PolarsResult<DataFrame> {
    let distinct = |c: &str| col(c).drop_nulls().n_unique().cast(DataType::UInt64);
    events
        .clone()
        .lazy()
        .group_by([col("principal"), col("bucket"), col("prefix")])
        .agg([
            col("principal_type").first().alias("principal_type"),
            col("account").drop_nulls().first().alias("account"),
            col("bucket_owner").drop_nulls().first().alias("bucket_owner"),
            len().cast(DataType::UInt64).alias("denied"),
            col("event_time").min().alias("first_seen"),
            col("event_time").max().alias("last_seen"),
            distinct("key").alias("keys"),
            distinct("principal_id").alias("sessions"),
            distinct("source_ip").alias("source_ips"),
            col("event_name").unique().sort(SortOptions::default()).str().join(",", true).alias("operations"),
            col("event_id").first().alias("sample_event_id"),
            col("key").drop_nulls().first().alias("sample_key"),
        ])
        .sort(
            ["denied", "principal", "bucket", "prefix"],
            SortMultipleOptions::default()
                .with_order_descending_multi([true, false, false, false])
                .with_maintain_order(true),
        )
        .collect()
}

/// Turns the grouped frame into rows, attaching each group's diagnosis.
pub fn groups_from_frame(
    grouped: &DataFrame,
    diagnosis: &HashMap<GroupKey, GroupDiagnosis>,
) -> PolarsResult<Vec<Group>> {
    let mut groups = rows_from_frame(grouped)?;
    for g in &mut groups {
        if let Some(d) = diagnosis.get(&g.key()) {
            g.set_diagnosis(d);
        }
    }
    Ok(groups)
}

/// Report rows from a frame with the report's columns (the grouped frame, or a baseline read
/// back): times become RFC 3339, other text is taken as text, counts as counts. `status` and
/// the diagnosis columns may be absent (they stay empty); any other missing column is an error.
pub fn rows_from_frame(df: &DataFrame) -> PolarsResult<Vec<Group>> {
    let mut rows = vec![Group::default(); df.height()];
    for column in std::iter::once(&STATUS).chain(COLUMNS.iter()) {
        let c = match df.column(column.name) {
            Ok(c) => c,
            Err(_) if column.name == STATUS.name || is_diagnosis(column.name) => continue,
            Err(e) => return Err(e),
        };
        if column.count {
            for (g, v) in rows.iter_mut().zip(c.cast(&DataType::UInt64)?.u64()?.iter()) {
                (column.set)(g, Cell::Count(v.unwrap_or(0)));
            }
        } else if matches!(c.dtype(), DataType::Datetime(_, _)) {
            for (g, v) in rows.iter_mut().zip(c.cast(&DataType::Int64)?.i64()?.iter()) {
                (column.set)(g, Cell::Text(&v.map(rfc3339_ms).unwrap_or_default()));
            }
        } else {
            for (g, v) in rows.iter_mut().zip(c.cast(&DataType::String)?.str()?.iter()) {
                (column.set)(g, Cell::Text(v.unwrap_or("")));
            }
        }
    }
    Ok(rows)
}

/// Columns the diagnosis fills, absent from the bare grouped frame.
fn is_diagnosis(name: &str) -> bool {
    matches!(name, "causes" | "confidence" | "facts" | "confirmed_by" | "evidence" | "next_steps")
}

/// The report as a frame with the contract's columns (`status` first when a baseline set it):
/// what every tabular format writes.
pub fn groups_to_frame(groups: &[Group]) -> PolarsResult<DataFrame> {
    let columns = columns_of(groups)
        .into_iter()
        .map(|c| {
            let name = c.name.into();
            if c.count {
                let values: Vec<u64> =
                    groups.iter().map(|g| if let Cell::Count(n) = (c.get)(g) { n } else { 0 }).collect();
                Column::new(name, values)
            } else {
                let values: Vec<&str> =
                    groups.iter().map(|g| if let Cell::Text(s) = (c.get)(g) { s } else { "" }).collect();
                Column::new(name, values)
            }
        })
        .collect();
    DataFrame::new(groups.len(), columns)
}

/// Groups target events into report rows, with the given per-group diagnosis.
pub fn build(targets: &[Event], diagnosis: &HashMap<GroupKey, GroupDiagnosis>) -> PolarsResult<Vec<Group>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let events = frame::events_frame_of(targets, frame::GROUP_INPUT)?;
    groups_from_frame(&group_frame(&events)?, diagnosis)
}
