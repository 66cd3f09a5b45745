//! Outbound SMTP for one transaction to one next hop, on mail-send's `SmtpClient`: greeting, EHLO,
//! STARTTLS (or implicit TLS) as the hop's mode says, optional AUTH, MAIL, one RCPT per recipient
//! with its own outcome, DATA with dot-stuffing. A timeout bounds every phase. It never sends
//! credentials over a connection without TLS unless the hop allows it (`insecure_auth`).

use std::net::SocketAddr;
use std::time::Duration;

use mail_send::Credentials;
use mail_send::SmtpClient;
use smtp_proto::{EhloResponse, EXT_8BIT_MIME, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::tls::Connectors;
use crate::config::OutboundTls;
use crate::queue::MailParams;
use crate::relay::envelope::{self, Content, Offered};
use crate::relay::response::{EnhancedStatus, Reason, Response, Stage};

/// What happened to one recipient: the next hop's reply as parsed, or (for a failure) our own
/// reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(Response),
    Temporary(Reason),
    Permanent(Reason),
}

/// One transaction to deliver.
pub struct Transaction<'a> {
    pub sender: &'a str,
    pub recipients: &'a [String],
    pub trace: &'a [u8],
    pub body: &'a [u8],
    /// What the client declared on MAIL FROM (`SMTPUTF8`, `BODY=`), declared again.
    pub params: MailParams,
    /// Where the message has 8-bit octets (`Content::of(trace, body)`, computed once).
    pub content: Content,
}

/// How to talk to the next hop.
pub struct HopSettings<'a> {
    pub helo: &'a str,
    /// The TLS mode for this hop (the configured one, or `required` under an MTA-STS policy).
    pub tls: OutboundTls,
    pub connectors: &'a Connectors,
    /// DANE: the next hop's certificate must match one of these TLSA records (`tls` is then
    /// `required`).
    pub dane: Option<std::sync::Arc<Vec<super::dane::Tlsa>>>,
    /// May send the credentials without TLS (a loopback smarthost, `insecure_auth`).
    pub insecure_auth: bool,
    pub implicit_tls: bool,
    pub tls_name: &'a str,
    pub credentials: Option<(String, String)>,
    pub timeout: Duration,
}

impl HopSettings<'_> {
    /// The TLS connector for this hop: DANE's when it has TLSA records, else its mode's.
    fn connector(&self) -> Option<tokio_rustls::TlsConnector> {
        match &self.dane {
            Some(records) => Some(self.connectors.dane(records.clone())),
            None => self.connectors.for_mode(self.tls).cloned(),
        }
    }
}

/// A failure before any recipient could be judged: applies to all of them.
#[derive(Debug)]
pub struct SessionFailure {
    /// This next hop cannot take the message (it lacks an extension the message needs);
    /// another MX host may: a permanent failure only when no host can.
    pub unsupported: bool,
    pub reason: Reason,
}

impl SessionFailure {
    /// Our own reason in words (no reply was had): always temporary.
    fn temporary(reason: impl Into<String>) -> Self {
        SessionFailure {
            unsupported: false,
            reason: Reason::Local(reason.into()),
        }
    }

    /// The hop does not meet the TLS this mail requires (`451 4.7.5`): retried later.
    fn tls_policy(text: String) -> Self {
        SessionFailure {
            unsupported: false,
            reason: Response::new(451, Some(EnhancedStatus::new(4, 7, 5)), text).into(),
        }
    }

    /// Next hop `host` refused the transaction at `stage`.
    fn from_reply(stage: Stage, host: &str, response: &smtp_proto::Response<String>) -> Self {
        SessionFailure {
            unsupported: false,
            reason: Reason::Refused {
                stage,
                reply: Response::from_hop(host, response),
            },
        }
    }

    /// A `5xx` refusal: no other host or later attempt will do better. A hop that lacks what
    /// the message needs (`unsupported`) is not: another host may have it.
    pub fn is_permanent(&self) -> bool {
        !self.unsupported && self.reason.is_permanent()
    }
}

fn io_failure(stage: &str, error: impl std::fmt::Display) -> SessionFailure {
    SessionFailure::temporary(format!("{stage}: {error}"))
}

/// The byte stream under an outbound connection (plain TCP or TLS).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// An open, greeted (and possibly encrypted and authenticated) connection to a next hop, ready
/// for MAIL FROM. Connections are reused for further transactions (see `pool`).
pub struct Connection {
    client: SmtpClient<Box<dyn Stream>>,
    pub key: HopKey,
    /// The extensions of the last EHLO (smtp-proto's `EXT_*` bits): what MAIL FROM may declare.
    extensions: u32,
}

