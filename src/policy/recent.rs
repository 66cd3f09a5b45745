//! MAIL FROM's quota checks answered from a recent read of the counters, so a message costs the
//! store no round trip before DATA.
//!
//! The quotas are charged exactly after DATA (`checks::quota`): MAIL FROM's and RCPT TO's quota
//! checks only refuse early what the counts already show over a limit, so that a client over
//! its quota does not send the message at all. They may therefore answer from a read of the
//! counters' windows that any session of this node made no more than [`MAX_AGE_MS`] before, with
//! this node's own charges made since added to it, instead of asking the store for every message.
//! Such an answer counts less than the store would — what other nodes charged since the read —
//! and a message it lets through is charged, or deferred, exactly after DATA. It counts more only
//! in one narrow case: a charge given back while another session's read was on its way may still
//! be in that read, for the second it is used — at worst a `451` at MAIL FROM a second early,
//! near the limit, never a message counted.
//!
//! How a charge is known to have come after a read: one sequence orders both. A read takes its
//! number once its answer has arrived; a charge takes one before its batch is sent. A charge
//! numbered after the read was sent after the read was answered, so the read cannot hold it, and
//! it is added; one numbered before may be in the read or not, and is not added (it counts in
//! the store, and the charge after DATA sees it). A charge given back (a message refused after
//! its checks, or not queued) drops the reads of its counters: they are read again.
//!
//! Must never: answer from a read older than [`MAX_AGE_MS`], or count a charge twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::prefetch::Prefetched;
use super::stage::Charges;
use crate::store::batch::{StageAnswer, StageOp};
use crate::store::window::span;
use crate::store::{CounterWindow, Key};

/// How old (ms) a read may be to answer a MAIL FROM.
pub const MAX_AGE_MS: u64 = 1_000;

/// Reads kept at most (a day counter's window is up to 61 buckets, about 1 KiB: some 16 MiB in
/// all); past it the stale ones are dropped, and if that is not enough, all.
const MAX_READS: usize = 16_384;

/// One counter's window as read, with this node's later charges added.
struct Read {
    /// When it was read (the batch's time, unix ms).
    at: u64,
    /// Its place in the sequence (taken once the answer arrived).
    sequence: u64,
    window: CounterWindow,
}

/// The node's recent reads of counter windows, shared by all its sessions.
#[derive(Default)]
pub struct RecentReads {
    sequence: AtomicU64,
    reads: Mutex<HashMap<(Key, Duration), Read>>,
}

