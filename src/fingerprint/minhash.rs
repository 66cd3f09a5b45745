//! MinHash signatures over word shingles, and their LSH band keys.
//!
//! Hashing is hand-written and fixed forever (FNV-1a for words, the SplitMix64 / MurmurHash3
//! finaliser for mixing): band keys are stored by the rate store and shared between gateway
//! nodes, so they must not change between builds, platforms or versions. Changing any constant
//! here changes every campaign key; do it only with a store migration.

/// MinHash functions (signature length).
pub const HASHES: usize = 128;
/// Signature rows per band.
pub const ROWS: usize = 6;
/// LSH bands; `BANDS * ROWS <= HASHES` (the last two hashes are not banded).
pub const BANDS: usize = HASHES / ROWS;
/// Words per shingle.
pub const SHINGLE: usize = 2;

const _: () = assert!(BANDS * ROWS <= HASHES);

/// The SplitMix64 finaliser: a bijective 64-bit mix with full avalanche.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes, then mixed (FNV alone has weak high bits for short inputs).
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix64(h)
}

/// Per-function odd multipliers and offsets of the hash family `h_i(x) = a_i·x + b_i mod 2^32`
/// over the 32-bit, fully mixed shingle hash `x`, derived at compile time from a fixed seed.
/// Each `h_i` is a bijection of 32-bit values; the minimum is decided by the high bits, which
/// depend on every bit of `x`.
const PARAMS: ([u32; HASHES], [u32; HASHES]) = {
    let mut a = [0u32; HASHES];
    let mut b = [0u32; HASHES];
    let mut state: u64 = 0x6175_7067_6174_6521; // "aupgate!"
    let mut i = 0;
    while i < HASHES {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let r = mix64(state);
        a[i] = (r >> 32) as u32 | 1;
        b[i] = r as u32;
        i += 1;
    }
    (a, b)
};

/// A MinHash signature: per hash function, the minimum over the shingles.
pub type Signature = [u32; HASHES];

/// MinHash signature of the shingles of `tokens` (already hashed words); fewer than
/// [`SHINGLE`] tokens are one shingle, no tokens the empty signature (all `u32::MAX`).
pub fn signature(tokens: &[u64]) -> Signature {
    signature_k(tokens, SHINGLE)
}

/// [`signature_k`] without the shingles made only of tokens `skip` marks (function words: "of
/// the", "when the" say nothing about what a text is about, and a sentence pattern repeated with
/// other words would otherwise look alike). A text of only such shingles keeps them.
pub fn signature_skipping(tokens: &[u64], skip: &[bool], k: usize) -> Signature {
    let window = k.max(1).min(tokens.len());
    let (sig, kept) = vectorized(|| {
        let mut sig = [i32::MAX; HASHES];
        let mut kept = 0;
        if window > 0 {
            for (start, shingle) in tokens.windows(window).enumerate() {
                if skip.get(start..start + window).is_some_and(|s| s.iter().all(|&f| f)) {
                    continue;
                }
                kept += 1;
                add_shingle(&mut sig, shingle_hash(shingle));
            }
        }
        (sig, kept)
    });
    if kept == 0 {
        return signature_k(tokens, k);
    }
    sig.map(|v| v as u32 ^ 0x8000_0000)
}

/// Runs `f` compiled for the best instruction set this CPU has, chosen once per process (AVX2
/// where present, else the baseline; `pulp` checks the CPU and keeps the `unsafe` of calling
/// code compiled for it). The MinHash loop below is most of the fingerprint's cost: its 32-bit
/// multiply and signed minimum are one instruction each on eight lanes with AVX2, several on
/// four lanes with the baseline's SSE2 (which has neither), so it runs about three times faster.
/// The result is the same on every path (integer arithmetic only).
#[inline(always)]
fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    static ARCH: std::sync::LazyLock<pulp::Arch> = std::sync::LazyLock::new(pulp::Arch::new);
    ARCH.dispatch(f)
}

/// Folds one shingle (its hash `x`) into the running minima. Minima are kept as i32 with the
/// sign bit flipped (an order-preserving map of u32): SSE2 and AVX2 have a signed 32-bit
/// compare or minimum but no unsigned one, and this loop only vectorises with it. 32 bits per
/// minimum are plenty: two different shingles tie with probability 2^-32.
#[inline(always)]
fn add_shingle(sig: &mut [i32; HASHES], x: u32) {
    let (a, b) = (&PARAMS.0, &PARAMS.1);
    for i in 0..HASHES {
        let v = (x.wrapping_mul(a[i]).wrapping_add(b[i]) ^ 0x8000_0000) as i32;
        sig[i] = if v < sig[i] { v } else { sig[i] };
    }
}

/// One shingle's 32-bit hash: each position rotated differently (order matters), then one mix.
#[inline]
fn shingle_hash(shingle: &[u64]) -> u32 {
    let mut h: u64 = 0;
    for (j, &t) in shingle.iter().enumerate() {
        h ^= t.rotate_left(j as u32 * 17);
    }
    mix64(h) as u32
}

