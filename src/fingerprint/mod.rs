//! Message similarity fingerprints: decide which messages are "substantively similar" (DESIGN.md,
//! "Words, defined exactly") so that the personalised copies of one campaign share a campaign,
//! whatever a spammer does to them, and unrelated mail does not.
//!
//! # Pipeline
//!
//! 1. The one parse of the message (`crate::message`) gives what a mail client shows
//!    (`Message::displayed`: the last alternative of a `multipart/alternative`, HTML where there
//!    is some, the inline text parts of a `multipart/mixed` together, an attached message sent
//!    inline), decoded in its charset, the `To:` words and the author. A plain alternative before
//!    the HTML one adds its keys only when it says the same (so a plain-only and an HTML copy of
//!    one template meet): a random `text/plain` part beside the HTML pitch changes nothing, and a
//!    stub plain part ("view this mail online") joins nothing. (An earlier design keyed every
//!    alternative: a primed decoy alternative then out-voted the pitch in the campaign index.)
//! 2. [`visible`] reduces HTML to what a reader sees: hidden elements, zero-size and same-colour
//!    text, preheaders, navigation menus, images and link targets are not text.
//! 3. [`unicode`] folds what disguises text: NFKD, default-ignorable characters (zero-width space
//!    and joiners, soft hyphen, word joiner) removed, UTS 39 look-alikes folded to Latin letters.
//! 4. [`normalize`] folds case and replaces personalisation with placeholders (greeting, the
//!    recipient's name, addresses, numbers, dates, ids); links are not words (the HTML copy shows
//!    anchor text, the text copy a URL). With [`boilerplate`] it drops what is not content:
//!    browser-view, unsubscribe and copyright lines, legal paragraphs, and the signature after a
//!    sign-off, a `-- ` line or a line starting with the author's own name.
//! 5. [`minhash`] hashes each word once and forms 2-word shingles *within* each paragraph,
//!    leaving out shingles made only of function words ([`stopwords`]: "of the", "when the");
//!    one 128-value MinHash signature per paragraph, the body's signature their position-wise
//!    minimum. LSH cuts the body's signature into 21 bands of 6 rows, one store key per band.
//!
//! # Surviving added text: paragraph keys
//!
//! A hash-buster adds 10–50 words of unrelated prose above or below the pitch. Besides the whole
//! body's 21 keys, every paragraph of at least [`PARAGRAPH_MIN_TOKENS`] tokens (at most
//! [`MAX_KEYED_PARAGRAPHS`]) gets keys of its own under [`PARAGRAPH_BANDING`] (3 × 12: only a
//! near-verbatim paragraph shares one), so a copy whose salad dilutes the whole-body similarity
//! still meets its campaign through the pitch paragraph. The paragraph signatures are computed
//! anyway (the body's is their union), so this costs only the key hashing. Short paragraphs
//! (a stock sentence shared by unrelated templates) never key on their own.
//!
//! An earlier design keyed the body *without* its first or last paragraph instead. It found the
//! hash-busters as well but merged campaigns with each other: dropping a template's one unique
//! paragraph leaves the stock phrasing that templates of one kind share (on the seed-1 corpus,
//! 11.5% of the templated campaign copies in mixed groups, against 1% with paragraph keys).
//!
//! # Parameters and why (measured on `tests/fingerprint_quality.rs`)
//!
//! - **2-word shingles.** Short templates differ by a city, a swapped word, an A/B prefix and a
//!   button label; each change disturbs `k` shingles. With k = 4 (the previous fingerprint) short
//!   templates kept 53% of their copies together, k = 3 87–95%, k = 2 96–99%.
//! - **No function-word shingles.** With them, short unrelated messages written on one sentence
//!   pattern merged (0.17–0.30% of unrelated messages on seeds 1–3); dropping function words
//!   altogether cost the short templates 5 points of recall; dropping only the shingles made of
//!   nothing else kept both (0 false merges, short templates 95–100%).
//! - **21 bands × 6 rows**, threshold [`THRESHOLD`] = 0.6 (the S-curve's midpoint
//!   `(1/21)^(1/6)`): two bodies share a key with probability `1 - (1 - J^6)^21`: J = 0.8 →
//!   0.9996, J = 0.6 → 0.63, J = 0.4 → 0.083, J = 0.2 → 0.0013. 7 rows (0.66) lost 0.4–1.3
//!   points of recall; 5 rows (0.53) merged 0.3–0.6% of unrelated messages.
//! - The store groups by the union of collisions (a copy joins the campaign most of its keys
//!   name), so a copy needs to resemble *one* earlier copy, not all of them.
//!
//! # Why MinHash + LSH rather than SimHash or TLSH
//!
//! The rate store needs *keys* it can look up in O(1) — "which campaign does this message belong
//! to" must be a handful of point reads, not a scan. MinHash's LSH bands give exactly that with a
//! tunable, analysable S-curve on Jaccard similarity. SimHash gives one 64-bit value whose
//! near-duplicates are found by Hamming distance (many permuted tables), weak on short texts;
//! TLSH compares digests by a distance score and has no key scheme at all.
//!
//! # Boilerplate: recognised, not learned
//!
//! See [`boilerplate`]: learning a tenant's repeated blocks from its traffic cannot tell a footer
//! from a pitch sent with a different salad each time, and a spammer could train it to ignore his
//! pitch; wording and position cannot be trained.
//!
//! # Short bodies
//!
//! With fewer than [`MIN_TOKENS`] normalised tokens the fingerprint is *exact*: one key, the hash
//! of the normalised text, mixed with the link hosts when the text calls to action (a URL, an
//! e-mail address, a phone number) and with the author (`From:` address as an identity, so
//! `news+x@` and `news@` are one author) when it does not. What
//! a tenant's many users write alike ("Thanks!") is then not one campaign; one short text with a
//! link pushed to many recipients is, from however many senders. A short body that calls to
//! action, from [`NEAR_MIN_TOKENS`] tokens, also has a *near* key for each of its words, the same
//! hash of the text without that word: copies that differ by one word changed, added or left out
//! (a random word added to each copy of a short push) share one. Texts without a call to action
//! do not (one-time codes, short replies: "your login code" and "your reset code" are two mails).
//!
//! # Bounds
//!
//! The parse bounds the input (`crate::message`); at most [`MAX_TOKENS`] tokens are shingled;
//! HTML nesting is tracked to 256 levels. Every step is linear in its input. Nothing here panics
//! on any input.
//!
//! # Measured
//!
//! `cargo test --test fingerprint_quality -- --include-ignored --nocapture`. The CI corpus (seed
//! 0x5eed: 60 templated campaigns × 20, 600 footer-sharing one-offs, 4 campaigns of each
//! adversarial family × 25, 112 adversarial unrelated messages): campaign copies kept in their
//! campaign 99.77%, unrelated messages falsely merged 0. Seeds 1–5 (200 × 30 templated, 2,000
//! one-offs, 12 campaigns of each family, 336 adversarial unrelated): 99.83–99.97% kept, 0
//! unrelated messages merged; every family at 97.7% or more but short templates (96–100%). The
//! README's "Fingerprint quality" has the table by family, the tenth session's evasions among
//! them.
//!
//! This module never decides policy: it only says which messages look alike.

