//! A small fault-injecting HTTP proxy between the CLI and moto.
//!
//! Each client connection carries one request (upstream answers are forced to
//! `Connection: close`), so a fault never leaks into the next request. A rule decides, per
//! request, whether to pass it on, answer `503 SlowDown` (or another S3 error), cut the body
//! short, or drop the connection without an answer. Every request is logged for assertions
//! (listing prefixes, keys fetched, signing region).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// `503 Slow Down` with S3's SlowDown error body.
    SlowDown,
    /// Forward, then send the headers and only half of the body, and close.
    Truncate,
    /// Close the connection without answering.
    Reset,
    /// Answer with this status and S3 error code.
    Error(u16, &'static str),
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent (percent-encoded).
    pub target: String,
    /// The region of the SigV4 credential scope, if signed.
    pub region: Option<String>,
    /// How many times this method + target has been seen, this one included.
    pub attempt: u32,
    pub fault: Fault,
}

impl Request {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// The key of a GetObject (path-style: `/bucket/key`).
    pub fn object_key(&self) -> Option<String> {
        if self.method != "GET" || self.query().contains("list-type=") {
            return None;
        }
        let (_, key) = self.path().trim_start_matches('/').split_once('/')?;
        (!key.is_empty()).then(|| decode(key))
    }

    /// The prefix of a ListObjectsV2.
    pub fn list_prefix(&self) -> Option<String> {
        if self.method != "GET" || !self.query().contains("list-type=2") {
            return None;
        }
        let prefix = self.query().split('&').find_map(|kv| kv.strip_prefix("prefix="));
        Some(prefix.map(decode).unwrap_or_default())
    }
}

type Rule = dyn Fn(&Request) -> Fault + Send + Sync;

struct State {
    upstream: u16,
    rule: Box<Rule>,
    seen: Mutex<Vec<Request>>,
    attempts: Mutex<HashMap<String, u32>>,
    stop: AtomicBool,
}

/// A running proxy; stops on drop.
pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
}

impl Proxy {
    pub fn start(upstream: u16, rule: impl Fn(&Request) -> Fault + Send + Sync + 'static) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(State {
            upstream,
            rule: Box::new(rule),
            seen: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                thread::spawn(move || {
                    let _ = serve(&st, conn);
                });
            }
        });
        Proxy { port, state }
    }

    /// A proxy that passes everything (to count and inspect requests).
    pub fn pass(upstream: u16) -> Proxy {
        Proxy::start(upstream, |_| Fault::Pass)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Request> {
        self.state.seen.lock().expect("proxy log").clone()
    }

    pub fn count(&self, fault: Fault) -> usize {
        self.seen().iter().filter(|r| r.fault == fault).count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
    }
}

fn serve(st: &State, mut client: TcpStream) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let Some((head, body)) = read_request(&mut client)? else { return Ok(()) };
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, target) = (first.next().unwrap_or("").to_string(), first.next().unwrap_or("").to_string());
    let region = lines
        .clone()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .and_then(|l| l.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .map(str::to_string);
    let attempt = {
        let mut attempts = st.attempts.lock().expect("attempts");
        let n = attempts.entry(format!("{method} {target}")).or_insert(0);
        *n += 1;
        *n
    };
    let mut request = Request { method, target, region, attempt, fault: Fault::Pass };
    request.fault = (st.rule)(&request);
    let fault = request.fault;
    st.seen.lock().expect("proxy log").push(request);

    match fault {
        Fault::Reset => {
            let _ = client.shutdown(Shutdown::Both);
            Ok(())
        }
        Fault::SlowDown => error_answer(&mut client, 503, "SlowDown", "Please reduce your request rate."),
        Fault::Error(status, code) => error_answer(&mut client, status, code, "injected by the test proxy"),
        Fault::Pass | Fault::Truncate => {
            let response = forward(st.upstream, &text, &body)?;
            if fault == Fault::Truncate {
                let split = find(&response, b"\r\n\r\n").map_or(response.len(), |i| i + 4);
                let body_len = response.len() - split;
                client.write_all(&response[..split + body_len / 2])?;
            } else {
                client.write_all(&response)?;
            }
            client.flush()?;
            let _ = client.shutdown(Shutdown::Both);
            Ok(())
        }
    }
}

/// Reads one request: its head (up to the blank line) and its body (by Content-Length).
fn read_request(s: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = buf[..end].to_vec();
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize =
        text.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < length {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head, body)))
}

/// Sends the request upstream with `Connection: close` and reads the whole answer.
fn forward(upstream: u16, head: &str, body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    up.write_all(out.as_bytes())?;
    up.write_all(body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    Ok(response)
}

fn error_answer(s: &mut TcpStream, status: u16, code: &str, message: &str) -> std::io::Result<()> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>TESTPROXY</RequestId></Error>"
    );
    let reason = match status {
        503 => "Slow Down",
        403 => "Forbidden",
        400 => "Bad Request",
        500 => "Internal Server Error",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    s.flush()?;
    let _ = s.shutdown(Shutdown::Both);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Percent-decoding for the keys and prefixes in request targets.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}
