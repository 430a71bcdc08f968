//! Reading `errorMessage` (causes.md §2): the enhanced "User: … is not authorized to perform: …"
//! text with its reason clause, the S3-specific texts, and the bare "Access Denied".
//!
//! Matching is by substring and ASCII case-insensitive, so the newer policy-ARN suffix, quoted or
//! missing `on resource:` parts and the 1 KB truncation are tolerated. A text that looks like the
//! enhanced format but carries a reason no rule knows is [`Shape::Unknown`]: it must end up
//! `unexplained`, never as a confident tag.

/// Which policy type the reason clause names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyKind {
    Identity,
    Resource,
    Scp,
    Rcp,
    VpcEndpoint,
    Boundary,
    Session,
    /// A role trust policy: never the reason for an S3 write, so no tag uses it.
    RoleTrust,
}

impl PolicyKind {
    /// The phrase as the message spells it (used in evidence sentences).
    pub(crate) fn phrase(self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity-based policy",
            PolicyKind::Resource => "resource-based policy",
            PolicyKind::Scp => "service control policy",
            PolicyKind::Rcp => "resource control policy",
            PolicyKind::VpcEndpoint => "VPC endpoint policy",
            PolicyKind::Boundary => "permissions boundary",
            PolicyKind::Session => "session policy",
            PolicyKind::RoleTrust => "role trust policy",
        }
    }

    /// The phrase with its article: "an identity-based policy", "a service control policy".
    pub(crate) fn with_article(self) -> String {
        let article = if self == PolicyKind::Identity { "an" } else { "a" };
        format!("{article} {}", self.phrase())
    }
}

/// Explicit deny ("with an explicit deny in …") or implicit deny ("because no … allows").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    ExplicitDeny,
    NoAllow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reason {
    pub verdict: Verdict,
    pub kind: PolicyKind,
}

impl Reason {
    /// "because no identity-based policy allows it" / "because of an explicit deny in an SCP".
    pub(crate) fn because(self) -> String {
        match self.verdict {
            Verdict::ExplicitDeny => format!("because of an explicit deny in {}", self.kind.with_article()),
            Verdict::NoAllow => format!("because no {} allows it", self.kind.phrase()),
        }
    }
}

/// The overall shape of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// No `errorMessage` at all.
    Absent,
    /// "Access Denied": pre-Aug-2024 records, cross-account outside the org, anonymous callers, ...
    Generic,
    /// "User: X is not authorized to perform: A [on resource: R]" with a known reason clause.
    Enhanced(Reason),
    /// The "is not authorized" form without any reason clause (older format, or cut before it).
    NoReason,
    /// "… prevented by the BlockPublicAcls setting in S3 Block Public Access."
    BlockPublicAcls,
    /// "… blocked upload requests that specify Server Side Encryption with Customer provided keys (SSE-C)".
    SseCBlocked,
    /// The network-activity text "The request was denied due to a VPC endpoint policy".
    VpceNetwork,
    /// "Request has expired" (presigned URL or signature past its expiry).
    Expired,
    /// Anything else, including an enhanced message with a reason clause no rule knows.
    Unknown,
}

/// A parsed `errorMessage`. Borrowed parts are slices of the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    pub raw: &'a str,
    pub shape: Shape,
    /// The "User: …" ARN.
    pub principal: Option<&'a str>,
    /// The action after "not authorized to perform:", such as `s3:PutObject` or `kms:GenerateDataKey`.
    pub action: Option<&'a str>,
    /// The resource after "on resource:", quotes removed.
    pub resource: Option<&'a str>,
    /// "… transitively through a service control policy".
    pub transitive_scp: bool,
    /// The newer policy-ARN suffix (": arn:aws:organizations::…:policy/…").
    pub policy_arn: Option<&'a str>,
    /// What follows the action and resource (the reason clause, known or not).
    pub rest: &'a str,
}

