//! How the admin CLI prints answers: human tables (comfy-table), or the API's JSON as is with
//! `--json`. Printing only: no requests, no decisions.

use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

use crate::admin::api::{DomainRecords, Page};
use crate::admin::domains::DomainStatus;
use crate::admin::usage::Usage;
use crate::store::{AuditRecord, Block, Event, Suppression};

/// A time (unix ms) as people read it; `-` for none.
pub fn time(ms: u64) -> String {
    if ms == 0 {
        return "-".into();
    }
    crate::smtp::trace::rfc5322_date(ms / 1000)
}

pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    table
}

/// Prints `value` as pretty JSON.
pub fn json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => outln!("{text}"),
        Err(error) => eprintln!("aupgate: cannot print JSON: {error}"),
    }
}

fn window(seconds: u64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

pub fn usage(usage: &Usage) {
    outln!(
        "tenant {} (profile {}), taken at {}",
        usage.tenant,
        usage.profile,
        time(usage.taken_at)
    );
    let mut quotas = table(&["rule", "used", "limit", "%", "window", "next fits at"]);
    for q in &usage.quotas {
        let fits = if q.resets_at <= usage.taken_at {
            "now".to_string()
        } else {
            time(q.resets_at)
        };
        quotas.add_row(vec![
            q.rule.clone(),
            q.used.to_string(),
            q.limit.to_string(),
            format!("{:.1}", q.percent),
            window(q.window_seconds),
            fits,
        ]);
    }
    outln!("{quotas}");
    if let Some(bulk) = &usage.bulk {
        outln!(
            "bulk: at most {} distinct recipients per campaign in {}{}",
            bulk.limit,
            window(bulk.window_seconds),
            if bulk.registered_sender {
                " (registered bulk sender)"
            } else {
                ""
            }
        );
        if !bulk.campaigns.is_empty() {
            let mut campaigns = table(&["campaign", "recipients", "%"]);
            for c in &bulk.campaigns {
                campaigns.add_row(vec![
                    c.campaign.clone(),
                    c.recipients.to_string(),
                    format!("{:.1}", c.percent),
                ]);
            }
            outln!("{campaigns}");
        }
    }
    if let Some(bomb) = &usage.mail_bomb {
        outln!(
            "mail bomb: at most {} similar messages to one recipient in {}",
            bomb.limit,
            window(bomb.window_seconds)
        );
        for (what, rows) in [("recipient", &bomb.recipients), ("domain", &bomb.domains)] {
            if rows.is_empty() {
                continue;
            }
            let mut targets = table(&[what, "campaign", "messages", "%"]);
            for t in rows {
                targets.add_row(vec![
                    t.target.clone(),
                    t.campaign.clone(),
                    t.messages.to_string(),
                    format!("{:.1}", t.percent),
                ]);
            }
            outln!("{targets}");
        }
    }
}

fn next_page<T>(page: &Page<T>) {
    if let Some(next) = &page.next {
        outln!("more: --cursor {next}");
    }
}

pub fn events(page: &Page<Event>) {
    if page.items.is_empty() {
        outln!("no events");
        return;
    }
    let mut rows = table(&["at", "kind", "rule", "detail"]);
    for e in &page.items {
        rows.add_row(vec![
            time(e.at),
            e.kind.clone(),
            e.rule.clone().unwrap_or_default(),
            if e.detail.is_null() {
                String::new()
            } else {
                e.detail.to_string()
            },
        ]);
    }
    outln!("{rows}");
    next_page(page);
}

pub fn audit(page: &Page<AuditRecord>) {
    if page.items.is_empty() {
        outln!("no audit records");
        return;
    }
    let mut rows = table(&["at", "actor", "action", "target", "reason"]);
    for r in &page.items {
        rows.add_row(vec![
            time(r.at),
            r.actor.clone(),
            r.action.clone(),
            r.target.clone(),
            r.reason.clone(),
        ]);
    }
    outln!("{rows}");
    next_page(page);
}

pub fn blocks(blocks: &[Block]) {
    if blocks.is_empty() {
        outln!("no blocks");
        return;
    }
    let mut rows = table(&["tenant", "scope", "target", "by", "at", "expires", "reason"]);
    for b in blocks {
        rows.add_row(vec![
            b.tenant.clone(),
            b.scope.as_str().to_string(),
            b.target.clone(),
            b.by.clone(),
            time(b.at),
            b.expires_at.map(time).unwrap_or_else(|| "-".into()),
            b.reason.clone(),
        ]);
    }
    outln!("{rows}");
}

/// One block, on one line (what `blocks add` and `blocks lift` print after their verb).
pub fn block_line(block: &Block) -> String {
    let target = if block.target.is_empty() {
        String::new()
    } else {
        format!(" {}", block.target)
    };
    let expires = block
        .expires_at
        .map(|at| format!(" until {}", time(at)))
        .unwrap_or_default();
    format!(
        "{} {}{} by {} at {}{expires}: {}",
        block.tenant,
        block.scope.as_str(),
        target,
        block.by,
        time(block.at),
        block.reason
    )
}

pub fn domains(list: &[DomainStatus]) {
    if list.is_empty() {
        outln!("no domains");
        return;
    }
    let mut rows = table(&["domain", "state", "publish"]);
    for d in list {
        rows.add_row(vec![
            d.domain.clone(),
            if d.verified { "verified" } else { "pending" }.to_string(),
            if d.record.is_empty() {
                "- (vouched for: nothing to publish)".to_string()
            } else {
                d.record.clone()
            },
        ]);
    }
    outln!("{rows}");
}

pub fn records(records: &DomainRecords) {
    outln!(
        "{} ({})",
        records.domain,
        if records.verified { "verified" } else { "pending" }
    );
    let mut rows = table(&["purpose", "name", "type", "value"]);
    for r in &records.records {
        rows.add_row(vec![r.purpose.clone(), r.name.clone(), r.kind.clone(), r.value.clone()]);
    }
    outln!("{rows}");
}

pub fn suppression(list: &[Suppression]) {
    if list.is_empty() {
        outln!("no suppressed addresses");
        return;
    }
    let mut rows = table(&["address", "since", "reason"]);
    for s in list {
        rows.add_row(vec![s.address.clone(), time(s.at), s.reason.clone()]);
    }
    outln!("{rows}");
}

/// Tenants as the tenant routes answer them: one row per object, the usual fields as columns.
pub fn tenants(value: &serde_json::Value) {
    let items: Vec<&serde_json::Value> = match value {
        serde_json::Value::Array(items) => items.iter().collect(),
        serde_json::Value::Object(map) => match map.get("tenants") {
            Some(serde_json::Value::Array(items)) => items.iter().collect(),
            _ => vec![value],
        },
        serde_json::Value::Null => {
            outln!("done");
            return;
        }
        other => vec![other],
    };
    if items.is_empty() {
        outln!("no tenants");
        return;
    }
    let columns = [
        "id",
        "name",
        "state",
        "profile",
        "contact",
        "networks",
        "domains",
        "usernames",
    ];
    let mut rows = table(&columns);
    for item in items {
        rows.add_row(columns.iter().map(|c| {
            match item.get(*c) {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Null) | None => String::new(),
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .map(|entry| match entry {
                        serde_json::Value::String(s) => s.clone(),
                        // A domain: its name, and whether it is verified.
                        other => match (other.get("domain"), other.get("verified")) {
                            (Some(serde_json::Value::String(d)), Some(serde_json::Value::Bool(true))) => d.clone(),
                            (Some(serde_json::Value::String(d)), _) => format!("{d} (unverified)"),
                            _ => other.to_string(),
                        },
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                Some(other) => other.to_string(),
            }
        }));
    }
    outln!("{rows}");
    if let Some(total) = value.get("total") {
        let next = value.get("next_offset").and_then(|n| n.as_u64());
        match next {
            Some(next) => outln!("{total} tenants; next page: --offset {next}"),
            None => outln!("{total} tenants"),
        }
    }
}
