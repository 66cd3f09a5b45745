//! Which TLS each next hop of a destination gets: the configured `[relay] starttls`, raised by
//! the recipient domain's published policy. DANE (when `[dns] dnssec` is on and the domain's MX
//! RRset is validated) decides for a domain with TLSA records, and MTA-STS is then not consulted
//! (RFC 8461 §2); otherwise an MTA-STS policy in `enforce` mode requires verified TLS. This
//! module only ever raises the configured mode or removes hops, never lowers it.

use std::sync::Arc;

use super::dane::{self, HostPolicy, Tlsa};
use super::mta_sts::{self, MtaSts};
use super::route::Hop;
use crate::config::OutboundTls;
use crate::dns::secure::SecureResolver;

/// The TLS one hop gets.
#[derive(Debug, Clone)]
pub struct HopTls {
    pub mode: OutboundTls,
    /// DANE: the certificate must match one of these records.
    pub dane: Option<Arc<Vec<Tlsa>>>,
}

/// What the plan is made from.
pub struct Policies<'a> {
    pub configured: OutboundTls,
    /// The validating resolver, when `[dns] dnssec` is on (MX mode).
    pub dnssec: Option<&'a SecureResolver>,
    pub mta_sts: Option<&'a MtaSts>,
    /// The port MX hosts are reached on (names the TLSA records: `_25._tcp.<host>`).
    pub port: u16,
}

/// The hops to try, best first, each with its TLS; `Err` is a temporary failure for the whole
/// destination.
pub async fn plan(
    policies: &Policies<'_>,
    domain: &str,
    hops: Vec<Hop>,
    queue_id: &str,
) -> Result<Vec<(Hop, HopTls)>, String> {
    let configured = HopTls {
        mode: policies.configured,
        dane: None,
    };
    let mut hops = hops;
    if let Some(resolver) = policies.dnssec {
        if dane::mx_is_secure(resolver, domain).await? {
            let mut planned = Vec::new();
            let (mut dane_domain, mut last_failure) = (false, None);
            for hop in hops {
                let tls = match dane::host_policy(resolver, &hop.name, policies.port).await {
                    HostPolicy::None => configured.clone(),
                    HostPolicy::Authenticate(records) => {
                        dane_domain = true;
                        HopTls {
                            mode: OutboundTls::Required,
                            dane: Some(records),
                        }
                    }
                    HostPolicy::EncryptOnly => {
                        dane_domain = true;
                        HopTls {
                            mode: OutboundTls::RequiredInsecure,
                            dane: None,
                        }
                    }
                    HostPolicy::Temporary(reason) => {
                        tracing::info!(queue_id, domain, mx = %hop.name, %reason, "DANE lookup failed; host skipped");
                        last_failure = Some(reason);
                        continue;
                    }
                };
                planned.push((hop, tls));
            }
            if planned.is_empty() {
                return Err(last_failure.unwrap_or_else(|| format!("451 4.4.1 no usable MX host for {domain}")));
            }
            if dane_domain {
                return Ok(planned);
            }
            hops = planned.into_iter().map(|(hop, _)| hop).collect();
        }
    }
    let Some(mta_sts) = policies.mta_sts else {
        return Ok(hops.into_iter().map(|hop| (hop, configured.clone())).collect());
    };
    match mta_sts.apply(domain, hops, queue_id).await {
        mta_sts::Applied::Hops { hops, enforce } => {
            let tls = if enforce {
                HopTls {
                    mode: OutboundTls::Required,
                    dane: None,
                }
            } else {
                configured
            };
            Ok(hops.into_iter().map(|hop| (hop, tls.clone())).collect())
        }
        mta_sts::Applied::NoMatchingMx(reason) => Err(reason),
    }
}
