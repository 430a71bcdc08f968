//! A small fault-injecting HTTP proxy between the CLI and moto.
//!
//! Each client connection carries one request (upstream answers are forced to
//! `Connection: close`), so a fault never leaks into the next request. A rule decides, per
//! request, whether to pass it on, answer `503 SlowDown` (or another S3 error), cut the body
//! short, drop the connection without an answer, send the answer in slow drips, or stall
//! mid-body. Every request is logged for assertions (listing prefixes, keys fetched, signing
//! region).
//!
//! [`Options`] add what a soak needs beside per-request rules: listings answered in small pages
//! (so a few hundred keys make many pages, each of which can fail), and an outage: after a
//! number of object GETs the proxy closes its port for a while (connections are refused, and
//! requests in flight lose their connection without an answer), then listens again on the same
//! port: the upstream seen going away and coming back, as a restarted server would (moto keeps
//! its data in memory, so really restarting it would lose the bucket).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

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
    /// Forward, then send the whole answer (head and body) in pieces of this many bytes with
    /// [`DRIP_PAUSE`] between them: slow, but well within the client's timeouts.
    Drip(usize),
    /// Like [`Fault::Drip`], but the body stops at half and the connection closes.
    DripTruncate(usize),
    /// Forward, send the headers and half the body, then nothing for this many seconds (past
    /// the SDK's stalled-stream protection: its defaults give up on a body that sends nothing
    /// for 5 s), then close.
    Stall(u64),
}

/// The pause between two pieces of a [`Fault::Drip`].
pub const DRIP_PAUSE: Duration = Duration::from_millis(25);

impl Fault {
    /// A short name for counting faults by kind.
    pub fn kind(&self) -> String {
        match self {
            Fault::Pass => "pass".into(),
            Fault::SlowDown => "503 SlowDown".into(),
            Fault::Truncate => "body cut short".into(),
            Fault::Reset => "connection reset".into(),
            Fault::Error(status, code) => format!("{status} {code}"),
            Fault::Drip(_) => "slow drip".into(),
            Fault::DripTruncate(_) => "slow drip, cut short".into(),
            Fault::Stall(_) => "stalled body".into(),
        }
    }

    /// Whether the request fails (a [`Fault::Drip`] is slow but succeeds).
    pub fn fails(&self) -> bool {
        !matches!(self, Fault::Pass | Fault::Drip(_))
    }
}

/// What a proxy does beside its per-request rule.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Asks upstream for listing pages of at most this many keys (adds `max-keys` to each
    /// ListObjectsV2 the client sends; moto does not check signatures, so the change passes).
    pub page_size: Option<u32>,
    /// After this many object GETs, the port closes for the given time, then opens again.
    pub outage: Option<(usize, Duration)>,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent (percent-encoded).
    pub target: String,
    /// The region of the SigV4 credential scope, if signed.
    pub region: Option<String>,
    /// Sent through the SDK's orchestrator (it adds `amz-sdk-invocation-id` to every request),
    /// not as a direct GET.
    pub through_sdk: bool,
    /// How many times this method + target has been seen, this one included.
    pub attempt: u32,
    pub fault: Fault,
    /// When it arrived.
    pub at: Instant,
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

    /// Whether this ListObjectsV2 asks for a page after the first.
    pub fn is_next_page(&self) -> bool {
        self.list_prefix().is_some() && self.query().split('&').any(|kv| kv.starts_with("continuation-token="))
    }
}

type Rule = dyn Fn(&Request) -> Fault + Send + Sync;

struct State {
    upstream: u16,
    options: Options,
    rule: Box<Rule>,
    seen: Mutex<Vec<Request>>,
    attempts: Mutex<HashMap<String, u32>>,
    stop: AtomicBool,
    /// Object GETs received, to start the outage.
    gets: AtomicUsize,
    /// Outages begun; a request that began before the current one loses its connection.
    generation: AtomicU64,
    /// When the current outage ends, while it lasts.
    down_until: Mutex<Option<Instant>>,
    /// Requests whose connection the outage dropped before an answer.
    dropped: AtomicUsize,
    /// Connections accepted and dropped at once when the outage began.
    refused: AtomicUsize,
}

/// A running proxy; stops on drop.
pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
}

impl Proxy {
    pub fn start(upstream: u16, rule: impl Fn(&Request) -> Fault + Send + Sync + 'static) -> Proxy {
        Proxy::start_with(upstream, Options::default(), rule)
    }

