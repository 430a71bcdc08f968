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

/// Characters a secret value is made of (base64, URL encoding, the `/` of a credential scope).
fn in_value(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'%' | b'/' | b'+' | b'=' | b'.' | b'_' | b'-' | b'~')
}

/// `s` with every secret value replaced by `[redacted]`; borrowed when there is none.
pub fn redact(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    for m in FINDER.find_iter(s) {
        if m.start() < copied {
            continue;
        }
        let token = m.pattern().as_usize() >= NAMED.len();
        let mut at = m.end();
        if !token {
            // `name=value`, `name: value`, `"name":"value"`: skip the separator, else no secret.
            let sep = bytes[at..].iter().take_while(|b| matches!(b, b'"' | b'\'' | b':' | b'=' | b' ')).count();
            if sep == 0 || !bytes[at..at + sep].iter().any(|b| matches!(b, b':' | b'=')) {
                continue;
            }
            at += sep;
        }
        let len = bytes[at..].iter().take_while(|b| in_value(**b)).count();
        if len == 0 {
            continue;
        }
        let start = if token { m.start() } else { at };
        out.push_str(&s[copied..start]);
        out.push_str(REDACTED);
        copied = at + len;
    }
    if copied == 0 && out.is_empty() {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
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
}
