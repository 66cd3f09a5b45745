//! The DNS records a tenant publishes for one of its domains: the ownership token
//! (`_aupgate.<domain> TXT "aupgate-verify=<token>"`), the SPF mechanism that authorizes the
//! gateway (`[authentication] spf_include`, else its egress addresses), and a DKIM TXT record per
//! selector the gateway holds a key for (`aupgate dkim generate`). It only reads: the token comes
//! from `domains`, the keys and the SPF hint from the authenticator.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::access::Principal;
use super::api::{ApiError, DnsRecord, DomainRecords};
use super::domains::{self, DomainStatus};
use super::{AdminState, ApiResult};
use crate::tenant::normalize_domain;

fn txt(name: String, value: String, purpose: &str) -> DnsRecord {
    DnsRecord {
        name,
        kind: "TXT".into(),
        value,
        purpose: purpose.into(),
    }
}

/// The records of `status`'s domain, given the gateway's SPF hint and DKIM keys.
fn records(
    status: &DomainStatus,
    spf_hint: Option<String>,
    dkim: &[std::sync::Arc<crate::auth::keys::DkimKey>],
) -> Vec<DnsRecord> {
    let mut out = Vec::new();
    if !status.token.is_empty() {
        out.push(txt(
            domains::record_name(&status.domain),
            format!("aupgate-verify={}", status.token),
            "ownership",
        ));
    }
    if let Some(hint) = spf_hint.filter(|hint| !hint.is_empty()) {
        // The mechanism to add to the domain's one SPF record; shown as a whole record for a
        // domain that has none yet.
        out.push(txt(status.domain.clone(), format!("v=spf1 {hint} ~all"), "spf"));
    }
    for key in dkim {
        out.push(txt(key.record_name(), key.dns_record(), "dkim"));
    }
    out
}

/// `GET /api/v1/tenants/{tenant}/domains/{domain}/records`: what to publish for a domain.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/domains/{domain}/records",
    params(("tenant" = String, Path, description = "Tenant id"), ("domain" = String, Path, description = "Domain")),
    responses(
        (status = 200, description = "The records to publish", body = DomainRecords),
        (status = 404, description = "Domain not added, or no such tenant (or not yours)", body = ApiError),
    ),
    tag = "domains"
)]
pub async fn get(
    principal: Principal,
    State(state): State<AdminState>,
    Path((tenant, domain)): Path<(String, String)>,
) -> ApiResult<DomainRecords> {
    principal.tenant(&tenant)?;
    let domain =
        normalize_domain(&domain).ok_or_else(|| super::error(StatusCode::BAD_REQUEST, "not a domain name".into()))?;
    let record = domains::load(&state, &tenant).await?;
    let status = domains::domains(&record)
        .into_iter()
        .find(|d| d.domain == domain)
        .ok_or_else(|| {
            super::error(
                StatusCode::NOT_FOUND,
                format!("`{domain}` was not added for `{tenant}`"),
            )
        })?;
    let authenticator = state.engine.authenticator();
    let spf = authenticator.map(|a| a.spf_hint());
    let dkim = authenticator.map(|a| a.keys_for(&domain)).unwrap_or_default();
    Ok(Json(DomainRecords {
        domain: status.domain.clone(),
        verified: status.verified,
        records: records(&status, spf, &dkim),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_publishes_its_token_and_the_spf_include() {
        let status = DomainStatus {
            domain: "acme.example".into(),
            token: "abc".into(),
            verified: false,
            record: String::new(),
        };
        let got = records(&status, Some("include:_spf.provider.example".into()), &[]);
        assert_eq!(
            got,
            vec![
                txt("_aupgate.acme.example".into(), "aupgate-verify=abc".into(), "ownership"),
                txt(
                    "acme.example".into(),
                    "v=spf1 include:_spf.provider.example ~all".into(),
                    "spf"
                ),
            ]
        );
        // Marked verified by hand: no token to publish; no SPF hint configured: no SPF record.
        let by_hand = DomainStatus {
            token: String::new(),
            verified: true,
            ..status
        };
        assert!(records(&by_hand, Some(String::new()), &[]).is_empty());
    }
}
