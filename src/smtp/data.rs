//! The DATA receiver: a byte-fed state machine that finds the end of a message and un-stuffs dots.
//!
//! Only `CRLF . CRLF` ends a message. A bare CR or a bare LF anywhere marks the message as refused
//! (`550 5.5.2`), and so does a NUL (`550 5.6.0`: `\0.` must not read as a terminator to a next
//! hop that drops NULs), but does **not** end it: the receiver keeps consuming until the real terminator, so
//! one DATA can never become two messages (SMTP smuggling). Size and line limits are enforced while
//! streaming; over the size limit the body stops growing, so memory stays bounded.
//!
//! The body is pre-sized (to the SIZE the client declared, else [`INITIAL_CAPACITY`]) and grows by
//! half its size at a time, not by doubling, so its spare capacity stays under a third. With a
//! [`Reservation`] from the shared budget of data in flight, each growth is paid for first
//! ([`COPIES`] times the new capacity); when the budget has no room the message is refused
//! ([`DataError::OverBudget`], `452 4.3.1`), its body dropped and its reservation given back, and
//! the receiver keeps consuming to the terminator like for any other refusal.

use crate::smtp::budget::{Reservation, COPIES};

/// Capacity of a body whose size was not declared; it grows from there.
pub const INITIAL_CAPACITY: usize = 16 * 1024;

/// Why a received message is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataError {
    /// A CR not followed by LF, or an LF not preceded by CR.
    BareLineBreak,
    /// A NUL byte (RFC 5322 and RFC 6152 allow none; a next hop that drops it could read what
    /// follows differently).
    Nul,
    /// A line longer than the limit.
    LineTooLong,
    /// More bytes than the size limit.
    TooBig,
    /// The budget of data in flight had no room for the message (`452 4.3.1`).
    OverBudget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// After CRLF (or at the start of DATA).
    LineStart,
    /// Inside a line.
    Middle,
    /// After a CR inside a line.
    Cr,
    /// A line that started with `.`.
    Dot,
    /// `.` CR at the start of a line.
    DotCr,
}

/// Receives the data of one message.
#[derive(Debug)]
pub struct DataReceiver {
    state: State,
    line_len: usize,
    max_line: usize,
    max_size: usize,
    body: Vec<u8>,
    error: Option<DataError>,
    /// What the body's capacity is paid with, when the receiver is on a budget.
    reservation: Option<Reservation>,
}

/// What feeding bytes produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// All input consumed; the message is not complete.
    NeedMore,
    /// The terminator was found after `consumed` bytes of this input; the rest belongs to the
    /// next command.
    Done { consumed: usize },
}

impl DataReceiver {
    pub fn new(max_size: usize, max_line: usize) -> DataReceiver {
        DataReceiver {
            state: State::LineStart,
            line_len: 0,
            max_line,
            max_size,
            body: Vec::with_capacity(max_size.min(INITIAL_CAPACITY)),
            error: None,
            reservation: None,
        }
    }

    /// A receiver on a budget: the body starts with `capacity` bytes (see [`initial_capacity`]),
    /// for which `reservation` already holds [`COPIES`] × `capacity`.
    pub fn with_budget(max_size: usize, max_line: usize, capacity: usize, reservation: Reservation) -> DataReceiver {
        let mut receiver = DataReceiver::new(max_size, max_line);
        receiver.body = Vec::with_capacity(capacity.min(max_size));
        receiver.reservation = Some(reservation);
        receiver
    }

    /// Takes the reservation that pays for the body, to hold it until the message is queued or
    /// refused.
    pub fn take_reservation(&mut self) -> Option<Reservation> {
        self.reservation.take()
    }

    /// Feeds the next bytes from the client.
    pub fn feed(&mut self, input: &[u8]) -> Progress {
        let mut i = 0;
        while i < input.len() {
            if self.state == State::Middle {
                // Fast path: copy the run of ordinary bytes up to the next CR or LF.
                let run = memchr::memchr3(b'\r', b'\n', 0, &input[i..]).unwrap_or(input.len() - i);
                if run > 0 {
                    self.line_len += run;
                    if self.line_len > self.max_line {
                        self.fail(DataError::LineTooLong);
                    }
                    self.push(&input[i..i + run]);
                    i += run;
                    continue;
                }
            }
            let byte = input[i];
            i += 1;
            if self.step(byte) {
                return Progress::Done { consumed: i };
            }
        }
        Progress::NeedMore
    }

