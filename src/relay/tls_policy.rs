//! Which TLS each next hop of a destination gets: the configured `[relay] starttls`, raised by
//! the recipient domain's published policy. DANE (when `[dns] dnssec` is on and the domain's MX
//! RRset is validated) decides for a domain with TLSA records, and MTA-STS is then not consulted
//! (RFC 8461 §2); otherwise an MTA-STS policy in `enforce` mode requires verified TLS. This
//! module only ever raises the configured mode or removes hops, never lowers it.

use std::sync::Arc;

use super::dane::{self, HostPolicy, Tlsa};
use super::mta_sts::{self, MtaSts};
use super::response::{EnhancedStatus, Response};
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
/// destination. Decided per host: DANE where the host has validated TLSA records, the domain's
/// MTA-STS policy for every other host (RFC 8461 §2: MTA-STS only yields to a DANE result), and
/// never below the configured mode.
pub async fn plan(
    policies: &Policies<'_>,
    domain: &str,
    hops: Vec<Hop>,
    queue_id: &str,
) -> Result<Vec<(Hop, HopTls)>, Response> {
    // (position, hop, DANE's verdict: `Some` = decided by DANE, else the floor for MTA-STS).
    let mut by_dane: Vec<(usize, Hop, HopTls)> = Vec::new();
    let mut others: Vec<(usize, Hop, OutboundTls)> = Vec::new();
    let mut last_failure = None;
    let secure_mx = match policies.dnssec {
        Some(resolver) => dane::mx_is_secure(resolver, domain).await?,
        None => false,
    };
    for (position, hop) in hops.into_iter().enumerate() {
        let dane = match (secure_mx, policies.dnssec) {
            (true, Some(resolver)) => dane::host_policy(resolver, &hop.name, policies.port).await,
            _ => HostPolicy::None,
        };
        match dane {
            HostPolicy::None => others.push((position, hop, policies.configured)),
            HostPolicy::Authenticate(records) => by_dane.push((
                position,
                hop,
                HopTls {
                    mode: OutboundTls::Required,
                    dane: Some(records),
                },
            )),
            // Validated TLSA records none of which is usable: TLS is mandatory, but only a CA
            // (the configured mode or MTA-STS) can authenticate the host.
            HostPolicy::EncryptOnly => others.push((
                position,
                hop,
                stricter(policies.configured, OutboundTls::RequiredInsecure),
            )),
            HostPolicy::Temporary(reason) => {
                tracing::info!(queue_id, domain, mx = %hop.name, %reason, "DANE lookup failed; host skipped");
                last_failure = Some(reason);
            }
        }
    }
    let mut planned: Vec<(usize, Hop, HopTls)> = by_dane;
    if !others.is_empty() {
        let (enforce, allowed) = match policies.mta_sts {
            None => (
                false,
                others.iter().map(|(_, hop, _)| hop.name.clone()).collect::<Vec<_>>(),
            ),
            Some(mta_sts) => {
                let hops = others.iter().map(|(_, hop, _)| hop.clone()).collect();
                match mta_sts.apply(domain, hops, queue_id).await {
                    mta_sts::Applied::Hops { hops, enforce } => {
                        (enforce, hops.into_iter().map(|hop| hop.name).collect())
                    }
                    mta_sts::Applied::NoMatchingMx(reason) => {
                        last_failure = Some(reason);
                        (true, Vec::new())
                    }
                }
            }
        };
        for (position, hop, floor) in others {
            if !allowed.contains(&hop.name) {
                continue;
            }
            let mode = if enforce {
                stricter(floor, OutboundTls::Required)
            } else {
                floor
            };
            planned.push((position, hop, HopTls { mode, dane: None }));
        }
    }
    if planned.is_empty() {
        return Err(last_failure.unwrap_or_else(|| {
            Response::new(
                451,
                Some(EnhancedStatus::new(4, 4, 1)),
                format!("no usable MX host for {domain}"),
            )
        }));
    }
    planned.sort_by_key(|(position, _, _)| *position);
    Ok(planned.into_iter().map(|(_, hop, tls)| (hop, tls)).collect())
}

/// The stricter of two modes: `disabled` < `opportunistic` < `required_insecure` < `required`.
pub fn stricter(a: OutboundTls, b: OutboundTls) -> OutboundTls {
    let rank = |mode: OutboundTls| match mode {
        OutboundTls::Disabled => 0,
        OutboundTls::Opportunistic => 1,
        OutboundTls::RequiredInsecure => 2,
        OutboundTls::Required => 3,
    };
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stricter_mode_wins() {
        use OutboundTls::*;
        assert_eq!(stricter(Opportunistic, RequiredInsecure), RequiredInsecure);
        assert_eq!(stricter(Required, RequiredInsecure), Required);
        assert_eq!(stricter(Disabled, Opportunistic), Opportunistic);
        assert_eq!(stricter(Required, Disabled), Required);
    }
}