pub mod boilerplate;
pub mod css;
pub mod minhash;
pub mod normalize;
pub mod stopwords;
pub mod unicode;
pub mod visible;

pub use minhash::{Banding, BANDS, HASHES, ROWS, SHINGLE};
pub use normalize::Normalized;

/// Normalised tokens shingled; the rest is ignored.
pub const MAX_TOKENS: usize = 16 * 1024;
/// Below this many normalised tokens the fingerprint is exact (see "Short bodies").
pub const MIN_TOKENS: usize = 10;
/// A short body calling to action of at least this many tokens also has near keys (see "Short
/// bodies").
pub const NEAR_MIN_TOKENS: usize = 4;
/// Estimated Jaccard similarity at or above which two messages are substantively similar.
pub const THRESHOLD: f64 = 0.6;
/// A paragraph of at least this many tokens is also keyed on its own (see "Surviving added text").
pub const PARAGRAPH_MIN_TOKENS: usize = 25;
/// Paragraphs keyed on their own, at most.
pub const MAX_KEYED_PARAGRAPHS: usize = 8;
/// The banding of a paragraph's own keys: 3 bands of 12 rows, so only a near-verbatim paragraph
/// shares one (J = 0.95 → 0.83, J = 0.8 → 0.19, J = 0.6 → 0.007).
pub const PARAGRAPH_BANDING: Banding = Banding { bands: 3, rows: 12 };

