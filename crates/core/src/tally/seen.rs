//! The identities counted by the workers' tallies, to drop repeats exactly, in memory up to a
//! limit and on disk past it.
//!
//! Repeats are rare (the same log object read twice, CloudTrail delivering an event again), but
//! dropping them exactly needs every identity: 16 bytes per distinct denial, which an outage of
//! tens of millions of denials would hold whole. Past [`Seen::with_limit`]'s limit, an identity
//! not already held is counted without being checked and written to a spill file instead, with
//! what its count changed (group, class, time). At the end each spill file is read back on its
//! own (one per shard of the set, so a 64th of the spilled identities at a time), and every
//! repeat found there is taken back from its group as a merge takes back what two shards both
//! counted. The counts are then the ones an unlimited set gives.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::sync::{Mutex, PoisonError};

use super::{Identity, Prehashed};

/// Identities held in memory by default (~2 MB with the set's own overhead). Low on purpose:
/// past a few thousand the set outgrows the caches, and an outage scan that spills nearly every
/// identity (49 bytes each, written once, read back once) measured ~3% less CPU than one that held
/// two million, and 35 MB less peak RSS at 4 GiB.
pub const SEEN_LIMIT: usize = 1 << 16;

const SHARDS: usize = 64;

/// What a denial counted without being checked changed, to take it back if it was a repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unchecked {
    pub identity: Identity,
    /// Of the group's key ([`super::group_key_hash`]): worker tallies number groups apart.
    pub group: u128,
    pub class: u64,
    pub time: Option<i64>,
}

const RECORD: usize = 16 + 16 + 8 + 1 + 8;

impl Unchecked {
    fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        let mut b = [0u8; RECORD];
        b[..16].copy_from_slice(&self.identity.to_le_bytes());
        b[16..32].copy_from_slice(&self.group.to_le_bytes());
        b[32..40].copy_from_slice(&self.class.to_le_bytes());
        b[40] = u8::from(self.time.is_some());
        b[41..].copy_from_slice(&self.time.unwrap_or(0).to_le_bytes());
        w.write_all(&b)
    }

    /// One record as [`Ledger::copy_to`] writes it; a record cut short is an error.
    pub fn read_from(r: &mut impl Read) -> std::io::Result<Unchecked> {
        let mut b = [0u8; RECORD];
        r.read_exact(&mut b)?;
        Ok(Unchecked::read(&b))
    }

    fn read(b: &[u8; RECORD]) -> Unchecked {
        let u128_at = |i: usize| u128::from_le_bytes(b[i..i + 16].try_into().expect("16 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Unchecked {
            identity: u128_at(0),
            group: u128_at(16),
            class: u64_at(32),
            time: (b[40] == 1).then_some(u64_at(41) as i64),
        }
    }
}

/// Whether a denial was seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    New,
    Repeat,
    /// Counted without a check (the set is full), and spilled when there was a record to spill.
    Unchecked,
}

#[derive(Default)]
struct Shard {
    ids: HashSet<Identity, Prehashed>,
    spill: Option<BufWriter<File>>,
    /// A ledger's record that could not be written ([`Seen::ledger`]).
    lost: Option<std::io::Error>,
}

/// The identities counted by several tallies at once (the workers'), in shards so that they
/// seldom wait for each other.
pub struct Seen {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    /// Every denial counted is written out, held or not: a shard's ledger ([`Seen::settle`]).
    ledger: bool,
}

impl Seen {
    /// A set that holds every identity in memory.
    pub fn new() -> std::sync::Arc<Seen> {
        Seen::with_limit(usize::MAX)
    }

    /// A set that holds about `limit` identities in memory and spills the rest.
    pub fn with_limit(limit: usize) -> std::sync::Arc<Seen> {
        Seen::made(limit, false)
    }

