//! Records and answers exchanged with the store. Plain data: no I/O, no policy.

use serde::{Deserialize, Serialize};

/// Answer of a windowed counter check-and-charge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    /// Charged; `total` is the window's total including this charge.
    Charged {
        /// Total in the window after the charge.
        total: u64,
    },
    /// Not charged: the charge would exceed the limit.
    Refused {
        /// Total in the window (unchanged).
        total: u64,
        /// How long until the charge would fit (ms); `None` if it never fits.
        retry_after_ms: Option<u64>,
    },
}

/// Answer of a capped distinct-set check-and-add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetCharge {
    /// The member is (now) in the set: it was already there, or it fitted under the cap.
    pub admitted: bool,
    /// The member was already in the set within the window.
    pub already_member: bool,
    /// Distinct members in the window after this call.
    pub distinct: u32,
}

/// Answer of a capped event-log check-and-add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventCharge {
    /// The occurrence was recorded (the count stayed within the cap).
    pub admitted: bool,
    /// Occurrences in the window after this call.
    pub count: u32,
    /// When refused: how long until one more would be admitted (ms).
    pub retry_after_ms: Option<u64>,
}

/// Answer of the campaign index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignMatch {
    /// The campaign the message belongs to.
    pub id: String,
    /// True if no band key matched and the candidate id was registered.
    pub is_new: bool,
    /// Other live campaigns the band keys named (their keys now point to `id`): a block on any
    /// of them covers this message too, so re-pointing never carries a mailing out of a block.
    pub merged: Vec<String>,
}

/// State of a tenant on the escalation ladder (one type for config, tenants and store).
pub use crate::tenant::TenantState;

/// A tenant record as the store keeps it: typed fields, each stored on its own (see
/// [`TenantChange`]), so writers changing different fields never overwrite each other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Stable tenant id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Where the tenant is told to turn when blocked.
    #[serde(default)]
    pub contact: Option<String>,
    /// Policy profile name.
    pub profile: String,
    /// Single limits overriding the profile's.
    #[serde(default)]
    pub limits: TenantLimits,
    /// Assigned networks (CIDR or bare addresses), as given.
    #[serde(default)]
    pub networks: Vec<String>,
    /// Domains and their verification, ordered by name.
    #[serde(default)]
    pub domains: Vec<TenantDomain>,
    /// SMTP AUTH identities, ordered by user name.
    #[serde(default)]
    pub credentials: Vec<TenantCredential>,
    /// Ladder state.
    pub state: TenantState,
    /// When the escalation ladder last started afresh (an operator lifted a suspension, unix
    /// ms): violations at or before it do not count.
    #[serde(default)]
    pub ladder_since: Option<u64>,
}

/// Single-limit overrides of a tenant (one type for config, tenants and store).
pub use crate::tenant::TenantLimits;

/// One domain of a tenant: the ownership token it must publish and whether the gateway saw it
/// (or an operator or the configuration vouched for it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantDomain {
    /// Normalised domain name.
    pub domain: String,
    /// The `aupgate-verify=` token; empty when vouched for without one.
    #[serde(default)]
    pub token: String,
    /// Verified: the tenant may send as it.
    pub verified: bool,
}

/// One SMTP AUTH identity: the user name and its argon2id PHC hash (never a password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantCredential {
    /// AUTH user name, unique across tenants.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// One scalar field of a tenant record, with its new value.
#[derive(Clone, Debug, PartialEq)]
pub enum TenantField {
    Name(String),
    Contact(Option<String>),
    Profile(String),
    Limits(TenantLimits),
    Networks(Vec<String>),
    State(TenantState),
    LadderSince(u64),
}

/// A field-level change of a tenant record: applied without reading or rewriting any other
/// field, so a block, a domain verification and an API update made at once all stay.
#[derive(Clone, Debug, PartialEq)]
pub enum TenantChange {
    /// Sets one scalar field.
    Set(TenantField),
    /// Adds or replaces one domain entry.
    PutDomain(TenantDomain),
    /// Removes one domain entry (by normalised name).
    RemoveDomain(String),
    /// Adds or replaces one credential.
    PutCredential(TenantCredential),
    /// Removes one credential (by user name).
    RemoveCredential(String),
}

impl TenantRecord {
    /// A new record with the given id and name and every other field empty (profile `default`).
    pub fn new(id: &str, name: &str) -> TenantRecord {
        TenantRecord {
            id: id.to_string(),
            name: name.to_string(),
            contact: None,
            profile: "default".into(),
            limits: TenantLimits::default(),
            networks: Vec::new(),
            domains: Vec::new(),
            credentials: Vec::new(),
            state: TenantState::Active,
            ladder_since: None,
        }
    }

    /// The verified domain names.
    pub fn verified_domains(&self) -> impl Iterator<Item = &str> {
        self.domains.iter().filter(|d| d.verified).map(|d| d.domain.as_str())
    }
}

/// What a block covers.
#[derive(utoipa::ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockScope {
    /// The whole tenant (`target` is empty).
    Tenant,
    /// One campaign (`target` is the campaign id).
    Campaign,
    /// One sender address (`target` is the normalised address).
    Sender,
}

