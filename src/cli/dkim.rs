//! `aupgate dkim`: the gateway's DKIM keys, offline (no server needed). `generate` writes a key
//! (mode 0600) into `<data_dir>/dkim` and prints the DNS record to publish; `list` shows the keys
//! and their records; `retire` deletes an old selector after rotation. Private keys are never
//! printed. A running gateway picks changes up on reload (SIGHUP).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::auth::keys::{self, Algorithm, KeyRing};

#[derive(Subcommand)]
pub enum DkimCommand {
    /// Generate a signing key for DOMAIN and print the TXT record to publish.
    Generate {
        /// The domain the key signs for (`d=`).
        domain: String,
        /// Selector (`s=`); default `s<YYYYMMDD>`. Use a new one to rotate.
        #[arg(long)]
        selector: Option<String>,
        /// rsa2048 (default; every receiver checks it) or ed25519 (RFC 8463).
        #[arg(long, default_value = "rsa2048")]
        algorithm: String,
        /// The gateway's config file (for `data_dir`); the demo config when not given.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the keys with their DNS records.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Delete the key of SELECTOR for DOMAIN (after rotating to a new selector).
    Retire {
        domain: String,
        selector: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs a `dkim` subcommand; returns the exit code (2 for bad input).
pub fn run(command: DkimCommand) -> anyhow::Result<i32> {
    match command {
        DkimCommand::Generate {
            domain,
            selector,
            algorithm,
            config,
        } => {
            let Some(algorithm) = Algorithm::parse(&algorithm) else {
                eprintln!("--algorithm must be rsa2048 or ed25519, not `{algorithm}`");
                return Ok(2);
            };
            let dir = match key_dir(config.as_deref()) {
                Ok(dir) => dir,
                Err(code) => return Ok(code),
            };
            let selector = selector.unwrap_or_else(|| keys::default_selector(std::time::SystemTime::now()));
            match keys::generate(&dir, &domain, &selector, algorithm) {
                Ok(key) => {
                    outln!(
                        "; {} key for {}, selector {}",
                        algorithm.name(),
                        key.domain,
                        key.selector
                    );
                    outln!("; publish this TXT record, then reload the gateway (SIGHUP):");
                    outln!("{}", key.zone_line());
                    Ok(0)
                }
                Err(error) => {
                    eprintln!("{error}");
                    Ok(2)
                }
            }
        }
        DkimCommand::List { config } => {
            let dir = match key_dir(config.as_deref()) {
                Ok(dir) => dir,
                Err(code) => return Ok(code),
            };
            match KeyRing::load(&dir) {
                Ok(ring) => {
                    for key in ring.all() {
                        outln!(
                            "{}\t{}\t{}\t{}",
                            key.domain,
                            key.selector,
                            key.algorithm.name(),
                            key.dns_record()
                        );
                    }
                    Ok(0)
                }
                Err(error) => {
                    eprintln!("{error}");
                    Ok(2)
                }
            }
        }
        DkimCommand::Retire {
            domain,
            selector,
            config,
        } => {
            let dir = match key_dir(config.as_deref()) {
                Ok(dir) => dir,
                Err(code) => return Ok(code),
            };
            match keys::retire(&dir, &domain, &selector) {
                Ok(path) => {
                    outln!("removed {}; reload the gateway (SIGHUP)", path.display());
                    Ok(0)
                }
                Err(error) => {
                    eprintln!("{error}");
                    Ok(2)
                }
            }
        }
    }
}

fn key_dir(config: Option<&Path>) -> Result<PathBuf, i32> {
    let config = super::load(config)?;
    Ok(crate::auth::key_dir(&config))
}
