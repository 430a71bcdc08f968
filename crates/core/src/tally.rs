//! Denied writes reduced at ingest: per group, what the report and the diagnosis need, in state
//! whose size does not grow with the number of denials (an outage denies nearly every write).
//!
//! Each denial is counted once (by its identity: `eventID` plus the record's content, so
//! repeats of one record in several files collapse and the result does not depend on which
//! copy arrived first), then folded into its group's [`GroupTally`]:
//! - exact: `denied`, first and last seen, operations, the first principal type, account,
//!   owner, event ID and key, and the denials per second (the timeline);
//! - `keys`, `sessions`, `source_ips`: exact up to [`EXACT_DISTINCT`] values, then a
//!   HyperLogLog++ sketch (the `hyperloglogplus` crate, precision 14: ±0.8%), and marked
//!   as estimated;
//! - the diagnosis' input: denials that only differ where no rule looks (IDs, time, the key
//!   beyond what the suspicion rules see, the session, the exact source IP) form a *class*;
//!   a group keeps the [`CLASSES`] classes with the smallest hashes, each with its exact
//!   weight, its earliest denial and the [`PER_CLASS`] denials with the smallest
//!   [`sample_key`]s as exemplars (the object's hash first: the KMS denials a scan keeps past its
//!   budget are picked by the same hash, so sampled writes keep their KMS evidence). While a group is small this is every denial, so the diagnosis is the one of
//!   the whole group; past that (more classes than fit), shares are estimated from a uniform
//!   sample of the group's denials (the [`UNIFORM`] smallest identities, each standing for an
//!   equal share) and marked so: the kept classes are a sample of classes, blind to their weights.
//!
//! Every choice (which copy counts, which classes and exemplars stay) depends only on the set
//! of records, never on arrival order, so shards merge into exactly the state one scan builds.
//! The identities that drop repeats exactly are held in memory up to [`SEEN_LIMIT`], then wait
//! on disk ([`seen`]), as a shard's ledger does (every denial it counted, with where, for the
//! merge: 49 bytes each on disk), and so do the weaker copies of cross-account requests waiting
//! for their callers' copies past [`PENDING_LIMIT`] ([`pending`]; a shard's partial carries its
//! own to the merge). What still grows in memory is the groups (their exemplars shared between
//! their samples).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventRef, GroupKey};

/// Distinct values counted exactly per column and group before the sketch takes over.
pub const EXACT_DISTINCT: usize = 4_096;
/// HyperLogLog++ precision: 2^14 registers, a standard error of about 0.8%.
const SKETCH_PRECISION: u8 = 14;
/// Timeline slots kept per group before its times are floored to a coarser resolution.
pub const TIME_SLOTS: usize = 16_384;

fn floor(t: i64, resolution: i64) -> i64 {
    if resolution > 0 { t.div_euclid(resolution) * resolution } else { t }
}

/// Diagnosis classes kept per group (those with the smallest class hashes).
pub const CLASSES: usize = 16;
/// Exemplars kept per class besides its earliest denial.
pub const PER_CLASS: usize = 32;

/// A denial's identity: its `eventID` and content (the log object it came from aside).
pub type Identity = u128;

mod pending;
mod seen;
pub use pending::{PENDING_LIMIT, Pending, Spilled};
use pending::{SpilledCopy, Waiting};
use seen::Sighting;
pub use seen::{Ledger, SEEN_LIMIT, Seen, Unchecked, rewound, spill_file};

/// Hashing for values that are already hashes (the sketch's input).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Prehashed;

pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

impl BuildHasher for Prehashed {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

type Sketch = HyperLogLogPlus<u64, Prehashed>;

/// A distinct count: exact while small, then a sketch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Distinct {
    exact: BTreeSet<u64>,
    sketch: Option<Box<Sketch>>,
}

impl Distinct {
    fn insert(&mut self, value: &str) {
        let h = xxhash_rust::xxh3::xxh3_64(value.as_bytes());
        match &mut self.sketch {
            Some(s) => s.insert(&h),
            None => {
                self.exact.insert(h);
                if self.exact.len() > EXACT_DISTINCT {
                    self.become_sketch();
                }
            }
        }
    }

    fn become_sketch(&mut self) {
        if self.sketch.is_none() {
            let mut s = Sketch::new(SKETCH_PRECISION, Prehashed).expect("a valid precision");
            for h in std::mem::take(&mut self.exact) {
                s.insert(&h);
            }
            self.sketch = Some(Box::new(s));
        }
    }

    fn absorb(&mut self, other: Distinct) {
        match other.sketch {
            Some(o) => {
                self.become_sketch();
                if let Some(s) = &mut self.sketch {
                    s.merge(&o).expect("one precision");
                }
            }
            None => {
                for h in other.exact {
                    match &mut self.sketch {
                        Some(s) => s.insert(&h),
                        None => {
                            self.exact.insert(h);
                        }
                    }
                }
                if self.exact.len() > EXACT_DISTINCT {
                    self.become_sketch();
                }
            }
        }
    }

    /// The count, and whether it is an estimate.
    pub fn count(&self) -> (u64, bool) {
        match &self.sketch {
            Some(s) => ((**s).clone().count().round() as u64, true),
            None => (self.exact.len() as u64, false),
        }
    }
}

/// The order "first" means everywhere: event time (untimed first, as a sort puts `None`), then
/// event ID, then identity.
type Order = (Option<i64>, String, Identity);

/// An [`Order`] borrowed from the event: compared without copying its ID.
type At<'a> = (Option<i64>, &'a str, Identity);

fn at_of<'e>(e: &'e EventRef, id: Identity) -> At<'e> {
    (e.event_time_ms, &e.event_id, id)
}

fn before(at: At<'_>, now: &Order) -> bool {
    at < (now.0, now.1.as_str(), now.2)
}

fn owned(at: At<'_>) -> Order {
    (at.0, at.1.to_string(), at.2)
}

/// Keeps the value of the first event (by [`Order`]) that has one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct First {
    at: Option<Order>,
    value: String,
}

impl First {
    fn offer(&mut self, at: At<'_>, value: Option<&str>) {
        if let Some(v) = value
            && self.at.as_ref().is_none_or(|now| before(at, now))
        {
            self.at = Some(owned(at));
            v.clone_into(&mut self.value);
        }
    }

    fn absorb(&mut self, o: First) {
        if let Some(at) = &o.at {
            self.offer((at.0, &at.1, at.2), Some(&o.value));
        }
    }
}

/// Events kept by the smallest of their keys (a bottom-k sample): the same events whatever
/// order they are offered in, and two samples merge into the one of all their events. Behind a
/// pointer: a B-tree node shifts its entries on insert, and an `Event` is over 1 KB; shared:
/// one denial is often kept by its group's uniform sample, its class's sample and as its
/// class's earliest, and a group of a few denials (a deep `--prefix-depth`) would otherwise
/// hold each three times.
pub(crate) type Smallest = BTreeMap<u128, Arc<Event>>;

/// The one copy of a denial its group keeps, made when the first sample keeps it and shared by
/// the others.
pub(crate) struct SharedCopy<'e, 'a> {
    event: &'e EventRef<'a>,
    made: Option<Arc<Event>>,
}

impl<'e, 'a> SharedCopy<'e, 'a> {
    pub(crate) fn of(event: &'e EventRef<'a>) -> Self {
        SharedCopy { event, made: None }
    }

    fn get(&mut self) -> Arc<Event> {
        self.made.get_or_insert_with(|| Arc::new(self.event.to_event())).clone()
    }

    /// Puts the copy in `slot`, which held an event being let go: an event no other sample
    /// holds lends its buffers to the copy.
    fn put(&mut self, slot: &mut Arc<Event>) {
        match &self.made {
            Some(made) => *slot = made.clone(),
            None => {
                match Arc::get_mut(slot) {
                    Some(unshared) => self.event.assign_to(unshared),
                    None => *slot = Arc::new(self.event.to_event()),
                }
                self.made = Some(slot.clone());
            }
        }
    }
}

/// In a full sample, the entry `id` displaces (taken out), if `id` is new and smaller than the
/// largest kept key. Most offers stop at that comparison, before any search.
fn displace(kept: &mut Smallest, id: u128) -> Option<Arc<Event>> {
    if kept.last_key_value().is_none_or(|(&largest, _)| id >= largest) || kept.contains_key(&id) {
        return None;
    }
    kept.pop_last().map(|(_, displaced)| displaced)
}

/// Keeps the copy of `e` under `id` when `id` is among the `limit` smallest keys; the event it
/// displaces lends its buffers to the copy.
pub(crate) fn keep_smallest(kept: &mut Smallest, limit: usize, id: u128, e: &mut SharedCopy) {
    if kept.len() < limit {
        kept.entry(id).or_insert_with(|| e.get());
    } else if let Some(mut displaced) = displace(kept, id) {
        e.put(&mut displaced);
        kept.insert(id, displaced);
    }
}

/// [`keep_smallest`] of an event already owned (a shard's, or one moved out of a report):
/// put behind its pointer only once it is kept.
pub(crate) fn keep_smallest_owned(kept: &mut Smallest, limit: usize, id: u128, e: impl Into<Arc<Event>>) {
    if kept.len() < limit {
        kept.entry(id).or_insert_with(|| e.into());
    } else if displace(kept, id).is_some() {
        kept.insert(id, e.into());
    }
}

/// Denials no diagnosis rule tells apart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Class {
    pub weight: u64,
    earliest: (Order, Arc<Event>),
    sample: Smallest,
}

impl Class {
    fn new(at: At<'_>, e: &mut SharedCopy) -> Class {
        Class { weight: 0, earliest: (owned(at), e.get()), sample: BTreeMap::new() }
    }

    fn add(&mut self, at: At<'_>, keys: &Keys, e: &mut SharedCopy) {
        self.weight += 1;
        if before(at, &self.earliest.0) {
            self.earliest.0 = owned(at);
            e.put(&mut self.earliest.1);
        }
        self.offer(sample_key(keys.pair, keys.identity), e);
    }

    /// The earliest denial's key in `sample`.
    fn earliest_key(&self) -> u128 {
        sample_key(object_pair_hash(&self.earliest.1.view()), self.earliest.0.2)
    }

    fn offer(&mut self, id: u128, e: &mut SharedCopy) {
        keep_smallest(&mut self.sample, PER_CLASS, id, e);
    }

    fn absorb(&mut self, o: Class) {
        self.weight += o.weight;
        if o.earliest.0 < self.earliest.0 {
            self.earliest = o.earliest;
        }
        for (id, e) in o.sample {
            keep_smallest_owned(&mut self.sample, PER_CLASS, id, e);
        }
    }

    /// The exemplars (the earliest denial first), each with the weight it stands for.
    pub fn exemplars(&self) -> impl Iterator<Item = (&Event, f64)> {
        let earliest_id = self.earliest_key();
        let others = self.sample.iter().filter(move |(id, _)| **id != earliest_id).map(|(_, e)| &**e);
        let n = 1 + self.sample.keys().filter(|id| **id != earliest_id).count();
        let w = self.weight as f64 / n as f64;
        std::iter::once(&*self.earliest.1).chain(others).map(move |e| (e, w))
    }

    /// Whether the exemplars are every denial of the class.
    fn complete(&self) -> bool {
        let earliest = self.earliest_key();
        let n = 1 + self.sample.keys().filter(|id| **id != earliest).count();
        n as u64 >= self.weight
    }
}

