//! `aupgate policy check|replay|lint`: evaluate messages offline against a profile with an
//! ephemeral store, printing one JSON line per message (file, verdict, reply, rule) and a summary —
//! the tool a provider uses to try a policy on yesterday's mail before switching it on.
//!
//! The sender: with a tenants file (a config's `[[tenant]]` entries), `--tenant T` or else the
//! tenant that owns the message's envelope sender domain; without one, a tenant (`--tenant T`, or
//! `replay`) that owns the domains in the messages' From headers. The envelope: `--mail-from`
//! and `--rcpt-to` when given, else the sender from Return-Path or From and the recipients from
//! To/Cc/Bcc.
//!
//! The time: each message is evaluated at its Date field (never earlier than the message before
//! it; a message without a readable Date, or dated past tomorrow, takes the time of the one
//! before; undated messages before the first dated one take its time; with no dates at all, the
//! current time), so a day of mail replayed in a second counts its quota, bulk and mail-bomb
//! windows as it was sent. SPF, DKIM and DMARC are not evaluated offline (they need the live DNS).

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;

use crate::config::{Config, TenantConfig};
use crate::message::Headers;
use crate::policy::profile::Profile;
use crate::policy::{DataContext, Engine, MailContext, RcptContext, Verdict};
use crate::queue::now_ms;
use crate::smtp::command::{self, Command, Path};
use crate::smtp::trace::parse_rfc5322_date;
use crate::tenant::TenantDirectory;

/// One message's result.
#[derive(Serialize)]
struct Line<'a> {
    file: &'a str,
    verdict: &'a str,
    reply: Option<String>,
    rule: Option<String>,
    recipients: usize,
    /// The campaign the message was grouped in, accepted or refused (`null` only if the store
    /// could not be read).
    campaign: Option<String>,
    /// The time the message was evaluated at (unix ms).
    at: u64,
}

/// Resolves `--profile`: a file path, or a profile of `directory` (`[policy] directory` of the
/// `--tenants` config, else `policies/`), where `default` is the built-in one when the directory
/// has none — the profiles `serve` would judge by.
fn load_profile(profile: &str, directory: &FsPath, hostname: &str) -> anyhow::Result<Profile> {
    if FsPath::new(profile).is_file() {
        let mut loaded = Profile::load(FsPath::new(profile)).map_err(|e| anyhow::anyhow!("{profile}: {e}"))?;
        // As `load_directory` does for the gateway's own profiles.
        loaded.headers.authserv_id.get_or_insert_with(|| hostname.to_string());
        return Ok(loaded);
    }
    let profiles = crate::policy::profile::load_directory(directory, hostname).map_err(|e| anyhow::anyhow!("{e}"))?;
    match profiles.get(profile) {
        Some(found) => Ok((**found).clone()),
        None => {
            let mut names: Vec<&str> = profiles.keys().map(String::as_str).collect();
            names.sort_unstable();
            anyhow::bail!(
                "`{profile}` is neither a file nor a profile in {} (its profiles: {})",
                directory.display(),
                names.join(", ")
            )
        }
    }
}

/// Reads the messages of a file, a directory (file-name order) or an mbox.
pub(crate) fn read_messages(source: &FsPath) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    if source.is_dir() {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(source)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        return paths
            .into_iter()
            .map(|p| Ok((p.display().to_string(), crlf(&std::fs::read(&p)?))))
            .collect();
    }
    let bytes = std::fs::read(source).with_context(|| format!("reading {}", source.display()))?;
    if bytes.starts_with(b"From ") {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mut messages = Vec::new();
        let mut current = String::new();
        for line in text.split_inclusive('\n') {
            if line.starts_with("From ") && !current.is_empty() {
                messages.push(std::mem::take(&mut current));
            }
            if !line.starts_with("From ") || !current.is_empty() {
                current.push_str(
                    line.strip_prefix('>')
                        .filter(|l| l.starts_with("From "))
                        .unwrap_or(line),
                );
            }
        }
        if !current.is_empty() {
            messages.push(current);
        }
        return Ok(messages
            .into_iter()
            .enumerate()
            .map(|(i, m)| (format!("{}#{}", source.display(), i + 1), crlf(m.as_bytes())))
            .collect());
    }
    Ok(vec![(source.display().to_string(), crlf(&bytes))])
}

