//! S3 input: lists a trail bucket (pruned by the CloudTrail layout) and streams its objects into
//! the same worker pool as local files.
//!
//! Three stages, each bounded, so memory stays flat whatever the bucket holds:
//! - listers walk the key layout with delimiter listings, a few folders at a time and depth
//!   first; folders out of `--account/--region/--since/--until`, digests and insights are never
//!   listed, and keys stream into a bounded queue page by page;
//! - fetchers keep `--concurrency` GETs in flight, re-GET bodies cut short (the SDK retries
//!   throttling, 5xx and connection errors itself), and hold each body under a memory budget
//!   until it is parsed;
//! - the bodies go to the pipeline as [`LogObject`]s, parsed there exactly like local files.
//!
//! The async stages run on a small tokio runtime owned by the calling thread, which forwards
//! the listed items to the pipeline's channel. Credentials that fail, and a log bucket that cannot be listed, end the scan
//! with one line; an object that cannot be read is reported as failed and the scan goes on.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use anyhow::{Result, anyhow};
use aws_sdk_s3::Client;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use super::{Listed, Location, LogObject};
use crate::aws::direct::DirectGet;
use crate::aws::{AwsOptions, Problem, chain, current_thread_runtime, s3_client_for, sdk_config};
use crate::layout::{self, Scope};
use crate::progress::Progress;
use crate::shard::Shard;
use crate::stats::{ObjectError, SkipReason};

