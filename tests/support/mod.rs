//! Shared test harness: the real gateway in-process on loopback, a real next-hop sink, a real DNS
//! server, and a transcript client.
#![allow(dead_code)]

pub mod client;
pub mod dns;
pub mod fixtures;
pub mod https;
pub mod sink;
pub mod tls_ca;
pub mod verifier;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use aupgate::config::Config;
use aupgate::server::Gateway;
use tokio::net::TcpStream;

pub use client::Client;
pub use sink::Sink;

/// Password of every test credential.
pub const PASSWORD: &str = "correct horse";

/// One argon2id hash of `PASSWORD`, computed once per test binary.
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| aupgate::tenant::hash_password(PASSWORD).expect("hash"))
}

/// The config every end-to-end test starts from: three listeners on free ports (relay, submission
/// with AUTH, implicit TLS), smarthost relay to the sink, fast retries, and three tenants.
pub fn config_text(data_dir: &std::path::Path, sink: SocketAddr) -> String {
    format!(
        r#"
[server]
hostname = "gw.test"
data_dir = "{data_dir}"
shutdown_grace = "5s"

[admin]
address = "127.0.0.1:0"

[policy]
directory = "{data_dir}/policies"

[[listener]]
name = "relay"
address = "127.0.0.1:0"

[[listener]]
name = "submission"
address = "127.0.0.1:0"
require_auth = true

[[listener]]
name = "submissions"
address = "127.0.0.1:0"
tls = "implicit"
require_auth = true

[limits]
max_recipients = 5
max_message_size = "64KiB"
max_errors = 20

[queue]
retry_initial = "300ms"
retry_max = "1s"
max_age = "1h"

[relay]
mode = "smarthost"
timeout = "5s"

[relay.smarthost]
host = "{sink_ip}"
port = {sink_port}

[[tenant]]
id = "acme"
name = "Acme"
networks = ["127.0.0.0/8"]
domains = ["acme.example"]
contact = "abuse@provider.test"

[[tenant.credentials]]
username = "acme-user"
password_hash = "{hash}"

[[tenant]]
id = "remote"
networks = ["10.9.0.0/16"]
domains = ["remote.example"]

[[tenant.credentials]]
username = "remote-user"
password_hash = "{hash}"

[[tenant]]
id = "roaming"
domains = ["roaming.example"]

[[tenant.credentials]]
username = "roaming-user"
password_hash = "{hash}"
"#,
        data_dir = data_dir.display(),
        sink_ip = sink.ip(),
        sink_port = sink.port(),
        hash = password_hash(),
    )
}

/// A running gateway with its sink, its DNS server and data directory.
pub struct Harness {
    pub gateway: Gateway,
    pub sink: Sink,
    /// The gateway's resolver asks only this server (empty zone unless a test adds records):
    /// SPF, DKIM and DMARC lookups never leave loopback.
    pub dns: dns::DnsServer,
    pub dir: tempfile::TempDir,
}

/// The egress address the test gateway claims (SPF is evaluated for it).
pub const EGRESS_IP: &str = "192.0.2.25";

impl Harness {
    /// Starts the gateway with the base config, changed by `edit`.
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> Harness {
        Harness::start_with_profile(None, edit).await
    }

    /// Like `start_with`, with `profile` (TOML) installed as the `default` policy profile.
    pub async fn start_with_profile(profile: Option<&str>, edit: impl FnOnce(&mut Config)) -> Harness {
        let sink = Sink::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        if let Some(profile) = profile {
            std::fs::create_dir_all(dir.path().join("policies")).unwrap();
            std::fs::write(dir.path().join("policies/default.toml"), profile).unwrap();
        }
        let dns = dns::DnsServer::start(dns::Zone::default()).await;
        let mut config = Config::parse(&config_text(dir.path(), sink.address)).expect("test config");
        config.dns.nameservers = vec![dns.address.to_string()];
        config.dns.timeout = aupgate::config::HumanDuration::secs(2);
        config.authentication.egress_ips = vec![EGRESS_IP.parse().unwrap()];
        config.authentication.spf_include = "_spf.gw.test".into();
        edit(&mut config);
        let gateway = Gateway::start(config).await.expect("gateway start");
        Harness {
            gateway,
            sink,
            dns,
            dir,
        }
    }

    pub async fn start() -> Harness {
        Harness::start_with(|_| {}).await
    }

    /// Like `start_with`, relaying to `sink` (at 127.0.0.1) as its smarthost instead of its own.
    pub async fn start_relaying_to(sink: &Sink, edit: impl FnOnce(&mut Config)) -> Harness {
        let port = sink.address.port();
        Harness::start_with(move |c| {
            c.relay.smarthost.port = port;
            edit(c);
        })
        .await
    }