impl<'a> Message<'a> {
    pub(crate) fn parse(text: Option<&'a str>) -> Self {
        let raw = text.unwrap_or("");
        let mut msg = Message {
            raw,
            shape: Shape::Absent,
            principal: None,
            action: None,
            resource: None,
            transitive_scp: false,
            policy_arn: None,
            rest: "",
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return msg;
        }
        let bare = trimmed.trim_end_matches('.');
        if bare.eq_ignore_ascii_case("Access Denied") || bare.eq_ignore_ascii_case("AccessDenied") {
            msg.shape = Shape::Generic;
            return msg;
        }
        if bare.eq_ignore_ascii_case("Request has expired") {
            msg.shape = Shape::Expired;
            return msg;
        }
        if find_ci(raw, "BlockPublicAcls setting").is_some() {
            msg.shape = Shape::BlockPublicAcls;
            return msg;
        }
        if find_ci(raw, "(SSE-C)").is_some()
            || find_ci(raw, "Server Side Encryption with Customer provided keys").is_some()
        {
            msg.shape = Shape::SseCBlocked;
            return msg;
        }
        if find_ci(raw, "denied due to a VPC endpoint policy").is_some() {
            msg.shape = Shape::VpceNetwork;
            return msg;
        }

        const PERFORM: &str = "is not authorized to perform:";
        let Some(at) = find_ci(raw, PERFORM) else {
            msg.shape = Shape::Unknown;
            return msg;
        };
        msg.principal = principal_before(raw, at);
        let mut rest = raw[at + PERFORM.len()..].trim_start();
        let (action, after) = split_token(rest);
        msg.action = (!action.is_empty()).then_some(action);
        rest = after.trim_start();
        const ON_RESOURCE: &str = "on resource:";
        if starts_with_ci(rest, ON_RESOURCE) {
            let (resource, after) = resource_token(rest[ON_RESOURCE.len()..].trim_start());
            msg.resource = (!resource.is_empty()).then_some(resource);
            rest = after.trim_start();
        }

        msg.rest = rest.trim();
        msg.transitive_scp = find_ci(rest, "transitively through a service control policy").is_some();
        match reason_clause(rest) {
            Clause::Known(reason, end) => {
                msg.shape = Shape::Enhanced(reason);
                msg.policy_arn = policy_arn_suffix(&rest[end..]);
            }
            Clause::Unrecognised => msg.shape = Shape::Unknown,
            Clause::None => {
                // Nothing after the resource, or a clause cut by the 1 KB truncation.
                let tail = rest.trim();
                let cut_inside =
                    find_ci(tail, "with an explicit deny in").is_some() || find_ci(tail, "because no").is_some();
                msg.shape = if tail.is_empty() || cut_inside || is_truncated_clause(tail) {
                    Shape::NoReason
                } else {
                    Shape::Unknown
                };
            }
        }
        msg
    }

    /// The reason clause, when the message has one.
    pub(crate) fn reason(&self) -> Option<Reason> {
        match self.shape {
            Shape::Enhanced(r) => Some(r),
            _ => None,
        }
    }

    /// "deny*" of causes.md §3: an explicit deny or a message that names no reason.
    pub(crate) fn explicit_or_generic(&self) -> bool {
        self.is_generic() || self.reason().is_some_and(|r| r.verdict == Verdict::ExplicitDeny)
    }

    /// "Access Denied", no message, or the old reason-less "not authorized" text.
    pub(crate) fn is_generic(&self) -> bool {
        matches!(self.shape, Shape::Generic | Shape::Absent | Shape::NoReason)
    }

    /// The explicit-deny policy kind, if any.
    pub(crate) fn explicit_kind(&self) -> Option<PolicyKind> {
        self.reason().filter(|r| r.verdict == Verdict::ExplicitDeny).map(|r| r.kind)
    }

    /// The message is about a KMS action (the key, not S3, refused).
    pub(crate) fn is_kms(&self) -> bool {
        self.action.is_some_and(|a| starts_with_ci(a, "kms:"))
    }

    /// The S3 action the message names (`s3:PutObject`, `s3:PutObjectAcl`, ...), if it names one.
    pub(crate) fn s3_action(&self) -> Option<&'a str> {
        self.action.filter(|a| starts_with_ci(a, "s3:"))
    }

    /// A reason of `kind` about an S3 (non-KMS) action.
    pub(crate) fn s3_reason(&self, kind: PolicyKind) -> Option<Reason> {
        self.reason().filter(|r| r.kind == kind && !self.is_kms())
    }
}

enum Clause {
    /// No reason clause, or one cut short by truncation.
    None,
    Known(Reason, usize),
    Unrecognised,
}

