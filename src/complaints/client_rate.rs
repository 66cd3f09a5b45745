//! [`ClientRate`]: how many messages one client may hand a local mailbox of the gateway (the
//! feedback address, the unsubscribe address) per window, counted in the rate store (so every
//! node sharing it counts together) by the client's address (an IPv6 client by its /64). The
//! mailboxes own their replies; this owns the counting.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::Rate;
use crate::queue::now_ms;
use crate::store::{Charge, Key, RateStore, StoreError};

/// Whether a client may hand over one more message.
#[derive(Debug)]
pub enum Admission {
    Admitted,
    /// Over the rate: refuse with a temporary failure.
    OverRate,
    /// The store could not count: refuse with a temporary failure (never admit unchecked).
    Failed(StoreError),
}

/// A per-client rate of one local mailbox.
pub struct ClientRate {
    store: Arc<dyn RateStore>,
    /// The counter kind (one per mailbox).
    kind: &'static str,
    rate: Rate,
}

impl ClientRate {
    pub fn new(store: Arc<dyn RateStore>, kind: &'static str, rate: Rate) -> ClientRate {
        ClientRate { store, kind, rate }
    }

    /// The rate's count, for the refusal's text.
    pub fn count(&self) -> u32 {
        self.rate.count
    }

    /// The rate's window as the refusal writes it: `3600 s` → `1h`.
    pub fn window_text(&self) -> String {
        let secs = self.rate.window.as_secs();
        match secs {
            s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
            s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
            s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }

    /// Counts one message of `client` if it is within the rate.
    pub async fn admit(&self, client: IpAddr) -> Admission {
        let part = match crate::tenant::canonical_ip(client) {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
        };
        let key = Key::new(self.kind, "").part(part);
        let charge = self
            .store
            .counter_check_and_add(&key, 1, u64::from(self.rate.count), now_ms(), self.rate.window)
            .await;
        match charge {
            Ok(Charge::Charged { .. }) => Admission::Admitted,
            Ok(Charge::Refused { .. }) => Admission::OverRate,
            Err(error) => Admission::Failed(error),
        }
    }
}