/// Normalises line ends to CRLF (files on disk usually have LF).
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut previous = 0u8;
    for &b in bytes {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

fn addresses(value: &str) -> Vec<String> {
    value
        .split([',', ';'])
        .filter_map(|part| {
            let part = part.trim();
            let inner = match (part.rfind('<'), part.rfind('>')) {
                (Some(a), Some(b)) if a < b => &part[a + 1..b],
                _ => part,
            };
            inner.contains('@').then(|| inner.trim().to_string())
        })
        .collect()
}

fn path_of(address: &str) -> Option<Path> {
    match command::parse(format!("RCPT TO:<{address}>").as_bytes()) {
        Ok(Command::Rcpt { address, .. }) => Some(address),
        _ => None,
    }
}

fn rule_of(verdict: &Verdict) -> Option<String> {
    verdict.reply()?.rule().map(|rule| rule.as_str().to_string())
}

/// What `check` and `replay` were asked to do.
pub struct Options<'a> {
    /// A message file, a directory or an mbox.
    pub source: &'a FsPath,
    /// Profile name (under `policies/`) or file.
    pub profile: &'a str,
    /// A config file whose `[[tenant]]` entries define the tenants.
    pub tenants_file: Option<&'a FsPath>,
    /// The sending tenant's id.
    pub tenant: Option<&'a str>,
    /// Envelope sender for every message (instead of Return-Path or From); `<>` for none.
    pub mail_from: Option<&'a str>,
    /// Envelope recipients for every message (instead of To/Cc/Bcc).
    pub rcpt_to: &'a [String],
    /// Print the summary line after the messages' lines (`replay`).
    pub summary: bool,
}

/// Who sends the messages: one tenant for all, or the owner of each message's sender domain.
enum Sender {
    One(Arc<crate::tenant::Tenant>),
    ByDomain(TenantDirectory, Vec<String>),
}

