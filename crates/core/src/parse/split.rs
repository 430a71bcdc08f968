//! Splits a stream of JSON into CloudTrail records without parsing them.
//!
//! Most records never match, so the scan must count them without paying for a JSON parse. This
//! splitter only tracks strings and bracket depth (a few hundred lines instead of a parser) and
//! hands out each record's byte range; the caller runs a cheap needle search on it and parses only
//! the candidates with simd-json.
//!
//! Input is a sequence of top-level values separated by whitespace (or by nothing, as Firehose
//! concatenates them), which covers all three shapes CloudTrail data comes in: a delivery file
//! (`{"Records":[...]}`), a JSON array of records, and NDJSON (one record, or one
//! `{"Records":[...]}` document, per line). The CLI's `{"Events":[...]}` and `{"events":[...]}`
//! outputs are split the same way; what their elements hold is [`super::envelope`]'s business.
//!
//! The splitter is resumable: when a record is cut by the end of the buffer it answers
//! [`Step::NeedMore`] and tells the caller from which offset to keep bytes; the caller appends
//! more input and calls again. Memory is therefore bounded by the chunk size plus one record.
//!
//! # How objects and arrays are skipped
//!
//! Skipping a container (every record, and every nested value of a top-level object) is a
//! simdjson-style "stage 1" pass over 64-byte blocks rather than a byte loop:
//!
//! 1. one pass of byte compares turns the block into bitmasks of `"`, `\`, opening and closing
//!    brackets (AVX2 when the CPU has it, else SSE2 on x86_64; 64-bit SWAR on other targets);
//! 2. the bytes escaped by a backslash come from odd-length backslash runs (carry-propagating
//!    add), and quotes that are not escaped are the real ones;
//! 3. a prefix XOR of the real quotes (a carry-less multiply with AVX2's companion PCLMULQDQ)
//!    gives the "inside a string" mask, carried across blocks;
//! 4. only the brackets outside strings are visited, lowest bit first, to keep the depth and the
//!    object/array stack.
//!
//! The bitmask pass treats every backslash as an escape, while the byte-wise rules this splitter
//! has always had ignore a backslash outside a string. The two only differ when a backslash
//! stands outside a string (never in valid JSON); a block where that happens is redone byte by
//! byte, so the results are exactly those of the byte-wise rules in every case.
//!
//! When the buffer ends inside a value, the progress of that scan (depth, bracket stack,
//! in-string and escape state at the last whole block; or the resume point of a string or of the
//! key walk of a top-level object) is kept, and the next call goes on from there. A record
//! longer than a chunk therefore costs time linear in its length.

use std::ops::Range;

/// The deepest nesting accepted inside a record. CloudTrail records nest about ten levels; the
/// cap keeps an attacker-made file from costing more than a constant per byte.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A record (a JSON object) at this byte range of the buffer.
    Record(Range<usize>),
    /// An element of a records array that is not an object: counted, never parsed.
    NotObject(Range<usize>),
    /// The buffer ends inside a value: keep `buf[keep_from..]`, append input, call again.
    NeedMore { keep_from: usize },
    /// All input consumed.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub offset: u64,
    pub message: &'static str,
}

/// The one error that means "cut short" rather than "not JSON".
const TRUNCATED: &str = "truncated JSON: input ends inside a value";

impl SplitError {
    /// The input ended inside a value: a file cut short, not a broken one.
    pub fn truncated(&self) -> bool {
        self.message == TRUNCATED
    }
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

/// The array key that makes a top-level object a wrapper whose elements are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WrapperKey {
    /// A delivery file's `Records`.
    #[default]
    Records,
    /// `aws cloudtrail lookup-events` output.
    Events,
    /// `aws logs filter-log-events` / `get-log-events` output.
    LogEvents,
}

impl WrapperKey {
    pub fn as_str(self) -> &'static str {
        match self {
            WrapperKey::Records => "Records",
            WrapperKey::Events => "Events",
            WrapperKey::LogEvents => "events",
        }
    }

    fn of(key: &[u8]) -> Option<WrapperKey> {
        match key {
            b"Records" => Some(WrapperKey::Records),
            b"Events" => Some(WrapperKey::Events),
            b"events" => Some(WrapperKey::LogEvents),
            _ => None,
        }
    }
}

/// Where the record just handed out stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// A top-level object.
    Bare,
    /// An element of a top-level array.
    Array,
    /// An element of a wrapper's array.
    Wrapper(WrapperKey),
}

/// How the records were packaged, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    /// `{"Records":[...]}` documents seen.
    pub wrappers: u32,
    /// Top-level arrays seen.
    pub arrays: u32,
    /// Top-level objects that were records themselves (one = single record, more = NDJSON).
    pub bare_records: u32,
}

