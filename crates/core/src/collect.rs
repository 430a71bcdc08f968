//! The collector: merges what each object contributed into one scan result.
//!
//! Workers produce one [`ObjectReport`] per object; the collector (one thread) adds up the
//! accounting, folds each denied write into the [`Denials`] tallies (so memory does not follow
//! the number of denials; a scan lets the workers fold them, [`Folder`]), holds session-issuing
//! companions compactly until the targets are known, and drops duplicates deterministically,
//! whatever order the objects arrived in.
//! `explain` and `query`, which show single events, also keep the targets whole.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use crate::event::{Event, EventRef, EventRole};
use crate::parse::{ObjectReport, Outcome};
use crate::stats::Stats;
use crate::tally::{self, Denials, Fate, GroupTally};

/// Receives every event a scan keeps, once, as it is kept (`--events-out` streams from it).
pub trait Tap {
    /// Events kept for good: companions, and the provisional copies that stand.
    fn kept(&mut self, events: &[&Event]);
    /// [`Tap::kept`], handing the events over.
    fn kept_owned(&mut self, events: Vec<Event>) {
        self.kept(&events.iter().collect::<Vec<_>>());
    }
    /// Targets as they are counted, each with its identity. Past the identities' limit a
    /// denial is counted unchecked, and a repeat among those is known only when the counts
    /// settle: [`Tap::settle`] names them, and one row of each must stand.
    fn counted(&mut self, events: Vec<Event>, identities: Vec<tally::Identity>);
    /// A copy of a cross-account request settled only at the end ([`Tap::settle`]): a bucket
    /// owner's copy, withdrawn then if the caller's own copy turned up, or a caller's copy that
    /// names no owner, which may learn it from the owner's copy. The same copy may come twice.
    fn provisional(&mut self, event: &Event, identity: tally::Identity);
    /// The provisional copies withdrawn (the others stand, each once), the owners learned, and
    /// the targets [`Tap::counted`] more than once.
    fn settle(
        &mut self,
        withdrawn: &HashSet<tally::Identity>,
        owners: &tally::LearnedOwners,
        repeated: &HashSet<tally::Identity>,
    );
}

/// What a scan produced: the accounting, the denials' tallies per group, the companions and,
/// when asked for, the target events themselves (deduplicated).
#[derive(Debug, Default)]
pub struct ScanOutput {
    pub stats: Stats,
    pub groups: Vec<GroupTally>,
    pub targets: Vec<Event>,
    pub companions: Vec<Event>,
}

impl ScanOutput {
    /// Every group's exemplars: the events the diagnosis and `--live` read.
    pub fn exemplars(&self) -> Vec<Event> {
        self.groups.iter().flat_map(|g| g.exemplars().into_iter().map(|(e, _)| e.clone())).collect()
    }
}

/// A shard's result before the merge: its accounting, its unsettled tallies, its ledger of
/// the denials it counted (on disk) and every companion.
pub struct PartialOutput {
    pub stats: Stats,
    pub denials: Denials,
    /// The waiting cross-account copies past the limit, on disk.
    pub waiting: tally::Spilled,
    pub ledger: tally::Ledger,
    pub companions: Companions,
    /// The access keys its targets used, sorted: the sessions the merge keeps (of any shard).
    pub used_keys: Vec<Box<str>>,
}

/// A shard's companions: the events kept whole, and the sessions, each key's once, in a
/// temporary file until each is written (a shard keeps every one, as many as the trail's
/// `AssumeRole` calls; holding them would make a shard's memory grow with its input).
pub struct Companions {
    events: Vec<Event>,
    sessions: SessionsFile,
}

/// Settled sessions written out ([`Session::write_to`] records).
struct SessionsFile {
    file: Option<std::fs::File>,
    bytes: u64,
    count: usize,
}

impl Companions {
    pub fn len(&self) -> usize {
        self.events.len() + self.sessions.count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each companion, a session read back and made an event only when its turn comes (an
    /// error is the sessions' file failing to read back). One at a time: each starts over.
    pub fn iter(&self) -> impl Iterator<Item = std::io::Result<std::borrow::Cow<'_, Event>>> {
        let whole = self.events.iter().map(|e| Ok(std::borrow::Cow::Borrowed(e)));
        whole.chain(self.sessions().map(|e| e.map(std::borrow::Cow::Owned)))
    }

    /// The sessions, read back from the start of their file.
    fn sessions(&self) -> impl Iterator<Item = std::io::Result<Event>> + '_ {
        use std::io::{Read, Seek};
        let mut reader = self.sessions.file.as_ref().map(|mut f| {
            f.seek(std::io::SeekFrom::Start(0)).map(|_| std::io::BufReader::new(f.take(self.sessions.bytes)))
        });
        let mut left = self.sessions.count;
        std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            left -= 1;
            let r = match reader.as_mut()? {
                Ok(r) => r,
                Err(e) => return Some(Err(std::io::Error::new(e.kind(), e.to_string()))),
            };
            Some(match Session::read_from(r) {
                Ok(Some((_, session))) => Ok(session.to_event()),
                Ok(None) => Err(std::io::Error::other("the sessions' file is cut short")),
                Err(e) => Err(e),
            })
        })
    }
}

#[derive(Default)]
pub struct Collector {
    tap: Option<SharedTap>,
    stats: Stats,
    denials: Denials,
    /// The access keys the targets used: the sessions worth keeping.
    used_keys: HashSet<Box<str>>,
    /// Whole targets, only when kept ([`Collector::keeping_targets`]), as the workers' batches:
    /// an `Event` is large, and one growing `Vec` would hold two copies at each doubling.
    targets: Option<Vec<Vec<Event>>>,
    companions: Vec<Vec<Event>>,
    /// Session-issuing events by the access key they issued, compact until the targets are
    /// known, spilled past a limit ([`Sessions`]), and settled before [`Collector::finish`].
    sessions: Sessions,
    /// The sampled companions ([`Sampled`]): KMS and VPC endpoint denials come one per denied
    /// write when a key or an endpoint's policy refuses S3, so as many as the denials in such
    /// an outage; of each kind the [`SAMPLED_KEPT`] with the smallest sample keys are kept.
    sampled: [tally::Smallest; Sampled::KINDS],
    /// [`Collector::with_seen_limit`].
    seen_limit: Option<usize>,
}

/// Companions of each [`Sampled`] kind kept past which the ones whose objects hash highest are
/// dropped: the same order tallies pick their exemplars in, so the writes the diagnosis reads
/// keep their KMS calls and VPC endpoint events.
pub const SAMPLED_KEPT: usize = 8_192;

/// The companions an outage brings one per denied write, kept as a sample by object hash
/// ([`SAMPLED_KEPT`] of each kind): the KMS denial S3 ran into for an SSE-KMS write, and the
/// VPC endpoint's network activity event of a write its policy denied; and a KMS call's other
/// errors (`KMS.*`), which no rule reads but `--events-out` writes, bounded for the same reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampled {
    Kms = 0,
    Vpce = 1,
    KmsError = 2,
}

impl Sampled {
    const KINDS: usize = 3;

    /// The kind of a sampled companion; `None` for a target or another companion.
    pub fn of(e: &EventRef) -> Option<Sampled> {
        if e.role != Some(EventRole::Companion) {
            return None;
        }
        if crate::diagnose::kms_denial(&e.event_source, &e.event_name, e.error_code.as_deref()) {
            Some(Sampled::Kms)
        } else if crate::diagnose::vpce_denial(e.error_code.as_deref()) {
            Some(Sampled::Vpce)
        } else if e.event_source == "kms.amazonaws.com"
            && e.error_code.as_deref().is_some_and(|c| c.starts_with("KMS."))
        {
            Some(Sampled::KmsError)
        } else {
            None
        }
    }
}

/// An `AssumeRole*`/`GetFederationToken` companion in the fields the diagnosis reads, packed
/// into one allocation. Busy accounts issue sessions by the thousand per hour and only those a
/// denied write used matter, which is known at the end: holding full events (1.3 KB each plus a
/// dozen strings) would make memory grow with the input.
struct Session {
    event_time_ms: Option<i64>,
    /// The text fields in [`Session::FIELDS`] order, each as a `u32` length (`u32::MAX` for
    /// none) and its bytes.
    packed: Box<[u8]>,
}

