//! `[store]` configuration and [`open_store`], which turns it into a running store.
//!
//! Opening validates everything and connects: a store that cannot be reached is an error at
//! startup, never a store that silently answers zero.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use super::{redis::RedisStore, rocks::RocksStore, RateStore, StoreError};

/// Which backend holds the counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded RocksDB: one gateway node.
    #[default]
    Rocksdb,
    /// Redis or Valkey (standalone or cluster): several nodes share the counts.
    Redis,
}

/// The `[store]` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `"rocksdb"` (default) or `"redis"`.
    #[serde(default)]
    pub backend: Backend,
    /// RocksDB directory; default `<data_dir>/store`. Only one process may open it.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Redis URLs (`redis://host:port`): one URL is a standalone server, several are seed nodes
    /// of a Redis Cluster. Required when `backend = "redis"`.
    #[serde(default)]
    pub urls: Vec<String>,
    /// How long event and audit logs are kept, e.g. `"400d"` (default). Older entries are
    /// dropped by compaction (RocksDB) or on append (Redis).
    #[serde(default = "default_log_retention", deserialize_with = "de_duration")]
    #[serde(serialize_with = "ser_duration")]
    pub log_retention: Duration,
    /// Redis connect and response timeout, e.g. `"2s"` (default); a slower answer is an error.
    #[serde(default = "default_redis_timeout", deserialize_with = "de_duration")]
    #[serde(serialize_with = "ser_duration")]
    pub redis_timeout: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::Rocksdb,
            path: None,
            urls: Vec::new(),
            log_retention: default_log_retention(),
            redis_timeout: default_redis_timeout(),
        }
    }
}

fn default_log_retention() -> Duration {
    Duration::from_secs(400 * 86_400)
}

fn default_redis_timeout() -> Duration {
    Duration::from_secs(2)
}

/// Parses `"500ms"`, `"30s"`, `"15m"`, `"24h"`, `"400d"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration {s:?} has no unit (ms, s, m, h, d)"))?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("duration {s:?} does not start with a number"))?;
    let ms_per = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("duration {s:?}: unknown unit {unit:?}")),
    };
    n.checked_mul(ms_per)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration {s:?} is too large"))
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{}ms", d.as_millis()))
}

impl StoreConfig {
    /// Checks the fields against each other; every problem is reported at once.
    pub fn validate(&self) -> Result<(), StoreError> {
        let mut errs = Vec::new();
        match self.backend {
            Backend::Rocksdb if !self.urls.is_empty() => {
                errs.push("store.urls is set but store.backend is \"rocksdb\"".to_owned())
            }
            Backend::Redis if self.urls.is_empty() => {
                errs.push("store.backend = \"redis\" needs store.urls".to_owned())
            }
            Backend::Redis if self.path.is_some() => {
                errs.push("store.path is set but store.backend is \"redis\"".to_owned())
            }
            _ => {}
        }
        if self.log_retention.is_zero() {
            errs.push("store.log_retention must be > 0".to_owned());
        }
        if self.redis_timeout.is_zero() {
            errs.push("store.redis_timeout must be > 0".to_owned());
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Config(errs.join("; ")))
        }
    }
}

/// Opens the configured store: RocksDB at `path` (default `<data_dir>/store`), or connects to
/// Redis (cluster if several URLs).
pub async fn open_store(
    cfg: &StoreConfig,
    data_dir: &Path,
) -> Result<Arc<dyn RateStore>, StoreError> {
    cfg.validate()?;
    match cfg.backend {
        Backend::Rocksdb => {
            let path = cfg.path.clone().unwrap_or_else(|| data_dir.join("store"));
            let retention = cfg.log_retention;
            let store = tokio::task::spawn_blocking(move || RocksStore::open(&path, retention))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))??;
            Ok(Arc::new(store))
        }
        Backend::Redis => {
            let store =
                RedisStore::connect(&cfg.urls, cfg.redis_timeout, cfg.log_retention).await?;
            Ok(Arc::new(store))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toml() {
        let c: StoreConfig = toml::from_str(
            "backend = \"redis\"\nurls = [\"redis://127.0.0.1:7000\"]\nlog_retention = \"30d\"",
        )
        .expect("valid");
        assert_eq!(c.backend, Backend::Redis);
        assert_eq!(c.log_retention, Duration::from_secs(30 * 86_400));
        assert_eq!(c.redis_timeout, Duration::from_secs(2));
        c.validate().expect("valid");
        assert!(toml::from_str::<StoreConfig>("bakend = \"redis\"").is_err());
        let d: StoreConfig = toml::from_str("").expect("defaults");
        assert_eq!(d, StoreConfig::default());
        assert!(toml::from_str::<StoreConfig>("backend = \"redis\"")
            .expect("parses")
            .validate()
            .is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3w").is_err());
    }
}
