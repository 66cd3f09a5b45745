//! Idle outbound connections kept for reuse (like Postfix's connection cache): a delivery to an
//! address takes an idle connection if one is fresh enough, and gives it back after a clean
//! transaction. This saves the connect/greeting/EHLO/STARTTLS round trips per message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client::{Connection, HopKey};

/// How long an idle connection is kept; well under the usual 300 s server-side idle timeout.
const MAX_IDLE: Duration = Duration::from_secs(10);

pub struct Pool {
    idle: Mutex<HashMap<HopKey, Vec<(Instant, Connection)>>>,
    max_per_address: usize,
}

impl Pool {
    pub fn new(max_per_address: usize) -> Pool {
        Pool {
            idle: Mutex::new(HashMap::new()),
            max_per_address,
        }
    }

    /// A fresh idle connection for `key`, if any.
    pub fn take(&self, key: &HopKey) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        while let Some((since, connection)) = list.pop() {
            if since.elapsed() < MAX_IDLE {
                return Some(connection);
            }
        }
        None
    }

    /// Keeps a connection for reuse (dropped when the address already has enough idle ones).
    pub fn give_back(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(connection.key.clone()).or_default();
        list.retain(|(since, _)| since.elapsed() < MAX_IDLE);
        if list.len() < self.max_per_address {
            list.push((Instant::now(), connection));
        }
    }
}