impl Shape {
    pub fn name(&self) -> &'static str {
        match (self.wrappers, self.arrays, self.bare_records) {
            (0, 0, 0) => "empty",
            (_, 0, 0) => "records",
            (0, _, 0) => "array",
            (0, 0, 1) => "single",
            (0, 0, _) => "ndjson",
            _ => "mixed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level values.
    Top,
    /// Inside a records array, right after `[`: an element or `]`.
    ArrayFirst {
        wrapped: bool,
    },
    /// Inside a records array, after an element: `,` or `]`.
    ArrayNext {
        wrapped: bool,
    },
    /// Inside a records array, after `,`: an element.
    ArrayElem {
        wrapped: bool,
    },
    /// Inside a `{"Records":...}` wrapper after its array: `,` more keys, or `}`.
    WrapperRest,
    Done,
}

/// Resumable record splitter; see the module docs.
#[derive(Debug)]
pub struct Splitter {
    state: State,
    pos: usize,
    /// Bytes already dropped by the caller before `buf[0]`, for error offsets.
    base: u64,
    shape: Shape,
    /// The key of the wrapper last entered.
    wrapper: WrapperKey,
    /// Progress of the scans that ran into the end of the buffer, to go on from on the next call.
    cache: Cache,
    engine: Engine,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

enum Scan {
    /// The value ends at this offset (exclusive).
    End(usize),
    /// The buffer ends inside the value.
    Short,
}

type Res<T> = Result<T, (usize, &'static str)>;

impl Splitter {
    pub fn new() -> Self {
        Splitter {
            state: State::Top,
            pos: 0,
            base: 0,
            shape: Shape::default(),
            wrapper: WrapperKey::default(),
            cache: Cache::default(),
            engine: Engine::get(),
        }
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Where the record last returned by [`Splitter::next`] stood.
    pub fn container(&self) -> Container {
        match self.state {
            State::ArrayFirst { wrapped: true }
            | State::ArrayNext { wrapped: true }
            | State::ArrayElem { wrapped: true }
            | State::WrapperRest => Container::Wrapper(self.wrapper),
            State::ArrayFirst { .. } | State::ArrayNext { .. } | State::ArrayElem { .. } => Container::Array,
            State::Top | State::Done => Container::Bare,
        }
    }

    /// The caller dropped `n` bytes from the front of its buffer (after a `NeedMore`).
    pub fn consumed(&mut self, n: usize) {
        debug_assert!(n <= self.pos);
        self.pos -= n;
        self.base += n as u64;
    }

    /// The next step over `buf`; `eof` says no more input will follow.
    pub fn next(&mut self, buf: &[u8], eof: bool) -> Result<Step, SplitError> {
        self.step(buf, eof).map_err(|(at, message)| SplitError { offset: self.base + at as u64, message })
    }

    fn step(&mut self, buf: &[u8], eof: bool) -> Res<Step> {
        let mut cx = Cx { buf, base: self.base, cache: &mut self.cache, engine: self.engine };
        loop {
            let at = skip_ws(buf, self.pos);
            // Whitespace is never re-scanned, and `pos` is always a valid `keep_from`.
            self.pos = at;
            let short = |keep_from| {
                if eof { Err((buf.len(), TRUNCATED)) } else { Ok(Step::NeedMore { keep_from }) }
            };
            match self.state {
                State::Done => return Ok(Step::Done),
                State::Top => {
                    let Some(&b) = buf.get(at) else {
                        if eof {
                            self.state = State::Done;
                            return Ok(Step::Done);
                        }
                        self.pos = at;
                        return Ok(Step::NeedMore { keep_from: at });
                    };
                    match b {
                        b'[' => {
                            self.shape.arrays += 1;
                            self.pos = at + 1;
                            self.state = State::ArrayFirst { wrapped: false };
                        }
                        b'{' => match top_object(&mut cx, at)? {
                            TopObject::Short => {
                                self.pos = at;
                                return short(at);
                            }
                            TopObject::Wrapper { array_body, key } => {
                                self.shape.wrappers += 1;
                                self.wrapper = key;
                                self.pos = array_body;
                                self.state = State::ArrayFirst { wrapped: true };
                            }
                            TopObject::Record { end } => {
                                self.shape.bare_records += 1;
                                self.pos = end;
                                return Ok(Step::Record(at..end));
                            }
                        },
                        // A UTF-8 byte order mark before the first value.
                        0xEF if buf[at..].starts_with(b"\xEF\xBB\xBF") => self.pos = at + 3,
                        0xEF if !eof && buf.len() - at < 3 => return short(at),
                        _ => return Err((at, "not a JSON object or array")),
                    }
                }
                State::ArrayFirst { wrapped } | State::ArrayElem { wrapped } => {
                    let Some(&b) = buf.get(at) else {
                        self.pos = at;
                        return short(at);
                    };
                    if b == b']' && matches!(self.state, State::ArrayFirst { .. }) {
                        self.pos = at + 1;
                        self.state = if wrapped { State::WrapperRest } else { State::Top };
                        continue;
                    }
                    match skip_value(&mut cx, at, eof)? {
                        Scan::Short => {
                            self.pos = at;
                            return short(at);
                        }
                        Scan::End(end) => {
                            self.pos = end;
                            self.state = State::ArrayNext { wrapped };
                            return Ok(if b == b'{' { Step::Record(at..end) } else { Step::NotObject(at..end) });
                        }
                    }
                }
                State::ArrayNext { wrapped } => match buf.get(at) {
                    None => {
                        self.pos = at;
                        return short(at);
                    }
                    Some(b',') => {
                        self.pos = at + 1;
                        self.state = State::ArrayElem { wrapped };
                    }
                    Some(b']') => {
                        self.pos = at + 1;
                        self.state = if wrapped { State::WrapperRest } else { State::Top };
                    }
                    Some(_) => return Err((at, "expected ',' or ']' between records")),
                },
                State::WrapperRest => match buf.get(at) {
                    None => {
                        self.pos = at;
                        return short(at);
                    }
                    Some(b'}') => {
                        self.pos = at + 1;
                        self.state = State::Top;
                    }
                    Some(b',') => {
                        // Further keys of the wrapper: skip `"key": value` as a unit.
                        let key_at = skip_ws(buf, at + 1);
                        match key_value(&mut cx, key_at, eof)? {
                            None => return short(at),
                            Some((_, _, end)) => self.pos = end,
                        }
                    }
                    Some(_) => return Err((at, "expected ',' or '}' after the Records array")),
                },
            }
        }
    }
}

/// Where the scans that ran into the end of the buffer stopped. Offsets are absolute (counted
/// from the start of the input, like error offsets), so they survive [`Splitter::consumed`].
/// Each entry is only used for a scan of the same kind starting at the same absolute offset, and
/// only describes bytes the caller keeps (`keep_from` is never after a scan's start).
#[derive(Debug, Default)]
struct Cache {
    /// The value (or key string) whose scan ran out of input.
    value: Option<(u64, Progress)>,
    /// The key walk of the top-level object opened at this offset.
    walk: Option<(u64, Walk)>,
}

#[derive(Debug, Clone, Copy)]
enum Progress {
    /// Inside a string body, not right after a backslash, at this absolute offset.
    Str(u64),
    /// Inside a number or literal, at this absolute offset.
    Scalar(u64),
    /// Inside an object or array: the state at this absolute offset.
    Container(u64, ScanState),
}

#[derive(Debug, Clone, Copy)]
enum Walk {
    /// A key (after optional whitespace) starts at this absolute offset.
    Key(u64),
    /// A value ended before this absolute offset: `,` or `}` follows after whitespace.
    AfterValue(u64),
}

/// Everything borrowed for one call: the buffer, its absolute offset and the scan cache.
struct Cx<'b, 'c> {
    buf: &'b [u8],
    base: u64,
    cache: &'c mut Cache,
    engine: Engine,
}

impl Cx<'_, '_> {
    fn abs(&self, at: usize) -> u64 {
        self.base + at as u64
    }

    /// The buffer offset of an absolute offset, if it is within the buffer.
    fn rel(&self, abs: u64) -> Option<usize> {
        let rel = usize::try_from(abs.checked_sub(self.base)?).ok()?;
        (rel <= self.buf.len()).then_some(rel)
    }
}

enum TopObject {
    Short,
    /// `{ ... "Records": [` — the array body starts at this offset.
    Wrapper {
        array_body: usize,
        key: WrapperKey,
    },
    /// A complete object without a `Records` array: a record itself.
    Record {
        end: usize,
    },
}

/// Classifies a top-level object by walking its keys: a `Records` (or `Events`, `events`) array
/// makes it a wrapper (its elements are the records), anything else makes the object a record.
/// The key is looked at before its value is skipped, so a wrapper is recognised without scanning
/// its (possibly huge) array. A walk cut by the end of the buffer goes on from the key or the
/// separator where it stopped.
fn top_object(cx: &mut Cx, open: usize) -> Res<TopObject> {
    let buf = cx.buf;
    let abs_open = cx.abs(open);
    let resumed = match cx.cache.walk.take_if(|(o, _)| *o == abs_open) {
        Some((_, Walk::Key(a))) => cx.rel(a).map(|at| (skip_ws(buf, at), true)),
        Some((_, Walk::AfterValue(a))) => cx.rel(a).map(|at| (skip_ws(buf, at), false)),
        None => None,
    };
    let (mut at, mut at_key) = match resumed {
        Some(r) => r,
        None => {
            let at = skip_ws(buf, open + 1);
            match buf.get(at) {
                None => return Ok(TopObject::Short),
                Some(b'}') => return Ok(TopObject::Record { end: at + 1 }),
                _ => (at, true),
            }
        }
    };
    loop {
        if at_key {
            let Some((key, value_at)) = key(cx, at)? else {
                cx.cache.walk = Some((abs_open, Walk::Key(cx.abs(at))));
                return Ok(TopObject::Short);
            };
            if buf[value_at] == b'['
                && let Some(key) = WrapperKey::of(key)
            {
                return Ok(TopObject::Wrapper { array_body: value_at + 1, key });
            }
            // The caller never passes eof here: a short value is always retried with more input.
            let Scan::End(end) = skip_value(cx, value_at, false)? else {
                cx.cache.walk = Some((abs_open, Walk::Key(cx.abs(at))));
                return Ok(TopObject::Short);
            };
            at = skip_ws(buf, end);
        }
        at_key = true;
        match buf.get(at) {
            None => {
                cx.cache.walk = Some((abs_open, Walk::AfterValue(cx.abs(at))));
                return Ok(TopObject::Short);
            }
            Some(b'}') => return Ok(TopObject::Record { end: at + 1 }),
            Some(b',') => at = skip_ws(buf, at + 1),
            Some(_) => return Err((at, "expected ',' or '}' in object")),
        }
    }
}

/// Parses `"key" :` at `at`. Returns the raw key bytes and where the value starts, or `None`
/// when the buffer ends first.
fn key<'b>(cx: &mut Cx<'b, '_>, at: usize) -> Res<Option<(&'b [u8], usize)>> {
    let buf = cx.buf;
    match buf.get(at) {
        None => return Ok(None),
        Some(b'"') => {}
        Some(_) => return Err((at, "expected a string key")),
    }
    let Some(key_end) = string_end(cx, at + 1) else {
        return Ok(None);
    };
    let colon = skip_ws(buf, key_end);
    match buf.get(colon) {
        None => return Ok(None),
        Some(b':') => {}
        Some(_) => return Err((colon, "expected ':' after key")),
    }
    let value_at = skip_ws(buf, colon + 1);
    if value_at >= buf.len() {
        return Ok(None);
    }
    Ok(Some((&buf[at + 1..key_end - 1], value_at)))
}

/// Parses `"key" : value` at `at`. Returns the raw key bytes, where the value starts and where it
/// ends, or `None` when the buffer ends first.
fn key_value<'b>(cx: &mut Cx<'b, '_>, at: usize, eof: bool) -> Res<Option<(&'b [u8], usize, usize)>> {
    let Some((key, value_at)) = key(cx, at)? else {
        return Ok(None);
    };
    match skip_value(cx, value_at, eof)? {
        Scan::Short => Ok(None),
        Scan::End(end) => Ok(Some((key, value_at, end))),
    }
}

/// Finds the end of the value starting at `at` (a non-whitespace byte).
fn skip_value(cx: &mut Cx, at: usize, eof: bool) -> Res<Scan> {
    let buf = cx.buf;
    match buf[at] {
        b'"' => Ok(string_end(cx, at + 1).map_or(Scan::Short, Scan::End)),
        b'{' | b'[' => skip_container(cx, at),
        b'}' | b']' | b',' | b':' => Err((at, "expected a value")),
        _ => {
            // A number or literal: runs to the next delimiter. Its validity is left to the
            // parser if the record is a candidate.
            let abs = cx.abs(at);
            let from = match cx.cache.value.take_if(|(s, p)| *s == abs && matches!(p, Progress::Scalar(_))) {
                Some((_, Progress::Scalar(p))) => cx.rel(p).unwrap_or(at),
                _ => at,
            };
            let len = buf[from..].iter().position(|&b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'));
            match len {
                Some(n) => Ok(Scan::End(from + n)),
                None if eof => Ok(Scan::End(buf.len())),
                None => {
                    cx.cache.value = Some((abs, Progress::Scalar(cx.abs(buf.len()))));
                    Ok(Scan::Short)
                }
            }
        }
    }
}

/// The offset just past the closing quote of a string whose body starts at `from`.
#[inline]
fn string_end(cx: &mut Cx, from: usize) -> Option<usize> {
    let buf = cx.buf;
    let abs = cx.abs(from);
    let mut at = match cx.cache.value.take_if(|(s, p)| *s == abs && matches!(p, Progress::Str(_))) {
        Some((_, Progress::Str(p))) => cx.rel(p).unwrap_or(from),
        _ => from,
    };
    let stop = loop {
        // `at <= buf.len()` holds here: it only grows past a backslash that has a next byte.
        let Some(hit) = quote_or_backslash(buf, at) else {
            #[cfg(test)]
            SCANNED.with(|s| s.set(s.get() + (buf.len() - at) as u64));
            break buf.len();
        };
        if buf[hit] == b'"' {
            return Some(hit + 1);
        }
        // A backslash escapes the next byte (`\"`, `\\`, `\u...` all resume after it).
        if hit + 2 > buf.len() {
            break hit;
        }
        at = hit + 2;
    };
    cx.cache.value = Some((abs, Progress::Str(cx.abs(stop))));
    None
}

/// The first `"` or `\\` at or after `at` (`at <= buf.len()`). Most strings are short, so the
/// first 16 bytes are looked at inline before calling `memchr2`.
#[inline(always)]
fn quote_or_backslash(buf: &[u8], at: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(head) = buf.get(at..at + 16) {
        use std::arch::x86_64::_mm_set1_epi8;
        use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128};
        // SAFETY: SSE2 is part of the x86_64 baseline; `head` is 16 bytes, as the load reads.
        let mask = unsafe {
            let v = _mm_loadu_si128(head.as_ptr().cast::<__m128i>());
            let hits = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
            );
            _mm_movemask_epi8(hits) as u32
        };
        if mask != 0 {
            return Some(at + mask.trailing_zeros() as usize);
        }
        return memchr::memchr2(b'"', b'\\', &buf[at + 16..]).map(|n| at + 16 + n);
    }
    memchr::memchr2(b'"', b'\\', &buf[at..]).map(|n| at + n)
}

/// Skips a balanced object or array with the block scan, going on from where a previous call
/// over the same value stopped.
fn skip_container(cx: &mut Cx, at: usize) -> Res<Scan> {
    let abs = cx.abs(at);
    let resumed = match cx.cache.value.take_if(|(s, p)| *s == abs && matches!(p, Progress::Container(..))) {
        Some((_, Progress::Container(pos, st))) => cx.rel(pos).map(|pos| ScanState { pos, ..st }),
        _ => None,
    };
    let mut st = resumed.unwrap_or(ScanState::new(at));
    match cx.engine.scan(cx.buf, &mut st)? {
        Some(end) => Ok(Scan::End(end)),
        None => {
            cx.cache.value = Some((abs, Progress::Container(cx.abs(st.pos), st)));
            Ok(Scan::Short)
        }
    }
}

#[inline]
fn skip_ws(buf: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = buf.get(at) {
        at += 1;
    }
    at
}

/// The top-level keys of one record (an object), as raw bytes. Used to tell CloudTrail records
/// from other JSON without parsing. Stops quietly on malformed input.
pub fn top_level_keys(record: &[u8]) -> Vec<&[u8]> {
    fields(record).into_iter().map(|(key, _)| key).collect()
}

/// The top-level keys of an object (raw bytes, escapes kept) and their values' byte ranges.
/// Stops quietly on malformed input.
pub fn fields(object: &[u8]) -> Vec<(&[u8], Range<usize>)> {
    let mut fields = Vec::new();
    if object.first() != Some(&b'{') {
        return fields;
    }
    let mut cache = Cache::default();
    let mut cx = Cx { buf: object, base: 0, cache: &mut cache, engine: Engine::get() };
    let mut at = skip_ws(object, 1);
    while let Ok(Some((key, value_at, end))) = key_value(&mut cx, at, true) {
        fields.push((key, value_at..end));
        at = skip_ws(object, end);
        if object.get(at) != Some(&b',') {
            break;
        }
        at = skip_ws(object, at + 1);
    }
    fields
}

/// The byte ranges of an array's elements, or `None` when `array` is not one whole array.
pub fn elements(array: &[u8]) -> Option<Vec<Range<usize>>> {
    if array.first() != Some(&b'[') {
        return None;
    }
    let mut cache = Cache::default();
    let mut cx = Cx { buf: array, base: 0, cache: &mut cache, engine: Engine::get() };
    let mut out = Vec::new();
    let mut at = skip_ws(array, 1);
    if array.get(at) == Some(&b']') {
        return Some(out);
    }
    while at < array.len() {
        let Ok(Scan::End(end)) = skip_value(&mut cx, at, true) else { return None };
        out.push(at..end);
        at = skip_ws(array, end);
        match array.get(at) {
            Some(b',') => at = skip_ws(array, at + 1),
            Some(b']') => return Some(out),
            _ => return None,
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The block scan.

/// The state of a container scan at a block boundary.
#[derive(Debug, Clone, Copy)]
struct ScanState {
    /// The next byte to look at, in the buffer (the cache keeps it apart, as an absolute offset).
    pos: usize,
    /// Open brackets, and their kinds as a bit stack (1 = object, lowest bit = innermost).
    depth: u32,
    stack: u128,
    /// All ones when `pos` is inside a string, else 0.
    in_string: u64,
    /// 1 when the byte at `pos` is escaped by a backslash before it (only inside a string).
    escaped: u64,
}

impl ScanState {
    fn new(at: usize) -> Self {
        ScanState { pos: at, depth: 0, stack: 0, in_string: 0, escaped: 0 }
    }
}

/// The byte classes of one 64-byte block, one bit per byte (bit `i` = byte `i`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
}

/// How the block scan classifies bytes. Picked once per [`Splitter`] (the run-time feature
/// detection is cached by `std`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// AVX2 byte compares and a carry-less multiply for the prefix XOR, when the CPU has both.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// SSE2 byte compares (x86_64 baseline).
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// Plain 64-bit word arithmetic, for every target (on x86_64, only tests select it).
    #[cfg_attr(all(target_arch = "x86_64", not(any(test, feature = "fuzzing"))), allow(dead_code))]
    Swar,
}

#[cfg(any(test, feature = "fuzzing"))]
thread_local! {
    /// Tests (and fuzz targets) pick the engine of the splitters they create on their thread
    /// with [`force_engine`].
    static FORCE: std::cell::Cell<Option<Engine>> = const { std::cell::Cell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// Bytes run through the block scan (and string tails searched) on this thread, to check
    /// that resuming is linear.
    static SCANNED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Makes the splitters created on this thread use `engine` (`None`: the detected one).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn force_engine(engine: Option<Engine>) {
    FORCE.with(|f| f.set(engine));
}

/// Bytes scanned on this thread so far (tests only).
#[cfg(test)]
pub(crate) fn scanned_bytes() -> u64 {
    SCANNED.with(|s| s.get())
}

impl Engine {
    fn get() -> Engine {
        #[cfg(any(test, feature = "fuzzing"))]
        if let Some(engine) = FORCE.with(|f| f.get()) {
            return engine;
        }
        Engine::detect()
    }

    #[cfg(target_arch = "x86_64")]
    fn detect() -> Engine {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("pclmulqdq") {
            Engine::Avx2
        } else {
            Engine::Sse2
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn detect() -> Engine {
        Engine::Swar
    }

    /// Every engine this CPU can run (tests and fuzz targets only).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn all() -> Vec<Engine> {
        let mut all = vec![Engine::Swar];
        #[cfg(target_arch = "x86_64")]
        {
            all.push(Engine::Sse2);
            if Engine::detect() == Engine::Avx2 {
                all.push(Engine::Avx2);
            }
        }
        all
    }

    /// Scans from `st.pos` to the end of the container. `Ok(None)`: the buffer ends first, and
    /// `st` holds the state at the last whole block.
    fn scan(self, buf: &[u8], st: &mut ScanState) -> Res<Option<usize>> {
        match self {
            // SAFETY: `Engine::detect` only picks this engine when the CPU has AVX2 and
            // PCLMULQDQ, and tests only force engines that `Engine::all` lists.
            #[cfg(target_arch = "x86_64")]
            Engine::Avx2 => unsafe { scan_avx2(buf, st) },
            #[cfg(target_arch = "x86_64")]
            Engine::Sse2 => scan_blocks(buf, st, classify_sse2, prefix_xor),
            Engine::Swar => scan_blocks(buf, st, classify_swar, prefix_xor),
        }
    }
}

#[inline(always)]
fn scan_blocks(
    buf: &[u8],
    st: &mut ScanState,
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64 + Copy,
) -> Res<Option<usize>> {
    while let Some(block) = buf.get(st.pos..st.pos + 64) {
        let block: &[u8; 64] = block.try_into().expect("64 bytes");
        #[cfg(test)]
        SCANNED.with(|s| s.set(s.get() + 64));
        if let Some(end) = block_step(block, st, classify(block), prefix_xor)? {
            return Ok(Some(end));
        }
        st.pos += 64;
    }
    let rest = &buf[st.pos..];
    if rest.is_empty() {
        return Ok(None);
    }
    // The last partial block, padded with spaces (no class of their own). Its state is not kept:
    // the next call scans these bytes again, with more after them.
    let mut tail = [b' '; 64];
    tail[..rest.len()].copy_from_slice(rest);
    let mut t = *st;
    block_step(&tail, &mut t, classify(&tail), prefix_xor)
}

/// Runs one block from state `st` (at `st.pos`). Returns the end of the container if it is in
/// this block; otherwise updates the depth, stack and carries (not `pos`).
#[inline(always)]
fn block_step(block: &[u8; 64], st: &mut ScanState, m: Masks, prefix_xor: impl Fn(u64) -> u64) -> Res<Option<usize>> {
    let escaped = if m.backslash == 0 {
        // Short cut: only a backslash ending the previous block escapes anything here.
        std::mem::take(&mut st.escaped)
    } else {
        let (escaped, carry) = find_escaped(m.backslash, st.escaped);
        if m.backslash & !(prefix_xor(m.quote & !escaped) ^ st.in_string) != 0 {
            // A backslash outside a string, which the byte-wise rules ignore: redo the block so.
            return scalar_block(block, st);
        }
        st.escaped = carry;
        escaped
    };
    // Set from an opening quote up to (not including) its closing one.
    let in_string = prefix_xor(m.quote & !escaped) ^ st.in_string;
    st.in_string = ((in_string as i64) >> 63) as u64;
    let mut brackets = (m.open | m.close) & !in_string;
    while brackets != 0 {
        let i = brackets.trailing_zeros();
        brackets &= brackets - 1;
        // `{` `}` have bit 0x20, `[` `]` do not.
        let is_obj = u128::from((block[i as usize] >> 5) & 1);
        if (m.open >> i) & 1 == 1 {
            if st.depth as usize == MAX_DEPTH {
                return Err((st.pos + i as usize, "JSON nested too deeply"));
            }
            st.stack = (st.stack << 1) | is_obj;
            st.depth += 1;
        } else {
            if is_obj != st.stack & 1 {
                return Err((st.pos + i as usize, "mismatched bracket"));
            }
            st.stack >>= 1;
            st.depth -= 1;
            if st.depth == 0 {
                return Ok(Some(st.pos + i as usize + 1));
            }
        }
    }
    Ok(None)
}

/// Bit `i` of the result is the XOR of bits `0..=i` of `x`.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The bytes escaped by a backslash, given the backslashes of a block and whether its first
/// byte is escaped (`carry_in`, 0 or 1). A run of backslashes escapes the byte after it when the
/// run (not counting a first backslash that is itself escaped) has odd length. Also returns
/// whether the next block's first byte is escaped. This is simdjson's carry-propagating form.
#[inline(always)]
fn find_escaped(backslash: u64, carry_in: u64) -> (u64, u64) {
    const ODD_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;
    let potential_escape = backslash & !carry_in;
    // Subtracting each run's start from the odd bits flips, in the bit after a run, whether the
    // run started on an odd or even bit: what is left is where escapes and escaped bytes are.
    let maybe_escaped = potential_escape << 1;
    let escape_and_terminal = ((maybe_escaped | ODD_BITS).wrapping_sub(potential_escape)) ^ ODD_BITS;
    let escaped = escape_and_terminal ^ (backslash | carry_in);
    let escape = escape_and_terminal & backslash;
    (escaped, escape >> 63)
}

/// One block byte by byte, with the rules of the original splitter (a backslash only escapes
/// inside a string). Used when the block has a backslash outside a string.
#[cold]
fn scalar_block(block: &[u8; 64], st: &mut ScanState) -> Res<Option<usize>> {
    let mut in_string = st.in_string != 0;
    let mut escaped = st.escaped != 0;
    for (i, &b) in block.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                if st.depth as usize == MAX_DEPTH {
                    return Err((st.pos + i, "JSON nested too deeply"));
                }
                st.stack = (st.stack << 1) | u128::from(b == b'{');
                st.depth += 1;
            }
            b'}' | b']' => {
                if u128::from(b == b'}') != st.stack & 1 {
                    return Err((st.pos + i, "mismatched bracket"));
                }
                st.stack >>= 1;
                st.depth -= 1;
                if st.depth == 0 {
                    return Ok(Some(st.pos + i + 1));
                }
            }
            _ => {}
        }
    }
    st.in_string = if in_string { u64::MAX } else { 0 };
    st.escaped = u64::from(escaped);
    Ok(None)
}

/// Byte classes with SSE2, which every x86_64 CPU has.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify_sse2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::_mm_set1_epi8;
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128};
    let mut m = Masks::default();
    for k in 0..4 {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are always available;
        // `block` is 64 bytes, so the unaligned 16-byte load at 16k (k < 4) is in bounds.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k).cast::<__m128i>());
            let bits = |x: __m128i| u64::from(_mm_movemask_epi8(x) as u32 & 0xFFFF) << (16 * k);
            // `[` `]` are `{` `}` without bit 0x20.
            let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
            m.quote |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)));
            m.backslash |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)));
            m.open |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8)));
            m.close |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8)));
        }
    }
    m
}

