//! A shard's partial result: what `merge` needs to produce the report one scan would have.
//!
//! The file is gzip'd: JSON lines of a header (format, denytrail version, the filter it was
//! made with, the shard, and the shard's whole accounting), the shard's unsettled denial
//! tallies ([`crate::tally::Denials`]), the access keys its targets used, and one companion
//! event each (every session included, since a session may serve another shard's targets: the
//! merge keeps those whose key some shard's targets used); then the bucket owners' copies of cross-account
//! requests (and callers' copies) that waited on disk past the limit, as they were written; then
//! the shard's ledger, one 49-byte record per denial it counted (its identity and where it was
//! counted), so denials two shards both read are counted once. Its size follows the groups, the
//! distinct denials and the companions, not the denied events' fields; and neither the shard nor
//! the merge holds the ledger or the spilled copies in memory.
//! `merge` refuses partials of another version or filter, a shard given twice, and a missing
//! shard, naming the file or the shard.

use std::io::{BufRead, BufReader, Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::shard::Shard;
use crate::stats::Stats;
use crate::tally::{Denials, Ledger, Spilled, Unchecked};

/// Changes whenever what a partial holds changes meaning (4: the ledger follows the companions,
/// in binary records; 5: the access keys the targets used follow the tallies).
pub const FORMAT: &str = "denytrail-partial/5";

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
    /// Bytes of waiting cross-account copies that follow the companions (those past the limit).
    pub waiting: u64,
    /// Ledger records that follow them.
    pub ledger: u64,
}

/// Writes a partial: the header, the tallies, the access keys used, each companion, the
/// waiting copies written out, then the ledger (whose sizes the header must give).
pub fn write(
    out: impl Write,
    header: &Header,
    denials: &Denials,
    used_keys: &[Box<str>],
    events: impl Iterator<Item = std::io::Result<impl std::borrow::Borrow<Event>>>,
    waiting: Spilled,
    ledger: Ledger,
) -> std::io::Result<()> {
    let mut gz = GzEncoder::new(out, Compression::fast());
    serde_json::to_writer(&mut gz, header)?;
    gz.write_all(b"\n")?;
    serde_json::to_writer(&mut gz, denials)?;
    gz.write_all(b"\n")?;
    serde_json::to_writer(&mut gz, used_keys)?;
    gz.write_all(b"\n")?;
    for e in events {
        serde_json::to_writer(&mut gz, e?.borrow())?;
        gz.write_all(b"\n")?;
    }
    waiting.copy_to(&mut gz)?;
    ledger.copy_to(&mut gz)?;
    gz.finish()?.flush()
}

/// The rest of a partial after its tallies: its companions, then its ledger, each read as it
/// is asked for.
pub struct Body<R: Read> {
    /// The access keys the shard's targets used.
    pub used_keys: Vec<Box<str>>,
    r: BufReader<MultiGzDecoder<R>>,
    line: String,
    events: u64,
    read: u64,
    waiting: u64,
    ledger: u64,
}

/// Reads a partial's header and tallies; any defect is an error saying what is wrong with it.
pub fn read<R: Read>(input: R) -> Result<(Header, Denials, Body<R>), String> {
    let r = BufReader::new(MultiGzDecoder::new(input));
    let mut body = Body { used_keys: Vec::new(), r, line: String::new(), events: 0, read: 0, waiting: 0, ledger: 0 };
    let first = body.next_line().map_err(|e| format!("not a gzip'd partial ({e})"))?.ok_or("it is empty")?;
    let header: Header = serde_json::from_str(first).map_err(|e| format!("no partial header ({e})"))?;
    if header.format.starts_with("denytrail-partial") && header.format != FORMAT {
        return Err(format!("it was written by an older denytrail ({}); run its shards again", header.version));
    }
    if header.format != FORMAT {
        return Err(format!("not a denytrail partial (format '{}')", header.format));
    }
    let tallies =
        body.next_line().map_err(|e| format!("cut short in its tallies ({e})"))?.ok_or("it has no tallies")?;
    let mut denials: Denials = serde_json::from_str(tallies).map_err(|e| format!("its tallies are not valid ({e})"))?;
    denials.reindex();
    let used = body.next_line().map_err(|e| format!("cut short in its keys ({e})"))?.ok_or("it has no keys used")?;
    body.used_keys = serde_json::from_str(used).map_err(|e| format!("its keys used are not valid ({e})"))?;
    (body.events, body.waiting, body.ledger) = (header.events, header.waiting, header.ledger);
    Ok((header, denials, body))
}

impl<R: Read> Body<R> {
    fn next_line(&mut self) -> std::io::Result<Option<&str>> {
        self.line.clear();
        Ok((self.r.read_line(&mut self.line)? > 0).then_some(self.line.as_str()))
    }

    /// The next companion, or `None` after the last the header counts.
    pub fn next_companion(&mut self) -> Result<Option<Event>, String> {
        if self.read == self.events {
            return Ok(None);
        }
        let (n, of) = (self.read, self.events);
        let line = self
            .next_line()
            .map_err(|e| format!("unreadable after {n} events ({e})"))?
            .ok_or_else(|| format!("it holds {n} events where its header says {of}"))?;
        let e: Event = serde_json::from_str(line).map_err(|e| format!("event {} is not valid ({e})", n + 1))?;
        self.read += 1;
        Ok(Some(e))
    }