/// One group's tally: the report row's numbers and the diagnosis' exemplars.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupTally {
    pub key: GroupKey,
    pub denied: u64,
    principal_type: First,
    account: First,
    bucket_owner: First,
    event_id: First,
    sample_key: First,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub keys: Distinct,
    pub sessions: Distinct,
    pub source_ips: Distinct,
    pub operations: BTreeSet<String>,
    /// Denials per event time (ms) at [`GroupTally::resolution`]: CloudTrail times are whole
    /// seconds; past [`TIME_SLOTS`] slots the group's times are floored to the minute, then to
    /// the hour, so a long trail does not hold a slot per second.
    times: BTreeMap<i64, u64>,
    /// The width of a slot of `times`, in ms (0: times as they came).
    #[serde(default)]
    resolution: i64,
    untimed: u64,
    /// The classes with the smallest hashes, at most [`CLASSES`].
    classes: BTreeMap<u64, Class>,
    /// More classes than [`CLASSES`] were seen: some denials have no exemplar.
    classes_dropped: bool,
    /// The [`UNIFORM`] denials with the smallest identities: a uniform sample of the group's
    /// denials, which the diagnosis reads instead of the classes once classes were dropped (the
    /// kept classes are a sample of classes, blind to how many denials each stands for).
    #[serde(default)]
    uniform: Smallest,
}

/// Denials kept per group as its uniform sample: a share estimated from it is within about
/// ±3 points (one standard error at 50%).
pub const UNIFORM: usize = 256;

impl GroupTally {
    fn add(&mut self, e: &EventRef, keys: &Keys) {
        let (id, class) = (keys.identity, keys.class);
        let at = at_of(e, id);
        self.denied += 1;
        self.principal_type.offer(at, Some(&e.principal_type));
        self.account.offer(at, e.account.as_deref());
        self.bucket_owner.offer(at, e.bucket_owner.as_deref());
        self.event_id.offer(at, Some(&e.event_id));
        self.sample_key.offer(at, e.key.as_deref());
        if let Some(t) = e.event_time_ms {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
            *self.times.entry(floor(t, self.resolution)).or_default() += 1;
            self.coarsen();
        } else {
            self.untimed += 1;
        }
        for (d, v) in
            [(&mut self.keys, &e.key), (&mut self.sessions, &e.principal_id), (&mut self.source_ips, &e.source_ip)]
        {
            if let Some(v) = v {
                d.insert(v);
            }
        }
        if !self.operations.contains(e.event_name.as_ref()) {
            self.operations.insert(e.event_name.to_string());
        }
        let copy = &mut SharedCopy::of(e);
        keep_smallest(&mut self.uniform, UNIFORM, id, copy);
        if let Some(c) = self.classes.get_mut(&class) {
            c.add(at, keys, copy);
        } else if self.admits(class) {
            let mut c = Class::new(at, copy);
            c.add(at, keys, copy);
            self.classes.insert(class, c);
            self.trim();
        }
    }

    fn admits(&mut self, class: u64) -> bool {
        if self.classes.len() < CLASSES {
            return true;
        }
        let largest = *self.classes.keys().next_back().expect("full");
        self.classes_dropped = true;
        class < largest
    }

    fn trim(&mut self) {
        while self.classes.len() > CLASSES {
            self.classes.pop_last();
            self.classes_dropped = true;
        }
    }

    /// Takes back one denial counted here that another shard counted too.
    fn retract(&mut self, class: u64, time: Option<i64>) {
        self.denied -= 1;
        let resolution = self.resolution;
        match time.and_then(|t| self.times.get_mut(&floor(t, resolution))) {
            Some(n) => *n -= 1,
            None => self.untimed = self.untimed.saturating_sub(1),
        }
        if let Some(c) = self.classes.get_mut(&class) {
            c.weight -= 1;
        }
    }

    /// Takes back a denial counted only provisionally (a bucket owner's copy whose caller's
    /// copy turned up): its counts, and its place among the exemplars.
    fn withdraw(&mut self, p: &Provisional) {
        self.retract(p.class, p.time);
        self.uniform.remove(&p.identity);
        if let Some(c) = self.classes.get_mut(&p.class) {
            c.sample.remove(&sample_key(p.pair, p.identity));
            if c.weight == 0 {
                self.classes.remove(&p.class);
            }
        }
    }

    /// Points the classes' exemplars that the uniform sample holds too at its copy (an exemplar
    /// read back from a partial is a copy of its own in each sample).
    fn share_exemplars(&mut self) {
        let uniform = &self.uniform;
        // A class sample's key ends with the identity's low 64 bits; equal events are the same.
        let by_low: HashMap<u64, &Arc<Event>> = uniform.iter().map(|(id, e)| (*id as u64, e)).collect();
        let share = |e: &mut Arc<Event>, low: u64| {
            if let Some(u) = by_low.get(&low)
                && !Arc::ptr_eq(u, e)
                && ***u == **e
            {
                *e = Arc::clone(u);
            }
        };
        for c in self.classes.values_mut() {
            for (key, e) in c.sample.iter_mut() {
                share(e, *key as u64);
            }
            // The earliest is often in the class's own sample too.
            match c.sample.get(&c.earliest_key()) {
                Some(s) if **s == *c.earliest.1 => c.earliest.1 = Arc::clone(s),
                _ => share(&mut c.earliest.1, c.earliest.0.2 as u64),
            }
        }
    }

    fn absorb(&mut self, o: GroupTally) {
        self.denied += o.denied;
        self.principal_type.absorb(o.principal_type);
        self.account.absorb(o.account);
        self.bucket_owner.absorb(o.bucket_owner);
        self.event_id.absorb(o.event_id);
        self.sample_key.absorb(o.sample_key);
        self.first_seen = [self.first_seen, o.first_seen].into_iter().flatten().min();
        self.last_seen = [self.last_seen, o.last_seen].into_iter().flatten().max();
        self.keys.absorb(o.keys);
        self.sessions.absorb(o.sessions);
        self.source_ips.absorb(o.source_ips);
        self.operations.extend(o.operations);
        let resolution = self.resolution.max(o.resolution);
        self.set_resolution(resolution);
        for (t, n) in o.times {
            *self.times.entry(floor(t, resolution)).or_default() += n;
        }
        self.coarsen();
        self.untimed += o.untimed;
        self.classes_dropped |= o.classes_dropped;
        for (id, e) in o.uniform {
            keep_smallest_owned(&mut self.uniform, UNIFORM, id, e);
        }
        for (h, c) in o.classes {
            match self.classes.get_mut(&h) {
                Some(mine) => mine.absorb(c),
                None => {
                    self.classes.insert(h, c);
                }
            }
        }
        // A class a shard held with nothing left after retraction counted no denial here.
        self.classes.retain(|_, c| c.weight > 0);
        self.trim();
    }

    pub fn principal_type(&self) -> &str {
        &self.principal_type.value
    }
    pub fn account(&self) -> &str {
        &self.account.value
    }
    pub fn bucket_owner(&self) -> &str {
        &self.bucket_owner.value
    }
    pub fn sample_event_id(&self) -> &str {
        &self.event_id.value
    }
    pub fn sample_key(&self) -> &str {
        &self.sample_key.value
    }

    /// Past [`TIME_SLOTS`] slots, the next coarser resolution. The resolution reached depends
    /// only on the set of times, so shards merge into the scan's.
    fn coarsen(&mut self) {
        while self.times.len() > TIME_SLOTS {
            let next = match self.resolution {
                r if r < 60_000 => 60_000,
                r if r < 3_600_000 => 3_600_000,
                r => r * 24,
            };
            self.set_resolution(next);
        }
    }

    fn set_resolution(&mut self, resolution: i64) {
        if resolution > self.resolution {
            let mut coarse = BTreeMap::new();
            for (t, n) in std::mem::take(&mut self.times) {
                *coarse.entry(floor(t, resolution)).or_default() += n;
            }
            self.times = coarse;
            self.resolution = resolution;
        }
    }

    /// The width of a slot of [`GroupTally::times`] in ms (0 when exact).
    pub fn resolution(&self) -> i64 {
        self.resolution
    }

    /// Denials per event time (ms), and the untimed count.
    pub fn times(&self) -> (impl Iterator<Item = (i64, u64)> + '_, u64) {
        (self.times.iter().map(|(t, n)| (*t, *n)), self.untimed)
    }

    /// The diagnosis' input: every exemplar with the weight it stands for, in
    /// [`Event::scan_order`].
    /// Once classes were dropped, the uniform sample, each denial standing for an equal share.
    pub fn exemplars(&self) -> Vec<(&Event, f64)> {
        let mut all: Vec<(&Event, f64)> = if self.classes_dropped && !self.uniform.is_empty() {
            let w = self.denied as f64 / self.uniform.len() as f64;
            self.uniform.values().map(|e| (&**e, w)).collect()
        } else {
            self.classes.values().flat_map(Class::exemplars).collect()
        };
        all.sort_by(|(a, _), (b, _)| Event::scan_order(a, b));
        all
    }

    /// Whether the diagnosis reads every denial of the group (else its shares are estimates).
    pub fn diagnosis_complete(&self) -> bool {
        !self.classes_dropped && self.classes.values().all(Class::complete)
    }

    /// The report columns that are estimates, comma separated ("" when all are exact).
    pub fn classes(&self) -> usize {
        self.classes.len()
    }

    pub fn estimated(&self) -> String {
        let mut out = Vec::new();
        for (name, d) in [("keys", &self.keys), ("sessions", &self.sessions), ("source_ips", &self.source_ips)] {
            if d.count().1 {
                out.push(name);
            }
        }
        if !self.diagnosis_complete() {
            out.push("causes");
        }
        out.join(", ")
    }
}

/// What became of a denial offered to [`Denials::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Counted,
    /// A bucket owner's copy, counted until the caller's copy turns up ([`Denials::finish`]).
    Provisional,
    Repeat,
}

/// A bucket owner's copy of a cross-account request, counted in its own group until the end,
/// when it is withdrawn if the caller's own copy (which names the caller better) was seen.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Provisional {
    group: u32,
    class: u64,
    time: Option<i64>,
    identity: Identity,
    pair: u64,
    rank: u8,
    /// The owner account it knows, as an index into [`Denials::owners`].
    owner: Option<u32>,
}

/// Every denial of a scan (or a shard), reduced.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Denials {
    groups: Vec<GroupTally>,
    /// Groups by the hash of their key (a hash shared by two keys lists both).
    #[serde(skip)]
    index: HashMap<u64, Vec<u32>, Prehashed>,
    /// Identities counted (a scan).
    #[serde(skip)]
    seen: HashSet<Identity, Prehashed>,
    /// Identities counted by any of the tallies that share it (the workers'): it, not `seen`,
    /// decides a repeat, so each denial is counted by exactly one of them. A shard's is its
    /// ledger too ([`Seen::ledger`]), which the partial carries beside these tallies.
    #[serde(skip)]
    shared: Option<Arc<Seen>>,
    /// Cross-account copies that name the caller less well than another copy may (the bucket
    /// owner's `AWSAccount` copy), by `sharedEventID` hash: counted, and withdrawn at the end
    /// when the caller's copy was seen. 56 bytes each, not the event.
    provisional: HashMap<u128, Provisional, Prehashed>,
    /// The owner accounts provisional copies know, each once.
    owners: Vec<String>,
    /// Provisional copies withdrawn, for `--events-out`, which wrote them when they came.
    #[serde(skip)]
    withdrawn: Vec<Identity>,
    /// Whether a tap wrote each denial as it was counted ([`Denials::note_repeats`]).
    #[serde(skip)]
    noting_repeats: bool,
    /// Identities counted unchecked past the identities' limit and found repeated at the end:
    /// a tap wrote each more than once, and keeps one row of each.
    #[serde(skip)]
    repeated: Vec<Identity>,
    /// Where provisional copies and callers past [`Pending`]'s limit wait (a scan's and a
    /// merge's; a shard's partial carries them all).
    #[serde(skip)]
    pending: Option<Arc<Pending>>,
    /// The owner accounts callers' copies learned as the spilled copies settled.
    #[serde(skip)]
    learned: HashMap<u128, u32, Prehashed>,
    /// `sharedEventID` hashes of the copies that name their caller, with their group.
    callers: HashMap<u128, u32, Prehashed>,
    /// Repeats dropped.
    pub duplicates: u64,
    /// Groups by [`group_key_hash`], for [`Denials::retract_repeat`].
    #[serde(skip)]
    by_key_hash: HashMap<u128, u32, Prehashed>,
    /// [`group_key_hash`] of each group, as far as computed ([`Denials::key_hash`]): what names
    /// the group of each denial spilled past the identities' limit, nearly every one in an outage.
    #[serde(skip)]
    key_hashes: Vec<u128>,
    /// A merge's ([`Denials::merging`]): the identities the partials absorbed so far counted, in
    /// a set that spills past its limit, instead of a ledger of them all.
    #[serde(skip)]
    merged: Option<Arc<Seen>>,
}