/// [`signature`] over shingles of `k` words.
pub fn signature_k(tokens: &[u64], k: usize) -> Signature {
    let window = k.max(1).min(tokens.len());
    let sig = vectorized(|| {
        let mut sig = [i32::MAX; HASHES];
        if window > 0 {
            for shingle in tokens.windows(window) {
                add_shingle(&mut sig, shingle_hash(shingle));
            }
        }
        sig
    });
    sig.map(|v| v as u32 ^ 0x8000_0000)
}

/// The signature of the union of two shingle sets: the position-wise minimum.
pub fn union(a: &Signature, b: &Signature) -> Signature {
    std::array::from_fn(|i| a[i].min(b[i]))
}

/// How a signature is cut into LSH bands: `bands` bands of `rows` rows (`bands * rows <=
/// HASHES`). Two messages of Jaccard similarity J share a band key with probability
/// `1 - (1 - J^rows)^bands`, an S-curve whose midpoint `(1/bands)^(1/rows)` is the similarity
/// threshold the banding stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Banding {
    pub bands: usize,
    pub rows: usize,
}

impl Banding {
    /// 21 bands × 6 rows, midpoint ≈ 0.60: the banding the quality benchmark measures.
    pub const DEFAULT: Banding = Banding {
        bands: BANDS,
        rows: ROWS,
    };

    /// The S-curve's midpoint: the similarity this banding treats as the threshold.
    pub fn midpoint(self) -> f64 {
        (1.0 / self.bands as f64).powf(1.0 / self.rows as f64)
    }

    /// The banding whose midpoint is nearest `threshold`, using as many of the signature's
    /// hashes as the rows allow (`HASHES / rows` bands). Thresholds 0.5–0.95 land within ~0.03.
    pub fn for_threshold(threshold: f64) -> Banding {
        static CHOICES: std::sync::LazyLock<Vec<(Banding, f64)>> = std::sync::LazyLock::new(|| {
            (2..=HASHES / 2)
                .map(|rows| {
                    let banding = Banding {
                        bands: HASHES / rows,
                        rows,
                    };
                    (banding, banding.midpoint())
                })
                .collect()
        });
        CHOICES
            .iter()
            .min_by(|a, b| (a.1 - threshold).abs().total_cmp(&(b.1 - threshold).abs()))
            .map_or(Banding::DEFAULT, |(banding, _)| *banding)
    }
}

/// One key per band of the default banding ([`Banding::DEFAULT`]).
pub fn band_keys(sig: &Signature) -> Vec<u64> {
    band_keys_with(sig, Banding::DEFAULT)
}

/// One key per band: the band's rows hashed together with the band index, so equal rows in
/// different bands never give the same key. (The default banding's keys are the ones every
/// store holds: this formula must not change.)
pub fn band_keys_with(sig: &Signature, banding: Banding) -> Vec<u64> {
    sig.chunks_exact(banding.rows.max(1))
        .take(banding.bands)
        .enumerate()
        .map(|(band, rows)| {
            let mut h = mix64(band as u64 ^ 0x0062_616e_6400_0000);
            for &r in rows {
                h = mix64(h.rotate_left(17) ^ u64::from(r));
            }
            h
        })
        .collect()
}

/// Fraction of equal signature positions: the estimated Jaccard similarity of the shingle sets.
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / HASHES as f64
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_threshold_picks_the_banding_with_the_nearest_midpoint() {
        assert_eq!(Banding::for_threshold(0.6), Banding::DEFAULT);
        assert_eq!(Banding::for_threshold(0.7), Banding { bands: 16, rows: 8 });
        assert_eq!(Banding::for_threshold(0.8), Banding { bands: 11, rows: 11 });
        for step in 0..=9 {
            let threshold = 0.5 + 0.05 * f64::from(step);
            let banding = Banding::for_threshold(threshold);
            assert!(banding.bands * banding.rows <= HASHES, "{banding:?}");
            assert!(
                (banding.midpoint() - threshold).abs() < 0.03,
                "{threshold}: {banding:?}"
            );
        }
    }

    #[test]
    fn the_default_bandings_keys_are_the_stored_ones() {
        let sig = signature(&(0..40u64).map(mix64).collect::<Vec<_>>());
        assert_eq!(band_keys_with(&sig, Banding::DEFAULT), band_keys(&sig));
        let other = band_keys_with(&sig, Banding::for_threshold(0.8));
        assert_eq!(other.len(), 11);
        assert!(other.iter().all(|k| !band_keys(&sig).contains(k)));
    }

    use super::*;

    #[test]
    fn hashes_are_frozen() {
        // Band keys live in the store: these values must never change.
        assert_eq!(hash_bytes(b""), mix64(0xcbf2_9ce4_8422_2325));
        assert_eq!(mix64(0), 0);
        assert_eq!(mix64(1), 0x5692_161d_100b_05e5);
    }

    #[test]
    fn identical_sets_are_similar_and_bands_distinct() {
        let toks: Vec<u64> = (0..50u64).map(mix64).collect();
        let s = signature(&toks);
        assert_eq!(similarity(&s, &signature(&toks)), 1.0);
        let keys = band_keys(&s);
        assert_eq!(keys.len(), BANDS);
        let mut k = keys.clone();
        k.sort_unstable();
        k.dedup();
        assert_eq!(k.len(), BANDS);
    }
}
