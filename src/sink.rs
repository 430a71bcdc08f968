//! Where reports go: stdout, a local file, or an S3 object — and where a `--baseline` report is
//! read back from. Sinks only write bytes they are handed; what the bytes are is the writer's.
//!
//! A local file is written to a temporary name beside it and renamed into place once whole,
//! so a reader (or tomorrow's `--baseline`) never sees half a report. An S3 object needs no
//! temporary name: a PutObject becomes visible only once its whole body has arrived.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::aws::{AwsOptions, Problem, runtime, s3_client_for, sdk_config};

/// Where a report is written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl Destination {
    /// `s3://bucket/key` names an object; anything else is a local path. An `s3://` location
    /// must name an object (not a bucket or a folder): `what` says which flag gave it.
    pub fn parse(path: &Path) -> Result<Destination, String> {
        let Some(rest) = path.to_str().and_then(|p| p.strip_prefix("s3://")) else {
            return Ok(Destination::File(path.to_path_buf()));
        };
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') => {
                Ok(Destination::S3 { bucket: bucket.to_string(), key: key.to_string() })
            }
            _ => Err(format!("'{}' must name an object: s3://bucket/key", path.display())),
        }
    }

    /// How messages name it.
    pub fn name(&self) -> String {
        match self {
            Destination::Stdout => "stdout".into(),
            Destination::File(p) => p.display().to_string(),
            Destination::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }

    /// Writes what `write` produces here. `content_type` labels an S3 object.
    pub fn deliver(
        &self,
        aws: &AwsOptions,
        content_type: &str,
        write: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        match self {
            Destination::Stdout => {
                // Buffered in blocks: a report streamed a row at a time is not a write per line.
                let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
                write(&mut out)?;
                Ok(out.flush()?)
            }
            Destination::File(path) => write_file(path, write),
            Destination::S3 { bucket, key } => {
                // Through a temporary file: a shard's partial grows with its denials.
                let mut body = tempfile::NamedTempFile::new().context("cannot make a temporary file")?;
                let mut w = BufWriter::with_capacity(1 << 16, body.as_file_mut());
                write(&mut w)?;
                w.flush().context("cannot write a temporary file")?;
                drop(w);
                Bucket::connect(aws, bucket, key, "the report")?.put(key, Body::File(body.path()), content_type)
            }
        }
    }

    /// Opens the file, or the object downloaded to a temporary file (so that what is read is
    /// never held whole); `None` when it does not exist.
    pub fn open(&self, aws: &AwsOptions) -> Result<Option<std::fs::File>> {
        match self {
            Destination::Stdout => Err(anyhow!("stdout cannot be read")),
            Destination::File(path) if !path.exists() => Ok(None),
            Destination::File(path) => {
                std::fs::File::open(path).map(Some).with_context(|| format!("cannot open {}", path.display()))
            }
            Destination::S3 { bucket, key } => download(aws, bucket, key),
        }
    }

    /// Reads the whole object or file (a `--baseline` report); `None` when it does not exist (yet).
    pub fn read(&self, aws: &AwsOptions) -> Result<Option<Vec<u8>>> {
        let Some(mut file) = self.open(aws)? else { return Ok(None) };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes).with_context(|| format!("cannot read {}", self.name()))?;
        Ok(Some(bytes))
    }
}

/// Writes `path` through a temporary file beside it, renamed into place once complete; on any
/// error the temporary file is removed and `path` is left as it was.
pub fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let mut file = PendingFile::create(path)?;
    write(&mut file)?;
    file.commit()
}

/// A file being written: a temporary name beside `path` (registered for Ctrl-C), renamed into
/// place by [`PendingFile::commit`] and removed if dropped before. A device or FIFO (`-o
/// /dev/null`, `-o >(gzip > r.gz)`) or a descriptor (`-o /dev/stdout`, even redirected to a file)
/// is written in place: renaming a file over it would replace the device, or the link, itself.
/// A link to a file stays a link: the file it names is replaced.
pub struct PendingFile {
    path: PathBuf,
    /// `None` for a device or FIFO, and once committed.
    tmp: Option<PathBuf>,
    out: BufWriter<File>,
}

