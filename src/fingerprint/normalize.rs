//! Text normalisation: turns the decoded body text into the token stream the fingerprint is
//! computed over, removing everything that personalises one copy of a campaign.
//!
//! Output is lower-case words separated by single spaces. Personalisation becomes placeholder
//! tokens that cannot occur as words (they contain `<`): `<greet>` (a greeting line and the name
//! in it), `<name>` (a recipient's name anywhere in the body), `<email>`, `<num>` (numbers,
//! amounts, dates and times written with digits, phone numbers, ordinals), `<date>` (month and
//! weekday names), `<id>` (words mixing letters and digits, very long or random-looking words:
//! tracking ids, tokens, order references). A URL becomes its host, with labels that carry
//! digits replaced by `#` (per-recipient tracking subdomains). Runs of one placeholder collapse
//! into one (`March 5, 2026` and `5 March 2026` both become `<date> <num>` / `<num> <date>`).
//!
//! Boilerplate that is not what the message says is dropped, so that unrelated short mails from
//! one sender do not look alike because of it: everything after a sign-off line (`Best
//! regards,`) or an RFC 3676 `-- ` line once some text precedes it (the signature), and any
//! paragraph that reads like a legal disclaimer (three or more of "confidential", "intended",
//! "recipient", "addressee", "privileged", …).
//!
//! It must never panic and never do more than linear work in the input.

/// Non-empty lines at the top of the body searched for a greeting.
const GREETING_LINES: usize = 6;
use super::boilerplate::{
    is_boilerplate_line, is_legal_paragraph, is_sign_off, MIN_TOKENS_BEFORE_SIGNATURE, SIGNATURE_LINE_WORDS,
    SIGNATURE_MAX_LINES,
};

/// Bytes of the longest of [`GREETINGS`].
const LONGEST_GREETING: usize = {
    let mut i = 0;
    let mut longest = 0;
    while i < GREETINGS.len() {
        if GREETINGS[i].len() > longest {
            longest = GREETINGS[i].len();
        }
        i += 1;
    }
    longest
};
/// Words that open a greeting line.
const GREETINGS: [&str; 14] = [
    "dear",
    "hi",
    "hello",
    "hey",
    "greetings",
    "hiya",
    "howdy",
    "bonjour",
    "hallo",
    "hola",
    "ciao",
    "salut",
    "liebe",
    "lieber",
];

/// Words after a greeting that are not a name.
const NOT_NAMES: [&str; 12] = [
    "there", "all", "everyone", "team", "friend", "friends", "customer", "member", "and", "to", "from", "valued",
];

/// Month and weekday names (not "may", "mar", "sat", "sun": common words).
fn is_month_or_day(w: &str) -> bool {
    matches!(
        w,
        "january"
            | "february"
            | "march"
            | "april"
            | "june"
            | "july"
            | "august"
            | "september"
            | "october"
            | "november"
            | "december"
            | "jan"
            | "feb"
            | "apr"
            | "jun"
            | "jul"
            | "aug"
            | "sep"
            | "sept"
            | "oct"
            | "nov"
            | "dec"
            | "monday"
            | "tuesday"
            | "wednesday"
            | "thursday"
            | "friday"
            | "saturday"
            | "sunday"
            | "tues"
    )
}

/// The normalised body: paragraphs separated by `\n`, tokens by single spaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Normalized {
    /// The tokens (see the module docs).
    pub text: String,
    /// The body calls to action: it holds a URL, an e-mail address or a phone number (what a
    /// short text pushed to many recipients carries; see `fingerprint`, "Short bodies").
    pub call_to_action: bool,
    /// Hosts of the URLs in the body, in order, as normalised (at most 8).
    pub hosts: Vec<String>,
}

/// Normalises body text (already Unicode-folded; paragraphs separated by blank lines).
/// `personal` holds lower-case words known to be the recipient's (from `To:`); names found in a
/// greeting are added to them.
pub fn normalize_text(text: &str, personal: &[String]) -> Normalized {
    normalize_text_by(text, personal, "")
}

