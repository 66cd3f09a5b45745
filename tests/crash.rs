//! Crash test with the real binary: clients send while the gateway is killed with SIGKILL; after a
//! restart every message that got `250` is delivered, and nothing is delivered that the gateway
//! never accepted (only messages whose `250` may have been lost in flight are allowed beside them).

mod support;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Client, Sink};
use tokio::net::TcpStream;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(
    dir: &std::path::Path,
    sink: std::net::SocketAddr,
    port: u16,
    dns: std::net::SocketAddr,
) -> std::path::PathBuf {
    let text = format!(
        r#"
[server]
hostname = "gw.test"
data_dir = "{}"

[admin]
address = "127.0.0.1:0"

[policy]
directory = "{}/policies"

[dns]
nameservers = ["{dns}"]

[[listener]]
name = "relay"
address = "127.0.0.1:{port}"
tls = "none"

[queue]
retry_initial = "200ms"
retry_max = "1s"

[relay]
mode = "smarthost"
timeout = "5s"

[relay.smarthost]
host = "127.0.0.1"
port = {}

[[tenant]]
id = "acme"
networks = ["127.0.0.0/8"]
domains = ["acme.example"]
"#,
        dir.join("data").display(),
        dir.display(),
        sink.port()
    );
    // Every message here looks alike (one campaign): a profile whose bulk limit lies above the
    // run's volume keeps the policy on without refusing anything.
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(
        dir.join("policies/default.toml"),
        "[profile]\nname = \"default\"\n[bulk]\nmax_recipients = 10000\n[quotas]\nmessages_per_hour = 0\nmessages_per_day = 0\nrecipients_per_hour = 0\nrecipients_per_day = 0\n",
    )
    .unwrap();
    let path = dir.join("aupgate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn(config: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args(["serve", "--config"])
        .arg(config)
        .env("AUPGATE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn aupgate")
}

async fn wait_listening(port: u16) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gateway did not start");
}

#[derive(Default)]
struct Ledger {
    /// Subjects that got 250.
    accepted: HashSet<String>,
    /// Subjects whose terminator was sent but whose reply never arrived (killed in between).
    in_flight: HashSet<String>,
}

async fn sender_loop(port: u16, worker: usize, ledger: Arc<Mutex<Ledger>>) {
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return;
    };
    let mut c = Client::new(stream);
    if c.read_reply()
        .await
        .last()
        .map(|l| !l.starts_with("220"))
        .unwrap_or(true)
    {
        return;
    }
    c.write(b"EHLO crash.test\r\n").await;
    if !c.read_reply().await.last().unwrap().starts_with("250") {
        return;
    }
    for n in 1.. {
        let subject = format!("w{worker}-m{n}");
        c.write(format!("MAIL FROM:<a@acme.example>\r\nRCPT TO:<{subject}@dest.example>\r\nDATA\r\n").as_bytes())
            .await;
        let ok = c.read_reply().await.last().unwrap().starts_with("250")
            && c.read_reply().await.last().unwrap().starts_with("250")
            && c.read_reply().await.last().unwrap().starts_with("354");
        if !ok {
            return;
        }
        ledger.lock().unwrap().in_flight.insert(subject.clone());
        c.write(format!("From: a@acme.example\r\nSubject: {subject}\r\n\r\npayload {subject}\r\n.\r\n").as_bytes())
            .await;
        let reply = c.read_reply().await;
        let mut ledger = ledger.lock().unwrap();
        if reply.last().unwrap().starts_with("250 2.0.0") {
            ledger.in_flight.remove(&subject);
            ledger.accepted.insert(subject);
        } else {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_250_survives_kill_9() {
    let sink = Sink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The gateway's DNS (SPF/DMARC lookups) is a server on loopback, never the machine's.
    let dns = support::dns::DnsServer::start(support::dns::Zone::default()).await;
    let config = write_config(dir.path(), sink.address, port, dns.address);
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    for round in 0..3 {
        let mut child = spawn(&config);
        wait_listening(port).await;
        let senders: Vec<_> = (0..8)
            .map(|w| tokio::spawn(sender_loop(port, round * 100 + w, ledger.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(700 + 300 * round as u64)).await;
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        for sender in senders {
            let _ = sender.await;
        }
    }

    let mut child = spawn(&config);
    wait_listening(port).await;
    let (accepted, in_flight) = {
        let ledger = ledger.lock().unwrap();
        (ledger.accepted.clone(), ledger.in_flight.clone())
    };
    assert!(
        accepted.len() > 20,
        "too few messages accepted to be a test: {}",
        accepted.len()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let delivered: HashSet<String> = sink
            .messages()
            .iter()
            .flat_map(|m| m.recipients.iter().map(|r| r.split('@').next().unwrap().to_string()))
            .collect();
        let missing: Vec<&String> = accepted.difference(&delivered).collect();
        if missing.is_empty() {
            let unexpected: Vec<&String> = delivered
                .iter()
                .filter(|s| !accepted.contains(*s) && !in_flight.contains(*s))
                .collect();
            assert!(
                unexpected.is_empty(),
                "delivered without ever being accepted: {unexpected:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} accepted messages never delivered, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