impl Denials {
    /// A scan's tallies.
    pub fn new() -> Denials {
        Denials::default()
    }

    /// A shard's tallies: each denial's place is written to a ledger, so a merge can drop the
    /// ones another shard counted too ([`Denials::settle_ledger`]).
    pub fn for_partial() -> Denials {
        Denials::sharing(Seen::ledger(usize::MAX))
    }

    /// Tallies that count a denial only when no other tally sharing `seen` has (one per
    /// worker thread; a shard's when `seen` is a ledger). [`Denials::absorb`] joins them.
    pub fn sharing(seen: Arc<Seen>) -> Denials {
        Denials { shared: Some(seen), ..Denials::default() }
    }

    /// A merge's tallies: the partials' repeats are dropped through a set of their identities
    /// that holds about `limit` in memory and spills the rest ([`Denials::settle_merged`]); the
    /// waiting cross-account copies spill past `limit` of each kind too.
    pub fn merging(limit: usize) -> Denials {
        let (merged, pending) = (Some(Seen::with_limit(limit)), Some(Pending::with_limit(limit)));
        Denials { merged, pending, ..Denials::default() }
    }

    /// Spills the waiting cross-account copies past its limit to `pending` (shared by a
    /// scan's workers and collector), to be settled by [`Denials::settle_pending`].
    pub fn pending_in(&mut self, pending: Arc<Pending>) {
        self.pending = Some(pending);
    }

    /// Takes back, at the end of a merge, the repeats among the identities it spilled (the
    /// spill files are read once: a second call finds none), and settles the cross-account
    /// copies it spilled.
    pub fn settle_merged(&mut self) -> std::io::Result<()> {
        if let Some(seen) = self.merged.clone() {
            seen.repeats(|r| self.retract_repeat(r))?;
        }
        self.settle_pending()
    }

    /// Whether this is a shard's (it records where each denial was counted).
    pub fn keeps_ledger(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| s.is_ledger())
    }

    /// Whether `id` is counted for the first time. `spill` is what a shared set past its limit
    /// (or a ledger) writes out.
    fn first_time(&mut self, id: Identity, spill: impl FnOnce() -> Option<Unchecked>) -> bool {
        match &self.shared {
            Some(shared) => shared.sight(id, spill) != Sighting::Repeat,
            None => self.seen.insert(id),
        }
    }

    /// Counts through `seen` from now on (the workers' set, before any denial is counted).
    pub fn share(&mut self, seen: Arc<Seen>) {
        debug_assert_eq!(self.counted(), 0, "a set shared after counting would miss repeats");
        self.shared = Some(seen);
    }

    /// A shard's ledger, settled: the repeats among the denials it spilled are taken back, and
    /// every other denial is written to the ledger once. Tallies that keep no ledger give an
    /// empty one.
    pub fn settle_ledger(&mut self) -> std::io::Result<Ledger> {
        let mut ledger = Ledger::new()?;
        if let Some(seen) = self.shared.clone().filter(|s| s.is_ledger()) {
            seen.settle(|r| self.retract_repeat(r), |first| ledger.push(first))?;
        }
        Ok(ledger)
    }

    /// The group of `key` (hashed as [`Keys::group`]), made when new.
    fn group_of(&mut self, hash: u64, key: (&str, &str, &str)) -> u32 {
        let slot = self.index.entry(hash).or_default();
        for &g in slot.iter() {
            let k = &self.groups[g as usize].key;
            if (k.principal.as_str(), k.bucket.as_str(), k.prefix.as_str()) == key {
                return g;
            }
        }
        let g = self.groups.len() as u32;
        slot.push(g);
        let key = GroupKey { principal: key.0.to_string(), bucket: key.1.to_string(), prefix: key.2.to_string() };
        self.groups.push(GroupTally { key, ..GroupTally::default() });
        g
    }

    fn group(&mut self, key: GroupKey) -> u32 {
        let hash = group_hash(&key.principal, &key.bucket, &key.prefix);
        self.group_of(hash, (&key.principal, &key.bucket, &key.prefix))
    }

    /// [`group_key_hash`] of group `g`, computed once per group.
    fn key_hash(&mut self, g: u32) -> u128 {
        while self.key_hashes.len() <= g as usize {
            let k = &self.groups[self.key_hashes.len()].key;
            self.key_hashes.push(group_key_hash(&k.principal, &k.bucket, &k.prefix));
        }
        self.key_hashes[g as usize]
    }

    fn group_of_event(&mut self, e: &EventRef, hash: u64) -> u32 {
        self.group_of(hash, (&e.principal, e.bucket.as_deref().unwrap_or(""), &e.prefix))
    }

    /// Counts one denied write (a repeat is dropped); says which.
    pub fn add(&mut self, e: &Event) -> Fate {
        self.add_event(e, &Keys::of(e))
    }

    /// [`Denials::add`] of an owned event whose keys are known.
    pub fn add_event(&mut self, e: &Event, keys: &Keys) -> Fate {
        self.add_keyed(&e.view(), keys)
    }

    /// [`Denials::add`] with the event's [`Keys`] already computed (by a worker).
    pub fn add_keyed(&mut self, e: &EventRef, keys: &Keys) -> Fate {
        let id = keys.identity;
        let shared = e.shared_event_id.as_deref().filter(|s| !s.is_empty()).map(shared_hash);
        let class = keys.class;
        let g = self.group_of_event(e, keys.group);
        // A provisional copy is not spilled: its repeats meet it by its `sharedEventID` (provide).
        let naming = rank(e.identity_arn.is_some(), &e.principal_type);
        let provisional = shared.is_some() && naming < 3;
        let group = self.key_hash(g);
        let spill = || (!provisional).then_some(Unchecked { identity: id, group, class, time: e.event_time_ms });
        if !self.first_time(id, spill) {
            self.duplicates += 1;
            return Fate::Repeat;
        }
        self.groups[g as usize].add(e, keys);
        match shared {
            Some(s) if naming < 3 => {
                let owner = e.owner_known().map(|o| self.owner_index(o));
                let p = Provisional {
                    group: g,
                    class,
                    time: e.event_time_ms,
                    identity: id,
                    pair: keys.pair,
                    rank: naming,
                    owner,
                };
                self.provide(s, p);
                return Fate::Provisional;
            }
            Some(s) => self.caller(s, g),
            None => {}
        }
        Fate::Counted
    }

    fn owner_index(&mut self, owner: &str) -> u32 {
        match self.owners.iter().position(|o| o == owner) {
            Some(i) => i as u32,
            None => {
                self.owners.push(owner.to_string());
                (self.owners.len() - 1) as u32
            }
        }
    }

    /// Notes a caller's copy of a cross-account request (the first of its group), or writes it
    /// out past the limit.
    fn caller(&mut self, shared: u128, group: u32) {
        // The `Arc` is cloned only to spill: callers' copies are a seventh of an outage's denials.
        if let Some(pending) = &self.pending
            && self.callers.len() >= pending.limit()
            && !self.callers.contains_key(&shared)
        {
            let pending = pending.clone();
            let group = self.key_hash(group);
            return pending.write(&Waiting::Caller { shared, group });
        }
        self.callers.entry(shared).or_insert(group);
    }

    /// Keeps the best-named of the weaker copies of one request; another is withdrawn now. Past
    /// the limit a copy of a request not held is written out instead.
    fn provide(&mut self, shared: u128, p: Provisional) {
        if let Some(pending) = &self.pending
            && self.provisional.len() >= pending.limit()
            && !self.provisional.contains_key(&shared)
        {
            let pending = pending.clone();
            let copy = SpilledCopy {
                shared,
                group: self.key_hash(p.group),
                class: p.class,
                time: p.time,
                identity: p.identity,
                pair: p.pair,
                rank: p.rank,
                owner: p.owner.map(|o| self.owners[o as usize].clone()),
            };
            return pending.write(&Waiting::Copy(copy));
        }
        let mut held = std::mem::take(&mut self.provisional);
        self.provide_in(&mut held, shared, p);
        self.provisional = held;
    }

    /// [`Denials::provide`] into `held`.
    fn provide_in(&mut self, held: &mut HashMap<u128, Provisional, Prehashed>, shared: u128, p: Provisional) {
        let better = |a: &Provisional, b: &Provisional| {
            (std::cmp::Reverse(a.rank), a.identity) < (std::cmp::Reverse(b.rank), b.identity)
        };
        let loser = match held.get(&shared) {
            Some(kept) if kept.identity == p.identity => {
                // The same copy again (counted unchecked, past the set's limit): a repeat, whose
                // exemplars are the kept one's.
                self.duplicates += 1;
                self.groups[p.group as usize].retract(p.class, p.time);
                return;
            }
            Some(kept) if better(kept, &p) => p,
            Some(kept) => {
                let kept = *kept;
                held.insert(shared, p);
                kept
            }
            None => {
                held.insert(shared, p);
                return;
            }
        };
        self.duplicates += 1;
        self.withdrawn.push(loser.identity);
        self.groups[loser.group as usize].withdraw(&loser);
    }

    /// Settles the cross-account copies, one partition of their `sharedEventID`s at a time,
    /// when some were written out ([`Pending`]); otherwise [`Denials::settle`] does, in memory.
    /// An error is a spill file failing to write or read back.
    pub fn settle_pending(&mut self) -> std::io::Result<()> {
        let Some(pending) = self.pending.take() else { return Ok(()) };
        if !pending.spilled() {
            self.pending = Some(pending);
            return Ok(());
        }
        let mut held: Vec<Vec<(u128, Provisional)>> = (0..pending::PARTS).map(|_| Vec::new()).collect();
        for (s, p) in std::mem::take(&mut self.provisional) {
            held[pending::part(s)].push((s, p));
        }
        let mut callers: Vec<Vec<(u128, u32)>> = (0..pending::PARTS).map(|_| Vec::new()).collect();
        for (s, g) in std::mem::take(&mut self.callers) {
            callers[pending::part(s)].push((s, g));
        }
        for k in 0..pending::PARTS {
            let mut copies: HashMap<u128, Provisional, Prehashed> = std::mem::take(&mut held[k]).into_iter().collect();
            let mut called: HashMap<u128, u32, Prehashed> = std::mem::take(&mut callers[k]).into_iter().collect();
            for waiting in pending.take(k)? {
                match waiting {
                    Waiting::Caller { shared, group } => {
                        if let Some(g) = self.group_by_key_hash(group) {
                            called.entry(shared).or_insert(g);
                        }
                    }
                    Waiting::Copy(c) => {
                        if let Some(p) = self.provisional_of(&c) {
                            self.provide_in(&mut copies, c.shared, p);
                        }
                    }
                }
            }
            for (shared, p) in copies {
                if let Some(&g) = called.get(&shared) {
                    self.withdraw_settled(shared, &p, g);
                }
            }
        }
        Ok(())
    }

    /// A shard's waiting copies written out, taken for its partial (none when nothing spilled).
    pub fn take_spilled(&mut self) -> std::io::Result<Spilled> {
        match &self.pending {
            Some(pending) => pending.take_all(),
            None => Ok(Spilled::none()),
        }
    }

    /// Adds a shard's waiting copies written out (a merge's, after [`Denials::absorb`] of the
    /// shard's tallies), as if each had come to this tally. An error is `r` failing to read, or
    /// holding something else.
    pub fn absorb_spilled(&mut self, r: impl std::io::Read) -> std::io::Result<()> {
        pending::read_all(r, |w| match w {
            Waiting::Caller { shared, group } => {
                if let Some(g) = self.group_by_key_hash(group) {
                    self.caller(shared, g);
                }
            }
            Waiting::Copy(c) => {
                if let Some(p) = self.provisional_of(&c) {
                    self.provide(c.shared, p);
                }
            }
        })
    }

    /// A spilled copy as this tally holds one: its group found by key hash, its owner by name.
    fn provisional_of(&mut self, c: &SpilledCopy) -> Option<Provisional> {
        let group = self.group_by_key_hash(c.group)?;
        let owner = c.owner.as_deref().map(|o| self.owner_index(o));
        let (class, time, identity, pair, rank) = (c.class, c.time, c.identity, c.pair, c.rank);
        Some(Provisional { group, class, time, identity, pair, rank, owner })
    }

    /// Withdraws a provisional copy whose caller's copy (in group `caller`) was read: the
    /// owner account it knows goes to the caller's group.
    fn withdraw_settled(&mut self, shared: u128, p: &Provisional, caller: u32) {
        self.duplicates += 1;
        self.withdrawn.push(p.identity);
        self.groups[p.group as usize].withdraw(p);
        if let Some(o) = p.owner {
            learn_owner(&mut self.groups[caller as usize], shared, &self.owners[o as usize]);
            self.learned.insert(shared, o);
        }
    }

    /// The group whose key hashes to `hash` ([`group_key_hash`]).
    fn group_by_key_hash(&mut self, hash: u128) -> Option<u32> {
        if self.by_key_hash.len() != self.groups.len() {
            self.by_key_hash = (0..self.groups.len() as u32).map(|g| (self.key_hash(g), g)).collect();
        }
        self.by_key_hash.get(&hash).copied()
    }

    /// The provisional copies withdrawn so far (taken).
    pub fn take_withdrawn(&mut self) -> Vec<Identity> {
        std::mem::take(&mut self.withdrawn)
    }

    /// Notes the identity of each repeat taken back ([`Denials::retract_repeat`]), for a tap
    /// that wrote every denial as it was counted.
    pub fn note_repeats(&mut self) {
        self.noting_repeats = true;
    }

    /// The repeats taken back so far, noted ([`Denials::note_repeats`]) and taken.
    pub fn take_repeated(&mut self) -> Vec<Identity> {
        std::mem::take(&mut self.repeated)
    }

    /// Adds another worker's tallies (sharing this one's identities, so none was counted twice).
    pub fn absorb(&mut self, other: Denials) {
        let within = |n: usize| self.pending.as_ref().is_none_or(|p| n <= p.limit());
        let empty = self.groups.is_empty() && self.callers.is_empty() && self.provisional.is_empty();
        let empty = empty && within(other.callers.len()) && within(other.provisional.len());
        let mut moved = Vec::with_capacity(other.groups.len());
        for t in other.groups {
            let g = self.group(t.key.clone());
            moved.push(g);
            self.groups[g as usize].absorb(t);
        }
        if empty && self.owners.is_empty() && moved.iter().enumerate().all(|(i, &g)| g as usize == i) {
            // Into empty tallies the groups keep their numbers: the waiting copies are taken as
            // they are, not copied one by one. At the end of an outage each map is full (the
            // limit), and the copy was a third such map alive at once with the two workers'.
            (self.callers, self.provisional, self.owners) = (other.callers, other.provisional, other.owners);
        } else {
            self.absorb_waiting(other.callers, other.provisional, other.owners, &moved);
        }
        self.duplicates += other.duplicates;
        // A worker's own withdrawals, for its tap.
        let mut withdrawn = other.withdrawn;
        self.withdrawn.append(&mut withdrawn);
        let mut repeated = other.repeated;
        self.repeated.append(&mut repeated);
    }

    /// [`Denials::absorb`] of another tally's waiting copies, its groups numbered here `moved`.
    fn absorb_waiting(
        &mut self,
        callers: HashMap<u128, u32, Prehashed>,
        provisional: HashMap<u128, Provisional, Prehashed>,
        owners: Vec<String>,
        moved: &[u32],
    ) {
        for (s, g) in callers {
            self.caller(s, moved[g as usize]);
        }
        for (s, mut p) in provisional {
            p.group = moved[p.group as usize];
            p.owner = p.owner.map(|o| self.owner_index(&owners[o as usize]));
            self.provide(s, p);
        }
    }

    /// Takes a shard's ledger (a merge's, after [`Denials::absorb`] of the shard's tallies): a
    /// denial another partial counted already is taken back. The identities go through the
    /// merge's set, which spills past its limit ([`Denials::settle_merged`]); a provisional copy
    /// is in no ledger, and meets its repeats by its `sharedEventID`. An error is the ledger
    /// failing to read.
    pub fn absorb_ledger(&mut self, ledger: impl Iterator<Item = std::io::Result<Unchecked>>) -> std::io::Result<()> {
        let seen = self.merged.clone().expect("a merge's tallies (Denials::merging)");
        for record in ledger {
            let record = record?;
            if seen.sight(record.identity, || Some(record)) == Sighting::Repeat {
                self.retract_repeat(&record);
            }
        }
        Ok(())
    }

    /// Settles the provisional copies: one whose caller's copy was seen is withdrawn as a
    /// repeat (the owner account it knows goes to the caller's group). Returns the groups and
    /// the repeats dropped.
    pub fn finish(self) -> (Vec<GroupTally>, u64) {
        let settled = self.settle();
        (settled.groups, settled.duplicates)
    }

    /// [`Denials::finish`], also returning every provisional copy withdrawn and the owner
    /// accounts the callers' copies learned from them.
    pub fn settle(mut self) -> Settled {
        debug_assert!(self.pending.as_ref().is_none_or(|p| !p.spilled()), "settle_pending first");
        for (shared, p) in std::mem::take(&mut self.provisional) {
            if let Some(&g) = self.callers.get(&shared) {
                self.withdraw_settled(shared, &p, g);
            }
        }
        let learned = std::mem::take(&mut self.learned);
        let mut groups = self.groups;
        groups.retain(|g| g.denied > 0);
        Settled {
            groups,
            duplicates: self.duplicates,
            withdrawn: self.withdrawn,
            repeated: self.repeated,
            owners: LearnedOwners { by_shared: learned, accounts: self.owners },
        }
    }

    /// What the tallies hold, counted (for memory benchmarks).
    pub fn footprint(&self) -> String {
        let g = &self.groups;
        let times: usize = g.iter().map(|t| t.times.len()).sum();
        let exact: usize =
            g.iter().map(|t| t.keys.exact.len() + t.sessions.exact.len() + t.source_ips.exact.len()).sum();
        let samples: usize = g.iter().flat_map(|t| t.classes.values()).map(|c| c.sample.len() + 1).sum();
        let ops: usize = g.iter().map(|t| t.operations.len()).sum();
        format!(
            "groups {} | seen {} | provisional {} | callers {} | times {times} | exact distinct {exact} | exemplars {samples} | ops {ops}",
            g.len(),
            self.seen.len(),
            self.provisional.len(),
            self.callers.len()
        )
    }

    /// Takes back a denial counted unchecked that repeated another ([`Seen::repeats`]).
    pub fn retract_repeat(&mut self, repeat: &Unchecked) {
        if let Some(g) = self.group_by_key_hash(repeat.group) {
            self.duplicates += 1;
            self.groups[g as usize].retract(repeat.class, repeat.time);
            if self.noting_repeats {
                self.repeated.push(repeat.identity);
            }
        }
    }

    /// Denials counted so far (repeats and held copies aside).
    pub fn counted(&self) -> u64 {
        self.groups.iter().map(|g| g.denied).sum()
    }

    /// Rebuilds the look-up a deserialized state lacks.
    /// Also shares again the exemplars several samples held (a partial writes each holder's).
    pub fn reindex(&mut self) {
        self.index.clear();
        for (i, g) in self.groups.iter_mut().enumerate() {
            let hash = group_hash(&g.key.principal, &g.key.bucket, &g.key.prefix);
            self.index.entry(hash).or_default().push(i as u32);
            g.share_exemplars();
        }
    }
}

