//! Ending a dashboard session on logout. Sessions are signed cookies kept nowhere on the server
//! (`session`), so clearing the cookie alone would leave a copy of it (a shared computer, a proxy
//! log) good until it expires. Logout therefore marks the session ended in the store, where every
//! node sharing the store sees it: a windowed counter under the session's CSRF token (random and
//! unique per session), kept for the session lifetime, which outlives any session it can mark.
//!
//! Must never: let a marked session act, or read a store failure as "not ended" (the request is
//! refused instead).

use std::time::Duration;

use crate::store::{Key, RateStore, StoreError};

/// The store key marking the session whose CSRF token is `csrf` as ended (the gateway's own: no
/// tenant).
fn ended_key(csrf: &str) -> Key {
    Key::new("session.ended", "").part(csrf)
}

/// Marks the session with CSRF token `csrf` ended from `now` on, for `lifetime` (the session
/// lifetime: longer than the session has left).
pub async fn end(store: &dyn RateStore, csrf: &str, now: u64, lifetime: Duration) -> Result<(), StoreError> {
    store.counter_add(&ended_key(csrf), 1, now, lifetime).await
}

/// Whether the session with CSRF token `csrf` was ended by a logout.
pub async fn ended(store: &dyn RateStore, csrf: &str, now: u64, lifetime: Duration) -> Result<bool, StoreError> {
    Ok(store.counter_get(&ended_key(csrf), now, lifetime).await? > 0)
}