/// The access key an `AssumeRole*`/`GetFederationToken` companion issued, if it is one that did.
fn issued_key<'e>(e: &'e EventRef) -> Option<&'e str> {
    if !crate::diagnose::session_issuer(&e.event_source, &e.event_name) || e.error_code.is_some() {
        return None;
    }
    e.issued_access_key_id.as_deref().filter(|k| !k.is_empty())
}

type Field = fn(&mut Event) -> &mut Option<String>;

impl Session {
    /// Optional text fields kept; the required ones (`event_id`, `event_source`, `event_name`,
    /// `principal`, `principal_type`) lead the packed bytes. Who issued the session, to which
    /// role, with which session policy, and when: what the diagnosis and `explain` show.
    const FIELDS: [Field; 5] = [
        |e| &mut e.identity_arn,
        |e| &mut e.account,
        |e| &mut e.assumed_role_arn,
        |e| &mut e.session_policy,
        |e| &mut e.issued_access_key_id,
    ];

    /// [`Session::FIELDS`] of a borrowed event, in the same order.
    fn fields<'e>(e: &'e EventRef) -> [Option<&'e str>; 5] {
        [
            e.identity_arn.as_deref(),
            e.account.as_deref(),
            e.assumed_role_arn.as_deref(),
            e.session_policy.as_deref(),
            e.issued_access_key_id.as_deref(),
        ]
    }

    fn of(e: &EventRef) -> Session {
        let mut packed = Vec::with_capacity(512);
        let mut put = |v: Option<&str>| match v {
            Some(v) => {
                let v = &v.as_bytes()[..v.len().min(u32::MAX as usize - 1)];
                packed.extend_from_slice(&(v.len() as u32).to_le_bytes());
                packed.extend_from_slice(v);
            }
            None => packed.extend_from_slice(&u32::MAX.to_le_bytes()),
        };
        for required in [&e.event_id, &e.event_source, &e.event_name, &e.principal, &e.principal_type] {
            put(Some(required));
        }
        for field in Session::fields(e) {
            put(field);
        }
        Session { event_time_ms: e.event_time_ms, packed: packed.into_boxed_slice() }
    }

    fn to_event(&self) -> Event {
        let mut at = 0;
        let mut next = || {
            let len = u32::from_le_bytes(self.packed[at..at + 4].try_into().expect("4 bytes"));
            at += 4;
            (len != u32::MAX).then(|| {
                let text = String::from_utf8_lossy(&self.packed[at..at + len as usize]).into_owned();
                at += len as usize;
                text
            })
        };
        let mut e = Event {
            event_id: next().unwrap_or_default(),
            event_source: next().unwrap_or_default(),
            event_name: next().unwrap_or_default(),
            principal: next().unwrap_or_default(),
            principal_type: next().unwrap_or_default(),
            event_time_ms: self.event_time_ms,
            role: Some(EventRole::Companion),
            ..Event::default()
        };
        for field in Session::FIELDS {
            *field(&mut e) = next();
        }
        e
    }

    fn event_id(&self) -> &[u8] {
        let len = u32::from_le_bytes(self.packed[..4].try_into().expect("4 bytes")) as usize;
        &self.packed[4..4 + len]
    }

    /// Writes the session of `key` as one record of a spill file.
    fn write_to(&self, w: &mut impl std::io::Write, key: &str) -> std::io::Result<()> {
        w.write_all(&(key.len() as u32).to_le_bytes())?;
        w.write_all(key.as_bytes())?;
        w.write_all(&[u8::from(self.event_time_ms.is_some())])?;
        w.write_all(&self.event_time_ms.unwrap_or(0).to_le_bytes())?;
        w.write_all(&(self.packed.len() as u32).to_le_bytes())?;
        w.write_all(&self.packed)
    }

    /// The next record [`Session::write_to`] wrote, with its key; `None` at the end.
    fn read_from(r: &mut impl std::io::Read) -> std::io::Result<Option<(Box<str>, Session)>> {
        let mut b = [0u8; 4];
        match r.read_exact(&mut b) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut key = vec![0u8; u32::from_le_bytes(b) as usize];
        r.read_exact(&mut key)?;
        let mut time = [0u8; 9];
        r.read_exact(&mut time)?;
        r.read_exact(&mut b)?;
        let mut packed = vec![0u8; u32::from_le_bytes(b) as usize];
        r.read_exact(&mut packed)?;
        let event_time_ms = (time[0] == 1).then(|| i64::from_le_bytes(time[1..].try_into().expect("8 bytes")));
        let key = String::from_utf8_lossy(&key).into();
        Ok(Some((key, Session { event_time_ms, packed: packed.into_boxed_slice() })))
    }
}

impl Collector {
    /// A scan's collector: targets become tallies.
    pub fn new() -> Collector {
        Collector::default()
    }

    /// Also keeps every target whole (`explain`, `query`).
    pub fn keeping_targets() -> Collector {
        Collector { targets: Some(Vec::new()), ..Collector::default() }
    }

    /// A merge's collector: the partials' identities are held up to about `limit` and spilled
    /// past it, instead of a ledger of every one; [`Collector::settle_merged`] before finishing.
    pub fn for_merge(limit: usize) -> Collector {
        Collector { denials: Denials::merging(limit), sessions: Sessions::with_limit(limit), ..Collector::default() }
    }

    /// Takes back the repeats among the identities a merge spilled, and reads back the
    /// sessions the partials' targets used ([`Collector::note_used_keys`]); an error is a spill
    /// failing to read back.
    pub fn settle_merged(&mut self) -> std::io::Result<()> {
        self.denials.settle_merged()?;
        self.sessions.settle_in_place(Some(&self.used_keys))
    }

    /// Notes the access keys a shard's targets used: a merge keeps the sessions of those alone.
    pub fn note_used_keys(&mut self, keys: impl IntoIterator<Item = Box<str>>) {
        self.used_keys.extend(keys);
    }

    /// A shard's collector: its tallies record where each denial was counted, for the merge,
    /// in a ledger on disk ([`tally::Seen::ledger`]).
    pub fn for_partial() -> Collector {
        Collector { denials: Denials::for_partial(), ..Collector::default() }
    }

    /// What the collector holds, counted (for memory benchmarks).
    pub fn footprint(&self) -> String {
        format!(
            "{} | used keys {} | sessions {} | companions {} | sampled {}",
            self.denials.footprint(),
            self.used_keys.len(),
            self.sessions.len(),
            self.companions.iter().map(Vec::len).sum::<usize>(),
            self.sampled.iter().map(BTreeMap::len).sum::<usize>()
        )
    }

    /// Holds at most about `limit` identities in memory while folding (the rest are checked
    /// for repeats from disk at the end), and `limit` waiting cross-account copies of each kind
    /// ([`tally::Pending`]); [`tally::SEEN_LIMIT`] and [`tally::PENDING_LIMIT`] unless set.
    pub fn with_seen_limit(mut self, limit: usize) -> Collector {
        self.seen_limit = Some(limit);
        self.sessions.limit = limit;
        self
    }

    /// A [`Folder`] for the workers, unless this collector needs the targets whole.
    pub fn folder(&mut self) -> Option<Folder> {
        if self.targets.is_some() {
            return None;
        }
        // With a tap too: it writes a denial when counted, and keeps one row of each repeat
        // found among those counted unchecked ([`Tap::settle`]).
        let limit = self.seen_limit.unwrap_or(tally::SEEN_LIMIT);
        let seen = if self.denials.keeps_ledger() {
            // A shard's: the collector counts through the workers' ledger too.
            let seen = tally::Seen::ledger(limit);
            self.denials.share(seen.clone());
            seen
        } else {
            tally::Seen::with_limit(limit)
        };
        // The waiting cross-account copies past the limit: a scan settles them at the end, a
        // shard's partial carries them to the merge.
        let pending = tally::Pending::with_limit(self.seen_limit.unwrap_or(tally::PENDING_LIMIT));
        self.denials.pending_in(pending.clone());
        let sessions = Sessions::with_limit(self.seen_limit.unwrap_or(SESSIONS_LIMIT));
        let companions = Mutex::new(FoldedCompanions { sampled: Default::default(), sessions });
        let (idle, tap) = (Mutex::new(Vec::new()), self.tap.clone());
        Some(Folder { seen, pending, idle, companions, tap })
    }

