//! English function words, left out of the shingles: two unrelated texts share "of the" and
//! "you for" in every paragraph, and a 2-word shingle of function words says nothing about what a
//! message is about. The words stay in the normalised text (what `policy replay` shows); only
//! the shingles skip them.

/// Whether `word` (lower-case) is a function word.
pub fn is_stopword(word: &str) -> bool {
    STOPWORDS.binary_search(&word).is_ok()
}

/// Whether the word with this [`super::minhash::hash_bytes`] hash is a function word: the
/// fingerprint has the hash already, and comparing integers is cheaper than comparing strings.
/// The hashes are fully mixed, so their low bits index an open-addressing table at most a
/// quarter full: about one probe per word, without the mispredicted branches of a binary search.
pub fn is_stopword_hash(hash: u64) -> bool {
    const SLOTS: usize = 512;
    const _: () = assert!(SLOTS >= 4 * STOPWORDS.len() && SLOTS.is_power_of_two());
    // 0 marks an empty slot; no function word hashes to 0 (checked when the table is built).
    static TABLE: std::sync::LazyLock<[u64; SLOTS]> = std::sync::LazyLock::new(|| {
        let mut table = [0u64; SLOTS];
        for word in STOPWORDS {
            let h = super::minhash::hash_bytes(word.as_bytes());
            assert_ne!(h, 0, "a function word hashes to the empty-slot marker");
            let mut i = h as usize % SLOTS;
            while table[i] != 0 {
                i = (i + 1) % SLOTS;
            }
            table[i] = h;
        }
        table
    });
    let table = &*TABLE;
    let mut i = hash as usize % SLOTS;
    loop {
        match table[i] {
            0 => return false,
            h if h == hash => return true,
            _ => i = (i + 1) % SLOTS,
        }
    }
}

/// Sorted (binary search).
const STOPWORDS: [&str; 117] = [
    "a",
    "about",
    "after",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "each",
    "few",
    "for",
    "from",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_is_sorted_and_found() {
        let mut sorted = super::STOPWORDS;
        sorted.sort_unstable();
        assert_eq!(sorted, super::STOPWORDS);
        assert!(super::is_stopword("the") && !super::is_stopword("garden"));
        let hash = |w: &str| crate::fingerprint::minhash::hash_bytes(w.as_bytes());
        assert!(super::is_stopword_hash(hash("the")) && !super::is_stopword_hash(hash("garden")));
        // The hash table answers as the word list does.
        for word in super::STOPWORDS {
            assert!(super::is_stopword_hash(hash(word)), "{word}");
        }
        for word in ["garden", "thee", "yourselve", "ab", "", "<num>", "offer", "z"] {
            assert_eq!(super::is_stopword_hash(hash(word)), super::is_stopword(word), "{word}");
        }
    }
}