/// What a pooled connection may be reused for: the same address, TLS mode and TLS name, so a
/// connection opened without verification never carries mail that requires it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HopKey {
    pub address: SocketAddr,
    pub tls: OutboundTls,
    pub tls_name: String,
    /// Authenticated by DANE rather than by a CA.
    pub dane: bool,
}

impl HopKey {
    pub fn new(address: SocketAddr, hop: &HopSettings<'_>) -> HopKey {
        HopKey {
            address,
            tls: hop.tls,
            tls_name: hop.tls_name.to_ascii_lowercase(),
            dane: hop.dane.is_some(),
        }
    }
}

fn boxed<T: Stream + 'static>(client: SmtpClient<T>) -> SmtpClient<Box<dyn Stream>> {
    SmtpClient {
        stream: Box::new(client.stream),
        timeout: client.timeout,
    }
}

/// Connects to `address`: greeting, EHLO, TLS as the hop's mode says, EHLO again, AUTH.
pub async fn connect(address: SocketAddr, hop: &HopSettings<'_>) -> Result<Connection, SessionFailure> {
    let mut plain = SmtpClient::connect(address, hop.timeout)
        .await
        .map_err(|e| io_failure("connect", e))?;
    let (mut client, capabilities, encrypted) = if hop.implicit_tls {
        let Some(connector) = hop.connector() else {
            return Err(SessionFailure::temporary("implicit TLS with TLS disabled"));
        };
        let mut client = boxed(
            plain
                .into_tls(&connector, hop.tls_name)
                .await
                .map_err(|e| tls_failure(hop, e))?,
        );
        greet(&mut client, hop).await?;
        let capabilities = ehlo(&mut client, hop).await?;
        (client, capabilities, true)
    } else {
        greet(&mut plain, hop).await?;
        let capabilities = ehlo(&mut plain, hop).await?;
        let offers_tls = capabilities.capabilities & EXT_START_TLS != 0;
        match (hop.connector(), offers_tls) {
            (Some(_), false) if hop.tls.requires_tls() => {
                return Err(SessionFailure::tls_policy(format!(
                    "next hop {} does not offer STARTTLS ({})",
                    hop.tls_name,
                    mode_name(hop.tls)
                )));
            }
            (Some(connector), true) => {
                let mut client = boxed(
                    plain
                        .start_tls(&connector, hop.tls_name)
                        .await
                        .map_err(|e| tls_failure(hop, e))?,
                );
                let capabilities = ehlo(&mut client, hop).await?;
                (client, capabilities, true)
            }
            (None, _) | (Some(_), false) => (boxed(plain), capabilities, false),
        }
    };
    if let Some((user, password)) = &hop.credentials {
        // A man in the middle who strips STARTTLS, or answers it with his own certificate, must
        // not get the smarthost's password: only TLS the hop requires (verified, unless the
        // operator chose `required_insecure`) carries it.
        let protected = encrypted && hop.tls.requires_tls();
        if !protected && !hop.insecure_auth {
            return Err(SessionFailure::tls_policy(format!(
                "not sending credentials to {} without required TLS",
                hop.tls_name
            )));
        }
        client
            .authenticate(Credentials::new(user.as_str(), password.as_str()), &capabilities)
            .await
            .map_err(|e| SessionFailure::temporary(format!("AUTH: {e}")))?;
    }
    Ok(Connection {
        client,
        key: HopKey::new(address, hop),
        extensions: capabilities.capabilities,
    })
}

fn mode_name(mode: OutboundTls) -> &'static str {
    match mode {
        OutboundTls::Opportunistic => "opportunistic",
        OutboundTls::Required => "required",
        OutboundTls::RequiredInsecure => "required_insecure",
        OutboundTls::Disabled => "disabled",
    }
}

/// A failed handshake; with verification on, names the certificate problem.
fn tls_failure(hop: &HopSettings<'_>, error: mail_send::Error) -> SessionFailure {
    match error {
        mail_send::Error::Tls(tls) if hop.tls.verifies() => {
            SessionFailure::tls_policy(format!("certificate of {} does not verify: {tls}", hop.tls_name))
        }
        other => io_failure("TLS", other),
    }
}

impl Connection {
    /// Says goodbye (best effort).
    pub async fn quit(self) {
        let _ = self.client.quit().await;
    }
}