/// [`normalize_text`] for a body written by `author_name` (the `From:` display name,
/// lower-cased): a line that starts with it, once the body has said something, opens the
/// signature block, and the rest is dropped.
pub fn normalize_text_by(text: &str, personal: &[String], author_name: &str) -> Normalized {
    let author_name = author_name.trim();
    let author_name = if author_name.chars().filter(|c| c.is_alphabetic()).count() >= 3 {
        author_name
    } else {
        ""
    };
    let mut n = Normalizer {
        author_name: author_name.to_string(),
        out: String::with_capacity(text.len()),
        personal: personal.to_vec(),
        last_placeholder: None,
        tokens: 0,
        word: String::new(),
        nonempty_lines: 0,
        signature_at: None,
        in_signature: None,
        signed_off: false,
        legal_from: None,
        call_to_action: false,
        hosts: Vec::new(),
        lower: String::new(),
    };
    let mut para: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim();
        if line.is_empty() {
            n.paragraph(&para);
            para.clear();
        } else {
            para.push(line);
        }
    }
    // The footer: legal paragraphs with no content after them, and what follows a line opening
    // with the author's name.
    let cut = match (n.signature_at, n.legal_from) {
        (Some(a), Some(b)) => Some(if a.len <= b.len { a } else { b }),
        (a, b) => a.or(b),
    };
    if let Some(at) = cut {
        n.out.truncate(at.len);
        n.call_to_action = at.call_to_action;
        n.hosts.truncate(at.hosts);
    }
    let len = n.out.trim_end().len();
    n.out.truncate(len);
    Normalized {
        text: n.out,
        call_to_action: n.call_to_action,
        hosts: n.hosts,
    }
}

struct Normalizer {
    out: String,
    personal: Vec<String>,
    last_placeholder: Option<&'static str>,
    tokens: usize,
    /// Scratch buffer for one lower-cased word (no allocation per word).
    word: String,
    nonempty_lines: usize,
    /// Where the signature starts (the output's length and tokens then): the first line
    /// opening with the author's name once the body has said something; the rest is dropped.
    signature_at: Option<Mark>,
    /// Inside a signature after a sign-off: how many of its lines were skipped. It lasts while
    /// its lines are a signature's (short ones, a few of them); a line of prose ends it, and
    /// what follows is content again (a pitch after an early `Thanks,`).
    in_signature: Option<usize>,
    /// A sign-off was seen: the next one is text.
    signed_off: bool,
    /// Where the run of legal paragraphs that nothing but boilerplate has followed yet starts.
    legal_from: Option<Mark>,
    call_to_action: bool,
    hosts: Vec<String>,
    /// Scratch: the current line lower-cased.
    lower: String,
    /// The author's display name, lower-cased; empty when unknown.
    author_name: String,
}

/// Where the output stood at a point of the text.
#[derive(Clone, Copy)]
struct Mark {
    len: usize,
    tokens: usize,
    call_to_action: bool,
    hosts: usize,
}

impl Normalizer {
    fn mark(&self) -> Mark {
        Mark {
            len: self.out.len(),
            tokens: self.tokens,
            call_to_action: self.call_to_action,
            hosts: self.hosts.len(),
        }
    }

