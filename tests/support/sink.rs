//! A real next-hop SMTP sink on loopback. It records every message it accepts and fails on purpose
//! by recipient local part: `tempfail@` → `451 4.3.0`, `permfail@` → `550 5.1.1`, `disconnect@` →
//! drops the connection at RCPT.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub sender: String,
    pub recipients: Vec<String>,
    /// The message exactly as it came off the wire, dot-unstuffed, without the terminator.
    pub data: Vec<u8>,
}

#[derive(Clone)]
pub struct Sink {
    pub address: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
}

impl Sink {
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let address = listener.local_addr().expect("sink address");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, store).await;
                });
            }
        });
        Sink { address, messages }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until at least `n` messages arrived (or the timeout passes) and returns them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n || tokio::time::Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(stream: tokio::net::TcpStream, store: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut sender = String::new();
    let mut recipients = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write.write_all(b"250-sink.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n").await?;
        } else if upper.starts_with("HELO") {
            write.write_all(b"250 sink.test\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            sender = between(&line, '<', '>');
            recipients.clear();
            write.write_all(b"250 2.1.0 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = between(&line, '<', '>');
            let local = rcpt.split('@').next().unwrap_or("").to_ascii_lowercase();
            match local.as_str() {
                "tempfail" => write.write_all(b"451 4.3.0 try later\r\n").await?,
                "permfail" => write.write_all(b"550 5.1.1 no such user\r\n").await?,
                "disconnect" => return Ok(()),
                _ => {
                    recipients.push(rcpt);
                    write.write_all(b"250 2.1.5 ok\r\n").await?;
                }
            }
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 go\r\n").await?;
            let data = read_data(&mut reader).await?;
            store.lock().unwrap().push(Received {
                sender: sender.clone(),
                recipients: recipients.clone(),
                data,
            });
            write.write_all(b"250 2.0.0 stored\r\n").await?;
        } else if upper.starts_with("RSET") {
            recipients.clear();
            write.write_all(b"250 2.0.0 ok\r\n").await?;
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"250 2.0.0 ok\r\n").await?;
        }
    }
}

async fn read_data<R: tokio::io::AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" {
            return Ok(data);
        }
        let content = if line.starts_with(b".") { &line[1..] } else { &line[..] };
        data.extend_from_slice(content);
    }
}

fn between(line: &str, open: char, close: char) -> String {
    let start = line.find(open).map(|i| i + 1).unwrap_or(0);
    let end = line[start..].find(close).map(|i| start + i).unwrap_or(line.len());
    line[start..end].to_string()
}
