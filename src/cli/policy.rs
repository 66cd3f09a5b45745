//! `aupgate policy check|replay|lint`: evaluate messages offline against a profile with an
//! ephemeral store, printing one JSON line per message (file, verdict, reply, rule) and a summary —
//! the tool a provider uses to try a policy on yesterday's mail before switching it on.
//!
//! Without a tenants file, every message is sent by one tenant (`replay`) that owns the domains
//! in the messages' From headers; envelope recipients come from To/Cc/Bcc, the envelope sender
//! from Return-Path or From.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;

use crate::config::{Config, TenantConfig};
use crate::policy::headers::Headers;
use crate::policy::profile::Profile;
use crate::policy::{DataContext, Engine, MailContext, RcptContext, Verdict};
use crate::smtp::command::{self, Command, Path};
use crate::tenant::TenantDirectory;

/// One message's result.
#[derive(Serialize)]
struct Line<'a> {
    file: &'a str,
    verdict: &'a str,
    reply: Option<String>,
    rule: Option<String>,
    recipients: usize,
}

/// Resolves `--profile`: a file path, or a name under `policies/`.
fn load_profile(profile: &str) -> anyhow::Result<Profile> {
    let path = if FsPath::new(profile).exists() {
        PathBuf::from(profile)
    } else {
        PathBuf::from(format!("policies/{profile}.toml"))
    };
    Profile::load(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Reads the messages of a file, a directory (file-name order) or an mbox.
fn read_messages(source: &FsPath) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
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
    let text = verdict.reply()?.lines.first()?.to_string();
    let start = text.rfind("[rule ")? + 6;
    let end = text[start..].find(']')? + start;
    Some(text[start..end].to_string())
}

/// Runs `check` (one file) or `replay` (many); returns the exit code.
pub fn run(
    source: &FsPath,
    profile: &str,
    tenants_file: Option<&FsPath>,
    tenant_id: Option<&str>,
) -> anyhow::Result<i32> {
    let profile = Arc::new(load_profile(profile)?);
    let messages = read_messages(source)?;
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
        let engine = Engine::new(store, profiles, profile.clone());
        let tenants = match tenants_file {
            Some(file) => {
                let config = Config::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
                TenantDirectory::from_config(&config.tenants)
            }
            None => {
                let mut domains: Vec<String> = messages
                    .iter()
                    .flat_map(|(_, m)| Headers::parse(m).first("from").map(addresses).unwrap_or_default())
                    .filter_map(|a| a.rsplit('@').next().map(str::to_string))
                    .collect();
                domains.sort();
                domains.dedup();
                TenantDirectory::from_config(&[TenantConfig {
                    id: "replay".into(),
                    name: "replay".into(),
                    domains,
                    profile: Some(profile.profile.name.clone()),
                    ..Default::default()
                }])
            }
        };
        let tenant_id = tenant_id.unwrap_or(if tenants_file.is_some() { "" } else { "replay" });
        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        for (file, message) in &messages {
            let headers = Headers::parse(message);
            let sender_address = headers
                .first("return-path")
                .or_else(|| headers.first("from"))
                .map(addresses)
                .and_then(|a| a.into_iter().next());
            let sender = sender_address.as_deref().and_then(path_of).unwrap_or(Path::Null);
            let recipients: Vec<Path> = ["to", "cc", "bcc"]
                .iter()
                .flat_map(|h| headers.all(h).flat_map(addresses).collect::<Vec<_>>())
                .filter_map(|a| path_of(&a))
                .collect();
            let tenant = match tenants.get(tenant_id) {
                Some(t) => t,
                None => anyhow::bail!("no tenant `{tenant_id}` (use --tenant with a --tenants file)"),
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
            if verdict == Verdict::Continue {
                verdict = engine
                    .on_data(&DataContext {
                        tenant: &tenant,
                        sender: &sender,
                        recipients: &recipients,
                        message,
                        added_headers: b"",
                    })
                    .await
                    .verdict;
            }
            let name = if verdict == Verdict::Continue {
                "accept"
            } else {
                verdict.name()
            };
            if name == "accept" {
                engine.on_accepted(&tenant, recipients.len(), file).await;
            }
            *counts.entry(name).or_default() += 1;
            let line = Line {
                file,
                verdict: name,
                reply: verdict.reply().map(|r| r.summary()),
                rule: rule_of(&verdict),
                recipients: recipients.len(),
            };
            println!("{}", serde_json::to_string(&line)?);
        }
        let summary = serde_json::json!({
            "summary": {
                "messages": messages.len(),
                "accept": counts.get("accept").copied().unwrap_or(0),
                "reject": counts.get("reject").copied().unwrap_or(0),
                "defer": counts.get("defer").copied().unwrap_or(0),
                "disconnect": counts.get("disconnect").copied().unwrap_or(0),
            }
        });
        println!("{summary}");
        Ok::<i32, anyhow::Error>(0)
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result
}
