//! The plain types of a tenant account that the config, the store, the policy and the admin API
//! all use: the ladder state and the single-limit overrides. Data only.

use serde::{Deserialize, Serialize};

/// Lifecycle state of a tenant (see DESIGN.md, "Tenant").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    #[default]
    Active,
    Warned,
    FinalWarning,
    Suspended,
}

/// `[tenant.limits]`: per-tenant overrides of single profile limits (unset = the profile's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields, default)]
pub struct TenantLimits {
    pub messages_per_hour: Option<u64>,
    pub messages_per_day: Option<u64>,
    pub recipients_per_hour: Option<u64>,
    pub recipients_per_day: Option<u64>,
    /// Overrides `[bulk] max_recipients` (1..=10000).
    pub bulk_max_recipients: Option<u64>,
    /// Overrides `[mail_bomb] max_messages` (1..=10000).
    pub mail_bomb_max_messages: Option<u64>,
}
