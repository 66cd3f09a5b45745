//! `aupgate admin complaints resolve ID --reason TEXT`: resolves a complaint case
//! (`POST /api/v1/complaints/{id}/resolve`); the case id is in the case-opened event and notice
//! and in the tenant's complaints summary. Audited with the caller's name.

use clap::Args;
use reqwest::Method;

use super::client::{encode, Api, Failure};
use super::show;
use crate::admin::complaint_resolve::ResolveCase;
use crate::complaints::cases::Case;

#[derive(Args)]
pub struct ResolveArgs {
    /// Case id (`<opened at, unix ms>-<8 hex>`).
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