    /// One paragraph (non-empty lines between blank lines). Boilerplate lines are skipped; a
    /// legal paragraph or a sign-off line is noted, to be cut at the end if it starts the
    /// footer (see [`normalize_text_by`]).
    fn paragraph(&mut self, lines: &[&str]) {
        let start = self.mark();
        let (start_len, start_tokens) = (start.len, start.tokens);
        if start_len > 0 {
            // A paragraph break: `emit` puts no space after a newline.
            self.out.push('\n');
        }
        let separator_len = self.out.len();
        for line in lines {
            self.nonempty_lines += 1;
            if let Some(lines) = self.in_signature {
                if lines < SIGNATURE_MAX_LINES && line.split_whitespace().nth(SIGNATURE_LINE_WORDS).is_none() {
                    self.in_signature = Some(lines + 1);
                    // The author's own name in it: the rest is the signature block, whatever
                    // follows (an address, a footer), as without a sign-off.
                    if self.signature_at.is_none() && self.starts_with_author(&line.to_lowercase()) {
                        self.signature_at = Some(self.mark());
                    }
                    continue;
                }
                self.in_signature = None;
            }
            let said_something = self.tokens >= MIN_TOKENS_BEFORE_SIGNATURE;
            if said_something && !self.signed_off && is_sign_off(line) {
                self.signed_off = true;
                self.in_signature = Some(0);
                continue;
            }
            self.lower.clear();
            if line.is_ascii() {
                self.lower.push_str(line);
                self.lower.make_ascii_lowercase();
            } else {
                self.lower.extend(line.chars().flat_map(char::to_lowercase));
            }
            if said_something && self.signature_at.is_none() && self.starts_with_author(&self.lower) {
                self.signature_at = Some(self.mark());
            }
            if is_boilerplate_line(&self.lower) {
                continue;
            }
            let mut rest = *line;
            if self.nonempty_lines <= GREETING_LINES {
                if let Some(after) = self.greeting(line) {
                    rest = after;
                }
            }
            if rest.is_ascii() {
                for chunk in rest.split_ascii_whitespace() {
                    self.chunk(chunk, true);
                }
            } else {
                for chunk in rest.split_whitespace() {
                    self.chunk(chunk, false);
                }
            }
        }
        if self.out.len() > separator_len {
            if !is_legal_paragraph(self.out[separator_len..].split([' ', '\n'])) {
                // Content: the legal paragraphs before it were not a footer.
                self.legal_from = None;
            } else if self.legal_from.is_none() {
                self.legal_from = Some(start);
            }
        } else {
            self.out.truncate(start_len);
            self.tokens = start_tokens;
            self.last_placeholder = None;
            // A signature that started inside the dropped paragraph starts where it was.
            if let Some(at) = &mut self.signature_at {
                if at.len > start_len {
                    at.len = start_len;
                    at.tokens = start_tokens;
                }
            }
        }
    }

