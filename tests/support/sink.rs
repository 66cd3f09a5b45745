//! A real next-hop SMTP sink on loopback. It records every message it accepts and fails on purpose
//! by recipient local part: `tempfail@` → `451 4.3.0`, `permfail@` → `550 5.1.1`, `refused@` →
//! `550 5.7.1` (a policy refusal, not a bad address), `disconnect@` →
//! drops the connection at RCPT. It offers SIZE, 8BITMIME and SMTPUTF8 unless told not to, and
//! records the MAIL FROM parameters it was given.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    /// The transaction ran over TLS (STARTTLS).
    pub tls: bool,
    /// The user the client authenticated as, if any.
    pub auth_user: Option<String>,
    pub sender: String,
    /// The words after the path on MAIL FROM (`BODY=8BITMIME`, `SMTPUTF8`, `SIZE=123`).
    pub mail_params: Vec<String>,
    pub recipients: Vec<String>,
    /// The message exactly as it came off the wire, dot-unstuffed, without the terminator.
    pub data: Vec<u8>,
}

#[derive(Clone)]
pub struct Sink {
    pub address: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    /// Every command line received, with whether TLS was up.
    commands: Arc<Mutex<Vec<(bool, String)>>>,
    /// Open connections now, and the most seen at once.
    open: Arc<std::sync::atomic::AtomicUsize>,
    peak: Arc<std::sync::atomic::AtomicUsize>,
}

/// Optional sink features.
#[derive(Clone, Default)]
pub struct SinkOptions {
    /// Offer STARTTLS (self-signed certificate).
    pub starttls: bool,
    /// Offer AUTH PLAIN and require it, with this user and password.
    pub auth: Option<(String, String)>,
    /// The certificate STARTTLS (or implicit TLS) presents; a self-signed one for `localhost`
    /// when unset.
    pub acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// TLS from the first byte (a 465-style smarthost).
    pub implicit_tls: bool,
    /// Where to listen (`127.0.0.1:0` when unset).
    pub bind: Option<SocketAddr>,
    /// Do not offer SMTPUTF8 (and refuse the parameter, `555`).
    pub no_smtputf8: bool,
    /// Do not offer 8BITMIME (and refuse `BODY=8BITMIME`, `555`).
    pub no_8bitmime: bool,
}

impl Sink {
    pub async fn start() -> Sink {
        Sink::start_with(SinkOptions::default()).await
    }

