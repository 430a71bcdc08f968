//! Secrets never leave denytrail: presigned-URL signatures and credentials, STS session tokens
//! and secret keys that an attacker (or a careless client) put into an object key, a user agent
//! or an error message are replaced by `[redacted]` as each event is extracted, and again by
//! every human-facing writer. Access key ids are identifiers, not secrets: CloudTrail logs them
//! and the report keeps them.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

pub const REDACTED: &str = "[redacted]";

/// Names whose value is a secret: query parameters of presigned URLs (SigV4 and SigV2) and the
/// spellings of credentials in configs and SDK dumps.
const NAMED: [&str; 10] = [
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "signature",
    "sessiontoken",
    "session_token",
    "secretaccesskey",
    "secret_access_key",
    "aws_secret_access_key",
    "aws_session_token",
];

/// Prefixes of STS session tokens (base64 of their binary header): the whole token goes.
const TOKENS: [&str; 2] = ["IQoJb3JpZ2lu", "FwoGZXIvYXdz"];

static FINDER: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(NAMED.iter().chain(&TOKENS))
        .expect("plain needles")
});

/// Characters between a secret's name and its value (`name=value`, `name: value`,
/// `"name":"value"`); one of them must be `:` or `=`.
fn in_separator(b: u8) -> bool {
    matches!(b, b'"' | b'\'' | b':' | b'=' | b' ')
}

/// Characters a secret value is made of (base64, URL encoding, the `/` of a credential scope).
fn in_value(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'%' | b'/' | b'+' | b'=' | b'.' | b'_' | b'-' | b'~')
}

/// What every name of [`NAMED`] ends with, and the [`TOKENS`], lowercase: the screen's needles.
/// A name's match ends where its anchor's does, so the separator and value checks after it are
/// the same. Matched case-sensitively over [`fold`]ed text, which can use the SIMD prefilter a
/// case-insensitive finder cannot. No two can overlap (no end of one begins another), so the
/// non-overlapping packed search still finds every occurrence.
const ANCHORS: [&str; 7] =
    ["signature", "credential", "token", "secretaccesskey", "secret_access_key", "iqojb3jpz2lu", "fwogzxivyxdz"];

/// The packed (Teddy) searcher itself: given these needles, `AhoCorasick` picks a rare-byte
/// prefilter that stops on most records and walks its automaton (the screen took 4x longer).
static ANCHOR_FINDER: LazyLock<aho_corasick::packed::Searcher> = LazyLock::new(|| {
    let folded = |needle: &str| needle.bytes().map(fold).collect::<Vec<u8>>();
    aho_corasick::packed::Config::new()
        .builder()
        .extend(ANCHORS.iter().map(|a| folded(a)))
        .build()
        .expect("a few short needles")
});

/// A byte with its `0x20` bit set: an ASCII letter lowercased, in a copy the compiler
/// vectorises (`make_ascii_lowercase` tests each byte). A few other bytes fold onto another
/// (`_` onto DEL, control characters onto punctuation): the screen matches the
/// folded form of what it looks for, so folding only adds matches, never loses one.
const fn fold(b: u8) -> u8 {
    b | 0x20
}

/// Each secret value in `bytes` as `(start, end)`: what [`redact`] replaces.
fn secrets(bytes: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut copied = 0;
    FINDER.find_iter(bytes).filter_map(move |m| {
        if m.start() < copied {
            return None;
        }
        let token = m.pattern().as_usize() >= NAMED.len();
        let mut at = m.end();
        if !token {
            // Skip the separator, else no secret.
            let sep = bytes[at..].iter().take_while(|b| in_separator(**b)).count();
            if sep == 0 || !bytes[at..at + sep].iter().any(|b| matches!(b, b':' | b'=')) {
                return None;
            }
            at += sep;
        }
        let len = bytes[at..].iter().take_while(|b| in_value(**b)).count();
        if len == 0 {
            return None;
        }
        copied = at + len;
        Some((if token { m.start() } else { at }, at + len))
    })
}