    /// The line (lower-cased) starts with the author's name as whole words: a signature.
    fn starts_with_author(&self, lower: &str) -> bool {
        !self.author_name.is_empty()
            && lower.starts_with(&self.author_name)
            && lower[self.author_name.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
    }

    fn emit(&mut self, word: &str) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push(' ');
        }
        self.out.push_str(word);
        self.tokens += 1;
        self.last_placeholder = None;
    }

    fn placeholder(&mut self, p: &'static str) {
        if self.last_placeholder == Some(p) {
            return;
        }
        self.emit(p);
        self.last_placeholder = Some(p);
    }

    /// When `line` opens with a greeting, emits `<greet>`, learns the name words and returns the
    /// rest of the line after the name.
    fn greeting<'a>(&mut self, line: &'a str) -> Option<&'a str> {
        let first_end = line.find(|c: char| !c.is_alphabetic()).unwrap_or(line.len());
        // Longer than any greeting: not one, and not worth lower-casing. (Only the Kelvin sign
        // lower-cases to an ASCII letter of another length, and no greeting has a `k`; the
        // factor 2 is a margin.)
        if first_end > 2 * LONGEST_GREETING {
            return None;
        }
        let first = line[..first_end].to_lowercase();
        if !GREETINGS.contains(&first.as_str()) {
            return None;
        }
        let after = &line[first_end..];
        // The name runs to the first , ! : ; or . within a few words; without punctuation a
        // short rest of line is the name.
        let stop = after.find([',', '!', ':', ';', '.', '\u{ff0c}']);
        let (name, rest) = match stop {
            Some(s) if after[..s].split_whitespace().count() <= 4 => (&after[..s], &after[s + 1..]),
            _ if after.split_whitespace().count() <= 3 => (after, ""),
            _ => ("", after),
        };
        for w in name.split(|c: char| !c.is_alphabetic() && c != '\'') {
            let w = w.to_lowercase();
            if w.chars().count() >= 2
                && !NOT_NAMES.contains(&w.as_str())
                && !self.personal.contains(&w)
                && self.personal.len() < 32
            {
                self.personal.push(w);
            }
        }
        self.placeholder("<greet>");
        Some(rest)
    }

    /// One whitespace-delimited chunk of text.
    fn chunk(&mut self, raw: &str, line_ascii: bool) {
        let ascii = line_ascii || raw.is_ascii();
        let c = if ascii {
            trim_ascii_by(raw, |b| !b.is_ascii_alphanumeric() && b != b'/' && b != b'@')
        } else {
            raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '/' && c != '@')
        };
        let c = c.trim_end_matches('/');
        if c.is_empty() {
            return;
        }
        if ["http://", "https://", "www."]
            .iter()
            .any(|p| c.len() >= p.len() && c.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
        {
            self.url(c);
            return;
        }
        if ascii {
            return self.ascii_chunk(c);
        }
        if let Some(at) = c.bytes().position(|b| b == b'@') {
            if self.email(c, at) {
                return;
            }
        }
        if !c.chars().any(char::is_alphabetic) {
            if c.bytes().any(|b| b.is_ascii_digit()) {
                self.placeholder("<num>");
            }
            return;
        }
        for w in c.split(|ch: char| !ch.is_alphanumeric() && ch != '\'' && ch != '\u{2019}') {
            self.word(w, w.is_ascii(), true);
        }
    }

    /// [`Self::chunk`] for ASCII text, the common case: each test stops at the first byte that
    /// decides it, and the words are sliced out without being validated again.
    fn ascii_chunk(&mut self, c: &str) {
        let b = c.as_bytes();
        // Letters? digits? anything else? One branch-free pass (vectorised).
        let classes = b.iter().fold(0u8, |seen, &x| seen | ascii_class(x));
        let (alpha, digit, other) = (classes & ALPHA != 0, classes & DIGIT != 0, classes & OTHER != 0);
        // An `@` is neither a letter nor a digit: only a chunk with other bytes can be an address.
        if other && c.find('@').is_some_and(|at| self.email(c, at)) {
            return;
        }
        if !alpha {
            if digit {
                // Seven digits or more in one number: a phone number, a call to action.
                if b.iter().filter(|x| x.is_ascii_digit()).count() >= 7 {
                    self.call_to_action = true;
                }
                self.placeholder("<num>");
            }
            return;
        }
        // One word, the common case for long tokens.
        if !other {
            return self.word(c, true, digit);
        }
        for w in b.split(|&x| !x.is_ascii_alphanumeric() && x != b'\'') {
            // `w` is a subslice of `b`: its offset gives the same bytes as a `str`.
            let start = w.as_ptr() as usize - b.as_ptr() as usize;
            self.word(&c[start..start + w.len()], true, digit);
        }
    }

    /// `c` with an `@` at `at` is an address (`local@domain.tld`): emits `<email>`.
    fn email(&mut self, c: &str, at: usize) -> bool {
        let (local, domain) = (&c[..at], &c[at + 1..]);
        if !local.is_empty() && domain.contains('.') {
            self.call_to_action = true;
            self.placeholder("<email>");
            return true;
        }
        false
    }

    /// One word; `ascii` when it is ASCII, `may_have_digits` false when it is known to have none.
    fn word(&mut self, w: &str, ascii: bool, may_have_digits: bool) {
        let w = if ascii {
            trim_ascii_by(w, |b| b == b'\'')
        } else {
            w.trim_matches(|c: char| c == '\'' || c == '\u{2019}')
        };
        if w.is_empty() {
            return;
        }
        if ascii && w.len() >= 20 && may_have_digits {
            // A long token (tracking id, hash, long number): which placeholder is decided by
            // its first non-digit byte, without counting every digit.
            let all_digits = w.bytes().all(|b| b.is_ascii_digit());
            if all_digits || w.bytes().any(|b| b.is_ascii_digit()) {
                let (head, tail) = w.as_bytes().split_at(w.len() - 2);
                let ordinal = ["st", "nd", "rd", "th"]
                    .iter()
                    .any(|suffix| tail.eq_ignore_ascii_case(suffix.as_bytes()))
                    && head.iter().all(u8::is_ascii_digit);
                return self.placeholder(if all_digits || ordinal { "<num>" } else { "<id>" });
            }
        }
        let digits = if may_have_digits {
            w.bytes().filter(u8::is_ascii_digit).count()
        } else {
            0
        };
        let len = if ascii { w.len() } else { w.chars().count() };
        if digits == len {
            return self.placeholder("<num>");
        }
        if digits > 0 {
            // `5th`, `22nd`: digits, then an ordinal suffix (ASCII, so byte offsets are chars).
            let (head, tail) = w.as_bytes().split_at(digits.min(w.len()));
            let ordinal = head.iter().all(u8::is_ascii_digit)
                && ["st", "nd", "rd", "th"]
                    .iter()
                    .any(|suffix| tail.eq_ignore_ascii_case(suffix.as_bytes()));
            return self.placeholder(if ordinal { "<num>" } else { "<id>" });
        }
        if len >= 20 || (len >= 10 && looks_random(w)) {
            return self.placeholder("<id>");
        }
        let mut word = std::mem::take(&mut self.word);
        word.clear();
        if ascii && !w.as_bytes().contains(&b'\'') {
            // The common case: one copy, lower-cased in place, without Unicode case tables.
            word.push_str(w);
            word.make_ascii_lowercase();
        } else if ascii {
            word.extend(
                w.bytes()
                    .filter(|&b| b != b'\'')
                    .map(|b| char::from(b.to_ascii_lowercase())),
            );
        } else {
            word.extend(
                w.chars()
                    .flat_map(char::to_lowercase)
                    .filter(|&c| c != '\'' && c != '\u{2019}'),
            );
        }
        if self.personal.contains(&word) {
            self.placeholder("<name>");
        } else if is_month_or_day(&word) {
            self.placeholder("<date>");
        } else {
            self.emit(&word);
        }
        self.word = word;
    }

    /// A URL becomes its host: lower case, `www.` dropped, labels carrying digits as `#`.
    fn url(&mut self, url: &str) {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host_port.rsplit('@').next().unwrap_or("");
        let host = host.split(':').next().unwrap_or("").to_ascii_lowercase();
        let host = host.strip_prefix("www.").unwrap_or(&host);
        if host.is_empty() {
            return;
        }
        let mut out = String::with_capacity(host.len());
        for (i, label) in host.split('.').enumerate() {
            if i > 0 {
                out.push('.');
            }
            if label.chars().any(|c| c.is_ascii_digit()) || label.len() > 24 {
                out.push('#');
            } else {
                out.push_str(label);
            }
        }
        // A link is not text: the HTML copy of a campaign shows its anchor text, the text copy the
        // URL. It is a call to action, and its host tells short texts apart.
        self.call_to_action = true;
        if self.hosts.len() < 8 {
            self.hosts.push(out);
        }
    }
}