    pub async fn start_with(options: SinkOptions) -> Sink {
        let bind = options.bind.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
        let listener = TcpListener::bind(bind).await.expect("bind sink");
        let address = listener.local_addr().expect("sink address");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let command_log = commands.clone();
        let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (open_count, peak_count) = (open.clone(), peak.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                let command_log = command_log.clone();
                let options = options.clone();
                let (open_count, peak_count) = (open_count.clone(), peak_count.clone());
                tokio::spawn(async move {
                    use std::sync::atomic::Ordering::SeqCst;
                    let now = open_count.fetch_add(1, SeqCst) + 1;
                    peak_count.fetch_max(now, SeqCst);
                    let stream: Box<dyn Stream> = if options.implicit_tls {
                        let acceptor = options.acceptor.clone().unwrap_or_else(tls_acceptor);
                        match acceptor.accept(stream).await {
                            Ok(tls) => Box::new(tls),
                            Err(_) => {
                                open_count.fetch_sub(1, SeqCst);
                                return;
                            }
                        }
                    } else {
                        Box::new(stream)
                    };
                    let _ = handle(stream, store, command_log, options).await;
                    open_count.fetch_sub(1, SeqCst);
                });
            }
        });
        Sink {
            address,
            messages,
            commands,
            open,
            peak,
        }
    }

    /// The most connections that were open at once.
    pub fn peak_connections(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every command line received so far (without CRLF), with whether TLS was up.
    pub fn commands(&self) -> Vec<(bool, String)> {
        self.commands.lock().unwrap().clone()
    }

    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    /// Forgets the messages received so far.
    pub fn clear(&self) {
        self.messages.lock().unwrap().clear();
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

impl Sink {
    /// Waits for the message to `recipient` (panics after `timeout`).
    pub async fn wait_for_recipient(&self, recipient: &str, timeout: Duration) -> Received {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = self
                .messages()
                .into_iter()
                .find(|m| m.recipients.iter().any(|r| r == recipient))
            {
                return found;
            }
            assert!(tokio::time::Instant::now() < deadline, "nothing relayed to {recipient}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Stream for T {}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn handle(
    stream: Box<dyn Stream>,
    store: Arc<Mutex<Vec<Received>>>,
    commands: Arc<Mutex<Vec<(bool, String)>>>,
    options: SinkOptions,
) -> std::io::Result<()> {
    let mut conn = BufReader::new(stream);
    conn.write_all(b"220 sink.test ESMTP\r\n").await?;
    let mut tls = options.implicit_tls;
    let mut auth_user: Option<String> = None;
    let mut sender = String::new();
    let mut mail_params: Vec<String> = Vec::new();
    let mut recipients = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        commands.lock().unwrap().push((tls, line.trim_end().to_string()));
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            let mut lines = vec!["sink.test", "PIPELINING", "SIZE 10485760"];
            if options.starttls && !tls {
                lines.push("STARTTLS");
            }
            if options.auth.is_some() {
                lines.push("AUTH PLAIN");
            }
            if !options.no_8bitmime {
                lines.push("8BITMIME");
            }
            if !options.no_smtputf8 {
                lines.push("SMTPUTF8");
            }
            let last = lines.len() - 1;
            let reply: String = lines
                .iter()
                .enumerate()
                .map(|(i, line)| format!("250{}{line}\r\n", if i == last { ' ' } else { '-' }))
                .collect();
            conn.write_all(reply.as_bytes()).await?;
        } else if upper.starts_with("STARTTLS") && options.starttls && !tls {
            conn.write_all(b"220 2.0.0 go ahead\r\n").await?;
            let inner = conn.into_inner();
            let acceptor = options.acceptor.clone().unwrap_or_else(tls_acceptor);
            let encrypted = acceptor.accept(inner).await?;
            conn = BufReader::new(Box::new(encrypted));
            tls = true;
        } else if upper.starts_with("AUTH PLAIN") {
            use base64::Engine as _;
            let encoded = line.trim_end().rsplit(' ').next().unwrap_or("");
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default();
            let parts: Vec<String> = decoded
                .split(|&b| b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            match (&options.auth, parts.as_slice()) {
                (Some((user, pass)), [_, u, p]) if u == user && p == pass => {
                    auth_user = Some(u.clone());
                    conn.write_all(b"235 2.7.0 ok\r\n").await?;
                }
                _ => conn.write_all(b"535 5.7.8 bad credentials\r\n").await?,
            }
        } else if upper.starts_with("HELO") {
            conn.write_all(b"250 sink.test\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            if options.auth.is_some() && auth_user.is_none() {
                conn.write_all(b"530 5.7.0 authentication required\r\n").await?;
                continue;
            }
            let params: Vec<String> = line
                .trim_end()
                .rsplit_once('>')
                .map(|(_, rest)| rest.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            let refused = params.iter().find(|p| {
                (options.no_smtputf8 && p.eq_ignore_ascii_case("SMTPUTF8"))
                    || (options.no_8bitmime && p.to_ascii_uppercase().starts_with("BODY="))
            });
            if let Some(param) = refused {
                conn.write_all(format!("555 5.5.4 {param} not supported\r\n").as_bytes())
                    .await?;
                continue;
            }
            sender = between(&line, '<', '>');
            mail_params = params;
            recipients.clear();
            conn.write_all(b"250 2.1.0 ok\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = between(&line, '<', '>');
            let local = rcpt.split('@').next().unwrap_or("").to_ascii_lowercase();
            match local.as_str() {
                "tempfail" => conn.write_all(b"451 4.3.0 try later\r\n").await?,
                "permfail" => conn.write_all(b"550 5.1.1 no such user\r\n").await?,
                "refused" => conn.write_all(b"550 5.7.1 refused by local policy\r\n").await?,
                "disconnect" => return Ok(()),
                _ => {
                    recipients.push(rcpt);
                    conn.write_all(b"250 2.1.5 ok\r\n").await?;
                }
            }
        } else if upper.starts_with("DATA") {
            conn.write_all(b"354 go\r\n").await?;
            let data = read_data(&mut conn).await?;
            store.lock().unwrap().push(Received {
                tls,
                auth_user: auth_user.clone(),
                sender: sender.clone(),
                mail_params: mail_params.clone(),
                recipients: recipients.clone(),
                data,
            });
            conn.write_all(b"250 2.0.0 stored\r\n").await?;
        } else if upper.starts_with("RSET") {
            recipients.clear();
            conn.write_all(b"250 2.0.0 ok\r\n").await?;
        } else if upper.starts_with("QUIT") {
            conn.write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            conn.write_all(b"250 2.0.0 ok\r\n").await?;
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
