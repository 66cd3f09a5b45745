//! Wires the parts into a running gateway: opens the queue, builds the resolver, TLS, tenants and
//! the policy engine, starts the listeners and the relay, and shuts everything down in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{Config, ListenerTls};
use crate::dns::Dns;
use crate::policy::Engine;
use crate::queue::Queue;
use crate::relay::Relay;
use crate::smtp::{start_listeners, SmtpContext};
use crate::store::{open_store, Block, BlockScope, RateStore, TenantCredential, TenantDomain, TenantRecord};
use crate::tenant::{TenantDirectory, TenantSpec, TenantState};

/// A running gateway.
pub struct Gateway {
    /// Bound SMTP addresses, in `[[listener]]` order.
    pub smtp_addresses: Vec<SocketAddr>,
    /// Bound address of the admin API.
    pub admin_address: SocketAddr,
    pub queue: Queue,
    /// The rate store (RocksDB or Redis).
    pub store: Arc<dyn RateStore>,
    /// Notices to tenants through this gateway's own queue (`complaints::notice`).
    pub notices: Arc<crate::complaints::notice::QueueNotices>,
    /// The gateway's own unsubscribe (`complaints::unsubscribe`): its mail path
    /// (`handle_unsubscribe_mail`) is for the SMTP session's local mailbox.
    pub unsubscribe: Arc<crate::complaints::unsubscribe::Unsubscriber>,
    /// The complaint ladders (also the relay's delivery watcher).
    pub ladders: Arc<crate::complaints::ComplaintLadders>,
    ctx: Arc<SmtpContext>,
    engine: Arc<Engine>,
    policy_directory: std::path::PathBuf,
    /// Whether the unsubscribe address takes mail: a loaded profile adds the gateway's
    /// List-Unsubscribe (set again at each policy reload).
    unsubscribe_open: Arc<std::sync::atomic::AtomicBool>,
    shutdown: watch::Sender<bool>,
    relay_task: tokio::task::JoinHandle<()>,
    grace: Duration,
}

