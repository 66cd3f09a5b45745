//! `[dkim]` (the authentication stage): signing, and the tenant's own signatures.

use serde::{Deserialize, Serialize};

use super::{AuthAction, Section};

/// `[dkim]`: signing with the gateway's keys, and the tenant's own signatures.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dkim {
    /// Sign with the gateway's key for the From domain (`aupgate dkim generate`), when the
    /// tenant owns that domain and a key exists.
    pub sign: bool,
    /// Verify the signatures the message already carries.
    pub verify: bool,
    /// A signature that does not verify (changed after signing, bad key record).
    pub on_broken: AuthAction,
}

impl Default for Dkim {
    fn default() -> Self {
        Self {
            sign: true,
            verify: true,
            on_broken: AuthAction::Refuse,
        }
    }
}

impl Section for Dkim {}
