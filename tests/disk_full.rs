//! A full disk heals by itself: the real gateway with its queue and store on a small tmpfs. Once
//! the disk is full, mail is deferred (`451 4.3.0`) and `/health` says `degraded`; once space is
//! freed, mail is accepted again within seconds without a restart, `/health` says `ok` (and the
//! probes: `/readyz` is 503 while degraded, `/healthz` 200 throughout), and
//! every message answered `250` is delivered.
//!
//! Mounting a tmpfs needs root (CAP_SYS_ADMIN); where that is impossible the test says so and
//! skips.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::Harness;

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().to_path_buf();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
        }
        Ok(Tmpfs { path, _dir: dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the file system holding `path` with `path` itself, to the last byte it will take.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("filler");
    for chunk in [1 << 20, 4096, 1] {
        let bytes = vec![0u8; chunk];
        while file.write_all(&bytes).is_ok() {}
    }
    let _ = file.sync_all();
}

async fn http_get(address: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("admin");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// Sends one message of about `size` bytes; the final reply line.
async fn send(h: &Harness, n: usize, size: usize) -> String {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    let reply = c.send("MAIL FROM:<a@acme.example>", "").await;
    if !reply.last().unwrap().starts_with("250") {
        return reply.last().unwrap().clone();
    }
    let reply = c.send(&format!("RCPT TO:<r{n}@dest.example>"), "").await;
    if !reply.last().unwrap().starts_with("250") {
        return reply.last().unwrap().clone();
    }
    c.send("DATA", "354").await;
    let line = "x".repeat(76);
    let mut body = format!("From: a@acme.example\r\nSubject: n{n}\r\n\r\n");
    while body.len() < size {
        body.push_str(&line);
        body.push_str("\r\n");
    }
    body.push_str(".\r\n");
    c.write(body.as_bytes()).await;
    let reply = c.expect("").await;
    reply.last().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_defers_mail_and_heals_by_itself_once_space_is_freed() {
    let tmpfs = match Tmpfs::mount("256m") {
        Ok(tmpfs) => tmpfs,
        Err(error) => {
            eprintln!(
                "SKIPPED a_full_disk_defers_mail_and_heals_by_itself: cannot mount a tmpfs here ({error}); needs root"
            );
            return;
        }
    };
    // The disk is nearly full before the gateway starts, so RocksDB cannot preallocate WAL
    // space for the store or the queue: their writes fail as soon as the disk is full.
    let early_filler = tmpfs.path.join("early-filler");
    fill(&early_filler);
    let full = std::fs::metadata(&early_filler).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&early_filler)
        .unwrap()
        .set_len(full - (12 << 20))
        .unwrap();
    let data_dir = tmpfs.path.join("data");
    let h = Harness::start_with(|c| {
        c.server.data_dir = data_dir.display().to_string();
        c.limits.max_message_size = aupgate::config::ByteSize(4 << 20);
    })
    .await;
    let mut accepted = Vec::new();
    assert!(send(&h, 0, 1024).await.starts_with("250 2.0.0"));
    accepted.push(0);
    let (status, body) = http_get(h.gateway.admin_address, "/health").await;
    assert_eq!((status, body.as_str()), (200, "ok"));

    let filler = tmpfs.path.join("filler");
    fill(&filler);
    let mut refused = None;
    for n in 1..200 {
        let reply = send(&h, n, 2 << 20).await;
        if reply.starts_with("250 ") {
            accepted.push(n);
        } else {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("a full disk must refuse mail");
    assert!(
        refused.starts_with("451 4.3.0"),
        "a full disk defers, never refuses: {refused}"
    );
    // The queue's write failed; the store fails at its next batch (within milliseconds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = http_get(h.gateway.admin_address, "/health").await;
        assert_eq!(status, 503, "{body}");
        assert!(body.starts_with("degraded: "), "{body}");
        assert!(body.contains("No space left on device"), "{body}");
        if body.contains("store: ") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the store never failed: {body}");
        let _ = send(&h, 999, 1024).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The probes: not ready (the same reason), but alive.
    let (status, body) = http_get(h.gateway.admin_address, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("No space left on device"), "{body}");
    assert_eq!(
        http_get(h.gateway.admin_address, "/healthz").await,
        (200, "ok".to_string())
    );

    std::fs::remove_file(&filler).unwrap();
    std::fs::remove_file(&early_filler).unwrap();
    let freed = tokio::time::Instant::now();
    let mut n = 1000;
    loop {
        n += 1;
        let reply = send(&h, n, 1024).await;
        if reply.starts_with("250 2.0.0") {
            accepted.push(n);
            break;
        }
        assert!(reply.starts_with("451 4.3.0"), "{reply}");
        assert!(
            freed.elapsed() < Duration::from_secs(30),
            "still deferring 30 s after space was freed: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("healed {} ms after space was freed", freed.elapsed().as_millis());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = http_get(h.gateway.admin_address, "/health").await;
        if status == 200 {
            assert_eq!(body, "ok");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every 250 is delivered.
    for n in accepted {
        h.sink
            .wait_for_recipient(&format!("r{n}@dest.example"), Duration::from_secs(20))
            .await;
    }
}