impl PendingFile {
    pub fn create(path: &Path) -> Result<PendingFile> {
        let descriptor = Self::descriptor(path);
        if descriptor || Self::device(path) {
            // A descriptor's file may hold what was written before (`>>`, or the report on
            // stdout): appended to, never written over from its start.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .append(descriptor)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            return Ok(PendingFile { path: path.to_path_buf(), tmp: None, out: BufWriter::new(f) });
        }
        // A symbolic link stays one: the file it names is replaced, beside itself.
        let resolved = std::fs::canonicalize(path).ok().filter(|_| path.is_symlink());
        let path = resolved.as_deref().unwrap_or(path);
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.denytrail-{}.tmp", std::process::id()));
        PARTIAL.lock().unwrap_or_else(|e| e.into_inner()).push(tmp.clone());
        let f = match File::create(&tmp) {
            Ok(f) => f,
            Err(e) => {
                forget(&tmp);
                return Err(e).with_context(|| format!("cannot create {}", path.display()));
            }
        };
        Ok(PendingFile { path: path.to_path_buf(), tmp: Some(tmp), out: BufWriter::new(f) })
    }

    /// Whether `path` is written where it is rather than replaced: a device or FIFO, or an open
    /// descriptor (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`), even one redirected to a
    /// regular file (renaming a file over that link would replace the link, not fill the file).
    pub fn in_place(path: &Path) -> bool {
        Self::descriptor(path) || Self::device(path)
    }

    /// Whether `path` is a device or FIFO.
    fn device(path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
    }

    /// Whether `path` names an open descriptor: a link into `/proc` (`/dev/stdout`), or a path
    /// in a `/proc` directory (`/dev/fd/N`, `/proc/self/fd/N`).
    fn descriptor(path: &Path) -> bool {
        let in_proc = |p: &Path| std::fs::canonicalize(p).is_ok_and(|p| p.starts_with("/proc"));
        std::fs::read_link(path).is_ok_and(|to| to.starts_with("/proc")) || path.parent().is_some_and(in_proc)
    }

    /// Where the bytes are now: the temporary file (or the device).
    pub fn written_at(&self) -> &Path {
        self.tmp.as_deref().unwrap_or(&self.path)
    }

    /// Flushes everything to disk, without renaming (for a file uploaded, not kept).
    pub fn sync(&mut self) -> Result<()> {
        self.out.flush().with_context(|| format!("cannot write {}", self.path.display()))?;
        if self.tmp.is_some() {
            self.out.get_ref().sync_all().with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        Ok(())
    }

    /// Replaces everything written so far with what `from` holds.
    pub fn replace_with(&mut self, from: &mut File) -> Result<()> {
        use std::io::Seek;
        let name = self.path.display().to_string();
        self.out.flush().with_context(|| format!("cannot write {name}"))?;
        let file = self.out.get_mut();
        file.set_len(0).and_then(|()| file.rewind()).with_context(|| format!("cannot write {name}"))?;
        std::io::copy(from, file).with_context(|| format!("cannot write {name}"))?;
        Ok(())
    }

    /// Renames the finished file into place.
    pub fn commit(mut self) -> Result<()> {
        self.sync()?;
        if let Some(tmp) = self.tmp.take() {
            let renamed = std::fs::rename(&tmp, &self.path);
            if renamed.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            forget(&tmp);
            renamed.with_context(|| format!("cannot write {}", self.path.display()))?;
        }
        Ok(())
    }
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(&tmp);
            forget(&tmp);
        }
    }
}