    /// Advances by one byte; true when the message is complete.
    fn step(&mut self, byte: u8) -> bool {
        match self.state {
            State::LineStart => match byte {
                b'.' => self.state = State::Dot,
                _ => self.in_line(byte),
            },
            State::Middle => self.in_line(byte),
            State::Cr => {
                if byte == b'\n' {
                    self.push(b"\r\n");
                    self.line_len = 0;
                    self.state = State::LineStart;
                } else {
                    self.fail(DataError::BareLineBreak);
                    self.push(b"\r");
                    self.in_line(byte);
                }
            }
            State::Dot => match byte {
                b'\r' => self.state = State::DotCr,
                // Dot-stuffing: the leading dot is dropped, the rest of the line is content.
                _ => {
                    self.line_len = 0;
                    self.in_line(byte);
                }
            },
            State::DotCr => {
                if byte == b'\n' {
                    return true;
                }
                // ". CR x": the dot was stuffing and the CR is bare.
                self.fail(DataError::BareLineBreak);
                self.push(b"\r");
                self.in_line(byte);
            }
        }
        false
    }

    fn in_line(&mut self, byte: u8) {
        match byte {
            b'\r' => self.state = State::Cr,
            b'\n' => {
                // A bare LF is not a line end: the next byte is still "inside a line", so a
                // following "." can never start the terminator.
                self.fail(DataError::BareLineBreak);
                self.push(b"\n");
                self.state = State::Middle;
            }
            _ => {
                if byte == 0 {
                    self.fail(DataError::Nul);
                }
                self.line_len += 1;
                if self.line_len > self.max_line {
                    self.fail(DataError::LineTooLong);
                }
                self.push(&[byte]);
                self.state = State::Middle;
            }
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let needed = self.body.len() + bytes.len();
        if needed > self.max_size {
            self.fail(DataError::TooBig);
            return;
        }
        if self.error.is_none() && (needed <= self.body.capacity() || self.grow(needed)) {
            self.body.extend_from_slice(bytes);
        }
    }

    /// Grows the body to hold `needed` bytes: by half its capacity (at least
    /// [`INITIAL_CAPACITY`]), at most to the size limit, paid from the budget first.
    fn grow(&mut self, needed: usize) -> bool {
        let capacity = self.body.capacity();
        let target = needed
            .max(capacity + (capacity / 2).max(INITIAL_CAPACITY))
            .min(self.max_size);
        if let Some(reservation) = &mut self.reservation {
            if !reservation.grow_to(target as u64 * COPIES) {
                self.fail(DataError::OverBudget);
                return false;
            }
        }
        self.body.reserve_exact(target - self.body.len());
        true
    }

    fn fail(&mut self, error: DataError) {
        // The first error decides the reply; a refused body is no longer kept, nor paid for.
        if self.error.is_none() {
            self.error = Some(error);
            self.body = Vec::new();
            if let Some(reservation) = &mut self.reservation {
                reservation.release();
            }
        }
    }

    /// The message (un-stuffed, ending with CRLF unless empty), or why it is refused.
    pub fn finish(self) -> Result<Vec<u8>, DataError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.body),
        }
    }
}

