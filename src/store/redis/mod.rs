//! Redis / Valkey backend: several gateway nodes share one set of counts.
//!
//! - One URL: a standalone server through a reconnecting `ConnectionManager`; several URLs: seed
//!   nodes of a Redis Cluster. Both multiplex all calls over few connections (auto-pipelining).
//! - Every check-and-charge is one Lua script, atomic on the server; all keys of a call share the
//!   `{t<hex tenant>}` hash tag, so one tenant lives on one shard and a multi-key script is legal
//!   in a cluster.
//! - Expiry: every windowed key gets `PEXPIRE` on write; logs are trimmed to the retention on
//!   append. No scan anywhere.
//! - Every call has a response timeout; an unreachable server is an error, never a zero.
//! - The writes every message makes after its checks (quota and outcome charges, audit records,
//!   the Message-ID index) are group-committed: concurrent callers share a round trip (`group`).

mod api_tokens;
mod batch;
mod complaints;
mod feed;
mod group;
mod ops;
mod replies;
mod scripts;
mod tenant_queue;
mod tenants;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, RedisResult, Script, ScriptInvocation};

use super::StoreError;

/// The Redis store. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    scripts: std::sync::Arc<scripts::Scripts>,
    /// Writes of concurrent callers share round trips (`group`).
    group: std::sync::Arc<group::Group>,
    /// Stage batches of concurrent callers share script calls (`batch`).
    batches: std::sync::Arc<batch::Batches>,
    /// `redis_timeout`: a group-committed caller waits a few of these at most.
    timeout: Duration,
    /// Names event occurrences (`occurrence_nonce`): a random start and a count.
    nonces: std::sync::Arc<(u64, std::sync::atomic::AtomicU64)>,
    /// Orders log records (`log_sequence`).
    log_records: std::sync::Arc<std::sync::atomic::AtomicU64>,
    retention_ms: u64,
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// The store's TCP settings: `TCP_NODELAY`, as redis-server sets on its side. The client's
/// default leaves Nagle's algorithm on, which may hold a small call back while an earlier one on
/// the connection is unacknowledged — on a network with delayed acknowledgements, for tens of
/// milliseconds. (On loopback the bench measured no difference.)
fn tcp_settings() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

