//! The report: matched events as a polars DataFrame, grouped by principal × bucket × prefix.
//!
//! polars only runs here, at the end, on the small matched set. The events frame is also what
//! `--events-out` writes, so ad-hoc work in polars/DuckDB/Athena sees exactly what was grouped.

pub mod baseline;
pub mod escape;
pub mod frame;
pub mod html;
pub mod query;
pub mod summary;
pub mod table;
pub mod timeline;
pub mod write;

use std::collections::HashMap;

use polars::prelude::*;
use serde::Serialize;

use crate::event::Event;

/// One report row. The field names are the report's column names.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    /// `new`, `ongoing` or `resolved` against a `--baseline` report; empty without one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    pub principal: String,
    pub principal_type: String,
    pub account: String,
    pub bucket: String,
    pub bucket_owner: String,
    pub prefix: String,
    pub denied: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub keys: u64,
    pub sessions: u64,
    pub source_ips: u64,
    pub operations: String,
    pub causes: String,
    pub confidence: String,
    pub evidence: String,
    pub next_steps: String,
    pub sample_event_id: String,
    pub sample_key: String,
    /// The diagnosis behind `causes`/`evidence`/`next_steps`, one entry per cause (for HTML).
    #[serde(skip)]
    pub detail: GroupDetail,
}

/// The per-cause diagnosis of a group, for writers that show more than one line of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupDetail {
    /// Strongest first, as in `causes`.
    pub causes: Vec<CauseLine>,
    /// Facts that are not causes: "cross-account", "temporary credentials", ...
    pub facts: Vec<String>,
    /// Commands to confirm the causes, one per entry.
    pub steps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CauseLine {
    pub tag: String,
    /// `high`, `medium` or `low`.
    pub confidence: String,
    /// Share of the group's events the cause explains, 0..=1.
    pub share: f64,
    pub evidence: String,
}

/// The column names, in report order.
pub const COLUMNS: [&str; 19] = [
    "principal",
    "principal_type",
    "account",
    "bucket",
    "bucket_owner",
    "prefix",
    "denied",
    "first_seen",
    "last_seen",
    "keys",
    "sessions",
    "source_ips",
    "operations",
    "causes",
    "confidence",
    "evidence",
    "next_steps",
    "sample_event_id",
    "sample_key",
];

/// The diagnosis columns of one group, filled by the diagnose stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupDiagnosis {
    pub causes: String,
    pub confidence: String,
    pub evidence: String,
    pub next_steps: String,
    pub detail: GroupDetail,
}

/// The key a group is known by.
pub type GroupKey = (String, String, String);

pub fn group_key(e: &Event) -> GroupKey {
    (e.principal.clone(), e.bucket.clone().unwrap_or_default(), e.prefix.clone())
}

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

/// Formats ms since the epoch as RFC 3339 UTC (`2026-11-21T09:14:03Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// Turns the grouped frame into rows, attaching each group's diagnosis.
pub fn groups_from_frame(
    grouped: &DataFrame,
    diagnosis: &HashMap<GroupKey, GroupDiagnosis>,
) -> PolarsResult<Vec<Group>> {
    let text = |name: &str| -> PolarsResult<Vec<String>> {
        let Ok(c) = grouped.column(name) else { return Ok(vec![String::new(); grouped.height()]) };
        if matches!(c.dtype(), DataType::Datetime(_, _)) {
            let ms = c.cast(&DataType::Int64)?;
            return Ok(ms.i64()?.iter().map(|v| v.map(rfc3339_ms).unwrap_or_default()).collect());
        }
        Ok(c.str()?.iter().map(|v| v.unwrap_or("").to_string()).collect())
    };
    let count = |name: &str| -> PolarsResult<Vec<u64>> {
        Ok(grouped.column(name)?.u64()?.iter().map(|v| v.unwrap_or(0)).collect())
    };
    let mut groups = groups_from_columns(grouped.height(), text, count)?;
    for g in &mut groups {
        let key = (g.principal.clone(), g.bucket.clone(), g.prefix.clone());
        if let Some(d) = diagnosis.get(&key) {
            g.causes = d.causes.clone();
            g.confidence = d.confidence.clone();
            g.evidence = d.evidence.clone();
            g.next_steps = d.next_steps.clone();
            g.detail = d.detail.clone();
        }
    }
    Ok(groups)
}

