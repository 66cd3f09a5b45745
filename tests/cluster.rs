//! `deploy/cluster/cluster.sh` end to end: a Redis Cluster of 3 masters and 3 replicas and two
//! gateway nodes (the real binary) sharing it, started and stopped by the script, each test on
//! its own ports and directory.
//!
//! - Counts are shared: a campaign sent alternately through both nodes is refused at exactly the
//!   21st distinct recipient, a mail bomb at exactly the 11th message (`550 5.7.1`).
//! - A gateway node killed with SIGKILL loses no mail it answered `250` for: started again by the
//!   script, it delivers every one.
//! - A Redis master killed mid-run defers (`451 4.3.0`) until its replica takes over, then the
//!   count goes on where it was: nothing refused with `451` was counted, nothing accepted was
//!   not (the 21st distinct recipient is still refused, no earlier). Redis replicates
//!   asynchronously, so a write a master acknowledged in the instant before it died can be lost
//!   in a failover (Redis's own limit); the master is killed once its replica has caught up.
//! - `stop` stops exactly what `start` started.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::client::Client;
use support::sink::{Sink, SinkOptions};
use tokio::net::TcpStream;

/// A loopback port nobody listens on.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The first of 6 consecutive free ports whose cluster-bus ports (+10000) are free too.
fn free_redis_base() -> u16 {
    let seed = u64::from(std::process::id()) ^ (u64::from(free_port()) * 7919);
    for attempt in 0..200u64 {
        let base = 20_000 + ((seed + attempt * 131) % 3_000) as u16 * 8;
        let free = (0..6).all(|i| {
            TcpListener::bind(("127.0.0.1", base + i)).is_ok()
                && TcpListener::bind(("127.0.0.1", base + i + 10_000)).is_ok()
        });
        if free {
            return base;
        }
    }
    panic!("no free port range for the Redis Cluster");
}

/// One cluster started by the script; stopped (by the script) on drop.
struct Cluster {
    dir: tempfile::TempDir,
    base: u16,
    smtp: [SocketAddr; 2],
    env: Vec<(String, String)>,
}