/// The tallies settled ([`Denials::settle`]).
pub struct Settled {
    pub groups: Vec<GroupTally>,
    /// Repeats dropped.
    pub duplicates: u64,
    /// The provisional copies withdrawn.
    pub withdrawn: Vec<Identity>,
    /// The repeats taken back, when noted ([`Denials::note_repeats`]).
    pub repeated: Vec<Identity>,
    pub owners: LearnedOwners,
}

/// The owner account a caller's copy of a cross-account request learned from the owner's copy
/// (by `sharedEventID`), as the report's tallies learned it: for events written whole.
#[derive(Debug, Default)]
pub struct LearnedOwners {
    by_shared: HashMap<u128, u32, Prehashed>,
    accounts: Vec<String>,
}

impl LearnedOwners {
    /// The owner a copy with this `sharedEventID` learned, if any.
    pub fn of(&self, shared_event_id: &str) -> Option<&str> {
        self.by_shared.get(&shared_hash(shared_event_id)).map(|&o| self.accounts[o as usize].as_str())
    }

    /// Fills in the bucket owner of a copy of a cross-account request that names none: the
    /// owner its own copy knows (the owner's, `AWSAccount`), else the one learned for it.
    pub fn fill(&self, e: &mut Event) {
        let Some(shared) = e.shared_event_id.as_deref().filter(|s| !s.is_empty()) else { return };
        if e.bucket_owner.is_none() {
            e.bucket_owner = e.owner_known().or_else(|| self.of(shared)).map(str::to_string);
        }
    }

    /// Whether a copy counted now may learn its owner at the end: a caller's copy of a
    /// cross-account request that names no owner.
    pub fn may_learn(e: &Event) -> bool {
        e.bucket_owner.is_none() && e.shared_event_id.as_deref().is_some_and(|s| !s.is_empty())
    }
}

/// The caller's copy gets the owner account the owner's copy knows (when it had none).
fn learn_owner(group: &mut GroupTally, shared: u128, owner: &str) {
    if group.bucket_owner.at.is_none() {
        group.bucket_owner.value = owner.to_string();
        group.bucket_owner.at = Some((None, String::new(), 0));
    }
    let classes =
        group.classes.values_mut().flat_map(|c| std::iter::once(&mut c.earliest.1).chain(c.sample.values_mut()));
    // A copy several samples share is reached once per holder: the first makes the new
    // copy, and the others are given it.
    let mut learned: Vec<(Arc<Event>, Arc<Event>)> = Vec::new();
    for e in classes.chain(group.uniform.values_mut()) {
        if e.bucket_owner.is_none() && e.shared_event_id.as_deref().map(shared_hash) == Some(shared) {
            match learned.iter().find(|(was, _)| Arc::ptr_eq(was, e)) {
                Some((_, new)) => *e = new.clone(),
                None => {
                    let new = Arc::new(Event { bucket_owner: Some(owner.to_string()), ..(**e).clone() });
                    learned.push((std::mem::replace(e, new.clone()), new));
                }
            }
        }
    }
}