/// Byte classes of [`ascii_class`].
const ALPHA: u8 = 1;
const DIGIT: u8 = 2;
const OTHER: u8 = 4;

/// [`ALPHA`], [`DIGIT`] or [`OTHER`] for one byte, without branches.
#[inline]
fn ascii_class(x: u8) -> u8 {
    let alpha = u8::from((x | 0x20).wrapping_sub(b'a') < 26);
    let digit = u8::from(x.wrapping_sub(b'0') < 10);
    (alpha * ALPHA) | (digit * DIGIT) | ((1 - alpha - digit) * OTHER)
}

/// `s` without leading and trailing ASCII bytes matching `strip` (`s` is ASCII).
fn trim_ascii_by(s: &str, strip: impl Fn(u8) -> bool) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&x| !strip(x)).unwrap_or(b.len());
    let end = b.iter().rposition(|&x| !strip(x)).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// A long word with case changes inside it (`aZk9QwPmX…` without digits): a token, not a word.
fn looks_random(w: &str) -> bool {
    let mut changes = 0;
    let mut prev_upper = None;
    for c in w.chars().skip(1) {
        let up = c.is_uppercase();
        if prev_upper.is_some_and(|p| p != up) {
            changes += 1;
        }
        prev_upper = Some(up);
    }
    changes >= 3
}

