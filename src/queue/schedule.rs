//! The in-memory schedule of due deliveries, rebuilt from the database at start. One consumer (the
//! relay's dispatcher) waits on it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Schedule {
    due: Mutex<BTreeSet<(u64, String)>>,
    changed: Notify,
}

impl Schedule {
    pub fn insert(&self, due_ms: u64, id: String) {
        self.lock().insert((due_ms, id));
        self.changed.notify_one();
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// The smallest (oldest: ids are time-ordered) id waiting. A walk of the schedule: for a
    /// metrics scrape, never for the delivery loop.
    pub fn oldest_id(&self) -> Option<String> {
        self.lock().iter().map(|(_, id)| id).min().cloned()
    }

    /// Waits until the earliest entry is due, removes it and returns its id.
    pub async fn next_due(&self, now_ms: fn() -> u64) -> String {
        loop {
            let wait = {
                let mut due = self.lock();
                match due.first() {
                    Some((at, _)) if *at <= now_ms() => {
                        if let Some((_, id)) = due.pop_first() {
                            return id;
                        }
                        continue;
                    }
                    Some((at, _)) => Duration::from_millis(at - now_ms()),
                    None => Duration::from_secs(3600),
                }
            };
            tokio::select! {
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<(u64, String)>> {
        // A panic while holding this lock cannot leave the set inconsistent; keep going.
        self.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
