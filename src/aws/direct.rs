//! GetObject without the SDK's per-request orchestrator, for the hundreds of thousands of small
//! GETs of a trail scan.
//!
//! The SDK still does everything that takes judgement: its endpoint resolver finds the bucket's
//! URL and signing scheme, its credential chain provides the keys, its signer (`aws-sigv4`) signs,
//! an HTTP connector built as its default client builds one (hyper and rustls, the same connect
//! and read timeouts, `HTTP(S)_PROXY`/`NO_PROXY`) carries the request, and its checksum crate checks a body S3 sends a checksum for. What is skipped is
//! the orchestrator's per-call setup (runtime plugins, interceptors, configuration layers, the
//! identity cache), which cost more CPU per small object than parsing it (`benches/s3-cpu.sh`).
//!
//! Only a whole 200 answer is taken. Anything else (an error status, a redirect, a reset, a
//! checksum that does not match) is handed back, and the caller asks again through the SDK's
//! client, so its retries, throttling backoff and error classification stay the only ones. A
//! bucket whose direct GETs keep missing (a server that signs differently) stops using them.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_checksums::ChecksumAlgorithm;
use aws_smithy_http::label::{EncodingStrategy, fmt_string};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, tls};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_runtime_api::http::Request;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::endpoint::Endpoint;
use http_body_util::BodyExt;
use tokio::sync::Mutex;

use super::{AwsOptions, CONNECT_TIMEOUT, READ_TIMEOUT, path_style, s3_endpoint_url};

/// Answers in a row that say the direct path itself is wrong for a bucket (a redirect, a bad
/// request, a refusal) after which its GETs all go through the SDK's client. Throttling, server
/// errors and broken connections are S3's weather, not the path's fault: they do not count.
const MISSES_BEFORE_OFF: u32 = 16;
/// Credentials are refreshed this long before they expire.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// `DENYTRAIL_S3_GET=sdk` sends every GET through the SDK's client (to compare, or to rule the
/// direct path out with an S3-compatible server).
pub const SWITCH: &str = "DENYTRAIL_S3_GET";

/// Direct GETs of one bucket's objects.
pub struct DirectGet {
    http: SharedHttpConnector,
    /// The bucket's endpoint as the SDK resolved it, without a trailing `/`.
    base: String,
    /// The region the endpoint's SigV4 scheme signs for.
    region: String,
    credentials: CredentialCache,
    misses: AtomicU32,
}

/// Why a direct GET was not taken. The caller then asks the SDK's client, whose answer says why.
enum Miss {
    /// An answer that says the direct path may be wrong for this bucket (3xx, 400, 403).
    Suspect,
    /// Anything else: throttling, a server error, a broken connection or body, a bad checksum.
    Other,
}

impl DirectGet {
    /// Direct GETs of `bucket`'s objects as `client` (made by [`super::s3_client_for`]) would
    /// address them, or `None` when the SDK would not sign them with plain SigV4 for `s3` (S3
    /// Express, multi-region access points), when no credentials provider is configured, or when
    /// `DENYTRAIL_S3_GET=sdk`.
    pub async fn for_bucket(sdk: &SdkConfig, opts: &AwsOptions, client: &Client, bucket: &str) -> Option<DirectGet> {
        if std::env::var(SWITCH).is_ok_and(|v| v.eq_ignore_ascii_case("sdk")) {
            return None;
        }
        let provider = sdk.credentials_provider()?;
        let params = Params::builder()
            .bucket(bucket)
            .set_region(client.config().region().map(|r| r.to_string()))
            .set_endpoint(s3_endpoint_url(sdk, opts))
            .force_path_style(path_style(opts))
            .use_fips(sdk.use_fips().unwrap_or(false))
            .use_dual_stack(sdk.use_dual_stack().unwrap_or(false))
            .build()
            .ok()?;
        let endpoint = DefaultResolver::new().resolve_endpoint(&params).await.ok()?;
        let signing_region = sigv4_region(&endpoint)?;
        let settings =
            HttpConnectorSettings::builder().connect_timeout(CONNECT_TIMEOUT).read_timeout(READ_TIMEOUT).build();
        // Built as the SDK builds its default client's, proxies from the environment included.
        let http = Connector::builder()
            .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
            .connector_settings(settings)
            .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
            .proxy_config(ProxyConfig::from_env())
            .build();
        Some(DirectGet {
            http: SharedHttpConnector::new(http),
            base: endpoint.url().trim_end_matches('/').to_string(),
            region: signing_region,
            credentials: CredentialCache { provider, cached: Mutex::new(None) },
            misses: AtomicU32::new(0),
        })
    }

    /// Whether direct GETs still go to this bucket.
    pub fn on(&self) -> bool {
        self.misses.load(Ordering::Relaxed) < MISSES_BEFORE_OFF
    }

