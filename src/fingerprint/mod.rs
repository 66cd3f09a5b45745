//! Message similarity fingerprints: decide which messages are "substantively similar" (DESIGN.md,
//! "Words, defined exactly") so that the personalised copies of one campaign share a campaign and
//! unrelated mail does not.
//!
//! # Pipeline
//!
//! 1. [`crate::message`] finds the text a reader sees (`text/plain` preferred, else `text/html`;
//!    attachments skipped), undoes quoted-printable / base64 and decodes its charset
//!    ([`Message::readable`](crate::message::Message::readable)), and the words of the names in
//!    `To:` ([`Message::recipient_words`](crate::message::Message::recipient_words)). The DATA
//!    checks fingerprint the message the session already parsed ([`fingerprint_message`]).
//! 2. [`html`] reduces HTML to text (scripts, styles, comments dropped; entities decoded; each
//!    link's host kept).
//! 3. [`normalize`] folds case and whitespace and replaces personalisation with placeholders:
//!    greeting lines, the recipient's name (from `To:` and from the greeting) anywhere in the
//!    body, e-mail addresses, URLs (→ host), numbers, dates, times, ids and tokens.
//! 4. [`minhash`] hashes each word once, forms 4-word shingles, and computes a 128-value MinHash
//!    signature; LSH cuts it into 16 bands of 8 rows, one store key per band.
//!
//! # Parameters and why
//!
//! - **4-word shingles.** After normalisation the copies of one campaign differ only where the
//!   template has per-recipient *content* (ordered items, a few free words). A 4-gram is specific
//!   enough that unrelated English text shares almost none (common 4-grams are rarer than common
//!   2-/3-grams such as "thank you for"), yet one changed word only disturbs 4 shingles.
//! - **128 hashes.** The standard error of the Jaccard estimate is `sqrt(J(1-J)/128)` ≤ 0.044,
//!   enough to tell the ≥ 0.8 similarity of campaign copies from the ≤ 0.4 of mail that merely
//!   shares a footer; a signature is 512 bytes (32-bit minima) and costs 128 vectorised
//!   multiply-adds per shingle.
//! - **16 bands × 8 rows.** Two messages share a band key with probability
//!   `1 - (1 - J^8)^16`: J = 0.9 → 0.9999, J = 0.8 → 0.95, J = 0.7 → 0.67, J = 0.5 → 0.061,
//!   J = 0.3 → 0.0010, J = 0.2 → 0.00004. The S-curve's midpoint is `(1/16)^(1/8)` ≈ 0.71, which
//!   is [`THRESHOLD`]. A campaign of n copies is grouped by union over band-key collisions
//!   (the store maps band key → campaign), so a copy needs to collide with *one* earlier copy,
//!   not all of them: recall per copy is far higher than the pairwise 0.95 at J = 0.8. False
//!   merges need a pair above ~0.5 similarity, which boilerplate alone rarely reaches.
//! - **[`THRESHOLD`] = 0.7** for [`Fingerprint::similarity`], the LSH midpoint, so the exact
//!   comparison and the band keys agree on what "similar" means. A profile may state another
//!   threshold (`[fingerprint] similarity`, DESIGN "Substantively similar"): the campaign check
//!   then bands the same signature as [`Banding::for_threshold`] picks (e.g. 0.6 → 21 × 6,
//!   0.8 → 11 × 11). Only 0.7 is what the quality benchmark measures.
//!
//! # Why MinHash + LSH rather than SimHash or TLSH
//!
//! The rate store needs *keys* it can look up in O(1) — "which campaign does this message belong
//! to" must be a handful of point reads, not a scan. MinHash's LSH bands give exactly that with a
//! tunable, analysable S-curve on Jaccard similarity. SimHash gives one 64-bit value whose
//! near-duplicates are found by Hamming distance, which needs permuted tables (many more keys)
//! and is known to be weak on short texts where a few changed shingles flip many bits. TLSH
//! compares digests by a distance score and has no key scheme at all (it needs a scan or a
//! nearest-neighbour index), and it needs ≥ 50 bytes of input with enough variety. Jaccard over
//! word shingles is also the natural reading of "substantively similar": the share of the text
//! that is the same.
//!
//! # Short bodies
//!
//! With fewer than [`MIN_TOKENS`] normalised tokens the shingle set is too small for MinHash to
//! mean anything, so the fingerprint is *exact*: one band key, the hash of the normalised text,
//! (mixed with a band index no MinHash band uses). Two short bodies are then similar only if
//! their normalised texts are equal; an empty body is a body like any other (all empty bodies of
//! a tenant are one campaign — the copies are identical).
//!
//! # Bounds
//!
//! The MIME walk is `crate::message`'s, with its one set of limits
//! ([`MAX_PARTS`](crate::message::mime::MAX_PARTS) parts,
//! [`MAX_DEPTH`](crate::message::mime::MAX_DEPTH) levels,
//! [`MAX_TEXT_BYTES`](crate::message::mime::MAX_TEXT_BYTES) of decoded text of the chosen part);
//! at most [`MAX_TOKENS`] tokens are shingled.
//! Every step is linear in its input. Nothing here panics on any input.
//!
//! # Using the band keys (what the store must do)
//!
//! Look up every band key of a message. If any is known, the message joins the campaign that
//! owns most of them (ties: the smallest id); otherwise it starts a campaign with id
//! [`Fingerprint::campaign_id`]. Then record *all* of the message's keys not yet known for that
//! campaign (known keys keep their owner), so a campaign's key set grows with its copies and a
//! copy only has to resemble one earlier copy. [`quality::evaluate`] measures exactly this
//! ("sequential") as well as the transitive union of all collisions. A campaign whose first two
//! copies happen not to collide starts as two; the store therefore puts a message whose keys hit
//! several campaigns into the one most keys name and re-points the others' keys to it, so the
//! copies that follow converge on one campaign.
//!
//! # Measured (see `tests/fingerprint_quality.rs`, `benches/fingerprint.rs`)
//!
//! On the generated corpus (`corpus`; 200 campaigns × 30 copies + 2,000 one-offs in families
//! sharing footers, five seeds): recall 99.97–100% by union; as the store assigns campaigns
//! (majority of band keys, re-pointing the rest) 99.33–99.95%, with ≤ 0.025% of messages put in
//! another campaign's group (first-band-wins without re-pointing gave 98.3–99.8%); false
//! merges ≤ 2·10⁻⁷ of cross pairs and ≤ 0.05% of messages (at most one mixed group per 8,000
//! messages). The default test corpus (100 × 20 + 600): 100% by union, 99.35% as assigned. Cross-campaign similarities stay below 0.6; copies of one campaign go down to
//! ~0.55 (order confirmations whose item lists differ), which is why grouping relies on the
//! union of collisions rather than on every pair colliding. Release build, on 2 cores shared
//! with other builds: a 2 KiB message ≈ 50 µs of CPU (normalising ≈ 25 µs, MinHash ≈ 15 µs),
//! 50 KiB ≈ 1.1 ms.
//!
//! This module never decides policy: it only says which messages look alike.

