//! Command-line entry points: `serve`, `check-config`, `hash-password`, `admin`, `policy`,
//! `dkim`. Each subcommand is a small function; the admin subcommands are clients of the admin
//! API and never open the database.

/// `println!` for the commands' output: a reader that went away (`aupgate admin audit t | head
/// -1`) ends the command quietly with status 0, as a Unix filter does, instead of a panic.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

mod admin;
mod dkim;
mod policy;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::server::Gateway;

#[derive(Parser)]
#[command(
    name = "aupgate",
    version,
    about = "Outbound SMTP relay gateway with acceptable-use policy enforcement"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (embedded demo config when --config is not given).
    Serve {
        /// TOML config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Log as JSON lines instead of text.
        #[arg(long)]
        log_json: bool,
    },
    /// Check a config file and print every error.
    CheckConfig {
        /// TOML config file.
        config: PathBuf,
    },
    /// Print the argon2id hash of a password read from stdin (for `password_hash`).
    HashPassword,
    /// Abuse-desk commands (clients of the running gateway's admin API).
    Admin(admin::AdminArgs),
    /// Offline policy tools.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The gateway's DKIM signing keys (offline).
    #[command(subcommand)]
    Dkim(dkim::DkimCommand),
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy profile; prints every error with its path (exit 2 when invalid).
    Lint {
        /// Profile file (`policies/<name>.toml`).
        file: PathBuf,
    },
    /// Evaluate one message against a profile (ephemeral store); prints a JSON line.
    Check {
        /// The message (.eml).
        message: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Evaluate many messages in order (a directory in file-name order, or an mbox); one JSON
    /// line per message, then a summary.
    Replay {
        /// Directory or mbox file.
        source: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
}

/// What `policy check` and `policy replay` share.
#[derive(Args)]
struct RunArgs {
    /// Profile name (under policies/) or file.
    #[arg(long)]
    profile: String,
    /// The sending tenant: with --tenants, its id there; without, the id of a tenant that owns
    /// the messages' From domains.
    #[arg(long)]
    tenant: Option<String>,
    /// A config file whose [[tenant]] entries define the tenants (without --tenant, each
    /// message is sent by the tenant that owns its sender domain).
    #[arg(long)]
    tenants: Option<PathBuf>,
    /// Envelope sender for every message (default: Return-Path, else From); `<>` for none.
    #[arg(long, value_name = "ADDRESS")]
    mail_from: Option<String>,
    /// Envelope recipient for every message, repeatable (default: To, Cc and Bcc).
    #[arg(long, value_name = "ADDRESS")]
    rcpt_to: Vec<String>,
}

impl RunArgs {
    fn options<'a>(&'a self, source: &'a std::path::Path, summary: bool) -> policy::Options<'a> {
        policy::Options {
            source,
            profile: &self.profile,
            tenants_file: self.tenants.as_deref(),
            tenant: self.tenant.as_deref(),
            mail_from: self.mail_from.as_deref(),
            rcpt_to: &self.rcpt_to,
            summary,
        }
    }
}

/// Runs the CLI; returns the process exit code.
pub fn run() -> anyhow::Result<i32> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config, log_json } => {
            init_logging(log_json);
            let config = match load(config.as_deref()) {
                Ok(config) => config,
                Err(code) => return Ok(code),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(config.server.effective_worker_threads())
                .enable_all()
                .build()?;
            runtime.block_on(serve(config))?;
            Ok(0)
        }
        Command::CheckConfig { config } => match load(Some(&config)) {
            // The profiles its tenants name must be there too, as `serve` requires.
            Ok(loaded) => match crate::policy::profile::load_for(&loaded) {
                Ok(_) => {
                    for warning in crate::smtp::budget::config_warnings(&loaded.limits) {
                        eprintln!("{}: warning: {warning}", config.display());
                    }
                    outln!("{}: OK", config.display());
                    Ok(0)
                }
                Err(errors) => {
                    eprint!("{errors}");
                    Ok(2)
                }
            },
            Err(code) => Ok(code),
        },
        Command::Admin(args) => admin::run(args),
        Command::Dkim(command) => dkim::run(command),
        Command::Policy(PolicyCommand::Check { message, run }) => policy::run(&run.options(&message, false)),
        Command::Policy(PolicyCommand::Replay { source, run }) => policy::run(&run.options(&source, true)),
        Command::Policy(PolicyCommand::Lint { file }) => match crate::policy::profile::Profile::load(&file) {
            Ok(profile) => {
                outln!("{}: OK (profile `{}`)", file.display(), profile.profile.name);
                Ok(0)
            }
            Err(errors) => {
                eprint!("{errors}");
                Ok(2)
            }
        },
        Command::HashPassword => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                eprintln!("aupgate: no password on standard input (an empty password is refused)");
                return Ok(2);
            }
            let hash = crate::tenant::hash_password(password).map_err(anyhow::Error::msg)?;
            outln!("{hash}");
            Ok(0)
        }
    }
}

fn load(path: Option<&std::path::Path>) -> Result<Config, i32> {
    let result = match path {
        Some(path) => Config::load(path),
        None => Ok(Config::demo()),
    };
    result.map_err(|errors| {
        eprint!("{errors}");
        2
    })
}

async fn serve(config: Config) -> anyhow::Result<()> {
    for warning in crate::smtp::budget::config_warnings(&config.limits) {
        tracing::warn!("{warning}");
    }
    // Before the start: the listeners are up before `start` returns, and a SIGHUP that arrives
    // in between must be a reload (handled below), not the default action (exit).
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let gateway = Gateway::start(config).await?;
    for address in &gateway.smtp_addresses {
        tracing::info!(%address, "SMTP ready");
    }
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hangup.recv() => {
                if let Err(error) = gateway.reload_policies().await {
                    tracing::error!(%error, "policy reload refused; keeping the running profiles");
                }
            }
        }
    }
    gateway.shutdown().await;
    Ok(())
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUPGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a terminal: a log file or journald would keep the escape codes.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Writes the commands' output to stdout (`outln!`). A closed pipe exits with status 0:
/// everything the reader wanted was written. Any other failure to write is an error (status 1).
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("aupgate: cannot write the output: {error}");
        std::process::exit(1);
    }
}
