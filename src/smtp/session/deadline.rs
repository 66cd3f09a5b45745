//! The deadline of each read a session makes, besides the whole-session one: a command line must
//! arrive whole within `command_timeout` of its first byte (or of the start of an idle wait), and
//! a DATA transfer, once `data_rate_grace` has passed, must keep up `data_min_rate` on average.
//! A read never restarts these clocks, so a client trickling a byte at a time gains nothing.
//! Pure arithmetic on instants: no I/O, no clock of its own.

use std::time::Duration;

use tokio::time::Instant;

/// What ends a read that passes its deadline, and so which reply the client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// The command (or one read in DATA) took longer than `command_timeout`.
    Timeout,
    /// The DATA transfer fell below `data_min_rate` after its grace period.
    TooSlow,
}

/// The deadline for the command line being read: `timeout` after its first byte arrived, or
/// after `now` when no byte of it has arrived yet (an idle wait).
pub(crate) fn command_deadline(line_started: Option<Instant>, now: Instant, timeout: Duration) -> Instant {
    line_started.unwrap_or(now) + timeout
}

/// The pace a DATA transfer must keep: a token bucket of time. The transfer starts with
/// `grace` of credit; every byte buys `1 / min_rate` seconds more, and no more than `grace` can
/// be banked ahead of now. So a client that sends a burst early cannot then trickle a byte at a
/// time for the rest of the session: after at most `grace` it must keep up `min_rate` again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataPace {
    /// Bytes per second; 0 = no minimum.
    min_rate: u64,
    grace: Duration,
    /// The longest wait for any one read.
    read_timeout: Duration,
    /// When the credit runs out.
    credit_until: Instant,
    /// Bytes already paid into the credit.
    counted: u64,
}

impl DataPace {
    /// The pace of a transfer whose `354` went out at `started`.
    pub fn new(started: Instant, min_rate: u64, grace: Duration, read_timeout: Duration) -> DataPace {
        DataPace {
            min_rate,
            grace,
            read_timeout,
            credit_until: started + grace,
            counted: 0,
        }
    }

    /// The deadline of the next read, `received` bytes into the transfer: the earlier of the
    /// per-read timeout and the moment the transfer's credit runs out.
    pub fn deadline(&mut self, received: u64, now: Instant) -> (Instant, Expiry) {
        let read = now + self.read_timeout;
        if self.min_rate == 0 {
            return (read, Expiry::Timeout);
        }
        let new_bytes = received.saturating_sub(self.counted);
        self.counted = self.counted.max(received);
        let bought = Duration::try_from_secs_f64(new_bytes as f64 / self.min_rate as f64).unwrap_or(Duration::MAX);
        self.credit_until = self
            .credit_until
            .checked_add(bought)
            .unwrap_or(now + self.grace)
            .min(now + self.grace);
        if self.credit_until < read {
            (self.credit_until, Expiry::TooSlow)
        } else {
            (read, Expiry::Timeout)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(min_rate: u64) -> (DataPace, Instant) {
        let started = Instant::now();
        let pace = DataPace::new(started, min_rate, Duration::from_secs(10), Duration::from_secs(60));
        (pace, started)
    }

    #[test]
    fn a_command_line_keeps_the_deadline_of_its_first_byte() {
        let first = Instant::now();
        let later = first + Duration::from_secs(4);
        let timeout = Duration::from_secs(5);
        assert_eq!(command_deadline(Some(first), later, timeout), first + timeout);
        assert_eq!(command_deadline(None, later, timeout), later + timeout);
    }

    #[test]
    fn data_pace_table() {
        let s = Duration::from_secs;
        // (min rate, bytes so far, seconds since the start, expected deadline from the start, expiry)
        let cases = [
            (0, 0, 0, s(60), Expiry::Timeout),          // no minimum: per-read timeout only
            (100, 0, 0, s(10), Expiry::TooSlow),        // nothing sent: the grace period
            (100, 500, 3, s(13), Expiry::TooSlow),      // 500 bytes buy 5 s, banked up to now + 10 s
            (100, 2_000, 12, s(22), Expiry::TooSlow),   // 2,000 bytes buy 20 s, but at most 10 ahead
            (100, 100_000, 12, s(22), Expiry::TooSlow), // a burst banks no more than the grace
            (1_000_000, 0, 0, s(10), Expiry::TooSlow),
        ];
        for (rate, received, elapsed, expected, expiry) in cases {
            let (mut pace, started) = pace(rate);
            let (deadline, why) = pace.deadline(received, started + s(elapsed));
            assert_eq!(
                (deadline - started, why),
                (expected, expiry),
                "{rate} {received} {elapsed}"
            );
        }
    }

    #[test]
    fn a_burst_then_a_trickle_is_cut_once_the_banked_grace_is_spent() {
        let s = Duration::from_secs;
        let (mut pace, started) = pace(100);
        // 1 MB at once: far more than the rate asks, but only 10 s can be banked.
        let (deadline, _) = pace.deadline(1_000_000, started + s(1));
        assert_eq!(deadline - started, s(11));
        // Then one byte every 9 s: each buys 10 ms, so the credit runs out after about 10 s.
        let (deadline, why) = pace.deadline(1_000_001, started + s(10));
        assert_eq!(why, Expiry::TooSlow);
        assert!(deadline - started < s(12), "{:?}", deadline - started);
        // Keeping up the rate keeps the transfer going.
        let (deadline, _) = pace.deadline(1_000_001 + 1_000, started + s(11));
        assert_eq!(deadline - started, s(21));
    }
}