async fn greet<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    hop: &HopSettings<'_>,
) -> Result<(), SessionFailure> {
    let greeting = tokio::time::timeout(hop.timeout, client.read())
        .await
        .map_err(|_| SessionFailure::temporary("greeting: timeout"))?
        .map_err(|e| io_failure("greeting", e))?;
    if greeting.code != 220 {
        return Err(SessionFailure::from_reply(Stage::Greeting, hop.tls_name, &greeting));
    }
    Ok(())
}

async fn ehlo<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    hop: &HopSettings<'_>,
) -> Result<EhloResponse<String>, SessionFailure> {
    client.ehlo(hop.helo).await.map_err(|e| match e {
        mail_send::Error::UnexpectedReply(response) => SessionFailure::from_reply(Stage::Ehlo, hop.tls_name, &response),
        other => io_failure("EHLO", other),
    })
}

/// Runs one transaction on an open connection; per-recipient outcomes, in order. MAIL FROM
/// declares what the message needs and the hop offers (`envelope::plan`); what the hop cannot
/// take fails permanently without being sent. On `Ok` the connection is ready for the next MAIL
/// FROM; on `Err` it must be dropped.
pub async fn transact(
    connection: &mut Connection,
    hop: &HopSettings<'_>,
    tx: &Transaction<'_>,
) -> Result<Vec<Outcome>, SessionFailure> {
    let offered = Offered {
        smtputf8: connection.extensions & EXT_SMTP_UTF8 != 0,
        eight_bit_mime: connection.extensions & EXT_8BIT_MIME != 0,
        size: connection.extensions & EXT_SIZE != 0,
    };
    let size = tx.trace.len() + tx.body.len();
    let plan = match envelope::plan(tx.sender, tx.recipients, tx.params, tx.content, offered, size) {
        Ok(plan) => plan,
        Err(reason) => {
            return Err(SessionFailure {
                unsupported: true,
                reason: Response::from_reply(&reason).into(),
            })
        }
    };
    if plan.refused.iter().all(Option::is_some) {
        return Ok(plan
            .refused
            .into_iter()
            .flatten()
            .map(|r| Outcome::Permanent(Response::from_reply(&r).into()))
            .collect());
    }
    let client = &mut connection.client;
    let mail = command(client, plan.mail_from, "MAIL").await?;
    if mail.code != 250 {
        let failure = SessionFailure::from_reply(Stage::Mail, hop.tls_name, &mail);
        let _ = command(client, "RSET\r\n".to_string(), "RSET").await;
        return Err(failure);
    }
    let mut outcomes = Vec::with_capacity(tx.recipients.len());
    let mut accepted = 0usize;
    for (recipient, refused) in tx.recipients.iter().zip(plan.refused) {
        if let Some(reason) = refused {
            outcomes.push(Outcome::Permanent(Response::from_reply(&reason).into()));
            continue;
        }
        let response = command(client, format!("RCPT TO:<{recipient}>\r\n"), "RCPT").await?;
        let reply = Response::from_hop(hop.tls_name, &response);
        outcomes.push(match response.code {
            250 | 251 => {
                accepted += 1;
                Outcome::Delivered(reply)
            }
            code if code >= 500 => Outcome::Permanent(reply.into()),
            _ => Outcome::Temporary(reply.into()),
        });
    }
    if accepted == 0 {
        let reset = command(client, "RSET\r\n".to_string(), "RSET").await?;
        if reset.code != 250 {
            return Err(SessionFailure::from_reply(Stage::Rset, hop.tls_name, &reset));
        }
        return Ok(outcomes);
    }
    let data = command(client, "DATA\r\n".to_string(), "DATA").await?;
    if data.code != 354 {
        return Err(SessionFailure::from_reply(Stage::Data, hop.tls_name, &data));
    }
    let final_reply = tokio::time::timeout(hop.timeout * 5, async {
        write_stuffed(&mut client.stream, tx.trace, tx.body).await?;
        client.read().await.map_err(|e| std::io::Error::other(e.to_string()))
    })
    .await
    .map_err(|_| SessionFailure::temporary("end of data: timeout"))?
    .map_err(|e| io_failure("end of data", e))?;
    let reply = Response::from_hop(hop.tls_name, &final_reply);
    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Delivered(_) if final_reply.code == 250 => Outcome::Delivered(reply.clone()),
            Outcome::Delivered(_) if final_reply.code >= 500 => Outcome::Permanent(reply.clone().into()),
            Outcome::Delivered(_) => Outcome::Temporary(reply.clone().into()),
            other => other,
        })
        .collect())
}

