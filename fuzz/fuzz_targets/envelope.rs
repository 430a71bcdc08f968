//! The envelope readers: each unit (a CloudWatch Logs subscription message, an EventBridge event,
//! an element of `events` or `Events`: a record the splitter hands out) opened as each envelope, compared with serde_json's
//! reading of the same unit when serde_json reads it as a JSON object. Keys are matched as
//! written (the first of duplicates wins, as in the splitter's key walk); a unit with an escaped
//! key is not compared.
#![no_main]

use denytrail_core::parse::envelope::{Envelope, Inner, TooLarge, describe};
use denytrail_core::parse::split::{Container, Splitter, Step, WrapperKey, top_level_keys};
use denytrail_fuzz::{array, members};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

/// serde_json's reading of one entry whose record is the JSON string `literal`.
fn message(literal: Option<&RawValue>, max: usize) -> Result<Inner<'static>, TooLarge> {
    let Some(raw) = literal.map(RawValue::get).filter(|l| l.starts_with('"')) else {
        return Ok(Inner::Broken);
    };
    if raw.len() > max {
        return Err(TooLarge(raw.len()));
    }
    let text: String = serde_json::from_str(raw).expect("a valid unit holds valid strings");
    Ok(if text.trim_start().starts_with('{') { Inner::Text(text) } else { Inner::Other })
}

fn first<'a>(m: &[(&str, &'a RawValue)], key: &str) -> Option<&'a RawValue> {
    m.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// What `envelope.open(unit, max)` must give, by serde_json; `None` when unsure.
fn reference(envelope: Envelope, unit: &str, max: usize) -> Option<Result<Vec<Inner<'_>>, TooLarge>> {
    let m = members(unit)?;
    Some(match envelope {
        Envelope::Cwl => match first(&m, "messageType").map(RawValue::get) {
            Some("\"CONTROL_MESSAGE\"") => Ok(vec![Inner::Control]),
            Some("\"DATA_MESSAGE\"") => match first(&m, "logEvents").and_then(|a| array(a.get())) {
                None => Ok(vec![Inner::Broken]),
                Some(events) => {
                    let mut out = Vec::new();
                    for e in events {
                        // An element that is not an object has no `message`.
                        let msg = match e.get().starts_with('{') {
                            true => first(&members(e.get())?, "message"),
                            false => None,
                        };
                        match message(msg, max) {
                            Ok(inner) => out.push(inner),
                            Err(e) => return Some(Err(e)),
                        }
                    }
                    Ok(out)
                }
            },
            _ => Ok(vec![Inner::Broken]),
        },
        Envelope::EventBridge => Ok(vec![match (first(&m, "detail-type"), first(&m, "detail")) {
            (Some(kind), Some(detail))
                if kind.get().ends_with(" via CloudTrail\"") && detail.get().starts_with('{') =>
            {
                Inner::Raw(detail.get().as_bytes())
            }
            (Some(_), Some(_)) => Inner::Other,
            _ => Inner::Broken,
        }]),
        Envelope::LogEvents => message(first(&m, "message"), max).map(|i| vec![i]),
        Envelope::Lookup => message(first(&m, "CloudTrailEvent"), max).map(|i| vec![i]),
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the message size limit; the units are the records the splitter
    // hands out of the rest, as the worker opens them.
    let Some((&pick, input)) = data.split_first() else { return };
    let max = if pick < 128 { usize::MAX } else { (pick as usize - 128) * 8 };
    let mut splitter = Splitter::new();
    for _ in 0..8 {
        let unit = match splitter.next(input, true) {
            Ok(Step::Record(r)) => &input[r],
            Ok(Step::NotObject(_)) => continue,
            _ => break,
        };
        let text = std::str::from_utf8(unit).ok();
        for envelope in [Envelope::Cwl, Envelope::EventBridge, Envelope::LogEvents, Envelope::Lookup] {
            let got = envelope.open(unit, max);
            if let Some(want) = text.and_then(|t| reference(envelope, t, max)) {
                assert_eq!(got, want, "{envelope:?}");
            }
        }
        // Detection never panics, whatever the keys.
        let keys = top_level_keys(unit);
        for c in [
            Container::Bare,
            Container::Array,
            Container::Wrapper(WrapperKey::Events),
            Container::Wrapper(WrapperKey::LogEvents),
        ] {
            let _ = Envelope::detect(c, &keys);
            let _ = describe(c, &keys);
        }
    }
});