    /// The waiting copies' bytes, after the companions (those not yet read are read and dropped
    /// first); read them to their end before [`Body::ledger`].
    pub fn waiting(&mut self) -> Result<std::io::Take<&mut BufReader<MultiGzDecoder<R>>>, String> {
        while self.next_companion()?.is_some() {}
        let n = std::mem::take(&mut self.waiting);
        Ok((&mut self.r).take(n))
    }

    /// The ledger's records (the companions and waiting copies not yet read are read past first).
    pub fn ledger(mut self) -> Result<Records<R>, String> {
        std::io::copy(&mut self.waiting()?, &mut std::io::sink()).map_err(|e| format!("unreadable ({e})"))?;
        Ok(Records { r: self.r, left: self.ledger, done: false })
    }
}

/// A partial's ledger, record by record; a record cut short, or anything after the last, is an
/// error.
pub struct Records<R: Read> {
    r: BufReader<MultiGzDecoder<R>>,
    left: u64,
    done: bool,
}

impl<R: Read> Iterator for Records<R> {
    type Item = std::io::Result<Unchecked>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left > 0 {
            self.left -= 1;
            return Some(Unchecked::read_from(&mut self.r).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("its ledger is cut short, {} records before its end ({e})", self.left + 1),
                )
            }));
        }
        if std::mem::replace(&mut self.done, true) {
            return None;
        }
        match self.r.fill_buf() {
            Ok([]) => None,
            Ok(_) => Some(Err(std::io::Error::other("it holds more than its header says"))),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventRole;

    fn header(events: u64, ledger: u64) -> Header {
        let stats = Stats { files_read: 3, ..Stats::default() };
        Header {
            format: FORMAT.into(),
            version: "0.1.0".into(),
            filter: "f".into(),
            shard: Shard::new(1, 4).unwrap(),
            stats,
            events,
            waiting: 0,
            ledger,
        }
    }

    /// A shard's tallies of two denials, one of them counted twice, and its settled ledger.
    fn counted() -> (Denials, Ledger) {
        let mut denials = Denials::for_partial();
        for id in ["t", "u", "t"] {
            let _ = denials.add(&Event { event_id: id.into(), role: Some(EventRole::Target), ..Event::default() });
        }
        let ledger = denials.settle_ledger().unwrap();
        (denials, ledger)
    }

    fn written(h: &Header, events: &[Event]) -> Vec<u8> {
        let (denials, ledger) = counted();
        let mut bytes = Vec::new();
        write(&mut bytes, h, &denials, &["ASIAUSED".into()], events.iter().map(Ok), Spilled::none(), ledger).unwrap();
        bytes
    }

    #[test]
    fn round_trip_and_defects() {
        let events = vec![
            Event { event_id: "a".into(), role: Some(EventRole::Target), ..Event::default() },
            Event { event_id: "b\u{1b}".into(), role: Some(EventRole::Companion), ..Event::default() },
        ];
        let (denials, ledger) = counted();
        assert_eq!((denials.counted(), ledger.records()), (2, 2), "the repeat is counted once, in the ledger once");
        let bytes = written(&header(2, 2), &events);
        let (h, d, mut body) = read(&bytes[..]).unwrap();
        assert_eq!(h, header(2, 2));
        assert_eq!(d.counted(), 2);
        assert_eq!(body.used_keys, vec![Box::<str>::from("ASIAUSED")]);
        let mut back = Vec::new();
        while let Some(e) = body.next_companion().unwrap() {
            back.push(e);
        }
        assert_eq!(back, events);
        let records: Vec<Unchecked> = body.ledger().unwrap().collect::<std::io::Result<_>>().unwrap();
        assert_eq!(records.len(), 2);
        assert_ne!(records[0].identity, records[1].identity);

        // Merged twice (the same shard's denials read by two), each denial counts once.
        let mut merged = Denials::merging(0);
        for _ in 0..2 {
            let (_, d, body) = read(&bytes[..]).unwrap();
            merged.absorb(d);
            merged.absorb_ledger(body.ledger().unwrap()).unwrap();
        }
        merged.settle_merged().unwrap();
        assert_eq!(merged.counted(), 2);

        // Read to the end: the records, or what is wrong.
        let whole = |h: &Header, bytes: Option<Vec<u8>>| -> Result<usize, String> {
            let bytes = bytes.unwrap_or_else(|| written(h, &events));
            let (_, _, body) = read(std::io::Cursor::new(bytes))?;
            body.ledger()?.collect::<std::io::Result<Vec<_>>>().map(|r| r.len()).map_err(|e| e.to_string())
        };
        assert_eq!(whole(&header(2, 2), None), Ok(2));
        assert!(whole(&header(3, 2), None).is_err(), "an event missing");
        assert!(whole(&header(2, 3), None).unwrap_err().contains("cut short"));
        assert!(whole(&header(2, 1), None).unwrap_err().contains("more than its header says"));
        for cut in [bytes.len() / 2, bytes.len() - 9] {
            assert!(whole(&header(2, 2), Some(bytes[..cut].to_vec())).is_err(), "cut at {cut}");
        }
        assert!(read(&b"not gzip"[..]).is_err());
        let mut other = header(0, 2);
        other.format = "something-else".into();
        assert!(read(&written(&other, &[])[..]).err().unwrap().contains("not a denytrail partial"));
        other.format = "denytrail-partial/4".into();
        assert!(read(&written(&other, &[])[..]).err().unwrap().contains("older denytrail"));
        // The ledger after companions left unread: they are read past.
        let (_, _, body) = read(&bytes[..]).unwrap();
        assert_eq!(body.ledger().unwrap().count(), 2);
    }
}
