//! SIGHUP reloads the policy profiles of the real binary without dropping sessions; an invalid
//! profile set is refused and the running one stays.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::Client;
use tokio::net::TcpStream;

fn profile(max_recipients: u32) -> String {
    format!("[profile]\nname = \"default\"\n[bulk]\nmax_recipients = {max_recipients}\n")
}

/// Lines of the gateway's JSON log (stderr), read on a thread of their own so the pipe never fills.
fn log_lines(stderr: std::process::ChildStderr) -> tokio::sync::mpsc::UnboundedReceiver<serde_json::Value> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(record) = serde_json::from_str(&line) {
                if tx.send(record).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Waits for the log record whose message is `message` (panics after 10 s): the gateway's own
/// word that it has handled the SIGHUP, one way or the other.
async fn logged(log: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>, message: &str) {
    let wait = async {
        while let Some(record) = log.recv().await {
            if record["fields"]["message"] == message {
                return;
            }
        }
        panic!("the gateway exited before logging `{message}`");
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no `{message}` logged within 10 s"));
}

async fn send(port: u16, rcpt: &str) -> String {
    let mut c = Client::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    c.expect("220").await;
    c.send("EHLO reload.test", "250").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send(&format!("RCPT TO:<{rcpt}>"), "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(b"From: a@acme.example\r\nSubject: same campaign\r\n\r\nThe very same announcement goes to everybody on the list today.\r\n.\r\n").await;
    c.read_reply().await.last().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_profiles() {
    let sink = support::Sink::start().await;
    // The gateway's DNS (SPF/DMARC lookups) is a server on loopback, never the machine's.
    let dns = support::dns::DnsServer::start(support::dns::Zone::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/default.toml"), profile(1)).unwrap();
    let config = dir.path().join("aupgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{d}/data\"\n[admin]\naddress = \"127.0.0.1:0\"\n[policy]\ndirectory = \"{d}/policies\"\n\
             [dns]\nnameservers = [\"{dns}\"]\n\
             [[listener]]\naddress = \"127.0.0.1:{port}\"\ntls = \"none\"\n[relay]\nmode = \"smarthost\"\n[relay.smarthost]\nhost = \"127.0.0.1\"\nport = {sink}\n\
             [[tenant]]\nid = \"acme\"\nnetworks = [\"127.0.0.0/8\"]\ndomains = [\"acme.example\"]\n",
            d = dir.path().display(),
            sink = sink.address.port(),
            dns = dns.address
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args(["serve", "--log-json", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = log_lines(child.stderr.take().unwrap());
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(send(port, "one@dest.example").await.starts_with("250 2.0.0"));
    assert!(send(port, "two@dest.example")
        .await
        .starts_with("550 5.7.1 Bulk mail: more than 1 distinct"));

    // A session open across the reload is not dropped.
    let mut open = Client::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    open.expect("220").await;
    open.send("EHLO reload.test", "250").await;

    std::fs::write(dir.path().join("policies/default.toml"), profile(100)).unwrap();
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    logged(&mut log, "policy profiles and DKIM keys reloaded").await;
    assert!(send(port, "two@dest.example").await.starts_with("250 2.0.0"));
    open.send("NOOP", "250 2.0.0").await;

    // An invalid set is refused; the running profile (100) stays.
    std::fs::write(dir.path().join("policies/default.toml"), "[bulk]\nmax_recipients = 0\n").unwrap();
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    logged(&mut log, "policy reload refused; keeping the running profiles").await;
    assert!(send(port, "three@dest.example").await.starts_with("250 2.0.0"));

    child.kill().unwrap();
    child.wait().unwrap();
}
