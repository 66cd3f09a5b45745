//! Consistent online backups: on an admin request (`POST /api/v1/backup`, `aupgate admin backup
//! DIR`) the running gateway writes a copy of its queue and its rate store into a directory under
//! the configured backup root (`[admin] backup_dir`, default `<data_dir>/backups`), while it goes
//! on accepting and relaying mail.
//!
//! A backup is laid out like a data directory, so restoring is copying it into one (with the
//! gateway stopped): `queue/` (a RocksDB checkpoint of the spool), `store/` (one of the rate
//! store; absent with Redis, which keeps the counts itself and has its own persistence), and the
//! data directory's key material when it exists (`trace-keys.toml`, `dkim/`, `tls/`, `admin/`).
//!
//! Consistency: each checkpoint is one consistent state of its database. The queue is taken
//! first, then the store once every charge made so far is written: every message in the
//! backup's queue was charged in the backup's store (charges come before the queue write), so a
//! restored gateway never counts less than the mail it holds. Messages accepted between the two
//! may be counted without being in the queue copy (a limit slightly stricter for one window).
//!
//! It never writes outside the backup root, never into an existing directory, and leaves no half
//! backup behind: a failed one is removed.

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::queue::{Queue, QueueError};
use crate::store::{RateStore, StoreError};

/// The data directory's files a backup copies besides the two databases (those present).
pub const KEY_MATERIAL: [&str; 4] = ["trace-keys.toml", "dkim", "tls", "admin"];

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The requested directory is not a directory under the root.
    #[error("`{requested}` is not a directory under the backup root {root}: {why}")]
    BadTarget {
        requested: String,
        root: String,
        why: &'static str,
    },
    /// The target exists: a backup never writes into an existing directory.
    #[error("{0} exists; name a new directory")]
    Exists(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("queue checkpoint: {0}")]
    Queue(#[from] QueueError),
    #[error("store checkpoint: {0}")]
    Store(#[from] StoreError),
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupReport {
    /// The backup's directory (absolute when the root is).
    pub directory: String,
    /// The queue's checkpoint.
    pub queue: String,
    /// The rate store's checkpoint; absent with Redis (which keeps the counts: back it up with
    /// its own persistence, RDB or AOF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// `rocksdb` or `redis`.
    pub backend: String,
    /// Key material copied from the data directory (`trace-keys.toml`, `dkim`, ...).
    pub files: Vec<String>,
    /// When it was taken (unix ms): the state of the queue at that moment.
    pub taken_at: u64,
    /// How long it took.
    pub took_ms: u64,
}

/// Where backups go, and what they copy.
#[derive(Debug, Clone)]
pub struct Backups {
    root: PathBuf,
    data_dir: PathBuf,
}

impl Backups {
    /// From the config: `[admin] backup_dir`, else `<data_dir>/backups`.
    pub fn new(config: &Config) -> Backups {
        let data_dir = config.data_dir();
        let root = match &config.admin.backup_dir {
            Some(dir) => PathBuf::from(dir),
            None => data_dir.join("backups"),
        };
        Backups { root, data_dir }
    }

    /// The backup root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory `requested` names: a relative path is taken under the root, an absolute one
    /// must lie under it; either way only plain names (no `..`, no `.`).
    pub fn target(&self, requested: &str) -> Result<PathBuf, BackupError> {
        let bad = |why| BackupError::BadTarget {
            requested: requested.to_string(),
            root: self.root.display().to_string(),
            why,
        };
        let path = Path::new(requested.trim());
        let relative = if path.is_absolute() {
            path.strip_prefix(&self.root)
                .map_err(|_| bad("an absolute path must lie under the root"))?
        } else {
            path
        };
        let mut target = self.root.clone();
        for component in relative.components() {
            match component {
                Component::Normal(name) => target.push(name),
                _ => return Err(bad("only plain names: no `..`, no `.`")),
            }
        }
        if target == self.root {
            return Err(bad("name a directory under the root, not the root"));
        }
        Ok(target)
    }

    /// Writes a backup of `queue` and `store` into the directory `requested` names.
    pub async fn write(
        &self,
        requested: &str,
        queue: &Queue,
        store: &dyn RateStore,
    ) -> Result<BackupReport, BackupError> {
        let target = self.target(requested)?;
        let started = Instant::now();
        let taken_at = crate::queue::now_ms();
        claim(&target).await?;
        let written = self.fill(&target, queue, store).await;
        if written.is_err() {
            // No half backup that looks like a whole one.
            let _ = tokio::fs::remove_dir_all(&target).await;
        }
        let (store_written, files) = written?;
        let report = BackupReport {
            directory: target.display().to_string(),
            queue: target.join("queue").display().to_string(),
            store: store_written.then(|| target.join("store").display().to_string()),
            backend: store.backend().to_string(),
            files,
            taken_at,
            took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        tracing::info!(directory = %report.directory, backend = %report.backend, took_ms = report.took_ms, "backup written");
        Ok(report)
    }

    /// The queue, then the store (see the module doc for why in this order), then the keys.
    async fn fill(
        &self,
        target: &Path,
        queue: &Queue,
        store: &dyn RateStore,
    ) -> Result<(bool, Vec<String>), BackupError> {
        queue.checkpoint(&target.join("queue")).await?;
        let store_written = store.checkpoint(&target.join("store")).await?;
        let data_dir = self.data_dir.clone();
        let into = target.to_path_buf();
        let files = tokio::task::spawn_blocking(move || copy_key_material(&data_dir, &into))
            .await
            .map_err(|e| BackupError::Io {
                path: target.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })??;
        Ok((store_written, files))
    }
}

/// Creates the root (owner-only) and the target's parents, then the target itself: creating it
/// is what claims the name, so two requests for one name cannot both write into it.
async fn claim(target: &Path) -> Result<(), BackupError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| BackupError::Io { path, source }
    };
    if let Some(parent) = target.parent() {
        let mut builder = tokio::fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        builder.create(parent).await.map_err(io(parent))?;
    }
    let mut builder = tokio::fs::DirBuilder::new();
    builder.mode(0o700);
    match builder.create(target).await {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(BackupError::Exists(target.display().to_string()))
        }
        Err(error) => Err(io(target)(error)),
    }
}