    pub fn start_with(
        upstream: u16,
        options: Options,
        rule: impl Fn(&Request) -> Fault + Send + Sync + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let state = Arc::new(State {
            upstream,
            options,
            rule: Box::new(rule),
            seen: Mutex::new(Vec::new()),
            attempts: Mutex::new(HashMap::new()),
            stop: AtomicBool::new(false),
            gets: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            down_until: Mutex::new(None),
            dropped: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        });
        let st = state.clone();
        thread::spawn(move || accept_loop(&st, listener, port));
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

    /// Outages begun so far.
    pub fn outages(&self) -> u64 {
        self.state.generation.load(Ordering::SeqCst)
    }

    /// Requests that lost their connection to an outage before their answer, and connections
    /// waiting to be accepted when it began (dropped unanswered). Connections attempted while
    /// the port is closed are refused by the system and never seen here.
    pub fn outage_drops(&self) -> (usize, usize) {
        (self.state.dropped.load(Ordering::SeqCst), self.state.refused.load(Ordering::SeqCst))
    }
}

/// Accepts connections, one thread each; during an outage, the port is closed.
fn accept_loop(st: &Arc<State>, listener: TcpListener, port: u16) {
    let mut listener = Some(listener);
    while let Some(l) = &listener {
        let conn = l.accept();
        if st.stop.load(Ordering::SeqCst) {
            break;
        }
        let until = *st.down_until.lock().expect("outage state");
        if let Some(until) = until {
            // The outage began (the request that started it woke this loop): close the port,
            // wait, listen again on the same port.
            drop(conn);
            st.refused.fetch_add(1, Ordering::SeqCst);
            drop(listener.take());
            thread::sleep(until.saturating_duration_since(Instant::now()));
            listener = rebind(port).filter(|_| !st.stop.load(Ordering::SeqCst));
            *st.down_until.lock().expect("outage state") = None;
            continue;
        }
        let Ok((conn, _)) = conn else { continue };
        let st = st.clone();
        thread::spawn(move || {
            let _ = serve(&st, conn);
        });
    }
}

/// Listens on `port` again (it was ours a moment ago; give the system a few seconds).
fn rebind(port: u16) -> Option<TcpListener> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(("127.0.0.1", port)) {
            Ok(l) => return Some(l),
            Err(e) if Instant::now() > deadline => {
                eprintln!("test proxy: cannot listen on port {port} again after the outage: {e}");
                return None;
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Starts the outage if this request is the one it waits for.
fn maybe_begin_outage(st: &State, port: u16, request: &Request) {
    let Some((after, length)) = st.options.outage else { return };
    if request.object_key().is_none() || st.gets.fetch_add(1, Ordering::SeqCst) + 1 != after {
        return;
    }
    *st.down_until.lock().expect("outage state") = Some(Instant::now() + length);
    st.generation.fetch_add(1, Ordering::SeqCst);
    let _ = TcpStream::connect(("127.0.0.1", port)); // wakes the accept loop
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
    }
}

fn serve(st: &State, mut client: TcpStream) -> std::io::Result<()> {
    let generation = st.generation.load(Ordering::SeqCst);
    let port = client.local_addr()?.port();
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
    let through_sdk = lines.clone().any(|l| l.to_ascii_lowercase().starts_with("amz-sdk-invocation-id:"));
    let attempt = {
        let mut attempts = st.attempts.lock().expect("attempts");
        let n = attempts.entry(format!("{method} {target}")).or_insert(0);
        *n += 1;
        *n
    };
    let mut request = Request { method, target, region, through_sdk, attempt, fault: Fault::Pass, at: Instant::now() };
    request.fault = (st.rule)(&request);
    let fault = request.fault;
    let head = match st.options.page_size {
        Some(n) if request.list_prefix().is_some() && !request.query().contains("max-keys=") => {
            text.replacen(&request.target, &format!("{}&max-keys={n}", request.target), 1)
        }
        _ => text.clone(),
    };
    maybe_begin_outage(st, port, &request);
    st.seen.lock().expect("proxy log").push(request);
    // The server that took this request went away before answering it.
    let gone = || st.generation.load(Ordering::SeqCst) != generation;
    let drop_unanswered = |client: &TcpStream| {
        st.dropped.fetch_add(1, Ordering::SeqCst);
        let _ = client.shutdown(Shutdown::Both);
        Ok(())
    };

    match fault {
        Fault::Reset => {
            let _ = client.shutdown(Shutdown::Both);
            Ok(())
        }
        _ if gone() => drop_unanswered(&client),
        Fault::SlowDown => error_answer(&mut client, 503, "SlowDown", "Please reduce your request rate."),
        Fault::Error(status, code) => error_answer(&mut client, status, code, "injected by the test proxy"),
        Fault::Pass | Fault::Truncate | Fault::Drip(_) | Fault::DripTruncate(_) | Fault::Stall(_) => {
            let response = forward(st.upstream, &head, &body)?;
            if gone() {
                return drop_unanswered(&client);
            }
            let split = find(&response, b"\r\n\r\n").map_or(response.len(), |i| i + 4);
            let half = split + (response.len() - split) / 2;
            match fault {
                Fault::Truncate => client.write_all(&response[..half])?,
                Fault::Drip(piece) | Fault::DripTruncate(piece) => {
                    let end = if matches!(fault, Fault::Drip(_)) { response.len() } else { half };
                    for chunk in response[..end].chunks(piece.max(1)) {
                        if gone() {
                            return drop_unanswered(&client);
                        }
                        client.write_all(chunk)?;
                        client.flush()?;
                        thread::sleep(DRIP_PAUSE);
                    }
                }
                Fault::Stall(seconds) => {
                    client.write_all(&response[..half])?;
                    client.flush()?;
                    thread::sleep(Duration::from_secs(seconds));
                }
                _ => client.write_all(&response)?,
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