    /// Adds what the workers folded (after the last report), and takes back the repeats among
    /// the denials counted unchecked past the identities' limit. An error is the spill file
    /// failing to read back: the counts would then include repeats.
    pub fn absorb_folded(&mut self, folder: Folder) -> std::io::Result<()> {
        for folded in folder.idle.into_inner().unwrap_or_else(PoisonError::into_inner) {
            self.denials.absorb(folded.denials);
            self.used_keys.extend(folded.used_keys);
        }
        let companions = folder.companions.into_inner().unwrap_or_else(PoisonError::into_inner);
        for (kind, sample) in companions.sampled.into_iter().enumerate() {
            for (key, e) in sample {
                tally::keep_smallest_owned(&mut self.sampled[kind], SAMPLED_KEPT, key, e);
            }
        }
        // A scan keeps the sessions its targets used; a shard every one (another shard's
        // targets may use it), settled as its partial is written.
        self.sessions.absorb(companions.sessions)?;
        if !self.denials.keeps_ledger() {
            self.sessions.settle_in_place(Some(&self.used_keys))?;
        }
        if self.denials.keeps_ledger() {
            // A shard's repeats are taken back as its ledger settles ([`Collector::finish_partial`]).
            return Ok(());
        }
        folder.seen.repeats(|repeat| self.denials.retract_repeat(repeat))?;
        self.denials.settle_pending()
    }

    /// Hands every kept event to `tap` as well.
    pub fn with_tap(mut self, tap: Box<dyn Tap + Send>) -> Collector {
        self.tap = Some(Arc::new(Mutex::new(tap)));
        self.denials.note_repeats();
        self
    }

    /// Adds one object's contribution.
    pub fn merge(&mut self, report: ObjectReport) {
        self.stats.counts.add(&report.counts);
        if let Some(shape) = report.unknown_shape {
            self.stats.unknown_shape(shape);
        }
        match report.outcome {
            Outcome::Read => {
                self.stats.files_seen += 1;
                self.stats.files_read += 1;
                let format = report.envelope.map_or(report.shape.name(), |e| e.name());
                *self.stats.formats.entry(format.to_string()).or_default() += 1;
            }
            Outcome::Skipped(reason) => self.stats.skip(reason),
            Outcome::Failed(error) => self.stats.fail(report.name, error),
        }
        self.add_keyed(report.events, report.keys);
    }

    /// Adds a shard's accounting and tallies (a merge's); its companions and its ledger follow
    /// ([`Collector::add_companions`], [`Collector::absorb_ledger`]).
    pub fn absorb(&mut self, stats: Stats, denials: Denials) {
        self.stats.absorb(stats);
        self.denials.absorb(denials);
    }

    /// Adds some of a shard's companions.
    pub fn add_companions(&mut self, companions: Vec<Event>) {
        self.add_keyed(companions, Vec::new());
    }

    /// Takes a shard's waiting cross-account copies written out, after its tallies. An error is
    /// `r` failing to read, or holding something else.
    pub fn absorb_waiting(&mut self, r: impl std::io::Read) -> std::io::Result<()> {
        self.denials.absorb_spilled(r)
    }

    /// Takes a shard's ledger, after its tallies: the denials another shard counted too are
    /// taken back. An error is the ledger failing to read.
    pub fn absorb_ledger(
        &mut self,
        ledger: impl Iterator<Item = std::io::Result<tally::Unchecked>>,
    ) -> std::io::Result<()> {
        self.denials.absorb_ledger(ledger)
    }

    /// Adds events with their [`tally::Keys`] (computed here when not given).
    fn add_keyed(&mut self, events: Vec<Event>, keys: Vec<tally::Keys>) {
        let keys = if keys.len() == events.len() { keys } else { events.iter().map(tally::Keys::wanted).collect() };
        let (mut targets, mut companions) = (Vec::new(), Vec::new());
        let (mut tapped, mut identities): (Vec<Event>, Vec<tally::Identity>) = (Vec::new(), Vec::new());
        for (e, keys) in events.into_iter().zip(keys) {
            match e.role {
                Some(EventRole::Companion) => {
                    if !self.sessions.offer(&e.view()) {
                        match Sampled::of(&e.view()) {
                            Some(kind) => self.keep_sampled(kind, e, &keys),
                            None => companions.push(e),
                        }
                    }
                }
                _ => {
                    let fate = self.denials.add_event(&e, &keys);
                    note_key(&mut self.used_keys, e.access_key_id.as_deref());
                    if self.targets.is_some() {
                        targets.push(e);
                    } else if let Some(tap) = &self.tap {
                        let mut tap = lock(tap);
                        match fate {
                            Fate::Repeat => {}
                            _ if held_to_the_end(fate, &e) => tap.provisional(&e, keys.identity),
                            _ => {
                                tapped.push(e);
                                identities.push(keys.identity);
                            }
                        }
                    }
                }
            }
        }
        if let Some(tap) = &self.tap
            && !tapped.is_empty()
        {
            lock(tap).counted(tapped, identities);
        }
        if let Some(kept) = &mut self.targets
            && !targets.is_empty()
        {
            targets.shrink_to_fit();
            kept.push(targets);
        }
        if !companions.is_empty() {
            companions.shrink_to_fit();
            self.companions.push(companions);
        }
    }

    fn keep_sampled(&mut self, kind: Sampled, e: Event, keys: &tally::Keys) {
        let key = tally::sample_key(keys.pair, keys.identity);
        tally::keep_smallest_owned(&mut self.sampled[kind as usize], SAMPLED_KEPT, key, e);
    }

    /// The settled result, with only the sessions a target used (a merge's: a target of any
    /// of the shards).
    pub fn finish(mut self) -> ScanOutput {
        let companions = self.companions();
        let tally::Settled { groups, duplicates, withdrawn, owners, repeated } =
            std::mem::take(&mut self.denials).settle();
        if let Some(tap) = &self.tap {
            let mut tap = lock(tap);
            tap.settle(&withdrawn.into_iter().collect(), &owners, &repeated.into_iter().collect());
            tap.kept(&companions.iter().collect::<Vec<_>>());
        }
        let targets = match self.targets.take() {
            Some(batches) => dedupe(flatten(batches)).0,
            None => Vec::new(),
        };
        self.stats.events_unique = groups.iter().map(|g| g.denied).sum();
        // Added to what shards already dropped (a merge), else to nothing.
        self.stats.duplicates_dropped += duplicates;
        self.stats.failed.sort_by(|a, b| a.path.cmp(&b.path));
        ScanOutput { stats: self.stats, groups, targets, companions }
    }

    /// A shard's result: its tallies unsettled, but for the repeats its ledger finds, every
    /// session kept (one may serve the targets of another shard). An error is the ledger
    /// failing to be written or read back.
    pub fn finish_partial(mut self) -> std::io::Result<PartialOutput> {
        let ledger = self.denials.settle_ledger()?;
        let waiting = self.denials.take_spilled()?;
        // Every session, settled into one file: none is held past the store's limit.
        let (mut file, mut count) = (None, 0);
        std::mem::take(&mut self.sessions).settle_each(None, |key, session| {
            let w = match &mut file {
                Some(w) => w,
                None => file.insert(tally::spill_file()?),
            };
            count += 1;
            session.write_to(w, &key)
        })?;
        let sessions = match file {
            Some(w) => {
                let (file, bytes) = tally::rewound(w)?;
                SessionsFile { file: Some(file), bytes, count }
            }
            None => SessionsFile { file: None, bytes: 0, count: 0 },
        };
        let companions = Companions { events: self.companions(), sessions };
        let mut used_keys: Vec<Box<str>> = std::mem::take(&mut self.used_keys).into_iter().collect();
        used_keys.sort_unstable();
        if let Some(tap) = &self.tap {
            let mut tap = lock(tap);
            // A shard cannot know the other shards' callers: its provisional copies stand,
            // but those it withdrew itself.
            let withdrawn = self.denials.take_withdrawn().into_iter().collect();
            let repeated = self.denials.take_repeated().into_iter().collect();
            tap.settle(&withdrawn, &tally::LearnedOwners::default(), &repeated);
            tap.kept(&companions.events.iter().collect::<Vec<_>>());
            let mut batch = Vec::with_capacity(TAPPED_BATCH);
            for session in companions.sessions() {
                batch.push(session?);
                if batch.len() == TAPPED_BATCH {
                    tap.kept_owned(std::mem::take(&mut batch));
                }
            }
            tap.kept_owned(batch);
        }
        self.stats.failed.sort_by(|a, b| a.path.cmp(&b.path));
        let denials = std::mem::take(&mut self.denials);
        Ok(PartialOutput { stats: self.stats, denials, waiting, ledger, companions, used_keys })
    }