/// [`scan_blocks`] with AVX2 byte compares and a carry-less multiply (by all ones) for the
/// prefix XOR. The closures inherit this function's target features.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
fn scan_avx2(buf: &[u8], st: &mut ScanState) -> Res<Option<usize>> {
    use std::arch::x86_64::_mm256_set1_epi8;
    use std::arch::x86_64::{__m256i, _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8};
    use std::arch::x86_64::{_mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256};
    let classify = |block: &[u8; 64]| {
        let mut m = Masks::default();
        for k in 0..2 {
            // SAFETY: bytes 32k..32k+32 (k < 2) are within the 64-byte block; unaligned load.
            let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k).cast::<__m256i>()) };
            let bits = |x: __m256i| u64::from(_mm256_movemask_epi8(x) as u32) << (32 * k);
            let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
            m.quote |= bits(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)));
            m.backslash |= bits(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)));
            m.open |= bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'{' as i8)));
            m.close |= bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'}' as i8)));
        }
        m
    };
    let prefix_xor = |x: u64| {
        let r = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
        _mm_cvtsi128_si64(r) as u64
    };
    scan_blocks(buf, st, classify, prefix_xor)
}

/// Byte classes with 64-bit word arithmetic, eight bytes at a time.
#[inline(always)]
fn classify_swar(block: &[u8; 64]) -> Masks {
    const LO7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const HI: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    /// The top bit of each byte equal to `b` (exact: no carries between bytes).
    fn eq(w: u64, b: u8) -> u64 {
        let x = w ^ (ONES * u64::from(b));
        !(((x & LO7) + LO7) | x) & HI
    }
    /// The top bits of the eight bytes, packed into eight bits.
    fn gather(hi: u64) -> u64 {
        ((hi >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
    }
    let mut m = Masks::default();
    for (k, word) in block.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let folded = w | (ONES * 0x20);
        let shift = 8 * k;
        m.quote |= gather(eq(w, b'"')) << shift;
        m.backslash |= gather(eq(w, b'\\')) << shift;
        m.open |= gather(eq(folded, b'{')) << shift;
        m.close |= gather(eq(folded, b'}')) << shift;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the splitter feeding `input` in chunks of `chunk` bytes, the way the decoder does.
    pub(super) fn split_chunked(input: &[u8], chunk: usize) -> Result<(Vec<String>, usize, Shape), SplitError> {
        let mut sp = Splitter::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut records = Vec::new();
        let mut not_objects = 0;
        loop {
            let eof = fed == input.len();
            match sp.next(&buf, eof)? {
                Step::Record(r) => records.push(String::from_utf8_lossy(&buf[r]).into_owned()),
                Step::NotObject(_) => not_objects += 1,
                Step::Done => return Ok((records, not_objects, sp.shape())),
                Step::NeedMore { keep_from } => {
                    buf.drain(..keep_from);
                    sp.consumed(keep_from);
                    let take = chunk.min(input.len() - fed);
                    buf.extend_from_slice(&input[fed..fed + take]);
                    fed += take;
                }
            }
        }
    }

    /// Splits `input` whole and in small chunks, with every engine this CPU has (the portable
    /// one included), and checks they all agree, errors too.
    fn split_all_chunkings(input: &str) -> Result<(Vec<String>, usize, Shape), SplitError> {
        let whole = split_chunked(input.as_bytes(), usize::MAX);
        for engine in Engine::all() {
            force_engine(Some(engine));
            for chunk in [usize::MAX, 1, 2, 3, 7, 64] {
                let got = split_chunked(input.as_bytes(), chunk);
                assert_eq!(got, whole, "engine {engine:?}, chunk size {chunk}");
            }
        }
        force_engine(None);
        whole
    }

    use crate::testing::Rng;

    /// Every engine, fed whole and in random chunks, gives what the portable engine gives whole:
    /// the same records, counts, shapes and errors (offsets included).
    fn engines_agree(input: &[u8], rng: &mut Rng) {
        force_engine(Some(Engine::Swar));
        let want = split_chunked(input, usize::MAX);
        for engine in Engine::all() {
            force_engine(Some(engine));
            for chunk in [usize::MAX, 1, 64, 1 + rng.index(300)] {
                let got = split_chunked(input, chunk);
                if got != want {
                    force_engine(None);
                    panic!("{engine:?}, chunk {chunk}: {got:?} != {want:?} for {:?}", String::from_utf8_lossy(input));
                }
            }
        }
        force_engine(None);
    }

    #[test]
    fn engines_agree_on_backslash_runs_and_brackets_at_block_edges() {
        let mut rng = Rng(0x5eed_0001);
        for pad in 40..90 {
            for run in 0..10 {
                let filler = "p".repeat(pad);
                let slashes = "\\".repeat(run);
                for tail in ["\"}", "\"]}\"}", "x\"}", "\\\"]\"}"] {
                    let doc = format!("{{\"Records\":[{{\"k\":\"{filler}{slashes}{tail},{{\"a\":[1,\"]\",{{}}]}}]}}");
                    engines_agree(doc.as_bytes(), &mut rng);
                }
            }
        }
    }

    /// A random JSON value: strings full of escapes and brackets, nested arrays and objects.
    fn value(rng: &mut Rng, out: &mut Vec<u8>, depth: usize) {
        match if depth > 6 { 0 } else { rng.index(4) } {
            0 | 1 => {
                out.push(b'"');
                for _ in 0..rng.index(90) {
                    let piece: &[u8] =
                        [&b"\\\\"[..], b"\\\"", b"]", b"}", b"{", b"[", b"a", b" ", b"\xc3\xa9", b"\\u005c"]
                            [rng.index(10)];
                    out.extend_from_slice(piece);
                }
                out.push(b'"');
            }
            2 => {
                out.push(b'[');
                for i in 0..rng.index(5) {
                    if i > 0 {
                        out.push(b',');
                    }
                    value(rng, out, depth + 1);
                }
                out.push(b']');
            }
            _ => {
                out.push(b'{');
                for i in 0..rng.index(5) {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.extend_from_slice(format!("\"k{i}\": ").as_bytes());
                    value(rng, out, depth + 1);
                }
                out.push(b'}');
            }
        }
    }

    #[test]
    fn engines_agree_on_random_documents_whole_and_broken() {
        let mut rng = Rng(0x5eed_0002);
        let (mut with_records, mut broken) = (0, 0);
        for _ in 0..250 {
            let mut doc = b"{\"Records\":[".to_vec();
            let n = 1 + rng.index(6);
            for i in 0..n {
                if i > 0 {
                    doc.push(b',');
                }
                doc.extend_from_slice(b"{\"eventName\":");
                value(&mut rng, &mut doc, 0);
                doc.extend_from_slice(b",\"x\":");
                value(&mut rng, &mut doc, 0);
                doc.push(b'}');
            }
            doc.extend_from_slice(b"]}\n");
            engines_agree(&doc, &mut rng);
            // Valid input splits into exactly the records written, each whole.
            let (records, _, _) = split_chunked(&doc, usize::MAX).expect("a generated document is valid");
            assert_eq!(records.len(), n, "{}", String::from_utf8_lossy(&doc));
            assert!(records.iter().all(|r| r.starts_with("{\"eventName\":") && r.ends_with('}')));
            with_records += 1;
            // The same document with one byte flipped to a structural one, or cut short.
            let at = rng.index(doc.len());
            let mut bad = doc.clone();
            bad[at] = b"\"\\{}[]"[rng.index(6)];
            engines_agree(&bad, &mut rng);
            broken += usize::from(split_chunked(&bad, usize::MAX).is_err());
            engines_agree(&doc[..at], &mut rng);
        }
        // The generator must reach both paths, or this test proves nothing.
        assert_eq!(with_records, 250, "every generated document is valid");
        assert!(broken > 40, "only {broken} broken documents were rejected");
    }

    #[test]
    fn delivery_file() {
        let (recs, n, shape) =
            split_all_chunkings(r#"{"Records":[{"a":1,"b":{"c":[1,{"d":"}"}]}},{"e":"x\"]}"}]}"#).unwrap();
        assert_eq!(recs, [r#"{"a":1,"b":{"c":[1,{"d":"}"}]}}"#, r#"{"e":"x\"]}"}"#]);
        assert_eq!(n, 0);
        assert_eq!(shape.name(), "records");
    }

    #[test]
    fn wrapper_with_other_keys_and_empty_records() {
        let (recs, _, shape) = split_all_chunkings(r#" {"v":"1","Records":[ ],"x":{"Records":3}} "#).unwrap();
        assert!(recs.is_empty());
        assert_eq!(shape.name(), "records");
        let (recs, _, _) = split_all_chunkings(r#"{"meta":[1,2],"Records":[{"k":1}],"z":null}"#).unwrap();
        assert_eq!(recs, [r#"{"k":1}"#]);
    }

    #[test]
    fn array_ndjson_single_and_bom() {
        let (recs, _, shape) = split_all_chunkings("[\n {\"a\": 1},\n {\"b\": [true, null]}\n]\n").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(shape.name(), "array");

        let (recs, _, shape) = split_all_chunkings("{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}").unwrap();
        assert_eq!(recs, ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        assert_eq!(shape.name(), "ndjson");

        let (recs, _, shape) = split_all_chunkings("\u{feff}{\"eventName\":\"PutObject\"}").unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(shape.name(), "single");

        // NDJSON whose lines are delivery files (as some exports are).
        let (recs, _, shape) =
            split_all_chunkings("{\"Records\":[{\"a\":1}]}\n{\"Records\":[{\"b\":2},{\"c\":3}]}\n").unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(shape.name(), "records");
    }

    #[test]
    fn non_object_elements_are_counted_not_returned() {
        let (recs, n, _) = split_all_chunkings(r#"[{"a":1}, "str", 12, [1], {"b":2}]"#).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(n, 3);
    }

    #[test]
    fn escapes_at_chunk_edges() {
        let (recs, _, _) = split_all_chunkings(r#"[{"a":"\\"},{"b":"\\\"}{"},{"c":"\u005c"}]"#).unwrap();
        assert_eq!(recs.len(), 3);
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        for bad in [
            r#"{"Records":[{"a":1},{"b":"#,
            r#"{"Records":[{"a":1}"#,
            r#"[{"a":1},"#,
            r#"{"a":"unterminated"#,
            r#"{"Records":[{"a":1}]"#,
        ] {
            let e = split_all_chunkings(bad).unwrap_err();
            assert!(e.truncated(), "{bad}: {e}");
        }
        for (bad, msg) in [
            ("hello", "not a JSON object or array"),
            (r#"[{"a":1} {"b":2}]"#, "expected ',' or ']' between records"),
            (r#"[{"a":[1}]"#, "mismatched bracket"),
            (r#"{"a" 1}"#, "expected ':' after key"),
            (r#"[{"a":1},]"#, "expected a value"),
        ] {
            let e = split_all_chunkings(bad).unwrap_err();
            assert_eq!(e.message, msg, "{bad}");
        }
        let deep = format!("[{}{}]", "[".repeat(200), "]".repeat(200));
        assert_eq!(split_all_chunkings(&deep).unwrap_err().message, "JSON nested too deeply");
    }

    #[test]
    fn error_offsets_count_dropped_bytes() {
        let input = r#"[{"a":1},{"b":2} x]"#;
        let e = split_chunked(input.as_bytes(), 3).unwrap_err();
        assert_eq!(e.offset, input.find('x').unwrap() as u64);
    }

    #[test]
    fn a_wrapper_is_recognised_without_scanning_its_records() {
        // Only the head of a large delivery file is in the buffer: the splitter must already
        // hand out its complete records instead of waiting for the whole array.
        let head = br#"{"Records":[{"a":1},{"b":2},{"c":"#;
        let mut sp = Splitter::new();
        assert_eq!(sp.next(head, false).unwrap(), Step::Record(12..19));
        assert_eq!(sp.next(head, false).unwrap(), Step::Record(20..27));
        assert_eq!(sp.next(head, false).unwrap(), Step::NeedMore { keep_from: 28 });
    }

    #[test]
    fn keys_of_a_record() {
        let keys = top_level_keys(br#"{"eventVersion":"1.08","userIdentity":{"type":"x"}, "eventName" : "A"}"#);
        assert_eq!(keys, [&b"eventVersion"[..], b"userIdentity", b"eventName"]);
        assert!(top_level_keys(b"[1]").is_empty());
    }

    #[test]
    fn fields_and_elements() {
        let obj = br#"{"a" : "x\"y", "b":[1, {"c":"]"}, "s"], "n":-2}"#;
        let f = fields(obj);
        let got: Vec<(&[u8], &[u8])> = f.iter().map(|(k, r)| (*k, &obj[r.clone()])).collect();
        assert_eq!(got, [(&b"a"[..], &br#""x\"y""#[..]), (b"b", br#"[1, {"c":"]"}, "s"]"#), (b"n", b"-2")]);
        let arr = &obj[f[1].1.clone()];
        let items: Vec<&[u8]> = elements(arr).unwrap().into_iter().map(|r| &arr[r]).collect();
        assert_eq!(items, [&b"1"[..], br#"{"c":"]"}"#, br#""s""#]);
        assert_eq!(elements(b"[ ]").unwrap(), Vec::<Range<usize>>::new());
        assert!(elements(b"[1,").is_none() && elements(b"{}").is_none() && elements(b"[1 2]").is_none());
    }

    /// Hands out each record with where it stood.
    fn containers(input: &[u8]) -> Vec<Container> {
        let mut sp = Splitter::new();
        let mut out = Vec::new();
        loop {
            match sp.next(input, true).unwrap() {
                Step::Record(_) | Step::NotObject(_) => out.push(sp.container()),
                Step::Done => return out,
                Step::NeedMore { .. } => unreachable!("the whole input is given"),
            }
        }
    }

    #[test]
    fn cli_outputs_are_wrappers_and_each_record_knows_its_container() {
        let input = br#"{"Events":[{"a":1}],"NextToken":"t"}{"x":1}[{"y":2}] {"n":0,"events":[{"m":"{}"},{"m":"z"}]}{"Records":[{}]}"#;
        assert_eq!(
            containers(input),
            [
                Container::Wrapper(WrapperKey::Events),
                Container::Bare,
                Container::Array,
                Container::Wrapper(WrapperKey::LogEvents),
                Container::Wrapper(WrapperKey::LogEvents),
                Container::Wrapper(WrapperKey::Records),
            ]
        );
        // An `events` key that is not an array leaves the object a record.
        assert_eq!(containers(br#"{"events":3}"#), [Container::Bare]);
        let (recs, _, shape) = split_all_chunkings(r#"{"events":[{"a":1},{"b":2}],"nextForwardToken":"f"}"#).unwrap();
        assert_eq!((recs.len(), shape.wrappers), (2, 1));
    }
}

#[cfg(test)]
mod kernel_tests {
    use super::*;

    use super::tests::split_chunked;
    use crate::testing::Rng;

    #[test]
    fn find_escaped_matches_a_byte_loop() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for n in 0..200_000 {
            // Dense and sparse backslash masks, and long runs.
            let bs = match n % 4 {
                0 => rng.next(),
                1 => rng.next() & rng.next() & rng.next(),
                2 => rng.next() | rng.next() | rng.next(),
                _ => u64::MAX >> (rng.next() % 64) << (rng.next() % 64),
            };
            let carry_in = rng.next() & 1;
            let (mut expect, mut esc) = (0u64, carry_in == 1);
            for i in 0..64 {
                if esc {
                    expect |= 1 << i;
                    esc = false;
                } else if bs >> i & 1 == 1 {
                    esc = true;
                }
            }
            assert_eq!(find_escaped(bs, carry_in), (expect, u64::from(esc)), "{bs:#x} {carry_in}");
        }
    }

    #[test]
    fn prefix_xor_matches_a_bit_loop() {
        let mut rng = Rng(7);
        for _ in 0..10_000 {
            let x = rng.next() & rng.next();
            let mut acc = 0;
            let mut expect = 0u64;
            for i in 0..64 {
                acc ^= x >> i & 1;
                expect |= acc << i;
            }
            assert_eq!(prefix_xor(x), expect);
        }
    }

    #[test]
    fn classifiers_agree_with_a_byte_loop() {
        let mut rng = Rng(42);
        let alphabet = b"\"\\{}[]ab:, \n\x7b\x5b\xfb\xdb\x7d\x5d\xfd\xdd\x22\xa2\x5c\xdc\x00\xff";
        for _ in 0..20_000 {
            let mut block = [0u8; 64];
            for b in &mut block {
                let r = rng.next();
                *b = if r.is_multiple_of(3) { (r >> 8) as u8 } else { alphabet[(r >> 8) as usize % alphabet.len()] };
            }
            let mut expect = Masks::default();
            for (i, &b) in block.iter().enumerate() {
                expect.quote |= u64::from(b == b'"') << i;
                expect.backslash |= u64::from(b == b'\\') << i;
                expect.open |= u64::from(b == b'{' || b == b'[') << i;
                expect.close |= u64::from(b == b'}' || b == b']') << i;
            }
            assert_eq!(classify_swar(&block), expect);
            #[cfg(target_arch = "x86_64")]
            assert_eq!(classify_sse2(&block), expect);
        }
    }

    /// Feeds one value in small chunks; the bytes scanned meanwhile, and the records found.
    fn scanned_while_feeding(input: &[u8], chunk: usize) -> (u64, usize) {
        let before = scanned_bytes();
        let (records, _, _) = split_chunked(input, chunk).unwrap();
        (scanned_bytes() - before, records.len())
    }

    #[test]
    fn resuming_a_long_record_is_linear() {
        let mut rec = String::from("{\"a\":[");
        while rec.len() < 4 << 20 {
            rec.push_str("{\"k\":\"v\\\\\\\"[{\",\"n\":[1,2,{\"x\":null}]},");
        }
        rec.push_str("{}],\"s\":\"");
        rec.push_str(&"x".repeat(2 << 20));
        rec.push_str("\",\"t\":{\"u\":\"");
        rec.push_str(&"y".repeat(2 << 20));
        rec.push_str("\"}}");
        let len = rec.len() as u64;
        for engine in Engine::all() {
            force_engine(Some(engine));
            for doc in [format!("{{\"Records\":[{rec}]}}"), format!("[{rec}]"), rec.clone()] {
                let (scanned, records) = scanned_while_feeding(doc.as_bytes(), 4096);
                assert_eq!(records, 1);
                // Each call redoes at most its last partial block and one string's tail.
                assert!(scanned < 2 * len, "scanned {scanned} bytes for {len}");
            }
        }
        force_engine(None);
    }
}