impl RedisStore {
    /// Connects: one URL is a standalone server, several are cluster seed nodes. Fails if the
    /// server cannot be reached within `timeout`.
    pub async fn connect(urls: &[String], timeout: Duration, log_retention: Duration) -> Result<Self, StoreError> {
        let conn = match urls {
            [] => return Err(StoreError::Config("no redis url".into())),
            [url] => {
                let info =
                    redis::IntoConnectionInfo::into_connection_info(url.as_str())?.set_tcp_settings(tcp_settings());
                let client = redis::Client::open(info)?;
                let cfg = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(timeout);
                let cm = tokio::time::timeout(
                    timeout.saturating_mul(2),
                    ConnectionManager::new_with_config(client, cfg),
                )
                .await
                .map_err(|_| StoreError::Redis(timeout_error()))??;
                Conn::Single(cm)
            }
            many => {
                let client = ClusterClientBuilder::new(many.iter().map(String::as_str))
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    // The client resends nothing: a script re-sent after a lost connection may
                    // have run already and would count twice. What the server refused without
                    // running (a redirect) is sent again by `resend_unexecuted`.
                    .retries(0)
                    .tcp_settings(tcp_settings())
                    .build()?;
                let c = tokio::time::timeout(timeout.saturating_mul(2), client.get_async_connection())
                    .await
                    .map_err(|_| StoreError::Redis(timeout_error()))??;
                Conn::Cluster(c)
            }
        };
        let store = RedisStore {
            conn,
            scripts: std::sync::Arc::new(scripts::Scripts::new()),
            group: group::new_group(),
            batches: batch::new_batches(),
            timeout,
            nonces: std::sync::Arc::new((random_start(), std::sync::atomic::AtomicU64::new(0))),
            log_records: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(log_sequence_start())),
            retention_ms: u64::try_from(log_retention.as_millis()).unwrap_or(u64::MAX),
        };
        // Prove the server answers before the gateway starts relying on it, and that it runs
        // what the scripts need.
        let _: String = store.cmd(&redis::cmd("PING")).await?;
        // A cluster answers per master (a map): every master that says its version must do. A
        // server that will not say (a user without `INFO`, a proxy) is warned about, not refused:
        // the scripts then fail on a server that is too old, and the mail is deferred.
        match store.cmd::<redis::Value>(redis::cmd("INFO").arg("server")).await {
            Ok(info) => {
                let mut texts = Vec::new();
                let mut silent = 0;
                collect_texts(&info, &mut texts, &mut silent);
                for text in &texts {
                    check_version(text)?;
                }
                if texts.is_empty() || silent > 0 {
                    tracing::warn!(
                        silent,
                        "a Redis server did not say its version (INFO server): the store needs Redis {}.{} or later",
                        MIN_VERSION.0,
                        MIN_VERSION.1
                    );
                }
            }
            Err(error) => tracing::warn!(
                %error,
                "the Redis version could not be read (INFO server): the store needs Redis {}.{} or later",
                MIN_VERSION.0,
                MIN_VERSION.1
            ),
        }
        Ok(store)
    }

    /// A nonce unique to one event occurrence (`events_add` names it `now:nonce`): this store's
    /// random start plus a count, so occurrences of one millisecond never collide, across
    /// nodes either.
    pub(super) fn occurrence_nonce(&self) -> String {
        let (start, count) = &*self.nonces;
        format!(
            "{:x}",
            start.wrapping_add(count.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
        )
    }

    /// The next log record's sequence (20 digits: records of one millisecond sort by it, in the
    /// order this node made them; records of one millisecond from several nodes sort by the
    /// nodes' starting points, not by arrival). A node
    /// counts from the microsecond it started at, times 256, plus a random byte: numbers larger
    /// than any the server-side counter of earlier versions gave, and no two nodes' alike in
    /// practice (a record's JSON tells two apart anyway).
    pub(super) fn log_sequence(&self) -> String {
        let n = self.log_records.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{n:020}")
    }

    /// One server rather than a cluster: a script may then touch keys of any hash tag.
    fn is_standalone(&self) -> bool {
        matches!(self.conn, Conn::Single(_))
    }

    async fn script<T: FromRedisValue>(&self, inv: &ScriptInvocation<'_>) -> RedisResult<T> {
        match &self.conn {
            Conn::Single(c) => inv.invoke_async(&mut c.clone()).await,
            Conn::Cluster(c) => resend_unexecuted(|| async { inv.invoke_async(&mut c.clone()).await }).await,
        }
    }

    /// Runs `eval`, an `EVALSHA` of `script` its caller built (its arguments written once,
    /// straight into the command), loading the script first where the server lacks it.
    async fn evalsha<T: FromRedisValue>(&self, script: &Script, eval: &Cmd) -> RedisResult<T> {
        async fn once<T: FromRedisValue>(
            script: &Script,
            eval: &Cmd,
            con: &mut impl redis::aio::ConnectionLike,
        ) -> RedisResult<T> {
            match eval.query_async(con).await {
                Err(error) if error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                    script.load_async(con).await?;
                    eval.query_async(con).await
                }
                other => other,
            }
        }
        match &self.conn {
            Conn::Single(c) => once(script, eval, &mut c.clone()).await,
            Conn::Cluster(c) => resend_unexecuted(|| async { once(script, eval, &mut c.clone()).await }).await,
        }
    }

    /// Runs a keyless command (SCAN) on the node that holds the keys starting with `tagged`
    /// (a key with a tenant's hash tag): any node in standalone mode, that slot's master in a
    /// cluster.
    async fn on_node_of<T: FromRedisValue>(&self, tagged: &[u8], cmd: &Cmd) -> RedisResult<T> {
        match &self.conn {
            Conn::Single(c) => cmd.query_async(&mut c.clone()).await,
            Conn::Cluster(c) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let slot: u16 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(tagged)
                    .query_async(&mut c.clone())
                    .await?;
                let route =
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master)));
                let value = c.clone().route_command(cmd.clone(), route).await?;
                T::from_redis_value(value).map_err(redis::RedisError::from)
            }
        }
    }

    async fn cmd<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        match &self.conn {
            Conn::Single(c) => cmd.query_async(&mut c.clone()).await,
            Conn::Cluster(c) => resend_unexecuted(|| async { cmd.query_async(&mut c.clone()).await }).await,
        }
    }
}

