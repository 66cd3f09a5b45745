//! A tenant's logs over the API: `GET /api/v1/tenants/{tenant}/events` (the escalation ladder's
//! events) and `GET /api/v1/tenants/{tenant}/audit` (every policy decision and operator action),
//! filtered by time range, rule and verdict, newest first, in pages.
//!
//! Paging uses a cursor `<at>:<skip>`: the next page holds the records at or before `at`,
//! skipping the first `skip` of those at exactly `at` (already shown). Records are appended in
//! time order, so a page boundary never moves while newer records arrive.

use super::extract::ApiQuery;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::access::{Principal, Refusal};
use super::api::{ApiError, LogQuery, Page};
use super::{AdminState, ApiResult};
use crate::queue::now_ms;
use crate::store::{AuditRecord, Event};

/// Records per page unless the query says otherwise, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The verdicts a policy decision is audited with (`Verdict::name`; `continue` never ends a
/// decision): a filter on anything else would silently match nothing.
const AUDITED_VERDICTS: &[&str] = &["accept", "defer", "reject", "disconnect"];
/// The default time range: the last day.
const DEFAULT_RANGE_MS: u64 = 86_400_000;
/// The longest time range one request may ask for.
const MAX_RANGE_MS: u64 = 31 * 86_400_000;

/// The time range, page size and position a query asks for.
struct Window {
    since: u64,
    until: u64,
    limit: usize,
    skip: usize,
}

fn bad(message: String) -> Refusal {
    super::error(StatusCode::BAD_REQUEST, message)
}

fn window(query: &LogQuery, now: u64) -> Result<Window, Refusal> {
    let until = query.until.unwrap_or(now);
    let since = query.since.unwrap_or(until.saturating_sub(DEFAULT_RANGE_MS));
    if since > until {
        return Err(bad(format!("`since` ({since}) is after `until` ({until})")));
    }
    // A page is cut from the records of the whole range, read at once: the range is bounded so
    // that one request never reads a tenant's whole history.
    if until - since > MAX_RANGE_MS {
        return Err(bad(format!(
            "the range from `since` to `until` is at most {} days; page through longer periods range by range",
            MAX_RANGE_MS / 86_400_000
        )));
    }
    if let Some(verdict) = &query.verdict {
        if !AUDITED_VERDICTS.contains(&verdict.as_str()) {
            return Err(bad(format!(
                "`{verdict}` is not a verdict of the audit log ({})",
                AUDITED_VERDICTS.join(", ")
            )));
        }
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad(format!("`limit` must be 1..={MAX_LIMIT}")));
    }
    let (until, skip) = match &query.cursor {
        None => (until, 0),
        Some(cursor) => {
            let parsed = cursor
                .split_once(':')
                .and_then(|(at, skip)| Some((at.parse::<u64>().ok()?, skip.parse::<usize>().ok()?)));
            let (at, skip) = parsed.ok_or_else(|| bad(format!("`{cursor}` is not a cursor of this API")))?;
            (at.min(until), if at <= until { skip } else { 0 })
        }
    };
    Ok(Window {
        since,
        until,
        limit,
        skip,
    })
}

/// One page, newest first, of `records` (oldest first, as the store answers), with `at` the
/// record's time.
fn page<T>(mut records: Vec<T>, at: impl Fn(&T) -> u64, window: &Window) -> Page<T> {
    records.reverse();
    let mut skipped = 0;
    let mut items: Vec<T> = Vec::with_capacity(window.limit.min(records.len()));
    let mut more = false;
    for record in records {
        if at(&record) > window.until || at(&record) < window.since {
            continue;
        }
        if at(&record) == window.until && skipped < window.skip {
            skipped += 1;
            continue;
        }
        if items.len() == window.limit {
            more = true;
            break;
        }
        items.push(record);
    }
    let next = match items.last() {
        Some(last) if more => {
            let last_at = at(last);
            // Shown on this page at `last_at` (and on earlier pages, when it is the cursor's).
            let shown = items.iter().filter(|r| at(r) == last_at).count()
                + if last_at == window.until { window.skip } else { 0 };
            Some(format!("{last_at}:{shown}"))
        }
        _ => None,
    };
    Page { items, next }
}