/// Mixed into every paragraph key.
const PARAGRAPH_SALT: u64 = 0x7061_7261_6772_6170; // "paragrap"

/// Band index mixed into the key of an exact (short-body) fingerprint; no MinHash band has it.
const EXACT_BAND: u64 = 0xffff;

/// The body of a parsed message as a client shows it (`Message::displayed`), normalised (see
/// the module docs), and its author (the `From:` address as an identity: lower-cased, without a
/// `+tag`).
pub fn normalize_message(message: &crate::message::Message<'_>) -> (Normalized, String) {
    let (personal, author, author_name) = readers_of(message);
    (normalize_shown(&message.displayed(), &personal, &author_name), author)
}

/// The `To:` words (folded), the author's identity and the author's display name (folded).
fn readers_of(message: &crate::message::Message<'_>) -> (Vec<String>, String, String) {
    let personal: Vec<String> = message
        .recipient_words()
        .iter()
        .map(|w| unicode::fold(w).into_owned())
        .collect();
    let from = message
        .headers()
        .first("from")
        .and_then(|v| crate::message::addresses::parse_mailboxes(v, false).ok())
        .and_then(|m| m.into_iter().next());
    let (author, author_name) = from.map_or_else(Default::default, |m| {
        (
            crate::policy::recipient::identity(&m.address(), true),
            unicode::fold(&m.display).to_lowercase(),
        )
    });
    (personal, author, author_name)
}

/// Texts as a client shows them, normalised.
fn normalize_shown(shown: &[crate::message::readable::Segment], personal: &[String], author_name: &str) -> Normalized {
    let mut text = String::new();
    let mut has_link = false;
    for segment in shown {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        if segment.is_html {
            let v = visible::to_visible(&segment.text);
            text.push_str(&v.text);
            has_link |= v.has_link;
        } else {
            text.push_str(&segment.text);
        }
    }
    let mut n = normalize::normalize_text_by(&unicode::fold(&text), personal, author_name);
    n.call_to_action |= has_link;
    n
}

/// The similarity fingerprint of a parsed message: of what a client shows, joined by the
/// message's plain copy when it says the same (a plain-only and an HTML copy of one template
/// then meet); a plain part that says something else (a decoy) is not read.
pub fn fingerprint_message(message: &crate::message::Message<'_>) -> Fingerprint {
    let (personal, author, author_name) = readers_of(message);
    let shown = message.displayed();
    let shown_text = normalize_shown(&shown, &personal, &author_name);
    let plain = message.readable();
    if plain.is_html || !shown.iter().any(|s| s.is_html) {
        return fingerprint_normalized(&shown_text, &author);
    }
    let segment = crate::message::readable::Segment {
        text: plain.text,
        is_html: false,
    };
    let plain_text = normalize_shown(&[segment], &personal, &author_name);
    // An HTML part with no text at all (images only, or a "view online" line) tells issues
    // apart by nothing: the plain copy is what the message says.
    if shown_text.text.is_empty() {
        return fingerprint_normalized(&plain_text, &author);
    }
    let mut print = fingerprint_normalized(&shown_text, &author);
    let copy = fingerprint_normalized(&plain_text, &author);
    if print.similarity(&copy) >= THRESHOLD {
        print.copy = Some(Box::new(copy));
    }
    print
}

/// The normalised body text of a whole RFC 5322 message, parsed here.
pub fn normalize(message: &[u8]) -> String {
    normalize_message(&crate::message::parse(message)).0.text
}

