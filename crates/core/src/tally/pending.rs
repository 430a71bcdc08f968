//! The bucket owners' copies of cross-account requests waiting for their callers' copies, and
//! the callers' copies that settle them, in memory up to a limit and on disk past it.
//!
//! An owner's copy is counted at once and withdrawn at the end if the caller's copy was read
//! too, so both kinds wait until the end: ~200 bytes each in memory with the maps' slack, as
//! many as the denials when an outage is a partner's writes into a bucket (the owner's trail
//! holds only owner copies). Past [`PENDING_LIMIT`] entries a tally writes new ones to spill
//! files instead, partitioned by their `sharedEventID` hash, and [`super::Denials::settle_pending`]
//! settles one partition at a time, so the copies of one request always meet.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use super::Identity;
use super::seen::{rewound, spill_file};

/// Waiting copies of each kind a tally holds in memory before it spills.
pub const PENDING_LIMIT: usize = 1 << 16;

/// Partitions of the spill: settling holds one at a time.
pub(crate) const PARTS: usize = 64;

/// An owner's copy written out: what [`super::Provisional`] holds, its group by key hash (the
/// workers number groups apart) and its owner account by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpilledCopy {
    pub shared: u128,
    pub group: u128,
    pub class: u64,
    pub time: Option<i64>,
    pub identity: Identity,
    pub pair: u64,
    pub rank: u8,
    pub owner: Option<String>,
}

/// One waiting entry on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Waiting {
    Copy(SpilledCopy),
    /// A caller's copy: its `sharedEventID` hash and its group's key hash.
    Caller {
        shared: u128,
        group: u128,
    },
}

/// The partition of a `sharedEventID` hash.
pub(crate) fn part(shared: u128) -> usize {
    (shared >> 122) as usize % PARTS
}

impl Waiting {
    fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        match self {
            Waiting::Caller { shared, group } => {
                w.write_all(&[0])?;
                w.write_all(&shared.to_le_bytes())?;
                w.write_all(&group.to_le_bytes())
            }
            Waiting::Copy(c) => {
                w.write_all(&[1])?;
                w.write_all(&c.shared.to_le_bytes())?;
                w.write_all(&c.group.to_le_bytes())?;
                w.write_all(&c.class.to_le_bytes())?;
                w.write_all(&[u8::from(c.time.is_some())])?;
                w.write_all(&c.time.unwrap_or(0).to_le_bytes())?;
                w.write_all(&c.identity.to_le_bytes())?;
                w.write_all(&c.pair.to_le_bytes())?;
                w.write_all(&[c.rank])?;
                // An account is twelve digits; a longer name (logs are attacker-controlled) is cut.
                match &c.owner {
                    Some(o) => {
                        let cut = &o.as_bytes()[..o.len().min(u16::MAX as usize - 1)];
                        w.write_all(&(cut.len() as u16).to_le_bytes())?;
                        w.write_all(cut)
                    }
                    None => w.write_all(&u16::MAX.to_le_bytes()),
                }
            }
        }
    }

    /// The next entry, `None` at the end.
    fn read(r: &mut impl Read) -> std::io::Result<Option<Waiting>> {
        let mut tag = [0u8; 1];
        match r.read_exact(&mut tag) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut b16 = [0u8; 16];
        let mut u128_of = |r: &mut dyn Read| -> std::io::Result<u128> {
            r.read_exact(&mut b16)?;
            Ok(u128::from_le_bytes(b16))
        };
        if tag[0] > 1 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a waiting copy"));
        }
        let shared = u128_of(r)?;
        let group = u128_of(r)?;
        if tag[0] == 0 {
            return Ok(Some(Waiting::Caller { shared, group }));
        }
        let mut b8 = [0u8; 8];
        let mut u64_of = |r: &mut dyn Read| -> std::io::Result<u64> {
            r.read_exact(&mut b8)?;
            Ok(u64::from_le_bytes(b8))
        };
        let class = u64_of(r)?;
        let mut flag = [0u8; 1];
        r.read_exact(&mut flag)?;
        let time = u64_of(r)? as i64;
        let identity = u128_of(r)?;
        let pair = u64_of(r)?;
        let mut rank = [0u8; 1];
        r.read_exact(&mut rank)?;
        let mut len = [0u8; 2];
        r.read_exact(&mut len)?;
        let owner = match u16::from_le_bytes(len) {
            u16::MAX => None,
            n => {
                let mut bytes = vec![0u8; n as usize];
                r.read_exact(&mut bytes)?;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        let time = (flag[0] == 1).then_some(time);
        Ok(Some(Waiting::Copy(SpilledCopy { shared, group, class, time, identity, pair, rank: rank[0], owner })))
    }
}

#[derive(Default)]
struct Part {
    file: Option<BufWriter<File>>,
    lost: Option<std::io::Error>,
}

