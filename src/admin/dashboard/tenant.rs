//! One tenant's page: a gauge per quota, sent and refused over 24 hours and 7 days, the recent
//! refusals explained, the delivery outcomes (bounce rate), campaigns near the bulk limit, recipients near the mail-bomb limit, the
//! escalation ladder and its events, blocks, domains and the records to publish, the
//! suppression list; for the staff also the audit trail (who did what) and, for admins, the
//! block and lift forms.
//!
//! Every figure comes from the API's own reads (`usage::get`, `domains::list`,
//! `dns_records::get`, the store's logs), taken at one instant shown on the page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};

use super::charts::{self, timestamp, Chart};
use super::gauges::{gauges, Gauge, NearLimit};
use super::rules::explain;
use super::{page_for, refused};
use crate::admin::access::{Principal, Via};
use crate::admin::api::DomainRecords;
use crate::admin::{dns_records, domains, AdminState};
use crate::store::{Block, Suppression, TenantState};
use crate::wire::rule::Rule;

const DAY_MS: u64 = 86_400_000;
/// How many refusals, events and audit entries a page lists (newest first).
const RECENT: usize = 50;

/// The tenant page.
#[derive(Template)]
#[template(path = "dashboard/tenant.html")]
pub struct TenantPage {
    pub page: super::page::Page,
    pub id: String,
    pub name: String,
    pub state: String,
    pub ladder: Vec<(String, bool)>,
    pub gauges: Vec<Gauge>,
    pub campaigns: Vec<NearLimit>,
    pub bulk_limit: Option<u64>,
    pub bomb_targets: Vec<NearLimit>,
    pub bomb_limit: Option<u64>,
    pub hourly: Chart,
    pub daily: Chart,
    /// The relay's outcomes over 7 days (bounce rate).
    pub deliveries: crate::admin::usage::DeliveryUsage,
    pub chart_width: u32,
    pub chart_height: u32,
    pub refusals: Vec<Refusal>,
    pub events: Vec<EventRow>,
    pub blocks: Vec<BlockRow>,
    pub domains: Vec<DomainRecords>,
    pub suppressions: Vec<SuppressionRow>,
    /// Staff only: who did what (every audit record not written by the policy itself).
    pub trail: Vec<TrailRow>,
    pub staff: bool,
    pub admin: bool,
    /// When the figures were read (unix ms).
    pub taken_at: u64,
}

/// A refusal with its rule explained.
pub struct Refusal {
    pub at: String,
    pub rule: String,
    pub reply: String,
    pub what: &'static str,
    pub action: &'static str,
}

pub struct EventRow {
    pub at: String,
    pub kind: String,
    pub rule: String,
    pub detail: String,
}

pub struct BlockRow {
    pub scope: &'static str,
    pub target: String,
    pub by: String,
    pub reason: String,
    pub at: String,
}

pub struct SuppressionRow {
    pub address: String,
    pub reason: String,
    pub at: String,
}

pub struct TrailRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub reason: String,
}

/// `GET /dashboard`: a tenant's own page; the staff's home is the overview.
pub async fn own(
    Extension(principal): Extension<Principal>,
    Extension(via): Extension<Via>,
    state: State<AdminState>,
) -> Response {
    match &principal {
        Principal::Tenant { id } => {
            let id = id.clone();
            render(principal, via, state, id).await
        }
        Principal::Admin { .. } | Principal::Operator { .. } => Redirect::to("/admin").into_response(),
    }
}

/// `GET /dashboard/tenants/{tenant}`.
pub async fn show(
    Extension(principal): Extension<Principal>,
    Extension(via): Extension<Via>,
    state: State<AdminState>,
    Path(tenant): Path<String>,
) -> Response {
    render(principal, via, state, tenant).await
}

async fn render(principal: Principal, via: Via, State(state): State<AdminState>, id: String) -> Response {
    if let Err(refusal) = principal.tenant(&id) {
        return refused(refusal);
    }
    let Some(tenant) = state.tenants.get(&id) else {
        return refused(crate::admin::error(StatusCode::NOT_FOUND, format!("no tenant `{id}`")));
    };
    match build(&principal, &state, &tenant).await {
        Ok(mut page) => {
            page.page = page_for(&principal, &via, format!("Tenant {}", tenant.name()), page.taken_at);
            super::page::html(StatusCode::OK, page.render())
        }
        Err(refusal) => refused(refusal),
    }
}

