//! Policy decision latency: the whole DATA-stage decision (fingerprint, campaign index, SMS,
//! mail-bomb and bulk check-and-charge) plus the MAIL and RCPT checks, on an embedded RocksDB
//! store, for personalised variants of 50 campaigns; then the same with the authentication
//! checks (SPF for the egress address, DKIM verification, DMARC) against a DNS server on loopback
//! whose answers the resolver caches; then with an RSA-2048 DKIM signature as well. Prints p50/p99/p99.9 per message
//! (target: p99 < 1 ms, DNS excluded) and lets criterion measure the mean.
//!
//! Last, the checks on a Redis store (`policy@redis`: a `redis-server` the bench starts on a free
//! loopback port, quotas on as in `deploy/bench-policy/noauth`; target p99 < 2 ms).
//!
//! `cargo bench --bench policy` (`AUPGATE_BENCH_STAGE=policy+verification` runs one stage only;
//! `AUPGATE_BENCH_MESSAGE=driver` sends the load driver's message instead of personalised text)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aupgate::config::TenantConfig;
use aupgate::policy::profile::Profile;
use aupgate::policy::{DataContext, Engine, MailContext, RcptContext};
use aupgate::smtp::command::Path;
use aupgate::tenant::TenantDirectory;
use criterion::{criterion_group, criterion_main, Criterion};

/// The gateway's allocator (`src/main.rs`), so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(dead_code)]
#[path = "../tests/support/dns.rs"]
mod dns;

/// How the session says the message came in (the cleanup writes the Received field from it).
const ARRIVAL: aupgate::policy::cleanup::Arrival<'static> = aupgate::policy::cleanup::Arrival {
    helo: Some("client.test"),
    peer: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
    hostname: "gw.bench",
    tls: false,
    authenticated: false,
    smtputf8: false,
    now_ms: 1_795_428_000_000,
};

fn message(campaign: usize, n: usize) -> (Path, Vec<u8>) {
    // 5,000 recipients in rotation: the bulk sets stay under their cap however long criterion runs.
    let rcpt = Path::Mailbox {
        local: format!("user{}", n % 5_000),
        domain: "dest.example".to_string(),
    };
    if std::env::var_os("AUPGATE_BENCH_MESSAGE").is_some_and(|m| m == "driver") {
        // What the load driver (smtp-source -l 2048) sends: short headers, 26 lines of X.
        let body = format!(
            "From: <news@acme.example>\r\nTo: <user{n}@dest.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
             Message-Id: <{n}.bench@acme.example>\r\nSubject: probe {n}\r\n\r\n{}",
            format!("{}\r\n", "X".repeat(76)).repeat(26)
        );
        return (rcpt, body.into_bytes());
    }
    let body = format!(
        "From: news@acme.example\r\nTo: user{n}@dest.example\r\nSubject: Offer {campaign} for you\r\n\r\n\
         Dear Customer {n},\r\n\r\nThis is announcement number {campaign} of our store: {} {} {}.\r\n\
         Visit https://shop.acme.example/c{campaign}?t={n:x} and use code X{n:06}.\r\n{}\r\n",
        ["spring", "summer", "autumn", "winter", "holiday"][campaign % 5],
        ["shoes", "shirts", "books", "tools", "games", "garden"][campaign % 6],
        ["sale", "launch", "clearance", "preview"][campaign % 4],
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. ".repeat(12),
    );
    (rcpt, body.into_bytes())
}

/// How much of the DATA stage runs.
#[derive(Clone, Copy, PartialEq)]
enum Stage {
    /// The policy checks, no authentication.
    Checks,
    /// The checks, SPF and DMARC prediction, DKIM verification; no signing.
    Verify,
    /// All that and an RSA-2048 signature.
    Sign,
    /// The policy checks with quotas on, on a local `redis-server`.
    Redis,
}

/// A `redis-server` the bench started (on a free loopback port, never 6379), killed on drop.
struct RedisChild(std::process::Child, u16);

impl RedisChild {
    fn start(dir: &std::path::Path) -> RedisChild {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .arg("--dir")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let redis = RedisChild(child, port);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on {port}");
    }
}

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The engine; beyond `Stage::Checks`, the authentication stage too, with a DNS server on
/// loopback publishing the tenant's SPF (authorizing the egress address), DMARC p=reject and
/// the gateway's RSA-2048 key.
type Setup = (tempfile::TempDir, Option<RedisChild>, Arc<Engine>, Arc<TenantDirectory>);