/// How well a copy names its caller: the caller's own copy (with an ARN) beats the bucket
/// owner's `AWSAccount` copy.
pub fn naming_rank(e: &Event) -> u8 {
    rank(e.identity_arn.is_some(), &e.principal_type)
}

fn rank(has_arn: bool, principal_type: &str) -> u8 {
    u8::from(has_arn) * 2 + u8::from(principal_type != "AWSAccount")
}

/// The hash that pairs a write with the KMS call S3 made for it: of the object ARN (a target's
/// bucket and key; a KMS call's `aws:s3:arn` encryption context).
pub fn pair_hash(object_arn: Option<&str>) -> u64 {
    object_arn.map_or(u64::MAX, |a| xxhash_rust::xxh3::xxh3_64(a.as_bytes()))
}

/// [`pair_hash`] of a target's [`Event::object_arn`], without building the ARN.
fn object_pair_hash(e: &EventRef) -> u64 {
    let Some(parts) = e.object_arn_parts() else { return pair_hash(None) };
    hashed(|b| parts.iter().for_each(|p| b.extend_from_slice(p.as_bytes())), xxhash_rust::xxh3::xxh3_64)
}

/// The order samples are kept in (smallest first): the pair hash, then the identity.
pub fn sample_key(pair: u64, id: Identity) -> u128 {
    ((pair as u128) << 64) | (id as u64 as u128)
}

fn shared_hash(s: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(s.as_bytes())
}

/// Appends optional text with a presence byte and a terminator, so fields cannot run together.
fn put(h: &mut Vec<u8>, v: Option<&str>) {
    put_bytes(h, v.map(str::as_bytes));
}

fn put_bytes(h: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => {
            h.push(1);
            h.extend_from_slice(v);
            h.push(0xff);
        }
        None => h.push(0),
    }
}

/// [`put`] of `text` with every occurrence of each non-empty value replaced by its mark, one
/// value after the other (as successive `str::replace` would), without allocating.
fn put_masked(h: &mut Vec<u8>, text: Option<&str>, masks: &[(Option<&str>, &str)]) {
    let Some(text) = text else { return put(h, None) };
    MASKED.with_borrow_mut(|(from, to)| {
        // The text is read where it is until a mask replaces something in it.
        let mut masked = false;
        for (value, mark) in masks {
            let Some(value) = value.filter(|v| !v.is_empty()) else { continue };
            let current: &[u8] = if masked { from } else { text.as_bytes() };
            to.clear();
            let mut copied = 0;
            for at in occurrences(current, value.as_bytes()) {
                to.extend_from_slice(&current[copied..at]);
                to.extend_from_slice(mark.as_bytes());
                copied = at + value.len();
            }
            if copied == 0 {
                continue;
            }
            to.extend_from_slice(&current[copied..]);
            std::mem::swap(from, to);
            masked = true;
        }
        put_bytes(h, Some(if masked { from } else { text.as_bytes() }));
    });
}

/// Where `needle` (not empty) starts in `hay`, left to right and without overlaps, as
/// `str::replace` finds it. The texts are a few hundred bytes and the needle (a key, a session
/// name) changes with every record: a searcher is built per call, so it must cost next to
/// nothing to build. memchr's packed-pair search, given the needle's first and last bytes,
/// costs a few instructions to set up and tests 32 positions at a time; a `memmem::Finder`
/// (which ranks the needle's bytes) cost more than the search, and a scan for the first byte
/// alone stopped at every `e` of an English message.
fn occurrences<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    #[cfg(target_arch = "x86_64")]
    let pair = u8::try_from(needle.len() - 1)
        .ok()
        .and_then(|last| memchr::arch::all::packedpair::Pair::with_indices(needle, 0, last))
        .and_then(|pair| memchr::arch::x86_64::avx2::packedpair::Finder::with_pair(needle, pair));
    let mut from = 0;
    std::iter::from_fn(move || {
        #[cfg(target_arch = "x86_64")]
        if let Some(finder) = &pair
            && hay.len() - from.min(hay.len()) >= finder.min_haystack_len()
        {
            let at = from + finder.find(&hay[from..], needle)?;
            from = at + needle.len();
            return Some(at);
        }
        while from + needle.len() <= hay.len() {
            let last_start = hay.len() - needle.len();
            let at = from + memchr::memchr(needle[0], &hay[from..=last_start])?;
            if hay[at..].starts_with(needle) {
                from = at + needle.len();
                return Some(at);
            }
            from = at + 1;
        }
        None
    })
}

thread_local! {
    /// The bytes hashed, reused: one-shot hashing of a buffer is many times faster than
    /// feeding a streaming hasher sixty small fields.
    static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The user agents [`fields`] read, with their [`crate::diagnose::text_marks`] ([`agent_marks`]),
    /// and the entry the next new one replaces once [`AGENTS_KEPT`] are held.
    static AGENTS: std::cell::RefCell<AgentsKept> = const { std::cell::RefCell::new((Vec::new(), 0)) };
    /// The text before and after one replacement of [`put_masked`], reused.
    static MASKED: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

fn hashed<T>(fill: impl FnOnce(&mut Vec<u8>), hash: impl FnOnce(&[u8]) -> T) -> T {
    BYTES.with(|b| {
        let mut b = b.borrow_mut();
        b.clear();
        fill(&mut b);
        hash(&b)
    })
}

/// A denial's identity: `eventID` and every field but the log object it was read from.
pub fn identity(e: &Event) -> Identity {
    hashes(&e.view()).0
}

/// The diagnosis class: the fields the rules read, with per-request values reduced to what
/// the rules see in them.
pub fn class_of(e: &Event) -> u64 {
    hashes(&e.view()).1
}

/// [`identity`] and [`class_of`]. The fields both read are written and hashed once (128 bits),
/// and that hash stands for them in both: the identity hashes the `eventID`, the per-request
/// fields and it; the class the per-request fields reduced, and it.
fn hashes(e: &EventRef) -> (Identity, u64) {
    let (identity, class, _) = hashes_screening(e, false);
    (identity, class)
}

/// [`hashes`], and when `screen`, whether the text they were written from may hold a secret
/// ([`crate::redact::may_hold_secret`]): the shared and per-request parts hold every text field
/// read from the record, each written whole.
fn hashes_screening(e: &EventRef, screen: bool) -> (Identity, u64, bool) {
    let screened = |b: &[u8]| screen && crate::redact::may_hold_secret(b);
    let (shared, mut secret) = hashed(
        |b| fields(e, b, Part::Shared),
        |b| {
            let hash = xxhash_rust::xxh3::xxh3_128(b);
            (hash, screen && !screened_clean(hash, b))
        },
    );
    let shared = shared.to_le_bytes();
    let (identity, per_request_secret) = hashed(
        |b| {
            put(b, Some(&e.event_id));
            fields(e, b, Part::PerRequest);
            b.extend_from_slice(&shared);
        },
        |b| (xxhash_rust::xxh3::xxh3_128(b), screened(b)),
    );
    secret |= per_request_secret;
    let class = hashed(
        |b| {
            fields(e, b, Part::Reduced);
            b.extend_from_slice(&shared);
        },
        xxhash_rust::xxh3::xxh3_64,
    );
    (identity, class, secret)
}

/// Whether the shared part of an event's text (`bytes`, hashed `hash`) holds no secret: screened
/// ([`crate::redact::may_hold_secret`]), or equal byte for byte to one found clean before. In an
/// outage a few dozen shared parts (a group's caller, bucket, client and TLS settings) recur
/// among a million denials: each is screened once per thread; the hash only picks the entry,
/// the bytes decide.
fn screened_clean(hash: u128, bytes: &[u8]) -> bool {
    CLEAN_SHARED.with_borrow_mut(|clean| {
        let entry = &mut clean[hash as usize % CLEAN_ENTRIES];
        if entry.as_slice() == bytes {
            return true;
        }
        if crate::redact::may_hold_secret(bytes) {
            return false;
        }
        if bytes.len() <= CLEAN_MAX {
            entry.clear();
            entry.extend_from_slice(bytes);
        }
        true
    })
}

/// Shared parts found clean, kept per thread ([`screened_clean`]).
const CLEAN_ENTRIES: usize = 256;
/// A shared part longer than this (a policy document) is screened each time.
const CLEAN_MAX: usize = 4096;

thread_local! {
    static CLEAN_SHARED: std::cell::RefCell<Vec<Vec<u8>>> =
        std::cell::RefCell::new(vec![Vec::new(); CLEAN_ENTRIES]);
}

/// What the collector needs hashed from a denial, computed where the event is parsed (the
/// workers, in parallel) so the one collector thread only looks things up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys {
    pub identity: Identity,
    pub class: u64,
    /// [`pair_hash`] of the object.
    pub pair: u64,
    /// Of the group key (principal, bucket, prefix).
    pub group: u64,
}

impl Keys {
    /// The keys of a target or a sampled companion (a KMS or VPC endpoint denial); none for
    /// other companions.
    pub fn wanted(e: &Event) -> Keys {
        let companion = e.role == Some(crate::event::EventRole::Companion);
        if companion && crate::collect::Sampled::of(&e.view()).is_none() { Keys::default() } else { Keys::of(e) }
    }

    pub fn of(e: &Event) -> Keys {
        Keys::screening(&e.view(), false).0
    }

    /// [`Keys::of`] an event read but not yet redacted ([`crate::parse::extract::view`]),
    /// which is screened for secrets in the bytes its hashes are written from instead of in a
    /// text of its own ([`Event::screen_secrets`]). When there may be one, the event is copied,
    /// redacted and hashed again: the copy comes back, to be read instead of the view.
    pub fn of_screened(e: &EventRef) -> (Keys, Option<Event>) {
        match Keys::screening(e, true) {
            (keys, false) => (keys, None),
            (_, true) => {
                let mut redacted = e.to_event();
                redacted.redact_secrets();
                (Keys::of(&redacted), Some(redacted))
            }
        }
    }

    fn screening(e: &EventRef, screen: bool) -> (Keys, bool) {
        // A KMS call names the object in its encryption context; a VPC endpoint's event, like
        // a target, in its request.
        let pair = if e.role == Some(crate::event::EventRole::Companion)
            && !crate::diagnose::vpce_denial(e.error_code.as_deref())
        {
            pair_hash(e.kms_s3_arn.as_deref())
        } else {
            object_pair_hash(e)
        };
        let group = group_hash(&e.principal, e.bucket.as_deref().unwrap_or(""), &e.prefix);
        let (identity, class, secret) = hashes_screening(e, screen);
        (Keys { identity, class, pair, group }, secret)
    }
}

/// A group's key hashed in 128 bits: what names it in a spill file, where worker tallies'
/// numbers of their groups mean nothing.
fn group_key_hash(principal: &str, bucket: &str, prefix: &str) -> u128 {
    hashed(|b| put_group_key(b, [principal, bucket, prefix]), xxhash_rust::xxh3::xxh3_128)
}

/// [`Keys::group`]: the group's look-up in one tally.
fn group_hash(principal: &str, bucket: &str, prefix: &str) -> u64 {
    hashed(|b| put_group_key(b, [principal, bucket, prefix]), xxhash_rust::xxh3::xxh3_64)
}

fn put_group_key(b: &mut Vec<u8>, key: [&str; 3]) {
    for v in key {
        put(b, Some(v));
    }
}

/// Which fields of a denial [`fields`] writes.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    /// The per-request values (IDs, time, key, session, source IP, user agent, message) whole.
    PerRequest,
    /// The per-request values replaced by what the rules look at in them.
    Reduced,
    /// Every other field but `event_id` and `source_object`.
    Shared,
}

