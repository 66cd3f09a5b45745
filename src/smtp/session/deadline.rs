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

/// The pace a DATA transfer must keep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataPace {
    /// When the `354` went out.
    pub started: Instant,
    /// Bytes per second; 0 = no minimum.
    pub min_rate: u64,
    pub grace: Duration,
    /// The longest wait for any one read.
    pub read_timeout: Duration,
}

impl DataPace {
    /// The deadline of the next read, `received` bytes into the transfer: the earlier of the
    /// per-read timeout and the moment the transfer's average rate would fall below the minimum
    /// (never before the grace period ends).
    pub fn deadline(&self, received: u64, now: Instant) -> (Instant, Expiry) {
        let read = now + self.read_timeout;
        if self.min_rate == 0 {
            return (read, Expiry::Timeout);
        }
        // `received` bytes buy `received / min_rate` seconds since the start.
        let earned = Duration::from_secs_f64(received as f64 / self.min_rate as f64);
        let pace = self.started + earned.max(self.grace);
        if pace < read {
            (pace, Expiry::TooSlow)
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
        let pace = DataPace {
            started,
            min_rate,
            grace: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
        };
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
            (100, 500, 3, s(10), Expiry::TooSlow),      // ahead of pace but still in grace
            (100, 2_000, 12, s(20), Expiry::TooSlow),   // 2,000 bytes buy 20 s
            (100, 100_000, 12, s(72), Expiry::Timeout), // far ahead: the read timeout is earlier
            (1_000_000, 0, 0, s(10), Expiry::TooSlow),
        ];
        for (rate, received, elapsed, expected, expiry) in cases {
            let (pace, started) = pace(rate);
            let (deadline, why) = pace.deadline(received, started + s(elapsed));
            assert_eq!(
                (deadline - started, why),
                (expected, expiry),
                "{rate} {received} {elapsed}"
            );
        }
    }
}
