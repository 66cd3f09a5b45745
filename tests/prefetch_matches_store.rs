//! A RCPT TO answered from MAIL FROM's read ahead gets exactly the store's answer: the counter
//! windows read at `t0` (`counter_window`), replayed by `Prefetched::answer` at any `t1` up to
//! `MAX_AGE_MS` later, against a zero-sized `counter_check_and_add` at `t1` on a real RocksDB
//! store — across bucket boundaries where the oldest bucket leaves the window, and limits below,
//! at and above the total.

use std::time::Duration;

use aupgate::policy::prefetch::{Prefetched, MAX_AGE_MS};
use aupgate::store::batch::{StageAnswer, StageOp};
use aupgate::store::rocks::RocksStore;
use aupgate::store::window::span;
use aupgate::store::{Charge, Key, RateStore};

const HOUR: Duration = Duration::from_secs(3_600);
const HOUR_MS: u64 = 3_600_000;

/// splitmix64: a fixed-seed sequence, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// What the differential run saw, so the test can tell it covered the cases it claims to.
#[derive(Default)]
struct Seen {
    checks: u64,
    charged: u64,
    refused: u64,
    refused_with_wait: u64,
    /// Reads where the total at `t1` was smaller than at `t0` (a bucket left the window).
    shrank: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetched_answers_equal_the_store_s_for_zero_sized_checks() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = RocksStore::open(dir.path(), HOUR * 48).expect("open");
    let size = span(1_800_000_000_000, HOUR_MS).size;
    let mut rng = Rng(0x5EED_F00D_CAFE_0001);
    let mut seen = Seen::default();

    for scenario in 0..48u64 {
        let key = Key::new("quota.recipients.hour", &format!("t{scenario}"));
        // The oldest bucket counted at `t0`, `oldest`, leaves the window `leaves_after` ms after
        // `t0`: inside the read's useful life for most scenarios, just past it for some.
        let oldest = 1_800_000_000_000 / size + scenario * 97;
        let leaves_after = match scenario % 6 {
            0 => 1,
            1 => MAX_AGE_MS,
            2 => MAX_AGE_MS + 1,
            3 => MAX_AGE_MS / 2,
            _ => rng.between(1, MAX_AGE_MS),
        };
        let t0 = (oldest + 1) * size + HOUR_MS - leaves_after;
        assert_eq!(
            span(t0, HOUR_MS).first,
            oldest,
            "scenario {scenario}: the arithmetic of the set-up"
        );
        let boundary = t0 + leaves_after;

        // Charges at past times, some in the oldest counted bucket, the rest anywhere from two
        // buckets beyond the window to `t0` itself.
        for _ in 0..rng.between(1, 4) {
            let at = rng.between(oldest * size, (oldest + 1) * size - 1);
            store
                .counter_add(&key, rng.between(1, 5), at, HOUR)
                .await
                .expect("charge");
        }
        for _ in 0..rng.between(0, 40) {
            let at = t0 - rng.between(0, HOUR_MS + 2 * size);
            store
                .counter_add(&key, rng.between(1, 5), at, HOUR)
                .await
                .expect("charge");
        }

        let read = store.counter_window(&key, t0, HOUR).await.expect("window");
        let total_at_t0 = read.total();
        let prefetched = Prefetched::new(
            t0,
            vec![(
                StageOp::CounterWindow {
                    key: key.clone(),
                    window: HOUR,
                },
                StageAnswer::Window(read),
            )],
        );

        // Times ascending (the store's mirror drops what left the window: never go back).
        let mut times = vec![t0, t0 + 1, t0 + MAX_AGE_MS - 1, t0 + MAX_AGE_MS];
        times.extend([boundary - 1, boundary, boundary + 1]);
        times.extend((0..12).map(|_| t0 + rng.between(0, MAX_AGE_MS)));
        times.retain(|t| (t0..=t0 + MAX_AGE_MS).contains(t));
        times.sort_unstable();
        times.dedup();

        for t1 in times {
            let total = store.counter_window(&key, t1, HOUR).await.expect("window").total();
            if total < total_at_t0 {
                seen.shrank += 1;
            }
            let mut limits = vec![0, 1, total.saturating_sub(1), total, total + 1, total / 2, u64::MAX];
            limits.push(rng.between(0, total + 3));
            limits.sort_unstable();
            limits.dedup();
            for limit in limits {
                let op = StageOp::CounterCheck {
                    key: key.clone(),
                    n: 0,
                    limit,
                    window: HOUR,
                };
                let from_store = store
                    .counter_check_and_add(&key, 0, limit, t1, HOUR)
                    .await
                    .expect("check");
                assert_eq!(
                    prefetched.answer(&op, t1),
                    Some(StageAnswer::Counter(from_store)),
                    "scenario {scenario}: read at {t0}, asked at {t1} (+{} ms, oldest bucket leaves at \
                     +{leaves_after}), limit {limit}, total {total}",
                    t1 - t0
                );
                seen.checks += 1;
                match from_store {
                    Charge::Charged { .. } => seen.charged += 1,
                    Charge::Refused { retry_after_ms, .. } => {
                        seen.refused += 1;
                        if retry_after_ms.is_some_and(|ms| ms > 1) {
                            seen.refused_with_wait += 1;
                        }
                    }
                }
            }
        }
        // Past its useful life the read answers nothing: the store is asked.
        let op = StageOp::CounterCheck {
            key: key.clone(),
            n: 0,
            limit: 10,
            window: HOUR,
        };
        assert_eq!(prefetched.answer(&op, t0 + MAX_AGE_MS + 1), None);
    }

    assert!(seen.checks > 3_000, "{} checks", seen.checks);
    assert!(seen.charged > 500, "{} charged", seen.charged);
    assert!(seen.refused > 500, "{} refused", seen.refused);
    assert!(
        seen.refused_with_wait > 100,
        "{} refusals with a wait",
        seen.refused_with_wait
    );
    assert!(
        seen.shrank > 50,
        "{} reads after a bucket left the window: the boundary case must be exercised",
        seen.shrank
    );
}