/// Writes one [`Part`] of `e`. The destructuring is exhaustive: a new field must be placed here.
fn fields(e: &EventRef, h: &mut Vec<u8>, part: Part) {
    let EventRef {
        event_id: _,
        source_object: _,
        shared_event_id,
        request_id,
        event_time_ms,
        event_source,
        event_name,
        event_category,
        event_type,
        aws_region,
        error_code,
        error_message,
        source_ip,
        user_agent,
        recipient_account,
        principal,
        principal_type,
        identity_arn,
        account,
        principal_id,
        access_key_id,
        invoked_by,
        session_issuer_arn,
        session_issuer_type,
        session_name,
        mfa_authenticated,
        on_behalf_of_user_id,
        bucket,
        key,
        prefix,
        bucket_owner,
        access_point_arn,
        host,
        acl,
        grants,
        sse,
        sse_kms_key_id,
        sse_customer_algorithm,
        object_lock,
        expected_bucket_owner,
        request_payer,
        signature_version,
        auth_method,
        cipher_suite,
        tls_version,
        tls_cipher_suite,
        vpc_endpoint_id,
        vpc_endpoint_account,
        kms_key_arn,
        kms_s3_arn,
        issued_access_key_id,
        assumed_role_arn,
        session_policy,
        changed_resource,
        policy_document,
        role,
    } = e;
    if part == Part::PerRequest {
        for v in [shared_event_id, request_id, source_ip, user_agent, principal_id, access_key_id, session_name, key] {
            put(h, v.as_deref());
        }
        put(h, error_message.as_deref());
        put(h, identity_arn.as_deref());
        h.extend_from_slice(&event_time_ms.map_or([0; 9], |t| {
            let mut b = [1; 9];
            b[1..].copy_from_slice(&t.to_le_bytes());
            b
        }));
    } else if part == Part::Reduced {
        let marks = |v: &Option<std::borrow::Cow<str>>| v.as_deref().map_or(0xff, crate::diagnose::text_marks);
        let agent_marks = user_agent.as_deref().map_or(0xff, agent_marks);
        h.extend_from_slice(&[marks(key), agent_marks, u8::from(shared_event_id.is_some())]);
        put(h, source_ip.as_deref().map(ip_kind));
        // ASIA… (temporary) or AKIA… (long-term): the rules read only the kind.
        put(h, access_key_id.as_deref().map(|k| k.get(..4).unwrap_or(k)));
        put(h, session_name.as_ref().map(|_| "session"));
        // The enhanced message quotes the object's ARN and the session's: what the rules read
        // in it is the rest.
        let (key, session) = (key.as_deref(), session_name.as_deref());
        put_masked(h, error_message.as_deref(), &[(key, "\u{0}key"), (session, "\u{0}session")]);
        put_masked(h, identity_arn.as_deref(), &[(session, "\u{0}session")]);
    }
    if part != Part::Shared {
        return;
    }
    for v in [event_source, event_name, principal, principal_type, prefix] {
        put(h, Some(v.as_ref()));
    }
    for v in [
        event_category,
        event_type,
        aws_region,
        error_code,
        recipient_account,
        account,
        invoked_by,
        session_issuer_arn,
        session_issuer_type,
        on_behalf_of_user_id,
        bucket,
        bucket_owner,
        access_point_arn,
        host,
        acl,
        grants,
        sse,
        sse_kms_key_id,
        sse_customer_algorithm,
        object_lock,
        expected_bucket_owner,
        request_payer,
        signature_version,
        auth_method,
        cipher_suite,
        tls_version,
        tls_cipher_suite,
        vpc_endpoint_id,
        vpc_endpoint_account,
        kms_key_arn,
        kms_s3_arn,
        issued_access_key_id,
        assumed_role_arn,
        session_policy,
        changed_resource,
        policy_document,
    ] {
        put(h, v.as_deref());
    }
    h.extend_from_slice(&[mfa_authenticated.map_or(2, u8::from), role.map_or(0, |r| r as u8 + 1)]);
}

/// User agents whose marks a thread keeps ([`agent_marks`]).
const AGENTS_KEPT: usize = 32;

/// The agents kept with their marks, and the one a new agent replaces when all are taken.
type AgentsKept = (Vec<(Box<str>, u8)>, usize);

/// [`crate::diagnose::text_marks`] of a user agent, checked once per thread while it is among
/// the last [`AGENTS_KEPT`] seen: a client sends the same one with each of its requests, and an
/// outage interleaves a handful of clients (a single last agent missed every other denial).
/// Agents of other lengths are passed over at the length.
fn agent_marks(agent: &str) -> u8 {
    AGENTS.with_borrow_mut(|(kept, next)| {
        if let Some((_, marks)) = kept.iter().find(|(a, _)| **a == *agent) {
            return *marks;
        }
        let marks = crate::diagnose::text_marks(agent);
        if kept.len() < AGENTS_KEPT {
            kept.push((agent.into(), marks));
        } else {
            kept[*next] = (agent.into(), marks);
            *next = (*next + 1) % AGENTS_KEPT;
        }
        marks
    })
}