/// [`fingerprint_message`] of a whole RFC 5322 message, parsed here.
pub fn fingerprint(message: &[u8]) -> Fingerprint {
    fingerprint_message(&crate::message::parse(message))
}

/// The fingerprint of a body already produced by [`normalize::normalize_text`], written by
/// `author` (the `From:` address; it scopes a short body without a call to action).
pub fn fingerprint_normalized(normalized: &Normalized, author: &str) -> Fingerprint {
    // Every token's word hash, paragraphs back to back (`ends`: where each one ends), and
    // whether it is a function word: one buffer each for the whole body.
    let mut hashes: Vec<u64> = Vec::with_capacity(normalized.text.len() / 4);
    let mut function_words: Vec<bool> = Vec::with_capacity(normalized.text.len() / 4);
    let mut ends: Vec<usize> = Vec::new();
    // Tokens hold no spaces or newlines (`normalize`); split as bytes, without a search per word.
    for line in normalized.text.as_bytes().split(|&b| b == b'\n') {
        let start = hashes.len();
        for word in line
            .split(|&b| b == b' ')
            .filter(|t| !t.is_empty())
            .take(MAX_TOKENS - start)
        {
            let h = minhash::hash_bytes(word);
            hashes.push(h);
            function_words.push(stopwords::is_stopword_hash(h));
        }
        if hashes.len() > start {
            ends.push(hashes.len());
        }
    }
    if hashes.len() < MIN_TOKENS {
        return Fingerprint::exact(normalized, author);
    }
    let mut whole = [u32::MAX; HASHES];
    let mut keyed: Vec<minhash::Signature> = Vec::new();
    let mut start = 0;
    for &end in &ends {
        let (tokens, skip) = (&hashes[start..end], &function_words[start..end]);
        start = end;
        let sig = minhash::signature_skipping(tokens, skip, SHINGLE);
        whole = minhash::union(&whole, &sig);
        if tokens.len() >= PARAGRAPH_MIN_TOKENS && keyed.len() < MAX_KEYED_PARAGRAPHS && !keyed.contains(&sig) {
            keyed.push(sig);
        }
    }
    Fingerprint {
        signature: Some(Box::new(whole)),
        paragraphs: keyed,
        // Not needed: equal long bodies have equal signatures (see `similarity`).
        text_hash: 0,
        near_hashes: Vec::new(),
        copy: None,
    }
}

/// A message's similarity fingerprint: a MinHash signature of the body and of each of its long
/// paragraphs, or for short bodies an exact hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    signature: Option<Box<minhash::Signature>>,
    paragraphs: Vec<minhash::Signature>,
    /// A short body's exact key material (its text with its hosts or author); 0 for a long body,
    /// which its signatures describe.
    text_hash: u64,
    /// A short body's near keys: the same of its text without one of its words, each (from
    /// [`NEAR_MIN_TOKENS`] words up).
    near_hashes: Vec<u64>,
    /// The message's plain copy, when it says what the shown HTML says: its keys join these.
    copy: Option<Box<Fingerprint>>,
}

impl Fingerprint {
    /// A short body's exact fingerprint (module docs, "Short bodies"): its text with the link
    /// hosts when it calls to action, else its text with its author.
    /// Its near keys are those of the text without one word each: a copy with one word
    /// changed, added or left out still shares a key with the others.
    fn exact(normalized: &Normalized, author: &str) -> Fingerprint {
        let scoped = |words: &[&str]| {
            let mut h = minhash::hash_bytes(words.join(" ").as_bytes());
            if normalized.call_to_action {
                for host in &normalized.hosts {
                    h = minhash::mix64(h.rotate_left(17) ^ minhash::hash_bytes(host.as_bytes()));
                }
            } else {
                h = minhash::mix64(h.rotate_left(29) ^ minhash::hash_bytes(author.as_bytes()));
            }
            h
        };
        let words: Vec<&str> = normalized.text.split([' ', '\n']).filter(|w| !w.is_empty()).collect();
        let mut near_hashes = Vec::new();
        // Only a text that calls to action (a short push): one-time codes and short replies
        // one word apart are different messages.
        if normalized.call_to_action && words.len() >= NEAR_MIN_TOKENS {
            for i in 0..words.len() {
                let without: Vec<&str> = words[..i].iter().chain(&words[i + 1..]).copied().collect();
                let h = scoped(&without);
                if !near_hashes.contains(&h) {
                    near_hashes.push(h);
                }
            }
        }
        Fingerprint {
            signature: None,
            paragraphs: Vec::new(),
            text_hash: scoped(&words),
            near_hashes,
            copy: None,
        }
    }

