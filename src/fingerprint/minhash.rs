//! MinHash signatures over word shingles, and their LSH band keys.
//!
//! Hashing is hand-written and fixed forever (FNV-1a for words, the SplitMix64 / MurmurHash3
//! finaliser for mixing): band keys are stored by the rate store and shared between gateway
//! nodes, so they must not change between builds, platforms or versions. Changing any constant
//! here changes every campaign key; do it only with a store migration.

/// MinHash functions (signature length).
pub const HASHES: usize = 128;
/// LSH bands; `BANDS * ROWS == HASHES`.
pub const BANDS: usize = 16;
/// Signature rows per band.
pub const ROWS: usize = HASHES / BANDS;
/// Words per shingle.
pub const SHINGLE: usize = 4;

const _: () = assert!(BANDS * ROWS == HASHES);

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

/// MinHash signature of the shingles of `tokens` (already hashed words). `tokens.len()` must be
/// at least [`SHINGLE`]; the caller handles shorter input.
pub fn signature(tokens: &[u64]) -> Signature {
    let (a, b) = (&PARAMS.0, &PARAMS.1);
    // Minima are kept as i32 with the sign bit flipped (an order-preserving map of u32): the
    // baseline x86-64 target (SSE2) has a signed 32-bit compare but no unsigned one, and this
    // loop only vectorises with it — three times faster, and it is most of the fingerprint's
    // cost. 32 bits per minimum are plenty: two different shingles tie with probability 2^-32.
    let mut sig = [i32::MAX; HASHES];
    for window in tokens.windows(SHINGLE) {
        // Each position rotated differently (order matters), then one mix for the shingle.
        let mut h: u64 = 0;
        for (j, &t) in window.iter().enumerate() {
            h ^= t.rotate_left(j as u32 * 17);
        }
        let x = mix64(h) as u32;
        for i in 0..HASHES {
            let v = (x.wrapping_mul(a[i]).wrapping_add(b[i]) ^ 0x8000_0000) as i32;
            sig[i] = if v < sig[i] { v } else { sig[i] };
        }
    }
    sig.map(|v| v as u32 ^ 0x8000_0000)
}

/// One key per band: the band's rows hashed together with the band index, so equal rows in
/// different bands never give the same key.
pub fn band_keys(sig: &Signature) -> Vec<u64> {
    sig.chunks_exact(ROWS)
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
