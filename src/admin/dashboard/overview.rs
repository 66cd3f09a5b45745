//! The staff's overview: every tenant with its state, messages sent and refused in the last
//! 24 hours and its nearest limit in percent; sorted and filtered by query parameters
//! (`?sort=refused&order=desc&state=suspended&q=acme`), so it works without script.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;

use super::charts::last_day;
use super::gauges::nearest_percent;
use super::page::url_encode;
use super::tenant::state_name;
use super::{error_page, page_for, refused};
use crate::admin::access::{Principal, Via};
use crate::admin::AdminState;
use crate::queue::now_ms;

const DAY_MS: u64 = 86_400_000;

/// The columns the table sorts by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    #[default]
    Id,
    Name,
    State,
    Sent,
    Refused,
    Nearest,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// `GET /admin` query.
#[derive(Debug, Default, Deserialize)]
pub struct OverviewQuery {
    #[serde(default)]
    sort: SortBy,
    #[serde(default)]
    order: Order,
    /// Only tenants in this state (`active`, `warned`, `final_warning`, `suspended`).
    #[serde(default)]
    state: String,
    /// Only tenants whose id or name contains this (case-insensitive).
    #[serde(default)]
    q: String,
}

/// One tenant's row.
pub struct Row {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub sent: u64,
    pub refused: u64,
    pub nearest: f64,
    pub nearest_text: String,
}

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage {
    page: super::page::Page,
    rows: Vec<Row>,
    total: usize,
    /// `(state, selected)` of the state filter's options.
    states: Vec<(&'static str, bool)>,
    q: String,
    /// `(column, label, link)` of each sortable header.
    headers: Vec<(&'static str, &'static str, String)>,
}

/// The tenant states the filter offers.
const STATES: [&str; 4] = ["active", "warned", "final_warning", "suspended"];

/// `GET /admin`.
pub async fn show(
    Extension(principal): Extension<Principal>,
    Extension(via): Extension<Via>,
    State(state): State<AdminState>,
    query: Result<Query<OverviewQuery>, QueryRejection>,
) -> Response {
    if let Err(refusal) = principal.require_staff() {
        return refused(refusal);
    }
    // A query that does not parse, or names a state that is none, is a page saying so, not a
    // raw parser message or a silently empty list.
    let query = match query {
        Ok(Query(query)) => query,
        Err(rejection) => return error_page(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    if !query.state.is_empty() && !STATES.contains(&query.state.as_str()) {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("`{}` is not a tenant state ({})", query.state, STATES.join(", ")),
        );
    }
    let now = now_ms();
    let records = match state.store.tenant_list().await {
        Ok(records) => records,
        Err(error) => return refused(crate::admin::internal(error)),
    };
    let total = records.len();
    let needle = query.q.to_lowercase();
    let mut rows = Vec::new();
    for record in records {
        let Some(tenant) = state.tenants.get(&record.id) else {
            continue;
        };
        let live_state = state_name(tenant.state.get());
        if !query.state.is_empty() && query.state != live_state {
            continue;
        }
        if !needle.is_empty()
            && !tenant.id.to_lowercase().contains(&needle)
            && !tenant.name().to_lowercase().contains(&needle)
        {
            continue;
        }
        let audit = match state
            .store
            .audit_range(&tenant.id, now.saturating_sub(DAY_MS), now)
            .await
        {
            Ok(audit) => audit,
            Err(error) => return refused(crate::admin::internal(error)),
        };
        let (sent, refused_count) = last_day(&audit, now);
        let usage = crate::admin::usage::get(
            principal.clone(),
            State(state.clone()),
            axum::extract::Path(tenant.id.clone()),
        )
        .await;
        let nearest = match usage {
            Ok(Json(usage)) => nearest_percent(&usage),
            Err(refusal) => return refused(refusal),
        };
        rows.push(Row {
            id: tenant.id.clone(),
            name: tenant.name(),
            state: live_state,
            sent,
            refused: refused_count,
            nearest,
            nearest_text: format!("{nearest:.0}%"),
        });
    }
    sort(&mut rows, query.sort, query.order);
    let headers = [
        (SortBy::Id, "id", "Tenant"),
        (SortBy::Name, "name", "Name"),
        (SortBy::State, "state", "State"),
        (SortBy::Sent, "sent", "Sent (24 h)"),
        (SortBy::Refused, "refused", "Refused (24 h)"),
        (SortBy::Nearest, "nearest", "Nearest limit"),
    ]
    .into_iter()
    .map(|(column, key, label)| {
        // Clicking the current column flips its order; another column starts ascending.
        let order = if column == query.sort && query.order == Order::Asc {
            "desc"
        } else {
            "asc"
        };
        let link = format!(
            "/admin?sort={key}&order={order}&state={}&q={}",
            url_encode(&query.state),
            url_encode(&query.q)
        );
        (key, label, link)
    })
    .collect();
    let page = OverviewPage {
        page: page_for(&principal, &via, "All tenants".into(), now),
        rows,
        total,
        states: STATES.iter().copied().map(|s| (s, s == query.state)).collect(),
        q: query.q,
        headers,
    };
    super::page::html(StatusCode::OK, page.render())
}

fn sort(rows: &mut [Row], by: SortBy, order: Order) {
    rows.sort_by(|a, b| {
        let ordering = match by {
            SortBy::Id => a.id.cmp(&b.id),
            SortBy::Name => a.name.cmp(&b.name),
            SortBy::State => a.state.cmp(b.state),
            SortBy::Sent => a.sent.cmp(&b.sent),
            SortBy::Refused => a.refused.cmp(&b.refused),
            SortBy::Nearest => a.nearest.total_cmp(&b.nearest),
        }
        .then_with(|| a.id.cmp(&b.id));
        match order {
            Order::Asc => ordering,
            Order::Desc => ordering.reverse(),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, sent: u64, nearest: f64) -> Row {
        Row {
            id: id.into(),
            name: id.into(),
            state: "active",
            sent,
            refused: 0,
            nearest,
            nearest_text: String::new(),
        }
    }

    #[test]
    fn rows_sort_by_the_chosen_column_and_order() {
        let mut rows = vec![row("b", 5, 10.0), row("a", 9, 90.0), row("c", 5, 50.0)];
        sort(&mut rows, SortBy::Nearest, Order::Desc);
        assert_eq!(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["a", "c", "b"]);
        sort(&mut rows, SortBy::Sent, Order::Asc);
        assert_eq!(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["b", "c", "a"]);
    }
}