pub mod boilerplate;
pub mod minhash;
pub mod normalize;
pub mod unicode;
pub mod visible;

pub use minhash::{Banding, BANDS, HASHES, ROWS, SHINGLE};
pub use normalize::Normalized;

/// Normalised tokens shingled; the rest is ignored.
pub const MAX_TOKENS: usize = 16 * 1024;
/// Below this many normalised tokens the fingerprint is exact (see "Short bodies").
pub const MIN_TOKENS: usize = 10;
/// Estimated Jaccard similarity at or above which two messages are substantively similar.
pub const THRESHOLD: f64 = 0.6;
/// An edge paragraph has at least this many tokens (shorter ones are greetings and closings).
pub const EDGE_MIN_TOKENS: usize = 5;
/// An edge paragraph left out in a variant has at most this many tokens …
pub const EDGE_MAX_TOKENS: usize = 60;
/// … and at most this share of the body's tokens, and leaves at least [`MIN_TOKENS`] × 2.
pub const EDGE_MAX_SHARE: f64 = 0.5;

/// Band index mixed into the key of an exact (short-body) fingerprint; no MinHash band has it.
const EXACT_BAND: u64 = 0xffff;

/// The body of a parsed message, normalised (see the module docs), and its author (the `From:`
/// address, lower-cased).
pub fn normalize_message(message: &crate::message::Message<'_>) -> (Normalized, String) {
    let readable = message.readable();
    let personal: Vec<String> = message
        .recipient_words()
        .iter()
        .map(|w| unicode::fold(w).into_owned())
        .collect();
    let (text, has_link) = if readable.is_html {
        let v = visible::to_visible(&readable.text);
        (v.text, v.has_link)
    } else {
        (readable.text, false)
    };
    let from = message
        .headers()
        .first("from")
        .and_then(|v| crate::message::addresses::parse_mailboxes(v, false).ok())
        .and_then(|m| m.into_iter().next());
    let (author, author_name) = from.map_or_else(Default::default, |m| {
        (m.address().to_lowercase(), unicode::fold(&m.display).to_lowercase())
    });
    let mut n = normalize::normalize_text_by(&unicode::fold(&text), &personal, &author_name);
    n.call_to_action |= has_link;
    (n, author)
}