/// `GET /api/v1/tenants/{tenant}/events`: the tenant's events (violations, threshold crossings).
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/events",
    params(("tenant" = String, Path, description = "Tenant id"), LogQuery),
    responses(
        (status = 200, description = "A page of events, newest first", body = Page<Event>),
        (status = 400, description = "Bad range, limit or cursor", body = ApiError),
        (status = 404, description = "No such tenant (or not yours)", body = ApiError),
    ),
    tag = "logs"
)]
pub async fn events(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> ApiResult<Page<Event>> {
    principal.tenant(&tenant)?;
    known(&state, &tenant)?;
    let window = window(&query, now_ms())?;
    let mut records = state
        .store
        .events_range(&tenant, window.since, window.until)
        .await
        .map_err(super::internal)?;
    if let Some(rule) = &query.rule {
        records.retain(|event| event.rule.as_deref() == Some(rule.as_str()));
    }
    Ok(Json(page(records, |event| event.at, &window)))
}

/// `GET /api/v1/tenants/{tenant}/audit`: policy decisions and operator actions.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/audit",
    params(("tenant" = String, Path, description = "Tenant id"), LogQuery),
    responses(
        (status = 200, description = "A page of audit records, newest first", body = Page<AuditRecord>),
        (status = 400, description = "Bad range, limit or cursor", body = ApiError),
        (status = 404, description = "No such tenant (or not yours)", body = ApiError),
    ),
    tag = "logs"
)]
pub async fn audit(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> ApiResult<Page<AuditRecord>> {
    principal.tenant(&tenant)?;
    known(&state, &tenant)?;
    let window = window(&query, now_ms())?;
    let mut records = state
        .store
        .audit_range(&tenant, window.since, window.until)
        .await
        .map_err(super::internal)?;
    records.retain(|record| matches(record, &query));
    Ok(Json(page(records, |record| record.at, &window)))
}

/// A policy decision is audited with actor `policy`, the verdict as action and the rule id as
/// target (`PolicyEngine::decide`); an accepted message with action `accept`.
fn matches(record: &AuditRecord, query: &LogQuery) -> bool {
    let policy = record.actor == "policy";
    query.rule.as_ref().is_none_or(|rule| policy && record.target == *rule)
        && query
            .verdict
            .as_ref()
            .is_none_or(|verdict| policy && record.action == *verdict)
}

fn known(state: &AdminState, tenant: &str) -> Result<(), Refusal> {
    match state.tenants.get(tenant) {
        Some(_) => Ok(()),
        None => Err(super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(until: u64, limit: usize, skip: usize) -> Window {
        Window {
            since: 0,
            until,
            limit,
            skip,
        }
    }

    /// Pages walk every record once, newest first, even when many share one millisecond.
    #[test]
    fn pages_cover_every_record_once() {
        let records: Vec<(u64, u32)> = vec![(1, 0), (2, 1), (2, 2), (2, 3), (3, 4), (5, 5)];
        let mut seen = Vec::new();
        let mut window = w(10, 2, 0);
        loop {
            let got = page(records.clone(), |r| r.0, &window);
            seen.extend(got.items.iter().map(|r| r.1));
            let Some(next) = got.next else { break };
            let query = LogQuery {
                until: Some(10),
                since: Some(0),
                limit: Some(2),
                cursor: Some(next),
                ..LogQuery::default()
            };
            window = super::window(&query, 10).expect("cursor");
        }
        assert_eq!(seen, vec![5, 4, 3, 2, 1, 0]);
    }

    #[test]
    fn bad_queries_are_refused() {
        let now = 1_000;
        for query in [
            LogQuery {
                since: Some(5),
                until: Some(4),
                ..LogQuery::default()
            },
            LogQuery {
                limit: Some(0),
                ..LogQuery::default()
            },
            LogQuery {
                limit: Some(MAX_LIMIT + 1),
                ..LogQuery::default()
            },
            LogQuery {
                cursor: Some("yesterday".into()),
                ..LogQuery::default()
            },
        ] {
            assert_eq!(window(&query, now).err().map(|e| e.0), Some(StatusCode::BAD_REQUEST));
        }
    }
}
