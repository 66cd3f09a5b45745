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
use crate::store::{open_store, Block, BlockScope, RateStore, TenantRecord};
use crate::tenant::{TenantDirectory, TenantState};

/// A running gateway.
pub struct Gateway {
    /// Bound SMTP addresses, in `[[listener]]` order.
    pub smtp_addresses: Vec<SocketAddr>,
    /// Bound address of the admin API.
    pub admin_address: SocketAddr,
    pub queue: Queue,
    /// The rate store (RocksDB or Redis).
    pub store: Arc<dyn RateStore>,
    ctx: Arc<SmtpContext>,
    engine: Arc<Engine>,
    policy_directory: std::path::PathBuf,
    tenant_profiles: Vec<(String, String)>,
    shutdown: watch::Sender<bool>,
    relay_task: tokio::task::JoinHandle<()>,
    grace: Duration,
}

impl Gateway {
    /// Starts everything from a validated config.
    pub async fn start(config: Config) -> anyhow::Result<Gateway> {
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
        let tenants = Arc::new(sync_tenants(&config, store.as_ref()).await?);
        let profiles = crate::policy::profile::load_directory(std::path::Path::new(&config.policy.directory))
            .map_err(|errors| anyhow::anyhow!("{errors}"))?;
        for tenant in &config.tenants {
            let name = tenant.profile.as_deref().unwrap_or("default");
            if !profiles.contains_key(name) {
                anyhow::bail!(
                    "tenant `{}` uses profile `{name}`, which is not in {}",
                    tenant.id,
                    config.policy.directory
                );
            }
        }
        let default = profiles["default"].clone();
        let authenticator = Arc::new(crate::auth::Authenticator::new(&config, &dns)?);
        if config.authentication.egress_ips.is_empty() {
            tracing::warn!("[authentication] egress_ips is empty: SPF is not predicted for relayed mail");
        }
        tracing::info!(keys = authenticator.key_count(), "DKIM keys loaded");
        let trace_keys = crate::complaints::TraceKeys::load(&config.feedback, &data_dir)?;
        tracing::info!(key = trace_keys.current_id(), "trace key loaded");
        let attributor = crate::complaints::attribution::Attributor::new(config.feedback.clone(), trace_keys);
        let engine = Arc::new(
            Engine::new(store.clone(), profiles, default)
                .with_tenants(tenants.clone())
                .with_authenticator(authenticator)
                .with_attribution(Arc::new(attributor)),
        );
        let (shutdown, shutdown_rx) = watch::channel(false);
        let admin_address = crate::admin::start(
            crate::admin::AdminState {
                store: store.clone(),
                tenants: tenants.clone(),
                dns: dns.clone(),
                access: Arc::new(crate::admin::access::Access::new(&config, store.clone())?),
                queue: queue.clone(),
                engine: engine.clone(),
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
        let ctx = Arc::new(SmtpContext::new(
            config.clone(),
            tenants,
            engine.clone(),
            queue.clone(),
            tls,
            shutdown_rx.clone(),
        ));
        let smtp_addresses = start_listeners(ctx.clone()).await?;
        let relay = Relay::new(config.clone(), queue.clone(), dns, store.clone())?;
        let relay_task = tokio::spawn(relay.run(shutdown_rx.clone()));
        tokio::spawn(probe_degraded_queue(queue.clone(), shutdown_rx.clone()));
        if config.store.backend == crate::store::Backend::Redis {
            let ids = config.tenants.iter().map(|t| t.id.clone()).collect();
            tokio::spawn(follow_tenants(store.clone(), ctx.tenants.clone(), ids, shutdown_rx));
        }
        Ok(Gateway {
            smtp_addresses,
            admin_address,
            queue,
            store,
            ctx,
            engine,
            policy_directory: std::path::PathBuf::from(&config.policy.directory),
            tenant_profiles: config
                .tenants
                .iter()
                .map(|t| (t.id.clone(), t.profile.clone().unwrap_or_else(|| "default".into())))
                .collect(),
            shutdown,
            relay_task,
            grace: config.server.shutdown_grace.get(),
        })
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
        let profiles = tokio::task::spawn_blocking(move || crate::policy::profile::load_directory(&directory))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        for (tenant, profile) in &self.tenant_profiles {
            if !profiles.contains_key(profile) {
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
        self.engine.replace_profiles(profiles);
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

/// How often a node sharing a Redis store re-reads the tenants' states and verified domains:
/// a block, a lift or a verification made through another node's admin API reaches this node
/// within this time.
const TENANT_FOLLOW_INTERVAL: Duration = Duration::from_secs(2);

/// Keeps the live tenant states and verified domains in step with the shared store (Redis), so
/// a tenant suspended on one node is refused on every node. A store error leaves the states as
/// they are (logged) and is retried on the next round.
async fn follow_tenants(
    store: Arc<dyn RateStore>,
    tenants: Arc<TenantDirectory>,
    ids: Vec<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TENANT_FOLLOW_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        for id in &ids {
            let Some(live) = tenants.get(id) else { continue };
            let state_before = live.state.get();
            let generation = live.narrow_blocks.generation();
            match store.tenant_get(id).await {
                // Unless this node changed the state while the record was being read.
                Ok(Some(record)) => {
                    if live.state.get() == state_before && state_before != record.state {
                        tracing::info!(tenant = %id, state = ?record.state, "tenant state changed on another node");
                        live.state.set(record.state);
                    }
                    for domain in crate::admin::domains::verified_domains(&record) {
                        live.add_domain(&domain);
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(tenant = %id, %error, "reading the tenant's state failed"),
            }
            match store.blocks_list(id).await {
                Ok(blocks) => live.narrow_blocks.note(&blocks, generation),
                Err(error) => tracing::warn!(tenant = %id, %error, "reading the tenant's blocks failed"),
            }
        }
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

/// Records the config's tenants in the store (first start) and reads back their states, so a
/// state set by an operator survives restarts and config reloads.
async fn sync_tenants(config: &Config, store: &dyn RateStore) -> anyhow::Result<TenantDirectory> {
    let mut states = std::collections::HashMap::new();
    let mut verified: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for tenant in &config.tenants {
        match store.tenant_get(&tenant.id).await? {
            Some(record) => {
                states.insert(tenant.id.clone(), record.state);
                verified.insert(tenant.id.clone(), crate::admin::domains::verified_domains(&record));
            }
            None => {
                let record = TenantRecord {
                    id: tenant.id.clone(),
                    name: tenant.name.clone(),
                    state: tenant.state,
                    extra: serde_json::json!({
                        "networks": tenant.networks,
                        "domains": tenant.domains,
                        "contact": tenant.contact,
                    }),
                };
                store.tenant_put(&record).await?;
            }
        }
    }
    let directory = TenantDirectory::from_config_with_states(&config.tenants, &states);
    for tenant in &config.tenants {
        if let Some(live) = directory.get(&tenant.id) {
            let generation = live.narrow_blocks.generation();
            let blocks = store.blocks_list(&tenant.id).await?;
            if live.state.get() == TenantState::Suspended && !blocks.iter().any(|b| b.scope == BlockScope::Tenant) {
                // Suspended by the configuration: the block an operator lifts (and lists).
                store.block_add(&configured_suspension(&tenant.id)).await?;
            }
            live.narrow_blocks.note(&blocks, generation);
        }
    }
    for (tenant, domains) in verified {
        if let Some(live) = directory.get(&tenant) {
            for domain in domains {
                live.add_domain(&domain);
            }
        }
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