/// The body's first capacity: the SIZE the client declared on MAIL FROM (a body is never larger
/// than its declared size unless the client lied, and then it grows), else [`INITIAL_CAPACITY`];
/// never more than the size limit.
pub fn initial_capacity(max_size: usize, declared: Option<u64>) -> usize {
    let declared = declared.map_or(INITIAL_CAPACITY, |size| usize::try_from(size).unwrap_or(usize::MAX));
    declared.min(max_size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::budget::DataBudget;

    fn receive(chunks: &[&[u8]]) -> (Result<Vec<u8>, DataError>, Option<usize>) {
        let mut receiver = DataReceiver::new(1 << 20, 998);
        for (n, chunk) in chunks.iter().enumerate() {
            if let Progress::Done { consumed } = receiver.feed(chunk) {
                assert_eq!(n, chunks.len() - 1, "finished before the last chunk");
                return (receiver.finish(), Some(consumed));
            }
        }
        (receiver.finish(), None)
    }

    #[test]
    fn plain_message() {
        let (body, consumed) = receive(&[b"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n"]);
        assert_eq!(body.unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(consumed, Some(24));
    }

    #[test]
    fn empty_message() {
        assert_eq!(receive(&[b".\r\n"]).0.unwrap(), b"");
    }

    #[test]
    fn dot_unstuffing() {
        let (body, _) = receive(&[b"..hidden\r\n...\r\n.x\r\n.\r\n"]);
        assert_eq!(body.unwrap(), b".hidden\r\n..\r\nx\r\n");
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        let input: &[u8] = b"A: b\r\n\r\n..x\r\nline\r\n.\r\n";
        let whole = receive(&[input]);
        for split in 1..input.len() {
            let (a, b) = input.split_at(split);
            let parts = receive(&[a, b]);
            assert_eq!(parts.0, whole.0, "split at {split}");
        }
    }

    #[test]
    fn bare_line_breaks_are_refused_and_never_end_the_message() {
        let variants: &[&[u8]] = &[
            b"a\n.\nMAIL FROM:<x@y>\r\n",
            b"a\r.\rMAIL FROM:<x@y>\r\n",
            b"a\r\n.\nMAIL FROM:<x@y>\r\n",
            b"a\n.\r\nMAIL FROM:<x@y>\r\n",
            b"a\r.\r\nMAIL FROM:<x@y>\r\n",
            b"a\r\n.\rMAIL FROM:<x@y>\r\n",
            b"a\r\r\n.\r\r\n",
            b"bare\nlf\r\n",
            b"bare\rcr\r\n",
        ];
        for variant in variants {
            for split in 0..=variant.len() {
                let mut receiver = DataReceiver::new(1 << 20, 998);
                let (a, b) = variant.split_at(split);
                assert_eq!(receiver.feed(a), Progress::NeedMore, "{variant:?} ended early");
                assert_eq!(receiver.feed(b), Progress::NeedMore, "{variant:?} ended early");
                // Only a real CRLF.CRLF ends it, and the message is refused.
                assert_eq!(receiver.feed(b"\r\n.\r\n"), Progress::Done { consumed: 5 });
                assert_eq!(receiver.finish(), Err(DataError::BareLineBreak), "{variant:?}");
            }
        }
    }

    #[test]
    fn size_limit_bounds_memory_and_refuses() {
        let mut receiver = DataReceiver::new(10, 998);
        assert_eq!(receiver.feed(b"0123456789abcdef\r\n"), Progress::NeedMore);
        assert!(receiver.body.capacity() <= 16 * 1024);
        assert_eq!(receiver.feed(b".\r\n"), Progress::Done { consumed: 3 });
        assert_eq!(receiver.finish(), Err(DataError::TooBig));
    }

    #[test]
    fn bodies_grow_by_half_not_by_doubling() {
        let mut receiver = DataReceiver::new(64 << 20, 998);
        let line = [b'x'; 98];
        for _ in 0..100_000 {
            receiver.feed(&line);
            receiver.feed(b"\r\n");
        }
        let len = receiver.body.len();
        assert_eq!(len, 10_000_000);
        assert!(
            receiver.body.capacity() <= len + len / 2,
            "{} for {len}",
            receiver.body.capacity()
        );
    }

    #[test]
    fn declared_size_presizes_the_body() {
        assert_eq!(initial_capacity(1 << 20, None), INITIAL_CAPACITY);
        assert_eq!(initial_capacity(1 << 20, Some(5000)), 5000);
        assert_eq!(initial_capacity(1 << 20, Some(u64::MAX)), 1 << 20);
        let budget = DataBudget::new(1 << 30);
        let held = budget.reserve(COPIES * 5000).expect("fits");
        let mut receiver = DataReceiver::with_budget(1 << 20, 998, 5000, held);
        let line = [b'y'; 98];
        for _ in 0..49 {
            receiver.feed(&line);
            receiver.feed(b"\r\n");
        }
        receiver.feed(&line);
        assert_eq!(receiver.feed(b"\r\n.\r\n"), Progress::Done { consumed: 5 });
        assert_eq!(
            receiver.body.capacity(),
            5000,
            "no growth for a message of its declared size"
        );
        assert_eq!(budget.held(), COPIES * 5000);
        let held = receiver.take_reservation();
        assert_eq!(receiver.finish().map(|b| b.len()), Ok(5000));
        drop(held);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn growth_is_paid_from_the_budget_and_refused_past_it() {
        let budget = DataBudget::new(COPIES * 100_000);
        let other = budget.reserve(COPIES * 40_000).expect("fits");
        let held = budget.reserve(COPIES * INITIAL_CAPACITY as u64).expect("fits");
        let mut receiver = DataReceiver::with_budget(1 << 20, 998, INITIAL_CAPACITY, held);
        let line = [b'z'; 98];
        for _ in 0..400 {
            receiver.feed(&line);
            receiver.feed(b"\r\n");
        }
        // 40,000 bytes: grown and paid for, within the 60,000 left.
        assert!(receiver.error.is_none());
        assert_eq!(budget.held(), COPIES * (40_000 + receiver.body.capacity() as u64));
        for _ in 0..400 {
            receiver.feed(&line);
            receiver.feed(b"\r\n");
        }
        // Past the budget: refused, body dropped, reservation given back; still in sync.
        assert_eq!(receiver.error, Some(DataError::OverBudget));
        assert_eq!(budget.held(), COPIES * 40_000);
        assert_eq!(receiver.feed(b"more\r\n.\r\nQUIT\r\n"), Progress::Done { consumed: 9 });
        assert_eq!(receiver.finish(), Err(DataError::OverBudget));
        drop(other);
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn line_limit() {
        let mut receiver = DataReceiver::new(1 << 20, 10);
        receiver.feed(b"0123456789\r\n");
        assert_eq!(receiver.feed(b"0123456789X\r\n.\r\n"), Progress::Done { consumed: 16 });
        assert_eq!(receiver.finish(), Err(DataError::LineTooLong));
    }
}
