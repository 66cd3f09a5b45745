//! Reading RCPT TO's counters at MAIL FROM, so a recipient costs no store round trip.
//!
//! The only store work at RCPT TO is the recipient quotas, pure reads (a zero-sized
//! check-and-charge: the quotas are charged exactly after DATA, `checks::quota`). MAIL FROM's
//! batch therefore also reads those counters' windows ([`StageOp::CounterWindow`]), and each
//! RCPT TO of the transaction answers its checks from them ([`Prefetched::answer`]) — the same
//! arithmetic the store applies (`CounterWindow::fits_in`), on the buckets still in the window at
//! the RCPT's own time. What they cannot see is a charge another session makes between this
//! MAIL FROM and the RCPT TO: such a recipient passes RCPT TO and the charge after DATA defers
//! the message, which is exact. An answer older than [`MAX_AGE_MS`] is not used.
//!
//! Which counters to read is learnt the way batches are planned (`policy::batching`): the RCPT
//! checks run once against a recorder with a stand-in recipient, and the zero-sized counter
//! checks they ask become reads. A check whose keys depend on the recipient simply finds no
//! read for its key and asks the store.

use std::time::Duration;

use crate::store::batch::{StageAnswer, StageOp};
use crate::store::window::span;
use crate::store::{Charge, CounterWindow, Key};

/// How old (ms) a read may be to answer a RCPT TO.
pub const MAX_AGE_MS: u64 = 2_000;

/// The counter windows one MAIL FROM read for its transaction's RCPT TOs.
#[derive(Debug, Default, Clone)]
pub struct Prefetched {
    /// When they were read (unix ms).
    at: u64,
    windows: Vec<(Key, Duration, CounterWindow)>,
}

impl Prefetched {
    /// Nothing read ahead: every RCPT check asks the store.
    pub fn none() -> Prefetched {
        Prefetched::default()
    }

    /// The reads to add to MAIL FROM's batch for the operations `rcpt_ops` the RCPT checks
    /// planned: their zero-sized counter checks.
    pub fn reads_for(rcpt_ops: &[StageOp]) -> Vec<StageOp> {
        rcpt_ops
            .iter()
            .filter_map(|op| match op {
                StageOp::CounterCheck { key, n: 0, window, .. } => Some(StageOp::CounterWindow {
                    key: key.clone(),
                    window: *window,
                }),
                _ => None,
            })
            .collect()
    }

    /// The windows read at `at` (the answers to [`Prefetched::reads_for`]'s operations).
    pub fn new(at: u64, answered: Vec<(StageOp, StageAnswer)>) -> Prefetched {
        let windows = answered
            .into_iter()
            .filter_map(|pair| match pair {
                (StageOp::CounterWindow { key, window }, StageAnswer::Window(read)) => Some((key, window, read)),
                _ => None,
            })
            .collect();
        Prefetched { at, windows }
    }

    /// Whether anything was read ahead.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The answer to `op` at `now` from the windows read ahead, if `op` is a zero-sized counter
    /// check, or a read, of a counter read no more than [`MAX_AGE_MS`] before.
    pub fn answer(&self, op: &StageOp, now: u64) -> Option<StageAnswer> {
        match op {
            StageOp::CounterWindow { key, window } => Some(StageAnswer::Window(self.live(key, *window, now)?)),
            StageOp::CounterCheck {
                key,
                n: 0,
                limit,
                window,
            } => self.check(key, *limit, *window, now),
            _ => None,
        }
    }

    /// The buckets of `key`'s window still in it at `now` (the store counts the same ones).
    fn live(&self, key: &Key, window: Duration, now: u64) -> Option<CounterWindow> {
        if now < self.at || now - self.at > MAX_AGE_MS {
            return None;
        }
        let (_, _, read) = self.windows.iter().find(|(k, w, _)| k == key && *w == window)?;
        let window_ms = u64::try_from(window.as_millis()).ok()?;
        let covered = span(now, window_ms);
        if read.bucket_ms != covered.size {
            return None;
        }
        Some(CounterWindow {
            bucket_ms: read.bucket_ms,
            buckets: read
                .buckets
                .iter()
                .copied()
                .filter(|(idx, _)| (covered.first..=covered.last).contains(idx))
                .collect(),
        })
    }