    /// [`Seen::with_limit`] that also writes out every denial it holds: a shard's ledger,
    /// which a merge reads to take back what two shards both counted, kept on disk rather
    /// than in memory ([`Seen::settle`] hands it out, each denial once).
    pub fn ledger(limit: usize) -> std::sync::Arc<Seen> {
        Seen::made(limit, true)
    }

    fn made(limit: usize, ledger: bool) -> std::sync::Arc<Seen> {
        let shards = (0..SHARDS).map(|_| Mutex::default()).collect();
        std::sync::Arc::new(Seen { shards, per_shard: limit.div_ceil(SHARDS).max(1), ledger })
    }

    /// Whether this is a shard's ledger ([`Seen::ledger`]).
    pub fn is_ledger(&self) -> bool {
        self.ledger
    }

    fn shard(&self, id: Identity) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[(id >> 122) as usize % SHARDS].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `id` was seen; a new one is held, or, past the limit, written out with `spill`
    /// (a denial without a record to spill is left for its caller to settle: a provisional
    /// copy, which meets its repeats by its `sharedEventID`).
    pub(crate) fn sight(&self, id: Identity, spill: impl FnOnce() -> Option<Unchecked>) -> Sighting {
        let mut shard = self.shard(id);
        if shard.ids.contains(&id) {
            return Sighting::Repeat;
        }
        if shard.ids.len() >= self.per_shard {
            let Some(record) = spill() else { return Sighting::Unchecked };
            match shard.write(&record) {
                Ok(()) => return Sighting::Unchecked,
                Err(e) if self.ledger => shard.lost = Some(e),
                // No room on disk: held after all, as if there were no limit.
                Err(_) => {}
            }
        } else if self.ledger
            && let Some(record) = spill()
            && let Err(e) = shard.write(&record)
        {
            shard.lost = Some(e);
        }
        shard.ids.insert(id);
        Sighting::New
    }

    /// Every spilled denial that repeats one spilled before it (one call per repeat). The shards'
    /// files are read on rayon's pool, each into a set sized from the file: this runs after the
    /// last object, while every other thread waits. Taking a repeat back commutes with taking
    /// back another, so the calls may come in any order.
    pub fn repeats(&self, repeat: impl FnMut(&Unchecked) + Send) -> std::io::Result<()> {
        self.settle(repeat, |_| {})
    }

    /// [`Seen::repeats`], also calling `first` with each denial written out that was not a
    /// repeat: of a ledger, every denial counted (but the provisional copies, which a merge
    /// meets by their `sharedEventID`), each once. An error is a record that could not be
    /// written, or read back.
    pub fn settle(
        &self,
        repeat: impl FnMut(&Unchecked) + Send,
        first: impl FnMut(&Unchecked) + Send,
    ) -> std::io::Result<()> {
        use rayon::prelude::*;
        let (repeat, first) = (Mutex::new(repeat), Mutex::new(first));
        self.shards.par_iter().try_for_each(|shard| {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = shard.lost.take() {
                return Err(e);
            }
            let Some(spill) = shard.spill.take() else { return Ok(()) };
            drop(shard);
            let (file, bytes) = rewound(spill)?;
            // Whole records: a write cut short by a full disk left the identity held.
            let records = bytes as usize / RECORD;
            let mut seen: HashSet<Identity, Prehashed> = HashSet::with_capacity_and_hasher(records, Prehashed);
            let mut r = BufReader::with_capacity(1 << 16, file);
            for _ in 0..records {
                let u = Unchecked::read_from(&mut r)?;
                if seen.insert(u.identity) {
                    if self.ledger {
                        (first.lock().unwrap_or_else(PoisonError::into_inner))(&u);
                    }
                } else {
                    (repeat.lock().unwrap_or_else(PoisonError::into_inner))(&u);
                }
            }
            Ok(())
        })
    }

    /// Identities held in memory, and whether any was spilled.
    #[cfg(test)]
    pub(crate) fn held(&self) -> (usize, bool) {
        self.shards.iter().fold((0, false), |(n, spilled), s| {
            let s = s.lock().unwrap_or_else(PoisonError::into_inner);
            (n + s.ids.len(), spilled || s.spill.is_some())
        })
    }
}

