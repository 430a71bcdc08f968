//! `--live` and `denytrail snapshot`: read the account configuration the denied requests are
//! judged against, once per bucket, principal, KMS key, VPC endpoint and account of the report.
//!
//! Read-only calls through the real SDK clients, on the same credential chain and flags as every
//! other AWS call (`aws::sdk_config`), at most [`MAX_IN_FLIGHT`] at once. A call that is refused,
//! throttled past its retries, not found or broken becomes [`Visibility::NotVisible`] with its
//! reason: it never fails the scan. "There is none" answers (`NoSuchBucketPolicy`...) are
//! `Visible(None)`. Every call is counted (`stats.live.live_calls`). The judging itself is pure and
//! lives in the core (`diagnose::confirm`).

mod ec2;
mod iam;
mod kms;
mod org;
mod s3;

use std::error::Error as StdError;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use denytrail_core::diagnose::confirm::{Needs, sessions_from};
use denytrail_core::policy::{NotVisibleReason, Policy, Snapshot, Visibility};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::{AwsOptions, Problem};
use crate::event::Event;

/// API calls in flight at once (and never more than `--concurrency`).
pub const MAX_IN_FLIGHT: usize = 8;
/// Attempts per configuration call: throttling is retried, but a scan does not wait minutes for
/// a setting it can report as not visible.
const ATTEMPTS: u32 = 3;

/// What was read, and what it cost.
pub struct Fetched {
    pub snapshot: Snapshot,
    pub calls: u64,
    pub seconds: f64,
}

/// Reads what the target events need (see [`Needs`]), with the sessions their companions passed.
pub fn fetch(targets: &[Event], companions: &[Event], opts: &AwsOptions) -> Result<Fetched> {
    let started = Instant::now();
    let needs = Needs::of(targets);
    let runtime = crate::aws::runtime()?;
    let (mut snapshot, calls) = runtime.block_on(fetch_async(needs, targets, opts));
    snapshot.sessions = sessions_from(companions);
    Ok(Fetched { snapshot, calls, seconds: started.elapsed().as_secs_f64() })
}

/// The shared state of one fetch: the SDK configuration, the call budget and counter.
pub(crate) struct Ctx {
    pub sdk: SdkConfig,
    pub opts: AwsOptions,
    permits: Semaphore,
    calls: AtomicU64,
    /// The credentials' own account (GetCallerIdentity): IAM, S3 Control and Organizations only
    /// answer about it.
    pub own_account: Option<String>,
}

impl Ctx {
    /// One SDK call: waits for a slot, counts it, and turns an error into a [`Failure`].
    pub async fn call<T, E, F>(&self, send: F) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let _slot = self.permits.acquire().await.expect("the semaphore is never closed");
        self.calls.fetch_add(1, Ordering::Relaxed);
        send.await.map_err(|e| Failure::of(&e))
    }

    /// Counts a call made elsewhere (the bucket-region probe of `aws::s3_client_for`).
    pub fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// `want`, else the configuration's region, else [`crate::aws::FALLBACK_REGION`].
    pub fn region(&self, want: Option<&str>) -> aws_sdk_s3::config::Region {
        let r = want.map(str::to_string).or_else(|| self.sdk.region().map(|r| r.to_string()));
        aws_sdk_s3::config::Region::new(r.unwrap_or_else(|| crate::aws::FALLBACK_REGION.to_string()))
    }

    pub fn retry() -> RetryConfig {
        RetryConfig::standard().with_max_attempts(ATTEMPTS)
    }

    /// `NotVisible` when `account` is known and is not the credentials' own.
    pub fn foreign<T>(&self, account: Option<&str>) -> Option<Visibility<T>> {
        match (account, self.own_account.as_deref()) {
            (Some(a), Some(own)) if a != own => Some(Visibility::NotVisible {
                reason: NotVisibleReason::Refused,
                detail: Some(format!(
                    "account {a} is not the credentials' account {own}: read it with that account's credentials"
                )),
            }),
            _ => None,
        }
    }
}

/// A call that did not answer what was asked.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    /// The service's error code (`NoSuchBucketPolicy`, `AccessDenied`...), "" without one.
    pub code: String,
    pub reason: NotVisibleReason,
    pub detail: String,
}

impl Failure {
    pub fn of<E>(err: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        let (code, status) = match err {
            SdkError::ServiceError(s) => (s.err().code().unwrap_or_default().to_string(), s.raw().status().as_u16()),
            _ => (String::new(), 0),
        };
        let problem = Problem::of(err);
        Failure { reason: reason_of(&code, status, &problem), detail: problem.detail().to_string(), code }
    }

    pub fn problem(p: &Problem) -> Failure {
        Failure { code: String::new(), reason: reason_of("", 0, p), detail: p.detail().to_string() }
    }

    pub fn not_visible<T>(&self) -> Visibility<T> {
        Visibility::NotVisible { reason: self.reason, detail: Some(self.detail.clone()) }
    }

    /// An answer that could not be read as a policy document.
    pub fn unreadable(what: &str) -> Failure {
        Failure { code: String::new(), reason: NotVisibleReason::Error, detail: format!("{what} is not a JSON policy") }
    }
}

