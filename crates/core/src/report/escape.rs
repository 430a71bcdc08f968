//! Log text is attacker-controlled: user agents, keys and ARNs can hold terminal escapes,
//! bidirectional overrides or spreadsheet formulas. Every human-facing writer passes log text
//! through here; machine formats (JSON, Parquet) keep the data but never emit raw controls.
//! Secrets are redacted as events are extracted, and again here (`crate::redact`).

use std::fmt::Write;

/// Characters that must never reach a terminal raw: C0/C1 controls, DEL, and the Unicode
/// format characters that reorder or hide text (Trojan Source).
pub fn is_dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2028}' | '\u{2029}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Shows dangerous characters as visible escapes (`\x1b`, `\u{202e}`); a backslash is doubled
/// only when escaping happened, so ordinary Windows-ish keys read as they are.
pub fn display(s: &str) -> String {
    let s = &*crate::redact::redact(s);
    if !s.chars().any(is_dangerous) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_dangerous(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_dangerous(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A CSV cell a spreadsheet will not execute: cells starting with a formula trigger get a
/// leading `'`, after control characters have been made visible.
pub fn csv_cell(s: &str) -> String {
    let shown = display(s);
    match shown.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '|' | '%') => format!("'{shown}"),
        _ => shown,
    }
}

/// A Markdown table cell: visible escapes, and no character that ends the cell or starts HTML.
pub fn markdown_cell(s: &str) -> String {
    display(s).replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;").replace('`', "\\`")
}

/// Serialized JSON with every character a terminal could act on written as `\uXXXX`.
/// serde_json already escapes C0; this adds DEL, C1 and the bidi/format characters. Only string
/// contents can hold them, so the result is the same JSON value.
pub fn json_text(json: String) -> String {
    let json = match crate::redact::redact(&json) {
        std::borrow::Cow::Owned(clean) => clean,
        std::borrow::Cow::Borrowed(_) => json,
    };
    if !json.chars().any(is_dangerous) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if is_dangerous(c) && c != '\n' {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Shortens `s` to at most `max` characters with an ellipsis in the middle, keeping the start
/// and the end (for an ARN the end names the role or user).
pub fn shorten(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max || max < 5 {
        return if n <= max { s.to_string() } else { s.chars().take(max).collect() };
    }
    let tail = (max - 1) / 2;
    let head = max - 1 - tail;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_made_visible() {
        assert_eq!(display("curl/8 \u{1b}[31mred\u{1b}[0m"), "curl/8 \\x1b[31mred\\x1b[0m");
        assert_eq!(display("a\u{9b}b"), "a\\x9bb");
        assert_eq!(display("abc\u{202e}txt.exe"), "abc\\u{202e}txt.exe");
        assert_eq!(display("tab\there\\"), "tab\\there\\\\");
        assert_eq!(display("plain\\key"), "plain\\key");
        assert_eq!(display("naïve ☃"), "naïve ☃");
        assert!(!display("\u{7}\u{7f}\u{0}").chars().any(is_dangerous));
    }

    #[test]
    fn csv_formulas_are_defused() {
        for bad in ["=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)"] {
            let cell = csv_cell(bad);
            assert!(cell.starts_with('\''), "{bad} -> {cell}");
        }
        assert_eq!(csv_cell("\tx"), "\\tx", "a tab is shown, not sent");
        assert_eq!(csv_cell("releases/"), "releases/");
        assert_eq!(csv_cell("a=b"), "a=b");
    }

    #[test]
    fn json_keeps_value_and_hides_controls() {
        let raw = serde_json::to_string("x\u{1b}[2J\u{9b}\u{202e}y").unwrap();
        let safe = json_text(raw);
        assert!(!safe.chars().any(is_dangerous), "{safe}");
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "x\u{1b}[2J\u{9b}\u{202e}y");
    }

    #[test]
    fn markdown_and_shorten() {
        assert_eq!(markdown_cell("a|b<script>`"), "a\\|b&lt;script&gt;\\`");
        assert_eq!(shorten("arn:aws:iam::111122223333:role/ci-deploy", 20), "arn:aws:ia…ci-deploy");
        assert_eq!(shorten("short", 20), "short");
        assert_eq!(shorten("ab☃cdefgh", 5).chars().count(), 5);
    }
}