impl Cluster {
    fn start(smarthost: SocketAddr) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = free_redis_base();
        let smtp: [SocketAddr; 2] = [0, 1].map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())));
        let admin: [SocketAddr; 2] = [0, 1].map(|_| SocketAddr::from(([127, 0, 0, 1], free_port())));
        let env = vec![
            ("AUPGATE".into(), env!("CARGO_BIN_EXE_aupgate").into()),
            ("CLUSTER_DIR".into(), dir.path().display().to_string()),
            ("REDIS_BASE".into(), base.to_string()),
            ("NODE_TIMEOUT".into(), "1500".into()),
            ("NODE1_SMTP".into(), smtp[0].to_string()),
            ("NODE2_SMTP".into(), smtp[1].to_string()),
            ("NODE1_ADMIN".into(), admin[0].to_string()),
            ("NODE2_ADMIN".into(), admin[1].to_string()),
            ("SMARTHOST".into(), smarthost.to_string()),
            ("RETRY_INITIAL".into(), "300ms".into()),
            ("RETRY_MAX".into(), "1s".into()),
        ];
        let cluster = Cluster { dir, base, smtp, env };
        cluster.script("start");
        cluster
    }

    /// Runs `cluster.sh COMMAND`; it must succeed.
    fn script(&self, command: &str) -> Output {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/cluster/cluster.sh");
        let out = Command::new(path)
            .arg(command)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run cluster.sh");
        assert!(
            out.status.success(),
            "cluster.sh {command}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The pid in `<name>.pid` (`node1`, `redis-7101`).
    fn pid(&self, name: &str) -> u32 {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.pid")))
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid")
    }

    fn kill(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-KILL", &self.pid(name).to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    fn redis_cli(&self, port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(port.to_string())
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).replace('\r', "")
    }

    /// `redis-cli ARGS` on the first Redis node that answers.
    fn ask_cluster(&self, args: &[&str]) -> String {
        (self.base..self.base + 6)
            .map(|port| self.redis_cli(port, args))
            .find(|answer| !answer.trim().is_empty())
            .expect("a Redis node answers")
    }

    /// The port of the master serving the `demo` tenant's keys (hash tag `{t<hex>}`).
    fn tenant_master(&self) -> u16 {
        let slot: u16 = self
            .ask_cluster(&["cluster", "keyslot", "{t64656d6f}"])
            .trim()
            .parse()
            .expect("slot");
        let nodes = self.ask_cluster(&["cluster", "nodes"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if !fields.get(2).is_some_and(|f| f.contains("master")) || fields.get(7) != Some(&"connected") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                matches!((from.parse::<u16>(), to.parse::<u16>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
            });
            if serves {
                let port = fields[1].split(['@', ':']).nth(1).expect("port");
                return port.parse().expect("port");
            }
        }
        panic!("no master serves slot {slot}: {nodes}");
    }

    /// Waits until `master`'s replica has every write the master has.
    fn replica_caught_up(&self, master: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let info = self.redis_cli(master, &["info", "replication"]);
            let offset = info
                .lines()
                .find_map(|l| l.strip_prefix("master_repl_offset:"))
                .and_then(|v| v.trim().parse::<u64>().ok());
            let replica = info
                .lines()
                .find_map(|l| l.strip_prefix("slave0:"))
                .and_then(|l| l.split(',').find_map(|kv| kv.strip_prefix("offset=")))
                .and_then(|v| v.parse::<u64>().ok());
            if offset.is_some() && offset == replica {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "replica of {master} did not catch up: {info}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/cluster/cluster.sh");
        let _ = Command::new(path)
            .arg("stop")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output();
    }
}

/// One message from `demo` on a fresh session through `node`: the first reply that is not a
/// success, or the `250` to DATA.
async fn send(node: SocketAddr, rcpt: &str, body: &str) -> String {
    let mut c = Client::new(TcpStream::connect(node).await.expect("connect"));
    c.expect("220 ").await;
    c.send("EHLO client.test", "250 ").await;
    for line in [
        "MAIL FROM:<news@demo.example>".to_string(),
        format!("RCPT TO:<{rcpt}>"),
        "DATA".into(),
    ] {
        c.write(format!("{line}\r\n").as_bytes()).await;
        let reply = c.read_reply().await.last().cloned().unwrap_or_default();
        if !(reply.starts_with("250") || reply.starts_with("354")) {
            return reply;
        }
    }
    c.write(
        format!("From: news@demo.example\r\nTo: {rcpt}\r\nSubject: News\r\nDate: Sun, 06 Dec 2026 08:00:00 +0000\r\nMessage-ID: <{rcpt}.{}@demo.example>\r\n\r\n{body}.\r\n", body.len())
            .as_bytes(),
    )
    .await;
    let reply = c.read_reply().await.last().cloned().unwrap_or_default();
    c.write(b"QUIT\r\n").await;
    reply
}

const CAMPAIGN: &str = "Our spring sale starts today: every garden tool is a third off until Sunday, \
and delivery is free on orders over fifty euros. Visit the shop in the high street or order online, \
and bring this letter for a free bag of seeds.\r\n";

const BOMB: &str = "Your account statement for the third quarter is ready. The balance, the \
transactions of each month and the interest paid are listed in the attached summary; nothing needs \
doing on your part unless a line looks wrong to you.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_shared_by_both_nodes() {
    let sink = Sink::start().await;
    let cluster = Cluster::start(sink.address);
    for n in 1..=20 {
        let node = cluster.smtp[n % 2];
        let reply = send(node, &format!("r{n}@dest.example"), CAMPAIGN).await;
        assert!(reply.starts_with("250 2.0.0"), "recipient {n}: {reply}");
    }
    let reply = send(cluster.smtp[1], "r21@dest.example", CAMPAIGN).await;
    assert!(
        reply.starts_with("550 5.7.1") && reply.contains("bulk.max_recipients"),
        "21st distinct recipient: {reply}"
    );
    for n in 1..=10 {
        let reply = send(cluster.smtp[n % 2], "victim@dest.example", BOMB).await;
        assert!(reply.starts_with("250 2.0.0"), "message {n}: {reply}");
    }
    let reply = send(cluster.smtp[1], "victim@dest.example", BOMB).await;
    assert!(
        reply.starts_with("550 5.7.1") && reply.contains("mail_bomb.max_messages"),
        "11th message: {reply}"
    );
    assert_eq!(
        sink.wait_for(30, Duration::from_secs(20)).await.len(),
        30,
        "the 30 accepted are relayed"
    );

    // `stop` ends every process `start` started.
    let pids: Vec<u32> = ["node1", "node2"]
        .into_iter()
        .map(str::to_string)
        .chain((0..6).map(|i| format!("redis-{}", cluster.base + i)))
        .map(|name| cluster.pid(&name))
        .collect();
    cluster.script("stop");
    for pid in pids {
        assert!(
            !PathBuf::from(format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z ")),
            "pid {pid} still runs after stop"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_with_sigkill_delivers_what_it_accepted() {
    // Nothing listens at the smarthost yet: accepted mail waits in node 1's queue.
    let smarthost = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cluster = Cluster::start(smarthost);
    let mut accepted = Vec::new();
    for n in 1..=5 {
        let rcpt = format!("kept{n}@dest.example");
        let reply = send(
            cluster.smtp[0],
            &rcpt,
            &format!("Message number {n} of the nightly run.\r\n"),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
        accepted.push(rcpt);
    }
    cluster.kill("node1");
    let sink = Sink::start_with(SinkOptions {
        bind: Some(smarthost),
        ..Default::default()
    })
    .await;
    cluster.script("start");
    let delivered = sink.wait_for(accepted.len(), Duration::from_secs(30)).await;
    let mut got: Vec<String> = delivered
        .iter()
        .flat_map(|m| m.recipients.iter().map(|r| r.trim_matches(['<', '>']).to_string()))
        .collect();
    got.sort();
    got.dedup();
    accepted.sort();
    assert_eq!(
        got, accepted,
        "every message answered 250 is delivered after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_master_killed_mid_run_defers_then_counts_on_exactly() {
    let sink = Sink::start().await;
    let cluster = Cluster::start(sink.address);
    let mut next = 1;
    while next <= 8 {
        let reply = send(cluster.smtp[next % 2], &format!("r{next}@dest.example"), CAMPAIGN).await;
        assert!(reply.starts_with("250 2.0.0"), "recipient {next}: {reply}");
        next += 1;
    }
    let master = cluster.tenant_master();
    cluster.replica_caught_up(master);
    cluster.kill(&format!("redis-{master}"));
    let killed = Instant::now();
    // Deferred while no master serves the tenant's slot, then accepted again.
    let mut deferred = 0;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let reply = send(cluster.smtp[next % 2], &format!("r{next}@dest.example"), CAMPAIGN).await;
        if reply.starts_with("250 2.0.0") {
            break;
        }
        assert!(reply.starts_with("451 4.3.0"), "while the master is down: {reply}");
        deferred += 1;
        assert!(Instant::now() < deadline, "the replica never took over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(deferred > 0, "the first attempt after the kill is deferred");
    eprintln!(
        "master {master} killed: {deferred} attempts deferred, accepted again after {:?}",
        killed.elapsed()
    );
    assert_ne!(cluster.tenant_master(), master, "a replica took over");
    next += 1;
    while next <= 20 {
        let reply = send(cluster.smtp[next % 2], &format!("r{next}@dest.example"), CAMPAIGN).await;
        assert!(
            reply.starts_with("250 2.0.0"),
            "recipient {next} after the failover: {reply}"
        );
        next += 1;
    }
    let reply = send(cluster.smtp[0], "r21@dest.example", CAMPAIGN).await;
    assert!(
        reply.starts_with("550 5.7.1") && reply.contains("bulk.max_recipients"),
        "the 21st distinct recipient, counted across the failover: {reply}"
    );
}
