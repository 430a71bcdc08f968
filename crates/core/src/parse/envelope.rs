//! CloudTrail records that arrive inside another service's envelope.
//!
//! Trails sent to CloudWatch Logs, EventBridge or fetched with the CLI reach disk as envelopes
//! around the records: CloudWatch Logs subscription messages (`logEvents[].message` strings,
//! concatenated by Firehose), EventBridge events (the record in `detail`), and the output of
//! `aws logs filter-log-events`/`get-log-events` (`events[].message`) and
//! `aws cloudtrail lookup-events` (`Events[].CloudTrailEvent`). A file's envelope is decided once,
//! from its first top-level record (see [`Envelope::detect`]); each unit the splitter then hands
//! out is opened here into the records it holds, which go through the same prefilter and parse
//! as plain records.
//!
//! CloudTrail Lake query results are not read: their rows are string maps of the selected
//! columns, with nested fields (`userIdentity`, `requestParameters`) not rendered as JSON, so
//! they cannot give back the records. They are reported as a shape not recognised.

use std::fmt::Write;

use super::split::{Container, WrapperKey, elements, fields};

/// A known envelope; its name is the file's entry in the `formats` statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// CloudWatch Logs subscription messages (`messageType`, `logEvents[].message`).
    Cwl,
    /// EventBridge events whose `detail` is the record.
    EventBridge,
    /// `aws logs filter-log-events` / `get-log-events` output (`events[].message`).
    LogEvents,
    /// `aws cloudtrail lookup-events` output (`Events[].CloudTrailEvent`).
    Lookup,
}

/// What one entry of an envelope holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Inner<'a> {
    /// A record as JSON in the unit's own bytes (EventBridge's `detail`).
    Raw(&'a [u8]),
    /// A record that was a JSON string, unescaped.
    Text(String),
    /// A CloudWatch Logs `CONTROL_MESSAGE` (a health check, no events).
    Control,
    /// An entry that is not a CloudTrail event: an EventBridge event of another type, or a log
    /// message that is not a JSON object.
    Other,
    /// An entry without the field its envelope puts the record in, or whose string is not valid.
    Broken,
}

/// An inner message longer than the limit (its length in bytes, as stored).
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge(pub usize);

impl Envelope {
    pub fn name(self) -> &'static str {
        match self {
            Envelope::Cwl => "cwl",
            Envelope::EventBridge => "eventbridge",
            Envelope::LogEvents => "log-events",
            Envelope::Lookup => "lookup-events",
        }
    }

    /// The envelope of a file whose first record (with these top-level keys, standing in this
    /// container) is not a CloudTrail record, if it is one this module knows.
    pub fn detect(container: Container, keys: &[&[u8]]) -> Option<Envelope> {
        let has = |k: &[u8]| keys.contains(&k);
        match container {
            Container::Wrapper(WrapperKey::LogEvents) if has(b"message") => Some(Envelope::LogEvents),
            Container::Wrapper(WrapperKey::Events) if has(b"CloudTrailEvent") => Some(Envelope::Lookup),
            Container::Wrapper(_) => None,
            _ if has(b"messageType") && has(b"logEvents") => Some(Envelope::Cwl),
            _ if has(b"detail-type") && has(b"detail") => Some(Envelope::EventBridge),
            _ => None,
        }
    }

    /// The entries of one unit (a subscription message, an EventBridge event, an element of
    /// `events` or `Events`). A message string longer than `max` bytes is an error.
    pub fn open(self, unit: &[u8], max: usize) -> Result<Vec<Inner<'_>>, TooLarge> {
        let fields = fields(unit);
        let field = |name: &[u8]| fields.iter().find(|(k, _)| *k == name).map(|(_, r)| &unit[r.clone()]);
        match self {
            Envelope::Cwl => match field(b"messageType") {
                Some(b"\"CONTROL_MESSAGE\"") => Ok(vec![Inner::Control]),
                Some(b"\"DATA_MESSAGE\"") => {
                    let Some(events) = field(b"logEvents").and_then(|a| Some((a, elements(a)?))) else {
                        return Ok(vec![Inner::Broken]);
                    };
                    let (array, ranges) = events;
                    ranges.into_iter().map(|r| message(field_of(&array[r], b"message"), max)).collect()
                }
                _ => Ok(vec![Inner::Broken]),
            },
            Envelope::EventBridge => Ok(vec![match (field(b"detail-type"), field(b"detail")) {
                (Some(kind), Some(detail)) if kind.ends_with(b" via CloudTrail\"") && detail.starts_with(b"{") => {
                    Inner::Raw(detail)
                }
                (Some(_), Some(_)) => Inner::Other,
                _ => Inner::Broken,
            }]),
            Envelope::LogEvents => Ok(vec![message(field(b"message"), max)?]),
            Envelope::Lookup => Ok(vec![message(field(b"CloudTrailEvent"), max)?]),
        }
    }
}

