//! The `errorMessage` parser: never panics, every part it hands out is a slice of the text,
//! and, matching being ASCII case-insensitive, the text in upper case has the same shape.
#![no_main]

use denytrail_core::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = fuzzing::error_message(&text);
    let upper = fuzzing::error_message(&text.to_ascii_uppercase());
    assert_eq!(parsed, upper, "case changed the shape of {text:?}");
});
