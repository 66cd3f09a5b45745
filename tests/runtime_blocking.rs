//! Nothing a session waits for blocks a runtime worker: the real gateway on a runtime with ONE
//! worker thread, its RocksDB store's writer stalled (as behind a hung disk). A session whose
//! MAIL FROM must read a counter from the database waits for the writer; meanwhile another
//! client is greeted and answered at once. Once the writer goes on, the first session gets its
//! `250` too.
//!
//! The clients are plain blocking sockets on their own threads, with read timeouts: they must not
//! depend on the runtime under test (if its one worker were blocked, a client on it could neither
//! read nor time out).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aupgate::store::Key;
use support::Harness;

/// A blocking SMTP client: each command's complete reply, or what the timeout left of it.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(address: SocketAddr, timeout: Duration) -> std::io::Result<Client> {
        let stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(timeout))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// The lines of one reply (up to the line with a space after the code).
    fn reply(&mut self) -> std::io::Result<Vec<String>> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end().to_string();
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line);
            if last {
                return Ok(lines);
            }
        }
    }

    fn send(&mut self, command: &str) -> std::io::Result<Vec<String>> {
        self.writer.write_all(format!("{command}\r\n").as_bytes())?;
        self.reply()
    }
}

fn last(reply: &[String]) -> &str {
    reply.last().map(String::as_str).unwrap_or("")
}

#[test]
fn a_session_waiting_on_a_stalled_store_writer_leaves_the_only_worker_free() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let h = runtime.block_on(Harness::start());
    let address = h.relay_addr();
    let store = h.gateway.store.clone();

    // The writer stalls with a write queued: whoever must see the database as of now (a counter
    // read from it, not from the in-memory mirror) waits until the stall ends.
    let stall = store.stall_writes_for_test().expect("the RocksDB store has a writer");
    runtime
        .block_on(store.counter_add(
            &Key::new("test", "queued"),
            1,
            aupgate::queue::now_ms(),
            Duration::from_secs(60),
        ))
        .expect("a charge is queued, not written");

    // The first session: its MAIL FROM checks the tenant's quotas, counters nobody has read yet.
    let (mail_tx, mail_rx) = mpsc::channel();
    let waiting = std::thread::spawn(move || -> std::io::Result<String> {
        let mut c = Client::connect(address, Duration::from_secs(60))?;
        let greeting = c.reply()?;
        assert!(last(&greeting).starts_with("220 "), "{greeting:?}");
        let ehlo = c.send("EHLO waiting.test")?;
        assert!(last(&ehlo).starts_with("250 "), "{ehlo:?}");
        c.writer.write_all(b"MAIL FROM:<a@acme.example>\r\n")?;
        let _ = mail_tx.send(());
        let mail = c.reply()?;
        let _ = c.send("QUIT");
        Ok(last(&mail).to_string())
    });
    mail_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the first session reached MAIL FROM");
    // Wait until the gateway took the MAIL FROM and waits for the writer.
    let reached = Instant::now();
    while stall.waiters() == 0 {
        assert!(
            reached.elapsed() < Duration::from_secs(10),
            "the first session's MAIL FROM never waited for the stalled writer"
        );
        std::thread::sleep(Duration::from_millis(5));
    }

    // The second session, while the first one waits on the store.
    let started = Instant::now();
    let other = std::thread::spawn(move || -> std::io::Result<(Vec<String>, Vec<String>)> {
        let mut c = Client::connect(address, Duration::from_secs(3))?;
        let greeting = c.reply()?;
        let ehlo = c.send("EHLO other.test")?;
        let noop = c.send("NOOP")?;
        let _ = c.send("QUIT");
        Ok((greeting, [ehlo, noop].concat()))
    })
    .join()
    .expect("second client");
    let answered_in = started.elapsed();
    let first_still_waiting = !waiting.is_finished();

    // Let the writer go on (also when an assertion below fails, so the gateway can stop).
    drop(stall);
    let mail = waiting.join().expect("first client");

    let (greeting, replies) = other.expect("the other session is answered while the store writer is stalled");
    assert!(last(&greeting).starts_with("220 gw.test"), "{greeting:?}");
    assert!(
        replies.iter().any(|l| l.starts_with("250 ")) && last(&replies).starts_with("250 2.0.0"),
        "{replies:?}"
    );
    assert!(answered_in < Duration::from_secs(2), "answered in {answered_in:?}");
    assert!(
        first_still_waiting,
        "the first session must still be waiting for the stalled writer (else this test proves nothing)"
    );
    let mail = mail.expect("the first session's MAIL FROM");
    assert!(mail.starts_with("250 2.1.0"), "{mail}");
    runtime.block_on(async move { drop(h) });
}
