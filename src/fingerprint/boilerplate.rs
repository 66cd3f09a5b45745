//! Boilerplate: the parts of a message that are not what it says, recognised so the fingerprint
//! discounts them. Two unrelated mails of one sender share their footer, disclaimer and
//! signature; counted as content they make the two look alike (a one-liner under a 100-word
//! disclaimer is "80% similar" to every other one-liner under it). Three kinds:
//!
//! - **Lines** (short ones: [`BOILERPLATE_LINE_MAX_WORDS`]) that only ESPs and mailers write: "view this email in your browser", unsubscribe
//!   and preference links, "you are receiving this because", copyright and "all rights reserved",
//!   privacy/terms links, "forward to a friend", "add us to your address book".
//! - **Legal paragraphs**: disclaimers and company notices, recognised by their vocabulary: at
//!   least [`LEGAL_MIN_MARKERS`] distinct marker words ("confidential", "intended", "recipient",
//!   "liability", "registered", "prohibited", …) in one paragraph, dropped only where no
//!   content follows (disclaimers and notices are footers).
//! - **Signatures**: what follows a sign-off line (`Best regards,`, `Thanks,`) or an RFC 3676 `-- `
//!   delimiter once the message has said something ([`MIN_TOKENS_BEFORE_SIGNATURE`] tokens),
//!   as long as its lines are a signature's ([`SIGNATURE_LINE_WORDS`], [`SIGNATURE_MAX_LINES`]);
//!   or what follows a line opening with the author's own name.
//!
//! Each rule is bounded so that it cannot become an off-switch: a pitch after an early
//! `Thanks,`, a legal sentence added to each pitch paragraph or "(you can opt out anytime)" on
//! each pitch line is still counted as content.
//!
//! # Why recognised by what it says rather than learned from traffic
//!
//! Learning a tenant's boilerplate from its own traffic ("this paragraph appeared with many
//! different other texts") cannot tell a newsletter footer from a spammer's pitch sent with a
//! different word salad each time: both are a repeated block beside changing text. A spammer
//! could train the gateway to ignore his pitch in a few messages. Boilerplate recognised by its
//! wording and position cannot be trained; a pitch written as a legal notice or an unsubscribe
//! line is not a pitch any more. The cost: a footer in words this module does not know is
//! counted as content; the fingerprint's short-text rule and author-signature rule (see the module docs
//! of `fingerprint`) keep the damage small, and the quality benchmark measures it.
//!
//! All checks take lower-cased text and are linear in it.

/// Tokens needed before a sign-off or signature delimiter for what follows to be dropped.
pub const MIN_TOKENS_BEFORE_SIGNATURE: usize = 6;
/// Longest line (in words) of a signature after a sign-off: a name, a title, an address, a phone
/// number. A longer line is prose, and what the message says again (a pitch after `Thanks,`).
pub const SIGNATURE_LINE_WORDS: usize = 12;
/// Most lines a signature after a sign-off has.
pub const SIGNATURE_MAX_LINES: usize = 10;
/// Distinct legal marker words that make a paragraph a disclaimer.
pub const LEGAL_MIN_MARKERS: u32 = 3;
/// Longest line (in words) that a boilerplate phrase makes boilerplate: a footer line is short,
/// a paragraph with "(you can opt out anytime)" added is content.
pub const BOILERPLATE_LINE_MAX_WORDS: usize = 16;

/// Phrases that make a whole line boilerplate, lower-case.
const LINE_PHRASES: [&str; 34] = [
    "view this email",
    "view this e-mail",
    "view this message",
    "view it in your browser",
    "view in browser",
    "view in your browser",
    "view online",
    "view as a web page",
    "view as webpage",
    "view the web version",
    "web version",
    "having trouble viewing",
    "trouble viewing this",
    "can't see this email",
    "unsubscribe",
    "opt out",
    "opt-out",
    "manage your preferences",
    "manage preferences",
    "update your preferences",
    "email preferences",
    "manage your subscription",
    "you are receiving this",
    "you're receiving this",
    "you received this",
    "you have received this",
    "this email was sent to",
    "this message was sent to",
    "all rights reserved",
    "privacy policy",
    "terms of service",
    "forward to a friend",
    "add us to your address book",
    "why did i get this",
];