    /// Waits until the queue holds no entry (panics after `timeout`). A message leaves the queue
    /// only once it is settled, and a DSN it causes is queued before it leaves: an empty queue
    /// means every relay and bounce decision for what was accepted so far has been made and
    /// carried out, so what the sink has then is all it will ever get.
    pub async fn wait_queue_empty(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let stored = self.gateway.queue.stored().await.expect("queue scan");
            if stored == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{stored} queue entries still there after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the queued message `id` has been tried at least once (panics after 10 s);
    /// returns its first recipient's last reply.
    pub async fn first_attempt(&self, id: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (entry, _) = self.gateway.queue.load(id).await.expect("still queued");
            if entry.attempts >= 1 {
                return entry.recipients[0]
                    .last_reply
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
            }
            assert!(tokio::time::Instant::now() < deadline, "no delivery attempt");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The relay listener (identification by network).
    pub fn relay_addr(&self) -> SocketAddr {
        self.gateway.smtp_addresses[0]
    }

    pub fn submission_addr(&self) -> SocketAddr {
        self.gateway.smtp_addresses[1]
    }

    pub fn implicit_tls_addr(&self) -> SocketAddr {
        self.gateway.smtp_addresses[2]
    }

    /// Connects to `address` from the loopback address `source` (any of 127.0.0.0/8: a test can
    /// be several clients) without reading the greeting.
    pub async fn open_from(&self, address: SocketAddr, source: &str) -> Client<TcpStream> {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(source.parse().expect("source ip"), 0))
            .expect("bind source");
        Client::new(socket.connect(address).await.expect("connect"))
    }

    /// Connects to `address` from `source` and reads the greeting.
    pub async fn connect_from(&self, address: SocketAddr, source: &str) -> Client<TcpStream> {
        let mut client = self.open_from(address, source).await;
        client.expect("220 gw.test").await;
        client
    }

    /// Connects to `address` and reads the greeting.
    pub async fn connect(&self, address: SocketAddr) -> Client<TcpStream> {
        let stream = TcpStream::connect(address).await.expect("connect");
        let mut client = Client::new(stream);
        client.expect("220 gw.test").await;
        client
    }
}

/// A TLS client config that accepts any certificate (the gateway's is self-signed in tests).
pub fn insecure_tls() -> tokio_rustls::TlsConnector {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    struct AcceptAll;
    impl ServerCertVerifier for AcceptAll {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("tls versions")
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AcceptAll))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

/// base64 of `\0user\0password` for AUTH PLAIN.
pub fn plain(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

/// Sends one message on a fresh relay-listener session and returns the final reply line.
pub async fn send_message(h: &Harness, from: &str, to: &[&str], data: &str) -> String {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    let reply = c.send(&format!("MAIL FROM:<{from}>"), "").await;
    if !reply.last().unwrap().starts_with("250") {
        return reply.last().unwrap().clone();
    }
    for rcpt in to {
        let reply = c.send(&format!("RCPT TO:<{rcpt}>"), "").await;
        if !reply.last().unwrap().starts_with("250") {
            return reply.last().unwrap().clone();
        }
    }
    c.send("DATA", "354").await;
    c.write(data.as_bytes()).await;
    c.write(b".\r\n").await;
    c.read_reply().await.last().unwrap().clone()
}

/// Sends `data` (without the terminating dot) on a fresh relay-listener session as
/// `MAIL FROM:<from>` followed by `params` (e.g. `" BODY=8BITMIME"`); every step must succeed.
/// Returns the queue id from the `250`.
pub async fn send_queued(h: &Harness, from: &str, params: &str, to: &[&str], data: &[u8]) -> String {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send(&format!("MAIL FROM:<{from}>{params}"), "250 2.1.0").await;
    for rcpt in to {
        c.send(&format!("RCPT TO:<{rcpt}>"), "250 2.1.5").await;
    }
    c.send("DATA", "354").await;
    c.write(data).await;
    c.write(b".\r\n").await;
    let reply = c.expect("250 2.0.0 OK queued as ").await;
    c.send("QUIT", "221 2.0.0").await;
    reply.last().unwrap().rsplit(' ').next().unwrap().to_string()
}

/// Runs `aupgate admin ARGS` (the real binary) against the harness's admin API, with
/// `AUPGATE_TOKEN` set to `token` or unset; the exit code, stdout and stderr.
/// `aupgate admin blocks lift --tenant T --reason R --by bob` (a tenant block) against the
/// harness's admin API: whether it succeeded, and its stderr.
pub fn lift_tenant_block(h: &Harness, tenant: &str, reason: &str) -> (bool, String) {
    let (code, _, stderr) = admin_cli(
        h,
        &["blocks", "lift", "--tenant", tenant, "--reason", reason, "--by", "bob"],
        None,
    );
    (code == Some(0), stderr)
}

pub fn admin_cli(h: &Harness, args: &[&str], token: Option<&str>) -> (Option<i32>, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aupgate"));
    command
        .arg("admin")
        .arg("--url")
        .arg(format!("http://{}", h.gateway.admin_address))
        .args(args)
        .env_remove("AUPGATE_TOKEN");
    if let Some(token) = token {
        command.env("AUPGATE_TOKEN", token);
    }
    let output = command.output().expect("run aupgate admin");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