/// The temporary-file registry is global, and one test empties it as Ctrl-C would: the tests
/// that write files take turns.
#[cfg(test)]
pub(crate) static TEST_WRITERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Drops `tmp` from the registry of temporary files.
fn forget(tmp: &Path) {
    PARTIAL.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p != tmp);
}

/// Temporary files being written now: what an interrupted run must not leave behind.
static PARTIAL: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Removes every half-written temporary file (on Ctrl-C, before exiting). The outputs
/// themselves are untouched: each is replaced only by a whole file.
pub fn remove_partial_outputs() {
    for tmp in PARTIAL.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        let _ = std::fs::remove_file(tmp);
    }
}
/// One bucket's client and runtime, for many uploads (the part files of `--events-out`).
pub struct Bucket {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
    name: String,
    /// What its objects are, in messages: "the report", "the events".
    what: &'static str,
}

/// What an upload sends: bytes in memory, or a finished local file.
pub enum Body<'a> {
    Bytes(Vec<u8>),
    File(&'a Path),
}

impl Bucket {
    /// A client in the bucket's own region; `key` names the first object in messages.
    pub fn connect(opts: &AwsOptions, bucket: &str, key: &str, what: &'static str) -> Result<Bucket> {
        let runtime = runtime()?;
        let client = runtime.block_on(async {
            let sdk = sdk_config(opts).await;
            s3_client_for(&sdk, opts, bucket).await.map_err(|p| refused_what("write", what, bucket, key, p))
        })?;
        Ok(Bucket { runtime, client, name: bucket.to_string(), what })
    }

    /// PutObject of a whole body: the object appears only once all of it has arrived.
    pub fn put(&self, key: &str, body: Body, content_type: &str) -> Result<()> {
        let bucket = &self.name;
        self.runtime.block_on(async {
            let body = match body {
                Body::Bytes(bytes) => aws_sdk_s3::primitives::ByteStream::from(bytes),
                Body::File(path) => aws_sdk_s3::primitives::ByteStream::from_path(path)
                    .await
                    .with_context(|| format!("cannot read {}", path.display()))?,
            };
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(content_type)
                .body(body)
                .send()
                .await
                .map_err(|err| refused_what("write", self.what, bucket, key, Problem::of(&err)))?;
            Ok(())
        })
    }

    /// An object written before, downloaded to a temporary file (to rewrite it).
    pub fn get(&self, key: &str) -> Result<File> {
        let found = self.runtime.block_on(fetch(&self.client, &self.name, key, self.what))?;
        found.ok_or_else(|| anyhow!("s3://{}/{key}: the object written before is gone", self.name))
    }
}

/// Downloads `s3://bucket/key` into an anonymous temporary file, a chunk at a time; `None` when
/// the object does not exist (yet). Other refusals are one line, like the upload's.
fn download(opts: &AwsOptions, bucket: &str, key: &str) -> Result<Option<std::fs::File>> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let sdk = sdk_config(opts).await;
        let client = s3_client_for(&sdk, opts, bucket).await.map_err(|p| refused("read", bucket, key, p))?;
        fetch(&client, bucket, key, "the report").await
    })
}

/// GetObject into an anonymous temporary file, rewound; `None` when there is no such key.
async fn fetch(client: &aws_sdk_s3::Client, bucket: &str, key: &str, what: &str) -> Result<Option<File>> {
    use std::io::Seek;
    let mut object = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => object,
        Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
        Err(err) => return Err(refused_what("read", what, bucket, key, Problem::of(&err))),
    };
    let mut file = tempfile::tempfile().context("cannot make a temporary file")?;
    while let Some(chunk) =
        object.body.try_next().await.map_err(|e| anyhow!("s3://{bucket}/{key}: cannot read the object: {e}"))?
    {
        file.write_all(&chunk).context("cannot write a temporary file")?;
    }
    file.rewind().context("cannot read a temporary file")?;
    Ok(Some(file))
}

