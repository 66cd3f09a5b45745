//! The budget of message data in flight (`[limits] max_data_in_flight`): the bytes every session
//! together may hold for messages it is receiving, checking and queueing. Without it, each
//! session's own limits (one message of `max_message_size`) multiply by the connection caps, and
//! a burst of large messages takes more memory than the machine has.
//!
//! A message is charged [`COPIES`] times its buffer's capacity from its first byte until it is
//! queued or refused, because that is the most whole copies of it a session holds at one moment:
//! while it is checked, the body, the body with forged Authentication-Results removed and the
//! buffer DKIM/DMARC verification reads (the trace fields on top of the message); while it is
//! queued, the body and the write batch RocksDB copies it into (the queue drops the body as soon
//! as the batch holds it). Charging the worst case from the start means a message whose data was
//! accepted is never refused for memory at its end.
//!
//! Not charged: what RocksDB keeps after the write (its memtables, bounded by the queue's write
//! buffer size) and the relay's copy of a message it is delivering (one per delivery worker).
//!
//! Why an atomic counter and not a semaphore: nothing ever waits for budget. A session that
//! cannot get it answers `452 4.3.1` (the client retries later) instead of holding the client's
//! bytes in socket buffers while it waits, and growing reservations would need permits merged and
//! split; a compare-and-swap on one counter does all of that without a lock.
//!
//! A [`Reservation`] releases what it holds when dropped, so every path (queued, refused, an I/O
//! error, a disconnect, a panic unwinding the session's task) gives the bytes back. This module
//! never allocates message memory itself and never blocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How many times a message's size is charged; see the module doc.
pub const COPIES: u64 = 3;

/// What valid `[limits]` allow but an operator most likely did not mean, one sentence each
/// (`check-config` prints them, `serve` logs them): a budget that cannot hold one message of the
/// size the gateway advertises.
pub fn config_warnings(limits: &crate::config::LimitsConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if limits.max_data_in_flight.get() < limits.max_message_size.get().saturating_mul(COPIES) {
        warnings.push(format!(
            "limits.max_data_in_flight ({}) is less than {COPIES} × limits.max_message_size ({}): a \
             message near the SIZE the gateway advertises can never be received (452 4.3.1 every \
             time its sender retries)",
            limits.max_data_in_flight, limits.max_message_size
        ));
    }
    warnings
}

/// The shared budget; one per server.
#[derive(Debug)]
pub struct DataBudget {
    limit: u64,
    held: AtomicU64,
}

impl DataBudget {
    pub fn new(limit: u64) -> Arc<DataBudget> {
        Arc::new(DataBudget {
            limit,
            held: AtomicU64::new(0),
        })
    }

    /// Bytes held by all reservations right now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Acquire)
    }

    /// The configured limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Reserves `bytes`, or `None` when they do not fit in what is left.
    pub fn reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        self.take(bytes).then(|| Reservation {
            budget: self.clone(),
            bytes,
        })
    }

    fn take(&self, bytes: u64) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Bytes held from a [`DataBudget`]; released on drop.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<DataBudget>,
    bytes: u64,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Grows the reservation to `bytes` in all; false (and nothing changed) when the budget has
    /// not that much left. A smaller `bytes` changes nothing.
    pub fn grow_to(&mut self, bytes: u64) -> bool {
        if bytes <= self.bytes {
            return true;
        }
        if !self.budget.take(bytes - self.bytes) {
            return false;
        }
        self.bytes = bytes;
        true
    }

    /// Gives back everything held now (the buffer it paid for was dropped); the reservation
    /// stays usable and holds nothing.
    pub fn release(&mut self) {
        self.budget.give_back(self.bytes);
        self.bytes = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_under_three_messages_of_the_advertised_size_is_warned_of() {
        let defaults = crate::config::Config::parse("").expect("defaults");
        assert!(config_warnings(&defaults.limits).is_empty());
        let small =
            crate::config::Config::parse("[limits]\nmax_data_in_flight = \"64KiB\"\nmax_message_size = \"200KiB\"\n")
                .expect("valid, with a warning");
        let warnings = config_warnings(&small.limits);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("limits.max_data_in_flight (64KiB) is less than 3 ×"),
            "{warnings:?}"
        );
    }

    #[test]
    fn reservations_fit_in_the_limit() {
        let budget = DataBudget::new(100);
        let a = budget.reserve(60).expect("fits");
        assert!(budget.reserve(41).is_none(), "over the limit");
        let b = budget.reserve(40).expect("exactly the rest");
        assert_eq!(budget.held(), 100);
        assert!(budget.reserve(1).is_none());
        drop((a, b));
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn reservations_release_on_drop() {
        let budget = DataBudget::new(1 << 20);
        {
            let mut held = budget.reserve(1000).expect("fits");
            assert!(held.grow_to(5000));
            assert_eq!(budget.held(), 5000);
        }
        assert_eq!(budget.held(), 0, "dropping gave everything back");
        // Also when the holder unwinds (a panicking session task).
        let inner = budget.clone();
        let result = std::panic::catch_unwind(move || {
            let _held = inner.reserve(700).expect("fits");
            panic!("session failed");
        });
        assert!(result.is_err());
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn growing_is_all_or_nothing() {
        let budget = DataBudget::new(100);
        let mut a = budget.reserve(10).expect("fits");
        let _b = budget.reserve(50).expect("fits");
        assert!(!a.grow_to(51), "needs 41 more, 40 left");
        assert_eq!(a.bytes(), 10);
        assert_eq!(budget.held(), 60);
        assert!(a.grow_to(50));
        assert!(a.grow_to(20), "smaller: nothing to do");
        assert_eq!((a.bytes(), budget.held()), (50, 100));
        a.release();
        assert_eq!((a.bytes(), budget.held()), (0, 50));
        drop(a);
        assert_eq!(budget.held(), 50, "a released reservation gives nothing back twice");
    }

    #[test]
    fn concurrent_reservations_never_exceed_the_limit() {
        let budget = DataBudget::new(1000);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let budget = budget.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        if let Some(mut held) = budget.reserve(100) {
                            assert!(budget.held() <= 1000);
                            let _ = held.grow_to(300);
                            assert!(budget.held() <= 1000);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("no panic");
        }
        assert_eq!(budget.held(), 0);
    }
}