    /// A zero-sized check-and-charge of `key` against `limit`, answered from its window.
    fn check(&self, key: &Key, limit: u64, window: Duration, now: u64) -> Option<StageAnswer> {
        let live = self.live(key, window, now)?;
        let window_ms = u64::try_from(window.as_millis()).ok()?;
        // A zero-sized check-and-charge: charged (nothing added) when the total fits, refused
        // with the store's retry time otherwise — `fits_in` is the stores' own arithmetic, and
        // for n = 0 it answers `Some(0)` exactly when the total is within the limit.
        let total = live.total();
        Some(StageAnswer::Counter(match live.fits_in(0, limit, now, window_ms) {
            Some(0) => Charge::Charged { total },
            retry_after_ms => Charge::Refused { total, retry_after_ms },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3_600);

    fn check(limit: u64) -> StageOp {
        StageOp::CounterCheck {
            key: Key::new("quota.recipients.hour", "t1"),
            n: 0,
            limit,
            window: HOUR,
        }
    }

    fn read(at: u64, buckets: Vec<(u64, u64)>) -> Prefetched {
        let op = StageOp::CounterWindow {
            key: Key::new("quota.recipients.hour", "t1"),
            window: HOUR,
        };
        let size = span(at, 3_600_000).size;
        Prefetched::new(
            at,
            vec![(
                op,
                StageAnswer::Window(CounterWindow {
                    bucket_ms: size,
                    buckets,
                }),
            )],
        )
    }

    #[test]
    fn only_zero_sized_counter_checks_become_reads() {
        let charge = StageOp::CounterCheck {
            key: Key::new("quota.recipients.hour", "t1"),
            n: 1,
            limit: 5,
            window: HOUR,
        };
        let reads = Prefetched::reads_for(&[check(5), charge]);
        assert_eq!(
            reads,
            vec![StageOp::CounterWindow {
                key: Key::new("quota.recipients.hour", "t1"),
                window: HOUR
            }]
        );
    }

    #[test]
    fn answers_as_the_store_would_on_the_live_buckets() {
        let now: u64 = 1_800_000_000_000;
        let size = span(now, 3_600_000).size;
        let cur = now / size;
        let prefetched = read(now, vec![(cur - 2, 3), (cur, 4)]);
        assert_eq!(
            prefetched.answer(&check(7), now + 10),
            Some(StageAnswer::Counter(Charge::Charged { total: 7 }))
        );
        let Some(StageAnswer::Counter(Charge::Refused { total, retry_after_ms })) =
            prefetched.answer(&check(6), now + 10)
        else {
            panic!("over the limit must be refused");
        };
        assert_eq!(total, 7);
        assert!(retry_after_ms.is_some());
    }

    #[test]
    fn a_bucket_that_left_the_window_since_the_read_no_longer_counts() {
        let size = span(1_800_000_000_000, 3_600_000).size;
        let k: u64 = 1_800_000_000_000 / size;
        // At `now` bucket k is the oldest in the window; 1 ms later it has left it.
        let now = (k + 1) * size + 3_600_000 - 1;
        let prefetched = read(now, vec![(k, 5), (now / size, 1)]);
        assert_eq!(
            prefetched.answer(&check(100), now),
            Some(StageAnswer::Counter(Charge::Charged { total: 6 }))
        );
        assert_eq!(
            prefetched.answer(&check(100), now + 1),
            Some(StageAnswer::Counter(Charge::Charged { total: 1 }))
        );
    }

    #[test]
    fn an_old_read_another_counter_or_a_charge_asks_the_store() {
        let now: u64 = 1_800_000_000_000;
        let prefetched = read(now, vec![]);
        assert_eq!(prefetched.answer(&check(5), now + MAX_AGE_MS + 1), None);
        assert_eq!(prefetched.answer(&check(5), now - 1), None);
        let other = StageOp::CounterCheck {
            key: Key::new("quota.recipients.day", "t1"),
            n: 0,
            limit: 5,
            window: HOUR,
        };
        assert_eq!(prefetched.answer(&other, now), None);
        let charge = StageOp::CounterCheck {
            key: Key::new("quota.recipients.hour", "t1"),
            n: 1,
            limit: 5,
            window: HOUR,
        };
        assert_eq!(prefetched.answer(&charge, now), None);
        assert_eq!(
            prefetched.answer(&check(5), now),
            Some(StageAnswer::Counter(Charge::Charged { total: 0 }))
        );
    }
}
