//! The gateway's one DNS resolver (hickory), shared by MX routing, SPF/DKIM/DMARC and domain
//! verification. Configurable nameservers with ports (tests point it at a DNS server on loopback),
//! caching, timeouts. It only answers questions; it never decides policy.
//!
//! - `cache` — answers kept until their TTL runs out (TXT answers here, mail-auth's parsed
//!   records in the authenticator).

pub mod cache;
pub mod secure;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use self::cache::TtlCache;
use crate::config::DnsConfig;

/// How many TXT answers the resolver keeps beside hickory's own cache.
const TXT_CACHE_ENTRIES: usize = 16_384;

/// A DNS failure, split the way SMTP replies need it.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name does not exist or has no such records (a permanent answer).
    #[error("no {record} records for {name}")]
    NotFound { name: String, record: &'static str },
    /// Timeout, SERVFAIL, network trouble: try again later.
    #[error("temporary DNS failure for {name}: {reason}")]
    Temporary { name: String, reason: String },
    #[error("resolver setup failed: {0}")]
    Setup(String),
}

/// One MX host with its preference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    pub preference: u16,
    /// Host name without the trailing dot; empty for a null MX (RFC 7505).
    pub host: String,
}

/// The shared resolver.
#[derive(Clone)]
pub struct Dns {
    resolver: Arc<TokioResolver>,
    /// TXT answers by lower-cased FQDN, until their TTL runs out.
    txt_answers: Arc<TtlCache<String, Arc<[String]>>>,
}

impl Dns {
    /// Builds the resolver from `[dns]`: the given nameservers, or the system's when none are set.
    pub fn new(config: &DnsConfig) -> Result<Dns, DnsError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = if config.nameservers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| DnsError::Setup(e.to_string()))?
        } else {
            let mut servers = Vec::new();
            for text in &config.nameservers {
                let addr: SocketAddr = text
                    .parse()
                    .map_err(|_| DnsError::Setup(format!("bad nameserver address `{text}`")))?;
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                servers.push(NameServerConfig::new(addr.ip(), true, vec![udp, tcp]));
            }
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), provider)
        };
        let options = builder.options_mut();
        options.timeout = config.timeout.get();
        options.attempts = config.attempts;
        options.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        let resolver = builder.build().map_err(|e| DnsError::Setup(e.to_string()))?;
        Ok(Dns {
            resolver: Arc::new(resolver),
            txt_answers: Arc::new(TtlCache::new(TXT_CACHE_ENTRIES)),
        })
    }

    /// MX hosts of `domain`, best preference first. `NotFound` when the domain has no MX.
    pub async fn mx(&self, domain: &str) -> Result<Vec<MxHost>, DnsError> {
        let name = fqdn(domain);
        let started = std::time::Instant::now();
        let lookup = self.resolver.mx_lookup(name.as_str()).await;
        crate::telemetry::dns_latency("MX", started.elapsed());
        let lookup = lookup.map_err(|e| classify(domain, "MX", e))?;
        let mut hosts: Vec<MxHost> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some(MxHost {
                    preference: mx.preference,
                    host: mx.exchange.to_ascii().trim_end_matches('.').to_ascii_lowercase(),
                }),
                _ => None,
            })
            .collect();
        if hosts.is_empty() {
            return Err(DnsError::NotFound {
                name: domain.into(),
                record: "MX",
            });
        }
        hosts.sort_by_key(|h| h.preference);
        Ok(hosts)
    }

    /// A and AAAA addresses of `host`.
    pub async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let started = std::time::Instant::now();
        let lookup = self.resolver.lookup_ip(fqdn(host).as_str()).await;
        crate::telemetry::dns_latency("A/AAAA", started.elapsed());
        let lookup = lookup.map_err(|e| classify(host, "A/AAAA", e))?;
        let ips: Vec<IpAddr> = lookup.iter().collect();
        if ips.is_empty() {
            return Err(DnsError::NotFound {
                name: host.into(),
                record: "A/AAAA",
            });
        }
        Ok(ips)
    }

    /// TXT strings of `name`, each record's character-strings joined. A positive answer is
    /// kept for its TTL; failures and empty answers go through hickory (which caches what RFC
    /// 2308 lets it).
    pub async fn txt(&self, name: &str) -> Result<Arc<[String]>, DnsError> {
        let key = fqdn(name).to_ascii_lowercase();
        if let Some(records) = self.txt_answers.get(key.as_str()) {
            return Ok(records);
        }
        self.txt_lookup(name, key).await
    }

    /// Asks hickory for the TXT records of `key` (a lower-cased FQDN) and keeps a positive
    /// answer for its TTL.
    async fn txt_lookup(&self, name: &str, key: String) -> Result<Arc<[String]>, DnsError> {
        let started = std::time::Instant::now();
        let lookup = self.resolver.txt_lookup(key.as_str()).await;
        crate::telemetry::dns_latency("TXT", started.elapsed());
        let lookup = lookup.map_err(|e| classify(name, "TXT", e))?;
        let records: Arc<[String]> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        if !records.is_empty() {
            self.txt_answers.insert(key, records.clone(), lookup.valid_until());
        }
        Ok(records)
    }

    /// TXT strings of `name`, asked fresh (the cached answer, positive or negative, is dropped
    /// first): for verification, where the tenant has just published the record.
    pub async fn txt_fresh(&self, name: &str) -> Result<Arc<[String]>, DnsError> {
        let key = fqdn(name).to_ascii_lowercase();
        self.txt_answers.remove(key.as_str());
        self.resolver
            .clear_lookup_cache(key.as_str(), hickory_resolver::proto::rr::RecordType::TXT);
        // Straight to the resolver: an older answer another lookup inserted meanwhile is
        // replaced, never returned.
        self.txt_lookup(name, key).await
    }

    /// The underlying hickory resolver (for mail-auth).
    pub fn resolver(&self) -> &TokioResolver {
        &self.resolver
    }
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

fn classify(name: &str, record: &'static str, error: hickory_resolver::net::NetError) -> DnsError {
    if error.is_no_records_found() || error.is_nx_domain() {
        DnsError::NotFound {
            name: name.into(),
            record,
        }
    } else {
        DnsError::Temporary {
            name: name.into(),
            reason: error.to_string(),
        }
    }
}
