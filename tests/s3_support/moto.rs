//! A real S3- and CloudTrail-compatible API server on loopback: moto's server mode.
//!
//! Found through `$DENYTRAIL_MOTO_SERVER`, else in the virtualenv `scripts/moto-server.sh`
//! installs (`${DENYTRAIL_VENV:-~/.cache/denytrail-venv}/bin/moto_server`). A missing server
//! fails the test with the command that installs it: these tests never skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail as cloudtrail;
use aws_sdk_s3 as s3;
use aws_sdk_s3::primitives::ByteStream;

/// Region the test resources are created in unless a test says otherwise.
pub const REGION: &str = "us-east-1";
/// moto's default account id: the owner of every trail a test creates.
pub const ACCOUNT: &str = "123456789012";

fn server_path() -> PathBuf {
    if let Some(p) = std::env::var_os("DENYTRAIL_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = std::env::var_os("DENYTRAIL_VENV").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
        home.join(".cache/denytrail-venv")
    });
    venv.join("bin/moto_server")
}

/// A running `moto_server`, killed on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    runtime: tokio::runtime::Runtime,
    /// moto's stderr, removed with the server.
    _log: tempfile::NamedTempFile,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it answers.
    pub fn start() -> Moto {
        let path = server_path();
        assert!(
            path.exists(),
            "moto_server is missing at {}: the S3 tests need it. Install it with `scripts/moto-server.sh` \
             (pip-installs moto[server] into ~/.cache/denytrail-venv), or set DENYTRAIL_MOTO_SERVER to its path",
            path.display()
        );
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
        let mut last_error = String::new();
        // The port is free when picked but may be taken before moto binds it: try a few.
        for _ in 0..5 {
            let port = free_port();
            // moto logs every request to stderr: into a file, never a pipe nobody reads (a full
            // pipe would block the server mid-test).
            let log = tempfile::NamedTempFile::new().expect("a log file for moto");
            let mut child = Command::new(&path)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log.reopen().expect("reopen the log file")))
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {}: {e}; reinstall it with scripts/moto-server.sh", path.display())
                });
            match wait_until_answering(&mut child, port) {
                Ok(()) => return Moto { child, port, runtime, _log: log },
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
                    last_error = format!("{e}; its stderr: {stderr}");
                }
            }
        }
        panic!("moto_server ({}) did not start: {last_error}", path.display());
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// The SDK configuration of every client of a test: static credentials, moto's URL.
    pub fn config(&self) -> aws_config::SdkConfig {
        self.sdk_config(REGION)
    }

    fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        let creds = s3::config::Credentials::new("testing", "testing", None, None, "tests");
        self.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(s3::config::Region::new(region.to_string()))
                .credentials_provider(creds)
                .endpoint_url(self.url())
                .load(),
        )
    }

    pub fn s3(&self) -> s3::Client {
        let config = s3::config::Builder::from(&self.sdk_config(REGION)).force_path_style(true).build();
        s3::Client::from_conf(config)
    }

    pub fn cloudtrail(&self) -> cloudtrail::Client {
        cloudtrail::Client::new(&self.sdk_config(REGION))
    }

    /// Creates a bucket in `region`.
    pub fn create_bucket(&self, bucket: &str, region: &str) {
        let client = self.s3();
        let mut req = client.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            let constraint = s3::types::BucketLocationConstraint::from(region);
            req = req.create_bucket_configuration(
                s3::types::CreateBucketConfiguration::builder().location_constraint(constraint).build(),
            );
        }
        self.block_on(req.send())
            .unwrap_or_else(|e| panic!("create bucket {bucket}: {}", s3::error::DisplayErrorContext(e)));
    }

    /// Uploads `(key, bytes)` pairs, many at a time.
    pub fn put_all(&self, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
        let client = self.s3();
        self.block_on(async {
            let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
            let mut tasks = tokio::task::JoinSet::new();
            for (key, body) in objects {
                let (client, bucket, limit) = (client.clone(), bucket.to_string(), limit.clone());
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await.expect("semaphore");
                    client
                        .put_object()
                        .bucket(&bucket)
                        .key(&key)
                        .body(ByteStream::from(body))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("put {key}: {}", s3::error::DisplayErrorContext(e)));
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("upload task");
            }
        });
    }

    /// Uploads every file under `dir` with its relative path (after `prefix`) as the key.
    pub fn upload_dir(&self, bucket: &str, prefix: &str, dir: &Path) -> usize {
        let objects: Vec<(String, Vec<u8>)> = files_under(dir)
            .into_iter()
            .map(|p| {
                let rel = p.strip_prefix(dir).expect("under dir").to_string_lossy().replace('\\', "/");
                (format!("{prefix}{rel}"), std::fs::read(&p).expect("read test file"))
            })
            .collect();
        let n = objects.len();
        self.put_all(bucket, objects);
        n
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read test dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

fn wait_until_answering(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("moto_server exited with {status}"));
        }
        if answers(port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("moto_server did not answer within 60 s".into())
}

/// Whether an HTTP server answers on the port.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 8];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/")
}
