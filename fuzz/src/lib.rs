//! Oracles shared by the fuzz targets: the splitter driven the way the pipeline drives it, and
//! serde_json's reading of the same bytes.

use denytrail_core::parse::split::{Container, Shape, SplitError, Splitter, Step, WrapperKey};
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

/// One step the splitter handed out, with its bytes and where it stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Record(Vec<u8>, Container),
    NotObject(Vec<u8>, Container),
}

/// Everything a split produced: the items, the shape, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub items: Vec<Item>,
    pub shape: Shape,
    pub end: Result<(), SplitError>,
}

/// Runs the splitter over `input` fed in chunks of `chunk` bytes, dropping consumed bytes at each
/// `NeedMore` the way the worker does.
pub fn split_chunked(input: &[u8], chunk: usize) -> Split {
    let mut sp = Splitter::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut items = Vec::new();
    loop {
        let eof = fed == input.len();
        match sp.next(&buf, eof) {
            Err(e) => return Split { items, shape: sp.shape(), end: Err(e) },
            Ok(Step::Record(r)) => items.push(Item::Record(buf[r].to_vec(), sp.container())),
            Ok(Step::NotObject(r)) => items.push(Item::NotObject(buf[r].to_vec(), sp.container())),
            Ok(Step::Done) => return Split { items, shape: sp.shape(), end: Ok(()) },
            Ok(Step::NeedMore { keep_from }) => {
                assert!(!eof, "NeedMore after eof");
                assert!(keep_from <= buf.len(), "keep_from {keep_from} past the buffer ({})", buf.len());
                buf.drain(..keep_from);
                sp.consumed(keep_from);
                let take = chunk.min(input.len() - fed);
                buf.extend_from_slice(&input[fed..fed + take]);
                fed += take;
            }
        }
    }
}

/// An object's members in order, keys as written (only keys without escapes are taken: the
/// splitter compares raw key bytes, so an escaped key cannot be judged by a decoded one).
pub struct Members<'a>(pub Vec<(&'a str, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<&'de str>()? {
                    out.push((k, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The members of a JSON object text, in order; `None` when it is not an object, or has an
/// escaped key.
pub fn members(text: &str) -> Option<Vec<(&str, &RawValue)>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let m = serde::Deserialize::deserialize(&mut de).ok().map(|m: Members| m.0)?;
    de.end().ok()?;
    Some(m)
}

/// The elements of a JSON array text.
pub fn array(text: &str) -> Option<Vec<&RawValue>> {
    serde_json::from_str::<Vec<&RawValue>>(text).ok()
}

/// What serde_json says the splitter must hand out for `input`, when serde_json reads it as a
/// sequence of top-level JSON values. `None` when it does not (or when an escaped key makes the
/// answer unsure). The second field is true when the input holds a top-level value that is not
/// an object or array, which the splitter must reject right after the items before it.
pub fn reference(input: &[u8]) -> Option<(Vec<Item>, Shape, bool)> {
    let text = std::str::from_utf8(input).ok()?;
    let mut items = Vec::new();
    let mut shape = Shape::default();
    let mut values = Vec::new();
    for v in serde_json::Deserializer::from_str(text).into_iter::<&RawValue>() {
        values.push(v.ok()?);
    }
    for v in values {
        let raw = v.get();
        let elements = |container, items: &mut Vec<Item>, arr: &str| -> Option<()> {
            for e in array(arr)? {
                let bytes = e.get().as_bytes().to_vec();
                items.push(if bytes[0] == b'{' {
                    Item::Record(bytes, container)
                } else {
                    Item::NotObject(bytes, container)
                });
            }
            Some(())
        };
        match raw.as_bytes()[0] {
            b'{' => {
                let m = members(raw)?;
                let wrapper = m.iter().find_map(|(k, v)| {
                    let key = match *k {
                        "Records" => WrapperKey::Records,
                        "Events" => WrapperKey::Events,
                        "events" => WrapperKey::LogEvents,
                        _ => return None,
                    };
                    v.get().starts_with('[').then_some((key, v.get()))
                });
                match wrapper {
                    Some((key, arr)) => {
                        shape.wrappers += 1;
                        elements(Container::Wrapper(key), &mut items, arr)?;
                    }
                    None => {
                        shape.bare_records += 1;
                        items.push(Item::Record(raw.as_bytes().to_vec(), Container::Bare));
                    }
                }
            }
            b'[' => {
                shape.arrays += 1;
                elements(Container::Array, &mut items, raw)?;
            }
            _ => return Some((items, shape, true)),
        }
    }
    Some((items, shape, false))
}

/// The deepest bracket nesting of `input` outside strings (a JSON-ish estimate).
pub fn depth(input: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &b in input {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}
