//! The checks, one per file.

mod sender_domain;
mod tenant_state;

pub use sender_domain::SenderDomain;
pub use tenant_state::TenantState;