async fn command<T: AsyncRead + AsyncWrite + Unpin>(
    client: &mut SmtpClient<T>,
    line: String,
    stage: &str,
) -> Result<smtp_proto::Response<String>, SessionFailure> {
    client.cmd(line.as_bytes()).await.map_err(|e| io_failure(stage, e))
}

/// How much stuffed data is written at a time: a delivery holds this, not a second copy of the
/// message.
const WRITE_CHUNK: usize = 64 * 1024;

/// Writes trace headers and body with dot-stuffing and the terminator, [`WRITE_CHUNK`] bytes at
/// a time. The body comes from our receiver, so it holds only CRLF line ends and ends with CRLF
/// (or is empty).
pub async fn write_stuffed<W: AsyncWrite + Unpin>(out: &mut W, trace: &[u8], body: &[u8]) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(WRITE_CHUNK + WRITE_CHUNK / 64 + 8);
    let mut at_line_start = true;
    for part in [trace, body] {
        for piece in part.chunks(WRITE_CHUNK) {
            stuff_piece(&mut buffer, piece, &mut at_line_start);
            if buffer.len() >= WRITE_CHUNK {
                out.write_all(&buffer).await?;
                buffer.clear();
            }
        }
    }
    buffer.extend_from_slice(terminator(trace, body));
    out.write_all(&buffer).await?;
    out.flush().await
}

/// Dot-stuffs `trace` + `body` (RFC 5321 4.5.2) and appends `CRLF.CRLF` (or just `.CRLF` when the
/// content already ends with CRLF).
pub fn stuff_into(out: &mut Vec<u8>, trace: &[u8], body: &[u8]) {
    let mut at_line_start = true;
    for part in [trace, body] {
        stuff_piece(out, part, &mut at_line_start);
    }
    out.extend_from_slice(terminator(trace, body));
}

fn stuff_piece(out: &mut Vec<u8>, piece: &[u8], at_line_start: &mut bool) {
    for &byte in piece {
        if *at_line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        *at_line_start = byte == b'\n';
    }
}

/// The end of data after `trace` + `body`: `.CRLF` when they are empty or end with CRLF.
fn terminator(trace: &[u8], body: &[u8]) -> &'static [u8] {
    let last = |back: usize| {
        let len = trace.len() + body.len();
        let at = len.checked_sub(back)?;
        Some(if at < trace.len() {
            trace[at]
        } else {
            body[at - trace.len()]
        })
    };
    match (last(2), last(1)) {
        (_, None) | (Some(b'\r'), Some(b'\n')) => b".\r\n",
        _ => b"\r\n.\r\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::data::{DataReceiver, Progress};

    #[test]
    fn stuffing_round_trips_through_our_receiver() {
        let bodies: &[&[u8]] = &[b"", b"a\r\n", b".\r\n", b"..\r\n.x\r\n", b"line\r\n.\r\nafter\r\n"];
        for body in bodies {
            let mut wire = Vec::new();
            stuff_into(&mut wire, b"Received: x\r\n", body);
            let mut receiver = DataReceiver::new(1 << 20, 998);
            assert_eq!(receiver.feed(&wire), Progress::Done { consumed: wire.len() });
            let mut expected = b"Received: x\r\n".to_vec();
            expected.extend_from_slice(body);
            assert_eq!(receiver.finish().unwrap(), expected, "{body:?}");
        }
    }

    #[tokio::test]
    async fn chunked_writes_stuff_like_one_buffer() {
        // Lines that start with a dot on and around every chunk boundary.
        let mut large = Vec::new();
        while large.len() < 3 * WRITE_CHUNK {
            large.extend_from_slice(b".dot\r\n");
            large.extend_from_slice(&[b'x'; 93][..large.len() % 93]);
            large.extend_from_slice(b"\r\n");
        }
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b""),
            (b"Received: x\r\n", b""),
            (b"", b"no final line end"),
            (b"A: b\r", b"\n"),
            (b"Received: x\r\n", &large),
        ];
        for (trace, body) in cases {
            let mut whole = Vec::new();
            stuff_into(&mut whole, trace, body);
            let mut written = Vec::new();
            write_stuffed(&mut written, trace, body).await.expect("written");
            assert!(written == whole, "trace {trace:?}, body of {} bytes", body.len());
        }
    }
}