    /// One object's whole body, or `None`: then ask the SDK's client.
    pub async fn get(&self, key: &str, body_timeout: Duration) -> Option<Vec<u8>> {
        let result = tokio::time::timeout(body_timeout, self.attempt(key)).await.unwrap_or(Err(Miss::Other));
        match result {
            Ok(_) => self.misses.store(0, Ordering::Relaxed),
            Err(Miss::Suspect) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
            }
            Err(Miss::Other) => {}
        }
        result.ok()
    }

    async fn attempt(&self, key: &str) -> Result<Vec<u8>, Miss> {
        let credentials = self.credentials.current().await?;
        let url = object_url(&self.base, key);
        let request = self.signed(&url, credentials)?;
        let response = self.http.call(request).await.map_err(|_| Miss::Other)?;
        let status = response.status().as_u16();
        if status != 200 {
            let suspect = (300..400).contains(&status) || status == 400 || status == 403;
            return Err(if suspect { Miss::Suspect } else { Miss::Other });
        }
        let expected =
            response.headers().get("content-length").and_then(|n| n.parse::<usize>().ok()).ok_or(Miss::Other)?;
        let checksum = expected_checksum(response.headers());
        let mut body = response.into_body();
        let mut bytes = Vec::with_capacity(expected);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| Miss::Other)?;
            if let Ok(data) = frame.into_data() {
                if bytes.len() + data.len() > expected {
                    return Err(Miss::Other);
                }
                bytes.extend_from_slice(&data);
            }
        }
        if bytes.len() != expected {
            return Err(Miss::Other);
        }
        if let Some((algorithm, want)) = checksum {
            let mut sum = algorithm.into_impl();
            sum.update(&bytes);
            if sum.header_value().as_bytes() != want.as_bytes() {
                return Err(Miss::Other);
            }
        }
        Ok(bytes)
    }

    /// A GET of `url`, signed as the SDK signs S3 requests: the key's path as written, not
    /// normalized or encoded twice, and the payload hash in `x-amz-content-sha256`.
    fn signed(&self, url: &str, credentials: Credentials) -> Result<Request, Miss> {
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|_| Miss::Other)?
            .into();
        let mut request = http::Request::builder()
            .method("GET")
            .uri(url)
            .header("x-amz-checksum-mode", "ENABLED")
            .body(SdkBody::empty())
            .map_err(|_| Miss::Other)?;
        let headers = request.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or_default()));
        let signable =
            SignableRequest::new("GET", url, headers, SignableBody::UnsignedPayload).map_err(|_| Miss::Other)?;
        let (instructions, _) = sign(signable, &params).map_err(|_| Miss::Other)?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        Request::try_from(request).map_err(|_| Miss::Other)
    }
}

/// An object's URL as the SDK writes a GetObject's: the key encoded as its greedy `{Key+}` label,
/// and the operation named in the query (as S3's access logs then show it).
fn object_url(base: &str, key: &str) -> String {
    format!("{base}/{}?x-id=GetObject", fmt_string(key, EncodingStrategy::Greedy))
}

/// The signing region of an endpoint the SDK signs with plain SigV4 for `s3` (without double
/// encoding, and with no headers of its own to send), else `None`.
fn sigv4_region(endpoint: &Endpoint) -> Option<String> {
    let scheme = endpoint.auth_schemes().first()?;
    let text = |name: &str| scheme.get(name).and_then(|v| v.as_string());
    let plain = scheme.name() == "sigv4"
        && text("signingName")? == "s3"
        && scheme.get("disableDoubleEncoding").and_then(|v| v.as_bool()) == Some(true)
        && endpoint.headers().next().is_none();
    plain.then(|| text("signingRegion").map(str::to_string)).flatten()
}

/// The full-object checksum S3 sent, the cheapest algorithm first, as the SDK picks it; a
/// multipart object's checksum of checksums (`…-3`) cannot be checked against the body.
fn expected_checksum(headers: &aws_smithy_runtime_api::http::Headers) -> Option<(ChecksumAlgorithm, String)> {
    aws_smithy_checksums::http::CHECKSUM_ALGORITHMS_IN_PRIORITY_ORDER.iter().find_map(|name| {
        let algorithm: ChecksumAlgorithm = name.parse().ok()?;
        let value = headers.get(algorithm.into_impl().header_name())?;
        (!is_composite(value)).then(|| (algorithm, value.to_string()))
    })
}

/// `<base64>-<parts>`: the checksum of a multipart upload's part checksums.
fn is_composite(checksum: &str) -> bool {
    checksum.rsplit_once('-').is_some_and(|(_, parts)| !parts.is_empty() && parts.bytes().all(|b| b.is_ascii_digit()))
}

/// The provider's credentials, fetched once and again shortly before they expire.
struct CredentialCache {
    provider: SharedCredentialsProvider,
    cached: Mutex<Option<Credentials>>,
}

impl CredentialCache {
    async fn current(&self) -> Result<Credentials, Miss> {
        let mut cached = self.cached.lock().await;
        let fresh = |c: &Credentials| c.expiry().is_none_or(|at| at > SystemTime::now() + REFRESH_AHEAD);
        if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let c = self.provider.provide_credentials().await.map_err(|_| Miss::Other)?;
        *cached = Some(c.clone());
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_as_the_sdk_encodes_them() {
        assert_eq!(
            object_url("https://b.s3.us-east-1.amazonaws.com", "AWSLogs/1/CloudTrail/f.json.gz"),
            "https://b.s3.us-east-1.amazonaws.com/AWSLogs/1/CloudTrail/f.json.gz?x-id=GetObject"
        );
        assert_eq!(
            object_url("http://127.0.0.1:9000/b", "a b/c+d=é?"),
            "http://127.0.0.1:9000/b/a%20b/c%2Bd%3D%C3%A9%3F?x-id=GetObject"
        );
    }

    #[test]
    fn composite_checksums_are_not_checked() {
        assert!(is_composite("vqRZ4w==-3"));
        assert!(!is_composite("vqRZ4w=="));
        assert!(!is_composite("vqRZ4w==-"));
    }
}
