//! The events table: one row per matched event, one column per extracted field.

use polars::prelude::*;

use crate::event::Event;

type Text = fn(&Event) -> Option<&str>;

/// Text columns of the events table, in order. `bucket` is "" when unknown so it can group.
const TEXT: &[(&str, Text)] = &[
    ("event_id", |e| Some(&e.event_id)),
    ("shared_event_id", |e| e.shared_event_id.as_deref()),
    ("request_id", |e| e.request_id.as_deref()),
    ("event_source", |e| Some(&e.event_source)),
    ("event_name", |e| Some(&e.event_name)),
    ("event_category", |e| e.event_category.as_deref()),
    ("event_type", |e| e.event_type.as_deref()),
    ("aws_region", |e| e.aws_region.as_deref()),
    ("error_code", |e| e.error_code.as_deref()),
    ("error_message", |e| e.error_message.as_deref()),
    ("source_ip", |e| e.source_ip.as_deref()),
    ("user_agent", |e| e.user_agent.as_deref()),
    ("recipient_account", |e| e.recipient_account.as_deref()),
    ("principal", |e| Some(&e.principal)),
    ("principal_type", |e| Some(&e.principal_type)),
    ("identity_arn", |e| e.identity_arn.as_deref()),
    ("account", |e| e.account.as_deref()),
    ("principal_id", |e| e.principal_id.as_deref()),
    ("access_key_id", |e| e.access_key_id.as_deref()),
    ("invoked_by", |e| e.invoked_by.as_deref()),
    ("session_issuer_arn", |e| e.session_issuer_arn.as_deref()),
    ("session_issuer_type", |e| e.session_issuer_type.as_deref()),
    ("session_name", |e| e.session_name.as_deref()),
    ("on_behalf_of_user_id", |e| e.on_behalf_of_user_id.as_deref()),
    ("bucket", |e| Some(e.bucket.as_deref().unwrap_or(""))),
    ("key", |e| e.key.as_deref()),
    ("prefix", |e| Some(&e.prefix)),
    ("bucket_owner", |e| e.bucket_owner.as_deref()),
    ("access_point_arn", |e| e.access_point_arn.as_deref()),
    ("host", |e| e.host.as_deref()),
    ("acl", |e| e.acl.as_deref()),
    ("grants", |e| e.grants.as_deref()),
    ("sse", |e| e.sse.as_deref()),
    ("sse_kms_key_id", |e| e.sse_kms_key_id.as_deref()),
    ("sse_customer_algorithm", |e| e.sse_customer_algorithm.as_deref()),
    ("object_lock", |e| e.object_lock.as_deref()),
    ("expected_bucket_owner", |e| e.expected_bucket_owner.as_deref()),
    ("request_payer", |e| e.request_payer.as_deref()),
    ("signature_version", |e| e.signature_version.as_deref()),
    ("auth_method", |e| e.auth_method.as_deref()),
    ("cipher_suite", |e| e.cipher_suite.as_deref()),
    ("tls_version", |e| e.tls_version.as_deref()),
    ("tls_cipher_suite", |e| e.tls_cipher_suite.as_deref()),
    ("vpc_endpoint_id", |e| e.vpc_endpoint_id.as_deref()),
    ("vpc_endpoint_account", |e| e.vpc_endpoint_account.as_deref()),
    ("kms_key_arn", |e| e.kms_key_arn.as_deref()),
    ("kms_s3_arn", |e| e.kms_s3_arn.as_deref()),
    ("issued_access_key_id", |e| e.issued_access_key_id.as_deref()),
    ("assumed_role_arn", |e| e.assumed_role_arn.as_deref()),
    ("session_policy", |e| e.session_policy.as_deref()),
    ("policy_document", |e| e.policy_document.as_deref()),
    ("changed_resource", |e| e.changed_resource.as_deref()),
    ("source_object", |e| Some(&e.source_object)),
];

/// Builds the events table. `event_time` is a UTC datetime in ms; `mfa_authenticated` a boolean.
/// Takes references, so targets and companions can be written together without copying them.
pub fn events_frame(events: &[&Event]) -> PolarsResult<DataFrame> {
    let mut columns = Vec::with_capacity(TEXT.len() + 3);
    let times: Vec<Option<i64>> = events.iter().map(|e| e.event_time_ms).collect();
    columns
        .push(Int64Chunked::new("event_time".into(), &times).into_datetime(TimeUnit::Milliseconds, None).into_column());
    for (name, get) in TEXT {
        let values: Vec<Option<&str>> = events.iter().map(|e| get(e)).collect();
        columns.push(Column::new((*name).into(), values));
    }
    let mfa: Vec<Option<bool>> = events.iter().map(|e| e.mfa_authenticated).collect();
    columns.push(Column::new("mfa_authenticated".into(), mfa));
    let role: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.role.map(|r| if r == crate::event::EventRole::Target { "target" } else { "companion" }))
        .collect();
    columns.push(Column::new("role".into(), role));
    DataFrame::new(events.len(), columns)
}