/// One automaton for all of [`LINE_PHRASES`]: one pass over a line instead of one per phrase.
fn line_phrases() -> &'static aho_corasick::AhoCorasick {
    static AUTOMATON: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
        // A DFA: one table lookup per byte of every line, the fastest search for 34 short
        // phrases (the automaton is small).
        aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .build(LINE_PHRASES)
            .expect("fixed, valid phrases")
    });
    &AUTOMATON
}

/// A line that is mailer boilerplate (see [`LINE_PHRASES`]), given lower-cased. Only short
/// lines qualify: a paragraph that mentions unsubscribing in passing is still content.
pub fn is_boilerplate_line(lower: &str) -> bool {
    if lower.len() > 400 || lower.split_whitespace().nth(BOILERPLATE_LINE_MAX_WORDS).is_some() {
        return false;
    }
    lower.starts_with('©')
        || lower.starts_with("(c) ")
        || lower.starts_with("copyright")
        || line_phrases().is_match(lower)
}

/// A marker word of legal boilerplate, as a bit (distinct markers are counted).
fn legal_marker(word: &str) -> u32 {
    match word {
        "confidential" | "confidentiality" => 1,
        "privileged" => 1 << 1,
        "disclaimer" => 1 << 2,
        "addressee" | "addressees" => 1 << 3,
        "unauthorized" | "unauthorised" => 1 << 4,
        "intended" => 1 << 5,
        "recipient" | "recipients" => 1 << 6,
        "prohibited" | "strictly" => 1 << 7,
        "liability" | "liable" => 1 << 8,
        "registered" | "incorporated" => 1 << 9,
        "disclosure" | "disclose" | "dissemination" => 1 << 10,
        "notify" | "erroneously" => 1 << 11,
        "viruses" | "virus" => 1 << 12,
        "regulated" | "authorised" | "authorized" => 1 << 13,
        "warranty" | "warranties" => 1 << 14,
        "legally" | "binding" => 1 << 15,
        "privacy" | "gdpr" | "processing" => 1 << 16,
        "subscribed" | "subscription" | "newsletter" => 1 << 17,
        "trademark" | "trademarks" | "copyright" => 1 << 18,
        _ => 0,
    }
}

/// Whether a paragraph (its normalised, lower-case tokens) reads like a disclaimer or notice.
/// (The normaliser drops one only where no content follows it: a footer.)
pub fn is_legal_paragraph<'a>(tokens: impl Iterator<Item = &'a str>) -> bool {
    tokens.fold(0, |m, w| m | legal_marker(w)).count_ones() >= LEGAL_MIN_MARKERS
}

const SIGN_OFFS: [&str; 20] = [
    "regards",
    "best regards",
    "kind regards",
    "warm regards",
    "warmest regards",
    "best",
    "all the best",
    "best wishes",
    "thanks",
    "many thanks",
    "thank you",
    "thanks again",
    "cheers",
    "sincerely",
    "yours sincerely",
    "yours truly",
    "talk soon",
    "cordialement",
    "mit freundlichen grüßen",
    "saludos",
];

/// A sign-off line (`Best regards,`) or the RFC 3676 signature delimiter, given trimmed.
pub fn is_sign_off(line: &str) -> bool {
    if line == "--" || line == "-- " {
        return true;
    }
    if line.len() > 40 {
        return false;
    }
    let l = line.trim_end_matches([',', '!', '.']);
    if l.is_ascii() {
        // Most lines: compared as they are, without a lower-cased copy.
        return SIGN_OFFS.iter().any(|s| s.eq_ignore_ascii_case(l));
    }
    let l = l.to_lowercase();
    SIGN_OFFS.contains(&l.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_paragraphs() {
        for line in [
            "view this email in your browser",
            "having trouble viewing this email? click here",
            "© 2026 acme inc.",
            "to unsubscribe click here",
            "you are receiving this email because you signed up",
        ] {
            assert!(is_boilerplate_line(line), "{line}");
        }
        for line in ["our spring sale starts today", "buy one, get one free"] {
            assert!(!is_boilerplate_line(line), "{line}");
        }
        let legal = "this message is confidential and intended only for the addressee";
        assert!(is_legal_paragraph(legal.split(' ')));
        assert!(!is_legal_paragraph("the recipient of our award is intended".split(' ')));
        assert!(is_sign_off("Best regards,") && is_sign_off("--") && !is_sign_off("Best offer today"));
    }
}