    fn companions(&mut self) -> Vec<Event> {
        debug_assert!(!self.sessions.spilled(), "absorb_folded or settle_merged first");
        for sample in std::mem::take(&mut self.sampled) {
            self.companions.push(sample.into_values().map(std::sync::Arc::unwrap_or_clone).collect());
        }
        for (key, session) in std::mem::take(&mut self.sessions.held) {
            // Only the keys a target used are needed; the rest are dropped unread.
            if self.used_keys.contains(&key) {
                self.companions.push(vec![session.to_event()]);
            }
        }
        dedupe(flatten(std::mem::take(&mut self.companions))).0
    }
}

/// Denied writes tallied on the workers, when nothing needs them whole (no tap, no kept
/// targets): each worker folds its objects' targets into tallies of its own, sharing one set
/// of the identities counted, and the collector absorbs them at the end
/// ([`Collector::absorb_folded`]). In an outage almost every record is a denial: the events then
/// die on the thread that made them instead of crossing to the one collector thread, which
/// only adds up the accounting and the companions.
///
/// The companions an outage brings by the tens of thousands are folded there too, into one
/// shared samples and map ([`Held::fold`]): KMS and VPC endpoint denials (one per write a key
/// or an endpoint's policy refused; [`Sampled`]) and sessions issued. Each crossed to the
/// collector as a whole event before, only for most to be dropped there.
pub struct Folder {
    seen: Arc<tally::Seen>,
    /// Where the cross-account copies past the limit wait.
    pending: Arc<tally::Pending>,
    /// Tallies not in use: one per worker busy at once.
    idle: Mutex<Vec<Folded>>,
    companions: Mutex<FoldedCompanions>,
    /// The collector's tap, handed each target as a worker counts it.
    tap: Option<SharedTap>,
}

/// A tap shared by the collector and the workers that fold for it.
type SharedTap = Arc<Mutex<Box<dyn Tap + Send>>>;

fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a target just counted waits for the end before the tap writes it ([`Tap::provisional`]):
/// a bucket owner's copy that may be withdrawn, or a caller's copy that may learn its owner.
fn held_to_the_end(fate: Fate, e: &Event) -> bool {
    fate == Fate::Provisional || tally::LearnedOwners::may_learn(e)
}

/// Targets a worker hands its folder's tap at once: a batch small enough (~90 KB) that the
/// allocator reuses its memory rather than taking fresh pages from the system for each.
const TAPPED_BATCH: usize = 64;

/// The sampled companions and sessions the workers folded, kept as the collector keeps them.
struct FoldedCompanions {
    sampled: [tally::Smallest; Sampled::KINDS],
    sessions: Sessions,
}

/// Sessions held in memory by the workers before the rest wait on disk (~20 MB). Past it a
/// session waits in a file by its key: only those a denied write used are read back into
/// memory at the end (a shard's, all of them). A busy trail issues sessions by the thousand per
/// hour: 26,151 `AssumeRole` calls at 4 GiB of the outage trail, of which denied writes used ~1,100.
pub const SESSIONS_LIMIT: usize = 1 << 16;

/// Sessions by the access key they issued: the smallest eventID of each key, in memory up to a
/// limit, then in 64 files by the key's hash, each read back on its own ([`Sessions::settle_each`]).
struct Sessions {
    held: HashMap<Box<str>, Session>,
    limit: usize,
    parts: Vec<Option<std::io::BufWriter<std::fs::File>>>,
}

const SESSION_PARTS: usize = 64;

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::with_limit(SESSIONS_LIMIT)
    }
}

impl Sessions {
    fn with_limit(limit: usize) -> Sessions {
        Sessions { held: HashMap::new(), limit, parts: Vec::new() }
    }

    /// Offers the session `e` issued; whether it is one. Copies of one event issue one key,
    /// and the smallest eventID wins, in any order.
    fn offer(&mut self, e: &EventRef) -> bool {
        let Some(key) = issued_key(e) else { return false };
        self.put(key, e.event_id.as_bytes(), || Session::of(e));
        true
    }

    /// Keeps `session` of `key`, as [`Sessions::offer`] would the event it was made of.
    fn keep(&mut self, key: &str, session: Session) {
        let id = session.event_id().to_vec();
        self.put(key, &id, || session);
    }

    fn put(&mut self, key: &str, event_id: &[u8], session: impl FnOnce() -> Session) {
        if let Some(kept) = self.held.get(key) {
            if replaces(Some(kept), event_id) {
                self.held.insert(key.into(), session());
            }
            return;
        }
        let session = session();
        if self.held.len() < self.limit || self.spill(key, &session).is_err() {
            // Below the limit, or no room on disk: held after all.
            self.held.insert(key.into(), session);
        }
    }

    /// Adds another store's sessions: its held ones as if offered here, its spilled ones
    /// appended to the file of the same part (a key's part is the same in every store).
    fn absorb(&mut self, other: Sessions) -> std::io::Result<()> {
        for (key, session) in other.held {
            self.keep(&key, session);
        }
        for (k, part) in other.parts.into_iter().enumerate() {
            let Some(part) = part else { continue };
            let (file, bytes) = tally::rewound(part)?;
            let w = self.part(k)?;
            std::io::copy(&mut std::io::Read::take(file, bytes), w)?;
        }
        Ok(())
    }

    /// The sessions held in memory.
    fn len(&self) -> usize {
        self.held.len()
    }

    /// Reads the spilled sessions back, keeping only those of the `used` keys (all of them
    /// when `None`), so that every one left is held ([`Sessions::settle_each`]).
    fn settle_in_place(&mut self, used: Option<&HashSet<Box<str>>>) -> std::io::Result<()> {
        let mut held = HashMap::new();
        let limit = self.limit;
        std::mem::take(self).settle_each(used, |key, session| {
            held.insert(key, session);
            Ok(())
        })?;
        *self = Sessions { held, limit, parts: Vec::new() };
        Ok(())
    }

    /// Whether some sessions wait on disk.
    fn spilled(&self) -> bool {
        self.parts.iter().any(Option::is_some)
    }

    /// The file of part `k`, made when first needed.
    fn part(&mut self, k: usize) -> std::io::Result<&mut std::io::BufWriter<std::fs::File>> {
        if self.parts.is_empty() {
            self.parts.resize_with(SESSION_PARTS, || None);
        }
        let part = &mut self.parts[k];
        Ok(match part {
            Some(w) => w,
            None => part.insert(tally::spill_file()?),
        })
    }

    fn spill(&mut self, key: &str, s: &Session) -> std::io::Result<()> {
        let w = self.part(xxhash_rust::xxh3::xxh3_64(key.as_bytes()) as usize % SESSION_PARTS)?;
        s.write_to(w, key)
    }

    /// Every session kept, or only those of the `used` keys, each handed to `emit` as it is
    /// settled: the held ones, and the spilled ones read back a file at a time, so what is in
    /// memory at once is the held sessions and one file's. An error is a file failing to read
    /// back, or `emit`'s.
    fn settle_each(
        self,
        used: Option<&HashSet<Box<str>>>,
        mut emit: impl FnMut(Box<str>, Session) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        use std::io::Read;
        let wanted = |key: &str| used.is_none_or(|u| u.contains(key));
        let mut held = self.held;
        for part in self.parts.into_iter().flatten() {
            let (file, bytes) = tally::rewound(part)?;
            let mut r = std::io::BufReader::new(file.take(bytes));
            let mut found: HashMap<Box<str>, Session> = HashMap::new();
            while let Some((key, session)) = Session::read_from(&mut r)? {
                if wanted(&key) && replaces(found.get(&key), session.event_id()) {
                    found.insert(key, session);
                }
            }
            for (key, session) in found {
                match held.remove(&key) {
                    Some(kept) if !replaces(Some(&kept), session.event_id()) => emit(key, kept)?,
                    _ => emit(key, session)?,
                }
            }
        }
        for (key, session) in held {
            if wanted(&key) {
                emit(key, session)?;
            }
        }
        Ok(())
    }
}