/// The raw value of one top-level field of an object.
fn field_of<'a>(object: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    fields(object).into_iter().find(|(k, _)| *k == name).map(|(_, r)| &object[r])
}

/// A record carried as a JSON string (`"{\"eventVersion\":...}"`), unescaped.
fn message(literal: Option<&[u8]>, max: usize) -> Result<Inner<'static>, TooLarge> {
    let Some(literal) = literal.filter(|l| l.first() == Some(&b'"')) else {
        return Ok(Inner::Broken);
    };
    if literal.len() > max {
        return Err(TooLarge(literal.len()));
    }
    match serde_json::from_slice::<String>(literal) {
        Ok(text) if text.trim_start().starts_with('{') => Ok(Inner::Text(text)),
        Ok(_) => Ok(Inner::Other),
        Err(_) => Ok(Inner::Broken),
    }
}

/// How many keys, and how many characters of each, an unknown shape is described with.
const SHAPE_KEYS: usize = 8;
const SHAPE_KEY_CHARS: usize = 40;

/// A short description of a record of no known shape: its sorted top-level keys in the
/// container it stood in, e.g. `{"name","version"}`, `[{"a"}]` or `{"Records":[{"a"}]}`. Keys
/// are shown as stored (JSON escapes kept), cut, and with control characters made visible.
pub fn describe(container: Container, keys: &[&[u8]]) -> String {
    let mut keys: Vec<String> = keys
        .iter()
        .map(|k| {
            let text = String::from_utf8_lossy(k);
            let mut cut: String = text.chars().take(SHAPE_KEY_CHARS).collect();
            if text.chars().count() > SHAPE_KEY_CHARS {
                cut.push('…');
            }
            crate::report::escape::display(&cut)
        })
        .collect();
    keys.sort();
    keys.dedup();
    let mut object = String::from("{");
    for (i, k) in keys.iter().take(SHAPE_KEYS).enumerate() {
        let _ = write!(object, "{}\"{k}\"", if i > 0 { "," } else { "" });
    }
    if keys.len() > SHAPE_KEYS {
        let _ = write!(object, ",… {} more", keys.len() - SHAPE_KEYS);
    }
    object.push('}');
    match container {
        Container::Bare => object,
        Container::Array => format!("[{object}]"),
        Container::Wrapper(key) => format!("{{\"{}\":[{object}]}}", key.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::parse::split::top_level_keys;

    fn detect(container: Container, unit: &str) -> Option<Envelope> {
        Envelope::detect(container, &top_level_keys(unit.as_bytes()))
    }

    const RECORD: &str = r#"{"eventVersion":"1.08","eventName":"PutObject","eventID":"e1"}"#;

    fn quoted(s: &str) -> String {
        serde_json::to_string(s).unwrap()
    }

    #[test]
    fn cwl_data_and_control_messages() {
        let data = format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"CloudTrail/logs","logStream":"111122223333_CloudTrail_us-east-1","subscriptionFilters":["to-firehose"],"logEvents":[{{"id":"1","timestamp":1,"message":{}}},{{"id":"2","timestamp":2,"message":"not json"}},{{"id":"3"}}]}}"#,
            quoted(RECORD)
        );
        assert_eq!(detect(Container::Bare, &data), Some(Envelope::Cwl));
        assert_eq!(
            Envelope::Cwl.open(data.as_bytes(), 1 << 20).unwrap(),
            [Inner::Text(RECORD.into()), Inner::Other, Inner::Broken]
        );
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        assert_eq!(detect(Container::Bare, control), Some(Envelope::Cwl));
        assert_eq!(Envelope::Cwl.open(control.as_bytes(), 1 << 20).unwrap(), [Inner::Control]);
        assert_eq!(Envelope::Cwl.open(b"{\"x\":1}", 1 << 20).unwrap(), [Inner::Broken]);
        // An inner message over the limit is an error, not a record.
        assert_eq!(Envelope::Cwl.open(data.as_bytes(), 20), Err(TooLarge(quoted(RECORD).len())));
    }

    #[test]
    fn eventbridge_detail_is_the_record() {
        let event = format!(
            r#"{{"version":"0","id":"6a7e8feb","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","account":"111122223333","time":"2026-11-21T10:00:00Z","region":"us-east-1","resources":[],"detail":{RECORD}}}"#
        );
        for container in [Container::Bare, Container::Array] {
            assert_eq!(detect(container, &event), Some(Envelope::EventBridge));
        }
        assert_eq!(Envelope::EventBridge.open(event.as_bytes(), 1 << 20).unwrap(), [Inner::Raw(RECORD.as_bytes())]);
        let other = r#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"state":"running"}}"#;
        assert_eq!(Envelope::EventBridge.open(other.as_bytes(), 1 << 20).unwrap(), [Inner::Other]);
        assert_eq!(Envelope::EventBridge.open(b"{\"detail-type\":\"x\"}", 1 << 20).unwrap(), [Inner::Broken]);
    }

    #[test]
    fn log_events_and_lookup_events_elements() {
        let element = format!(
            r#"{{"logStreamName":"111122223333_CloudTrail_us-east-1","timestamp":1,"message":{},"ingestionTime":2,"eventId":"3"}}"#,
            quoted(RECORD)
        );
        assert_eq!(detect(Container::Wrapper(WrapperKey::LogEvents), &element), Some(Envelope::LogEvents));
        assert_eq!(detect(Container::Wrapper(WrapperKey::Records), &element), None);
        assert_eq!(Envelope::LogEvents.open(element.as_bytes(), 1 << 20).unwrap(), [Inner::Text(RECORD.into())]);

        let event = format!(
            r#"{{"EventId":"e1","EventName":"PutBucketPolicy","ReadOnly":"false","EventTime":"2026-11-21T10:00:00+00:00","EventSource":"s3.amazonaws.com","Username":"mallory","Resources":[],"CloudTrailEvent":{}}}"#,
            quoted(RECORD)
        );
        assert_eq!(detect(Container::Wrapper(WrapperKey::Events), &event), Some(Envelope::Lookup));
        assert_eq!(detect(Container::Bare, &event), None);
        assert_eq!(Envelope::Lookup.open(event.as_bytes(), 1 << 20).unwrap(), [Inner::Text(RECORD.into())]);
        // A string that is not valid JSON text is broken, not a record.
        assert_eq!(Envelope::Lookup.open(br#"{"CloudTrailEvent":"{\x}"}"#, 1 << 20).unwrap(), [Inner::Broken]);
    }

    #[test]
    fn unknown_shapes_are_described_short_and_safe() {
        let keys = top_level_keys(br#"{"version":"1","name":"p","name":"q"}"#);
        assert_eq!(describe(Container::Bare, &keys), r#"{"name","version"}"#);
        assert_eq!(describe(Container::Array, &keys), r#"[{"name","version"}]"#);
        assert_eq!(describe(Container::Wrapper(WrapperKey::Records), &keys), r#"{"Records":[{"name","version"}]}"#);
        let many: Vec<String> = (0..10).map(|i| format!("k{i}{}", "x".repeat(50))).collect();
        let keys: Vec<&[u8]> = many.iter().map(|k| k.as_bytes()).chain([&b"\x1b[2J"[..]]).collect();
        let d = describe(Container::Bare, &keys);
        assert!(d.starts_with("{\"\\x1b[2J\",\"k0xxx") && d.ends_with(",… 3 more}"), "{d}");
        assert!(d.contains(&format!("k0{}…\"", "x".repeat(38))), "{d}");
        assert_eq!(describe(Container::Bare, &[]), "{}");
    }
}