/// A shard's settled ledger: every denial it counted, one record each (49 bytes), in a
/// temporary file until the partial is written.
pub struct Ledger {
    out: BufWriter<File>,
    records: u64,
    error: Option<std::io::Error>,
}

impl Ledger {
    pub fn new() -> std::io::Result<Ledger> {
        Ok(Ledger { out: spill_file()?, records: 0, error: None })
    }

    /// Adds one denial (an error is kept for [`Ledger::copy_to`]).
    pub fn push(&mut self, u: &Unchecked) {
        if self.error.is_none() {
            match u.write(&mut self.out) {
                Ok(()) => self.records += 1,
                Err(e) => self.error = Some(e),
            }
        }
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes every record to `out`, as [`Unchecked::read_from`] reads them back.
    pub fn copy_to(self, out: &mut dyn Write) -> std::io::Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let (mut file, _) = rewound(self.out)?;
        let copied = std::io::copy(&mut file, out)?;
        if copied != self.records * RECORD as u64 {
            return Err(std::io::Error::other(format!(
                "the ledger holds {copied} bytes, not {} records",
                self.records
            )));
        }
        Ok(())
    }
}

impl Shard {
    fn write(&mut self, record: &Unchecked) -> std::io::Result<()> {
        if self.spill.is_none() {
            self.spill = Some(spill_file()?);
        }
        record.write(self.spill.as_mut().expect("just made"))
    }
}

/// A new anonymous temporary file to spill to, buffered.
pub fn spill_file() -> std::io::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(1 << 16, tempfile::tempfile()?))
}

/// A spill file written to the end, flushed and rewound to be read back, with its length.
pub fn rewound(spill: BufWriter<File>) -> std::io::Result<(File, u64)> {
    let mut file = spill.into_inner().map_err(std::io::IntoInnerError::into_error)?;
    let bytes = file.stream_position()?;
    file.rewind()?;
    Ok((file, bytes))
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seen")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written() {
        for time in [None, Some(-5), Some(1_700_000_000_000)] {
            let u = Unchecked { identity: u128::MAX - 7, group: 1 << 100, class: 42, time };
            let mut b = Vec::new();
            u.write(&mut b).unwrap();
            assert_eq!(Unchecked::read(&b.try_into().unwrap()), u);
        }
    }

    #[test]
    fn past_the_limit_repeats_are_found_on_disk() {
        let seen = Seen::with_limit(SHARDS);
        let record = |i: u128| Unchecked { identity: i << 122 | i, group: i, class: 0, time: None };
        let mut sightings = Vec::new();
        for round in 0..3 {
            for i in 0..4u128 {
                // Every identity in shard 0..4: one held per shard, then spilled.
                for j in 0..3u128 {
                    let id = (i << 122) | (j << 8);
                    sightings.push((round, i, j, seen.sight(id, || Some(Unchecked { identity: id, ..record(i) }))));
                }
            }
        }
        // Round 0: j = 0 held, j = 1, 2 spilled; later rounds: j = 0 a repeat, the others spilled again.
        for (round, _, j, s) in &sightings {
            let want = match (round, j) {
                (0, 0) => Sighting::New,
                (_, 0) => Sighting::Repeat,
                _ => Sighting::Unchecked,
            };
            assert_eq!(*s, want, "round {round} j {j}");
        }
        let mut repeats = Vec::new();
        seen.repeats(|u| repeats.push(u.identity)).unwrap();
        repeats.sort_unstable();
        // Each spilled identity (4 shards × 2) came three times: two repeats each.
        assert_eq!(repeats.len(), 16);
        repeats.dedup();
        assert_eq!(repeats.len(), 8);
        assert_eq!(seen.held(), (4, false), "spill files are taken when read");
    }
}
