//! `[unsubscribe]` of a profile: whether the gateway puts its own one-click unsubscribe
//! (`List-Unsubscribe` with its HTTPS URL and mailto address, and `List-Unsubscribe-Post:
//! List-Unsubscribe=One-Click`, RFC 8058) on the tenant's bulk mail. The links, the token and
//! what a hit does are `complaints::unsubscribe`; where the links point is the server's
//! `[unsubscribe]` section.

use serde::{Deserialize, Serialize};

/// `[unsubscribe]`: the gateway's own unsubscribe on bulk mail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnsubscribeRules {
    /// Put the gateway's List-Unsubscribe on bulk mail (mail with List-Unsubscribe,
    /// List-Unsubscribe-Post, List-Id or Precedence: bulk/list/junk — the definition the
    /// suppression check uses) sent to a single recipient.
    pub enabled: bool,
    /// `add`: only where the tenant sent no List-Unsubscribe of its own; `replace`: the tenant's
    /// List-Unsubscribe and List-Unsubscribe-Post are removed and the gateway's put instead.
    pub mode: UnsubscribeMode,
}

/// How the gateway's unsubscribe fields meet the tenant's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsubscribeMode {
    #[default]
    Add,
    Replace,
}