fn setup(rt: &tokio::runtime::Runtime, stage: Stage) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut store_config = aupgate::store::StoreConfig::default();
    let redis = (stage == Stage::Redis).then(|| RedisChild::start(dir.path()));
    if let Some(redis) = &redis {
        store_config.backend = aupgate::store::Backend::Redis;
        store_config.urls = vec![format!("redis://127.0.0.1:{}/", redis.1)];
    }
    let store = rt
        .block_on(aupgate::store::open_store(&store_config, dir.path()))
        .unwrap();
    let mut profile = Profile::default();
    // Thresholds above the run's volume: every check runs and charges, nothing is refused.
    profile.bulk.max_recipients = 10_000;
    profile.mail_bomb.max_messages = 10_000;
    let quota = if stage == Stage::Redis { 10_000_000 } else { 0 };
    profile.quotas.messages_per_hour = quota;
    profile.quotas.messages_per_day = quota;
    profile.quotas.recipients_per_hour = quota;
    profile.quotas.recipients_per_day = quota;
    profile.dkim.sign = stage == Stage::Sign;
    let profile = Arc::new(profile);
    let profiles: HashMap<String, Arc<Profile>> = [("default".to_string(), profile.clone())].into_iter().collect();
    let mut engine = Engine::new(store, profiles, profile);
    if matches!(stage, Stage::Verify | Stage::Sign) {
        let mut config = aupgate::config::Config::demo();
        config.server.data_dir = dir.path().join("data").display().to_string();
        let key = aupgate::auth::keys::generate(
            &aupgate::auth::key_dir(&config),
            "acme.example",
            "bench",
            aupgate::auth::keys::Algorithm::Rsa2048,
        )
        .unwrap();
        let zone = dns::Zone::default();
        zone.cache_negative_answers(300);
        zone.add("_spf.gw.bench", dns::Record::Txt("v=spf1 ip4:192.0.2.25 -all".into()));
        zone.add(
            "acme.example",
            dns::Record::Txt("v=spf1 include:_spf.gw.bench -all".into()),
        );
        zone.add("_dmarc.acme.example", dns::Record::Txt("v=DMARC1; p=reject".into()));
        zone.add(&key.record_name(), dns::Record::Txt(key.dns_record()));
        let server = rt.block_on(dns::DnsServer::start(zone));
        config.dns.nameservers = vec![server.address.to_string()];
        config.authentication.egress_ips = vec!["192.0.2.25".parse().unwrap()];
        let resolver = aupgate::dns::Dns::new(&config.dns).unwrap();
        let authenticator = aupgate::auth::Authenticator::new(&config, &resolver).unwrap();
        engine = engine.with_authenticator(Arc::new(authenticator));
    }
    let tenants = Arc::new(TenantConfig::directory(&[TenantConfig {
        id: "acme".into(),
        domains: vec!["acme.example".into()],
        ..Default::default()
    }]));
    // As the gateway does at start: the tenant's block list is read (it has none).
    let acme = tenants.get("acme").unwrap();
    acme.narrow_blocks.note(&[], acme.narrow_blocks.generation());
    (dir, redis, Arc::new(engine), tenants)
}

async fn decide(engine: &Engine, tenants: &TenantDirectory, campaign: usize, n: usize) {
    let tenant = tenants.get("acme").unwrap();
    let sender = Path::Mailbox {
        local: "news".into(),
        domain: "acme.example".into(),
    };
    let (rcpt, body) = message(campaign, n);
    // As the session does: MAIL FROM reads RCPT TO's counters ahead (`policy::prefetch`).
    let (_, prefetched) = engine
        .on_mail_reading_ahead(&MailContext {
            tenant: &tenant,
            peer: "127.0.0.1".parse().unwrap(),
            sender: &sender,
            authenticated: false,
        })
        .await;
    engine
        .on_rcpt_with(
            &RcptContext {
                tenant: &tenant,
                sender: &sender,
                recipient: &rcpt,
                accepted_so_far: 0,
            },
            &prefetched,
        )
        .await;
    let recipients = [rcpt];
    // The session parses the message once and hands it to the engine.
    let message = aupgate::message::parse(&body);
    let decision = engine
        .on_data(&DataContext {
            tenant: &tenant,
            sender: &sender,
            recipients: &recipients,
            message: &message,
            arrival: Some(&ARRIVAL),
            queue_id: "BENCH",
        })
        .await;
    assert_eq!(decision.verdict, aupgate::policy::Verdict::Continue);
    let pending = decision.pending.expect("an accepted message has its bookkeeping");
    let ((), recording) = pending
        .with_campaign(None)
        .commit("bench", None, std::future::ready(()))
        .await;
    recording.written().await;
}

fn policy(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `cargo test --all-targets` runs benches once as a smoke test: keep that short.
    let samples = if std::env::args().any(|a| a == "--bench") {
        20_000
    } else {
        200
    };
    let stages = [
        (Stage::Checks, "policy"),
        (Stage::Verify, "policy+verification"),
        (Stage::Sign, "policy+authentication"),
        (Stage::Redis, "policy@redis"),
    ];
    let only = std::env::var("AUPGATE_BENCH_STAGE").ok();
    for (stage, label) in stages {
        if only.as_deref().is_some_and(|o| o != label) {
            continue;
        }
        let (_dir, _redis, engine, tenants) = setup(&rt, stage);
        let store = if stage == Stage::Redis { "Redis" } else { "RocksDB" };
        let mut latencies: Vec<Duration> = Vec::with_capacity(samples);
        rt.block_on(async {
            for n in 0..samples {
                let start = Instant::now();
                decide(&engine, &tenants, n % 50, n).await;
                latencies.push(start.elapsed());
            }
        });
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        println!(
            "{label} decision per message (MAIL+RCPT+DATA+accept, {store}): p50 {:?}  p99 {:?}  p99.9 {:?}  (n = {})",
            at(0.50),
            at(0.99),
            at(0.999),
            latencies.len()
        );
        let mut n = 100_000usize;
        c.bench_function(&format!("{label}/decision"), |b| {
            b.iter(|| {
                n += 1;
                rt.block_on(decide(&engine, &tenants, n % 50, n))
            })
        });
    }
}

criterion_group!(benches, policy);
criterion_main!(benches);
