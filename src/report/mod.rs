//! The report as polars frames: the rows (grouped at ingest by [`denytrail_core::tally`]) for
//! the tabular formats and `query`, baselines read back, and the events table `--events-out`
//! writes, so ad-hoc work in polars/DuckDB/Athena sees exactly the events that were tallied.

pub mod baseline;
pub mod frame;
pub mod hive;
pub mod query;
pub mod tap;
pub mod write;

pub use denytrail_core::report::{
    COLUMNS, CauseLine, Cell, Group, GroupDetail, GroupDiagnosis, STATUS, column_names, columns_of, escape, html,
    rfc3339_ms, rows_of, summary, table, timeline,
};

use polars::prelude::*;

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
    matches!(name, "causes" | "confidence" | "facts" | "confirmed_by" | "evidence" | "next_steps" | "estimated")
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