/// Copies each [`KEY_MATERIAL`] entry present in `data_dir` into `target`, keeping file modes
/// (private keys stay 0600); returns the names copied.
fn copy_key_material(data_dir: &Path, target: &Path) -> Result<Vec<String>, BackupError> {
    let mut copied = Vec::new();
    for name in KEY_MATERIAL {
        let from = data_dir.join(name);
        if from.exists() {
            copy_tree(&from, &target.join(name))?;
            copied.push(name.to_string());
        }
    }
    Ok(copied)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), BackupError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| BackupError::Io { path, source }
    };
    let metadata = std::fs::metadata(from).map_err(io(from))?;
    if metadata.is_dir() {
        std::fs::create_dir(to).map_err(io(to))?;
        std::fs::set_permissions(to, metadata.permissions()).map_err(io(to))?;
        for entry in std::fs::read_dir(from).map_err(io(from))? {
            let entry = entry.map_err(io(from))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if metadata.is_file() {
        // `copy` carries the mode over.
        std::fs::copy(from, to).map_err(io(from))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backups(root: &str) -> Backups {
        Backups {
            root: PathBuf::from(root),
            data_dir: PathBuf::from("/var/lib/aupgate"),
        }
    }

    #[test]
    fn targets_lie_under_the_root() {
        let b = backups("/var/lib/aupgate/backups");
        assert_eq!(
            b.target("2026-12-06").unwrap(),
            PathBuf::from("/var/lib/aupgate/backups/2026-12-06")
        );
        assert_eq!(
            b.target("nightly/2026-12-06").unwrap(),
            PathBuf::from("/var/lib/aupgate/backups/nightly/2026-12-06")
        );
        assert_eq!(
            b.target("/var/lib/aupgate/backups/x").unwrap(),
            PathBuf::from("/var/lib/aupgate/backups/x")
        );
        for bad in [
            "",
            ".",
            "..",
            "../etc",
            "a/../../etc",
            "./a",
            "/etc/x",
            "/var/lib/aupgate/backups",
            "/var/lib/aupgate/backups-evil/x",
            "/var/lib/aupgate/backups/../x",
        ] {
            let error = b.target(bad).expect_err(bad);
            assert!(matches!(error, BackupError::BadTarget { .. }), "{bad}: {error}");
        }
    }

    #[test]
    fn key_material_keeps_its_modes() {
        use std::os::unix::fs::PermissionsExt;
        let data = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data.path().join("dkim/acme.example")).unwrap();
        let key = data.path().join("dkim/acme.example/s1.pem");
        std::fs::write(&key, "key").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(data.path().join("trace-keys.toml"), "[[key]]").unwrap();
        std::fs::create_dir(data.path().join("queue")).unwrap();
        let copied = copy_key_material(data.path(), target.path()).unwrap();
        assert_eq!(copied, vec!["trace-keys.toml".to_string(), "dkim".to_string()]);
        let copy = target.path().join("dkim/acme.example/s1.pem");
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "key");
        assert_eq!(std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(
            !target.path().join("queue").exists(),
            "the databases are checkpointed, not copied"
        );
    }
}