impl BlockScope {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BlockScope::Tenant => "tenant",
            BlockScope::Campaign => "campaign",
            BlockScope::Sender => "sender",
        }
    }
}

/// A block: who blocked what, why and when.
#[derive(utoipa::ToSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Tenant blocked (or whose campaign/sender is blocked).
    pub tenant: String,
    /// What is blocked.
    pub scope: BlockScope,
    /// The campaign id or sender address; empty for a tenant block.
    pub target: String,
    /// Who placed it (operator name, or `policy:<rule>`).
    pub by: String,
    /// Why.
    pub reason: String,
    /// When (unix ms).
    pub at: u64,
    /// When it stops applying by itself (unix ms); `None`: until an operator lifts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

impl Block {
    /// Whether the block still applies at `now` (it has not expired).
    pub fn applies_at(&self, now: u64) -> bool {
        self.expires_at.is_none_or(|expiry| now < expiry)
    }
}

/// Who lifts a block, why and when (lifting is audited).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lift {
    /// Operator lifting the block.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When (unix ms).
    pub at: u64,
}

/// An event on a tenant: a violation or a complaint threshold crossing.
#[derive(utoipa::ToSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When (unix ms).
    pub at: u64,
    /// Kind, e.g. `violation`, `complaint_threshold`.
    pub kind: String,
    /// Rule id, e.g. `bulk.max_recipients`, if any.
    #[serde(default)]
    pub rule: Option<String>,
    /// Free-form details (numbers, campaign id...).
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// An audit record: an operator or system action.
#[derive(utoipa::ToSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When (unix ms).
    pub at: u64,
    /// Who acted.
    pub actor: String,
    /// What was done, e.g. `block.add`, `block.lift`, `domain.verify`.
    pub action: String,
    /// On what.
    pub target: String,
    /// Why.
    pub reason: String,
    /// Free-form details.
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// An entry of a tenant's suppression list.
#[derive(utoipa::ToSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// Recipient identity (already normalised by the caller).
    pub address: String,
    /// When it was added (unix ms).
    pub at: u64,
    /// Why (bounce, complaint, unsubscribe, operator).
    pub reason: String,
}

impl Block {
    /// Sorts blocks by (scope, target): the order every backend lists them in.
    pub fn sort(blocks: &mut [Block]) {
        blocks.sort_by(|a, b| (a.scope.as_str(), &a.target).cmp(&(b.scope.as_str(), &b.target)));
    }
}

impl AuditRecord {
    /// The audit record written together with a block.
    pub fn block_added(block: &Block) -> Self {
        AuditRecord {
            at: block.at,
            actor: block.by.clone(),
            action: "block.add".into(),
            target: format!("{}:{}", block.scope.as_str(), block.target),
            reason: block.reason.clone(),
            detail: serde_json::Value::Null,
        }
    }

    /// The audit record written together with the lifting of a block.
    pub fn block_lifted(scope: BlockScope, target: &str, lift: &Lift) -> Self {
        AuditRecord {
            at: lift.at,
            actor: lift.by.clone(),
            action: "block.lift".into(),
            target: format!("{}:{}", scope.as_str(), target),
            reason: lift.reason.clone(),
            detail: serde_json::Value::Null,
        }
    }
}

/// The live buckets of a windowed counter, as a read at one instant sees them: what the usage
/// view reports (the total, and when enough of it slides out of the window for `n` more to fit).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterWindow {
    /// Bucket length in ms (see [`crate::store::window`]).
    pub bucket_ms: u64,
    /// (bucket index, count) of the counted buckets, ascending by index.
    pub buckets: Vec<(u64, u64)>,
}

impl CounterWindow {
    /// The window's total (what `counter_get` answers).
    pub fn total(&self) -> u64 {
        self.buckets.iter().map(|(_, c)| *c).fold(0, u64::saturating_add)
    }

    /// How long (ms) until `n` more fit under `limit`: `Some(0)` when they fit now, `None` when
    /// they never will (`n > limit`). The same arithmetic as a refused check-and-charge.
    pub fn fits_in(&self, n: u64, limit: u64, now: u64, window_ms: u64) -> Option<u64> {
        if self.total().saturating_add(n) <= limit {
            return (n <= limit).then_some(0);
        }
        crate::store::window::retry_after(&self.buckets, n, limit, now, window_ms, self.bucket_ms)
    }

    /// How long (ms) until every counted event has left the window (0: the counter is empty).
    pub fn empties_in(&self, now: u64, window_ms: u64) -> u64 {
        self.buckets.last().map_or(0, |(idx, _)| {
            crate::store::window::bucket_expiry(*idx, self.bucket_ms, window_ms).saturating_sub(now)
        })
    }
}

/// A tenant API token the admin issued, as the store keeps it: never the token itself, only its
/// SHA-256 (the token is long and random, so a fast hash is enough).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// The tenant it acts for.
    pub tenant: String,
    /// Public id (part of the token text, so a lookup needs no scan).
    pub id: String,
    /// What the admin called it.
    pub label: String,
    /// Lower-case hex SHA-256 of the whole token text.
    pub sha256: String,
    /// Who issued it.
    pub by: String,
    /// When (unix ms).
    pub created_at: u64,
}
