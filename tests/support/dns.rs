//! A real authoritative DNS server on loopback (UDP and TCP) serving a small zone from the test:
//! MX, A and TXT records. Hand-encoded RFC 1035 messages keep it independent of the resolver we test.
//! Faults on demand: a name can go unanswered (timeout) or answer SERVFAIL; a UDP answer over
//! 512 bytes comes back truncated (TC) so the resolver must retry over TCP, as RFC 1035 says.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

#[derive(Clone, Debug)]
pub enum Record {
    Mx(u16, String),
    A(Ipv4Addr),
    Txt(String),
    /// TLSA: usage, selector, matching type, association data.
    Tlsa(u8, u8, u8, Vec<u8>),
}

impl Record {
    fn rtype(&self) -> u16 {
        match self {
            Record::A(_) => 1,
            Record::Mx(..) => 15,
            Record::Txt(_) => 16,
            Record::Tlsa(..) => 52,
        }
    }
}

/// What the server does with queries for a name instead of answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Never answer (the resolver times out).
    Silent,
    /// Answer SERVFAIL.
    ServFail,
}

#[derive(Clone, Default)]
pub struct Zone {
    records: Arc<Mutex<HashMap<String, Vec<Record>>>>,
    faults: Arc<Mutex<HashMap<String, Fault>>>,
    queries: Arc<Mutex<HashMap<String, usize>>>,
    negative_ttl: Arc<Mutex<Option<u32>>>,
    /// Names whose answers carry the AD bit, as a validating resolver marks DNSSEC-signed data.
    secure: Arc<Mutex<std::collections::HashSet<String>>>,
}

impl Zone {
    pub fn add(&self, name: &str, record: Record) {
        self.records
            .lock()
            .unwrap()
            .entry(name.trim_end_matches('.').to_ascii_lowercase())
            .or_default()
            .push(record);
    }

    /// How many queries for `name` (any type, UDP or TCP) the server has received.
    pub fn queries(&self, name: &str) -> usize {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.queries.lock().unwrap().get(&name).copied().unwrap_or(0)
    }

    /// Answers for names and types the zone lacks carry an SOA with this negative-caching TTL
    /// (RFC 2308), as real zones' do, so resolvers cache them. Off by default: tests add records
    /// after a first lookup and must see them.
    pub fn cache_negative_answers(&self, ttl: u32) {
        *self.negative_ttl.lock().unwrap() = Some(ttl);
    }

    /// Answers for `name` say they were DNSSEC-validated (AD bit).
    pub fn validated(&self, name: &str) {
        self.secure
            .lock()
            .unwrap()
            .insert(name.trim_end_matches('.').to_ascii_lowercase());
    }

    /// Lets queries for `name` be answered again.
    pub fn clear_fault(&self, name: &str) {
        self.faults
            .lock()
            .unwrap()
            .remove(&name.trim_end_matches('.').to_ascii_lowercase());
    }

    /// Makes queries for `name` fail with `fault`.
    pub fn fault(&self, name: &str, fault: Fault) {
        self.faults
            .lock()
            .unwrap()
            .insert(name.trim_end_matches('.').to_ascii_lowercase(), fault);
    }
}

pub struct DnsServer {
    pub address: SocketAddr,
    pub zone: Zone,
}

impl DnsServer {
    /// Starts on one free loopback port, UDP and TCP.
    pub async fn start(zone: Zone) -> DnsServer {
        // The TCP port must equal the UDP one; another test may hold it on TCP: pick again.
        let (udp, tcp, address) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.expect("bind dns udp");
            let address = udp.local_addr().expect("dns addr");
            if let Ok(tcp) = TcpListener::bind(address).await {
                break (udp, tcp, address);
            }
        };
        let udp_zone = zone.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                    return;
                };
                if let Some(answer) = respond(&buf[..n], &udp_zone, true) {
                    let _ = udp.send_to(&answer, peer).await;
                }
            }
        });
        let tcp_zone = zone.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = tcp.accept().await else {
                    return;
                };
                let zone = tcp_zone.clone();
                tokio::spawn(async move {
                    let mut len = [0u8; 2];
                    while stream.read_exact(&mut len).await.is_ok() {
                        let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
                        if stream.read_exact(&mut query).await.is_err() {
                            return;
                        }
                        if let Some(answer) = respond(&query, &zone, false) {
                            let mut out = (answer.len() as u16).to_be_bytes().to_vec();
                            out.extend_from_slice(&answer);
                            if stream.write_all(&out).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        DnsServer { address, zone }
    }
}

fn respond(query: &[u8], zone: &Zone, udp: bool) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    let question_end = pos + 4;
    let name = labels.join(".");
    *zone.queries.lock().unwrap().entry(name.clone()).or_default() += 1;
    let fault = zone.faults.lock().unwrap().get(&name).copied();
    match fault {
        Some(Fault::Silent) => return None,
        Some(Fault::ServFail) => {
            let mut out = query[0..2].to_vec();
            out.extend_from_slice(&[0x80 | (query[2] & 0x01), 2]);
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&query[12..question_end]);
            return Some(out);
        }
        None => {}
    }
    let records = zone.records.lock().unwrap().get(&name).cloned();
    let answers: Vec<Record> = records
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.rtype() == qtype)
        .collect();
    let rcode = if records.is_none() { 3 } else { 0 };
    let negative_ttl = (*zone.negative_ttl.lock().unwrap()).filter(|_| answers.is_empty());
    let mut out = Vec::new();
    out.extend_from_slice(&query[0..2]);
    let authentic = if zone.secure.lock().unwrap().contains(&name) {
        0x20
    } else {
        0
    };
    out.extend_from_slice(&[0x84 | (query[2] & 0x01), authentic | rcode]);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&(negative_ttl.is_some() as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&query[12..question_end]);
    for record in answers {
        out.extend_from_slice(&[0xc0, 12]);
        out.extend_from_slice(&record.rtype().to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&60u32.to_be_bytes());
        let rdata = match record {
            Record::A(ip) => ip.octets().to_vec(),
            Record::Mx(preference, host) => {
                let mut data = preference.to_be_bytes().to_vec();
                data.extend(encode_name(&host));
                data
            }
            Record::Tlsa(usage, selector, matching, association) => {
                let mut data = vec![usage, selector, matching];
                data.extend_from_slice(&association);
                data
            }
            Record::Txt(text) => {
                let mut data = Vec::new();
                for chunk in text.as_bytes().chunks(255) {
                    data.push(chunk.len() as u8);
                    data.extend_from_slice(chunk);
                }
                data
            }
        };
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    if let Some(ttl) = negative_ttl {
        // The SOA of the zone's apex (the last two labels), its minimum field the negative TTL.
        let apex = labels[labels.len().saturating_sub(2)..].join(".");
        let mut rdata = encode_name(&format!("ns.{apex}"));
        rdata.extend(encode_name(&format!("hostmaster.{apex}")));
        for value in [1u32, 3600, 600, 86400, ttl] {
            rdata.extend_from_slice(&value.to_be_bytes());
        }
        out.extend(encode_name(&apex));
        out.extend_from_slice(&6u16.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    if udp && out.len() > 512 {
        // Too big for plain UDP: header and question only, with TC set.
        out.truncate(question_end);
        out[2] |= 0x02;
        out[6..10].fill(0);
    }
    Some(out)
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}