/// The similarity fingerprint of a parsed message.
pub fn fingerprint_message(message: &crate::message::Message<'_>) -> Fingerprint {
    let (n, author) = normalize_message(message);
    fingerprint_normalized(&n, &author)
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
    let mut paragraphs: Vec<Vec<u64>> = Vec::new();
    let mut total = 0;
    for line in normalized.text.split('\n') {
        let tokens: Vec<u64> = line
            .split(' ')
            .filter(|t| !t.is_empty())
            .take(MAX_TOKENS - total)
            .map(|t| minhash::hash_bytes(t.as_bytes()))
            .collect();
        total += tokens.len();
        if !tokens.is_empty() {
            paragraphs.push(tokens);
        }
    }
    if total < MIN_TOKENS {
        return Fingerprint::exact(normalized, author);
    }
    let signatures: Vec<minhash::Signature> = paragraphs.iter().map(|p| minhash::signature(p)).collect();
    let n = paragraphs.len();
    // The edges are the first and last paragraphs with something to say: a greeting or a
    // closing line ("The Acme team") stays where it is.
    let substantial = |i: &usize| paragraphs[*i].len() >= EDGE_MIN_TOKENS;
    let first = (0..n).find(substantial);
    let last = (0..n).rev().find(substantial);
    let droppable = |len: usize| {
        len <= EDGE_MAX_TOKENS && len as f64 <= EDGE_MAX_SHARE * total as f64 && total - len >= 2 * MIN_TOKENS
    };
    let without = |skip: &[usize]| {
        (0..n)
            .filter(|i| !skip.contains(i))
            .fold([u32::MAX; HASHES], |acc, i| minhash::union(&acc, &signatures[i]))
    };
    let full = without(&[]);
    let mut variants = Vec::new();
    if let (Some(first), Some(last)) = (first, last) {
        if first != last {
            let (a, b) = (paragraphs[first].len(), paragraphs[last].len());
            if droppable(a) {
                variants.push(without(&[first]));
            }
            if droppable(b) {
                variants.push(without(&[last]));
            }
            if droppable(a + b) {
                variants.push(without(&[first, last]));
            }
        }
    }
    Fingerprint {
        signature: Some(Box::new(full)),
        variants,
        text_hash: minhash::hash_bytes(normalized.text.as_bytes()),
    }
}

/// A message's similarity fingerprint: a MinHash signature (with the signatures of its variants
/// without a short first or last paragraph), or for short bodies an exact hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    signature: Option<Box<minhash::Signature>>,
    variants: Vec<minhash::Signature>,
    text_hash: u64,
}

impl Fingerprint {
    /// A short body's exact fingerprint (module docs, "Short bodies"): its text with the link
    /// hosts when it calls to action, else its text with its author.
    fn exact(normalized: &Normalized, author: &str) -> Fingerprint {
        let mut h = minhash::hash_bytes(normalized.text.as_bytes());
        if normalized.call_to_action {
            for host in &normalized.hosts {
                h = minhash::mix64(h.rotate_left(17) ^ minhash::hash_bytes(host.as_bytes()));
            }
        } else {
            h = minhash::mix64(h.rotate_left(29) ^ minhash::hash_bytes(author.as_bytes()));
        }
        Fingerprint {
            signature: None,
            variants: Vec::new(),
            text_hash: h,
        }
    }

    /// The LSH band keys to look up (and record) in the store: [`BANDS`] keys per signature (the
    /// whole body's, then its variants'), or one for a short body. Each key mixes in its band
    /// index.
    pub fn band_keys(&self) -> Vec<u64> {
        self.band_keys_with(Banding::DEFAULT)
    }

    /// The band keys under another banding (a profile's similarity threshold,
    /// [`Banding::for_threshold`]); a short body's single exact key is the same under any.
    pub fn band_keys_with(&self, banding: Banding) -> Vec<u64> {
        match &self.signature {
            Some(sig) => {
                let mut keys = minhash::band_keys_with(sig, banding);
                for v in &self.variants {
                    for k in minhash::band_keys_with(v, banding) {
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                }
                keys
            }
            None => vec![minhash::mix64(self.text_hash ^ minhash::mix64(EXACT_BAND))],
        }
    }

    /// The id to give a new campaign started by this message: the smallest band key of the whole
    /// body. It is deterministic, so two gateway nodes that see the first copies of one campaign
    /// at the same time pick the same id as long as their copies agree on the smallest band.
    pub fn campaign_id(&self) -> u64 {
        match &self.signature {
            Some(sig) => minhash::band_keys(sig).into_iter().min().unwrap_or(0),
            None => self.band_keys().into_iter().min().unwrap_or(0),
        }
    }

    /// Estimated Jaccard similarity of the two bodies' shingle sets, in `[0, 1]`: the best over
    /// the whole bodies and their variants. Exact fingerprints are 1.0 when equal, else 0.0.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        match (&self.signature, &other.signature) {
            _ if self.text_hash == other.text_hash => 1.0,
            (Some(a), Some(b)) => {
                let mine = std::iter::once(&**a).chain(&self.variants);
                mine.flat_map(|x| {
                    std::iter::once(&**b)
                        .chain(&other.variants)
                        .map(move |y| minhash::similarity(x, y))
                })
                .fold(0.0, f64::max)
            }
            _ => 0.0,
        }
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
