//! DNSSEC-validated answers, for DANE (RFC 7672). aupgate does not validate signatures itself: like
//! Postfix (`smtp_dns_support_level = dnssec`) it trusts the AD bit of a validating resolver the
//! operator runs on the same host (`[dns] dnssec = true`, nameservers on loopback only, checked at
//! config load), because an AD bit that crossed a network proves nothing (RFC 6698 §4.1).
//!
//! hickory's resolver neither asks for nor reports the AD bit, so this module sends the few
//! queries DANE needs itself: one question with AD and EDNS DO set (RFC 6840 §5.7), over UDP and
//! over TCP when the answer is truncated, to the configured nameservers in turn. It parses answers
//! with hickory-proto. It never reports an answer as secure unless the response had AD set, and
//! a failure is an error (never "insecure"), so an attacker who blocks these lookups gets a
//! deferral rather than a downgrade.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::proto::op::{Edns, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::DnsError;

/// What a validating resolver said about one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Validated: these records (possibly none: a validated NXDOMAIN or NODATA).
    Secure(Vec<RData>),
    /// Not validated (unsigned zone, or no AD bit): DANE does not apply.
    Insecure,
}

/// Queries a trusted validating resolver.
#[derive(Debug, Clone)]
pub struct SecureResolver {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl SecureResolver {
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration) -> SecureResolver {
        SecureResolver { servers, timeout }
    }

    /// Asks each server in turn until one answers.
    pub async fn query(&self, name: &str, rtype: RecordType) -> Result<Answer, DnsError> {
        let temporary = |reason: String| DnsError::Temporary {
            name: name.to_string(),
            reason,
        };
        let fqdn = Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
            .map_err(|e| temporary(format!("bad name: {e}")))?;
        let mut last = String::from("no nameserver configured");
        for server in &self.servers {
            match tokio::time::timeout(self.timeout, ask(*server, &fqdn, rtype)).await {
                Ok(Ok(response)) => return classify(response, rtype).map_err(temporary),
                Ok(Err(error)) => last = format!("{server}: {error}"),
                Err(_) => last = format!("{server}: timeout"),
            }
        }
        Err(temporary(last))
    }
}

/// The records of `rtype` in a response, if the resolver vouched for them.
fn classify(response: Message, rtype: RecordType) -> Result<Answer, String> {
    let secure = response.metadata.authentic_data;
    match response.metadata.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => {}
        other => return Err(format!("answer {other}")),
    }
    if !secure {
        return Ok(Answer::Insecure);
    }
    let records = response
        .answers
        .into_iter()
        .filter(|record: &Record| record.record_type() == rtype)
        .map(|record| record.data)
        .collect();
    Ok(Answer::Secure(records))
}

async fn ask(server: SocketAddr, name: &Name, rtype: RecordType) -> Result<Message, String> {
    let mut request = Message::query();
    request.metadata.recursion_desired = true;
    request.metadata.authentic_data = true;
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true);
    edns.set_max_payload(1232);
    request.set_edns(edns);
    request.add_query(Query::query(name.clone(), rtype));
    let wire = request.to_vec().map_err(|e| e.to_string())?;

    let bind = if server.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" };
    let socket = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    socket.connect(server).await.map_err(|e| e.to_string())?;
    socket.send(&wire).await.map_err(|e| e.to_string())?;
    let mut buffer = vec![0u8; 4096];
    let response = loop {
        let n = socket.recv(&mut buffer).await.map_err(|e| e.to_string())?;
        // Anything that is not the answer to this question (a stray or spoofed datagram) is
        // ignored; the timeout bounds the wait.
        if let Ok(message) = Message::from_vec(&buffer[..n]) {
            if is_answer_to(&message, &request) {
                break message;
            }
        }
    };
    if !response.metadata.truncation {
        return Ok(response);
    }
    let mut stream = TcpStream::connect(server).await.map_err(|e| e.to_string())?;
    let length = u16::try_from(wire.len()).map_err(|_| "query too long".to_string())?;
    stream
        .write_all(&length.to_be_bytes())
        .await
        .map_err(|e| e.to_string())?;
    stream.write_all(&wire).await.map_err(|e| e.to_string())?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).await.map_err(|e| e.to_string())?;
    let mut buffer = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut buffer).await.map_err(|e| e.to_string())?;
    let message = Message::from_vec(&buffer).map_err(|e| e.to_string())?;
    if is_answer_to(&message, &request) {
        Ok(message)
    } else {
        Err("answer does not match the question".into())
    }
}

fn is_answer_to(message: &Message, request: &Message) -> bool {
    message.metadata.id == request.metadata.id && message.queries == request.queries
}
