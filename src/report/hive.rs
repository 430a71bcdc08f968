//! `--events-out`, streamed: the events table written as events come, never held whole.
//!
//! A directory (a path ending in `/`, or one that exists) or `s3://bucket/prefix/` gets
//! Hive-partitioned Parquet, `recipient_account=…/aws_region=…/date=…/part-<shard>-<run>-<seq>.parquet`,
//! with the partition values taken out of the rows (Hive's convention). The partition columns
//! keep the names they have in the events table, so a query means the same against one file
//! and against the partitioned set (the table's own `account` is the caller's account).
//! Any other path gets one Parquet file, one row group per flush.
//!
//! Rows wait in one buffer per partition, written out when the buffer reaches [`Limits::rows`],
//! or, when all buffers together pass [`Limits::bytes`], the largest first. A local file
//! appears whole (a temporary name, renamed; Ctrl-C removes it); an S3 object is one PutObject
//! of a finished file.
//!
//! A denial is written when it is counted, and past the identities' limit a repeat is counted
//! unchecked, found only at the end ([`denytrail_core::tally::Seen`]). So each counted row's identity
//! and place go to a temporary file (28 bytes a row), and [`EventsOut::finish`] rewrites the
//! few files that hold a second copy of a repeat, without it. Repeats are rare (a log object
//! read twice, an event delivered again): a normal scan rewrites nothing.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::{BooleanChunked, DataFrame, NewChunkedArray, ParquetReader, ParquetWriter, SerReader};

use super::frame::{approx_bytes, events_frame};
use super::write::write_parquet;
use crate::aws::AwsOptions;
use crate::event::Event;
use crate::shard::Shard;
use crate::sink::{Body, Bucket, PendingFile, write_file};
use denytrail_core::tally::{Identity, rewound, spill_file};

/// The directory name Hive, Spark, Athena and DuckDB use for a missing value.
pub const DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";
/// The partition columns, in directory order: two columns of the events table, and the UTC day
/// of `event_time`.
pub const PARTITION_COLUMNS: [&str; 3] = ["recipient_account", "aws_region", "date"];
/// Escaped values longer than this go to the default partition: a directory name has a limit,
/// and the real values (account ids, regions) are short.
const MAX_VALUE: usize = 128;
const PARQUET: &str = "application/vnd.apache.parquet";

/// When buffered rows are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rows of one partition (one file, or one row group of a single file).
    pub rows: usize,
    /// All buffers together, as counted by [`approx_bytes`].
    pub bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { rows: 65_536, bytes: 32 << 20 }
    }
}

/// Where `--events-out` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Hive-partitioned, under a local directory.
    Dir(PathBuf),
    /// Hive-partitioned, under `s3://bucket/prefix` (`prefix` is empty or ends in `/`).
    S3Prefix { bucket: String, prefix: String },
    /// One Parquet file.
    File(PathBuf),
    /// One Parquet object.
    S3File { bucket: String, key: String },
}