impl Gateway {
    /// Starts everything from a validated config.
    pub async fn start(config: Config) -> anyhow::Result<Gateway> {
        // Profiles first: a tenant naming one that is not there stops the start before anything
        // is written (the store would keep the tenant's record).
        let profiles = crate::policy::profile::load_for(&config).map_err(|errors| anyhow::anyhow!("{errors}"))?;
        let config = Arc::new(config);
        let data_dir = config.data_dir();
        std::fs::create_dir_all(&data_dir)?;
        let queue_path = data_dir.join("queue");
        // Recovery reads the whole spool: off the runtime's threads.
        let queue = tokio::task::spawn_blocking(move || Queue::open(&queue_path)).await??;
        let dns = Dns::new(&config.dns)?;
        let needs_tls = config.listeners.iter().any(|l| l.tls != ListenerTls::None);
        let tls = if needs_tls {
            Some(crate::smtp::tls::acceptor(
                &config.tls,
                &data_dir,
                &config.server.hostname,
            )?)
        } else {
            None
        };
        crate::telemetry::install();
        let store: Arc<dyn RateStore> =
            Arc::new(crate::store::timed::Timed(open_store(&config.store, &data_dir).await?));
        // Other nodes' changes after this generation reach this node through the change feed.
        let followed = store.tenant_generation().await?;
        let tenants = Arc::new(sync_tenants(&config, store.as_ref()).await?);
        for id in tenants.ids() {
            let Some(tenant) = tenants.get(&id) else { continue };
            let name = tenant.settings().profile.clone();
            if !profiles.contains_key(&name) {
                tracing::warn!(tenant = %id, profile = %name, "the tenant's profile is not loaded: it is judged by `default`");
            }
        }
        let default = profiles["default"].clone();
        // The unsubscribe address takes mail only while some profile adds the gateway's
        // List-Unsubscribe (it then needs no tenant, as the feedback addresses); a reload may
        // open or close it.
        let unsubscribe_open = Arc::new(std::sync::atomic::AtomicBool::new(unsubscribes(&profiles)));
        let authenticator = Arc::new(crate::auth::Authenticator::new(&config, &dns)?);
        if config.authentication.egress_ips.is_empty() {
            tracing::warn!("[authentication] egress_ips is empty: SPF is not predicted for relayed mail");
        }
        tracing::info!(keys = authenticator.key_count(), "DKIM keys loaded");
        let trace_keys = crate::complaints::TraceKeys::load(&config.feedback, &data_dir)?;
        tracing::info!(key = trace_keys.current_id(), "trace key loaded");
        let attributor = crate::complaints::attribution::Attributor::new(config.feedback.clone(), trace_keys.clone());
        let notices = Arc::new(
            crate::complaints::notice::QueueNotices::new(&config, store.clone(), queue.clone())
                .with_signer(authenticator.clone()),
        );
        let unsubscribe = Arc::new(crate::complaints::unsubscribe::Unsubscriber::new(
            &config,
            trace_keys.clone(),
            store.clone(),
            notices.clone(),
        ));
        let engine = Arc::new(
            Engine::new(store.clone(), profiles, default)
                .with_tenants(tenants.clone())
                .with_authenticator(authenticator)
                .with_attribution(Arc::new(attributor))
                .with_unsubscribe(unsubscribe.clone())
                .with_notices(notices.clone()),
        );
        let (shutdown, shutdown_rx) = watch::channel(false);
        // Complaint intake: the book stores and applies (then the ladders act on it), the
        // intake attributes, the mailbox takes reports at `[feedback] addresses`.
        // The ladders read earlier complaints through a book of their own (it only reads).
        let complaint_log: Arc<dyn crate::complaints::ComplaintLog> =
            Arc::new(crate::complaints::book::ComplaintBook::new(store.clone(), Vec::new()));
        let ladders =
            crate::complaints::ComplaintLadders::new(engine.clone(), tenants.clone(), notices.clone(), complaint_log);
        let complaint_book = Arc::new(crate::complaints::book::ComplaintBook::new(
            store.clone(),
            vec![ladders.clone() as Arc<dyn crate::complaints::ComplaintSink>],
        ));
        let intake = Arc::new(crate::complaints::intake::Intake::new(
            trace_keys.clone(),
            store.clone(),
            complaint_book.clone(),
            &crate::complaints::mailbox::feedback_addresses(&config.feedback),
            config.feedback.max_report_size.as_usize(),
        ));
        let admin_address = crate::admin::start(
            crate::admin::AdminState {
                store: store.clone(),
                tenants: tenants.clone(),
                dns: dns.clone(),
                access: Arc::new(crate::admin::access::Access::new(&config, store.clone())?),
                queue: queue.clone(),
                engine: engine.clone(),
                unsubscribe: Some(unsubscribe.clone()),
                backups: Arc::new(crate::backup::Backups::new(&config)),
                intake: intake.clone(),
                complaints: complaint_book,
            },
            &config.admin.address,
            if config.admin.tls {
                Some(crate::smtp::tls::acceptor(
                    &config.tls,
                    &data_dir,
                    &config.server.hostname,
                )?)
            } else {
                None
            },
        )
        .await?;
        let ctx = Arc::new(
            SmtpContext::new(
                config.clone(),
                tenants,
                engine.clone(),
                queue.clone(),
                tls,
                shutdown_rx.clone(),
            )
            .with_local_mailboxes(local_mailboxes(
                &config,
                intake,
                unsubscribe.clone(),
                unsubscribe_open.clone(),
                store.clone(),
            )),
        );
        let smtp_addresses = start_listeners(ctx.clone()).await?;
        let relay = Relay::new(config.clone(), queue.clone(), dns, store.clone())?;
        // Each counted outcome lets the rate ladder look at the tenant's new figures.
        relay.count_outcomes(Arc::new(
            crate::complaints::outcomes::OutcomeCounter::new(store.clone(), trace_keys).with_watcher(ladders.clone()),
        ));
        // Integra's case deadlines.
        tokio::spawn(ladders.clone().run(shutdown_rx.clone()));
        // Stored complaints are kept as long as the audit log.
        tokio::spawn(crate::complaints::retention::run(
            store.clone(),
            config.store.log_retention.get(),
            shutdown_rx.clone(),
        ));
        let relay_task = tokio::spawn(relay.run(shutdown_rx.clone()));
        tokio::spawn(probe_degraded_queue(queue.clone(), shutdown_rx.clone()));
        if config.store.backend == crate::store::Backend::Redis {
            tokio::spawn(crate::tenant::follow::follow(
                store.clone(),
                ctx.tenants.clone(),
                Some(followed),
                shutdown_rx,
            ));
        }
        Ok(Gateway {
            smtp_addresses,
            admin_address,
            queue,
            store,
            notices,
            unsubscribe,
            ladders,
            ctx,
            engine,
            policy_directory: std::path::PathBuf::from(&config.policy.directory),
            unsubscribe_open,
            shutdown,
            relay_task,
            grace: config.server.shutdown_grace.get(),
        })
    }

