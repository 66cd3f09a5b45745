//! Reading and writing for a session: line framing with a length cap, reads bounded by the
//! step's deadline (see `deadline`), the session deadline, the byte budget and the shutdown
//! signal.

use bytes::Buf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::deadline::{command_deadline, Expiry};
use super::{End, Session};
use crate::smtp::reply;

/// What a read may be interrupted by.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for a command: shutdown interrupts with 421.
    Command,
    /// Inside DATA: the message in flight is allowed to finish.
    Data,
}

impl Session {
    /// Takes the next complete line (without CRLF/LF) from the buffer. `Err(())` reports a line
    /// over the limit once it has been skipped to its end.
    pub(super) fn take_line(&mut self) -> Option<Result<Vec<u8>, ()>> {
        let max = self.ctx.config.limits.max_command_line;
        match self.inbuf.iter().position(|&b| b == b'\n') {
            Some(pos) => {
                // The next line's clock starts when a read brings (or waits for) its bytes.
                self.line_started = None;
                let mut line = self.inbuf.split_to(pos + 1);
                if self.discarding_line || pos > max + 1 {
                    self.discarding_line = false;
                    return Some(Err(()));
                }
                line.truncate(pos);
                if line.last() == Some(&b'\r') {
                    line.truncate(pos - 1);
                }
                Some(Ok(line.to_vec()))
            }
            None if self.inbuf.len() > max + 2 => {
                // Too long and still going: drop what we have and skip to the line's end.
                self.inbuf.clear();
                self.discarding_line = true;
                None
            }
            None => None,
        }
    }

    /// Reads more command input, within `command_timeout` of the line's first byte (or of the
    /// start of the wait, when none has come yet): reads do not restart the clock.
    pub(super) async fn read_command_input(&mut self) -> Result<(), End> {
        let now = Instant::now();
        if self.line_started.is_none() && !self.inbuf.is_empty() {
            // Bytes of a pipelined line were already buffered: its clock starts now.
            self.line_started = Some(now);
        }
        let timeout = self.ctx.config.limits.command_timeout.get();
        let deadline = command_deadline(self.line_started, now, timeout);
        self.read_more(Phase::Command, deadline, Expiry::Timeout).await?;
        if self.line_started.is_none() {
            self.line_started = Some(Instant::now());
        }
        Ok(())
    }

    /// Reads more bytes into the input buffer before `step_deadline`, or ends the session with
    /// the right reply (`expiry` says which, when the step's deadline passes).
    pub(super) async fn read_more(&mut self, phase: Phase, step_deadline: Instant, expiry: Expiry) -> Result<(), End> {
        let limits = &self.ctx.config.limits;
        let budget = limits.max_session_bytes.get();
        let hostname = self.ctx.config.server.hostname.clone();
        let deadline = self.deadline;
        let mut shutdown = self.ctx.shutdown.clone();
        let Some(stream) = self.stream.as_mut() else {
            return Err(End::Closed);
        };
        if self.inbuf.capacity() - self.inbuf.len() < 1024 {
            self.inbuf.reserve(8192);
        }
        let result = tokio::select! {
            read = tokio::time::timeout_at(step_deadline, stream.read_buf(&mut self.inbuf)) => read,
            _ = tokio::time::sleep_until(deadline) => {
                self.reply(reply::session_timeout(&hostname));
                return Err(End::AfterReply);
            }
            _ = shutdown.wait_for(|stop| *stop), if phase == Phase::Command => {
                self.reply(reply::shutting_down(&hostname));
                return Err(End::AfterReply);
            }
        };
        match result {
            Err(_elapsed) => {
                let refusal = match expiry {
                    Expiry::Timeout => reply::timeout(&hostname),
                    Expiry::TooSlow => reply::data_too_slow(&hostname),
                };
                tracing::info!(code = %refusal.summary(), ?expiry, "read deadline passed; closing");
                self.reply(refusal);
                Err(End::AfterReply)
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "read failed");
                Err(End::Closed)
            }
            Ok(Ok(0)) => Err(End::Closed),
            Ok(Ok(n)) => {
                self.bytes_read += n as u64;
                if self.bytes_read > budget {
                    self.reply(reply::session_bytes_limit());
                    return Err(End::AfterReply);
                }
                Ok(())
            }
        }
    }

    /// Writes the queued replies.
    pub(super) async fn flush(&mut self) -> Result<(), End> {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let timeout = self.ctx.config.limits.command_timeout.get();
        let Some(stream) = self.stream.as_mut() else {
            return Err(End::Closed);
        };
        let written = tokio::time::timeout(timeout, async {
            stream.write_all(&self.outbuf).await?;
            stream.flush().await
        })
        .await;
        self.outbuf.clear();
        match written {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Closed),
        }
    }

    /// Closes the connection politely (TLS close_notify, TCP FIN).
    pub(super) async fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), stream.shutdown()).await;
        }
    }

    /// Drops `n` consumed bytes from the input buffer.
    pub(super) fn consume(&mut self, n: usize) {
        self.inbuf.advance(n);
    }
}