impl Target {
    pub fn parse(path: &Path) -> Result<Target, String> {
        let text = path.to_string_lossy();
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("'{text}' names no bucket: give s3://bucket/prefix/ or s3://bucket/key.parquet"));
            }
            return Ok(if key.is_empty() || key.ends_with('/') {
                Target::S3Prefix { bucket: bucket.into(), prefix: key.into() }
            } else {
                Target::S3File { bucket: bucket.into(), key: key.into() }
            });
        }
        Ok(if text.ends_with('/') || path.is_dir() {
            Target::Dir(path.to_path_buf())
        } else {
            Target::File(path.to_path_buf())
        })
    }

    /// How messages name it.
    pub fn name(&self) -> String {
        match self {
            Target::Dir(p) | Target::File(p) => p.display().to_string(),
            Target::S3Prefix { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
            Target::S3File { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    pub fn is_partitioned(&self) -> bool {
        matches!(self, Target::Dir(_) | Target::S3Prefix { .. })
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsSummary {
    /// Files (or objects) written.
    pub files: u64,
    /// Row groups written: one per file when partitioned.
    pub row_groups: u64,
    pub rows: u64,
    /// Distinct partitions written (0 for a single file).
    pub partitions: u64,
}

/// One partition's escaped values, in [`PARTITION_COLUMNS`] order; all empty for a single file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Partition([String; 3]);

impl Partition {
    fn of(e: &Event) -> Partition {
        let date = e.event_time_ms.and_then(DateTime::<Utc>::from_timestamp_millis).map(|t| t.format("%Y-%m-%d"));
        let date = date.map(|d| d.to_string());
        Partition([
            partition_value(e.recipient_account.as_deref()),
            partition_value(e.aws_region.as_deref()),
            partition_value(date.as_deref()),
        ])
    }

    /// `recipient_account=…/aws_region=…/date=…`
    fn path(&self) -> String {
        PARTITION_COLUMNS.iter().zip(&self.0).map(|(c, v)| format!("{c}={v}")).collect::<Vec<_>>().join("/")
    }
}

/// A value as a directory name: Hive's `%XX` escape for every byte but ASCII letters, digits,
/// `.`, `_` and `-` (log text is untrusted: no `/` may make a new level); missing, empty or
/// over-long values are the default partition.
fn partition_value(v: Option<&str>) -> String {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return DEFAULT_PARTITION.into();
    };
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.len() > MAX_VALUE { DEFAULT_PARTITION.into() } else { out }
}

#[derive(Default)]
struct Buffer {
    /// The events in the batches they came in: an event is over 1 KB, and moving each into one
    /// growing vector cost more than writing it out.
    batches: Vec<Vec<Event>>,
    /// Each batch's identities, when counted ([`EventsOut::add_counted`]); else empty.
    identities: Vec<Vec<Identity>>,
    rows: usize,
    bytes: usize,
}

/// A part file written, for taking back the repeats found at the end (the single file's rows
/// are numbered across its row groups instead).
enum Written {
    /// Under a local directory.
    Local(PathBuf),
    /// Under the S3 prefix.
    Object(String),
}

/// A counted row's record: identity, file, row.
const ROW_RECORD: usize = 16 + 4 + 8;
/// Rows of a single file read back at once to rewrite it (the file may be large): a quarter of
/// a row group of [`Limits::default`], so the rewrite holds less than a flush did.
const REWRITE_ROWS: usize = 16_384;

/// A single file's bytes, shared between polars' writer and the commit at the end.
#[derive(Clone)]
struct Shared(Arc<Mutex<PendingFile>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).flush()
    }
}

enum Out {
    Dir(PathBuf),
    S3 {
        bucket: Bucket,
        prefix: String,
    },
    /// One file; `then` says where it goes once finished, when it is spooled till then.
    File {
        writer: Box<BatchedWriter<Shared>>,
        file: Shared,
        then: Option<Then>,
    },
}

/// Where a spooled single file goes once finished: it may be rewritten before (repeats), which
/// an S3 object or a descriptor (`/dev/stdout`, a pipe) cannot be.
enum Then {
    Upload(Bucket, String),
    Copy(PathBuf),
}

/// The streaming writer of `--events-out`: [`EventsOut::open`] before the scan, [`EventsOut::add`]
/// with each batch of kept events (from one thread), [`EventsOut::finish`] at the end.
pub struct EventsOut {
    target: Target,
    out: Out,
    limits: Limits,
    buffers: HashMap<Partition, Buffer>,
    buffered: usize,
    /// `part-<shard>-<run>`: shards, and runs, writing into one prefix never clash.
    stem: String,
    seq: u64,
    summary: EventsSummary,
    /// Every part file written, with its partition, and whether it is still there.
    written: Vec<(Written, Partition, bool)>,
    /// Where each counted row went ([`ROW_RECORD`]s), made with the first.
    rows_of: Option<BufWriter<File>>,
}

impl EventsOut {
    pub fn open(destination: &Path, aws: &AwsOptions, shard: Option<Shard>) -> Result<EventsOut> {
        Self::open_with(destination, aws, shard, Limits::default())
    }

    pub fn open_with(destination: &Path, aws: &AwsOptions, shard: Option<Shard>, limits: Limits) -> Result<EventsOut> {
        let target = Target::parse(destination).map_err(crate::plan::usage)?;
        let out = match &target {
            Target::Dir(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
                Out::Dir(dir.clone())
            }
            Target::S3Prefix { bucket, prefix } => {
                Out::S3 { bucket: Bucket::connect(aws, bucket, prefix, "the events")?, prefix: prefix.clone() }
            }
            Target::File(path) if PendingFile::in_place(path) => single_file(spool()?, Some(Then::Copy(path.clone())))?,
            Target::File(path) => single_file(PendingFile::create(path)?, None)?,
            Target::S3File { bucket, key } => {
                let bucket = Bucket::connect(aws, bucket, key, "the events")?;
                single_file(spool()?, Some(Then::Upload(bucket, key.clone())))?
            }
        };
        let run = Utc::now().format("%Y%m%dT%H%M%S%6fZ");
        let stem = format!("part-{:04}-{run}", shard.map_or(0, |s| s.index));
        let limits = Limits { rows: limits.rows.max(1), ..limits };
        Ok(EventsOut {
            target,
            out,
            limits,
            buffers: HashMap::new(),
            buffered: 0,
            stem,
            seq: 0,
            summary: EventsSummary::default(),
            written: Vec::new(),
            rows_of: None,
        })
    }

    /// Where the events go, for messages.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Buffers copies of `events`, writing out a partition when it is full or the budget is passed.
    pub fn add(&mut self, events: &[&Event]) -> Result<()> {
        self.add_owned(events.iter().map(|e| (*e).clone()).collect())
    }

    /// [`EventsOut::add`], taking the events.
    pub fn add_owned(&mut self, events: Vec<Event>) -> Result<()> {
        self.add_rows(events, Vec::new())
    }

    /// [`EventsOut::add_owned`] of denials as they are counted, each with its identity: of the
    /// identities [`EventsOut::finish`] is told were repeated, one row stays.
    pub fn add_counted(&mut self, events: Vec<Event>, identities: Vec<Identity>) -> Result<()> {
        anyhow::ensure!(events.len() == identities.len(), "an identity for each event");
        self.add_rows(events, identities)
    }

    /// Buffers `events` (with their identities, or none), writing out as they fill.
    fn add_rows(&mut self, events: Vec<Event>, identities: Vec<Identity>) -> Result<()> {
        let counted = !identities.is_empty();
        let batches: Vec<(Partition, Vec<Event>, Vec<Identity>)> = if self.target.is_partitioned() {
            let mut by: HashMap<Partition, (Vec<Event>, Vec<Identity>)> = HashMap::new();
            let mut ids = identities.into_iter();
            for e in events {
                let slot = by.entry(Partition::of(&e)).or_default();
                slot.1.extend(ids.next());
                slot.0.push(e);
            }
            by.into_iter().map(|(k, (e, i))| (k, e, i)).collect()
        } else {
            vec![(Partition::default(), events, identities)]
        };
        for (key, mut batch, mut ids) in batches {
            while !batch.is_empty() {
                let buffer = self.buffers.entry(key.clone()).or_default();
                // A partition's buffer is written out at the row limit, so a batch may be split.
                let room = self.limits.rows.saturating_sub(buffer.rows).max(1);
                let rest = if batch.len() > room { batch.split_off(room) } else { Vec::new() };
                let rest_ids = if counted && ids.len() > room { ids.split_off(room) } else { Vec::new() };
                let size: usize = batch.iter().map(approx_bytes).sum();
                buffer.rows += batch.len();
                buffer.bytes += size;
                buffer.batches.push(std::mem::replace(&mut batch, rest));
                buffer.identities.push(std::mem::replace(&mut ids, rest_ids));
                self.buffered += size;
                if buffer.rows >= self.limits.rows {
                    self.flush(&key)?;
                }
                while self.buffered > self.limits.bytes {
                    let Some(largest) = self.buffers.iter().max_by_key(|(_, b)| b.bytes).map(|(k, _)| k.clone()) else {
                        break;
                    };
                    self.flush(&largest)?;
                }
            }
        }
        Ok(())
    }

    /// Writes out every buffer, takes back the second copies of the `repeated` identities
    /// ([`EventsOut::add_counted`]), closes a single file, and says what was written.
    pub fn finish(mut self, repeated: &HashSet<Identity>) -> Result<EventsSummary> {
        let mut keys: Vec<Partition> = self.buffers.keys().cloned().collect();
        keys.sort();
        for key in &keys {
            self.flush(key)?;
        }
        let mut repeats = self.repeats(repeated)?;
        for (file, rows) in &mut repeats {
            rows.sort_unstable();
            let Some((written, _, present)) = self.written.get_mut(*file as usize) else { continue };
            *present = match (written, &self.out) {
                (Written::Local(path), _) => rewrite_local(path, rows)?,
                (Written::Object(key), Out::S3 { bucket, .. }) => rewrite_object(bucket, key, rows)?,
                (Written::Object(_), _) => unreachable!("objects are written under an S3 prefix"),
            };
            self.summary.rows -= rows.len() as u64;
            if !*present {
                self.summary.files -= 1;
                self.summary.row_groups -= 1;
            }
        }
        let mut summary = self.summary;
        let partitions: HashSet<&Partition> =
            self.written.iter().filter(|(_, _, present)| *present).map(|(_, p, _)| p).collect();
        summary.partitions = partitions.len() as u64;
        if let Out::File { writer, file, then } = self.out {
            writer.finish().with_context(|| format!("cannot write {}", self.target.name()))?;
            drop(writer);
            let file = Arc::try_unwrap(file.0).map_err(|_| anyhow!("the Parquet writer still holds the file"))?;
            let mut file = file.into_inner().unwrap_or_else(|e| e.into_inner());
            if let Some(rows) = repeats.get(&0).filter(|r| !r.is_empty()) {
                summary.row_groups = rewrite_single(&mut file, rows, self.limits.rows.min(REWRITE_ROWS))
                    .with_context(|| format!("cannot write {}", self.target.name()))?;
                summary.rows -= rows.len() as u64;
            }
            match then {
                None => file.commit()?,
                Some(Then::Upload(bucket, key)) => {
                    file.sync()?;
                    bucket.put(&key, Body::File(file.written_at()), PARQUET)?;
                }
                Some(Then::Copy(to)) => {
                    file.sync()?;
                    let mut from = File::open(file.written_at())?;
                    write_file(&to, |w| Ok(std::io::copy(&mut from, w).map(drop)?))?;
                }
            }
            summary.files = 1;
        }
        Ok(summary)
    }

    /// The rows to take back, by file: every copy of a `repeated` identity but the first
    /// written.
    fn repeats(&mut self, repeated: &HashSet<Identity>) -> Result<HashMap<u32, Vec<u64>>> {
        let mut out: HashMap<u32, Vec<u64>> = HashMap::new();
        let Some(log) = self.rows_of.take() else { return Ok(out) };
        if repeated.is_empty() {
            return Ok(out);
        }
        let (log, bytes) = rewound(log)?;
        let mut r = BufReader::with_capacity(1 << 16, log);
        let mut once: HashSet<Identity> = HashSet::new();
        let mut b = [0u8; ROW_RECORD];
        for _ in 0..bytes / ROW_RECORD as u64 {
            r.read_exact(&mut b).context("cannot read back where --events-out wrote its rows")?;
            let id = Identity::from_le_bytes(b[..16].try_into().expect("16 bytes"));
            if repeated.contains(&id) && !once.insert(id) {
                let file = u32::from_le_bytes(b[16..20].try_into().expect("4 bytes"));
                out.entry(file).or_default().push(u64::from_le_bytes(b[20..].try_into().expect("8 bytes")));
            }
        }
        Ok(out)
    }

    /// Notes where the counted rows of `buffer` went: file `file`, from row `first` on.
    fn note_rows(&mut self, buffer: &Buffer, file: u32, first: u64) -> Result<()> {
        let mut row = first;
        for (batch, ids) in buffer.batches.iter().zip(&buffer.identities) {
            if !ids.is_empty() {
                let log = match &mut self.rows_of {
                    Some(log) => log,
                    None => self.rows_of.insert(spill_file().context("cannot make a temporary file for --events-out")?),
                };
                for (i, id) in ids.iter().enumerate() {
                    let mut b = [0u8; ROW_RECORD];
                    b[..16].copy_from_slice(&id.to_le_bytes());
                    b[16..20].copy_from_slice(&file.to_le_bytes());
                    b[20..].copy_from_slice(&(row + i as u64).to_le_bytes());
                    log.write_all(&b).context("cannot write a temporary file for --events-out")?;
                }
            }
            row += batch.len() as u64;
        }
        Ok(())
    }

    fn flush(&mut self, key: &Partition) -> Result<()> {
        let Some(buffer) = self.buffers.remove(key) else {
            return Ok(());
        };
        self.buffered -= buffer.bytes;
        if buffer.rows == 0 {
            return Ok(());
        }
        let rows = buffer.rows as u64;
        let (file, first) = match self.out {
            Out::File { .. } => (0, self.summary.rows),
            _ => (self.written.len() as u32, 0),
        };
        self.note_rows(&buffer, file, first)?;
        let refs: Vec<&Event> = buffer.batches.iter().flatten().collect();
        let mut frame = events_frame(&refs)?;
        drop(refs);
        drop(buffer);
        let name = format!("{}-{:05}.parquet", self.stem, self.seq);
        let written = match &mut self.out {
            Out::File { writer, .. } => {
                writer.write_batch(&frame).with_context(|| format!("cannot write {}", self.target.name()))?;
                None
            }
            Out::Dir(root) => {
                let dir = root.join(key.path());
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let mut frame = frame.drop_many(PARTITION_COLUMNS);
                let path = dir.join(&name);
                write_file(&path, |w| write_parquet(&mut frame, w))?;
                Some(Written::Local(path))
            }
            Out::S3 { bucket, prefix } => {
                frame = frame.drop_many(PARTITION_COLUMNS);
                let mut bytes = Vec::new();
                write_parquet(&mut frame, &mut bytes)?;
                let object = format!("{prefix}{}/{name}", key.path());
                bucket.put(&object, Body::Bytes(bytes), PARQUET)?;
                Some(Written::Object(object))
            }
        };
        if let Some(written) = written {
            self.seq += 1;
            self.summary.files += 1;
            self.written.push((written, key.clone(), true));
        }
        self.summary.row_groups += 1;
        self.summary.rows += rows;
        Ok(())
    }
}

/// `df` without the rows at `drop` (sorted, within its height).
fn without_rows(df: &DataFrame, drop: &[u64], first: u64) -> Result<DataFrame> {
    let mut keep = vec![true; df.height()];
    for &row in drop {
        if let Some(k) = row.checked_sub(first).and_then(|i| keep.get_mut(i as usize)) {
            *k = false;
        }
    }
    Ok(df.filter(&BooleanChunked::from_slice("keep".into(), &keep))?)
}

/// Rewrites a part file without the rows at `drop`, or removes it when none is left; whether
/// it is still there.
fn rewrite_local(path: &Path, drop: &[u64]) -> Result<bool> {
    let read = || -> Result<DataFrame> { Ok(ParquetReader::new(File::open(path)?).finish()?) };
    let mut df = without_rows(&read().with_context(|| format!("cannot read back {}", path.display()))?, drop, 0)?;
    if df.height() == 0 {
        std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
        return Ok(false);
    }
    write_file(path, |w| write_parquet(&mut df, w))?;
    Ok(true)
}

/// [`rewrite_local`] of a part object, downloaded and put again. One left with no row stays, a
/// valid empty file: deleting it would need `s3:DeleteObject`, which writing never does.
fn rewrite_object(bucket: &Bucket, key: &str, drop: &[u64]) -> Result<bool> {
    let file = bucket.get(key)?;
    let read = ParquetReader::new(file).finish().with_context(|| format!("cannot read back {key}"))?;
    let mut df = without_rows(&read, drop, 0)?;
    let mut bytes = Vec::new();
    write_parquet(&mut df, &mut bytes)?;
    bucket.put(key, Body::Bytes(bytes), PARQUET)?;
    Ok(true)
}

/// Rewrites the single file without the rows at `drop`, `at_once` rows at a time; the row
/// groups written.
fn rewrite_single(file: &mut PendingFile, drop: &[u64], at_once: usize) -> Result<u64> {
    file.sync()?;
    let path = file.written_at().to_path_buf();
    let total = ParquetReader::new(File::open(&path)?).num_rows()?;
    let schema = events_frame(&[])?.schema().clone();
    let mut out = tempfile::tempfile().context("cannot make a temporary file")?;
    let mut row_groups = 0;
    {
        let mut writer = ParquetWriter::new(&mut out).batched(&schema)?;
        let mut at = 0;
        while at < total {
            let len = at_once.min(total - at);
            let slice = ParquetReader::new(File::open(&path)?).with_slice(Some((at, len))).finish()?;
            let from = drop.partition_point(|&r| r < at as u64);
            let to = drop.partition_point(|&r| r < (at + len) as u64);
            let mut slice = without_rows(&slice, &drop[from..to], at as u64)?;
            if slice.height() > 0 {
                // The writer takes one chunk per column; the filter may leave several.
                slice.align_chunks();
                writer.write_batch(&slice)?;
                row_groups += 1;
            }
            at += len;
        }
        writer.finish()?;
    }
    out.rewind()?;
    file.replace_with(&mut out)?;
    Ok(row_groups)
}

/// A file in the temporary directory for a single file that goes elsewhere once finished.
fn spool() -> Result<PendingFile> {
    PendingFile::create(&std::env::temp_dir().join(format!("denytrail-events-{}.parquet", std::process::id())))
}

/// A single file's writer, with the table's schema.
fn single_file(file: PendingFile, then: Option<Then>) -> Result<Out> {
    let file = Shared(Arc::new(Mutex::new(file)));
    let schema = events_frame(&[])?.schema().clone();
    let writer = ParquetWriter::new(file.clone()).batched(&schema).context("cannot start the Parquet file")?;
    Ok(Out::File { writer: Box::new(writer), file, then })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::{ParquetReader, SerReader};

    #[test]
    fn targets() {
        let t = |s: &str| Target::parse(Path::new(s)).unwrap();
        assert_eq!(t("events.parquet"), Target::File("events.parquet".into()));
        assert_eq!(t("out/"), Target::Dir("out/".into()));
        assert_eq!(t("."), Target::Dir(".".into()));
        assert_eq!(t("s3://b/events/"), Target::S3Prefix { bucket: "b".into(), prefix: "events/".into() });
        assert_eq!(t("s3://b"), Target::S3Prefix { bucket: "b".into(), prefix: "".into() });
        assert_eq!(t("s3://b/e.parquet"), Target::S3File { bucket: "b".into(), key: "e.parquet".into() });
        assert!(Target::parse(Path::new("s3:///x/")).is_err());
    }

    #[test]
    fn partition_values_are_escaped_and_defaulted() {
        let e = Event {
            recipient_account: Some("../../etc".into()),
            aws_region: Some("eu-west-1".into()),
            event_time_ms: Some(1_763_716_443_000),
            ..Event::default()
        };
        assert_eq!(Partition::of(&e).path(), "recipient_account=..%2F..%2Fetc/aws_region=eu-west-1/date=2025-11-21");
        let bare = Event { recipient_account: Some(String::new()), ..Event::default() };
        let d = DEFAULT_PARTITION;
        assert_eq!(Partition::of(&bare).path(), format!("recipient_account={d}/aws_region={d}/date={d}"));
        assert_eq!(partition_value(Some(&"x".repeat(200))), DEFAULT_PARTITION);
    }

    fn event(i: usize) -> Event {
        Event {
            event_id: format!("e{i}"),
            recipient_account: Some(format!("1111222233{:02}", i % 3)),
            aws_region: Some(["us-east-1", "eu-west-1"][i % 2].into()),
            event_time_ms: Some(1_763_716_443_000 + (i as i64 % 5 / 3) * 86_400_000),
            user_agent: Some("x".repeat(i % 50)),
            ..Event::default()
        }
    }

    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { out.extend(files_under(&path)) } else { out.push(path) }
        }
        out.sort();
        out
    }

    #[test]
    fn a_small_budget_flushes_many_files_and_loses_no_row() {
        let _turn = crate::sink::TEST_WRITERS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<Event> = (0..1_200).map(event).collect();
        let limits = Limits { rows: 50, bytes: 100 * approx_bytes(&events[0]) };
        let mut out = EventsOut::open_with(&dir.path().join("hive/"), &AwsOptions::default(), None, limits).unwrap();
        for chunk in events.chunks(37) {
            let refs: Vec<&Event> = chunk.iter().collect();
            out.add(&refs).unwrap();
            assert!(out.buffered <= limits.bytes, "the buffers stay within the budget");
        }
        let summary = out.finish(&HashSet::new()).unwrap();
        let files = files_under(&dir.path().join("hive"));
        assert_eq!(summary.files as usize, files.len());
        assert_eq!(summary.partitions, 3 * 2 * 2);
        // The row count alone would make 1200 / 50 files, plus one remainder per partition.
        assert!(files.len() > 24 + 12, "the budget, not only the row count, made files: {}", files.len());
        let mut ids = Vec::new();
        for path in &files {
            let name = path.file_name().unwrap().to_string_lossy();
            assert!(name.starts_with("part-0000-") && name.ends_with(".parquet"), "{name}");
            let df = ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap();
            assert!(df.height() <= limits.rows);
            assert!(df.column("recipient_account").is_err(), "partition columns are not repeated in the files");
            let dir = path.parent().unwrap().to_string_lossy().into_owned();
            for id in df.column("event_id").unwrap().str().unwrap().iter() {
                let i: usize = id.unwrap()[1..].parse().unwrap();
                let expected = Partition::of(&events[i]).path();
                assert!(dir.ends_with(&expected), "{id:?} in {dir}, expected {expected}");
                ids.push(i);
            }
        }
        ids.sort();
        assert_eq!(ids, (0..1_200).collect::<Vec<_>>(), "every row once");
    }

    #[test]
    fn a_single_file_gets_one_row_group_per_flush() {
        let _turn = crate::sink::TEST_WRITERS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let events: Vec<Event> = (0..1_000).map(event).collect();
        let limits = Limits { rows: 300, bytes: usize::MAX };
        let mut out =
            EventsOut::open_with(&path, &AwsOptions::default(), Some(Shard { index: 3, count: 4 }), limits).unwrap();
        for chunk in events.chunks(64) {
            out.add(&chunk.iter().collect::<Vec<_>>()).unwrap();
        }
        assert!(!path.exists(), "the file appears only once finished");
        let summary = out.finish(&HashSet::new()).unwrap();
        assert_eq!(summary, EventsSummary { files: 1, row_groups: 4, rows: 1_000, partitions: 0 });
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap();
        let back = crate::report::frame::events_from_frame(&df).unwrap();
        let ids: Vec<&str> = back.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, events.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    /// The event ids in every Parquet file under `root` (or in `root`), in file and row order.
    fn ids_in(root: &Path) -> Vec<String> {
        let files = if root.is_dir() { files_under(root) } else { vec![root.to_path_buf()] };
        let mut ids = Vec::new();
        for path in files {
            let df = ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap();
            ids.extend(df.column("event_id").unwrap().str().unwrap().iter().map(|id| id.unwrap().to_string()));
        }
        ids
    }

    /// Denials counted unchecked and found repeated at the end were written twice: the files
    /// that hold a second copy are rewritten without it (a file of nothing else goes), and
    /// the summary counts what is left; rows handed without identities are never taken back.
    #[test]
    fn repeats_found_at_the_end_leave_one_row_each() {
        let _turn = crate::sink::TEST_WRITERS.lock().unwrap_or_else(|e| e.into_inner());
        let events: Vec<Event> = (0..700).map(event).collect();
        let companion = |i: usize| Event { event_id: format!("k{i}"), ..event(i) };
        // First copies of 0..600, then a second copy of 100..400 (a log object read twice),
        // then 600..700, then a third copy of 390..400; companions throughout.
        let phases = [0..600, 100..400, 600..700, 390..400];
        let mut repeated: HashSet<Identity> = (100..400).map(|i| i as Identity).collect();
        repeated.insert(5_000);
        for single in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let to = if single { dir.path().join("events.parquet") } else { dir.path().join("hive/") };
            let limits = Limits { rows: 40, bytes: usize::MAX };
            let mut out = EventsOut::open_with(&to, &AwsOptions::default(), None, limits).unwrap();
            let mut companions = 0;
            for phase in phases.clone() {
                for chunk in phase.collect::<Vec<_>>().chunks(64) {
                    let batch: Vec<Event> = chunk.iter().map(|&i| events[i].clone()).collect();
                    out.add_counted(batch, chunk.iter().map(|&i| i as Identity).collect()).unwrap();
                    out.add_owned(vec![companion(companions)]).unwrap();
                    companions += 1;
                }
                // Each phase in files of its own, so that some hold only second copies.
                let keys: Vec<Partition> = out.buffers.keys().cloned().collect();
                for key in &keys {
                    out.flush(key).unwrap();
                }
            }
            let files_before = if single { 1 } else { files_under(&to).len() };
            let summary = out.finish(&repeated).unwrap();
            let ids = ids_in(&to);
            let mut sorted = ids.clone();
            sorted.sort();
            let mut want: Vec<String> = (0..700).map(|i| format!("e{i}")).collect();
            want.extend((0..companions).map(|n| format!("k{n}")));
            want.sort();
            assert_eq!(sorted, want, "every row once (single file: {single})");
            assert_eq!(summary.rows as usize, want.len());
            if single {
                let targets: Vec<&String> = ids.iter().filter(|id| id.starts_with('e')).collect();
                let order: Vec<String> = (0..700).map(|i| format!("e{i}")).collect();
                assert_eq!(targets, order.iter().collect::<Vec<_>>(), "the first copies stay, in order");
                assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
            } else {
                let files = files_under(&to);
                assert_eq!(summary.files as usize, files.len());
                assert!(files.len() < files_before, "a file holding only second copies is removed");
                assert_eq!(summary.partitions, 3 * 2 * 2);
            }
        }
    }

    #[test]
    fn the_writer_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<EventsOut>();
    }
}