    /// The policy engine (profiles, store): what the complaint ladders judge with.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The live tenants (a ladder changes a tenant's state here as well as in the store).
    pub fn tenants(&self) -> &Arc<TenantDirectory> {
        &self.ctx.tenants
    }

    /// Message bytes the sessions hold right now, as charged to `[limits] max_data_in_flight`.
    pub fn data_in_flight(&self) -> u64 {
        self.ctx.data_budget.held()
    }

    /// Reloads the policy profiles (SIGHUP). An invalid set is refused as a whole and the
    /// running profiles stay; sessions are never dropped. The files are read on the blocking
    /// pool.
    pub async fn reload_policies(&self) -> Result<(), String> {
        let directory = self.policy_directory.clone();
        let hostname = self.ctx.config.server.hostname.clone();
        let profiles =
            tokio::task::spawn_blocking(move || crate::policy::profile::load_directory(&directory, &hostname))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        for tenant in self.ctx.tenants.ids() {
            let Some(live) = self.ctx.tenants.get(&tenant) else {
                continue;
            };
            let profile = live.settings().profile.clone();
            if !profiles.contains_key(&profile) {
                return Err(format!(
                    "tenant `{tenant}` uses profile `{profile}`, which the new set lacks"
                ));
            }
        }
        let keys = match self.engine.authenticator().cloned() {
            Some(auth) => tokio::task::spawn_blocking(move || auth.reload_keys())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("DKIM keys: {e}"))?,
            None => 0,
        };
        let count = profiles.len();
        let unsubscribe = unsubscribes(&profiles);
        self.engine.replace_profiles(profiles);
        self.unsubscribe_open
            .store(unsubscribe, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            profiles = count,
            dkim_keys = keys,
            "policy profiles and DKIM keys reloaded"
        );
        Ok(())
    }

    /// Graceful stop: new connections get `421`, idle sessions get `421`, messages in DATA may
    /// finish within the grace period, the relay stops taking work, the queue is flushed.
    pub async fn shutdown(self) {
        tracing::info!("shutting down");
        let _ = self.shutdown.send(true);
        let deadline = tokio::time::Instant::now() + self.grace;
        while self.ctx.connections.open() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = tokio::time::timeout_at(deadline, self.relay_task).await;
        if let Err(error) = self.queue.flush().await {
            tracing::error!(%error, "queue flush at shutdown failed");
        }
        tracing::info!("stopped");
    }
}

/// The tenant block standing for `state = "suspended"` in the configuration.
fn configured_suspension(tenant: &str) -> Block {
    Block {
        tenant: tenant.to_string(),
        scope: BlockScope::Tenant,
        target: String::new(),
        by: "config".into(),
        reason: "state = \"suspended\" in the configuration".into(),
        at: crate::queue::now_ms(),
        expires_at: None,
    }
}

