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
use crate::tenant::TenantDirectory;

/// A running gateway.
pub struct Gateway {
    /// Bound SMTP addresses, in `[[listener]]` order.
    pub smtp_addresses: Vec<SocketAddr>,
    pub queue: Queue,
    ctx: Arc<SmtpContext>,
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
        let queue = Queue::open(&data_dir.join("queue"))?;
        let dns = Dns::new(&config.dns)?;
        let needs_tls = config.listeners.iter().any(|l| l.tls != ListenerTls::None);
        let tls = if needs_tls {
            Some(crate::smtp::tls::acceptor(&config.tls, &data_dir, &config.server.hostname)?)
        } else {
            None
        };
        let tenants = Arc::new(TenantDirectory::from_config(&config.tenants));
        let engine = Arc::new(Engine::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let ctx = Arc::new(SmtpContext::new(config.clone(), tenants, engine, queue.clone(), tls, shutdown_rx.clone()));
        let smtp_addresses = start_listeners(ctx.clone()).await?;
        let relay = Relay::new(config.clone(), queue.clone(), dns);
        let relay_task = tokio::spawn(relay.run(shutdown_rx));
        Ok(Gateway {
            smtp_addresses,
            queue,
            ctx,
            shutdown,
            relay_task,
            grace: config.server.shutdown_grace.get(),
        })
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
        if let Err(error) = self.queue.flush() {
            tracing::error!(%error, "queue flush at shutdown failed");
        }
        tracing::info!("stopped");
    }
}