async fn build(
    principal: &Principal,
    state: &AdminState,
    tenant: &crate::tenant::Tenant,
) -> Result<TenantPage, crate::admin::access::Refusal> {
    let internal = crate::admin::internal;
    let Json(usage) =
        crate::admin::usage::get(principal.clone(), State(state.clone()), Path(tenant.id.clone())).await?;
    let now = usage.taken_at;
    let store = &state.store;
    let audit = store
        .audit_range(&tenant.id, now.saturating_sub(7 * DAY_MS), now)
        .await
        .map_err(internal)?;
    let events = store
        .events_range(&tenant.id, now.saturating_sub(30 * DAY_MS), now)
        .await
        .map_err(internal)?;
    let blocks = store.blocks_list(&tenant.id).await.map_err(internal)?;
    let suppressions = store.suppression_list(&tenant.id).await.map_err(internal)?;
    let Json(domain_list) = domains::list(principal.clone(), State(state.clone()), Path(tenant.id.clone())).await?;
    let mut domain_records = Vec::with_capacity(domain_list.len());
    for domain in domain_list {
        let Json(records) = dns_records::get(
            principal.clone(),
            State(state.clone()),
            Path((tenant.id.clone(), domain.domain)),
        )
        .await?;
        domain_records.push(records);
    }
    let refusals = audit
        .iter()
        .rev()
        .filter(|r| r.actor == "policy" && matches!(r.action.as_str(), "reject" | "defer" | "disconnect"))
        .take(RECENT)
        .map(|r| {
            let explanation = r.target.parse::<Rule>().ok().map(explain);
            Refusal {
                at: timestamp(r.at),
                rule: r.target.clone(),
                reply: r.reason.clone(),
                what: explanation.map_or("A rule this gateway no longer knows.", |e| e.what),
                action: explanation.map_or("Ask the provider.", |e| e.action),
            }
        })
        .collect();
    let trail = if principal.is_staff() {
        audit
            .iter()
            .rev()
            .filter(|r| r.actor != "policy")
            .take(RECENT)
            .map(|r| TrailRow {
                at: timestamp(r.at),
                actor: r.actor.clone(),
                action: r.action.clone(),
                target: r.target.clone(),
                reason: r.reason.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let current = tenant.state.get();
    let view = gauges(&usage);
    let deliveries = usage.deliveries.clone();
    Ok(TenantPage {
        page: super::page::Page::anonymous(""),
        id: tenant.id.clone(),
        name: tenant.name(),
        state: state_name(current).into(),
        ladder: [
            TenantState::Active,
            TenantState::Warned,
            TenantState::FinalWarning,
            TenantState::Suspended,
        ]
        .into_iter()
        .map(|s| (state_name(s).to_string(), s == current))
        .collect(),
        gauges: view.gauges,
        campaigns: view.campaigns,
        bulk_limit: view.bulk_limit,
        bomb_targets: view.bomb_targets,
        bomb_limit: view.bomb_limit,
        hourly: charts::hourly(&audit, now),
        daily: charts::daily(&audit, now),
        deliveries,
        taken_at: now,
        chart_width: charts::WIDTH,
        chart_height: charts::HEIGHT,
        refusals,
        events: events
            .iter()
            .rev()
            .take(RECENT)
            .map(|e| EventRow {
                at: timestamp(e.at),
                kind: e.kind.clone(),
                rule: e.rule.clone().unwrap_or_default(),
                detail: if e.detail.is_null() {
                    String::new()
                } else {
                    e.detail.to_string()
                },
            })
            .collect(),
        blocks: blocks.iter().map(block_row).collect(),
        domains: domain_records,
        suppressions: suppressions.iter().map(suppression_row).collect(),
        trail,
        staff: principal.is_staff(),
        admin: matches!(principal, Principal::Admin { .. }),
    })
}

fn block_row(block: &Block) -> BlockRow {
    BlockRow {
        scope: match block.scope {
            crate::store::BlockScope::Tenant => "tenant",
            crate::store::BlockScope::Campaign => "campaign",
            crate::store::BlockScope::Sender => "sender",
        },
        target: block.target.clone(),
        by: block.by.clone(),
        reason: block.reason.clone(),
        at: timestamp(block.at),
    }
}

fn suppression_row(entry: &Suppression) -> SuppressionRow {
    SuppressionRow {
        address: entry.address.clone(),
        reason: entry.reason.clone(),
        at: timestamp(entry.at),
    }
}

/// A ladder state as the page and its CSS classes name it.
pub fn state_name(state: TenantState) -> &'static str {
    match state {
        TenantState::Active => "active",
        TenantState::Warned => "warned",
        TenantState::FinalWarning => "final_warning",
        TenantState::Suspended => "suspended",
    }
}