/// Finds "with an explicit deny in …" or "because no … allows" and the policy phrase after it.
fn reason_clause(text: &str) -> Clause {
    const EXPLICIT: &str = "with an explicit deny in ";
    const IMPLICIT: &str = "because no ";
    let (verdict, start) = match (find_ci(text, EXPLICIT), find_ci(text, IMPLICIT)) {
        (Some(e), Some(i)) if i < e => (Verdict::NoAllow, i + IMPLICIT.len()),
        (Some(e), _) => (Verdict::ExplicitDeny, e + EXPLICIT.len()),
        (None, Some(i)) => (Verdict::NoAllow, i + IMPLICIT.len()),
        (None, None) => return Clause::None,
    };
    let mut tail = &text[start..];
    if is_cut_phrase(tail) {
        return Clause::None;
    }
    for article in ["an ", "a ", "the "] {
        if starts_with_ci(tail, article) {
            tail = &tail[article.len()..];
            break;
        }
    }
    for &(phrase, kind) in PHRASES {
        if starts_with_ci(tail, phrase) {
            let end = text.len() - tail.len() + phrase.len();
            return Clause::Known(Reason { verdict, kind }, end);
        }
    }
    Clause::Unrecognised
}

/// Longest phrases first; "sessions policy" is the older IAM spelling.
const PHRASES: &[(&str, PolicyKind)] = &[
    ("identity-based polic", PolicyKind::Identity),
    ("resource-based polic", PolicyKind::Resource),
    ("service control polic", PolicyKind::Scp),
    ("resource control polic", PolicyKind::Rcp),
    ("vpc endpoint polic", PolicyKind::VpcEndpoint),
    ("permissions boundar", PolicyKind::Boundary),
    ("sessions polic", PolicyKind::Session),
    ("session polic", PolicyKind::Session),
    ("role trust polic", PolicyKind::RoleTrust),
];

/// True when `tail` (what follows "with an explicit deny in " or "because no ") is empty or a
/// strict prefix of an article plus a known phrase: the 1 KB truncation cut the clause.
fn is_cut_phrase(tail: &str) -> bool {
    let tail = tail.trim_end();
    if tail.is_empty() {
        return true;
    }
    ["", "an ", "a ", "the "].iter().any(|article| {
        PHRASES.iter().any(|(phrase, _)| {
            let full = format!("{article}{phrase}");
            tail.len() < full.len() && starts_with_ci(&full, tail)
        })
    })
}

/// True when `tail` is a prefix of a known clause (the message was cut inside it).
fn is_truncated_clause(tail: &str) -> bool {
    ["with an explicit deny in", "because no "]
        .iter()
        .any(|clause| tail.len() < clause.len() && starts_with_ci(clause, tail))
}

/// The policy ARN suffix: the first ": arn:" after the reason clause.
fn policy_arn_suffix(after_clause: &str) -> Option<&str> {
    let at = find_ci(after_clause, ": arn:")?;
    let (token, _) = split_token(&after_clause[at + 2..]);
    let token = token.trim_end_matches(['.', ',', ';', '"', ')']);
    (token.len() > 4).then_some(token)
}

/// The text between the last "User: " before `at` and `at`.
fn principal_before(raw: &str, at: usize) -> Option<&str> {
    let head = &raw[..at];
    let start = rfind_ci(head, "User: ").map(|i| i + "User: ".len())?;
    let who = head[start..].trim();
    (!who.is_empty()).then_some(who)
}

/// Splits at the first whitespace.
fn split_token(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    }
}

/// A resource token, quoted ("arn:…") or bare.
fn resource_token(text: &str) -> (&str, &str) {
    if let Some(inner) = text.strip_prefix('"') {
        // A key may itself hold quotes (`=HYPERLINK("http://x")`): the closing quote is the one
        // the reason clause (or the end) follows, not the first one.
        let closes = |i: usize| {
            let after = inner[i + 1..].trim_start();
            after.is_empty()
                || starts_with_ci(after, "because ")
                || starts_with_ci(after, "with ")
                || after.starts_with(':')
        };
        let quotes = inner.match_indices('"').map(|(i, _)| i);
        match quotes.clone().find(|&i| closes(i)).or(quotes.clone().next()) {
            Some(i) => (&inner[..i], &inner[i + 1..]),
            None => split_token(inner),
        }
    } else {
        split_token(text)
    }
}