    /// The LSH band keys to look up (and record) in the store: [`BANDS`] keys of the whole body,
    /// then [`PARAGRAPH_BANDING`] keys per long paragraph, or one for a short body. Each key mixes
    /// in its band index.
    pub fn band_keys(&self) -> Vec<u64> {
        self.band_keys_with(Banding::DEFAULT)
    }

    /// The band keys under another banding (a profile's similarity threshold,
    /// [`Banding::for_threshold`]); a short body's single exact key is the same under any.
    pub fn band_keys_with(&self, banding: Banding) -> Vec<u64> {
        let mut keys = self.own_keys(banding);
        if let Some(copy) = &self.copy {
            for k in copy.own_keys(banding) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }

    /// [`Fingerprint::band_keys_with`] without the plain copy's.
    fn own_keys(&self, banding: Banding) -> Vec<u64> {
        match &self.signature {
            Some(sig) => {
                let mut keys = minhash::band_keys_with(sig, banding);
                for p in &self.paragraphs {
                    for k in minhash::band_keys_with(p, PARAGRAPH_BANDING) {
                        // A paragraph's keys never equal a whole body's.
                        let k = minhash::mix64(k ^ PARAGRAPH_SALT);
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                }
                keys
            }
            None => std::iter::once(self.text_hash)
                .chain(self.near_hashes.iter().copied())
                .map(|h| minhash::mix64(h ^ minhash::mix64(EXACT_BAND)))
                .collect(),
        }
    }

    /// The id to give a new campaign started by this message: the smallest band key of the whole
    /// body. It is deterministic, so two gateway nodes that see the first copies of one campaign
    /// at the same time pick the same id as long as their copies agree on the smallest band.
    pub fn campaign_id(&self) -> u64 {
        match &self.signature {
            Some(sig) => minhash::band_keys(sig).into_iter().min().unwrap_or(0),
            None => self.own_keys(Banding::DEFAULT).into_iter().min().unwrap_or(0),
        }
    }

    /// Estimated Jaccard similarity of the two bodies' shingle sets, in `[0, 1]`. Exact
    /// fingerprints are 1.0 when they share a key (equal, or one word apart), else 0.0.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        match (&self.signature, &other.signature) {
            (Some(a), Some(b)) => minhash::similarity(a, b),
            (None, None) if self.shares_exact_key(other) => 1.0,
            _ => 0.0,
        }
    }

    /// Two short bodies share a key: equal, or one word apart.
    fn shares_exact_key(&self, other: &Fingerprint) -> bool {
        let mine: Vec<u64> = std::iter::once(self.text_hash)
            .chain(self.near_hashes.iter().copied())
            .collect();
        std::iter::once(other.text_hash)
            .chain(other.near_hashes.iter().copied())
            .any(|h| mine.contains(&h))
    }

    /// Whether `other` is substantively similar ([`THRESHOLD`]).
    pub fn is_similar(&self, other: &Fingerprint) -> bool {
        self.similarity(other) >= THRESHOLD
    }

    /// True for a short body fingerprinted by its exact normalised text.
    pub fn is_exact(&self) -> bool {
        self.signature.is_none()
    }

    /// The MinHash signature of the whole body, if it was long enough to have one.
    pub fn signature(&self) -> Option<&minhash::Signature> {
        self.signature.as_deref()
    }
}

#[cfg(test)]
mod tests;
