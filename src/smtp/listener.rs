//! Listeners: bind every `[[listener]]`, accept connections, enforce the connection caps (a client
//! over a cap gets `421` at once and is closed — never left waiting), run implicit TLS, and spawn
//! one session per connection. Shutdown is a watch signal every session selects on.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::config::{Config, ListenerConfig, ListenerTls};
use crate::policy::Engine;
use crate::queue::Queue;
use crate::smtp::auth_guard::AuthGuard;
use crate::smtp::budget::DataBudget;
use crate::smtp::reply::{self, Reply};
use crate::smtp::session::Session;
use crate::tenant::TenantDirectory;

/// Everything a session needs, shared by all sessions.
pub struct SmtpContext {
    pub config: Arc<Config>,
    pub tenants: Arc<TenantDirectory>,
    pub engine: Arc<Engine>,
    pub queue: Queue,
    pub tls: Option<TlsAcceptor>,
    pub shutdown: watch::Receiver<bool>,
    pub connections: Connections,
    /// Failed-AUTH counts and lockouts, and the argon2 slots.
    pub auth_guard: AuthGuard,
    /// Message data all sessions hold (`[limits] max_data_in_flight`).
    pub data_budget: Arc<DataBudget>,
    /// Addresses the gateway takes mail for itself (`smtp::local`): the feedback addresses.
    pub local_mailboxes: crate::smtp::local::LocalMailboxes,
    next_session: AtomicU64,
}

impl SmtpContext {
    pub fn new(
        config: Arc<Config>,
        tenants: Arc<TenantDirectory>,
        engine: Arc<Engine>,
        queue: Queue,
        tls: Option<TlsAcceptor>,
        shutdown: watch::Receiver<bool>,
    ) -> SmtpContext {
        let auth_guard = AuthGuard::new(engine.store().clone(), &config.limits);
        let data_budget = DataBudget::new(config.limits.max_data_in_flight.get());
        SmtpContext {
            data_budget,
            config,
            tenants,
            engine,
            queue,
            tls,
            shutdown,
            connections: Connections::default(),
            auth_guard,
            local_mailboxes: crate::smtp::local::LocalMailboxes::default(),
            next_session: AtomicU64::new(1),
        }
    }

    /// The context with these local mailboxes (`smtp::local`).
    pub fn with_local_mailboxes(mut self, mailboxes: crate::smtp::local::LocalMailboxes) -> SmtpContext {
        self.local_mailboxes = mailboxes;
        self
    }
}

/// Counts open connections in total and per client address.
#[derive(Default)]
pub struct Connections {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// Holds one connection slot; releases it on drop.
pub struct ConnectionGuard {
    ctx: Arc<SmtpContext>,
    ip: IpAddr,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let connections = &self.ctx.connections;
        connections.total.fetch_sub(1, Ordering::SeqCst);
        crate::telemetry::session_closed();
        let mut per_ip = connections.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

impl Connections {
    /// Open connections right now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

/// Takes a connection slot, or says which cap refuses it.
fn admit(ctx: &Arc<SmtpContext>, ip: IpAddr) -> Result<ConnectionGuard, Reply> {
    let limits = &ctx.config.limits;
    let connections = &ctx.connections;
    let mut per_ip = connections.per_ip.lock().unwrap_or_else(|p| p.into_inner());
    if connections.total.load(Ordering::SeqCst) >= limits.max_connections {
        crate::telemetry::connection_refused("max_connections");
        return Err(reply::too_many_connections());
    }
    let count = per_ip.entry(ip).or_insert(0);
    if *count >= limits.max_connections_per_ip {
        crate::telemetry::connection_refused("max_connections_per_ip");
        return Err(reply::too_many_connections_from_ip());
    }
    *count += 1;
    connections.total.fetch_add(1, Ordering::SeqCst);
    crate::telemetry::session_opened();
    Ok(ConnectionGuard { ctx: ctx.clone(), ip })
}

/// Binds every listener and spawns its accept loop. Returns the bound addresses, in config order.
pub async fn start_listeners(ctx: Arc<SmtpContext>) -> std::io::Result<Vec<SocketAddr>> {
    let mut addresses = Vec::new();
    for listener_config in ctx.config.listeners.clone() {
        let listener = TcpListener::bind(&listener_config.address).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("binding {} ({}): {e}", listener_config.name, listener_config.address),
            )
        })?;
        let address = listener.local_addr()?;
        tracing::info!(listener = %listener_config.name, %address, "listening");
        addresses.push(address);
        tokio::spawn(accept_loop(ctx.clone(), Arc::new(listener_config), listener));
    }
    Ok(addresses)
}

async fn accept_loop(ctx: Arc<SmtpContext>, listener_config: Arc<ListenerConfig>, listener: TcpListener) {
    // The loop keeps accepting during shutdown so that new clients get `421` instead of a refused
    // connection; it ends with the process.
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(error) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        let listener_config = listener_config.clone();
        tokio::spawn(async move {
            match admit(&ctx, crate::tenant::canonical_ip(peer.ip())) {
                Ok(guard) => serve(ctx, listener_config, stream, peer, guard).await,
                Err(refusal) => refuse(stream, &refusal).await,
            }
        });
    }
}

async fn refuse(mut stream: TcpStream, refusal: &Reply) {
    let mut out = Vec::new();
    refusal.write_to(&mut out);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    })
    .await;
}

async fn serve(
    ctx: Arc<SmtpContext>,
    listener: Arc<ListenerConfig>,
    stream: TcpStream,
    peer: SocketAddr,
    guard: ConnectionGuard,
) {
    let session_id = ctx.next_session.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("session", session_id, peer = %peer, listener = %listener.name, tenant = tracing::field::Empty);
    async move {
        let implicit = listener.tls == ListenerTls::Implicit;
        if *ctx.shutdown.borrow() {
            crate::telemetry::connection_refused("shutting_down");
            refuse(stream, &reply::shutting_down(&ctx.config.server.hostname)).await;
            return;
        }
        let session = if implicit {
            let Some(acceptor) = ctx.tls.clone() else {
                tracing::error!("implicit TLS listener without TLS configuration");
                return;
            };
            let handshake =
                tokio::time::timeout(ctx.config.limits.command_timeout.get(), acceptor.accept(stream)).await;
            match handshake {
                Ok(Ok(tls)) => Session::new(ctx.clone(), listener, peer, Box::new(tls), true),
                Ok(Err(error)) => {
                    tracing::info!(%error, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!("TLS handshake timed out");
                    return;
                }
            }
        } else {
            Session::new(ctx.clone(), listener, peer, Box::new(stream), false)
        };
        session.run().await;
        drop(guard);
    }
    .instrument(span)
    .await
}