/// Roughly what an owned event takes in memory: the struct and its text. What `--events-out`
/// counts against its buffer budget.
pub fn approx_bytes(e: &Event) -> usize {
    std::mem::size_of::<Event>() + TEXT.iter().map(|(_, get)| get(e).map_or(0, str::len)).sum::<usize>()
}

/// Columns an older `--events-out` file may lack.
const LATER: &[&str] = &["policy_document"];

/// Reads an events table back (from `--events-out`), for `explain` and `query` over Parquet.
pub fn events_from_frame(df: &DataFrame) -> PolarsResult<Vec<Event>> {
    let text = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        Ok(df.column(name)?.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let mut cols: std::collections::HashMap<&str, Vec<Option<String>>> = std::collections::HashMap::new();
    for (name, _) in TEXT {
        // Columns added after a file was written (policy_document) read as empty.
        let column = match text(name) {
            Err(_) if LATER.contains(name) => vec![None; df.height()],
            other => other?,
        };
        cols.insert(name, column);
    }
    let times: Vec<Option<i64>> = df.column("event_time")?.cast(&DataType::Int64)?.i64()?.iter().collect();
    let mfa: Vec<Option<bool>> = df.column("mfa_authenticated")?.bool()?.iter().collect();
    let roles = text("role")?;
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let mut take = |n: &str| cols.get_mut(n).and_then(|c| c[i].take());
        let mut e = Event {
            event_id: take("event_id").unwrap_or_default(),
            shared_event_id: take("shared_event_id"),
            request_id: take("request_id"),
            event_time_ms: times[i],
            event_source: take("event_source").unwrap_or_default(),
            event_name: take("event_name").unwrap_or_default(),
            event_category: take("event_category"),
            event_type: take("event_type"),
            aws_region: take("aws_region"),
            error_code: take("error_code"),
            error_message: take("error_message"),
            source_ip: take("source_ip"),
            user_agent: take("user_agent"),
            recipient_account: take("recipient_account"),
            principal: take("principal").unwrap_or_default(),
            principal_type: take("principal_type").unwrap_or_default(),
            identity_arn: take("identity_arn"),
            account: take("account"),
            principal_id: take("principal_id"),
            access_key_id: take("access_key_id"),
            invoked_by: take("invoked_by"),
            session_issuer_arn: take("session_issuer_arn"),
            session_issuer_type: take("session_issuer_type"),
            session_name: take("session_name"),
            mfa_authenticated: mfa[i],
            on_behalf_of_user_id: take("on_behalf_of_user_id"),
            bucket: take("bucket").filter(|b| !b.is_empty()),
            key: take("key"),
            prefix: take("prefix").unwrap_or_default(),
            bucket_owner: take("bucket_owner"),
            access_point_arn: take("access_point_arn"),
            host: take("host"),
            acl: take("acl"),
            grants: take("grants"),
            sse: take("sse"),
            sse_kms_key_id: take("sse_kms_key_id"),
            sse_customer_algorithm: take("sse_customer_algorithm"),
            object_lock: take("object_lock"),
            expected_bucket_owner: take("expected_bucket_owner"),
            request_payer: take("request_payer"),
            signature_version: take("signature_version"),
            auth_method: take("auth_method"),
            cipher_suite: take("cipher_suite"),
            tls_version: take("tls_version"),
            tls_cipher_suite: take("tls_cipher_suite"),
            vpc_endpoint_id: take("vpc_endpoint_id"),
            vpc_endpoint_account: take("vpc_endpoint_account"),
            kms_key_arn: take("kms_key_arn"),
            kms_s3_arn: take("kms_s3_arn"),
            issued_access_key_id: take("issued_access_key_id"),
            assumed_role_arn: take("assumed_role_arn"),
            session_policy: take("session_policy"),
            policy_document: take("policy_document"),
            changed_resource: take("changed_resource"),
            source_object: take("source_object").unwrap_or_default(),
            role: None,
        };
        e.role = match roles[i].as_deref() {
            Some("companion") => Some(crate::event::EventRole::Companion),
            _ => Some(crate::event::EventRole::Target),
        };
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventRole;

    #[test]
    fn events_round_trip_through_parquet() {
        let e = Event {
            event_id: "e1".into(),
            event_time_ms: Some(1_763_716_443_000),
            principal: "arn:aws:iam::1:user/a".into(),
            bucket: Some("b".into()),
            key: Some("k/x".into()),
            prefix: "k/".into(),
            mfa_authenticated: Some(false),
            user_agent: Some("ua\u{1b}[31m".into()),
            role: Some(EventRole::Target),
            ..Event::default()
        };
        let c = Event { event_id: "c1".into(), role: Some(EventRole::Companion), ..Event::default() };
        let mut df = events_frame(&[&e, &c]).unwrap();
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
        let back = ParquetReader::new(std::io::Cursor::new(buf)).finish().unwrap();
        assert_eq!(events_from_frame(&back).unwrap(), vec![e, c]);
    }
}