/// Whether the workers fold this companion ([`Held::fold`]) rather than hand it to the
/// collector whole.
pub fn folded_by_workers(e: &EventRef) -> bool {
    e.role == Some(EventRole::Companion) && (Sampled::of(e).is_some() || issued_key(e).is_some())
}

struct Folded {
    denials: Denials,
    used_keys: HashSet<Box<str>>,
}

impl Folder {
    /// Tallies for one object's targets, returned to the folder when dropped.
    pub fn hold(&self) -> Held<'_> {
        let popped = lock(&self.idle).pop();
        let folded = popped.unwrap_or_else(|| {
            let mut denials = Denials::sharing(self.seen.clone());
            denials.pending_in(self.pending.clone());
            Folded { denials, used_keys: HashSet::new() }
        });
        Held { folder: self, folded: Some(folded), tapped: Vec::new(), identities: Vec::new() }
    }
}

/// One worker's tallies while it reads an object ([`Folder::hold`]).
pub struct Held<'a> {
    folder: &'a Folder,
    folded: Option<Folded>,
    /// Targets counted for the tap, handed on in batches, with their identities.
    tapped: Vec<Event>,
    identities: Vec<tally::Identity>,
}

impl Held<'_> {
    /// Tallies one target, or keeps one companion [`folded_by_workers`], whose keys the worker
    /// computed ([`tally::Keys::of_screened`]).
    pub fn fold(&mut self, target: &EventRef, keys: &tally::Keys) {
        if target.role == Some(EventRole::Companion) {
            debug_assert!(folded_by_workers(target), "a companion the collector keeps whole");
            let mut companions = lock(&self.folder.companions);
            if !companions.sessions.offer(target) {
                let kind = Sampled::of(target).expect("a session or a sampled companion") as usize;
                let key = tally::sample_key(keys.pair, keys.identity);
                tally::keep_smallest(
                    &mut companions.sampled[kind],
                    SAMPLED_KEPT,
                    key,
                    &mut tally::SharedCopy::of(target),
                );
            }
            return;
        }
        let folded = self.folded.as_mut().expect("held until dropped");
        let fate = folded.denials.add_keyed(target, keys);
        note_key(&mut folded.used_keys, target.access_key_id.as_deref());
        if self.folder.tap.is_some() && fate != Fate::Repeat {
            self.tap(target, keys.identity, fate);
        }
    }

    /// Hands a target just counted to the tap. Out of line: a plain scan's fold stays small.
    #[inline(never)]
    fn tap(&mut self, target: &EventRef, identity: tally::Identity, fate: Fate) {
        let Some(tap) = &self.folder.tap else { return };
        let event = target.to_event();
        if held_to_the_end(fate, &event) {
            lock(tap).provisional(&event, identity);
        } else {
            self.tapped.push(event);
            self.identities.push(identity);
            if self.tapped.len() >= TAPPED_BATCH {
                self.hand_tapped();
            }
        }
    }

    fn hand_tapped(&mut self) {
        if let Some(tap) = &self.folder.tap
            && !self.tapped.is_empty()
        {
            lock(tap).counted(std::mem::take(&mut self.tapped), std::mem::take(&mut self.identities));
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.hand_tapped();
        if let Some(folded) = self.folded.take() {
            lock(&self.folder.idle).push(folded);
        }
    }
}

/// Whether a session of `event_id` replaces the one `kept` for its key: the smallest eventID wins.
fn replaces(kept: Option<&Session>, event_id: &[u8]) -> bool {
    kept.is_none_or(|kept| event_id < kept.event_id())
}

/// Notes the access key a target used: its session is worth keeping.
fn note_key(used: &mut HashSet<Box<str>>, access_key_id: Option<&str>) {
    if let Some(key) = access_key_id
        && !used.contains(key)
    {
        used.insert(key.into());
    }
}

/// One vector of exactly the batches' size, each batch freed once moved.
fn flatten(batches: Vec<Vec<Event>>) -> Vec<Event> {
    let mut all = Vec::with_capacity(batches.iter().map(Vec::len).sum());
    for batch in batches {
        all.extend(batch);
    }
    all
}

/// Drops repeats of an `eventID` and merges the copies of one cross-account request (same
/// `sharedEventID`) into the copy that names the caller best, keeping the owner account the other
/// copy knows. Deterministic whatever order the workers (or the shards) delivered events in:
/// every ordering ends on the whole content, so two different records that share an `eventID`
/// (test fixtures do) always resolve the same way.
pub fn dedupe(mut events: Vec<Event>) -> (Vec<Event>, u64) {
    let before = events.len();
    // By index, then each event moved about once (an event is over 1 KB).
    crate::event::sort_events(&mut events, |a, b| {
        a.event_id.cmp(&b.event_id).then_with(|| a.source_object.cmp(&b.source_object)).then_with(|| content(a, b))
    });
    events.dedup_by(|later, kept| !kept.event_id.is_empty() && later.event_id == kept.event_id);

    let mut by_shared: std::collections::HashMap<String, Vec<Event>> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        match e.shared_event_id.clone() {
            Some(id) => by_shared.entry(id).or_default().push(e),
            None => out.push(e),
        }
    }
    for (_, mut copies) in by_shared {
        copies.sort_by(|a, b| {
            let rank = tally::naming_rank;
            rank(b).cmp(&rank(a)).then_with(|| a.event_id.cmp(&b.event_id)).then_with(|| content(a, b))
        });
        let owner = copies.iter().find_map(|c| c.owner_known().map(str::to_string));
        let mut best = copies.swap_remove(0);
        if best.bucket_owner.is_none() {
            best.bucket_owner = owner;
        }
        out.push(best);
    }
    crate::event::sort_events(&mut out, Event::scan_order);
    let dropped = (before - out.len()) as u64;
    (out, dropped)
}

/// The last tie-break: field by field over the whole event (text and integers only, so total).
fn content(a: &Event, b: &Event) -> std::cmp::Ordering {
    a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal)
}