fn reason_of(code: &str, status: u16, p: &Problem) -> NotVisibleReason {
    match code {
        "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "SlowDown"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException" => NotVisibleReason::Throttled,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError" => {
            NotVisibleReason::Refused
        }
        "NoSuchBucket"
        | "NoSuchEntity"
        | "NotFoundException"
        | "NoSuchKey"
        | "ChildNotFoundException"
        | "AccountNotFoundException"
        | "PolicyNotFoundException"
        | "InvalidVpcEndpointId.NotFound"
        | "InvalidVpcEndpointId.Malformed" => NotVisibleReason::NotFound,
        _ if status == 403 => NotVisibleReason::Refused,
        _ if status == 404 => NotVisibleReason::NotFound,
        _ => match p {
            Problem::AccessDenied(_) => NotVisibleReason::Refused,
            Problem::NotFound(_) => NotVisibleReason::NotFound,
            _ => NotVisibleReason::Error,
        },
    }
}

/// A policy document as AWS returns it: JSON, or URL-encoded JSON (IAM).
pub(crate) fn document(id: String, text: &str) -> Result<Policy, Failure> {
    let parsed = serde_json::from_str(text).or_else(|_| serde_json::from_str(&percent_decode(text)));
    parsed.map(|doc| Policy::new(id.clone(), doc)).map_err(|_| Failure::unreadable(&id))
}

/// `%7B%22Version%22…` → `{"Version"…` (IAM's policy documents are URL-encoded, RFC 3986).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn fetch_async(needs: Needs, targets: &[Event], opts: &AwsOptions) -> (Snapshot, u64) {
    let taken_at_ms = chrono::Utc::now().timestamp_millis();
    let sdk = crate::aws::sdk_config(opts).await;
    let mut ctx = Ctx {
        sdk,
        opts: opts.clone(),
        permits: Semaphore::new(opts.concurrency.clamp(1, MAX_IN_FLIGHT)),
        calls: AtomicU64::new(0),
        own_account: None,
    };
    ctx.own_account = own_account(&ctx).await;
    let ctx = Arc::new(ctx);
    let mut snap = Snapshot { taken_at_ms: Some(taken_at_ms), ..Snapshot::default() };

    // Buckets, principals, endpoints and accounts at once; then the KMS keys, which include the
    // buckets' default keys.
    let iam = Arc::new(iam::Iam::new(&ctx));
    let s3 = Arc::new(s3::S3::new(&ctx));
    let mut buckets = JoinSet::new();
    for (name, owner) in needs.buckets.clone() {
        let (ctx, s3) = (ctx.clone(), s3.clone());
        buckets.spawn(async move { (name.clone(), s3.bucket(&ctx, &name, owner).await) });
    }
    let mut principals = JoinSet::new();
    for arn in needs.principals.clone() {
        let (ctx, iam) = (ctx.clone(), iam.clone());
        principals.spawn(async move { (arn.clone(), iam.principal(&ctx, &arn).await) });
    }
    let mut endpoints = JoinSet::new();
    for (id, region) in needs.vpc_endpoints.clone() {
        let ctx = ctx.clone();
        endpoints.spawn(async move { (id.clone(), ec2::endpoint(&ctx, &id, region.as_deref()).await) });
    }
    let accounts = {
        let (ctx, wanted) = (ctx.clone(), needs.accounts.clone());
        tokio::spawn(async move { org::accounts(&ctx, &wanted).await })
    };
    while let Some(done) = buckets.join_next().await {
        if let Ok((name, config)) = done {
            snap.buckets.insert(name, config);
        }
    }
    let mut keys = needs.kms_keys.clone();
    keys.extend(Needs::default_keys(targets, &snap));
    let mut kms_keys = JoinSet::new();
    for arn in keys {
        let ctx = ctx.clone();
        kms_keys.spawn(async move { (arn.clone(), kms::key(&ctx, &arn).await) });
    }
    while let Some(done) = principals.join_next().await {
        if let Ok((arn, config)) = done {
            snap.principals.insert(arn, config);
        }
    }
    while let Some(done) = endpoints.join_next().await {
        if let Ok((id, config)) = done {
            snap.vpc_endpoints.insert(id, config);
        }
    }
    while let Some(done) = kms_keys.join_next().await {
        if let Ok((arn, config)) = done {
            snap.kms_keys.insert(arn, config);
        }
    }
    if let Ok(accounts) = accounts.await {
        snap.accounts = accounts;
    }
    (snap, ctx.calls.load(Ordering::Relaxed))
}

async fn own_account(ctx: &Ctx) -> Option<String> {
    let config = aws_sdk_sts::config::Builder::from(&ctx.sdk).retry_config(Ctx::retry()).build();
    let sts = aws_sdk_sts::Client::from_conf(config);
    ctx.call(sts.get_caller_identity().send()).await.ok().and_then(|o| o.account().map(str::to_string))
}

/// Writes a snapshot as pretty JSON (policies and settings only: nothing of the credentials).
pub fn save(snapshot: &Snapshot, path: &Path) -> Result<()> {
    crate::sink::write_file(path, |w| {
        serde_json::to_writer_pretty(&mut *w, snapshot)?;
        writeln!(w)?;
        Ok(())
    })
}

/// Reads a `denytrail snapshot` file.
pub fn load(path: &Path) -> Result<Snapshot> {
    let text = std::fs::read(path).with_context(|| format!("cannot read the configuration {}", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a configuration written by `denytrail snapshot`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_documents_are_url_decoded() {
        let p = document("p".into(), "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D").unwrap();
        assert_eq!(p.document["Version"], "2012-10-17");
        let plain = document("q".into(), r#"{"Statement": []}"#).unwrap();
        assert!(plain.document["Statement"].is_array());
        assert!(document("r".into(), "%zz").is_err());
    }
}