/// `s` with every secret value replaced by `[redacted]`; borrowed when there is none.
pub fn redact(s: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    for (start, end) in secrets(s.as_bytes()) {
        out.push_str(&s[copied..start]);
        out.push_str(REDACTED);
        copied = end;
    }
    if copied == 0 && out.is_empty() {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
}

thread_local! {
    /// The screened text, [`fold`]ed, reused.
    static FOLDED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `text` may hold a secret [`redact`] would replace; `false` lets an event skip
/// redaction field by field. An event's fields are screened joined into one text (a folded
/// target's in the bytes its hashes are written from): a secret in any field is a run of it.
/// The text is decoded: it has no JSON escapes (in a raw record a `\u` escape could spell any
/// letter of a name).
pub fn may_hold_secret(text: &[u8]) -> bool {
    FOLDED.with_borrow_mut(|folded| {
        folded.clear();
        folded.extend(text.iter().map(|&b| fold(b)));
        let bytes = &folded[..];
        // The separators are their own folded form; of a value's characters, only `_` is not.
        let run = |from: usize, also: fn(u8) -> bool| {
            bytes[from..].iter().take_while(|&&b| also(b) || b == fold(b'_')).count()
        };
        ANCHOR_FINDER.find_iter(bytes).any(|m| {
            let mut at = m.end();
            if m.pattern().as_usize() < ANCHORS.len() - TOKENS.len() {
                let sep = run(at, in_separator);
                if !bytes[at..at + sep].iter().any(|b| matches!(b, b':' | b'=')) {
                    return false;
                }
                at += sep;
            }
            run(at, in_value) > 0
        })
    })
}

/// Redacts `s` in place.
pub fn redact_in_place(s: &mut String) {
    if let Cow::Owned(clean) = redact(s) {
        *s = clean;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_ends_with_an_anchor_and_the_tokens_are_the_last() {
        let names = &ANCHORS[..ANCHORS.len() - TOKENS.len()];
        for name in NAMED {
            assert!(names.iter().any(|a| name.ends_with(a)), "{name}");
        }
        let tokens: Vec<String> = TOKENS.iter().map(|t| t.to_ascii_lowercase()).collect();
        assert_eq!(&ANCHORS[ANCHORS.len() - TOKENS.len()..], tokens);
        for a in ANCHORS {
            for b in ANCHORS {
                let overlap = (1..a.len()).any(|k| b.starts_with(&a[k..]) || (a != b && b.contains(a)));
                assert!(!overlap, "{a} and {b} can overlap");
            }
        }
    }

    /// Whatever the exact search finds in a text, the screen lets through: texts pieced
    /// together from names, separators, backslashes and value characters, in every case.
    #[test]
    fn the_screen_passes_everything_the_decoded_search_finds() {
        let pieces: [&[u8]; 24] = [
            b"X-Amz-",
            b"Signature",
            b"signatureVersion",
            b"credential",
            b"Session",
            b"token",
            b"_Token",
            b"aws_",
            b"Secret",
            b"_access_key",
            b"AccessKey",
            b"IQoJb3JpZ2lu",
            b"fwogZXIvYXdz",
            b"\\\"",
            b"\\\\",
            b"\\/",
            b"\\n",
            b"\"",
            b":",
            b"=",
            b" ",
            b"'",
            b"abc",
            b"%2F",
        ];
        let mut rng = crate::testing::Rng(0x9e37_79b9_7f4a_7c15);
        let (mut found, mut screened_out) = (0, 0);
        for _ in 0..200_000 {
            let mut raw = Vec::new();
            for _ in 0..6 {
                raw.extend_from_slice(pieces[rng.index(pieces.len())]);
            }
            let exact = secrets(&raw).next().is_some();
            let screen = may_hold_secret(&raw);
            assert!(screen || !exact, "{}", String::from_utf8_lossy(&raw));
            found += usize::from(exact);
            screened_out += usize::from(!screen);
        }
        // Both sides of the property were exercised.
        assert!(found > 1_000 && screened_out > 1_000, "{found} {screened_out}");
    }

    #[test]
    fn presigned_urls_lose_their_signature_and_credential() {
        let key = "up/f.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261121%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261121T000000Z&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
        let r = redact(key);
        assert_eq!(
            r,
            "up/f.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]&X-Amz-Date=20261121T000000Z&X-Amz-Signature=[redacted]"
        );
        let v2 = "x?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D";
        assert_eq!(redact(v2), "x?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1&Signature=[redacted]");
    }

    #[test]
    fn tokens_and_secret_keys_go_whole() {
        let ua = "aws-cli/2 token IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD== end";
        assert_eq!(redact(ua), "aws-cli/2 token [redacted] end");
        let dump = r#"{"AccessKeyId":"ASIAXXX","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","SessionToken":"FwoGZXIvYXdzEXAMPLE"}"#;
        let r = redact(dump);
        assert!(!r.contains("wJalrXUtnFEMI") && !r.contains("FwoGZXIvYXdzEXAMPLE"), "{r}");
        assert!(r.contains(r#""AccessKeyId":"ASIAXXX""#), "{r}");
        assert_eq!(redact("aws_secret_access_key = abc123/xyz"), "aws_secret_access_key = [redacted]");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in ["releases/v1/app.zip", "signature verified", "the Signature of a document", "x-amz-signature"] {
            assert!(matches!(redact(s), Cow::Borrowed(_)), "{s}");
        }
    }

    /// Screening a record never changes what is extracted from it: for records with secrets
    /// spelled every way (mixed case, JSON escapes, token prefixes, in keys, user agents and
    /// request parameters) and without, the screened event equals the always-redacted one.
    #[test]
    fn screening_never_changes_the_extracted_event() {
        use crate::event::EventRole;
        use crate::parse::extract;
        let values = [
            "releases/v1/app.zip",
            "up/f.txt?X-Amz-Signature=fe5f80f77d5f",
            "up/f.txt?x-amz-SIGNATURE=abc",
            r"up/f.txt?x-amz-\u0073ignature=abc",
            r"up/\u0041ws_secret_access_key=abc123",
            "token IQoJb3JpZ2luX2VjEJr",
            "iqojb3jpz2lu0000",
            "aws_session_token: FwoGZXIvYXdzEXAMPLE",
            "SecretAccessKey=wJalrXUtnFEMI",
            "a token without a value",
            "x-amz-credential",
            r#"up/f.txt?signature\":\"abc"#,
            r#"on resource: \"arn:aws:s3:::b/k\""#,
            r#"a\\\"b x-amz-signature=1"#,
            r#"x\/y?X-Amz-Signature\u003dabc"#,
            r#"tab\tsecret_access_key=\/abc"#,
        ];
        let mut checked = 0;
        for (i, v) in values.iter().enumerate() {
            for field in ["key", "ua", "sse"] {
                let (key, ua, sse) = match field {
                    "key" => (*v, "aws-cli/2", "AES256"),
                    "ua" => ("k", *v, "AES256"),
                    _ => ("k", "aws-cli/2", *v),
                };
                let raw = format!(
                    r#"{{"eventVersion":"1.10","eventID":"e{i}","eventTime":"2026-11-21T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"PutObject","awsRegion":"us-east-1","errorCode":"AccessDenied","errorMessage":"denied","userAgent":"{ua}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/u","accountId":"1"}},"requestParameters":{{"bucketName":"b","key":"{key}","x-amz-server-side-encryption":"{sse}"}}}}"#
                );
                let mut bytes = raw.into_bytes();
                let tape = simd_json::to_tape(&mut bytes).expect("valid");
                let rec = extract::Record::of(Some(tape.as_value()));
                let screened = extract::event_screened(&rec, &extract::facts(&rec), EventRole::Target, 1, "x");
                // As a folded target is screened: in the bytes its hashes are written from.
                let view = extract::view(&rec, &extract::facts(&rec), EventRole::Target, 1, "x");
                let (keys, redacted) = crate::tally::Keys::of_screened(&view);
                let folded = redacted.unwrap_or_else(|| view.to_event());
                let always = extract::event(tape.as_value(), EventRole::Target, 1, "x");
                assert_eq!(screened, always, "{field} = {v}");
                assert_eq!(folded, always, "{field} = {v}");
                assert_eq!(keys, crate::tally::Keys::of(&always), "{field} = {v}");
                checked += 1;
            }
        }
        assert_eq!(checked, values.len() * 3);
        assert!(!may_hold_secret(b"releases/v1/app.zip\naws-cli/2"));
        assert!(may_hold_secret(b"a\"signature\":\"1"), "the quotes separate a value");
        assert!(!may_hold_secret(b"on resource: \"arn:aws:s3:::b/k\" because"), "quoted ARNs are screened");
        assert!(may_hold_secret(b"x?X-AMZ-SIGNATURE=1"));
        assert!(may_hold_secret(b"aws_SECRET_access_KEY=1"));
    }
}
