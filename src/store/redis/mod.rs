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
mod scripts;
mod tenants;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, RedisResult, ScriptInvocation};

use super::StoreError;

/// The Redis store. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    scripts: std::sync::Arc<scripts::Scripts>,
    /// Writes of concurrent callers share round trips (`group`).
    group: std::sync::Arc<group::Group>,
    retention_ms: u64,
}

#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisStore {
    /// Connects: one URL is a standalone server, several are cluster seed nodes. Fails if the
    /// server cannot be reached within `timeout`.
    pub async fn connect(urls: &[String], timeout: Duration, log_retention: Duration) -> Result<Self, StoreError> {
        let conn = match urls {
            [] => return Err(StoreError::Config("no redis url".into())),
            [url] => {
                let client = redis::Client::open(url.as_str())?;
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
                    .retries(2)
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
            retention_ms: u64::try_from(log_retention.as_millis()).unwrap_or(u64::MAX),
        };
        // Prove the server answers before the gateway starts relying on it.
        let _: String = store.cmd(&redis::cmd("PING")).await?;
        Ok(store)
    }

    /// One server rather than a cluster: a script may then touch keys of any hash tag.
    fn is_standalone(&self) -> bool {
        matches!(self.conn, Conn::Single(_))
    }

    async fn script<T: FromRedisValue>(&self, inv: &ScriptInvocation<'_>) -> RedisResult<T> {
        match &self.conn {
            Conn::Single(c) => inv.invoke_async(&mut c.clone()).await,
            Conn::Cluster(c) => inv.invoke_async(&mut c.clone()).await,
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
            Conn::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }
}

fn timeout_error() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "redis connect timed out",
    ))
}