/// A whole body must arrive within this (CloudTrail objects are at most 50 MB); a body that
/// stops flowing earlier is caught by the SDK's stalled-stream protection.
const BODY_TIMEOUT: Duration = Duration::from_secs(300);
/// GETs of one object whose body is cut short or reset.
const BODY_ATTEMPTS: u32 = 5;
const BODY_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const BODY_MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Bodies fetched but not yet parsed hold at most this much memory (one larger object still
/// passes, alone).
const MEMORY_BUDGET: u64 = 256 << 20;
const MEMORY_UNIT: u64 = 64 << 10;
const MEMORY_UNITS: u32 = (MEMORY_BUDGET / MEMORY_UNIT) as u32;
/// Folders listed at once, at most.
const MAX_LISTERS: usize = 16;
/// Listed keys waiting for a fetcher (a few listing pages).
const KEY_QUEUE: usize = 4096;
/// Fetched bodies and reports waiting for the decode stage.
const ITEM_QUEUE: usize = 256;

/// Lists and fetches every in-scope object under the given `(bucket, prefix)` inputs, handing
/// each to `out` as a body to parse, or as skipped or failed.
///
/// Every object is accounted for through `out`; an error means the scan cannot go on (no
/// usable credentials, a log bucket that cannot be listed).
pub fn read(
    inputs: &[(String, String)],
    opts: &AwsOptions,
    scope: &Scope,
    shard: Option<Shard>,
    out: SyncSender<Listed>,
    progress: Progress,
) -> Result<()> {
    // One thread runs the GETs and hands their bodies on: the CPU per object is the scheduler
    // hops between threads as much as the requests themselves.
    let runtime = current_thread_runtime()?;
    let (tx, mut items) = mpsc::channel(ITEM_QUEUE);
    let shared = Arc::new(Shared { scope: scope.clone(), shard, progress, out: tx });
    runtime.block_on(async move {
        let reader = tokio::spawn(read_all(inputs.to_vec(), opts.clone(), shared));
        while let Some(item) = items.recv().await {
            match item {
                // Blocks this thread, and so the GETs, while the workers are behind.
                Item::Listed(listed) => {
                    if out.send(listed).is_err() {
                        break; // the pipeline stopped
                    }
                }
                Item::Fatal(err) => {
                    reader.abort();
                    return Err(err);
                }
            }
        }
        drop(items);
        match reader.await {
            Ok(result) => result,
            Err(e) => Err(anyhow!("the S3 reader stopped: {e}")),
        }
    })
}

/// What the async stages share.
struct Shared {
    scope: Scope,
    /// `--shard`: keys of other shards are neither fetched nor counted here.
    shard: Option<Shard>,
    progress: Progress,
    /// To the decode stage.
    out: mpsc::Sender<Item>,
}

/// What crosses from the async stages to the pipeline.
enum Item {
    /// A body to parse, or an object accounted for without parsing: skipped or failed.
    Listed(Listed),
    /// Nothing more can be read (the credentials stopped working): stop at once.
    Fatal(anyhow::Error),
}

/// One object to fetch.
struct Key {
    client: Client,
    direct: Option<Arc<DirectGet>>,
    bucket: Arc<str>,
    key: String,
    size: u64,
    /// Found by listing rather than named by the user.
    walked: bool,
}

async fn read_all(inputs: Vec<(String, String)>, opts: AwsOptions, shared: Arc<Shared>) -> Result<()> {
    let sdk = sdk_config(&opts).await;
    let (keys, queue) = mpsc::channel(KEY_QUEUE);
    let mut fetchers = JoinSet::new();
    fetchers.spawn(fetch_all(queue, opts.concurrency.max(1), shared.clone()));
    let listers = (opts.concurrency / 4).clamp(1, MAX_LISTERS);
    for (bucket, prefix) in inputs {
        let client = s3_client_for(&sdk, &opts, &bucket).await.map_err(|p| fatal(&bucket, "read", p))?;
        let direct = DirectGet::for_bucket(&sdk, &opts, &client, &bucket).await;
        let lister = Arc::new(Lister {
            client,
            direct: direct.map(Arc::new),
            bucket: bucket.into(),
            named: prefix.clone(),
            shared: shared.clone(),
            keys: keys.clone(),
        });
        list_input(lister, prefix, listers).await?;
    }
    drop(keys);
    while let Some(done) = fetchers.join_next().await {
        done.map_err(|e| anyhow!("the S3 fetchers stopped: {e}"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Listing

/// A folder (key prefix) to list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Folder {
    prefix: String,
    /// A day folder: list everything below it at once, without a delimiter.
    flat: bool,
}

/// What to do with a folder a delimiter listing returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// List it level by level.
    Descend,
    /// A day folder in scope: list it flat.
    Day,
    /// Never list it: out of scope, digests, insights, other services' logs.
    Prune,
}

fn segments(key: &str) -> Vec<&str> {
    key.split('/').filter(|s| !s.is_empty()).collect()
}

/// Decides a folder's fate from its path alone, so out-of-scope folders cost no request.
fn classify(folder: &str, scope: &Scope) -> Next {
    let segs = segments(folder);
    let Some(l) = layout::parse(&segs) else { return Next::Descend };
    if l.kind.is_some_and(|k| k != "CloudTrail") {
        return Next::Prune;
    }
    let after = segs.iter().rposition(|s| *s == "AWSLogs").map_or(0, |i| segs.len() - i - 1);
    let known = [
        l.org.is_some(),
        l.account.is_some(),
        l.kind.is_some(),
        l.region.is_some(),
        l.year.is_some(),
        l.month.is_some(),
        l.day.is_some(),
    ]
    .into_iter()
    .filter(|b| *b)
    .count();
    if after > known {
        // A segment the layout does not know. Beside `CloudTrail/` it is another service's logs
        // (`AWSLogs/<account>/elasticloadbalancing/`); elsewhere, read what is there.
        return if l.account.is_some() && l.kind.is_none() { Next::Prune } else { Next::Descend };
    }
    if !scope.admits(&l) {
        Next::Prune
    } else if l.day.is_some() {
        Next::Day
    } else {
        Next::Descend
    }
}

/// Why a listed key is not fetched, if it is not.
fn skip_key(key: &str, walked: bool, scope: &Scope) -> Option<SkipReason> {
    let segs = segments(key);
    layout::skip_by_name(&segs).or_else(|| {
        let out = walked
            && !scope.is_unbounded()
            && layout::parse(&segs).is_some_and(|l| l.day.is_some() && !scope.admits(&l));
        out.then_some(SkipReason::OutOfScope)
    })
}

/// A key or prefix of a listing asked with `encoding-type=url` (`+` is a space, as S3 writes it).
fn url_decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Lists one input (`s3://bucket/prefix`).
struct Lister {
    client: Client,
    direct: Option<Arc<DirectGet>>,
    bucket: Arc<str>,
    /// The prefix as the user wrote it. Without a trailing `/` it names one object or one
    /// folder, not every key that merely starts with it (`logs` is not `logs-old/`).
    named: String,
    shared: Arc<Shared>,
    keys: mpsc::Sender<Key>,
}

impl Lister {
    fn name(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Lists one folder: streams its keys to the fetchers and returns its subfolders to list,
    /// and whether the folder holds anything at all.
    async fn list(&self, folder: &Folder) -> Result<(Vec<Folder>, bool), Problem> {
        let raw = !folder.prefix.is_empty() && !folder.prefix.ends_with('/') && folder.prefix == self.named;
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&*self.bucket)
            .prefix(&folder.prefix)
            .set_delimiter((!folder.flat).then(|| "/".to_string()))
            // Keys may hold characters XML 1.0 cannot carry (controls): ask for them URL-encoded,
            // as the AWS CLI does, and decode them here.
            .encoding_type(aws_sdk_s3::types::EncodingType::Url)
            .into_paginator()
            .send();
        let mut children = Vec::new();
        let mut found = false;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Problem::of(&e))?;
            for object in page.contents() {
                let Some(key) = object.key().map(url_decoded) else { continue };
                let key = key.as_str();
                if raw && key != folder.prefix {
                    continue;
                }
                found = true;
                let size = object.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
                self.key(key, size, !raw).await;
            }
            for sub in page.common_prefixes().iter().filter_map(|p| p.prefix().map(url_decoded)) {
                let sub = sub.as_str();
                if raw && sub.strip_prefix(folder.prefix.as_str()) != Some("/") {
                    continue;
                }
                found = true;
                match classify(sub, &self.shared.scope) {
                    Next::Descend => children.push(Folder { prefix: sub.to_string(), flat: false }),
                    Next::Day => children.push(Folder { prefix: sub.to_string(), flat: true }),
                    Next::Prune => {}
                }
            }
        }
        Ok((children, found))
    }

    /// Queues one listed key for fetching, or accounts for it as skipped.
    async fn key(&self, key: &str, size: u64, walked: bool) {
        if key.ends_with('/') {
            return; // a console "folder" placeholder
        }
        if self.shared.shard.is_some_and(|s| !s.owns(&self.name(key))) {
            return;
        }
        let progress = &self.shared.progress;
        if let Some(reason) = skip_key(key, walked, &self.shared.scope) {
            progress.listed(1, 0);
            let _ = self.shared.out.send(Item::Listed(Listed::Skipped(self.name(key), reason))).await;
            return;
        }
        progress.listed(1, size);
        let key = Key {
            client: self.client.clone(),
            direct: self.direct.clone(),
            bucket: self.bucket.clone(),
            key: key.to_string(),
            size,
            walked,
        };
        // Waits while the fetchers are behind: the listing never runs far ahead of the GETs.
        let _ = self.keys.send(key).await;
    }

    /// A folder that cannot be listed, or an input that names nothing: counted as failed (like
    /// a local path that does not exist), the scan goes on.
    async fn folder_failed(&self, prefix: &str, error: String) {
        if self.shared.shard.is_some_and(|s| !s.owns(&self.name(prefix))) {
            return;
        }
        self.shared.progress.listed(1, 0);
        let failed = Listed::Failed(self.name(prefix), ObjectError::Fetch(error));
        let _ = self.shared.out.send(Item::Listed(failed)).await;
    }
}

/// Walks one input depth first with up to `parallel` listings in flight; the frontier stays
/// small (the folders of the current path), however many days the bucket holds.
async fn list_input(lister: Arc<Lister>, prefix: String, parallel: usize) -> Result<()> {
    let mut stack = vec![Folder { prefix, flat: false }];
    let mut running = JoinSet::new();
    let mut root = true;
    loop {
        while running.len() < parallel
            && let Some(folder) = stack.pop()
        {
            let lister = lister.clone();
            running.spawn(async move {
                let result = lister.list(&folder).await;
                (folder, result)
            });
        }
        let Some(done) = running.join_next().await else { break };
        let (folder, result) = done.map_err(|e| anyhow!("an S3 listing stopped: {e}"))?;
        match result {
            Ok((_, false)) if root && !folder.prefix.is_empty() => {
                lister.folder_failed(&folder.prefix, "no such key or prefix".into()).await
            }
            Ok((children, _)) => stack.extend(children.into_iter().rev()),
            // The input itself cannot be listed: nothing of it can be read.
            Err(problem) if root || problem.is_credentials() => return Err(fatal(&lister.bucket, "list", problem)),
            Err(problem) => lister.folder_failed(&folder.prefix, format!("cannot list: {}", problem.detail())).await,
        }
        root = false;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fetching

/// Keeps `concurrency` GETs in flight, within the memory budget for unparsed bodies.
async fn fetch_all(mut queue: mpsc::Receiver<Key>, concurrency: usize, shared: Arc<Shared>) {
    let requests = Arc::new(Semaphore::new(concurrency));
    let memory = Arc::new(Semaphore::new(MEMORY_UNITS as usize));
    let mut running = JoinSet::new();
    while let Some(key) = queue.recv().await {
        let Ok(held) = memory.clone().acquire_many_owned(memory_units(key.size)).await else { break };
        let Ok(request) = requests.clone().acquire_owned().await else { break };
        let shared = shared.clone();
        running.spawn(async move {
            let item = fetch(key, request, held).await;
            let _ = shared.out.send(item).await;
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

/// The share of the memory budget an object of `size` bytes takes while unparsed.
fn memory_units(size: u64) -> u32 {
    u32::try_from(size.div_ceil(MEMORY_UNIT)).unwrap_or(u32::MAX).clamp(1, MEMORY_UNITS)
}

/// Why a GET attempt failed.
enum GetError {
    /// The request failed after the SDK's own retries.
    Request(Problem),
    /// The response started but its body did not arrive whole: worth another GET.
    Body(String),
}

async fn fetch(key: Key, request: OwnedSemaphorePermit, memory: OwnedSemaphorePermit) -> Item {
    let name = format!("s3://{}/{}", key.bucket, key.key);
    let mut attempt = 1;
    let result = loop {
        match get(&key, attempt).await {
            Err(GetError::Body(_)) if attempt < BODY_ATTEMPTS => {
                tokio::time::sleep(backoff(attempt, BODY_INITIAL_BACKOFF, BODY_MAX_BACKOFF)).await;
                attempt += 1;
            }
            Err(GetError::Body(reason)) => break Err(format!("{reason} (gave up after {attempt} GETs)")),
            Err(GetError::Request(problem)) if problem.is_credentials() => {
                return Item::Fatal(fatal(&key.bucket, "read", problem));
            }
            Err(GetError::Request(problem)) => break Err(format!("cannot GET: {}", problem.detail())),
            Ok(body) => break Ok(body),
        }
    };
    drop(request);
    let size = key.size;
    Item::Listed(match result {
        Ok(bytes) => Listed::Object(LogObject {
            name,
            location: Location::Body { bytes, _budget: Box::new(memory) },
            walked: key.walked,
            size,
        }),
        Err(reason) => Listed::Failed(name, ObjectError::Fetch(reason)),
    })
}

/// One GET, body included. The first of an object's GETs is direct while that works for the
/// bucket; one that misses, and any GET after it, goes through the SDK's client (boxed: its
/// future is large, and would otherwise be copied into every fetch task).
async fn get(key: &Key, attempt: u32) -> Result<Vec<u8>, GetError> {
    if attempt == 1
        && let Some(direct) = key.direct.as_deref().filter(|d| d.on())
        && let Some(body) = direct.get(&key.key, BODY_TIMEOUT).await
    {
        return Ok(body);
    }
    Box::pin(sdk_get(key)).await
}

/// One GET through the SDK's client: its retries, checksums and error classification.
async fn sdk_get(key: &Key) -> Result<Vec<u8>, GetError> {
    let response = key.client.get_object().bucket(&*key.bucket).key(&key.key).send().await;
    let response = response.map_err(|e| GetError::Request(Problem::of(&e)))?;
    let expected = response.content_length().and_then(|n| u64::try_from(n).ok());
    let body = match tokio::time::timeout(BODY_TIMEOUT, response.body.collect()).await {
        Err(_) => return Err(GetError::Body(format!("the body did not arrive within {} s", BODY_TIMEOUT.as_secs()))),
        Ok(Err(e)) => return Err(GetError::Body(format!("the body was cut short: {}", chain(&e)))),
        Ok(Ok(body)) => Vec::from(body.into_bytes()),
    };
    match expected {
        Some(n) if n != body.len() as u64 => {
            Err(GetError::Body(format!("the body was cut short: {} of {n} bytes", body.len())))
        }
        _ => Ok(body),
    }
}

/// Full-jitter exponential backoff: a random pause up to `initial × 2^(attempt-1)`, capped.
fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let ceiling = initial.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(max);
    let random = RandomState::new().hash_one(attempt) as f64 / u64::MAX as f64;
    ceiling.mul_f64(0.5 + random / 2.0)
}

// ---------------------------------------------------------------------------------------------
// Errors

/// The one-line error that ends a scan of `bucket`; `verb` is what was being done to it.
fn fatal(bucket: &str, verb: &str, problem: Problem) -> anyhow::Error {
    if let Some(line) = problem.credentials_line() {
        return anyhow!("s3://{bucket}: {line}");
    }
    match problem {
        Problem::AccessDenied(d) => anyhow!(
            "s3://{bucket}: access denied trying to {verb} the log bucket ({d}); the caller needs s3:ListBucket on arn:aws:s3:::{bucket} and s3:GetObject on its keys"
        ),
        Problem::NotFound(d) => anyhow!(
            "s3://{bucket}: no such bucket ({d}); check the name, the account of the credentials, and --endpoint-url"
        ),
        Problem::Other(d) if d.starts_with("PermanentRedirect") || d.starts_with("AuthorizationHeaderMalformed") => {
            anyhow!(
                "s3://{bucket}: the bucket is in another region than the client's ({d}); pass --aws-region with its region"
            )
        }
        other => anyhow!("s3://{bucket}: cannot {verb} the log bucket: {}", other.detail()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use denytrail_core::filter::Names;

    fn scope() -> Scope {
        Scope {
            accounts: Some(Names::from_iter(["111122223333".into()])),
            regions: Some(Names::from_iter(["us-east-1".into()])),
            from_day: NaiveDate::from_ymd_opt(2026, 11, 21),
            to_day: NaiveDate::from_ymd_opt(2026, 11, 22),
        }
    }

    #[test]
    fn folders_are_pruned_by_layout_and_scope() {
        let s = scope();
        let all = Scope::default();
        assert_eq!(classify("", &s), Next::Descend);
        assert_eq!(classify("logs/", &s), Next::Descend);
        assert_eq!(classify("logs/AWSLogs/", &s), Next::Descend);
        assert_eq!(classify("AWSLogs/o-3h3h3h3h3h/", &s), Next::Descend);
        assert_eq!(classify("AWSLogs/o-3h3h3h3h3h/111122223333/", &s), Next::Descend);
        assert_eq!(classify("AWSLogs/o-3h3h3h3h3h/444455556666/", &s), Next::Prune);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail/", &s), Next::Descend);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail-Digest/", &all), Next::Prune);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail-Insight/", &all), Next::Prune);
        assert_eq!(classify("AWSLogs/111122223333/elasticloadbalancing/", &all), Next::Prune);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail/eu-west-1/", &s), Next::Prune);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail/us-east-1/2025/", &s), Next::Prune);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/", &s), Next::Descend);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/", &s), Next::Prune);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/21/", &s), Next::Day);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/23/", &s), Next::Prune);
        assert_eq!(classify("p/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/22/", &s), Next::Day);
        assert_eq!(classify("AWSLogs/111122223333/CloudTrail/us-east-1/2020/01/01/", &all), Next::Day);
    }

    #[test]
    fn keys_skipped_by_name_and_scope() {
        let s = scope();
        assert_eq!(
            skip_key("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/21/d.json.gz", true, &s),
            Some(SkipReason::Digest)
        );
        assert_eq!(
            skip_key("x/111122223333_CloudTrail-Insight_us-east-1_f.json.gz", true, &s),
            Some(SkipReason::Insight)
        );
        assert_eq!(skip_key("AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/21/f.json.gz", true, &s), None);
        let old = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/f.json.gz";
        assert_eq!(skip_key(old, true, &s), Some(SkipReason::OutOfScope));
        assert_eq!(skip_key(old, false, &s), None, "an object the user named is read");
        assert_eq!(skip_key("README.txt", true, &s), None);
    }

    #[test]
    fn problems_by_code() {
        let p = |code, status| Problem::from_service(code, Some("m"), status);
        assert_eq!(p(Some("ExpiredToken"), 400), Problem::BadCredentials("ExpiredToken: m".into()));
        assert!(p(Some("InvalidAccessKeyId"), 403).is_credentials());
        assert!(p(Some("UnrecognizedClientException"), 400).is_credentials());
        assert_eq!(p(Some("AccessDenied"), 403), Problem::AccessDenied("AccessDenied: m".into()));
        assert_eq!(p(None, 403), Problem::AccessDenied("HTTP 403: m".into()));
        assert_eq!(p(Some("NoSuchBucket"), 404), Problem::NotFound("NoSuchBucket: m".into()));
        assert_eq!(p(Some("SlowDown"), 503), Problem::Other("SlowDown: m".into()));
        assert_eq!(Problem::from_service(None, None, 500), Problem::Other("HTTP 500".into()));
        let line = fatal("b", "list", p(Some("AccessDenied"), 403)).to_string();
        assert!(line.starts_with("s3://b: access denied trying to list the log bucket (AccessDenied: m)"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn listed_keys_are_url_decoded_as_s3_encodes_them() {
        assert_eq!(url_decoded("logs/with+space%2Bplus%01%E6%97%A5.json"), "logs/with space+plus\u{1}日.json");
        assert_eq!(url_decoded("AWSLogs/111122223333/"), "AWSLogs/111122223333/");
    }

    #[test]
    fn memory_units_are_bounded() {
        assert_eq!(memory_units(0), 1);
        assert_eq!(memory_units(MEMORY_UNIT), 1);
        assert_eq!(memory_units(MEMORY_UNIT + 1), 2);
        assert_eq!(memory_units(u64::MAX), MEMORY_UNITS);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..30 {
            let d = backoff(attempt, Duration::from_millis(100), Duration::from_secs(5));
            let ceiling =
                Duration::from_millis(100).saturating_mul(1 << (attempt - 1).min(16)).min(Duration::from_secs(5));
            assert!(d <= ceiling && d >= ceiling / 2, "attempt {attempt}: {d:?}");
        }
    }
}
