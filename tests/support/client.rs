//! A transcript-style SMTP test client: every step asserts the full reply code.
//! `client.send("RCPT TO:<x@y>", "550 5.7.1").await;`

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What `read_reply` returns when the server closed the connection.
pub const CLOSED: &str = "<closed>";

pub struct Client<S> {
    pub stream: S,
    buffer: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub fn new(stream: S) -> Self {
        Client {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Reads one (possibly multi-line) reply and returns its lines.
    pub async fn read_reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await;
            let last = line == CLOSED || line.len() < 4 || line.as_bytes()[3] == b' ';
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    async fn read_line(&mut self) -> String {
        loop {
            if let Some(pos) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                return String::from_utf8_lossy(&line).trim_end().to_string();
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(20), self.stream.read(&mut chunk))
                .await
                .expect("reply timed out")
                .unwrap_or(0);
            if n == 0 {
                return String::from(CLOSED);
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// Expects a reply whose last line starts with `expected` (e.g. "250 2.1.0").
    pub async fn expect(&mut self, expected: &str) -> Vec<String> {
        let reply = self.read_reply().await;
        let last = reply.last().cloned().unwrap_or_default();
        assert!(last.starts_with(expected), "expected {expected:?}, got {reply:?}");
        reply
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// Sends a command line and expects the reply.
    pub async fn send(&mut self, line: &str, expected: &str) -> Vec<String> {
        self.write(format!("{line}\r\n").as_bytes()).await;
        self.expect(expected).await
    }

    /// True when the server has closed the connection.
    pub async fn is_closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}
