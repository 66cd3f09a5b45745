//! `aupgate admin ...`: the abuse desk's commands. A client of the admin API of the running
//! gateway (it never opens the database). URL from `--url` (default `http://127.0.0.1:8025`),
//! token from `--token`, `AUPGATE_TOKEN`, or `[admin] token` in `--config`. Human tables by
//! default, the API's JSON with `--json`; exit codes in `client`.
//!
//! Parts: this file (the commands and what each one calls), `client` (the HTTP calls and exit
//! codes), `show` (tables).

mod backup;
mod client;
mod complaint_cases;
mod complaints;
mod show;

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Method;

use crate::admin::api::{AddBlock, AddSuppression, CredentialList, DomainRecords, LiftBlock, Page};
use crate::admin::usage::Usage;
use crate::store::{AuditRecord, Block, BlockScope, Event, Suppression};
use client::{encode, query, Api, Failure};

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
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Tenants: list, show, add, set, delete.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// A tenant's usage of each limit, and when each resets.
    Usage {
        /// Tenant id.
        tenant: String,
    },
    /// A tenant's events (violations, threshold crossings), newest first.
    Events {
        /// The tenant's id.
        tenant: String,
        #[command(flatten)]
        range: Range,
    },
    /// A tenant's audit trail (policy decisions, operator actions), newest first.
    Audit {
        /// The tenant's id.
        tenant: String,
        #[command(flatten)]
        range: Range,
        /// Only policy decisions with this verdict (accept, reject, defer, ...).
        #[arg(long)]
        verdict: Option<String>,
    },
    /// Blocks: list, add, lift.
    #[command(subcommand)]
    Blocks(BlocksCommand),
    /// Sender domains: add (issue a token), verify (DNS TXT), mark-verified, records, list.
    #[command(subcommand)]
    Domains(DomainsCommand),
    /// A tenant's suppression list: list, add, remove.
    #[command(subcommand)]
    Suppression(SuppressionCommand),
    /// Have the running gateway write a consistent backup of its queue and store into DIR (a new
    /// directory under its `[admin] backup_dir`).
    Backup {
        /// The backup's directory: relative to the backup root, or an absolute path under it.
        directory: String,
    },
    /// Complaints: import feedback reports, list, show.
    #[command(subcommand)]
    Complaints(complaints::ComplaintsCommand),
}

/// The time range and page of `events` and `audit`.
#[derive(Args)]
struct Range {
    /// Oldest record: a duration back from now (`2h`, `7d`) or unix ms; default 24 h ago.
    #[arg(long)]
    since: Option<String>,
    /// Newest record: a duration back from now or unix ms; default now.
    #[arg(long)]
    until: Option<String>,
    /// Only records naming this rule id.
    #[arg(long)]
    rule: Option<String>,
    /// Records per page (1..=1000; default 100).
    #[arg(long)]
    limit: Option<usize>,
    /// The page after the one that printed this cursor.
    #[arg(long)]
    cursor: Option<String>,
}