/// Runs `check` (one file) or `replay` (many); returns the exit code.
pub fn run(options: &Options<'_>) -> anyhow::Result<i32> {
    let tenants_config = match options.tenants_file {
        Some(file) => Some(Config::load(file).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let directory = tenants_config.as_ref().map_or_else(
        || PathBuf::from("policies"),
        |config| PathBuf::from(&config.policy.directory),
    );
    let hostname = tenants_config
        .as_ref()
        .map_or(crate::policy::profile::FALLBACK_AUTHSERV_ID, |config| {
            config.server.hostname.as_str()
        });
    let profile = Arc::new(load_profile(options.profile, &directory, hostname)?);
    let messages = read_messages(options.source)?;
    let envelope_sender = match options.mail_from {
        Some("<>" | "") => Some(Path::Null),
        Some(address) => Some(
            path_of(address.trim_start_matches('<').trim_end_matches('>'))
                .ok_or_else(|| anyhow::anyhow!("--mail-from `{address}` is not an address"))?,
        ),
        None => None,
    };
    let envelope_recipients = options
        .rcpt_to
        .iter()
        .map(|a| {
            path_of(a.trim_start_matches('<').trim_end_matches('>'))
                .ok_or_else(|| anyhow::anyhow!("--rcpt-to `{a}` is not an address"))
        })
        .collect::<anyhow::Result<Vec<Path>>>()?;
    let scratch = std::env::temp_dir().join(format!(
        "aupgate-replay-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let store = crate::store::open_store(&Default::default(), &scratch).await?;
        let profiles: HashMap<String, Arc<Profile>> = [
            (profile.profile.name.clone(), profile.clone()),
            ("default".into(), profile.clone()),
        ]
        .into_iter()
        .collect();
        let clock = Arc::new(AtomicU64::new(0));
        let engine = Engine::new(store, profiles, profile.clone()).with_clock(clock.clone());
        let sender_of = match (options.tenants_file.zip(tenants_config.as_ref()), options.tenant) {
            (Some((file, config)), tenant) => {
                let directory = TenantConfig::directory(&config.tenants);
                match tenant {
                    Some(id) => Sender::One(
                        directory
                            .get(id)
                            .ok_or_else(|| anyhow::anyhow!("no tenant `{id}` in {}", file.display()))?,
                    ),
                    None => Sender::ByDomain(directory, config.tenants.iter().map(|t| t.id.clone()).collect()),
                }
            }
            (None, tenant) => {
                let mut domains: Vec<String> = messages
                    .iter()
                    .flat_map(|(_, m)| Headers::parse(m).first("from").map(addresses).unwrap_or_default())
                    .filter_map(|a| a.rsplit('@').next().map(str::to_string))
                    .collect();
                domains.sort();
                domains.dedup();
                let id = tenant.unwrap_or("replay");
                let directory = TenantConfig::directory(&[TenantConfig {
                    id: id.into(),
                    name: id.into(),
                    domains,
                    profile: Some(profile.profile.name.clone()),
                    ..Default::default()
                }]);
                Sender::One(directory.get(id).expect("the tenant just made"))
            }
        };
        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        // A Date past tomorrow is not believed (it would hold the clock for every later message).
        let latest = now_ms().saturating_add(86_400_000);
        let date_of = |headers: &Headers| {
            headers
                .first("date")
                .and_then(parse_rfc5322_date)
                .map(|secs| secs.saturating_mul(1000))
                .filter(|at| *at <= latest)
        };
        // Undated messages before the first dated one take its time (now if none is dated).
        let first_date = messages.iter().find_map(|(_, m)| date_of(&Headers::parse(m)));
        clock.store(first_date.unwrap_or_else(now_ms), Ordering::Relaxed);
        for (file, raw) in &messages {
            let message = crate::message::parse(raw);
            let headers = message.headers();
            let last = clock.load(Ordering::Relaxed);
            let at = date_of(headers).map_or(last, |at| at.max(last));
            clock.store(at, Ordering::Relaxed);
            let sender = match &envelope_sender {
                Some(path) => path.clone(),
                None => headers
                    .first("return-path")
                    .or_else(|| headers.first("from"))
                    .map(addresses)
                    .and_then(|a| a.into_iter().next())
                    .as_deref()
                    .and_then(path_of)
                    .unwrap_or(Path::Null),
            };
            let recipients: Vec<Path> = if envelope_recipients.is_empty() {
                ["to", "cc", "bcc"]
                    .iter()
                    .flat_map(|h| headers.all(h).flat_map(addresses).collect::<Vec<_>>())
                    .filter_map(|a| path_of(&a))
                    .collect()
            } else {
                envelope_recipients.clone()
            };
            let tenant = match &sender_of {
                Sender::One(tenant) => tenant.clone(),
                Sender::ByDomain(directory, ids) => {
                    let domain = match &sender {
                        Path::Mailbox { domain, .. } => domain.as_str(),
                        Path::Null => "",
                    };
                    match ids
                        .iter()
                        .filter_map(|id| directory.get(id))
                        .find(|t| t.owns_domain(domain))
                    {
                        Some(tenant) => tenant,
                        None => {
                            *counts.entry("unattributed").or_default() += 1;
                            let line = serde_json::json!({
                                "file": file,
                                "verdict": "unattributed",
                                "reply": null,
                                "rule": null,
                                "recipients": recipients.len(),
                                "at": at,
                                "error": format!("no tenant owns the sender domain `{domain}`; name one with --tenant"),
                            });
                            outln!("{line}");
                            continue;
                        }
                    }
                }
            };
            let mut verdict = engine
                .on_mail(&MailContext {
                    tenant: &tenant,
                    peer: "127.0.0.1".parse()?,
                    sender: &sender,
                    authenticated: true,
                })
                .await;
            if verdict == Verdict::Continue {
                for (i, recipient) in recipients.iter().enumerate() {
                    verdict = engine
                        .on_rcpt(&RcptContext {
                            tenant: &tenant,
                            sender: &sender,
                            recipient,
                            accepted_so_far: i,
                        })
                        .await;
                    if verdict != Verdict::Continue {
                        break;
                    }
                }
            }
            if verdict == Verdict::Continue && recipients.is_empty() {
                verdict = Verdict::Reject(crate::smtp::reply::no_valid_recipients());
            }
            let mut campaign = None;
            let mut pending = None;
            if verdict == Verdict::Continue {
                let decision = engine
                    .on_data(&DataContext {
                        tenant: &tenant,
                        sender: &sender,
                        recipients: &recipients,
                        message: &message,
                        arrival: None,
                        queue_id: "",
                    })
                    .await;
                verdict = decision.verdict;
                campaign = decision.campaign;
                pending = decision.pending;
            }
            if campaign.is_none() {
                let ctx = DataContext {
                    tenant: &tenant,
                    sender: &sender,
                    recipients: &recipients,
                    message: &message,
                    arrival: None,
                    queue_id: "",
                };
                campaign = engine.campaign_of(&ctx).await.ok();
            }
            let name = if verdict == Verdict::Continue {
                "accept"
            } else {
                verdict.name()
            };
            if let Some(pending) = pending {
                // Accepted: counted and audited as if queued under the file's name.
                let message_id = headers.first("message-id").map(str::trim);
                let ((), recording) = pending
                    .with_campaign(campaign.clone())
                    .commit(file, message_id, std::future::ready(()))
                    .await;
                recording.written().await;
            }
            *counts.entry(name).or_default() += 1;
            let line = Line {
                file,
                verdict: name,
                reply: verdict.reply().map(|r| r.summary()),
                rule: rule_of(&verdict),
                recipients: recipients.len(),
                campaign: campaign.clone(),
                at,
            };
            outln!("{}", serde_json::to_string(&line)?);
        }
        if options.summary {
            let summary = serde_json::json!({
                "summary": {
                    "messages": messages.len(),
                    "accept": counts.get("accept").copied().unwrap_or(0),
                    "reject": counts.get("reject").copied().unwrap_or(0),
                    "defer": counts.get("defer").copied().unwrap_or(0),
                    "disconnect": counts.get("disconnect").copied().unwrap_or(0),
                    "unattributed": counts.get("unattributed").copied().unwrap_or(0),
                }
            });
            outln!("{summary}");
        }
        Ok::<i32, anyhow::Error>(0)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result
}