#[cfg(test)]
mod tests {
    use super::{ascii_class, normalize_text, ALPHA, DIGIT, OTHER};

    #[test]
    fn long_tokens_with_digits_are_numbers_ordinals_or_ids() {
        let cases = [
            ("ref 123456789012345678901234 end", "ref <num> end"),
            ("the 123456789012345678th time", "the <num> time"),
            ("token 1XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX end", "token <id> end"),
            ("token XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX9 end", "token <id> end"),
            ("long wordwithoutanydigitsatall here", "long <id> here"),
        ];
        for (text, want) in cases {
            assert_eq!(normalize_text(text, &[]).text, want, "{text}");
        }
    }

    #[test]
    fn normalisation_table() {
        let cases: [(&str, &[&str], &str); 16] = [
            ("Welcome   TO the\n\n  SHOW", &[], "welcome to the\nshow"),
            ("Dear John,\nYour order is ready, John.", &[], "<greet> your order is ready <name>"),
            ("Hi Maria Lopez! Welcome aboard", &[], "<greet> welcome aboard"),
            ("Hello and welcome to our weekly news about gardens", &[], "<greet> and welcome to our weekly news about gardens"),
            ("Sent to bob.smith@example.com (Bob)", &["bob", "smith"], "sent to <email> <name>"),
            (
                "Track: https://u123.click.shop.com/t/AbC9?x=1 or www.Shop.com/a",
                &[],
                "track or",
            ),
            ("Total $1,234.56 due 2026-03-05 at 14:30", &[], "total <num> due <num> at <num>"),
            ("Order ORD-48213X shipped March 5th, 2026", &[], "order ord <id> shipped <date> <num>"),
            ("token aGVsbG9Xb3JsZEZvb0Jhcg end", &[], "token <id> end"),
            ("don't stop", &[], "dont stop"),
            (
                "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen\n-- \nJane Doe\nACME",
                &[],
                "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen",
            ),
            (
                "Hi Bo,\nthe budget is fine and the plan works for me\nBest regards,\nSue Lee\nACME",
                &[],
                "<greet> the budget is fine and the plan works for me",
            ),
            (
                "A short note here.\n\nThis e-mail is confidential and intended only for the addressee.",
                &[],
                "a short note here",
            ),
            (
                "View this email in your browser\n\nBig news today\n\nUnsubscribe here",
                &[],
                "big news today",
            ),
            ("Thanks!\nshort", &[], "thanks short"),
            ("", &[], ""),
        ];
        for (text, personal, want) in cases {
            let personal: Vec<String> = personal.iter().map(|s| s.to_string()).collect();
            assert_eq!(normalize_text(text, &personal).text, want, "{text}");
        }
    }

    #[test]
    fn byte_classes_agree_with_the_standard_library() {
        for x in 0..=255u8 {
            let want = if x.is_ascii_alphabetic() {
                ALPHA
            } else if x.is_ascii_digit() {
                DIGIT
            } else {
                OTHER
            };
            assert_eq!(ascii_class(x), want, "byte {x:#04x}");
        }
    }
}
