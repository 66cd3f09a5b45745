//! `aupgate admin ...`: the abuse desk's commands. A client of the admin API of the running
//! gateway (it never opens the database). URL from `--url` (default `http://127.0.0.1:8025`),
//! token from `--token`, `AUPGATE_TOKEN`, or `[admin] token` in `--config`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};

use crate::admin::api::{AddBlock, ApiError, LiftBlock};
use crate::store::{Block, BlockScope};

#[derive(Args)]
pub struct AdminArgs {
    /// Admin API base URL.
    #[arg(long, global = true)]
    url: Option<String>,
    /// Bearer token (else AUPGATE_TOKEN, else [admin] token from --config).
    #[arg(long, global = true, env = "AUPGATE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Gateway config to read the admin address and token from.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Blocks: list, add, lift.
    #[command(subcommand)]
    Blocks(BlocksCommand),
    /// Sender domains: add (issue a token), verify (DNS TXT), mark-verified, list.
    #[command(subcommand)]
    Domains(DomainsCommand),
}

#[derive(Subcommand)]
enum DomainsCommand {
    /// List a tenant's domains and their verification state.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Add a domain and print the TXT record the tenant must publish.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        domain: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// Look the token up in DNS and mark the domain verified.
    Verify {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        domain: String,
    },
    /// Mark a domain verified by hand (audited).
    MarkVerified {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        domain: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Scope {
    Tenant,
    Campaign,
    Sender,
}

impl From<Scope> for BlockScope {
    fn from(scope: Scope) -> BlockScope {
        match scope {
            Scope::Tenant => BlockScope::Tenant,
            Scope::Campaign => BlockScope::Campaign,
            Scope::Sender => BlockScope::Sender,
        }
    }
}

#[derive(Args)]
struct BlockTarget {
    /// Tenant id.
    #[arg(long)]
    tenant: String,
    /// What is blocked.
    #[arg(long, value_enum, default_value = "tenant")]
    scope: Scope,
    /// Campaign id or sender address (not for tenant blocks).
    #[arg(long, default_value = "")]
    target: String,
    /// Why (recorded in the audit log).
    #[arg(long)]
    reason: String,
    /// Operator name (recorded in the audit log); default $USER.
    #[arg(long)]
    by: Option<String>,
}

#[derive(Subcommand)]
enum BlocksCommand {
    /// List blocks (of one tenant, or all).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Place a block (a tenant block suspends the tenant at once).
    Add(BlockTarget),
    /// Lift a block.
    Lift(BlockTarget),
}

/// Exit code of a command the gateway could not carry out for now (DNS trouble): try again
/// later. EX_TEMPFAIL from sysexits.h, as sendmail and Postfix use it.
pub const EXIT_TEMPFAIL: i32 = 75;

/// The admin API answered "not now" (HTTP 503): the command may succeed if run again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TemporaryFailure(String);

/// Runs an admin subcommand; returns the exit code ([`EXIT_TEMPFAIL`] when the gateway says to
/// try again later).
pub fn run(args: AdminArgs) -> anyhow::Result<i32> {
    match run_command(args) {
        Err(error) if error.downcast_ref::<TemporaryFailure>().is_some() => {
            eprintln!("aupgate: {error:#}");
            Ok(EXIT_TEMPFAIL)
        }
        other => other,
    }
}

fn run_command(args: AdminArgs) -> anyhow::Result<i32> {
    let (base, token) = endpoint(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        match args.command {
            AdminCommand::Blocks(BlocksCommand::List { tenant }) => {
                let url = match tenant {
                    Some(tenant) => format!("{base}/api/v1/blocks?tenant={}", percent_encode(&tenant)),
                    None => format!("{base}/api/v1/blocks"),
                };
                let request = client.get(url);
                let blocks: Vec<Block> = send(request, token.as_deref()).await?;
                if blocks.is_empty() {
                    println!("no blocks");
                }
                for block in blocks {
                    print_block(&block);
                }
                Ok(0)
            }
            AdminCommand::Domains(command) => domains(&client, &base, token.as_deref(), command).await,
            AdminCommand::Blocks(BlocksCommand::Add(target)) => {
                let body = AddBlock {
                    tenant: target.tenant,
                    scope: target.scope.into(),
                    target: target.target,
                    by: operator(target.by),
                    reason: target.reason,
                };
                let block: Block = send(
                    client.post(format!("{base}/api/v1/blocks")).json(&body),
                    token.as_deref(),
                )
                .await?;
                print!("blocked: ");
                print_block(&block);
                Ok(0)
            }
            AdminCommand::Blocks(BlocksCommand::Lift(target)) => {
                let body = LiftBlock {
                    tenant: target.tenant,
                    scope: target.scope.into(),
                    target: target.target,
                    by: operator(target.by),
                    reason: target.reason,
                };
                let block: Block = send(
                    client.post(format!("{base}/api/v1/blocks/lift")).json(&body),
                    token.as_deref(),
                )
                .await?;
                print!("lifted: ");
                print_block(&block);
                Ok(0)
            }
        }
    })
}

async fn domains(
    client: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    command: DomainsCommand,
) -> anyhow::Result<i32> {
    use crate::admin::domains::{AddDomain, DomainStatus, MarkVerified};
    let show = |d: &DomainStatus| {
        let state = if d.verified { "verified" } else { "pending" };
        println!("{} {state}  publish: {}", d.domain, d.record);
    };
    match command {
        DomainsCommand::List { tenant } => {
            let list: Vec<DomainStatus> = send(
                client.get(format!("{base}/api/v1/tenants/{}/domains", percent_encode(&tenant))),
                token,
            )
            .await?;
            list.iter().for_each(show);
        }
        DomainsCommand::Add { tenant, domain, by } => {
            let body = AddDomain {
                domain,
                by: operator(by),
            };
            let status: DomainStatus = send(
                client
                    .post(format!("{base}/api/v1/tenants/{}/domains", percent_encode(&tenant)))
                    .json(&body),
                token,
            )
            .await?;
            show(&status);
        }
        DomainsCommand::Verify { tenant, domain } => {
            let url = format!(
                "{base}/api/v1/tenants/{}/domains/{}/verify",
                percent_encode(&tenant),
                percent_encode(&domain)
            );
            let status: DomainStatus = send(client.post(url), token).await?;
            show(&status);
        }
        DomainsCommand::MarkVerified {
            tenant,
            domain,
            reason,
            by,
        } => {
            let url = format!(
                "{base}/api/v1/tenants/{}/domains/{}/mark-verified",
                percent_encode(&tenant),
                percent_encode(&domain)
            );
            let status: DomainStatus = send(
                client.post(url).json(&MarkVerified {
                    by: operator(by),
                    reason,
                }),
                token,
            )
            .await?;
            show(&status);
        }
    }
    Ok(0)
}

fn endpoint(args: &AdminArgs) -> anyhow::Result<(String, Option<String>)> {
    let config = match &args.config {
        Some(path) => Some(crate::config::Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let url = args
        .url
        .clone()
        .or_else(|| config.as_ref().map(|c| format!("http://{}", c.admin.address)))
        .unwrap_or_else(|| "http://127.0.0.1:8025".to_string());
    let token = args.token.clone().or_else(|| config.and_then(|c| c.admin.token));
    Ok((url.trim_end_matches('/').to_string(), token))
}

async fn send<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    token: Option<&str>,
) -> anyhow::Result<T> {
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request
        .send()
        .await
        .context("cannot reach the admin API (is the gateway running?)")?;
    let status = response.status();
    if !status.is_success() {
        let message = response
            .json::<ApiError>()
            .await
            .map(|e| e.error)
            .unwrap_or_else(|_| status.to_string());
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return Err(TemporaryFailure(format!("{status}: {message}")).into());
        }
        bail!("{status}: {message}");
    }
    Ok(response.json().await?)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".to_string())
}

fn print_block(block: &Block) {
    let target = if block.target.is_empty() {
        String::new()
    } else {
        format!(" {}", block.target)
    };
    println!(
        "{} {:?}{} by {} at {}: {}",
        block.tenant,
        block.scope,
        target,
        block.by,
        crate::smtp::trace::rfc5322_date(block.at / 1000),
        block.reason
    );
}
