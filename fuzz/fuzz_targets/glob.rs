//! Glob matching: `--principal`/`--bucket`/`--prefix` globs (globset) never panic, and the IAM
//! wildcard match the diagnosis runs on policy patterns equals a plain dynamic-programming match.
//! Input: a flags byte, then PATTERN NUL TEXT.
#![no_main]

use denytrail_core::filter::Glob1;
use denytrail_core::fuzzing;
use libfuzzer_sys::fuzz_target;

/// `*` any run, `?` one char, the rest literal: the textbook DP.
fn reference(pattern: &[char], text: &[char], ignore_case: bool) -> bool {
    let eq = |a: char, b: char| if ignore_case { a.eq_ignore_ascii_case(&b) } else { a == b };
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for &p in pattern {
        let mut next = vec![false; text.len() + 1];
        if p == '*' {
            let mut any = false;
            for j in 0..=text.len() {
                any |= row[j];
                next[j] = any;
            }
        } else {
            for j in 1..=text.len() {
                next[j] = row[j - 1] && (p == '?' || eq(p, text[j - 1]));
            }
        }
        row = next;
    }
    row[text.len()]
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let (pattern, text) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &b""[..]),
    };
    let (pattern, text) = (String::from_utf8_lossy(pattern), String::from_utf8_lossy(text));
    if let Ok(g) = Glob1::new(&pattern) {
        let _ = g.is_match(&text);
    }
    let ignore_case = flags & 1 == 1;
    let got = fuzzing::iam_glob(&pattern, &text, ignore_case);
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    if p.len() * t.len() <= 1 << 20 {
        assert_eq!(got, reference(&p, &t, ignore_case), "{pattern:?} ~ {text:?}");
    }
});