/// Builds report rows from whole columns: `text` gives every text column (times as RFC 3339,
/// "" for a column that is absent), `count` the four counts.
pub fn groups_from_columns(
    height: usize,
    text: impl Fn(&str) -> PolarsResult<Vec<String>>,
    count: impl Fn(&str) -> PolarsResult<Vec<u64>>,
) -> PolarsResult<Vec<Group>> {
    const COUNTS: [&str; 4] = ["denied", "keys", "sessions", "source_ips"];
    let mut text_columns = HashMap::new();
    let mut count_columns = HashMap::new();
    for name in std::iter::once("status").chain(COLUMNS) {
        if COUNTS.contains(&name) {
            count_columns.insert(name, count(name)?.into_iter());
        } else {
            text_columns.insert(name, text(name)?.into_iter());
        }
    }
    let mut out = Vec::with_capacity(height);
    for _ in 0..height {
        let mut t = |name: &str| text_columns.get_mut(name).and_then(Iterator::next).unwrap_or_default();
        let mut n = |name: &str| count_columns.get_mut(name).and_then(Iterator::next).unwrap_or_default();
        out.push(Group {
            status: t("status"),
            principal: t("principal"),
            principal_type: t("principal_type"),
            account: t("account"),
            bucket: t("bucket"),
            bucket_owner: t("bucket_owner"),
            prefix: t("prefix"),
            first_seen: t("first_seen"),
            last_seen: t("last_seen"),
            operations: t("operations"),
            causes: t("causes"),
            confidence: t("confidence"),
            evidence: t("evidence"),
            next_steps: t("next_steps"),
            sample_event_id: t("sample_event_id"),
            sample_key: t("sample_key"),
            denied: n("denied"),
            keys: n("keys"),
            sessions: n("sessions"),
            source_ips: n("source_ips"),
            detail: GroupDetail::default(),
        });
    }
    Ok(out)
}

/// The report as a frame with the contract's columns (for Parquet).
pub fn groups_to_frame(groups: &[Group]) -> PolarsResult<DataFrame> {
    let s = |f: fn(&Group) -> &str, name: &str| Column::new(name.into(), groups.iter().map(f).collect::<Vec<_>>());
    let u = |f: fn(&Group) -> u64, name: &str| Column::new(name.into(), groups.iter().map(f).collect::<Vec<_>>());
    let status = groups.iter().any(|g| !g.status.is_empty()).then(|| s(|g| &g.status, "status"));
    DataFrame::new(
        groups.len(),
        status
            .into_iter()
            .chain([
                s(|g| &g.principal, "principal"),
                s(|g| &g.principal_type, "principal_type"),
                s(|g| &g.account, "account"),
                s(|g| &g.bucket, "bucket"),
                s(|g| &g.bucket_owner, "bucket_owner"),
                s(|g| &g.prefix, "prefix"),
                u(|g| g.denied, "denied"),
                s(|g| &g.first_seen, "first_seen"),
                s(|g| &g.last_seen, "last_seen"),
                u(|g| g.keys, "keys"),
                u(|g| g.sessions, "sessions"),
                u(|g| g.source_ips, "source_ips"),
                s(|g| &g.operations, "operations"),
                s(|g| &g.causes, "causes"),
                s(|g| &g.confidence, "confidence"),
                s(|g| &g.evidence, "evidence"),
                s(|g| &g.next_steps, "next_steps"),
                s(|g| &g.sample_event_id, "sample_event_id"),
                s(|g| &g.sample_key, "sample_key"),
            ])
            .collect(),
    )
}

/// Groups target events into report rows, with the given per-group diagnosis.
pub fn build(targets: &[Event], diagnosis: &HashMap<GroupKey, GroupDiagnosis>) -> PolarsResult<Vec<Group>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let events = frame::events_frame_of(targets, frame::GROUP_INPUT)?;
    groups_from_frame(&group_frame(&events)?, diagnosis)
}