impl ObjectReport {
    fn unread(name: &str, outcome: Outcome) -> Self {
        ObjectReport {
            name: name.to_string(),
            outcome,
            counts: Default::default(),
            shape: Default::default(),
            envelope: None,
            unknown_shape: None,
            events: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// An object that could not be read at all.
    pub fn failed(name: &str, error: crate::stats::ObjectError) -> Self {
        Self::unread(name, Outcome::Failed(error))
    }

    /// An object accounted for without reading.
    pub fn skipped(name: &str, reason: crate::stats::SkipReason) -> Self {
        Self::unread(name, Outcome::Skipped(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, shared: Option<&str>, arn: Option<&str>, kind: &str, owner: Option<&str>) -> Event {
        Event {
            event_id: id.into(),
            shared_event_id: shared.map(Into::into),
            identity_arn: arn.map(Into::into),
            principal_type: kind.into(),
            bucket_owner: owner.map(Into::into),
            recipient_account: Some(if kind == "AWSAccount" { "444455556666" } else { "777788889999" }.into()),
            ..Event::default()
        }
    }

    #[test]
    fn dedupe_by_event_id_and_shared_event_id() {
        let caller = ev("b", Some("s1"), Some("arn:aws:sts::777788889999:assumed-role/r/s"), "AssumedRole", None);
        let owner = ev("a", Some("s1"), None, "AWSAccount", Some("444455556666"));
        let events = vec![
            owner.clone(),
            ev("x", None, None, "IAMUser", None),
            caller.clone(),
            ev("x", None, None, "IAMUser", None),
        ];
        let (out, dropped) = dedupe(events);
        assert_eq!(dropped, 2);
        assert_eq!(out.len(), 2);
        let merged = out.iter().find(|e| e.shared_event_id.is_some()).unwrap();
        assert_eq!(merged.event_id, "b", "the caller's copy names the caller best");
        assert_eq!(merged.bucket_owner.as_deref(), Some("444455556666"), "owner learned from the other copy");
    }

    /// Sessions past the limit wait on disk by key: each key's smallest eventID comes back,
    /// whether it was held or spilled (or both, a key first held by one store and spilled by
    /// another), all of them or only the used ones, as when every session is held.
    #[test]
    fn spilled_sessions_come_back_as_held_ones_do() {
        let event = |i: usize, key: usize| Event {
            event_id: format!("e{:04}", (i * 7919) % 3001),
            event_source: "sts.amazonaws.com".into(),
            event_name: "AssumeRole".into(),
            issued_access_key_id: Some(format!("ASIA{key:06}")),
            session_policy: i.is_multiple_of(3).then(|| format!("policy {i}")),
            principal: "arn:aws:iam::111122223333:role/r".into(),
            event_time_ms: (!i.is_multiple_of(5)).then_some(i as i64),
            role: Some(EventRole::Companion),
            ..Event::default()
        };
        // 3,000 sessions over 700 keys, a key issued up to five times, in a shuffled order.
        let events: Vec<Event> = (0..3_000).map(|i| event(i, (i * 31) % 700)).collect();
        let used: HashSet<Box<str>> = (0..700).step_by(3).map(|k| format!("ASIA{k:06}").into()).collect();
        let settled = |limit: usize, used: Option<&HashSet<Box<str>>>| {
            let (mut a, mut b) = (Sessions::with_limit(limit), Sessions::with_limit(limit));
            for (i, e) in events.iter().enumerate() {
                assert!(if i % 4 == 0 { &mut b } else { &mut a }.offer(&e.view()));
            }
            // As the workers' store joins the collector's.
            a.absorb(b).unwrap();
            a.settle_in_place(used).unwrap();
            assert!(!a.spilled());
            let mut out: Vec<(Box<str>, Event)> = a.held.into_iter().map(|(k, s)| (k, s.to_event())).collect();
            out.sort_by(|x, y| x.0.cmp(&y.0));
            out
        };
        for used in [None, Some(&used)] {
            let held = settled(usize::MAX, used);
            assert_eq!(held.len(), if used.is_some() { 234 } else { 700 });
            for limit in [0, 1, 100] {
                assert!(settled(limit, used) == held, "limit {limit}, used only: {}", used.is_some());
            }
        }
    }

    /// A shard passes on every session, each key's smallest eventID once, whether held or
    /// settled from disk into the file its partial is written from; read twice, the same.
    #[test]
    fn a_shard_passes_on_every_session_from_disk() {
        let record = |i: usize| {
            serde_json::json!({
                "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
                "eventTime": format!("2026-11-01T00:{:02}:{:02}Z", i / 60 % 60, i % 60),
                "eventID": format!("s{:05}", (i * 7919) % 10_007),
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/ci"},
                "requestParameters": {"roleArn": "arn:aws:iam::1:role/app"},
                "responseElements": {"credentials": {"accessKeyId": format!("ASIA{:04}", i % 300)}}
            })
        };
        let objects: Vec<Vec<u8>> = (0..2)
            .map(|o| {
                let records: Vec<serde_json::Value> = (o..1_000).step_by(2).map(record).collect();
                serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
            })
            .collect();
        let sessions = |limit: usize| {
            let c = read_objects(Collector::for_partial().with_seen_limit(limit), true, &objects, |_| {});
            let out = c.finish_partial().unwrap();
            let read = || -> Vec<(String, String)> {
                let mut v: Vec<(String, String)> = out
                    .companions
                    .iter()
                    .map(|e| e.unwrap())
                    .map(|e| (e.issued_access_key_id.clone().unwrap(), e.event_id.clone()))
                    .collect();
                v.sort();
                v
            };
            let once = read();
            assert!(once == read(), "read twice, limit {limit}");
            assert_eq!(out.companions.len(), once.len());
            once
        };
        let held = sessions(usize::MAX);
        assert_eq!(held.len(), 300, "one per key");
        for limit in [0, 1, 100] {
            assert!(sessions(limit) == held, "limit {limit}");
        }
    }

    /// A merge sees no target: it keeps the sessions whose keys some shard's targets used,
    /// whichever shard issued them, held or spilled, and no other.
    #[test]
    fn a_merge_keeps_the_sessions_of_the_keys_the_shards_targets_used() {
        let session = |id: &str, key: &str| Event {
            event_id: id.into(),
            event_source: "sts.amazonaws.com".into(),
            event_name: "AssumeRole".into(),
            issued_access_key_id: Some(key.into()),
            principal: "arn:aws:iam::111122223333:role/r".into(),
            role: Some(EventRole::Companion),
            ..Event::default()
        };
        for limit in [0, 1, 100] {
            let mut m = Collector::for_merge(limit);
            // Shard 0 issued three sessions and used none; shard 1 used two keys, one of them
            // issued by shard 0, and issued that key again (a larger eventID).
            m.note_used_keys(Vec::new());
            m.add_companions(vec![session("s2", "ASIAUSED"), session("s3", "ASIAIDLE"), session("s5", "ASIAALSO")]);
            m.note_used_keys(vec!["ASIAUSED".into(), "ASIAALSO".into()]);
            m.add_companions(vec![session("s4", "ASIAUSED")]);
            m.settle_merged().unwrap();
            let out = m.finish();
            let mut kept: Vec<(&str, &str)> = out
                .companions
                .iter()
                .map(|e| (e.event_id.as_str(), e.issued_access_key_id.as_deref().unwrap()))
                .collect();
            kept.sort_unstable();
            assert_eq!(kept, [("s2", "ASIAUSED"), ("s5", "ASIAALSO")], "limit {limit}");
        }
    }

    #[test]
    fn only_sessions_a_target_used_are_kept() {
        let session = |id: &str, key: &str| Event {
            event_id: id.into(),
            event_source: "sts.amazonaws.com".into(),
            event_name: "AssumeRole".into(),
            issued_access_key_id: Some(key.into()),
            session_policy: Some("{\"Version\":\"2012-10-17\"}".into()),
            identity_arn: Some("arn:aws:iam::111122223333:user/ci\u{0}\u{1b}".into()),
            account: Some("111122223333".into()),
            principal: "arn:aws:iam::111122223333:user/ci".into(),
            event_time_ms: Some(7),
            role: Some(EventRole::Companion),
            ..Event::default()
        };
        let target = Event {
            event_id: "t".into(),
            access_key_id: Some("ASIAUSED".into()),
            role: Some(EventRole::Target),
            ..Event::default()
        };
        let mut c = Collector::keeping_targets();
        let events = vec![session("s2", "ASIAUSED"), session("s1", "ASIAUSED"), session("s3", "ASIAIDLE"), target];
        c.merge(ObjectReport { events, ..ObjectReport::failed("x", crate::stats::ObjectError::RecordTooLarge) });
        assert_eq!(c.sessions.len(), 2, "held compactly, one per issued key");
        let out = c.finish();
        assert_eq!(out.companions.len(), 1);
        let kept = &out.companions[0];
        assert_eq!((kept.event_id.as_str(), kept.issued_access_key_id.as_deref()), ("s1", Some("ASIAUSED")));
        let mut want = session("s1", "ASIAUSED");
        want.role = Some(EventRole::Companion);
        assert_eq!(*kept, want, "every field the session had survives packing");
        assert_eq!(out.targets.len(), 1);
        assert_eq!(out.groups.iter().map(|g| g.denied).sum::<u64>(), 1);
    }

    #[test]
    fn records_sharing_an_event_id_resolve_the_same_in_any_order() {
        let a = Event { event_id: "same".into(), event_name: "PutObject".into(), ..Event::default() };
        let b = Event { event_id: "same".into(), event_name: "UploadPart".into(), ..Event::default() };
        let (one, _) = dedupe(vec![a.clone(), b.clone()]);
        let (two, _) = dedupe(vec![b, a]);
        assert_eq!(one, two);
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn events_without_ids_are_all_kept() {
        let (out, dropped) = dedupe(vec![ev("", None, None, "IAMUser", None), ev("", None, None, "IAMUser", None)]);
        assert_eq!((out.len(), dropped), (2, 0));
    }

    /// A KMS outage: every denied write comes with the KMS denial S3 ran into; a VPC endpoint
    /// outage, with the endpoint's network activity event. Past the budget only some of them
    /// are kept, and they are those of the writes the tally samples.
    #[test]
    fn sampled_companions_are_bounded_and_follow_the_sampled_writes() {
        for kind in [Sampled::Kms, Sampled::Vpce, Sampled::KmsError] {
            companions_of_a_kind_are_bounded_and_follow_the_sampled_writes(kind);
        }
    }

    fn companions_of_a_kind_are_bounded_and_follow_the_sampled_writes(kind: Sampled) {
        let n = SAMPLED_KEPT * 3;
        let mut c = Collector::new();
        let mut events = Vec::with_capacity(2 * n);
        for i in 0..n {
            let key = format!("p/object-{i}");
            events.push(Event {
                event_id: format!("w{i}"),
                event_source: "s3.amazonaws.com".into(),
                event_name: "PutObject".into(),
                error_code: Some("AccessDenied".into()),
                principal: "arn:aws:iam::1:role/app".into(),
                bucket: Some("b".into()),
                key: Some(key.clone()),
                prefix: "p/".into(),
                event_time_ms: Some(i as i64 * 1000),
                role: Some(EventRole::Target),
                ..Event::default()
            });
            events.push(match kind {
                Sampled::Kms => Event {
                    event_id: format!("k{i}"),
                    event_source: "kms.amazonaws.com".into(),
                    event_name: "GenerateDataKey".into(),
                    error_code: Some("AccessDenied".into()),
                    kms_s3_arn: Some(format!("arn:aws:s3:::b/{key}")),
                    event_time_ms: Some(i as i64 * 1000),
                    role: Some(EventRole::Companion),
                    ..Event::default()
                },
                Sampled::KmsError => Event {
                    event_id: format!("x{i}"),
                    event_source: "kms.amazonaws.com".into(),
                    event_name: "GenerateDataKey".into(),
                    error_code: Some("KMS.DisabledException".into()),
                    kms_s3_arn: Some(format!("arn:aws:s3:::b/{key}")),
                    event_time_ms: Some(i as i64 * 1000),
                    role: Some(EventRole::Companion),
                    ..Event::default()
                },
                Sampled::Vpce => Event {
                    event_id: format!("v{i}"),
                    event_source: "s3.amazonaws.com".into(),
                    event_name: "PutObject".into(),
                    error_code: Some("VpceAccessDenied".into()),
                    vpc_endpoint_id: Some("vpce-1".into()),
                    bucket: Some("b".into()),
                    key: Some(key.clone()),
                    event_time_ms: Some(i as i64 * 1000),
                    role: Some(EventRole::Companion),
                    ..Event::default()
                },
            });
        }
        c.merge(ObjectReport { events, ..ObjectReport::failed("x", crate::stats::ObjectError::RecordTooLarge) });
        let out = c.finish();
        assert_eq!(out.companions.len(), SAMPLED_KEPT, "{kind:?}");
        let object = |k: &Event| match kind {
            Sampled::Kms | Sampled::KmsError => k.kms_s3_arn.clone(),
            Sampled::Vpce => k.object_arn(),
        };
        let kept: HashSet<String> = out.companions.iter().filter_map(object).collect();
        let group = &out.groups[0];
        assert_eq!(group.denied, n as u64);
        let exemplars = group.exemplars();
        let paired = exemplars.iter().filter(|(e, _)| kept.contains(e.object_arn().unwrap().as_str())).count();
        // Every sampled write keeps its companion; only the earliest one, kept for its time, may not.
        assert!(paired + 1 >= exemplars.len(), "{kind:?}: {paired} of {} exemplars keep theirs", exemplars.len());
    }

    /// The companions the workers fold (KMS and VPC endpoint denials past the bound, KMS
    /// errors, sessions issued twice, one with a secret in its policy) come out as they do when
    /// every companion crosses to the collector whole; the others (policy changes) still cross.
    #[test]
    fn companions_folded_on_the_workers_are_the_ones_the_collector_keeps() {
        let secret = "X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let record = |i: usize| -> serde_json::Value {
            let key = format!("p/object-{i}");
            let time = format!("2026-11-01T00:{:02}:{:02}Z", i / 60 % 60, i % 60);
            match i % 4 {
                0 => serde_json::json!({
                    "eventSource": "s3.amazonaws.com", "eventName": "PutObject", "eventTime": time,
                    "errorCode": "AccessDenied", "eventID": format!("w{i}"),
                    "userIdentity": {"type": "AssumedRole", "accessKeyId": format!("ASIA{}", i % 24 + 3),
                                     "arn": "arn:aws:sts::1:assumed-role/app/s"},
                    "requestParameters": {"bucketName": "b", "key": key}
                }),
                1 => serde_json::json!({
                    "eventSource": "kms.amazonaws.com", "eventName": "GenerateDataKey", "eventTime": time,
                    "errorCode": "AccessDenied", "eventID": format!("k{i}"),
                    "requestParameters": {"encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::b/{key}")}}
                }),
                2 => serde_json::json!({
                    "eventSource": "s3.amazonaws.com", "eventName": "PutObject", "eventTime": time,
                    "eventCategory": "NetworkActivity", "errorCode": "VpceAccessDenied", "eventID": format!("v{i}"),
                    "vpcEndpointId": "vpce-1", "requestParameters": {"bucketName": "b", "key": key}
                }),
                _ if i % 8 == 3 => serde_json::json!({
                    "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "eventTime": time,
                    "eventID": format!("s{}", 100_000 - i),
                    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/ci"},
                    "requestParameters": {"roleArn": "arn:aws:iam::1:role/app",
                                          "policy": if i % 48 == 3 { secret } else { "{}" }},
                    "responseElements": {"credentials": {"accessKeyId": format!("ASIA{}", i % 48)}}
                }),
                _ if i % 16 == 7 => serde_json::json!({
                    "eventSource": "kms.amazonaws.com", "eventName": "Encrypt", "eventTime": time,
                    "errorCode": "KMS.DisabledException", "eventID": format!("e{i}")
                }),
                _ => serde_json::json!({
                    "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "eventTime": time,
                    "eventID": format!("p{i}"), "requestParameters": {"bucketName": "b"}
                }),
            }
        };
        let n = SAMPLED_KEPT * 4 + 800;
        let objects: Vec<Vec<u8>> = (0..2)
            .map(|o| {
                serde_json::to_vec(&serde_json::json!({"Records": (o..n).step_by(2).map(record).collect::<Vec<_>>()}))
                    .unwrap()
            })
            .collect();
        let companions = |folding: bool| {
            let c = if folding { Collector::new() } else { Collector::keeping_targets() };
            let c = read_objects(c, folding, &objects, |report| {
                if folding {
                    assert!(report.events.iter().all(|e| !folded_by_workers(&e.view())), "folded, not reported");
                    assert!(report.events.iter().all(|e| Sampled::of(&e.view()).is_none()), "sampled on the workers");
                }
            });
            let mut out = c.finish();
            out.companions.sort_by(|a, b| a.event_id.cmp(&b.event_id));
            (out.companions, out.stats.counts.records_companion)
        };
        let (folded, counted) = companions(true);
        let (whole, counted_whole) = companions(false);
        assert_eq!(counted, counted_whole);
        let kinds = |events: &[Event], prefix: &str| events.iter().filter(|e| e.event_id.starts_with(prefix)).count();
        assert_eq!(kinds(&whole, "k"), SAMPLED_KEPT, "the KMS denials are past the bound");
        assert_eq!(kinds(&whole, "v"), SAMPLED_KEPT, "the VPC endpoint denials are past the bound");
        assert!(kinds(&whole, "s") > 0 && kinds(&whole, "s") < 48, "sessions: one per issued key a target used");
        assert!(kinds(&whole, "e") > 0, "KMS errors are kept");
        assert!(kinds(&whole, "p") > 0, "other companions cross whole");
        let policies: Vec<&str> = whole.iter().filter_map(|e| e.session_policy.as_deref()).collect();
        assert!(policies.iter().any(|p| p.contains("X-Amz-Signature")), "{policies:?}");
        assert!(policies.iter().all(|p| !p.contains("0123456789abcdef")), "{policies:?}");
        assert!(folded == whole, "the folded companions differ from the ones kept whole");
    }

    /// Reads each object on a worker of its own into `c`, folding on the workers when `fold`
    /// (then absorbing what they folded); `check` sees each object's report first.
    fn read_objects(mut c: Collector, fold: bool, objects: &[Vec<u8>], check: impl Fn(&ObjectReport)) -> Collector {
        use crate::filter::Filter;
        use crate::parse::{ScanContext, Worker};
        let ctx = ScanContext::new(Filter::default(), 1, 1 << 30);
        let folder = if fold { c.folder() } else { None };
        assert_eq!(folder.is_some(), fold);
        let mut workers: Vec<Worker> = objects.iter().map(|_| Worker::new()).collect();
        for (o, (bytes, worker)) in objects.iter().zip(&mut workers).enumerate() {
            let name = format!("o{o}");
            let report = match &folder {
                Some(folder) => {
                    let mut held = folder.hold();
                    let mut fold = |e: &EventRef, k: &tally::Keys| held.fold(e, k);
                    worker.process_folding(&ctx, &name, true, &bytes[..], Some(&mut fold))
                }
                None => worker.process(&ctx, &name, true, &bytes[..]),
            };
            check(&report);
            c.merge(report);
        }
        if let Some(folder) = folder {
            c.absorb_folded(folder).unwrap();
        }
        c
    }

    /// What a tap writes: the targets counted (one row of each repeat once settled), the
    /// companions, then the provisional copies that stand, each once, with the owners learned.
    #[derive(Clone, Default)]
    struct Recording(Arc<Mutex<Written>>);

    /// The events written, and the provisional copies held until settled.
    #[derive(Default)]
    struct Written {
        rows: Vec<Event>,
        counted: Vec<(Event, tally::Identity)>,
        held: Vec<(Event, tally::Identity)>,
    }

    impl Tap for Recording {
        fn kept(&mut self, events: &[&Event]) {
            lock(&self.0).rows.extend(events.iter().map(|e| (*e).clone()));
        }
        fn counted(&mut self, events: Vec<Event>, identities: Vec<tally::Identity>) {
            assert_eq!(events.len(), identities.len());
            lock(&self.0).counted.extend(events.into_iter().zip(identities));
        }
        fn provisional(&mut self, event: &Event, identity: tally::Identity) {
            lock(&self.0).held.push((event.clone(), identity));
        }
        fn settle(
            &mut self,
            withdrawn: &HashSet<tally::Identity>,
            owners: &tally::LearnedOwners,
            repeated: &HashSet<tally::Identity>,
        ) {
            let w = &mut *lock(&self.0);
            let mut once = HashSet::new();
            for (e, id) in w.counted.drain(..) {
                if !repeated.contains(&id) || once.insert(id) {
                    w.rows.push(e);
                }
            }
            let mut stand = HashSet::new();
            for (mut e, id) in w.held.drain(..) {
                if !withdrawn.contains(&id) && stand.insert(id) {
                    owners.fill(&mut e);
                    w.rows.push(e);
                }
            }
        }
    }

    /// The targets a tap writes are the same whether the workers fold them or the collector
    /// counts them, and the same as the collector keeps whole: repeats once, a bucket owner's
    /// copy withdrawn when its caller's copy was read (in another object, or in the same), the
    /// caller's copy then with the owner account learned, two owner copies of one request
    /// reduced to one.
    #[test]
    fn a_tap_fed_by_the_workers_writes_what_the_collector_keeps_whole() {
        let denial = |id: String, i: usize, shared: Option<String>, owner_copy: bool| -> serde_json::Value {
            let who = if owner_copy {
                serde_json::json!({"type": "AWSAccount", "accountId": "777788889999", "principalId": "AIDAEXAMPLE"})
            } else {
                serde_json::json!({"type": "AssumedRole", "accountId": "777788889999",
                                   "arn": "arn:aws:sts::777788889999:assumed-role/app/s"})
            };
            serde_json::json!({
                "eventSource": "s3.amazonaws.com", "eventName": "PutObject", "errorCode": "AccessDenied",
                "eventTime": format!("2026-11-01T00:{:02}:{:02}Z", i / 60 % 60, i % 60), "eventID": id,
                "sharedEventID": shared,
                "recipientAccountId": if owner_copy { "444455556666" } else { "777788889999" },
                "userIdentity": who, "requestParameters": {"bucketName": "b", "key": format!("p/{i}")}
            })
        };
        let mut objects = [Vec::new(), Vec::new()];
        for i in 0..600 {
            let shared = Some(format!("sh{i}"));
            match i % 5 {
                0 => {
                    objects[0].push(denial(format!("c{i}"), i, shared.clone(), false));
                    objects[1].push(denial(format!("o{i}"), i, shared, true));
                }
                1 => objects[i % 2].push(denial(format!("o{i}"), i, shared, true)),
                2 => objects[1].push(denial(format!("c{i}"), i, shared, false)),
                3 => {
                    objects[0].push(denial(format!("d{i}"), i, None, false));
                    objects[1].push(denial(format!("d{i}"), i, None, false));
                }
                _ => {
                    objects[1].push(denial(format!("c{i}"), i, shared.clone(), false));
                    objects[1].push(denial(format!("o{i}"), i, shared.clone(), true));
                    objects[0].push(denial(format!("p{i}"), i, shared.clone(), true));
                    objects[0].push(denial(format!("q{i}"), i, Some(format!("sq{i}")), true));
                    objects[0].push(denial(format!("r{i}"), i, Some(format!("sq{i}")), true));
                }
            }
        }
        let objects: Vec<Vec<u8>> =
            objects.iter().map(|r| serde_json::to_vec(&serde_json::json!({"Records": r})).unwrap()).collect();
        let run = |c: Collector, fold: bool| read_objects(c, fold, &objects, |_| {}).finish();
        let ids = |events: &[Event]| events.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>();
        let written_at = |fold: bool, limit: usize| {
            let tap = Recording::default();
            let out = run(Collector::new().with_seen_limit(limit).with_tap(Box::new(tap.clone())), fold);
            let mut events = std::mem::take(&mut lock(&tap.0).rows);
            events.retain(|e| e.is_target());
            events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
            (events, out.groups.iter().map(|g| g.denied).sum::<u64>())
        };
        let written = |fold: bool| written_at(fold, usize::MAX);
        let (folded, counted) = written(true);
        let (collected, counted_whole) = written(false);
        // Past the identities' limit the repeats are counted unchecked, and written: the tap
        // keeps one row of each once they are found.
        for limit in [0, 7, 300] {
            let (spilled, counted_spilled) = written_at(true, limit);
            assert_eq!(counted_spilled, counted, "limit {limit}");
            assert_eq!(ids(&spilled), ids(&folded), "limit {limit}");
            assert!(spilled == folded, "the same events at limit {limit}");
        }
        assert_eq!(ids(&folded), ids(&collected));
        assert!(folded == collected, "the same events, owners learned alike");
        assert_eq!((folded.len() as u64, counted), (counted_whole, counted_whole), "one row per denial counted");

        let mut whole = run(Collector::keeping_targets(), false).targets;
        whole.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        // Two owner copies of one request and no caller's: each way keeps one of them.
        let paired = |id: &str| id.starts_with('q') || id.starts_with('r');
        let (mine, theirs): (Vec<_>, Vec<_>) = (
            folded.iter().filter(|e| !paired(&e.event_id)).collect(),
            whole.iter().filter(|e| !paired(&e.event_id)).collect(),
        );
        assert!(mine == theirs, "the targets kept whole differ");
        assert_eq!(folded.len(), whole.len());
        let learned = folded.iter().filter(|e| e.event_id.starts_with('c') && e.bucket_owner.is_some()).count();
        assert_eq!(learned, 240, "the callers whose owner copy was read learned the owner");
    }
}
