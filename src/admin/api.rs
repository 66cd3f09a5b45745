//! Request and response types of the admin API, shared by the server and the CLI.

use serde::{Deserialize, Serialize};

use crate::store::BlockScope;

/// `POST /api/v1/blocks`: place a block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddBlock {
    pub tenant: String,
    pub scope: BlockScope,
    /// Campaign id or sender address; empty for a tenant block.
    #[serde(default)]
    pub target: String,
    /// Operator placing it.
    pub by: String,
    pub reason: String,
}

/// `POST /api/v1/blocks/lift`: lift a block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiftBlock {
    pub tenant: String,
    pub scope: BlockScope,
    #[serde(default)]
    pub target: String,
    /// Operator lifting it.
    pub by: String,
    pub reason: String,
}

/// An error answer: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