/// What the network rules distinguish in a source IP.
fn ip_kind(ip: &str) -> &'static str {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) if v4.is_private() || v4.is_loopback() || v4.is_link_local() => "v4 private",
        Ok(std::net::IpAddr::V4(_)) => "v4",
        Ok(std::net::IpAddr::V6(_)) => "v6",
        Err(_) if ip.ends_with(".amazonaws.com") => "service",
        Err(_) => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventRole;

    use crate::testing::Rng;

    /// `n` denials over a few groups, with repeats, cross-account copies and many classes.
    fn denials(n: usize, seed: u64) -> Vec<Event> {
        let mut rng = Rng(seed);
        let mut out = Vec::new();
        for i in 0..n {
            let who = rng.below(3);
            let e = Event {
                event_id: format!("id-{i}"),
                event_time_ms: Some(1_700_000_000_000 + rng.below(7_200) as i64 * 1000),
                event_source: "s3.amazonaws.com".into(),
                event_name: ["PutObject", "UploadPart", "CopyObject"][rng.below(3) as usize].into(),
                error_code: Some("AccessDenied".into()),
                error_message: Some(format!("denied on arn:aws:s3:::b/p/k{i} variant {}", rng.below(40))),
                principal: format!("arn:aws:iam::111122223333:role/r{who}"),
                principal_type: "AssumedRole".into(),
                identity_arn: Some(format!("arn:aws:sts::111122223333:assumed-role/r{who}/s{}", rng.below(5))),
                session_name: Some(format!("s{}", rng.below(5))),
                principal_id: Some(format!("AROA:s{}", rng.below(50))),
                source_ip: Some(format!("10.0.{}.{}", rng.below(4), rng.below(250))),
                bucket: Some("b".into()),
                key: Some(format!("p/k{i}")),
                prefix: "p/".into(),
                role: Some(EventRole::Target),
                source_object: format!("file-{}", rng.below(9)),
                ..Event::default()
            };
            // A repeat of the same record from another log object.
            if rng.below(10) == 0 {
                out.push(Event { source_object: "another-file".into(), ..e.clone() });
            }
            out.push(e);
        }
        // The bucket owner's copy of a cross-account request, with and without its caller's.
        for (i, caller) in [(0, true), (1, false)] {
            let shared = format!("shared-{i}");
            out.push(Event {
                event_id: format!("owner-{i}"),
                shared_event_id: Some(shared.clone()),
                principal: "444455556666".into(),
                principal_type: "AWSAccount".into(),
                recipient_account: Some("999988887777".into()),
                bucket: Some("b".into()),
                role: Some(EventRole::Target),
                ..Event::default()
            });
            if caller {
                out.push(Event {
                    event_id: format!("caller-{i}"),
                    shared_event_id: Some(shared),
                    principal: "arn:aws:iam::444455556666:role/x".into(),
                    principal_type: "AssumedRole".into(),
                    identity_arn: Some("arn:aws:sts::444455556666:assumed-role/x/y".into()),
                    bucket: Some("b".into()),
                    role: Some(EventRole::Target),
                    ..Event::default()
                });
            }
        }
        out
    }

    /// What a report reads from tallies, in a comparable form.
    fn view(groups: &[GroupTally]) -> Vec<String> {
        let mut v: Vec<String> = groups
            .iter()
            .map(|g| {
                let ex: Vec<(String, u64)> =
                    g.exemplars().iter().map(|(e, w)| (e.event_id.clone(), (w * 1000.0) as u64)).collect();
                format!(
                    "{:?} {} {} {} {} {:?} {:?} {:?} {:?} {:?} {} {:?} {:?} {}",
                    g.key,
                    g.denied,
                    g.principal_type(),
                    g.bucket_owner(),
                    g.sample_event_id(),
                    g.first_seen,
                    g.last_seen,
                    g.keys.count(),
                    g.sessions.count(),
                    g.source_ips.count(),
                    g.operations.iter().cloned().collect::<Vec<_>>().join(","),
                    g.times().0.collect::<Vec<_>>(),
                    ex,
                    g.estimated()
                )
            })
            .collect();
        v.sort();
        v
    }

    fn tally(events: &[Event]) -> (Vec<GroupTally>, u64) {
        let mut d = Denials::new();
        for e in events {
            d.add(e);
        }
        d.finish()
    }

    #[test]
    fn any_order_gives_the_same_tallies() {
        let events = denials(3_000, 7);
        let (one, dup_one) = tally(&events);
        let mut shuffled = events.clone();
        let mut rng = Rng(99);
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let (two, dup_two) = tally(&shuffled);
        assert_eq!(view(&one), view(&two));
        assert_eq!(dup_one, dup_two);
        let total: u64 = one.iter().map(|g| g.denied).sum();
        assert_eq!(total + dup_one, events.len() as u64, "every record counted or dropped as a repeat");
        // The owner's copy with a caller is a repeat; the one without counts on its own.
        assert!(one.iter().any(|g| g.key.principal == "444455556666" && g.denied == 1));
        let caller = one.iter().find(|g| g.key.principal.ends_with("role/x")).unwrap();
        assert_eq!(caller.bucket_owner(), "999988887777", "the owner account learned from the owner's copy");
        // Its one denial is held once, by the uniform sample and its class alike, and learned
        // the owner wherever it is held.
        let held: Vec<&Arc<Event>> = caller.uniform.values().chain(held_by_classes(caller)).collect();
        assert_eq!(held.len(), 3);
        assert!(held.iter().all(|e| e.bucket_owner.as_deref() == Some("999988887777")));
    }

    /// The events a group's classes hold: each one's earliest, then its sample.
    fn held_by_classes(g: &GroupTally) -> impl Iterator<Item = &Arc<Event>> {
        g.classes.values().flat_map(|c| std::iter::once(&c.earliest.1).chain(c.sample.values()))
    }

    #[test]
    fn a_denial_kept_by_several_samples_is_held_once() {
        let events = denials(3_000, 5);
        let (groups, _) = tally(&events);
        // And once again when read back from a partial, which writes each holder's copy.
        let mut d = Denials::for_partial();
        for e in &events {
            d.add(e);
        }
        let mut back: Denials = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        back.reindex();
        let (read_back, _) = back.finish();
        assert_eq!(view(&read_back), view(&groups));
        for g in groups.iter().chain(&read_back) {
            let held: Vec<&Arc<Event>> = g.uniform.values().chain(held_by_classes(g)).collect();
            let mut copies: Vec<*const Event> = held.iter().map(|e| Arc::as_ptr(e)).collect();
            copies.sort_unstable();
            copies.dedup();
            let mut ids: Vec<&str> = held.iter().map(|e| e.event_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(copies.len(), ids.len(), "{:?}: one copy per denial held", g.key);
            assert!(held.len() > ids.len(), "{:?}: some denial is held by more than one sample", g.key);
        }
    }

    /// What `merge` does with shards' tallies: each settles its ledger, goes through the
    /// partial's encoding, and is absorbed with its ledger by a merge holding `limit` identities.
    fn merged_partials(parts: Vec<Denials>, limit: usize) -> Denials {
        let mut merged = Denials::merging(limit);
        for mut p in parts {
            let ledger = p.settle_ledger().unwrap();
            let records = ledger.records();
            let mut bytes = Vec::new();
            ledger.copy_to(&mut bytes).unwrap();
            let mut back: Denials = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            back.reindex();
            let mut r = &bytes[..];
            merged.absorb(back);
            merged.absorb_ledger((0..records).map(|_| Unchecked::read_from(&mut r))).unwrap();
            assert!(r.is_empty(), "the ledger's records, all read");
        }
        merged.settle_merged().unwrap();
        merged
    }

    #[test]
    fn shards_merge_into_the_state_one_scan_builds() {
        let mut events = denials(4_000, 11);
        // The bucket owner's copies read again from another object, maybe in another shard.
        let again: Vec<Event> = events
            .iter()
            .filter(|e| e.principal_type == "AWSAccount")
            .map(|e| Event { source_object: "owner-again".into(), ..e.clone() })
            .collect();
        events.extend(again);
        let (whole, dups) = tally(&events);
        for shards in [2u64, 3, 5] {
            // Objects go to shards by name, so a record and its repeat may land in two shards.
            let parts = || {
                let mut parts: Vec<Denials> = (0..shards).map(|_| Denials::for_partial()).collect();
                for e in &events {
                    let s = xxhash_rust::xxh3::xxh3_64(e.source_object.as_bytes()) % shards;
                    parts[s as usize].add(e);
                }
                parts
            };
            // As `merge` does, with the identities spilled past a limit.
            for limit in [0, 100, usize::MAX] {
                let (groups, merged_dups) = merged_partials(parts(), limit).finish();
                assert_eq!(view(&groups), view(&whole), "{shards} shards, limit {limit}");
                assert_eq!(merged_dups, dups, "{shards} shards, limit {limit}");
            }
        }
    }

    #[test]
    fn a_user_agent_checked_once_marks_every_class_it_is_in() {
        let with = |agent: &str| Event { user_agent: Some(agent.into()), ..Event::default() };
        let (plain, formula, escape) = (with("aws-cli/2"), with("=cmd|' /C calc'!A0 (x)"), with("curl\u{1b}[2J"));
        let first: Vec<u64> = [&plain, &formula, &escape].iter().map(|e| class_of(e)).collect();
        assert_eq!(first.iter().collect::<HashSet<_>>().len(), 3, "three payloads, three classes");
        // Repeated and interleaved, as one client's requests and another's arrive.
        for e in [&formula, &formula, &plain, &plain, &escape, &formula, &plain] {
            let i = [&plain, &formula, &escape].iter().position(|x| std::ptr::eq(*x, e)).unwrap();
            assert_eq!(class_of(e), first[i]);
        }
    }

    /// A shared part found clean is remembered by its bytes: another in the same entry (the
    /// hash is only the entry) is screened, and a secret never passes for a clean one.
    #[test]
    fn shared_parts_found_clean_are_compared_byte_for_byte() {
        let clean = b"\x01s3.amazonaws.com\xff\x01PutObject\xff".to_vec();
        let secret = b"\x01s3.amazonaws.com\xff\x01x?X-Amz-Signature=abc\xff".to_vec();
        assert!(screened_clean(7, &clean));
        assert!(screened_clean(7, &clean), "remembered");
        assert!(!screened_clean(7, &secret), "same entry, other bytes: screened");
        assert!(screened_clean(7, &clean), "the clean one is still remembered");
        let mut longer = clean.clone();
        longer.extend(std::iter::repeat_n(b'a', CLEAN_MAX));
        assert!(screened_clean(8, &longer) && screened_clean(8, &longer));
    }

    #[test]
    fn occurrences_are_the_matches_replace_finds() {
        // Every text of up to 7 bytes over an alphabet where needles overlap themselves, and
        // needles whose least common byte is first, inside or last.
        let alphabet = [b'a', b'b', b'=', b'1'];
        let needles: [&[u8]; 8] = [b"a", b"=", b"ab", b"a=", b"=a", b"a=a", b"aa", b"1=1"];
        let mut level = vec![Vec::new()];
        for _ in 0..7 {
            level = level.iter().flat_map(|t: &Vec<u8>| alphabet.map(|c| [t.as_slice(), &[c]].concat())).collect();
            for text in &level {
                let text = std::str::from_utf8(text).unwrap();
                for needle in needles {
                    let needle = std::str::from_utf8(needle).unwrap();
                    let want: Vec<usize> = text.match_indices(needle).map(|(i, _)| i).collect();
                    let got: Vec<usize> = occurrences(text.as_bytes(), needle.as_bytes()).collect();
                    assert_eq!(got, want, "{text:?} {needle:?}");
                }
            }
        }
        // Texts long enough for the packed-pair search, needles taken from them (of 2 to 300
        // bytes) or made of their alphabet, so that matches overlap, repeat and end the text.
        let mut rng = Rng(11);
        for _ in 0..3000 {
            let len = 1 + rng.below(400) as usize;
            let letters = 1 + rng.below(4) as usize;
            let text: String = (0..len).map(|_| (b'a' + rng.below(letters as u64) as u8) as char).collect();
            let needle = if rng.below(2) == 0 {
                let from = rng.below(len as u64) as usize;
                text[from..(from + 2 + rng.below(300) as usize).min(len)].to_string()
            } else {
                (0..1 + rng.below(6)).map(|_| (b'a' + rng.below(letters as u64) as u8) as char).collect()
            };
            let want: Vec<usize> = text.match_indices(needle.as_str()).map(|(i, _)| i).collect();
            let got: Vec<usize> = occurrences(text.as_bytes(), needle.as_bytes()).collect();
            assert_eq!(got, want, "{text:?} {needle:?}");
        }
    }

    /// The marks of user agents kept per thread are theirs, however many agents come and go.
    #[test]
    fn agent_marks_are_the_agents_own() {
        let agents: Vec<String> = (0..3 * AGENTS_KEPT)
            .map(|i| match i % 3 {
                0 => format!("aws-cli/2.{i}"),
                1 => format!("=cmd|{i}"),
                _ => format!("x\u{1b}[{i}m"),
            })
            .collect();
        for round in 0..3 {
            for (i, agent) in agents.iter().enumerate().filter(|(i, _)| i % (round + 1) == 0) {
                assert_eq!(agent_marks(agent), crate::diagnose::text_marks(agent), "{i}: {agent:?}");
            }
        }
    }

    /// Masking writes what successive `str::replace` calls give, overlaps and repeats included.
    #[test]
    fn masking_equals_successive_replaces() {
        let cases: [(&str, Option<&str>, Option<&str>); 11] = [
            ("on resource: \"arn:aws:s3:::b/k/x.bin\" sess s", Some("k/x.bin"), Some("sess")),
            ("aaaa", Some("aa"), Some("a")),
            ("no match here", Some("zz"), Some("yy")),
            ("kk", Some("k"), Some("\u{0}k")),
            ("session inside key: k-sess", Some("k-sess"), Some("sess")),
            ("", Some("k"), None),
            ("x", Some(""), Some("")),
            ("ab", Some("abc"), None),
            ("xababab", Some("bab"), None),
            ("ends with the key", Some("key"), Some("ends")),
            ("kkkk-sess", Some("kk"), Some("k-s")),
        ];
        for (text, key, session) in cases {
            let mut want = text.to_string();
            for (v, mark) in [(key, "\u{0}key"), (session, "\u{0}session")] {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    want = want.replace(v, mark);
                }
            }
            let mut expected = Vec::new();
            put(&mut expected, Some(&want));
            let mut got = Vec::new();
            put_masked(&mut got, Some(text), &[(key, "\u{0}key"), (session, "\u{0}session")]);
            assert_eq!(got, expected, "{text:?}");
        }
        let mut none = Vec::new();
        put_masked(&mut none, None, &[(Some("k"), "m")]);
        assert_eq!(none, [0]);
    }

    #[test]
    fn object_pairs_hash_as_their_arn() {
        for (bucket, key) in [(Some("b"), Some("k/x")), (Some("b"), None), (None, Some("k")), (None, None)] {
            let e = Event { bucket: bucket.map(str::to_string), key: key.map(str::to_string), ..Event::default() };
            assert_eq!(object_pair_hash(&e.view()), pair_hash(e.object_arn().as_deref()), "{bucket:?} {key:?}");
        }
    }

    /// The workers' tallies (one per thread, sharing the identities counted), absorbed at the
    /// end, give one scan's state; within a shard too, whose merge then still matches.
    #[test]
    fn worker_tallies_absorb_into_the_state_one_collector_builds() {
        let events = denials(4_000, 13);
        let (whole, dups) = tally(&events);
        // A shard's ledger too, in memory or spilled past a limit (with repeats to find there).
        for ledger in [None, Some(0), Some(64), Some(usize::MAX)] {
            for workers in [2u64, 3] {
                let seen = ledger.map_or_else(Seen::new, Seen::ledger);
                let mut parts: Vec<Denials> = (0..workers).map(|_| Denials::sharing(seen.clone())).collect();
                for e in &events {
                    let w = xxhash_rust::xxh3::xxh3_64(e.source_object.as_bytes()) % workers;
                    parts[w as usize].add(e);
                }
                let mut merged = Denials::sharing(seen.clone());
                for p in parts {
                    merged.absorb(p);
                }
                assert_eq!(merged.keeps_ledger(), ledger.is_some());
                let merged = match ledger {
                    // The shard's merge, alone: its ledger takes its repeats back.
                    Some(_) => merged_partials(vec![merged], 0),
                    None => merged,
                };
                let (groups, merged_dups) = merged.finish();
                assert_eq!(view(&groups), view(&whole), "{workers} workers, ledger {ledger:?}");
                assert_eq!(merged_dups, dups, "{workers} workers, ledger {ledger:?}");
            }
        }
    }

    #[test]
    fn past_the_identities_limit_repeats_are_still_dropped_exactly() {
        let mut events = denials(4_000, 17);
        // Repeats far from their first copy too, and a whole log object read twice.
        let mut rng = Rng(5);
        for i in (1..events.len()).rev() {
            events.swap(i, rng.below(i as u64 + 1) as usize);
        }
        // The bucket owner's copies of cross-account requests too (held provisionally).
        let again: Vec<Event> = events
            .iter()
            .filter(|e| e.source_object == "file-3" || e.principal_type == "AWSAccount")
            .cloned()
            .collect();
        events.extend(again);
        let (whole, dups) = tally(&events);
        assert!(dups > 400, "{dups} repeats");
        for limit in [0, 64, 1_000, usize::MAX] {
            for workers in [1u64, 3] {
                let seen = Seen::with_limit(limit);
                let mut parts: Vec<Denials> = (0..workers).map(|_| Denials::sharing(seen.clone())).collect();
                for (i, e) in events.iter().enumerate() {
                    parts[i % workers as usize].add(e);
                }
                let mut merged = Denials::new();
                for p in parts {
                    merged.absorb(p);
                }
                let (held, spilled) = seen.held();
                assert!(held <= limit.div_ceil(64).max(1).saturating_mul(64), "{held} held, limit {limit}");
                assert_eq!(spilled, limit < 4_000, "limit {limit}");
                seen.repeats(|r| merged.retract_repeat(r)).unwrap();
                let (groups, merged_dups) = merged.finish();
                assert_eq!(view(&groups), view(&whole), "limit {limit}, {workers} workers");
                assert_eq!(merged_dups, dups, "limit {limit}, {workers} workers");
            }
        }
    }

    /// Cross-account requests: owners' copies (some read twice, some with a second, better
    /// named weak copy), most with their callers' copies, in any order.
    fn cross_account(requests: usize, seed: u64) -> Vec<Event> {
        let mut rng = Rng(seed);
        let mut out = Vec::new();
        for i in 0..requests {
            let shared = format!("shared-{i}");
            let owner = Event {
                event_id: format!("owner-{i}"),
                event_time_ms: Some(1_700_000_000_000 + i as i64 * 1_000),
                shared_event_id: Some(shared.clone()),
                principal: "777788889999".into(),
                principal_type: "AWSAccount".into(),
                // Each bucket has one owner, which its owner's copies name.
                recipient_account: Some(format!("44445555{:04}", i % 5)),
                bucket: Some(format!("bucket-{}", i % 5)),
                key: Some(format!("k/{i}")),
                error_message: Some(format!("Access Denied {}", i % 3)),
                role: Some(EventRole::Target),
                ..Event::default()
            };
            if rng.below(8) == 0 {
                out.push(Event { source_object: "again".into(), ..owner.clone() });
            }
            if rng.below(10) == 0 {
                let better = Event {
                    event_id: format!("owner-{i}-b"),
                    principal_type: "AssumedRole".into(),
                    principal: "arn:aws:iam::777788889999:role/p".into(),
                    ..owner.clone()
                };
                out.push(better);
            }
            if rng.below(4) != 0 {
                out.push(Event {
                    event_id: format!("caller-{i}"),
                    principal: "arn:aws:iam::777788889999:role/partner".into(),
                    principal_type: "AssumedRole".into(),
                    identity_arn: Some("arn:aws:sts::777788889999:assumed-role/partner/s".into()),
                    recipient_account: Some("777788889999".into()),
                    ..owner.clone()
                });
            }
            out.push(owner);
        }
        for i in (1..out.len()).rev() {
            out.swap(i, rng.below(i as u64 + 1) as usize);
        }
        out
    }

    /// Past the waiting copies' limit, the owners' and callers' copies written out settle as
    /// those held do: the same groups, repeats, withdrawn copies and learned owners.
    #[test]
    fn cross_account_copies_past_the_limit_settle_as_in_memory() {
        let events = cross_account(3_000, 23);
        // Everything the report reads but which exemplars stand for each class: a weaker copy
        // spilled is withdrawn at the end, where one held is withdrawn when the better copy
        // comes, and a sample may refill in between; each class still weighs the same.
        let view = |groups: &[GroupTally]| -> Vec<String> {
            let mut v: Vec<String> = groups
                .iter()
                .map(|g| {
                    let whole = view(std::slice::from_ref(g)).remove(0);
                    let mut classes: Vec<(u64, u64)> = g.classes.iter().map(|(k, c)| (*k, c.weight)).collect();
                    classes.sort_unstable();
                    let cut = whole.find(" [(\"").unwrap_or(whole.len());
                    format!("{} {} {:?}", &whole[..cut], g.estimated(), classes)
                })
                .collect();
            v.sort();
            v
        };
        let outcome = |mut d: Denials| {
            d.settle_pending().unwrap();
            let s = d.settle();
            // A set, as the tap takes it: a repeat counted unchecked may be withdrawn twice.
            let mut withdrawn = s.withdrawn.clone();
            withdrawn.sort_unstable();
            withdrawn.dedup();
            let learned: Vec<Option<String>> =
                (0..3_000).map(|i| s.owners.of(&format!("shared-{i}")).map(str::to_string)).collect();
            (view(&s.groups), s.duplicates, withdrawn, learned)
        };
        type Outcome = (Vec<String>, u64, Vec<Identity>, Vec<Option<String>>);
        let same = |got: &Outcome, want: &Outcome, at: &str| {
            assert_eq!((got.1, got.2.len()), (want.1, want.2.len()), "repeats and withdrawn, {at}");
            assert!(got.2 == want.2, "the same copies withdrawn, {at}");
            assert!(got.3 == want.3, "the same owners learned, {at}");
            assert_eq!(got.0.len(), want.0.len(), "{at}");
            for (g, w) in got.0.iter().zip(&want.0) {
                let d = g.bytes().zip(w.bytes()).position(|(a, b)| a != b).unwrap_or(g.len().min(w.len()));
                let near = |t: &str| t.chars().skip(d.saturating_sub(80)).take(240).collect::<String>();
                assert!(g == w, "{at}: {} against {}", near(g), near(w));
            }
        };
        let mut whole = Denials::new();
        for e in &events {
            whole.add(e);
        }
        let whole = outcome(whole);
        assert!(whole.1 > 2_000, "{} copies withdrawn or repeated", whole.1);
        assert!(whole.3.iter().filter(|o| o.is_some()).count() > 2_000);
        // Against the same workers and set of identities holding every waiting copy: the spill
        // alone changes nothing. (With the identities' set limited, a repeated owner's copy is
        // counted unchecked and may weigh the exemplars differently than an exact set does.)
        for seen_limit in [usize::MAX, 64] {
            for workers in [1u64, 3] {
                let run = |limit: usize| {
                    let (seen, pending) = (Seen::with_limit(seen_limit), Pending::with_limit(limit));
                    let with_pending = || {
                        let mut d = Denials::sharing(seen.clone());
                        d.pending_in(pending.clone());
                        d
                    };
                    let mut parts: Vec<Denials> = (0..workers).map(|_| with_pending()).collect();
                    for (i, e) in events.iter().enumerate() {
                        parts[i % workers as usize].add(e);
                    }
                    let mut merged = with_pending();
                    for p in parts {
                        merged.absorb(p);
                    }
                    assert_eq!(pending.spilled(), limit < 3_000, "limit {limit}");
                    seen.repeats(|r| merged.retract_repeat(r)).unwrap();
                    outcome(merged)
                };
                let held = run(usize::MAX);
                if seen_limit == usize::MAX {
                    same(&held, &whole, &format!("{workers} workers, every copy held"));
                }
                for limit in [0, 7, 500] {
                    same(&run(limit), &held, &format!("limit {limit}, {workers} workers, identities {seen_limit}"));
                }
            }
        }
    }

    /// A group of many classes, one of them half the denials: past the class budget the
    /// diagnosis' weights still give that class about half, whichever classes the hash keeps
    /// (each salt changes every class hash). A sample of classes gave it 0 or nearly all.
    #[test]
    fn estimated_shares_follow_the_denials_not_the_classes() {
        for salt in 0..6 {
            let mut rng = Rng(salt + 1);
            let events: Vec<Event> = (0..8_000)
                .map(|i| {
                    let variant = if rng.below(2) == 0 { 0 } else { 1 + rng.below(39) };
                    Event {
                        event_id: format!("id-{i}"),
                        event_time_ms: Some(1_700_000_000_000 + i as i64 * 1000),
                        event_source: "s3.amazonaws.com".into(),
                        event_name: "PutObject".into(),
                        error_message: Some(format!("salt {salt} variant {variant}")),
                        principal: "p".into(),
                        bucket: Some("b".into()),
                        key: Some(format!("k{i}")),
                        role: Some(EventRole::Target),
                        ..Event::default()
                    }
                })
                .collect();
            let (groups, _) = tally(&events);
            let [g] = &groups[..] else { panic!("one group") };
            assert!(!g.diagnosis_complete(), "40 classes are past the budget");
            let ex = g.exemplars();
            let total: f64 = ex.iter().map(|(_, w)| w).sum();
            let heavy: f64 = ex
                .iter()
                .filter(|(e, _)| e.error_message.as_deref().is_some_and(|m| m.ends_with(" variant 0")))
                .map(|(_, w)| w)
                .sum();
            assert!((total - 8_000.0).abs() < 1e-6, "the weights stand for every denial: {total}");
            let share = heavy / total;
            assert!((share - 0.5).abs() < 0.1, "salt {salt}: the heavy class has {share:.2} of the weight");
        }
    }

    #[test]
    fn large_groups_stay_bounded_and_say_what_is_estimated() {
        let events = denials(20_000, 3);
        let (groups, _) = tally(&events);
        for g in &groups {
            assert!(g.classes.len() <= CLASSES);
            assert!(g.exemplars().len() <= CLASSES * (PER_CLASS + 1));
            let weights: f64 = g.exemplars().iter().map(|(_, w)| w).sum();
            assert!(weights <= g.denied as f64 + 1e-6);
        }
        let big = groups.iter().max_by_key(|g| g.denied).unwrap();
        assert!(big.denied > 6_000);
        let (keys, estimated) = big.keys.count();
        assert!(estimated, "{} distinct keys are past the exact limit", big.denied);
        let err = (keys as f64 - big.denied as f64).abs() / big.denied as f64;
        assert!(err < 0.03, "keys {keys} for {} distinct: {err}", big.denied);
        assert!(big.estimated().contains("keys") && big.estimated().contains("causes"), "{}", big.estimated());
        assert_eq!(big.sessions.count(), (50, false), "few sessions stay exact");
    }

    #[test]
    fn a_long_trail_floors_its_times_the_same_way_in_one_scan_and_in_shards() {
        let events: Vec<Event> = (0..40_000)
            .map(|i| Event {
                event_id: format!("t{i}"),
                event_time_ms: Some(1_700_000_000_000 + i * 7_000),
                principal: "p".into(),
                role: Some(EventRole::Target),
                ..Event::default()
            })
            .collect();
        let (whole, _) = tally(&events);
        let g = &whole[0];
        assert!(g.resolution() >= 60_000, "{}", g.resolution());
        assert!(g.times.len() <= TIME_SLOTS);
        assert_eq!(g.times().0.map(|(_, n)| n).sum::<u64>(), 40_000, "no denial lost to flooring");
        let mut parts = vec![Denials::for_partial(), Denials::for_partial()];
        for (i, e) in events.iter().enumerate().rev() {
            parts[i % 2].add(e);
        }
        let (m, _) = merged_partials(parts, 0).finish();
        assert_eq!(view(&m), view(&whole));
        assert_eq!(m[0].resolution(), g.resolution());
    }

    #[test]
    fn a_sketch_is_the_same_whatever_the_order_and_split() {
        let values: Vec<String> = (0..10_000).map(|i| format!("v{i}")).collect();
        let mut one = Distinct::default();
        for v in &values {
            one.insert(v);
        }
        let (mut a, mut b) = (Distinct::default(), Distinct::default());
        for (i, v) in values.iter().enumerate().rev() {
            if i % 3 == 0 { a.insert(v) } else { b.insert(v) }
        }
        a.absorb(b);
        assert_eq!(one.count(), a.count());
        assert!(one.count().1);
        let mut small = Distinct::default();
        for v in &values[..100] {
            small.insert(v);
            small.insert(v);
        }
        assert_eq!(small.count(), (100, false));
    }

    #[test]
    fn classes_ignore_what_differs_per_request_only() {
        let a = &denials(1, 5)[0];
        let mut b = a.clone();
        b.event_id = "other".into();
        b.key = Some("p/other".into());
        b.error_message = a.error_message.as_ref().map(|m| m.replace("p/k0", "p/other"));
        b.event_time_ms = Some(5);
        assert_eq!(class_of(a), class_of(&b));
        assert_ne!(identity(a), identity(&b));
        let mut hostile = b.clone();
        hostile.user_agent = Some("curl\u{1b}]0;x".into());
        assert_ne!(class_of(&b), class_of(&hostile), "a payload in the user agent is its own class");
        let mut probe = b.clone();
        probe.key = Some("p/shell.php".into());
        assert_ne!(class_of(&b), class_of(&probe));
        let mut copy = a.clone();
        copy.source_object = "elsewhere".into();
        assert_eq!(identity(a), identity(&copy), "the log object is not part of a record");
    }
}
