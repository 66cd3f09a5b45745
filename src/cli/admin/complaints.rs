//! `aupgate admin complaints import|list|show`: feedback reports in, and the stored complaints
//! out, through `POST/GET /api/v1/complaints`.
//!
//! `import FILE|DIR|MBOX` posts each report (a file, each file of a directory in name order, or
//! each message of an mbox) as `message/rfc822` and prints one line per report: `recorded <id>`
//! (with the tenant and campaign, or `unattributed`), `duplicate of <id>`, `ignored: <why>`, or
//! the failure. Every report is tried; the exit code is the worst failure's (0 when none).

use std::path::PathBuf;

use clap::Subcommand;
use comfy_table::{ContentArrangement, Table};

use super::client::{encode, query, Api, Failure};
use super::show;
use crate::admin::api::Page;
use crate::admin::complaints::ComplaintView;
use crate::complaints::intake::Outcome;

#[derive(Subcommand)]
pub enum ComplaintsCommand {
    /// Post feedback reports (ARF or Microsoft-style) from a file, a directory or an mbox.
    Import {
        /// A report file, a directory of them, or an mbox.
        source: PathBuf,
    },
    /// List complaints, newest first.
    List {
        /// Only this tenant's.
        #[arg(long)]
        tenant: Option<String>,
        /// Only those attributed to no tenant.
        #[arg(long, conflicts_with = "tenant")]
        unattributed: bool,
        /// Complaints per page (1..=1000; default 100).
        #[arg(long)]
        limit: Option<usize>,
        /// The page after the one that printed this cursor.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Show one complaint with the returned message.
    Show {
        /// Complaint id.
        id: String,
    },
    /// A tenant's open complaint cases (the ids `resolve` takes).
    Cases {
        /// The tenant's id.
        tenant: String,
    },
    /// Resolve a complaint case (audited): the tenant corrected the cause.
    Resolve(super::complaint_cases::ResolveArgs),
}

pub async fn run(api: &Api, as_json: bool, command: ComplaintsCommand) -> Result<(), Failure> {
    match command {
        ComplaintsCommand::Import { source } => import(api, as_json, &source).await,
        ComplaintsCommand::Resolve(args) => super::complaint_cases::run(api, as_json, args).await,
        ComplaintsCommand::Cases { tenant } => super::complaint_cases::list(api, as_json, &tenant).await,
        ComplaintsCommand::List {
            tenant,
            unattributed,
            limit,
            cursor,
        } => {
            let path = format!(
                "/api/v1/complaints{}",
                query(&[
                    ("tenant", tenant),
                    ("unattributed", unattributed.then(|| "true".to_string())),
                    ("limit", limit.map(|l| l.to_string())),
                    ("cursor", cursor),
                ])
            );
            let page: Page<ComplaintView> = api.get(&path).await?;
            if as_json {
                show::json(&page);
            } else {
                print_list(&page);
            }
            Ok(())
        }
        ComplaintsCommand::Show { id } => {
            let view: ComplaintView = api.get(&format!("/api/v1/complaints/{}", encode(&id))).await?;
            if as_json {
                show::json(&view);
            } else {
                print_one(&view);
            }
            Ok(())
        }
    }
}

async fn import(api: &Api, as_json: bool, source: &std::path::Path) -> Result<(), Failure> {
    let reports = crate::cli::policy::read_messages(source).map_err(|e| Failure::usage(format!("{e:#}")))?;
    if reports.is_empty() {
        return Err(Failure::usage(format!("{}: no reports", source.display())));
    }
    let mut worst: Option<Failure> = None;
    for (name, bytes) in reports {
        match api
            .post_bytes::<Outcome>("/api/v1/complaints?source=cli", "message/rfc822", bytes)
            .await
        {
            Ok(outcome) if as_json => {
                let mut line = serde_json::to_value(&outcome).unwrap_or_default();
                line["report"] = serde_json::Value::String(name);
                outln!("{line}");
            }
            Ok(outcome) => outln!("{name}: {}", describe(&outcome)),
            Err(failure) => {
                outln!("{name}: failed: {}", failure.message);
                if worst.as_ref().is_none_or(|w| failure.code > w.code) {
                    worst = Some(failure);
                }
            }
        }
    }
    match worst {
        Some(failure) => Err(Failure {
            code: failure.code,
            message: format!("some reports were not taken (the last error: {})", failure.message),
        }),
        None => Ok(()),
    }
}

/// One import line.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Recorded {
            id,
            tenant: Some(tenant),
            campaign,
            attributed_by,
        } => format!(
            "recorded {id} (tenant {tenant}, campaign {}, by {})",
            campaign.as_deref().unwrap_or("-"),
            attributed_by
                .map(|by| serde_json::to_value(by)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("")
                    .to_string())
                .unwrap_or_default()
        ),
        Outcome::Recorded { id, tenant: None, .. } => format!("recorded {id}: unattributed"),
        Outcome::Duplicate { id } => format!("duplicate of {id}"),
        Outcome::Ignored { reason } => format!("ignored: {reason}"),
    }
}

fn print_list(page: &Page<ComplaintView>) {
    let mut table = Table::new();
    table.set_content_arrangement(ContentArrangement::Dynamic).set_header([
        "id",
        "received",
        "tenant",
        "campaign",
        "recipient",
        "reporter",
        "type",
        "source",
    ]);
    for c in &page.items {
        table.add_row([
            c.id.clone(),
            show::time(c.received_at),
            c.tenant.clone().unwrap_or_else(|| "(unattributed)".into()),
            c.campaign.clone().unwrap_or_else(|| "-".into()),
            c.recipient.clone().unwrap_or_else(|| "-".into()),
            c.reporter.clone().unwrap_or_else(|| "(anonymous)".into()),
            c.feedback_type.clone(),
            serde_json::to_value(c.source)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("")
                .to_string(),
        ]);
    }
    outln!("{table}");
    if let Some(next) = &page.next {
        outln!("more: --cursor {next}");
    }
}

fn print_one(c: &ComplaintView) {
    let field = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    outln!("id:           {}", c.id);
    outln!("received:     {}", show::time(c.received_at));
    outln!(
        "tenant:       {}",
        c.tenant.clone().unwrap_or_else(|| "(unattributed)".into())
    );
    outln!("campaign:     {}", field(&c.campaign));
    outln!("queue id:     {}", field(&c.queue_id));
    outln!(
        "attributed:   {}",
        c.attributed_by
            .map(|by| serde_json::to_value(by)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("")
                .to_string())
            .unwrap_or_else(|| "-".into())
    );
    outln!("recipient:    {}", field(&c.recipient));
    outln!(
        "reporter:     {}",
        c.reporter.clone().unwrap_or_else(|| "(anonymous)".into())
    );
    outln!("type:         {}", c.feedback_type);
    outln!("message id:   {}", field(&c.message_id));
    outln!("urgent:       {}", if c.urgent { "yes" } else { "no" });
    outln!("note:         {}", field(&c.note));
    if let Some(original) = &c.original {
        outln!("\n{original}");
    }
}