/// How often a cluster command the server refused without running it is sent again.
const RESENDS: u32 = 3;

/// Runs `call` on the cluster, sending it again (at most [`RESENDS`] times, 50 ms apart, while
/// the client refreshes its slot map) when the server answered that it did not run it: a
/// redirect (`MOVED`, `ASK`), a node no longer the slot's master, a cluster briefly down. Never
/// after a lost connection: the command may have run, and a script run twice counts twice
/// (that is why the client itself resends nothing, `retries(0)`).
async fn resend_unexecuted<T, F, Fut>(call: F) -> RedisResult<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = RedisResult<T>>,
{
    let mut sent = 0;
    loop {
        match call().await {
            Err(error) if sent < RESENDS && not_executed(&error) => {
                sent += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// Whether the server refused `error`'s command without running it.
fn not_executed(error: &redis::RedisError) -> bool {
    use redis::RetryMethod;
    matches!(
        error.retry_method(),
        RetryMethod::MovedRedirect
            | RetryMethod::AskRedirect
            | RetryMethod::RefreshSlotsAndRetry
            | RetryMethod::WaitAndRetry
    )
}

/// A random 64-bit start (the standard library's randomly keyed hasher over the time).
fn random_start() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

/// Where this node's log sequence starts (`RedisStore::log_sequence`).
fn log_sequence_start() -> u64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    u64::try_from(micros)
        .unwrap_or(u64::MAX / 512)
        .saturating_mul(256)
        .saturating_add(random_start() % 256)
}

/// The `INFO server` texts in a reply (a cluster's per-master map, or one server's text) that
/// name a version; `silent` counts the answers that do not (an error from one master).
fn collect_texts(value: &redis::Value, out: &mut Vec<String>, silent: &mut usize) {
    let mut text = |text: String| {
        if text.contains("redis_version:") {
            out.push(text);
        } else {
            *silent += 1;
        }
    };
    match value {
        redis::Value::BulkString(bytes) => text(String::from_utf8_lossy(bytes).into_owned()),
        redis::Value::SimpleString(s) | redis::Value::VerbatimString { text: s, .. } => text(s.clone()),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().for_each(|v| collect_texts(v, out, silent))
        }
        redis::Value::Map(pairs) => pairs.iter().for_each(|(_, v)| collect_texts(v, out, silent)),
        _ => *silent += 1,
    }
}

/// The oldest server the scripts run on: they use `PEXPIRE … GT` (Redis 7.0; Valkey 7.2 is
/// Redis 7.2's fork).
const MIN_VERSION: (u32, u32) = (7, 0);

/// Refuses a server older than [`MIN_VERSION`] (`INFO server`'s `redis_version`), so the
/// gateway fails at start with a clear error rather than answer every message `451`.
fn check_version(info: &str) -> Result<(), StoreError> {
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .map(str::trim)
        .ok_or_else(|| StoreError::Config("the Redis server did not say its version (INFO server)".into()))?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let found = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if found < MIN_VERSION {
        return Err(StoreError::Config(format!(
            "Redis {version} is too old: the store needs Redis {}.{} or later",
            MIN_VERSION.0, MIN_VERSION.1
        )));
    }
    Ok(())
}

fn timeout_error() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "redis connect timed out",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_older_than_seven_are_refused() {
        assert!(check_version("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n").is_ok());
        assert!(check_version("redis_version:7.2.4\r\n").is_ok());
        assert!(check_version("redis_version:10.0.0\r\n").is_ok());
        let old = check_version("redis_version:6.2.14\r\n").unwrap_err().to_string();
        assert!(old.contains("Redis 6.2.14 is too old"), "{old}");
        assert!(check_version("redis_mode:standalone\r\n").is_err());
        // In a cluster one master's error counts as not saying, never as a version.
        let mut texts = Vec::new();
        let mut silent = 0;
        let info = redis::Value::Map(vec![
            (
                redis::Value::SimpleString("a:1".into()),
                redis::Value::BulkString(b"redis_version:7.2.4\r\n".to_vec()),
            ),
            (redis::Value::SimpleString("b:2".into()), redis::Value::Nil),
        ]);
        collect_texts(&info, &mut texts, &mut silent);
        assert_eq!((texts.len(), silent), (1, 1));
    }
}
