//! MTA-STS (RFC 8461): a recipient domain's published promise that its MX hosts speak TLS with
//! certificates that verify. In MX mode, before delivering to a domain, the relay looks for
//! `_mta-sts.<domain>` TXT `v=STSv1; id=…`, fetches the policy from
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` (verified HTTPS, no redirects, 64 KiB at
//! most) and caches it for its `max_age`, refetching when the TXT id changes.
//!
//! Under `mode: enforce` only MX hosts matching the policy's `mx` patterns are used, each with
//! verified TLS (`required`): none matching, no STARTTLS or a certificate that does not verify is
//! a temporary failure and the message stays queued. `testing` only logs what enforce would
//! refuse; `none` and no policy change nothing. As the RFC says, a policy that cannot be fetched
//! while no cached one is valid means "no policy" (so an attacker who blocks the fetch of a first
//! policy gains nothing a plain TLS-stripping attack would not), and a cached policy stays in
//! force until its `max_age` even when the TXT record vanishes.
//!
//! This module never weakens TLS: it only raises a hop's mode to `required` or removes hops.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::response::{EnhancedStatus, Response};
use super::route::Hop;
use super::tls::Connectors;
use crate::config::RelayConfig;
use crate::dns::{Dns, DnsError};

/// The largest policy body read (RFC 8461 3.2 suggests 64 KiB).
const MAX_POLICY_BYTES: usize = 64 * 1024;
/// The longest `max_age` honoured (RFC 8461 3.2: 31557600 s).
const MAX_AGE_LIMIT: u64 = 31_557_600;
/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after a failed fetch a domain's policy is not fetched again.
const FETCH_RETRY: Duration = Duration::from_secs(300);

/// Why the policy fetcher could not be built.
#[derive(Debug, thiserror::Error)]
#[error("MTA-STS HTTPS client: {0}")]
pub struct MtaStsSetupError(String);

/// A policy's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

/// A parsed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// MX patterns: a host name, or `*.` and a domain (one leftmost label).
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// Why a policy body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy has no `version: STSv1`")]
    Version,
    #[error("policy mode missing or unknown")]
    Mode,
    #[error("policy max_age missing or not a number")]
    MaxAge,
    #[error("policy in mode {0:?} lists no mx")]
    NoMx(Mode),
}

impl Policy {
    /// Parses a policy body (RFC 8461 3.2): `key: value` lines; unknown keys ignored.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let (mut version, mut mode, mut max_age, mut mx) = (None, None, None, Vec::new());
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "version" if version.is_none() => version = Some(value == "STSv1"),
                "mode" if mode.is_none() => {
                    mode = Some(match value {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        _ => return Err(PolicyError::Mode),
                    })
                }
                "max_age" if max_age.is_none() => {
                    let valid = !value.is_empty() && value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit());
                    max_age = Some(value.parse::<u64>().ok().filter(|_| valid).ok_or(PolicyError::MaxAge)?);
                }
                "mx" => mx.push(value.trim_end_matches('.').to_ascii_lowercase()),
                _ => {}
            }
        }
        if version != Some(true) {
            return Err(PolicyError::Version);
        }
        let mode = mode.ok_or(PolicyError::Mode)?;
        let max_age = max_age.ok_or(PolicyError::MaxAge)?.min(MAX_AGE_LIMIT);
        if mode != Mode::None && mx.is_empty() {
            return Err(PolicyError::NoMx(mode));
        }
        Ok(Policy { mode, mx, max_age })
    }

    /// Whether MX host `host` is allowed (RFC 8461 4.1: a wildcard stands for one label).
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => *pattern == host,
        })
    }
}

/// The policy id from a `_mta-sts` TXT answer: exactly one record starting `v=STSv1`.
pub fn record_id(records: &[String]) -> Option<String> {
    let mut sts = records.iter().filter(|r| r.trim_start().starts_with("v=STSv1"));
    let record = sts.next()?;
    if sts.next().is_some() {
        return None;
    }
    record.split(';').find_map(|field| {
        let (key, value) = field.split_once('=')?;
        let value = value.trim();
        (key.trim() == "id" && (1..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| value.to_string())
    })
}

/// What the policy did to a destination's hops.
pub enum Applied {
    /// The hops to try; `enforce` means each needs verified TLS.
    Hops { hops: Vec<Hop>, enforce: bool },
    /// Enforce mode and no MX host matches the policy: a temporary failure with this reason.
    NoMatchingMx(Response),
}

struct Cached {
    id: String,
    policy: Policy,
    expires: Instant,
}

/// The policy fetcher and cache, shared by all deliveries.
pub struct MtaSts {
    dns: Dns,
    http: reqwest::Client,
    port: u16,
    cache: Mutex<HashMap<String, Arc<Cached>>>,
    /// Domains whose policy fetch failed, until when it is not tried again: a policy host that
    /// hangs costs one fetch timeout per `FETCH_RETRY`, not one per delivery.
    failed: Mutex<HashMap<String, Instant>>,
    /// One fetch at a time per domain: deliveries that need the same policy at once wait for the
    /// first one's fetch and read its result from the cache (RFC 8461 asks senders to cache; a
    /// burst to a new domain is one fetch, not one per delivery).
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl MtaSts {
    pub fn new(dns: Dns, connectors: &Connectors, config: &RelayConfig) -> Result<MtaSts, MtaStsSetupError> {
        let roots = connectors
            .roots
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| MtaStsSetupError(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_certs_only(roots)
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .dns_resolver(Arc::new(Resolver(dns.clone())))
            .build()
            .map_err(|e| MtaStsSetupError(e.to_string()))?;
        Ok(MtaSts {
            dns,
            http,
            port: config.mta_sts_port,
            cache: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        })
    }

    /// Applies `domain`'s policy to its hops.
    pub async fn apply(&self, domain: &str, hops: Vec<Hop>, queue_id: &str) -> Applied {
        let Some(policy) = self.policy(domain).await else {
            return Applied::Hops { hops, enforce: false };
        };
        match policy.mode {
            Mode::None => Applied::Hops { hops, enforce: false },
            Mode::Testing => {
                for hop in hops.iter().filter(|hop| !policy.matches(&hop.name)) {
                    tracing::warn!(queue_id, domain, mx = %hop.name, "MTA-STS (testing): MX host not in the policy");
                }
                Applied::Hops { hops, enforce: false }
            }
            Mode::Enforce => {
                let total = hops.len();
                let allowed: Vec<Hop> = hops.into_iter().filter(|hop| policy.matches(&hop.name)).collect();
                if allowed.len() < total {
                    tracing::warn!(
                        queue_id,
                        domain,
                        dropped = total - allowed.len(),
                        "MTA-STS: MX hosts not in the policy skipped"
                    );
                }
                if allowed.is_empty() {
                    return Applied::NoMatchingMx(Response::new(
                        451,
                        Some(EnhancedStatus::new(4, 7, 5)),
                        format!("MTA-STS: no MX host of {domain} matches its policy"),
                    ));
                }
                Applied::Hops {
                    hops: allowed,
                    enforce: true,
                }
            }
        }
    }

    /// The policy in force for `domain`, if any.
    async fn policy(&self, domain: &str) -> Option<Policy> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let cached = self.cached(&domain);
        let id = match self.dns.txt(&format!("_mta-sts.{domain}")).await {
            Ok(records) => record_id(&records),
            Err(DnsError::NotFound { .. }) => None,
            Err(error) => {
                tracing::info!(domain, %error, "MTA-STS TXT lookup failed; using the cached policy if any");
                return cached.map(|c| c.policy.clone());
            }
        };
        let Some(id) = id else {
            return cached.map(|c| c.policy.clone());
        };
        if let Some(cached) = cached.as_ref().filter(|c| c.id == id) {
            return Some(cached.policy.clone());
        }
        let turn = self
            .fetching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(domain.clone())
            .or_default()
            .clone();
        let policy = {
            let _fetching = turn.lock().await;
            self.fetch_unless_done(&domain, id, cached).await
        };
        let mut fetching = self.fetching.lock().unwrap_or_else(|p| p.into_inner());
        // Ours and the map's: nobody else waits, the entry can go.
        if Arc::strong_count(&turn) <= 2 {
            fetching.remove(&domain);
        }
        policy
    }

    /// Fetches `domain`'s policy `id` (holding the domain's fetch turn), unless a fetch that
    /// finished meanwhile cached it or failed recently.
    async fn fetch_unless_done(&self, domain: &str, id: String, cached: Option<Arc<Cached>>) -> Option<Policy> {
        let domain = domain.to_string();
        if let Some(done) = self.cached(&domain).filter(|c| c.id == id) {
            return Some(done.policy.clone());
        }
        let retry_at = self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&domain)
            .copied();
        if retry_at.is_some_and(|at| at > Instant::now()) {
            return cached.map(|c| c.policy.clone());
        }
        match self.fetch(&domain).await {
            Ok(policy) => {
                self.failed.lock().unwrap_or_else(|p| p.into_inner()).remove(&domain);
                let entry = Arc::new(Cached {
                    id,
                    expires: Instant::now() + Duration::from_secs(policy.max_age),
                    policy: policy.clone(),
                });
                self.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(domain, entry);
                Some(policy)
            }
            Err(reason) => {
                tracing::warn!(domain, %reason, retry_s = FETCH_RETRY.as_secs(), "MTA-STS policy fetch failed");
                let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
                failed.retain(|_, at| *at > Instant::now());
                failed.insert(domain, Instant::now() + FETCH_RETRY);
                cached.map(|c| c.policy.clone())
            }
        }
    }

    fn cached(&self, domain: &str) -> Option<Arc<Cached>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(domain) {
            Some(entry) if entry.expires > Instant::now() => Some(entry.clone()),
            Some(_) => {
                cache.remove(domain);
                None
            }
            None => None,
        }
    }

    async fn fetch(&self, domain: &str) -> Result<Policy, String> {
        let port = if self.port == 443 {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        let url = format!("https://mta-sts.{domain}{port}/.well-known/mta-sts.txt");
        let mut response = self.http.get(&url).send().await.map_err(|e| format!("{url}: {e}"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if media_type.as_deref() != Some("text/plain") {
            return Err(format!("{url}: not text/plain"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_POLICY_BYTES {
                return Err(format!("{url}: policy larger than {MAX_POLICY_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body).map_err(|_| format!("{url}: not UTF-8"))?;
        Policy::parse(&text).map_err(|e| format!("{url}: {e}"))
    }
}

/// Resolves the policy host with the gateway's own resolver (the configured nameservers).
struct Resolver(Dns);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let dns = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let ips = dns.ips(&host).await?;
            let addresses: Vec<SocketAddr> = ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_policy() {
        let text =
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n";
        let policy = Policy::parse(text).unwrap();
        assert_eq!(policy.mode, Mode::Enforce);
        assert_eq!(policy.max_age, 604_800);
        assert!(policy.matches("mail.example.com"));
        assert!(policy.matches("MAIL.example.com."));
        assert!(policy.matches("mx1.example.net"));
        assert!(!policy.matches("a.b.example.net"), "a wildcard is one label");
        assert!(!policy.matches("example.net"));
        assert!(!policy.matches("evil-mail.example.com"));
    }

    #[test]
    fn refuses_broken_policies() {
        assert_eq!(
            Policy::parse("mode: enforce\nmx: a\nmax_age: 1\n"),
            Err(PolicyError::Version)
        );
        assert_eq!(
            Policy::parse("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n"),
            Err(PolicyError::Mode)
        );
        assert_eq!(
            Policy::parse("version: STSv1\nmode: enforce\nmx: a\n"),
            Err(PolicyError::MaxAge)
        );
        assert_eq!(
            Policy::parse("version: STSv1\nmode: enforce\nmax_age: 1\n"),
            Err(PolicyError::NoMx(Mode::Enforce))
        );
        assert_eq!(
            Policy::parse("version: STSv1\nmode: enforce\nmx: a\nmax_age: -5\n"),
            Err(PolicyError::MaxAge)
        );
        let capped = Policy::parse("version: STSv1\nmode: none\nmax_age: 99999999999\n");
        assert_eq!(capped, Err(PolicyError::MaxAge), "more than 10 digits");
        let capped = Policy::parse("version: STSv1\nmode: none\nmax_age: 9999999999\n").unwrap();
        assert_eq!(capped.max_age, MAX_AGE_LIMIT);
    }

    #[test]
    fn reads_the_txt_id() {
        let id = |records: &[&str]| record_id(&records.iter().map(|r| r.to_string()).collect::<Vec<_>>());
        assert_eq!(id(&["v=STSv1; id=20261205T01;"]), Some("20261205T01".into()));
        assert_eq!(id(&["v=spf1 -all", "v=STSv1; id=abc"]), Some("abc".into()));
        assert_eq!(id(&["v=STSv1; id=a", "v=STSv1; id=b"]), None, "two STS records: none");
        assert_eq!(id(&["v=STSv1;"]), None);
        assert_eq!(id(&["v=STSv1; id=bad-id"]), None);
        assert_eq!(id(&[]), None);
    }
}