/// The store record a `[[tenant]]` entry seeds: its domains count as verified (the provider
/// vouches for them by writing them there).
fn seed_record(tenant: &crate::config::TenantConfig) -> TenantRecord {
    let mut record = TenantRecord::new(&tenant.id, &tenant.name);
    record.contact = tenant.contact.clone();
    record.profile = tenant.profile.clone().unwrap_or_else(|| "default".into());
    record.limits = tenant.limits;
    record.networks = tenant.networks.clone();
    record.state = tenant.state;
    let mut domains: Vec<String> = tenant
        .domains
        .iter()
        .filter_map(|d| crate::tenant::normalize_domain(d))
        .collect();
    domains.sort();
    domains.dedup();
    record.domains = domains
        .into_iter()
        .map(|domain| TenantDomain {
            domain,
            token: String::new(),
            verified: true,
        })
        .collect();
    record.credentials = tenant
        .credentials
        .iter()
        .map(|c| TenantCredential {
            username: c.username.clone(),
            password_hash: c.password_hash.clone(),
        })
        .collect();
    record
}

/// Seeds the store with the config's tenants (those it does not hold yet; a record of an
/// earlier version is rewritten as fields) and builds the directory from every tenant the store
/// holds, so tenants created through the API and states set by operators survive restarts.
async fn sync_tenants(config: &Config, store: &dyn RateStore) -> anyhow::Result<TenantDirectory> {
    for tenant in &config.tenants {
        store.tenant_seed(&seed_record(tenant)).await?;
    }
    let records = store.tenant_list().await?;
    let directory = TenantDirectory::from_specs(records.iter().map(TenantSpec::from_record).collect());
    for record in &records {
        let Some(live) = directory.get(&record.id) else {
            continue;
        };
        let generation = live.narrow_blocks.generation();
        let blocks = store.blocks_list(&record.id).await?;
        let configured = config.tenants.iter().any(|t| t.id == record.id);
        if configured
            && live.state.get() == TenantState::Suspended
            && !blocks.iter().any(|b| b.scope == BlockScope::Tenant)
        {
            // Suspended by the configuration: the block an operator lifts (and lists).
            store.block_add(&configured_suspension(&record.id)).await?;
        }
        live.narrow_blocks.note(&blocks, generation);
    }
    Ok(directory)
}

/// While the queue's writes fail (a full disk), tries a small write every
/// [`crate::health::PROBE_INTERVAL`], so the queue reports itself healthy again as soon as
/// RocksDB has resumed, even before the next message arrives.
async fn probe_degraded_queue(queue: Queue, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(crate::health::PROBE_INTERVAL) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if queue.health().degraded().is_some() {
            let queue = queue.clone();
            let _ = tokio::task::spawn_blocking(move || queue.probe()).await;
        }
    }
}

/// The local mailboxes of the SMTP listeners: the feedback addresses (`[feedback] addresses`
/// and `cfbl_address`), when there are any, and the unsubscribe address while a loaded profile
/// adds the gateway's List-Unsubscribe (a closed mailbox is as if it were not there). With none, a client no tenant is known for is
/// refused at MAIL FROM; with one, at RCPT of any address but these.
fn local_mailboxes(
    config: &Config,
    intake: Arc<crate::complaints::intake::Intake>,
    unsubscribe: Arc<crate::complaints::unsubscribe::Unsubscriber>,
    unsubscribe_open: Arc<std::sync::atomic::AtomicBool>,
    store: Arc<dyn RateStore>,
) -> crate::smtp::local::LocalMailboxes {
    let mut mailboxes: Vec<Arc<dyn crate::smtp::local::LocalMailbox>> = Vec::new();
    let addresses = crate::complaints::mailbox::feedback_addresses(&config.feedback);
    if !addresses.is_empty() {
        let rate = config.feedback.max_reports_per_client;
        mailboxes.push(Arc::new(crate::complaints::mailbox::FeedbackMailbox::new(
            intake, store, &addresses, rate,
        )));
    }
    mailboxes.push(Arc::new(
        crate::complaints::unsubscribe::mailbox::UnsubscribeMailbox::new(unsubscribe, unsubscribe_open),
    ));
    crate::smtp::local::LocalMailboxes::new(mailboxes)
}

/// Whether some profile adds the gateway's List-Unsubscribe (then its address takes mail).
fn unsubscribes(profiles: &std::collections::HashMap<String, Arc<crate::policy::profile::Profile>>) -> bool {
    profiles.values().any(|profile| profile.unsubscribe.enabled)
}
