//! The report's rows and the renderers that need no dataframe: the terminal table, the timeline,
//! the HTML page, the stderr summary, and the escaping every human format applies to log text.
//!
//! The binary groups events into these rows with polars and writes the tabular formats; the
//! column list below is the one definition both sides read.

pub mod escape;
pub mod html;
pub mod summary;
pub mod table;
pub mod timeline;

use serde::Serialize;

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
    /// Facts about the callers that are not causes, joined by ", ": anonymous, temporary
    /// credentials, presigned URL, AWS service, cross-account, suspicious, ...
    pub facts: String,
    /// With `--live` / `--config`: what decided against the configuration read (the deciding
    /// statement, setting or layer; "allowed by …" when refuted; "cannot confirm: …").
    pub confirmed_by: String,
    pub evidence: String,
    pub next_steps: String,
    pub sample_event_id: String,
    pub sample_key: String,
    /// The columns of this row that are estimates ("" when every number is exact): `keys`,
    /// `sessions`, `source_ips` past the exact limit (HyperLogLog++, ±0.8%), `causes` when the
    /// shares were weighed from exemplars of a group too large to read whole.
    pub estimated: String,
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
    /// `confirmed`, `high`, `medium`, `low` or `refuted`.
    pub confidence: String,
    /// Share of the group's events the cause explains, 0..=1.
    pub share: f64,
    pub evidence: String,
}

/// The diagnosis columns of one group, filled by the diagnose stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupDiagnosis {
    pub causes: String,
    pub confidence: String,
    pub facts: String,
    pub confirmed_by: String,
    pub evidence: String,
    pub next_steps: String,
    pub detail: GroupDetail,
}

impl Group {
    /// Fills the diagnosis columns.
    pub fn set_diagnosis(&mut self, d: &GroupDiagnosis) {
        self.causes = d.causes.clone();
        self.confidence = d.confidence.clone();
        self.facts = d.facts.clone();
        self.confirmed_by = d.confirmed_by.clone();
        self.evidence = d.evidence.clone();
        self.next_steps = d.next_steps.clone();
        self.detail = d.detail.clone();
    }

    /// The key of this row.
    pub fn key(&self) -> crate::event::GroupKey {
        crate::event::GroupKey {
            principal: self.principal.clone(),
            bucket: self.bucket.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

/// A cell of a report row: text, or a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Text(&'a str),
    Count(u64),
}

impl Cell<'_> {
    /// The cell as text (counts in decimal).
    pub fn to_text(self) -> String {
        match self {
            Cell::Text(s) => s.to_string(),
            Cell::Count(n) => n.to_string(),
        }
    }
}

/// One report column: its name, whether it counts, and how to read and set it on a row.
pub struct Column {
    pub name: &'static str,
    pub count: bool,
    pub get: fn(&Group) -> Cell<'_>,
    /// Sets the column from text (for text columns) or a count (for counts).
    pub set: fn(&mut Group, Cell<'_>),
}

macro_rules! columns {
    ($($kind:ident $field:ident),* $(,)?) => {
        [$(columns!(@one $kind $field)),*]
    };
    (@one text $field:ident) => {
        Column {
            name: stringify!($field),
            count: false,
            get: |g| Cell::Text(&g.$field),
            set: |g, c| if let Cell::Text(s) = c { g.$field = s.to_string() },
        }
    };
    (@one count $field:ident) => {
        Column {
            name: stringify!($field),
            count: true,
            get: |g| Cell::Count(g.$field),
            set: |g, c| if let Cell::Count(n) = c { g.$field = n },
        }
    };
}

/// `status`: set only against a `--baseline`, and then the first column.
pub const STATUS: Column = columns!(@one text status);

/// The contract's columns, in report order: the one place they are spelled.
pub const COLUMNS: [Column; 22] = columns![
    text principal,
    text principal_type,
    text account,
    text bucket,
    text bucket_owner,
    text prefix,
    count denied,
    text first_seen,
    text last_seen,
    count keys,
    count sessions,
    count source_ips,
    text operations,
    text causes,
    text confidence,
    text facts,
    text confirmed_by,
    text evidence,
    text next_steps,
    text sample_event_id,
    text sample_key,
    text estimated,
];

/// The columns `groups` are written with: the contract's, led by `status` when a baseline set it.
pub fn columns_of(groups: &[Group]) -> Vec<&'static Column> {
    let status = groups.iter().any(|g| !g.status.is_empty());
    status.then_some(&STATUS).into_iter().chain(COLUMNS.iter()).collect()
}

/// The names of [`COLUMNS`].
pub fn column_names() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().map(|c| c.name)
}

/// The report rows of reduced groups ([`crate::tally`]), each with its diagnosis, most
/// denials first (ties by principal, bucket, prefix, so the order is stable).
pub fn rows_of(
    groups: &[crate::tally::GroupTally],
    diagnosis: &std::collections::HashMap<crate::event::GroupKey, GroupDiagnosis>,
) -> Vec<Group> {
    let mut rows: Vec<Group> = groups
        .iter()
        .map(|t| {
            let time = |t: Option<i64>| t.map(rfc3339_ms).unwrap_or_default();
            let mut g = Group {
                principal: t.key.principal.clone(),
                principal_type: t.principal_type().to_string(),
                account: t.account().to_string(),
                bucket: t.key.bucket.clone(),
                bucket_owner: t.bucket_owner().to_string(),
                prefix: t.key.prefix.clone(),
                denied: t.denied,
                first_seen: time(t.first_seen),
                last_seen: time(t.last_seen),
                keys: t.keys.count().0,
                sessions: t.sessions.count().0,
                source_ips: t.source_ips.count().0,
                operations: t.operations.iter().map(String::as_str).collect::<Vec<_>>().join(","),
                sample_event_id: t.sample_event_id().to_string(),
                sample_key: t.sample_key().to_string(),
                estimated: t.estimated(),
                ..Group::default()
            };
            if let Some(d) = diagnosis.get(&t.key) {
                g.set_diagnosis(d);
            }
            g
        })
        .collect();
    rows.sort_by(|a, b| {
        b.denied
            .cmp(&a.denied)
            .then_with(|| (&a.principal, &a.bucket, &a.prefix).cmp(&(&b.principal, &b.bucket, &b.prefix)))
    });
    rows
}

/// Formats ms since the epoch as RFC 3339 UTC (`2026-11-21T09:14:03Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_and_set_their_own_field() {
        let mut g = Group::default();
        for (i, c) in COLUMNS.iter().enumerate() {
            if c.count {
                (c.set)(&mut g, Cell::Count(i as u64 + 1));
            } else {
                (c.set)(&mut g, Cell::Text(c.name));
            }
        }
        for (i, c) in COLUMNS.iter().enumerate() {
            let want = if c.count { Cell::Count(i as u64 + 1) } else { Cell::Text(c.name) };
            assert_eq!((c.get)(&g), want, "{}", c.name);
        }
        // The serialised row has the same names in the same order (NDJSON and JSON rows).
        let v = serde_json::to_string(&g).unwrap();
        let mut at = 0;
        for c in &COLUMNS {
            let found = v[at..].find(&format!("\"{}\":", c.name)).unwrap_or_else(|| panic!("{} out of order", c.name));
            at += found;
        }
    }
}
