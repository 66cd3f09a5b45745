//! The tenant change feed: what a node sharing the store reads to follow the others. Every
//! tenant write (a record created, seeded, updated or deleted; a block placed or lifted) moves
//! the tenant generation and names the tenant; a follower asks for the tenants changed after the
//! generation it applied and reads only those ([`crate::tenant::follow`]).

/// The answer to [`super::RateStore::tenant_changes`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantChanges {
    /// The tenant generation now.
    pub generation: u64,
    /// The ids written after the generation asked about (each once, in no particular order);
    /// `None` when the store cannot say (it keeps no feed, or no longer holds every change
    /// since then): the follower reads every tenant.
    pub changed: Option<Vec<String>>,
}
