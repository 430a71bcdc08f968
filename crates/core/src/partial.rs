//! A shard's partial result: what `merge` needs to produce the report one scan would have.
//!
//! The file is gzip'd JSON lines: a header (format, denytrail version, the filter it was made
//! with, the shard, and the shard's whole accounting), the shard's unsettled denial tallies
//! ([`crate::tally::Denials`], with where each denial was counted, so denials two shards both
//! read are counted once), then one companion event per line (sessions included, since a
//! session may serve another shard's targets). Its size follows the groups, the distinct
//! denials (40 bytes each) and the companions, not the denied events' fields. `merge` refuses partials of another version or filter, a
//! shard given twice, and a missing shard, naming the file or the shard.

use std::io::{BufRead, BufReader, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::shard::Shard;
use crate::stats::Stats;
use crate::tally::Denials;

/// Changes whenever what a partial holds changes meaning (3: denial identities hashed anew).
pub const FORMAT: &str = "denytrail-partial/3";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    /// The denytrail version that wrote it: events and accounting change between versions.
    pub version: String,
    /// The settings that decide what is kept (filter, scope, prefix depth, limits), in one line.
    pub filter: String,
    pub shard: Shard,
    pub stats: Stats,
    /// Companion events that follow the tallies.
    pub events: u64,
}

/// Writes a partial: the header, the tallies, then each companion.
pub fn write<'a>(
    out: impl Write,
    header: &Header,
    denials: &Denials,
    events: impl Iterator<Item = &'a Event>,
) -> std::io::Result<()> {
    let mut gz = GzEncoder::new(out, Compression::fast());
    serde_json::to_writer(&mut gz, header)?;
    gz.write_all(b"\n")?;
    serde_json::to_writer(&mut gz, denials)?;
    gz.write_all(b"\n")?;
    for e in events {
        serde_json::to_writer(&mut gz, e)?;
        gz.write_all(b"\n")?;
    }
    gz.finish()?.flush()
}

/// Reads a partial whole; any defect is an error saying what is wrong with it.
pub fn read(input: impl Read) -> Result<(Header, Denials, Vec<Event>), String> {
    let mut lines = BufReader::new(MultiGzDecoder::new(input)).lines();
    let first = lines.next().ok_or("it is empty")?.map_err(|e| format!("not a gzip'd partial ({e})"))?;
    let header: Header = serde_json::from_str(&first).map_err(|e| format!("no partial header ({e})"))?;
    if header.format == "denytrail-partial" {
        return Err(format!("it was written by an older denytrail ({}); run its shards again", header.version));
    }
    if header.format != FORMAT {
        return Err(format!("not a denytrail partial (format '{}')", header.format));
    }
    let tallies = lines.next().ok_or("it has no tallies")?.map_err(|e| format!("cut short in its tallies ({e})"))?;
    let mut denials: Denials =
        serde_json::from_str(&tallies).map_err(|e| format!("its tallies are not valid ({e})"))?;
    denials.reindex();
    let mut events = Vec::with_capacity(header.events.min(1 << 20) as usize);
    for (n, line) in lines.enumerate() {
        let line = line.map_err(|e| format!("cut short after {n} events ({e})"))?;
        let e: Event = serde_json::from_str(&line).map_err(|e| format!("event {} is not valid ({e})", n + 1))?;
        events.push(e);
    }
    if events.len() as u64 != header.events {
        return Err(format!("it holds {} events where its header says {}", events.len(), header.events));
    }
    Ok((header, denials, events))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventRole;

    fn header(n: u64) -> Header {
        let stats = Stats { files_read: 3, ..Stats::default() };
        Header {
            format: FORMAT.into(),
            version: "0.1.0".into(),
            filter: "f".into(),
            shard: Shard::new(1, 4).unwrap(),
            stats,
            events: n,
        }
    }

    #[test]
    fn round_trip_and_defects() {
        let events = vec![
            Event { event_id: "a".into(), role: Some(EventRole::Target), ..Event::default() },
            Event { event_id: "b\u{1b}".into(), role: Some(EventRole::Companion), ..Event::default() },
        ];
        let mut denials = Denials::for_partial();
        let _ = denials.add(&Event { event_id: "t".into(), role: Some(EventRole::Target), ..Event::default() });
        let mut bytes = Vec::new();
        write(&mut bytes, &header(2), &denials, events.iter()).unwrap();
        let (h, d, back) = read(&bytes[..]).unwrap();
        assert_eq!((h, back), (header(2), events.clone()));
        assert_eq!(d.counted(), 1);

        let mut wrong = Vec::new();
        write(&mut wrong, &header(3), &denials, events.iter()).unwrap();
        assert!(read(&wrong[..]).unwrap_err().contains("header says 3"));
        assert!(read(&bytes[..bytes.len() / 2]).is_err(), "cut short");
        assert!(read(&b"not gzip"[..]).is_err());
        let mut other = header(0);
        other.format = "something-else".into();
        let mut b = Vec::new();
        write(&mut b, &other, &denials, std::iter::empty()).unwrap();
        assert!(read(&b[..]).unwrap_err().contains("not a denytrail partial"));
    }
}
