//! Where a recipient domain's mail goes: the configured smarthost, or the domain's MX hosts in
//! preference order (implicit MX when there is none, RFC 5321 5.1; null MX refuses, RFC 7505).

use std::net::SocketAddr;

use super::response::{EnhancedStatus, Reason, Response};
use crate::config::{RelayConfig, RelayMode};
use crate::dns::{Dns, DnsError};

/// One next-hop host and its addresses.
#[derive(Debug, Clone)]
pub struct Hop {
    pub name: String,
    pub addresses: Vec<SocketAddr>,
    pub implicit_tls: bool,
}

/// Why no hop could be found.
#[derive(Debug, Clone)]
pub enum RouteError {
    Temporary(Reason),
    Permanent(Response),
}

/// The key per-destination concurrency is counted under.
pub fn destination_key(config: &RelayConfig, domain: &str) -> String {
    match config.mode {
        RelayMode::Smarthost => "smarthost".to_string(),
        RelayMode::Mx => domain.to_ascii_lowercase(),
    }
}

/// Resolves the hops for `domain`, best first.
pub async fn route(config: &RelayConfig, dns: &Dns, domain: &str) -> Result<Vec<Hop>, RouteError> {
    match config.mode {
        RelayMode::Smarthost => {
            let host = &config.smarthost;
            let ips = dns.ips(&host.host).await.map_err(|e| temporary(&e))?;
            Ok(vec![Hop {
                name: host.host.clone(),
                addresses: ips.into_iter().map(|ip| SocketAddr::new(ip, host.port)).collect(),
                implicit_tls: host.implicit_tls,
            }])
        }
        RelayMode::Mx => {
            let hosts = match dns.mx(domain).await {
                Ok(hosts) => hosts,
                Err(DnsError::NotFound { .. }) => {
                    // Implicit MX: the domain itself.
                    return match dns.ips(domain).await {
                        Ok(ips) => Ok(vec![Hop {
                            name: domain.to_string(),
                            addresses: ips.into_iter().map(|ip| SocketAddr::new(ip, config.mx_port)).collect(),
                            implicit_tls: false,
                        }]),
                        Err(DnsError::NotFound { .. }) => Err(RouteError::Permanent(Response::new(
                            550,
                            Some(EnhancedStatus::new(5, 1, 2)),
                            format!("Domain {domain} has no MX or address records"),
                        ))),
                        Err(other) => Err(temporary(&other)),
                    };
                }
                Err(other) => return Err(temporary(&other)),
            };
            if hosts.len() == 1 && hosts[0].host.is_empty() {
                return Err(RouteError::Permanent(Response::new(
                    556,
                    Some(EnhancedStatus::new(5, 1, 10)),
                    format!("Domain {domain} accepts no mail (null MX)"),
                )));
            }
            let mut hops = Vec::new();
            let mut last_error = None;
            for host in hosts {
                match dns.ips(&host.host).await {
                    Ok(ips) => hops.push(Hop {
                        addresses: ips.into_iter().map(|ip| SocketAddr::new(ip, config.mx_port)).collect(),
                        name: host.host,
                        implicit_tls: false,
                    }),
                    Err(error) => last_error = Some(error),
                }
            }
            if hops.is_empty() {
                return Err(match last_error {
                    Some(error) => temporary(&error),
                    None => RouteError::Temporary(Reason::Response(Response::new(
                        451,
                        Some(EnhancedStatus::new(4, 4, 1)),
                        format!("no usable MX host for {domain}"),
                    ))),
                });
            }
            Ok(hops)
        }
    }
}

fn temporary(error: &DnsError) -> RouteError {
    RouteError::Temporary(Reason::Response(Response::new(
        451,
        Some(EnhancedStatus::new(4, 4, 3)),
        error.to_string(),
    )))
}
