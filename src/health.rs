//! Whether a durable part of the gateway (the queue, the rate store) can write. A part reports
//! each write's outcome; the first failure starts a degraded period and the first success after
//! it ends one, each logged once (`degraded` / `recovered`, with the part and the duration), so
//! operators see when trouble started and ended without a log line per message. `/health` reads
//! it. It never decides anything about mail: the parts fail their writes themselves (`451`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A degraded period in progress.
#[derive(Debug, Clone)]
pub struct Degraded {
    /// The error that started it.
    pub error: String,
    pub since: Instant,
}

/// The write health of one part.
#[derive(Debug)]
pub struct Health {
    part: &'static str,
    state: Mutex<Option<Degraded>>,
}

impl Health {
    pub fn new(part: &'static str) -> Health {
        Health {
            part,
            state: Mutex::new(None),
        }
    }

    /// A write failed.
    pub fn failed(&self, error: &dyn std::fmt::Display) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.is_none() {
            let error = error.to_string();
            tracing::error!(part = self.part, %error, "degraded: writes failing; deferring mail until they succeed again");
            *state = Some(Degraded {
                error,
                since: Instant::now(),
            });
        }
    }

    /// A write succeeded.
    pub fn succeeded(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(degraded) = state.take() {
            tracing::warn!(
                part = self.part,
                after_ms = degraded.since.elapsed().as_millis() as u64,
                "recovered: writes succeed again"
            );
        }
    }

    /// The degraded period in progress, if any.
    pub fn degraded(&self) -> Option<Degraded> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `part: error (for N s)` while degraded.
    pub fn describe(&self) -> Option<String> {
        self.degraded()
            .map(|d| format!("{}: {} (for {} s)", self.part, d.error, d.since.elapsed().as_secs()))
    }
}

/// How often a degraded part tries a probe write.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_starts_and_a_success_ends_a_degraded_period() {
        let health = Health::new("queue");
        assert!(health.degraded().is_none());
        health.failed(&"No space left on device");
        health.failed(&"a later error does not replace the first");
        assert_eq!(health.degraded().unwrap().error, "No space left on device");
        assert!(health
            .describe()
            .unwrap()
            .starts_with("queue: No space left on device (for "));
        health.succeeded();
        assert!(health.degraded().is_none());
        assert!(health.describe().is_none());
    }
}
