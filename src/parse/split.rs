//! Splits a stream of JSON into CloudTrail records without parsing them.
//!
//! Most records never match, so the scan must count them without paying for a JSON parse. This
//! splitter only tracks strings and bracket depth (a few hundred lines instead of a parser) and
//! hands out each record's byte range; the caller runs a cheap needle search on it and parses only
//! the candidates with simd-json.
//!
//! Input is a sequence of top-level values separated by whitespace, which covers all three
//! shapes CloudTrail data comes in: a delivery file (`{"Records":[...]}`), a JSON array of
//! records, and NDJSON (one record, or one `{"Records":[...]}` document, per line).
//!
//! The splitter is resumable: when a record is cut by the end of the buffer it answers
//! [`Step::NeedMore`] and tells the caller from which offset to keep bytes; the caller appends
//! more input and calls again. Memory is therefore bounded by the chunk size plus one record.

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

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
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
        Splitter { state: State::Top, pos: 0, base: 0, shape: Shape::default() }
    }

    pub fn shape(&self) -> Shape {
        self.shape
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
        loop {
            let at = skip_ws(buf, self.pos);
            // Whitespace is never re-scanned, and `pos` is always a valid `keep_from`.
            self.pos = at;
            let short = |keep_from| {
                if eof {
                    Err((buf.len(), "truncated JSON: input ends inside a value"))
                } else {
                    Ok(Step::NeedMore { keep_from })
                }
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
                        b'{' => match top_object(buf, at)? {
                            TopObject::Short => {
                                self.pos = at;
                                return short(at);
                            }
                            TopObject::Wrapper { array_body } => {
                                self.shape.wrappers += 1;
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
                    match skip_value(buf, at, eof)? {
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
                        match key_value(buf, key_at, eof)? {
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

enum TopObject {
    Short,
    /// `{ ... "Records": [` — the array body starts at this offset.
    Wrapper {
        array_body: usize,
    },
    /// A complete object without a `Records` array: a record itself.
    Record {
        end: usize,
    },
}

/// Classifies a top-level object by walking its keys: a `Records` array makes it a delivery
/// file wrapper (its elements are the records), anything else makes the object a record.
/// The key is looked at before its value is skipped, so a wrapper is recognised without scanning
/// its (possibly huge) array.
fn top_object(buf: &[u8], open: usize) -> Res<TopObject> {
    let mut at = skip_ws(buf, open + 1);
    match buf.get(at) {
        None => return Ok(TopObject::Short),
        Some(b'}') => return Ok(TopObject::Record { end: at + 1 }),
        _ => {}
    }
    loop {
        let Some((key, value_at)) = key(buf, at)? else { return Ok(TopObject::Short) };
        if key == b"Records" && buf[value_at] == b'[' {
            return Ok(TopObject::Wrapper { array_body: value_at + 1 });
        }
        // The caller never passes eof here: a short value is always retried with more input.
        let Scan::End(end) = skip_value(buf, value_at, false)? else { return Ok(TopObject::Short) };
        at = skip_ws(buf, end);
        match buf.get(at) {
            None => return Ok(TopObject::Short),
            Some(b'}') => return Ok(TopObject::Record { end: at + 1 }),
            Some(b',') => at = skip_ws(buf, at + 1),
            Some(_) => return Err((at, "expected ',' or '}' in object")),
        }
    }
}

/// Parses `"key" :` at `at`. Returns the raw key bytes and where the value starts, or `None`
/// when the buffer ends first.
fn key(buf: &[u8], at: usize) -> Res<Option<(&[u8], usize)>> {
    match buf.get(at) {
        None => return Ok(None),
        Some(b'"') => {}
        Some(_) => return Err((at, "expected a string key")),
    }
    let Some(key_end) = string_end(buf, at + 1) else { return Ok(None) };
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
fn key_value(buf: &[u8], at: usize, eof: bool) -> Res<Option<(&[u8], usize, usize)>> {
    let Some((key, value_at)) = key(buf, at)? else { return Ok(None) };
    match skip_value(buf, value_at, eof)? {
        Scan::Short => Ok(None),
        Scan::End(end) => Ok(Some((key, value_at, end))),
    }
}

/// Byte classes for the structural loop.
const OTHER: u8 = 0;
const QUOTE: u8 = 1;
const OPEN_OBJ: u8 = 2;
const OPEN_ARR: u8 = 3;
const CLOSE_OBJ: u8 = 4;
const CLOSE_ARR: u8 = 5;

static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    t[b'"' as usize] = QUOTE;
    t[b'{' as usize] = OPEN_OBJ;
    t[b'[' as usize] = OPEN_ARR;
    t[b'}' as usize] = CLOSE_OBJ;
    t[b']' as usize] = CLOSE_ARR;
    t
};

/// Finds the end of the value starting at `at` (a non-whitespace byte).
fn skip_value(buf: &[u8], at: usize, eof: bool) -> Res<Scan> {
    match buf[at] {
        b'"' => Ok(string_end(buf, at + 1).map_or(Scan::Short, Scan::End)),
        b'{' | b'[' => skip_container(buf, at),
        b'}' | b']' | b',' | b':' => Err((at, "expected a value")),
        _ => {
            // A number or literal: runs to the next delimiter. Its validity is left to the
            // parser if the record is a candidate.
            let len = buf[at..].iter().position(|&b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'));
            match len {
                Some(n) => Ok(Scan::End(at + n)),
                None if eof => Ok(Scan::End(buf.len())),
                None => Ok(Scan::Short),
            }
        }
    }
}

/// Skips a balanced object or array. Bracket kinds are checked with a bit stack (1 = object).
fn skip_container(buf: &[u8], at: usize) -> Res<Scan> {
    let mut stack: u128 = 0;
    let mut depth: usize = 0;
    let mut i = at;
    while i < buf.len() {
        match CLASS[buf[i] as usize] {
            OTHER => {}
            QUOTE => match string_end(buf, i + 1) {
                Some(end) => {
                    i = end;
                    continue;
                }
                None => return Ok(Scan::Short),
            },
            open @ (OPEN_OBJ | OPEN_ARR) => {
                if depth == MAX_DEPTH {
                    return Err((i, "JSON nested too deeply"));
                }
                stack = (stack << 1) | u128::from(open == OPEN_OBJ);
                depth += 1;
            }
            close => {
                let is_obj = stack & 1 == 1;
                if (close == CLOSE_OBJ) != is_obj {
                    return Err((i, "mismatched bracket"));
                }
                stack >>= 1;
                depth -= 1;
                if depth == 0 {
                    return Ok(Scan::End(i + 1));
                }
            }
        }
        i += 1;
    }
    Ok(Scan::Short)
}

/// The offset just past the closing quote of a string whose body starts at `from`.
#[inline]
fn string_end(buf: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let hit = from + memchr::memchr2(b'"', b'\\', buf.get(from..)?)?;
        if buf[hit] == b'"' {
            return Some(hit + 1);
        }
        // A backslash escapes the next byte (`\"`, `\\`, `\u...` all resume after it).
        from = hit + 2;
        if from > buf.len() {
            return None;
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
    let mut keys = Vec::new();
    if record.first() != Some(&b'{') {
        return keys;
    }
    let mut at = skip_ws(record, 1);
    while let Ok(Some((key, _, end))) = key_value(record, at, true) {
        keys.push(key);
        at = skip_ws(record, end);
        if record.get(at) != Some(&b',') {
            break;
        }
        at = skip_ws(record, at + 1);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the splitter feeding `input` in chunks of `chunk` bytes, the way the decoder does.
    fn split_chunked(input: &[u8], chunk: usize) -> Result<(Vec<String>, usize, Shape), SplitError> {
        let mut sp = Splitter::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut fed = 0;
        let mut records = Vec::new();
        let mut not_objects = 0;
        loop {
            let eof = fed == input.len();
            match sp.next(&buf, eof)? {
                Step::Record(r) => records.push(String::from_utf8(buf[r].to_vec()).unwrap()),
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

    fn split_all_chunkings(input: &str) -> Result<(Vec<String>, usize, Shape), SplitError> {
        let whole = split_chunked(input.as_bytes(), usize::MAX)?;
        for chunk in [1, 2, 3, 7, 64] {
            assert_eq!(split_chunked(input.as_bytes(), chunk)?, whole, "chunk size {chunk}");
        }
        Ok(whole)
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
            assert!(e.message.starts_with("truncated"), "{bad}: {e}");
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
}
