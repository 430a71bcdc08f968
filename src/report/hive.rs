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

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::ParquetWriter;

use super::frame::{approx_bytes, events_frame};
use super::write::write_parquet;
use crate::aws::AwsOptions;
use crate::event::Event;
use crate::shard::Shard;
use crate::sink::{Body, Bucket, PendingFile, write_file};

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
    rows: usize,
    bytes: usize,
}

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
    /// One file; `upload` names the object it goes to once finished (spooled locally till then).
    File {
        writer: Box<BatchedWriter<Shared>>,
        file: Shared,
        upload: Option<(Bucket, String)>,
    },
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
    partitions: std::collections::HashSet<Partition>,
    summary: EventsSummary,
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
            Target::File(path) => single_file(PendingFile::create(path)?, None)?,
            Target::S3File { bucket, key } => {
                let bucket = Bucket::connect(aws, bucket, key, "the events")?;
                let spool = std::env::temp_dir().join(format!("denytrail-events-{}.parquet", std::process::id()));
                single_file(PendingFile::create(&spool)?, Some((bucket, key.clone())))?
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
            partitions: Default::default(),
            summary: EventsSummary::default(),
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
        let batches: Vec<(Partition, Vec<Event>)> = if self.target.is_partitioned() {
            let mut by: HashMap<Partition, Vec<Event>> = HashMap::new();
            for e in events {
                by.entry(Partition::of(&e)).or_default().push(e);
            }
            by.into_iter().collect()
        } else {
            vec![(Partition::default(), events)]
        };
        for (key, mut batch) in batches {
            while !batch.is_empty() {
                let buffer = self.buffers.entry(key.clone()).or_default();
                // A partition's buffer is written out at the row limit, so a batch may be split.
                let room = self.limits.rows.saturating_sub(buffer.rows).max(1);
                let rest = if batch.len() > room { batch.split_off(room) } else { Vec::new() };
                let size: usize = batch.iter().map(approx_bytes).sum();
                buffer.rows += batch.len();
                buffer.bytes += size;
                buffer.batches.push(std::mem::replace(&mut batch, rest));
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

    /// Writes out every buffer, closes a single file, and says what was written.
    pub fn finish(mut self) -> Result<EventsSummary> {
        let mut keys: Vec<Partition> = self.buffers.keys().cloned().collect();
        keys.sort();
        for key in &keys {
            self.flush(key)?;
        }
        let mut summary = self.summary;
        summary.partitions = self.partitions.len() as u64;
        if let Out::File { writer, file, upload } = self.out {
            writer.finish().with_context(|| format!("cannot write {}", self.target.name()))?;
            drop(writer);
            let file = Arc::try_unwrap(file.0).map_err(|_| anyhow!("the Parquet writer still holds the file"))?;
            let mut file = file.into_inner().unwrap_or_else(|e| e.into_inner());
            match upload {
                None => file.commit()?,
                Some((bucket, key)) => {
                    file.sync()?;
                    bucket.put(&key, Body::File(file.written_at()), PARQUET)?;
                }
            }
            summary.files = 1;
        }
        Ok(summary)
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
        let refs: Vec<&Event> = buffer.batches.iter().flatten().collect();
        let mut frame = events_frame(&refs)?;
        drop(refs);
        drop(buffer);
        let name = format!("{}-{:05}.parquet", self.stem, self.seq);
        match &mut self.out {
            Out::File { writer, .. } => {
                writer.write_batch(&frame).with_context(|| format!("cannot write {}", self.target.name()))?;
            }
            Out::Dir(root) => {
                let dir = root.join(key.path());
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
                let mut frame = frame.drop_many(PARTITION_COLUMNS);
                write_file(&dir.join(&name), |w| write_parquet(&mut frame, w))?;
            }
            Out::S3 { bucket, prefix } => {
                frame = frame.drop_many(PARTITION_COLUMNS);
                let mut bytes = Vec::new();
                write_parquet(&mut frame, &mut bytes)?;
                bucket.put(&format!("{prefix}{}/{name}", key.path()), Body::Bytes(bytes), PARQUET)?;
            }
        }
        if self.target.is_partitioned() {
            self.seq += 1;
            self.summary.files += 1;
            self.partitions.insert(key.clone());
        }
        self.summary.row_groups += 1;
        self.summary.rows += rows;
        Ok(())
    }
}

/// A single file's writer, with the table's schema.
fn single_file(file: PendingFile, upload: Option<(Bucket, String)>) -> Result<Out> {
    let file = Shared(Arc::new(Mutex::new(file)));
    let schema = events_frame(&[])?.schema().clone();
    let writer = ParquetWriter::new(file.clone()).batched(&schema).context("cannot start the Parquet file")?;
    Ok(Out::File { writer: Box::new(writer), file, upload })
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
        let summary = out.finish().unwrap();
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
        let summary = out.finish().unwrap();
        assert_eq!(summary, EventsSummary { files: 1, row_groups: 4, rows: 1_000, partitions: 0 });
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap();
        let back = crate::report::frame::events_from_frame(&df).unwrap();
        let ids: Vec<&str> = back.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids, events.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn the_writer_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<EventsOut>();
    }
}
