//! Bucket arithmetic of the windowed counters, shared by both backends so they agree exactly.
//!
//! A window of `W` ms is cut into buckets of `b = ceil(W / 60)` ms; bucket `i` holds the events
//! with `i*b <= t < (i+1)*b`. A read at `now` sums the buckets `floor((now-W)/b) ..= floor(now/b)`,
//! i.e. the interval `[floor((now-W)/b)*b, now]`, which contains the true window `(now-W, now]`.
//!
//! **Error bound**: the total never under-counts; it may include events aged between `W` and
//! `W + b`, i.e. at most one bucket (`W/60`, 24 min for a day) too old. A quota is therefore never
//! exceeded, and may refuse at most the events of one extra `1/60` of the window early.
//! Exact small-threshold checks use the capped sets and event logs instead.

/// Buckets per window.
pub const BUCKETS_PER_WINDOW: u64 = 60;

/// The buckets a read at `now` covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Bucket length in ms.
    pub size: u64,
    /// First bucket counted.
    pub first: u64,
    /// Current bucket (the last counted).
    pub last: u64,
}

/// The span for a window of `window_ms` (must be > 0) read at `now`.
pub fn span(now: u64, window_ms: u64) -> Span {
    let size = window_ms.div_ceil(BUCKETS_PER_WINDOW).max(1);
    Span {
        size,
        first: now.saturating_sub(window_ms) / size,
        last: now / size,
    }
}

/// When bucket `idx` stops being counted by any read (unix ms): keep it until then.
pub fn bucket_expiry(idx: u64, size: u64, window_ms: u64) -> u64 {
    idx.saturating_add(1).saturating_mul(size).saturating_add(window_ms)
}

/// How long until `n` more fits under `limit`, given the counted buckets (ascending by index).
/// `None` if `n` alone exceeds `limit` (waiting never helps).
pub fn retry_after(buckets: &[(u64, u64)], n: u64, limit: u64, now: u64, window_ms: u64, size: u64) -> Option<u64> {
    if n > limit {
        return None;
    }
    let mut remaining: u64 = buckets.iter().map(|(_, c)| *c).sum();
    for &(idx, count) in buckets {
        remaining = remaining.saturating_sub(count);
        if remaining.saturating_add(n) <= limit {
            return Some(bucket_expiry(idx, size, window_ms).saturating_sub(now).max(1));
        }
    }
    Some(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_covers_the_window_and_at_most_one_bucket_more() {
        for (now, w) in [
            (1_000_000u64, 60_000u64),
            (86_400_000 * 3 + 7, 86_400_000),
            (5, 100),
            (12_345, 1),
        ] {
            let s = span(now, w);
            let start = s.first * s.size;
            assert!(start <= now.saturating_sub(w), "window start covered");
            assert!(now.saturating_sub(w) - start < s.size, "at most one bucket extra");
            assert_eq!(s.last, now / s.size);
        }
    }

    #[test]
    fn retry_after_waits_for_enough_old_buckets() {
        // window 60s, bucket 1s; buckets 10 (3 events) and 20 (2 events), now = 30.5s
        let b = [(10, 3), (20, 2)];
        assert_eq!(
            retry_after(&b, 1, 5, 30_500, 60_000, 1000),
            Some(11 * 1000 + 60_000 - 30_500)
        );
        assert_eq!(
            retry_after(&b, 4, 5, 30_500, 60_000, 1000),
            Some(21 * 1000 + 60_000 - 30_500)
        );
        assert_eq!(retry_after(&b, 6, 5, 30_500, 60_000, 1000), None);
    }
}