/// ASCII case-insensitive substring search. `needle` must be ASCII, so a match always starts and
/// ends on a char boundary of `hay`. Only the places where the needle's first byte occurs (in
/// either case, found with `memchr`) are compared: a report diagnoses thousands of messages, and
/// comparing at every offset made parsing one cost more than parsing its record.
pub(crate) fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else { return Some(0) };
    let last_start = h.len().checked_sub(n.len())?;
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lower, upper, &h[..=last_start]).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// [`find_ci`] from the end: the last match.
fn rfind_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let &first = n.first()?;
    let last_start = h.len().checked_sub(n.len())?;
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    memchr::memchr2_iter(lower, upper, &h[..=last_start]).rev().find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

pub(crate) fn starts_with_ci(hay: &str, prefix: &str) -> bool {
    hay.len() >= prefix.len() && hay.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Message<'_> {
        Message::parse(Some(text))
    }

    #[test]
    fn generic_and_absent() {
        assert_eq!(parse("Access Denied").shape, Shape::Generic);
        assert_eq!(parse(" access denied. ").shape, Shape::Generic);
        assert_eq!(Message::parse(None).shape, Shape::Absent);
        assert_eq!(parse("").shape, Shape::Absent);
        assert!(parse("Access Denied").explicit_or_generic());
        assert_eq!(parse("Request has expired").shape, Shape::Expired);
    }

    #[test]
    fn enhanced_s3_message_with_quoted_resource() {
        let m = parse(
            "User: arn:aws:sts::111122223333:assumed-role/ci/build-7 is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::acme/releases/app.zip\" because no identity-based policy allows the s3:PutObject action",
        );
        assert_eq!(m.shape, Shape::Enhanced(Reason { verdict: Verdict::NoAllow, kind: PolicyKind::Identity }));
        assert_eq!(m.principal, Some("arn:aws:sts::111122223333:assumed-role/ci/build-7"));
        assert_eq!(m.action, Some("s3:PutObject"));
        assert_eq!(m.resource, Some("arn:aws:s3:::acme/releases/app.zip"));
        assert!(!m.is_kms());
        assert!(!m.explicit_or_generic());
    }

    #[test]
    fn every_iam_guide_example_parses() {
        // Read in place: ../shared/realdata is beside the checkout (its licences live there).
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/realdata/aws-docs-samples/iam-userguide_access-denied-error-message-examples.txt"
        );
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e} (../shared/realdata is needed)"));
        let kinds: Vec<_> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| parse(l).reason().map(|r| (r.verdict, r.kind)))
            .collect();
        use PolicyKind::*;
        use Verdict::*;
        assert_eq!(
            kinds,
            vec![
                Some((ExplicitDeny, Scp)),
                Some((NoAllow, VpcEndpoint)),
                Some((ExplicitDeny, VpcEndpoint)),
                Some((NoAllow, Boundary)),
                Some((ExplicitDeny, Boundary)),
                Some((NoAllow, Session)),
                Some((ExplicitDeny, Session)),
                Some((NoAllow, Resource)),
                Some((ExplicitDeny, Resource)),
                Some((NoAllow, RoleTrust)),
                Some((ExplicitDeny, RoleTrust)),
                Some((NoAllow, Identity)),
                Some((ExplicitDeny, Identity)),
                Some((ExplicitDeny, VpcEndpoint)),
            ]
        );
        assert!(parse(text.lines().last().unwrap()).transitive_scp);
    }

    #[test]
    fn case_insensitive_search_agrees_with_comparing_at_every_offset() {
        let naive = |h: &str, n: &str, rev: bool| {
            let (h, n) = (h.as_bytes(), n.as_bytes());
            let mut at = (0..=h.len().saturating_sub(n.len()))
                .filter(|&i| h.len() >= n.len() && h[i..i + n.len()].eq_ignore_ascii_case(n));
            if rev { at.next_back() } else { at.next() }
        };
        // Every text of up to 6 characters over an alphabet where the needles' bytes meet their
        // other case and a non-ASCII character.
        let alphabet = ['a', 'A', 'b', 'B', ':', ' ', 'é'];
        let needles = ["", "a", "A", "ab", "Ab:", "b a", ": ", "aaa", "é"];
        let (mut texts, mut level) = (vec![String::new()], vec![String::new()]);
        for _ in 0..6 {
            level = level.iter().flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}"))).collect();
            texts.extend(level.iter().cloned());
        }
        assert!(texts.len() > 100_000);
        for t in &texts {
            for n in needles.iter().filter(|n| n.is_ascii()) {
                assert_eq!(find_ci(t, n), naive(t, n, false), "{t:?} {n:?}");
                if !n.is_empty() {
                    assert_eq!(rfind_ci(t, n), naive(t, n, true), "{t:?} {n:?}");
                }
            }
        }
    }

    #[test]
    fn policy_arn_suffix_is_tolerated() {
        let m = parse(
            "User: arn:aws:iam::111122223333:user/dev is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::b/k\" with an explicit deny in a service control policy: arn:aws:organizations::999988887777:policy/o-abc123/service_control_policy/p-examp1e",
        );
        assert_eq!(m.explicit_kind(), Some(PolicyKind::Scp));
        assert_eq!(
            m.policy_arn,
            Some("arn:aws:organizations::999988887777:policy/o-abc123/service_control_policy/p-examp1e")
        );
    }

    #[test]
    fn a_resource_with_inner_quotes_is_kept_whole() {
        let m = parse(
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::acme-artifacts/releases/v2/=HYPERLINK(\"http://x\")\" because no identity-based policy allows the s3:PutObject action",
        );
        assert_eq!(m.resource, Some("arn:aws:s3:::acme-artifacts/releases/v2/=HYPERLINK(\"http://x\")"));
        assert_eq!(m.reason().map(|r| r.kind), Some(PolicyKind::Identity));
    }

    #[test]
    fn kms_message_and_missing_on_resource() {
        let m = parse(
            "User: arn:aws:iam::1:user/u is not authorized to perform: kms:GenerateDataKey on resource: arn:aws:kms:us-east-1:1:key/abcd because no resource-based policy allows the kms:GenerateDataKey action",
        );
        assert!(m.is_kms());
        assert_eq!(m.resource, Some("arn:aws:kms:us-east-1:1:key/abcd"));
        assert_eq!(m.s3_reason(PolicyKind::Resource), None);
        let m = parse(
            "User: arn:aws:iam::1:user/u is not authorized to perform: s3:PutObject because no session policy allows the s3:PutObject action",
        );
        assert_eq!(m.s3_reason(PolicyKind::Session).map(|r| r.verdict), Some(Verdict::NoAllow));
        assert_eq!(m.resource, None);
    }

    #[test]
    fn reasonless_truncated_and_unknown() {
        let old =
            "User: arn:aws:iam::1:user/u is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::b/k";
        assert_eq!(parse(old).shape, Shape::NoReason);
        assert!(parse(old).explicit_or_generic());
        for cut in [
            "with an explicit de",
            "with an explicit deny in a",
            "with an explicit deny in a reso",
            "because no ",
            "because no identity-ba",
        ] {
            assert_eq!(parse(&format!("{old} {cut}")).shape, Shape::NoReason, "{cut}");
        }
        let odd = format!("{old} because the moon is full");
        assert_eq!(parse(&odd).shape, Shape::Unknown);
        let odd = format!("{old} because no lunar policy allows the s3:PutObject action");
        assert_eq!(parse(&odd).shape, Shape::Unknown);
        assert_eq!(parse("Something went wrong").shape, Shape::Unknown);
        assert!(!parse("Something went wrong").explicit_or_generic());
    }

    #[test]
    fn s3_specific_texts() {
        assert_eq!(
            parse("User: arn:aws:iam::1:user/u is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::b/k\" because public ACLs are prevented by the BlockPublicAcls setting in S3 Block Public Access.").shape,
            Shape::BlockPublicAcls
        );
        assert_eq!(
            parse("User: arn:aws:iam::1:user/u is not authorized to perform: s3:PutObject on resource: \"arn:aws:s3:::b/k\" because this bucket has blocked upload requests that specify Server Side Encryption with Customer provided keys (SSE-C). Please specify a different server-side encryption type").shape,
            Shape::SseCBlocked
        );
        assert_eq!(parse("The request was denied due to a VPC endpoint policy").shape, Shape::VpceNetwork);
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in [
            "User: ",
            "is not authorized to perform:",
            "User: é is not authorized to perform: ünïcödé on resource: \"",
            "User: x is not authorized to perform: s3:PutObject on resource: \"arn with an explicit deny in a ",
            "because no ",
            "with an explicit deny in a service control policy: arn:",
            "\u{1F600} is not authorized to perform: \u{1F600} because no \u{1F600}",
        ] {
            let _ = parse(text);
        }
    }
}
