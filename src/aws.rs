//! AWS plumbing shared by the sources, the sinks and the trail lookup: one SDK configuration
//! (the standard credential chain with `--profile`, `--aws-region`, `--endpoint-url`, retries sized
//! for millions of small GETs), one small runtime, S3 clients in a bucket's own region, and one
//! classification of errors into the lines a user acts on.

use std::error::Error as StdError;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::{RetryConfig, RetryPartition, TokenBucket};
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_types::service_config::ServiceConfigKey;

pub mod direct;

/// How to reach AWS: the flags of the AWS group.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    /// The client's region; `None` = the credential chain's, then the bucket's own.
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Requests in flight at once (S3 GETs; live configuration calls).
    pub concurrency: usize,
}

/// The region asked when nothing names one; S3 answers from there with the bucket's own.
pub const FALLBACK_REGION: &str = "us-east-1";
/// Attempts per request inside the SDK (throttling, 5xx, connection errors).
const SDK_ATTEMPTS: u32 = 8;
/// Attempts of the first request to a bucket: an endpoint that cannot be reached is said at once.
const PROBE_ATTEMPTS: u32 = 3;
/// Full-jitter exponential backoff between SDK attempts: 0–0.2 s, 0–0.4 s, … capped at 10 s.
const SDK_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const SDK_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Retry quota shared by one client's requests. The SDK's default (500) runs dry within seconds
/// when S3 throttles 64 requests in flight, which would fail objects that a pause would save.
const RETRY_QUOTA: usize = 50_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time to the first response byte.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A small runtime for the network side: request latency, not CPU, bounds it.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("denytrail-aws")
        .enable_all()
        .build()
        .context("cannot start the AWS client runtime")
}

/// A runtime on the calling thread alone, for a source that forwards what it reads to the
/// workers from that same thread.
pub fn current_thread_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the AWS client runtime")
}

/// The SDK configuration: the standard credential chain (environment, profiles, SSO, container
/// and instance roles) with `--profile`, `--aws-region` and `--endpoint-url`, and retries sized
/// for millions of small GETs.
pub async fn sdk_config(opts: &AwsOptions) -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(SDK_ATTEMPTS)
        .with_initial_backoff(SDK_INITIAL_BACKOFF)
        .with_max_backoff(SDK_MAX_BACKOFF);
    let timeouts = TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).read_timeout(READ_TIMEOUT).build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry).timeout_config(timeouts);
    if let Some(profile) = &opts.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &opts.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// The endpoint URL S3 clients built from `sdk` use, as the SDK picks it: `--endpoint-url` (or
/// `AWS_ENDPOINT_URL`, which the flag reads), else S3's own (`AWS_ENDPOINT_URL_S3`, a profile's
/// `services` section), else the shared configuration's; `None` for AWS's own endpoints.
fn s3_endpoint_url(sdk: &SdkConfig, opts: &AwsOptions) -> Option<String> {
    let s3_own = || {
        let key = ServiceConfigKey::builder().service_id("S3").env("AWS_ENDPOINT_URL").profile("endpoint_url").build();
        sdk.service_config()?.load_config(key.ok()?)
    };
    opts.endpoint_url.clone().or_else(s3_own).or_else(|| sdk.endpoint_url().map(str::to_string))
}

/// Custom endpoints (MinIO, moto, LocalStack) get path-style addressing: they rarely serve
/// `bucket.host` names.
fn path_style(opts: &AwsOptions) -> bool {
    opts.endpoint_url.is_some()
}

/// An S3 client in `region` (else the configuration's, else [`FALLBACK_REGION`]), path-style
/// as [`path_style`] says.
pub fn s3_client(sdk: &SdkConfig, region: Option<&str>, path_style: bool) -> Client {
    let region = region.map(str::to_string).or_else(|| sdk.region().map(|r| r.to_string()));
    let partition = RetryPartition::custom("denytrail-s3")
        .token_bucket(TokenBucket::builder().capacity(RETRY_QUOTA).build())
        .build();
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .region(Region::new(region.unwrap_or_else(|| FALLBACK_REGION.to_string())))
        .force_path_style(path_style)
        .retry_partition(partition)
        .build();
    Client::from_conf(config)
}

/// A client in the bucket's own region, found with HeadBucket (`x-amz-bucket-region` comes back
/// on success and on the redirect S3 answers from another region). The probe also fails fast,
/// with few retries, when S3 cannot be reached at all or the credentials do not work.
pub async fn s3_client_for(sdk: &SdkConfig, opts: &AwsOptions, bucket: &str) -> Result<Client, Problem> {
    let path_style = path_style(opts);
    let first = s3_client(sdk, None, path_style);
    let asked = first.config().region().map(|r| r.to_string());
    let probe =
        aws_sdk_s3::config::Builder::new().retry_config(RetryConfig::standard().with_max_attempts(PROBE_ATTEMPTS));
    let found = match first.head_bucket().bucket(bucket).customize().config_override(probe).send().await {
        Ok(out) => out.bucket_region().map(str::to_string),
        Err(err) => {
            let problem = Problem::of(&err);
            if problem.is_credentials() || matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
                return Err(problem);
            }
            // Anything else (403 and 404 carry no body on HEAD) is explained by the listing.
            err.raw_response().and_then(|r| r.headers().get("x-amz-bucket-region")).map(str::to_string)
        }
    };
    Ok(match found {
        Some(region) if Some(&region) != asked.as_ref() => s3_client(sdk, Some(&region), path_style),
        _ => first,
    })
}

