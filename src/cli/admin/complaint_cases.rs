//! Complaint cases: `aupgate admin complaints cases TENANT` lists a tenant's open cases (from
//! `GET /api/v1/tenants/{tenant}/complaints/summary`), and `aupgate admin complaints resolve ID
//! --reason TEXT` resolves one (`POST /api/v1/complaints/{id}/resolve`), audited with the
//! caller's name. The case id is also in the case-opened event and notice.

use clap::Args;
use reqwest::Method;

use super::client::{encode, Api, Failure};
use super::show;
use crate::admin::complaint_resolve::ResolveCase;
use crate::complaints::cases::Case;
use crate::complaints::summary::ComplaintSummary;

#[derive(Args)]
pub struct ResolveArgs {
    /// Case id (`<opened at, unix ms>-<8 hex>`): `complaints cases TENANT` lists the open ones.
    id: String,
    /// What the tenant corrected.
    #[arg(long)]
    reason: String,
}

pub async fn run(api: &Api, as_json: bool, args: ResolveArgs) -> Result<(), Failure> {
    let path = format!("/api/v1/complaints/{}/resolve", encode(&args.id));
    let body = ResolveCase { reason: args.reason };
    let case: Case = api.call(Method::POST, &path, Some(&body)).await?;
    if as_json {
        show::json(&case);
    } else {
        let by = case.resolved.as_ref().map_or("-", |r| r.by.as_str());
        outln!("case {} of tenant {} resolved by {by}", case.id, case.tenant);
    }
    Ok(())
}

/// `complaints cases TENANT`: the tenant's open cases, oldest first.
pub async fn list(api: &Api, as_json: bool, tenant: &str) -> Result<(), Failure> {
    let path = format!("/api/v1/tenants/{}/complaints/summary", encode(tenant));
    let summary: ComplaintSummary = api.get(&path).await?;
    if as_json {
        show::json(&summary.open_cases);
        return Ok(());
    }
    if summary.open_cases.is_empty() {
        outln!("no open cases");
        return Ok(());
    }
    let mut rows = show::table(&["case", "opened", "deadline", "campaign", "reporter", "state"]);
    for case in &summary.open_cases {
        let state = if case.overdue {
            "overdue"
        } else if case.urgent {
            "urgent"
        } else {
            "open"
        };
        rows.add_row(vec![
            case.id.clone(),
            show::time(case.opened_at),
            show::time(case.deadline),
            case.campaign.clone().unwrap_or_else(|| "-".into()),
            case.reporter.clone().unwrap_or_else(|| "-".into()),
            state.to_string(),
        ]);
    }
    outln!("{rows}");
    Ok(())
}