impl RecentReads {
    fn reads(&self) -> std::sync::MutexGuard<'_, HashMap<(Key, Duration), Read>> {
        self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place in the sequence for a stage whose batch may charge counters: take it before the
    /// batch is sent, and pass it to [`RecentReads::charged`].
    pub fn before_charging(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::SeqCst)
    }

    /// The reads `reads` (counter windows) answered from what is recent at `now`, or `None` unless
    /// every one of them is. Answered reads carry the time of the oldest read they use.
    pub fn covering(&self, reads: &[StageOp], now: u64) -> Option<Prefetched> {
        let known = self.reads();
        let mut oldest = now;
        let mut answered = Vec::with_capacity(reads.len());
        for op in reads {
            let StageOp::CounterWindow { key, window } = op else {
                return None;
            };
            let read = known.get(&(key.clone(), *window))?;
            let window_ms = u64::try_from(window.as_millis()).ok()?;
            if now < read.at || now - read.at > MAX_AGE_MS || read.window.bucket_ms != span(now, window_ms).size {
                return None;
            }
            oldest = oldest.min(read.at);
            answered.push((op.clone(), StageAnswer::Window(read.window.clone())));
        }
        Some(Prefetched::new(oldest, answered))
    }

    /// Remembers the windows a batch read at `at` (its answer has just arrived).
    pub fn remember(&self, at: u64, answered: &[(StageOp, StageAnswer)]) {
        let sequence = self.sequence.fetch_add(1, Ordering::SeqCst);
        let mut known = self.reads();
        if known.len() >= MAX_READS {
            known.retain(|_, read| at.saturating_sub(read.at) <= MAX_AGE_MS);
            if known.len() >= MAX_READS {
                known.clear();
            }
        }
        for (op, answer) in answered {
            if let (StageOp::CounterWindow { key, window }, StageAnswer::Window(read)) = (op, answer) {
                known.insert(
                    (key.clone(), *window),
                    Read {
                        at,
                        sequence,
                        window: read.clone(),
                    },
                );
            }
        }
    }

    /// The counter charges of an accepted message (its stage took `sequence` before its batch
    /// was sent): added to the reads they came after.
    pub fn charged(&self, sequence: u64, charges: &Charges) {
        let mut known = self.reads();
        for (key, n, window) in charges.counts() {
            let Some(read) = known.get_mut(&(key.clone(), window)) else {
                continue;
            };
            if sequence <= read.sequence || read.window.bucket_ms == 0 {
                continue;
            }
            let bucket = charges.at() / read.window.bucket_ms;
            let buckets = &mut read.window.buckets;
            match buckets.iter_mut().find(|(idx, _)| *idx == bucket) {
                Some((_, count)) => *count = count.saturating_add(n),
                None => {
                    buckets.push((bucket, n));
                    buckets.sort_unstable();
                }
            }
        }
    }

    /// Charges about to be given back: the reads of their counters may hold them, so they are
    /// dropped (the next MAIL FROM reads them again).
    pub fn forget(&self, charges: &Charges) {
        let mut known = self.reads();
        for (key, _, window) in charges.counts() {
            known.remove(&(key.clone(), window));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::stage::Charge;

    const HOUR: Duration = Duration::from_secs(3_600);
    const NOW: u64 = 1_800_000_000_000;

    fn key() -> Key {
        Key::new("quota.messages.hour", "t1")
    }

    fn read_op() -> StageOp {
        StageOp::CounterWindow {
            key: key(),
            window: HOUR,
        }
    }

    fn bucket_ms() -> u64 {
        span(NOW, 3_600_000).size
    }

    fn remember(recent: &RecentReads, at: u64, buckets: Vec<(u64, u64)>) {
        recent.remember(
            at,
            &[(
                read_op(),
                StageAnswer::Window(CounterWindow {
                    bucket_ms: bucket_ms(),
                    buckets,
                }),
            )],
        );
    }

    fn total(recent: &RecentReads, now: u64) -> Option<u64> {
        let prefetched = recent.covering(&[read_op()], now)?;
        match prefetched.answer(&read_op(), now)? {
            StageAnswer::Window(window) => Some(window.total()),
            _ => None,
        }
    }

    fn one_message(at: u64) -> Charges {
        Charges::of(
            at,
            vec![Charge::Count {
                key: key(),
                n: 1,
                window: HOUR,
            }],
        )
    }

    #[test]
    fn a_read_answers_until_it_is_too_old() {
        let recent = RecentReads::default();
        assert_eq!(total(&recent, NOW), None, "nothing read yet");
        remember(&recent, NOW, vec![(NOW / bucket_ms(), 4)]);
        assert_eq!(total(&recent, NOW), Some(4));
        assert_eq!(total(&recent, NOW + MAX_AGE_MS), Some(4));
        assert_eq!(total(&recent, NOW + MAX_AGE_MS + 1), None);
        assert_eq!(total(&recent, NOW - 1), None, "a read from the future of the decision");
        let other = StageOp::CounterWindow {
            key: Key::new("quota.messages.day", "t1"),
            window: HOUR,
        };
        assert!(recent.covering(&[read_op(), other], NOW).is_none(), "one read missing");
    }

    #[test]
    fn a_charge_is_added_only_when_it_came_after_the_read() {
        let recent = RecentReads::default();
        // 10 ms before a bucket ends, so the next bucket starts while the read is recent.
        let now = (NOW / bucket_ms() + 1) * bucket_ms() - 10;
        // Sent before the read was answered: the read may hold it, so it is not added.
        let early = recent.before_charging();
        remember(&recent, now, vec![(now / bucket_ms(), 4)]);
        recent.charged(early, &one_message(now));
        assert_eq!(total(&recent, now + 1), Some(4));
        // Sent after: added, once.
        let late = recent.before_charging();
        recent.charged(late, &one_message(now + 1));
        assert_eq!(total(&recent, now + 2), Some(5));
        // A charge in a bucket the read had not seen starts it.
        let later = recent.before_charging();
        recent.charged(later, &one_message(now + 10));
        assert_eq!(total(&recent, now + 10), Some(6));
        let window = match recent
            .covering(&[read_op()], now + 10)
            .and_then(|p| p.answer(&read_op(), now + 10))
        {
            Some(StageAnswer::Window(window)) => window,
            other => panic!("{other:?}"),
        };
        assert_eq!(window.buckets, vec![(now / bucket_ms(), 5), (now / bucket_ms() + 1, 1)]);
    }

    #[test]
    fn a_charge_given_back_drops_the_read() {
        let recent = RecentReads::default();
        remember(&recent, NOW, vec![(NOW / bucket_ms(), 4)]);
        recent.forget(&one_message(NOW));
        assert_eq!(total(&recent, NOW), None);
    }
}