/// What went wrong with an AWS request, in the terms a user acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The credential chain found nothing usable.
    NoCredentials(String),
    /// Credentials were sent and refused: expired, unknown or badly signed.
    BadCredentials(String),
    AccessDenied(String),
    NotFound(String),
    /// Throttling that outlasted the retries, 5xx, network failures, unexpected answers.
    Other(String),
}

impl Problem {
    /// Classifies an SDK error into one line, without the SDK's nested dump.
    pub fn of<E>(err: &SdkError<E, HttpResponse>) -> Problem
    where
        E: ProvideErrorMetadata + StdError + 'static,
    {
        match err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let status = service.raw().status().as_u16();
                Problem::from_service(e.code(), e.message(), status)
            }
            SdkError::TimeoutError(_) => Problem::Other("the request timed out".into()),
            other => {
                let text = source_chain(other);
                if text.contains("no credentials found in chain") {
                    Problem::NoCredentials(NO_CREDENTIALS.into())
                } else if text.to_ascii_lowercase().contains("credential") {
                    // First line only: provider errors can list every provider tried.
                    Problem::NoCredentials(text.lines().next().unwrap_or_default().trim_end_matches(':').to_string())
                } else {
                    Problem::Other(text)
                }
            }
        }
    }

    /// Classifies an error answer by its code (and its HTTP status when it has no code).
    pub fn from_service(code: Option<&str>, message: Option<&str>, status: u16) -> Problem {
        let text = match (code, message) {
            (Some(c), Some(m)) if !m.is_empty() => format!("{c}: {m}"),
            (Some(c), _) => c.to_string(),
            (None, Some(m)) if !m.is_empty() => format!("HTTP {status}: {m}"),
            (None, _) => format!("HTTP {status}"),
        };
        match code {
            Some(
                "ExpiredToken"
                | "ExpiredTokenException"
                | "TokenRefreshRequired"
                | "RequestExpired"
                | "InvalidAccessKeyId"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "InvalidToken"
                | "UnrecognizedClientException"
                | "IncompleteSignature"
                | "MissingAuthenticationToken"
                | "MissingAuthenticationTokenException",
            ) => Problem::BadCredentials(text),
            Some("AccessDenied" | "AccessDeniedException" | "AllAccessDisabled" | "Forbidden") => {
                Problem::AccessDenied(text)
            }
            Some(
                "NoSuchBucket" | "NoSuchKey" | "NotFound" | "TrailNotFoundException" | "ResourceNotFoundException",
            ) => Problem::NotFound(text),
            Some(_) => Problem::Other(text),
            None if status == 403 => Problem::AccessDenied(text),
            None if status == 404 => Problem::NotFound(text),
            None => Problem::Other(text),
        }
    }

    pub fn is_credentials(&self) -> bool {
        matches!(self, Problem::NoCredentials(_) | Problem::BadCredentials(_))
    }

    pub fn detail(&self) -> &str {
        match self {
            Problem::NoCredentials(d)
            | Problem::BadCredentials(d)
            | Problem::AccessDenied(d)
            | Problem::NotFound(d)
            | Problem::Other(d) => d,
        }
    }

    /// The line for credentials that do not work, whatever was asked with them.
    pub fn credentials_line(&self) -> Option<String> {
        match self {
            Problem::NoCredentials(d) => Some(format!(
                "no usable AWS credentials ({d}); set AWS_PROFILE or --profile, run `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )),
            Problem::BadCredentials(d) => Some(format!(
                "the AWS credentials were refused ({d}); they may have expired: refresh them (e.g. `aws sso login`) or choose another --profile"
            )),
            _ => None,
        }
    }
}

/// An error and its causes on one line, without the SDK's generic top levels.
pub fn source_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = err.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) && !GENERIC.contains(&text.as_str()) {
            parts.push(text);
        }
        next = e.source();
    }
    if parts.is_empty() { err.to_string() } else { parts.join(": ") }
}

/// An error with its causes on one line.
pub fn chain(err: &(dyn StdError + 'static)) -> String {
    let top = err.to_string();
    let rest = source_chain(err);
    if rest == top || rest.contains(&top) { rest } else { format!("{top}: {rest}") }
}

/// The credential chain's "Attempted:" list, in one line.
const NO_CREDENTIALS: &str = "none found in the environment, the shared config and credentials files, web identity, the container or instance metadata";

/// Wrapper messages that say nothing by themselves.
const GENERIC: &[&str] =
    &["io error", "other", "dispatch failure", "response error", "service error", "failed to construct request"];

/// Every key under `prefix` in `bucket` (for `merge`'s `s3://…/*.partial` globs). A refusal is
/// one line naming the bucket.
pub fn list_keys(opts: &AwsOptions, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    runtime()?.block_on(async {
        let sdk = sdk_config(opts).await;
        let client = s3_client_for(&sdk, opts, bucket)
            .await
            .map_err(|p| anyhow::anyhow!("s3://{bucket}/{prefix}: cannot list: {}", p.detail()))?;
        let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| anyhow::anyhow!("s3://{bucket}/{prefix}: cannot list: {}", Problem::of(&e).detail()))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        Ok(keys)
    })
}