/// The spill files the tallies of one scan (or merge) share: the workers' and the collector's.
pub struct Pending {
    parts: Box<[Mutex<Part>]>,
    limit: usize,
}

impl Pending {
    /// Spill files for tallies that hold [`PENDING_LIMIT`] waiting copies of each kind.
    pub fn new() -> Arc<Pending> {
        Pending::with_limit(PENDING_LIMIT)
    }

    /// Spill files for tallies that hold `limit` waiting copies of each kind (tests).
    pub fn with_limit(limit: usize) -> Arc<Pending> {
        Arc::new(Pending { parts: (0..PARTS).map(|_| Mutex::default()).collect(), limit })
    }

    /// Waiting copies of each kind a tally holds before it writes them here.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn part(&self, k: usize) -> std::sync::MutexGuard<'_, Part> {
        self.parts[k].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes one entry out; an error is kept for [`Pending::take`] (the entry is lost, and
    /// with it the settlement of its request).
    pub(crate) fn write(&self, w: &Waiting) {
        let shared = match w {
            Waiting::Copy(c) => c.shared,
            Waiting::Caller { shared, .. } => *shared,
        };
        let mut part = self.part(part(shared));
        if part.lost.is_some() {
            return;
        }
        if part.file.is_none() {
            match spill_file() {
                Ok(f) => part.file = Some(f),
                Err(e) => return part.lost = Some(e),
            }
        }
        if let Err(e) = w.write(part.file.as_mut().expect("just made")) {
            part.lost = Some(e);
        }
    }

    /// Whether anything was written out (or failed to be).
    pub(crate) fn spilled(&self) -> bool {
        (0..PARTS).any(|k| {
            let p = self.part(k);
            p.file.is_some() || p.lost.is_some()
        })
    }

    /// Partition `k`'s file, taken and rewound, with its length (an entry that could not be
    /// written is the error).
    fn take_file(&self, k: usize) -> std::io::Result<Option<(File, u64)>> {
        let mut part = self.part(k);
        if let Some(e) = part.lost.take() {
            return Err(e);
        }
        part.file.take().map(rewound).transpose()
    }

    /// Every entry written, taken as the files hold them (a shard's, for its partial).
    pub(crate) fn take_all(&self) -> std::io::Result<Spilled> {
        let mut spilled = Spilled::none();
        for k in 0..PARTS {
            if let Some((file, bytes)) = self.take_file(k)? {
                spilled.files.push(file);
                spilled.bytes += bytes;
            }
        }
        Ok(spilled)
    }

    /// Partition `k`'s entries, taken (a second call finds none).
    pub(crate) fn take(&self, k: usize) -> std::io::Result<Vec<Waiting>> {
        let mut out = Vec::new();
        if let Some((file, _)) = self.take_file(k)? {
            read_all(BufReader::with_capacity(1 << 16, file), |w| out.push(w))?;
        }
        Ok(out)
    }
}

/// A shard's waiting copies written out, for its partial: [`Spilled::copy_to`] writes them as
/// [`read_all`] reads them.
pub struct Spilled {
    files: Vec<File>,
    bytes: u64,
}

impl Spilled {
    pub fn none() -> Spilled {
        Spilled { files: Vec::new(), bytes: 0 }
    }

    /// The bytes [`Spilled::copy_to`] writes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn copy_to(self, out: &mut dyn Write) -> std::io::Result<()> {
        for mut f in self.files {
            std::io::copy(&mut f, out)?;
        }
        Ok(())
    }
}

/// Every entry in `r` (to its end), each handed to `each`.
pub(crate) fn read_all(mut r: impl Read, mut each: impl FnMut(Waiting)) -> std::io::Result<()> {
    while let Some(w) = Waiting::read(&mut r)? {
        each(w);
    }
    Ok(())
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written_each_in_its_partition() {
        let copy = |shared: u128, owner: Option<&str>, time| {
            Waiting::Copy(SpilledCopy {
                shared,
                group: 7 << 100,
                class: 42,
                time,
                identity: u128::MAX - 3,
                pair: 9,
                rank: 1,
                owner: owner.map(str::to_string),
            })
        };
        let entries = [
            copy(1 << 123, Some("444455556666"), Some(-5)),
            copy(1 << 123 | 1, None, None),
            Waiting::Caller { shared: 1 << 123, group: 3 },
            copy(5 << 122, Some(""), Some(1_700_000_000_000)),
        ];
        let pending = Pending::new();
        assert!(!pending.spilled());
        for e in &entries {
            pending.write(e);
        }
        assert!(pending.spilled());
        assert_eq!(pending.take(2).unwrap(), entries[..3].to_vec());
        assert_eq!(pending.take(5).unwrap(), entries[3..].to_vec());
        assert!(pending.take(2).unwrap().is_empty(), "taken");
        assert!(!pending.spilled());
    }
}
