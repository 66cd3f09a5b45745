//! Prometheus metrics: every metric's name and labels, spelled once here, and the recorder the
//! admin listener's `GET /metrics` renders.
//!
//! The code paths call the functions below (never `metrics::counter!` with a name of their own),
//! so the list in the README and this file are the whole set. Labels are bounded: a tenant id,
//! a rule id, a verdict, an outcome, a cause, an operation — never a recipient, an address or a
//! message id, which would make one series per message.
//!
//! The `metrics` crate keeps one recorder per process; [`install`] installs it once and every
//! later call (another gateway in the same test process) shares it. Without it the calls are
//! no-ops, so library users and unit tests need nothing.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Open SMTP sessions (gauge).
pub const SESSIONS_OPEN: &str = "aupgate_smtp_sessions_open";
/// Connections refused before a session started, by `cause` (counter).
pub const CONNECTIONS_REFUSED: &str = "aupgate_smtp_connections_refused_total";
/// Policy decisions that refused or deferred, and accepted messages, by `tenant`, `verdict`,
/// `rule` (counter; `rule` is empty for `accept`).
pub const MESSAGES: &str = "aupgate_messages_total";
/// Recipients of accepted messages, by `tenant` (counter).
pub const RECIPIENTS: &str = "aupgate_recipients_total";
/// Entries waiting in the queue's schedule (gauge, read at each scrape).
pub const QUEUE_DEPTH: &str = "aupgate_queue_depth";
/// Age in seconds of the oldest entry waiting in the queue (gauge; 0 when empty).
pub const QUEUE_OLDEST_AGE: &str = "aupgate_queue_oldest_age_seconds";
/// Seconds a new queue entry waits for its synced write, which every `250` waits for: the
/// queue writer's batch ahead of it and its own batch's fsync (histogram).
pub const QUEUE_WRITE: &str = "aupgate_queue_write_seconds";
/// Delivery attempts per recipient, by `outcome` (`delivered`, `deferred`, `failed`) (counter).
pub const DELIVERIES: &str = "aupgate_deliveries_total";
/// Rate-store operation latency in seconds, by `op` (histogram).
pub const STORE_LATENCY: &str = "aupgate_store_latency_seconds";
/// DNS lookup latency in seconds, by `record` (histogram).
pub const DNS_LATENCY: &str = "aupgate_dns_latency_seconds";

/// Latency buckets (seconds): 50 µs to 5 s.
const BUCKETS: [f64; 14] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once) and returns the handle that renders it;
/// `None` when another recorder was installed first (the metrics then go there).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(&BUCKETS).ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "metrics recorder not installed; /metrics stays empty");
                    None
                }
            }
        })
        .clone()
}

/// A session started.
pub fn session_opened() {
    gauge!(SESSIONS_OPEN).increment(1.0);
}

/// A session ended.
pub fn session_closed() {
    gauge!(SESSIONS_OPEN).decrement(1.0);
}

/// A connection refused before its session (`max_connections`, `max_connections_per_ip`,
/// `shutting_down`).
pub fn connection_refused(cause: &'static str) {
    counter!(CONNECTIONS_REFUSED, "cause" => cause).increment(1);
}

/// A policy decision that refused, deferred or dropped a command or message.
pub fn verdict(tenant: &str, verdict: &'static str, rule: &'static str) {
    counter!(MESSAGES, "tenant" => tenant.to_owned(), "verdict" => verdict, "rule" => rule).increment(1);
}

/// A message accepted (queued) with `recipients` recipients.
pub fn accepted(tenant: &str, recipients: u64) {
    counter!(MESSAGES, "tenant" => tenant.to_owned(), "verdict" => "accept", "rule" => "").increment(1);
    counter!(RECIPIENTS, "tenant" => tenant.to_owned()).increment(recipients);
}

/// The queue as a scrape sees it.
pub fn queue(depth: usize, oldest_age: Duration) {
    gauge!(QUEUE_DEPTH).set(depth as f64);
    gauge!(QUEUE_OLDEST_AGE).set(oldest_age.as_secs_f64());
}

/// A new queue entry's synced write took `elapsed` (from hand-over to answer).
pub fn queue_write(elapsed: Duration) {
    histogram!(QUEUE_WRITE).record(elapsed.as_secs_f64());
}

/// One recipient's delivery attempt.
pub fn delivery(outcome: &'static str) {
    counter!(DELIVERIES, "outcome" => outcome).increment(1);
}

/// One rate-store operation took `elapsed`.
pub fn store_latency(op: &'static str, elapsed: Duration) {
    histogram!(STORE_LATENCY, "op" => op).record(elapsed.as_secs_f64());
}

/// One DNS lookup took `elapsed`.
pub fn dns_latency(record: &'static str, elapsed: Duration) {
    histogram!(DNS_LATENCY, "record" => record).record(elapsed.as_secs_f64());
}