#[derive(Subcommand)]
enum TenantsCommand {
    /// List tenants.
    List {
        /// Only tenants in this state (active, warned, final_warning, suspended).
        #[arg(long)]
        state: Option<String>,
        /// Tenants per page (at most 1000; default 100).
        #[arg(long)]
        limit: Option<usize>,
        /// Tenants to skip: where the page starts.
        #[arg(long)]
        offset: Option<usize>,
    },
    /// Show one tenant.
    Show {
        /// The tenant's id.
        tenant: String,
    },
    /// Create a tenant.
    Add {
        /// The tenant's id.
        tenant: String,
        /// The tenant's name, as people read it.
        #[arg(long)]
        name: String,
        /// The policy profile it is judged by (a profile of the gateway's `[policy] directory`).
        #[arg(long)]
        profile: Option<String>,
        /// Where the gateway's notices to the tenant go (a mail address).
        #[arg(long)]
        contact: Option<String>,
        /// A network (CIDR) of the tenant; repeat for several.
        #[arg(long = "network")]
        networks: Vec<String>,
        /// A domain the tenant may send as (vouched for: verified); repeat for several.
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// A single limit overriding the profile's, `name=value` (e.g. `messages_per_hour=500`);
        /// repeat for several.
        #[arg(long = "limit", value_parser = parse_limit)]
        limits: Vec<(String, u64)>,
    },
    /// Change a tenant's fields (only those given).
    Set {
        /// The tenant's id.
        tenant: String,
        /// The tenant's name, as people read it.
        #[arg(long)]
        name: Option<String>,
        /// The policy profile it is judged by (a profile of the gateway's `[policy] directory`).
        #[arg(long)]
        profile: Option<String>,
        /// Where the gateway's notices to the tenant go (a mail address).
        #[arg(long)]
        contact: Option<String>,
        /// The tenant's networks (the whole list: repeat for several).
        #[arg(long = "network")]
        networks: Vec<String>,
        /// The tenant's domains (the whole list: new ones verified, missing ones removed).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// The single-limit overrides (the whole set), `name=value`; repeat for several.
        #[arg(long = "limit", value_parser = parse_limit)]
        limits: Vec<(String, u64)>,
    },
    /// Set an SMTP AUTH identity: the password is read from the first line of standard input
    /// (never from the command line) and hashed on the server.
    Credentials {
        /// The tenant's id.
        tenant: String,
        /// The SMTP AUTH user name (unique across tenants).
        #[arg(long)]
        username: String,
    },
    /// Delete a tenant (refused while its mail is queued, unless --force).
    Delete {
        /// The tenant's id.
        tenant: String,
        /// Delete it even while its mail is queued (the queued mail is still delivered).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum SuppressionCommand {
    /// List the suppressed addresses.
    List {
        /// The tenant's id.
        tenant: String,
    },
    /// Suppress an address (audited).
    Add {
        /// The tenant's id.
        tenant: String,
        /// The recipient address.
        address: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Take an address off the list (audited).
    Remove {
        /// The tenant's id.
        tenant: String,
        /// The recipient address.
        address: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum DomainsCommand {
    /// List a tenant's domains and their verification state.
    List {
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
    },
    /// Add a domain and print the TXT record the tenant must publish.
    Add {
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// The sender domain.
        #[arg(long)]
        domain: String,
        /// Who does it, for the audit log (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Look the token up in DNS and mark the domain verified.
    Verify {
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// The sender domain.
        #[arg(long)]
        domain: String,
    },
    /// The DNS records to publish for a domain (ownership token, SPF, DKIM per selector).
    Records {
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// The sender domain.
        #[arg(long)]
        domain: String,
    },
    /// Mark a domain verified by hand (audited).
    MarkVerified {
        /// The tenant's id.
        #[arg(long)]
        tenant: String,
        /// The sender domain.
        #[arg(long)]
        domain: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
        /// Who does it, for the audit log (default: $USER).
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
        /// The tenant's id.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Place a block (a tenant block suspends the tenant at once).
    Add {
        #[command(flatten)]
        target: BlockTarget,
        /// When the block stops applying by itself: a duration from now (`30m`, `7d`) or unix ms.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Lift a block.
    Lift(BlockTarget),
}

/// Runs an admin subcommand; returns the exit code (see `client`).
pub fn run(args: AdminArgs) -> anyhow::Result<i32> {
    let (base, token) = endpoint(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let api = Api::new(base, token);
    match runtime.block_on(command(&api, args.json, args.command)) {
        Ok(()) => Ok(0),
        Err(failure) => {
            eprintln!("aupgate: {}", failure.message);
            Ok(failure.code)
        }
    }
}

/// A point in time from `--since 2h` (a duration back from now) or unix ms.
fn ago(text: &str) -> Result<String, Failure> {
    relative(text, |now, by| now.saturating_sub(by))
}

/// A point in time from `--expires 30m` (a duration ahead of now) or unix ms.
fn ahead(text: &str) -> Result<u64, Failure> {
    relative(text, |now, by| now.saturating_add(by))?
        .parse()
        .map_err(|_| Failure::usage(format!("`{text}` is not a time")))
}

fn relative(text: &str, apply: fn(u64, u64) -> u64) -> Result<String, Failure> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms.to_string());
    }
    let by = crate::config::units::parse_duration(text)
        .map_err(|error| Failure::usage(format!("`{text}` is neither a duration (2h, 7d) nor unix ms: {error}")))?;
    let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
    Ok(apply(crate::queue::now_ms(), by).to_string())
}

fn range_query(range: &Range, verdict: Option<String>) -> Result<String, Failure> {
    Ok(query(&[
        ("since", range.since.as_deref().map(ago).transpose()?),
        ("until", range.until.as_deref().map(ago).transpose()?),
        ("rule", range.rule.clone()),
        ("verdict", verdict),
        ("limit", range.limit.map(|l| l.to_string())),
        ("cursor", range.cursor.clone()),
    ]))
}

async fn command(api: &Api, as_json: bool, command: AdminCommand) -> Result<(), Failure> {
    match command {
        AdminCommand::Tenants(command) => tenants(api, as_json, command).await,
        AdminCommand::Usage { tenant } => {
            let usage: Usage = api.get(&format!("/api/v1/tenants/{}/usage", encode(&tenant))).await?;
            if as_json {
                show::json(&usage)
            } else {
                show::usage(&usage)
            }
            Ok(())
        }
        AdminCommand::Events { tenant, range } => {
            let path = format!(
                "/api/v1/tenants/{}/events{}",
                encode(&tenant),
                range_query(&range, None)?
            );
            let page: Page<Event> = api.get(&path).await?;
            if as_json {
                show::json(&page)
            } else {
                show::events(&page)
            }
            Ok(())
        }
        AdminCommand::Audit { tenant, range, verdict } => {
            let path = format!(
                "/api/v1/tenants/{}/audit{}",
                encode(&tenant),
                range_query(&range, verdict)?
            );
            let page: Page<AuditRecord> = api.get(&path).await?;
            if as_json {
                show::json(&page)
            } else {
                show::audit(&page)
            }
            Ok(())
        }
        AdminCommand::Blocks(command) => blocks(api, as_json, command).await,
        AdminCommand::Domains(command) => domains(api, as_json, command).await,
        AdminCommand::Suppression(command) => suppression(api, as_json, command).await,
        AdminCommand::Backup { directory } => backup::run(api, as_json, directory).await,
        AdminCommand::Complaints(command) => complaints::run(api, as_json, command).await,
    }
}

/// `name=value` of `--limit`.
fn parse_limit(text: &str) -> Result<(String, u64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not name=value (e.g. messages_per_hour=500)"))?;
    let value = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a whole number"))?;
    Ok((name.trim().to_string(), value))
}

/// The `limits` object of a tenant request.
fn limit_map(limits: &[(String, u64)]) -> serde_json::Value {
    serde_json::Value::Object(
        limits
            .iter()
            .map(|(name, value)| (name.clone(), serde_json::json!(value)))
            .collect(),
    )
}

async fn tenants(api: &Api, as_json: bool, command: TenantsCommand) -> Result<(), Failure> {
    let (method, path, body) = match command {
        TenantsCommand::List { state, limit, offset } => (
            Method::GET,
            format!(
                "/api/v1/tenants{}",
                query(&[
                    ("state", state),
                    ("limit", limit.map(|l| l.to_string())),
                    ("offset", offset.map(|o| o.to_string())),
                ])
            ),
            None,
        ),
        TenantsCommand::Show { tenant } => (Method::GET, format!("/api/v1/tenants/{}", encode(&tenant)), None),
        TenantsCommand::Add {
            tenant,
            name,
            profile,
            contact,
            networks,
            domains,
            limits,
        } => (
            Method::POST,
            "/api/v1/tenants".to_string(),
            Some(without_nulls(serde_json::json!({
                "id": tenant, "name": name, "profile": profile, "contact": contact,
                "networks": networks, "domains": domains, "limits": limit_map(&limits),
            }))),
        ),
        TenantsCommand::Set {
            tenant,
            name,
            profile,
            contact,
            networks,
            domains,
            limits,
        } => {
            let mut changes =
                without_nulls(serde_json::json!({ "name": name, "profile": profile, "contact": contact }));
            if let Some(map) = changes.as_object_mut() {
                if !networks.is_empty() {
                    map.insert("networks".into(), serde_json::json!(networks));
                }
                if !domains.is_empty() {
                    map.insert("domains".into(), serde_json::json!(domains));
                }
                if !limits.is_empty() {
                    map.insert("limits".into(), limit_map(&limits));
                }
            }
            if changes.as_object().is_some_and(|o| o.is_empty()) {
                return Err(Failure::usage(
                    "nothing to set: give --name, --profile, --contact, --network, --domain or --limit",
                ));
            }
            (
                Method::PATCH,
                format!("/api/v1/tenants/{}", encode(&tenant)),
                Some(changes),
            )
        }
        TenantsCommand::Credentials { tenant, username } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|error| Failure::usage(format!("cannot read the password from standard input: {error}")))?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            if password.is_empty() {
                return Err(Failure::usage("no password on standard input"));
            }
            let path = format!("/api/v1/tenants/{}/credentials", encode(&tenant));
            let body = serde_json::json!({ "username": username, "password": password });
            let answer: CredentialList = api.call(Method::PUT, &path, Some(&body)).await?;
            if as_json {
                show::json(&answer);
            } else {
                outln!(
                    "credentials of {tenant}: {username} set; its user names: {}",
                    answer.usernames.join(", ")
                );
            }
            return Ok(());
        }
        TenantsCommand::Delete { tenant, force } => (
            Method::DELETE,
            format!(
                "/api/v1/tenants/{}{}",
                encode(&tenant),
                query(&[("force", force.then(|| "true".to_string()))])
            ),
            None,
        ),
    };
    let answer: serde_json::Value = api.call(method, &path, body.as_ref()).await?;
    if as_json {
        show::json(&answer)
    } else {
        show::tenants(&answer)
    }
    Ok(())
}

fn without_nulls(mut value: serde_json::Value) -> serde_json::Value {
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    value
}

async fn blocks(api: &Api, as_json: bool, command: BlocksCommand) -> Result<(), Failure> {
    let (verb, block): (&str, Block) = match command {
        BlocksCommand::List { tenant } => {
            let path = format!("/api/v1/blocks{}", query(&[("tenant", tenant)]));
            let list: Vec<Block> = api.get(&path).await?;
            if as_json {
                show::json(&list)
            } else {
                show::blocks(&list)
            }
            return Ok(());
        }
        BlocksCommand::Add { target, expires } => {
            let body = AddBlock {
                tenant: target.tenant,
                scope: target.scope.into(),
                target: target.target,
                by: operator(target.by),
                reason: target.reason,
                expires_at: expires.as_deref().map(ahead).transpose()?,
            };
            ("blocked", api.call(Method::POST, "/api/v1/blocks", Some(&body)).await?)
        }
        BlocksCommand::Lift(target) => {
            let body = LiftBlock {
                tenant: target.tenant,
                scope: target.scope.into(),
                target: target.target,
                by: operator(target.by),
                reason: target.reason,
            };
            let lifted: Block = api.call(Method::POST, "/api/v1/blocks/lift", Some(&body)).await?;
            if as_json {
                show::json(&lifted);
            } else {
                // Who lifted it and why, then the block as it was.
                outln!(
                    "lifted by {}: {} (the block was: {})",
                    body.by,
                    body.reason,
                    show::block_line(&lifted)
                );
            }
            return Ok(());
        }
    };
    if as_json {
        show::json(&block)
    } else {
        outln!("{verb}: {}", show::block_line(&block));
    }
    Ok(())
}

async fn domains(api: &Api, as_json: bool, command: DomainsCommand) -> Result<(), Failure> {
    use crate::admin::domains::{AddDomain, DomainStatus, MarkVerified};
    let status: DomainStatus = match command {
        DomainsCommand::List { tenant } => {
            let list: Vec<DomainStatus> = api.get(&format!("/api/v1/tenants/{}/domains", encode(&tenant))).await?;
            if as_json {
                show::json(&list)
            } else {
                show::domains(&list)
            }
            return Ok(());
        }
        DomainsCommand::Records { tenant, domain } => {
            let records: DomainRecords = api
                .get(&format!(
                    "/api/v1/tenants/{}/domains/{}/records",
                    encode(&tenant),
                    encode(&domain)
                ))
                .await?;
            if as_json {
                show::json(&records)
            } else {
                show::records(&records)
            }
            return Ok(());
        }
        DomainsCommand::Add { tenant, domain, by } => {
            let body = AddDomain {
                domain,
                by: operator(by),
            };
            api.call(
                Method::POST,
                &format!("/api/v1/tenants/{}/domains", encode(&tenant)),
                Some(&body),
            )
            .await?
        }
        DomainsCommand::Verify { tenant, domain } => {
            let path = format!("/api/v1/tenants/{}/domains/{}/verify", encode(&tenant), encode(&domain));
            api.call(Method::POST, &path, None::<&()>).await?
        }
        DomainsCommand::MarkVerified {
            tenant,
            domain,
            reason,
            by,
        } => {
            let path = format!(
                "/api/v1/tenants/{}/domains/{}/mark-verified",
                encode(&tenant),
                encode(&domain)
            );
            let body = MarkVerified {
                by: operator(by),
                reason,
            };
            api.call(Method::POST, &path, Some(&body)).await?
        }
    };
    if as_json {
        show::json(&status)
    } else {
        let state = if status.verified { "verified" } else { "pending" };
        outln!("{} {state}  publish: {}", status.domain, status.record);
    }
    Ok(())
}

async fn suppression(api: &Api, as_json: bool, command: SuppressionCommand) -> Result<(), Failure> {
    let (verb, entry): (&str, Suppression) = match command {
        SuppressionCommand::List { tenant } => {
            let list: Vec<Suppression> = api
                .get(&format!("/api/v1/tenants/{}/suppression", encode(&tenant)))
                .await?;
            if as_json {
                show::json(&list)
            } else {
                show::suppression(&list)
            }
            return Ok(());
        }
        SuppressionCommand::Add {
            tenant,
            address,
            reason,
        } => {
            let body = AddSuppression { address, reason };
            let path = format!("/api/v1/tenants/{}/suppression", encode(&tenant));
            ("suppressed", api.call(Method::POST, &path, Some(&body)).await?)
        }
        SuppressionCommand::Remove {
            tenant,
            address,
            reason,
        } => {
            let path = format!(
                "/api/v1/tenants/{}/suppression/{}{}",
                encode(&tenant),
                encode(&address),
                query(&[("reason", Some(reason))])
            );
            ("removed", api.call(Method::DELETE, &path, None::<&()>).await?)
        }
    };
    if as_json {
        show::json(&entry)
    } else {
        outln!("{verb}: {} ({})", entry.address, entry.reason);
    }
    Ok(())
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

fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".to_string())
}