/// Why a report could not be written or read (`verb`), on one line.
fn refused(verb: &str, bucket: &str, key: &str, problem: Problem) -> anyhow::Error {
    refused_what(verb, "the report", bucket, key, problem)
}

/// The same, for `what` (the report, the events).
fn refused_what(verb: &str, what: &str, bucket: &str, key: &str, problem: Problem) -> anyhow::Error {
    if let Some(line) = problem.credentials_line() {
        return anyhow!("s3://{bucket}/{key}: {line}");
    }
    let (doing, action) = if verb == "write" { ("writing", "s3:PutObject") } else { ("reading", "s3:GetObject") };
    match problem {
        Problem::AccessDenied(d) => anyhow!(
            "s3://{bucket}/{key}: access denied {doing} {what} ({d}); the caller needs {action} on arn:aws:s3:::{bucket}/{key}"
        ),
        Problem::NotFound(d) => anyhow!("s3://{bucket}/{key}: no such bucket ({d})"),
        other => anyhow!("s3://{bucket}/{key}: cannot {verb} {what}: {}", other.detail()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        let d = |s: &str| Destination::parse(Path::new(s));
        assert_eq!(d("r.csv").unwrap(), Destination::File("r.csv".into()));
        assert_eq!(
            d("s3://reports/nightly/2026-11-23.html").unwrap(),
            Destination::S3 { bucket: "reports".into(), key: "nightly/2026-11-23.html".into() }
        );
        for bad in ["s3://", "s3://b", "s3://b/", "s3:///k", "s3://b/dir/"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let _turn = TEST_WRITERS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.csv");
        write_file(&path, |w| Ok(w.write_all(b"old")?)).unwrap();
        let err = write_file(&path, |w| {
            w.write_all(b"half")?;
            Err(anyhow!("the writer failed"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["report.csv"], "no temporary file is left behind");
        write_file(&path, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_device_is_written_in_place_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out.csv");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_file(&fifo, |w| Ok(w.write_all(b"through the pipe")?)).unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is still a FIFO");
        write_file(Path::new("/dev/null"), |w| Ok(w.write_all(b"x")?)).unwrap();
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }

    /// A link to a file stays a link (the file it names is replaced); a descriptor's path
    /// (`/dev/stdout` when redirected to a file) is appended to, not renamed over.
    #[cfg(unix)]
    #[test]
    fn a_link_stays_a_link_and_a_descriptor_is_appended_to() {
        use std::os::fd::AsRawFd;
        let _turn = TEST_WRITERS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let (real, link) = (dir.path().join("real.csv"), dir.path().join("link.csv"));
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_file(&link, |w| Ok(w.write_all(b"new")?)).unwrap();
        assert!(link.is_symlink(), "the link is still a link");
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file is left");

        let mut open = std::fs::OpenOptions::new().append(true).open(&real).unwrap();
        open.write_all(b" then").unwrap();
        let fd = dir.path().join("fd");
        std::os::unix::fs::symlink(format!("/proc/self/fd/{}", open.as_raw_fd()), &fd).unwrap();
        assert!(PendingFile::in_place(&fd));
        write_file(&fd, |w| Ok(w.write_all(b" more")?)).unwrap();
        assert!(fd.is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new then more");
        assert!(!PendingFile::in_place(&real) && !PendingFile::in_place(&link));
    }

    #[test]
    fn an_interrupt_removes_the_half_written_file() {
        let _turn = TEST_WRITERS.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.parquet");
        let names = || -> Vec<String> {
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect()
        };
        let _ = write_file(&path, |w| {
            w.write_all(b"half")?;
            w.flush()?;
            assert_eq!(names().len(), 1, "the temporary file exists while writing");
            remove_partial_outputs(); // what the Ctrl-C handler does
            assert!(names().is_empty(), "{:?}", names());
            Ok(())
        });
        assert!(!path.exists() || std::fs::read(&path).unwrap() != b"half");
    }
}
