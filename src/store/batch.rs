//! One round trip per SMTP stage: the store work of a stage's checks (quotas, blocks, the
//! campaign lookup, set and event check-and-charge, suppression) as one list of typed operations,
//! run in order by [`RateStore::stage_batch`] — on Redis one Lua script on the tenant's shard,
//! atomic and exact as the single operations are; elsewhere one by one ([`one_by_one`]).
//!
//! A batch is planned ahead of the answers (see `policy::batching`): it is what the checks would
//! ask if every answer let the message through. So a batch stops right after the first answer
//! that does not ([`StageAnswer::is_adverse`]: a refused charge, a suppressed address, a block, a
//! campaign merged with others), and nothing after it is charged: the checks ask the rest, if
//! anything, one operation at a time.
//!
//! The campaign id is known only once the batch's [`StageOp::Campaign`] ran: keys after it may
//! hold the part [`CAMPAIGN_SLOT`], which the batch replaces with that id ([`resolve`]).
//!
//! Must never: charge an operation after an adverse answer, or answer an operation it did not run.

use std::time::Duration;

use super::key::decode_parts;
use super::{
    Block, BlockScope, CampaignMatch, Charge, CounterWindow, EventCharge, Key, RateStore, SetCharge, StoreError,
};

/// The key part that stands for the campaign id the batch's campaign lookup returns. No campaign
/// id (hex digits) can equal it.
pub const CAMPAIGN_SLOT: &str = "\0campaign\0";

/// One store operation of a stage, as the single `RateStore` method of the same name takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOp {
    /// `counter_check_and_add`.
    CounterCheck {
        key: Key,
        n: u64,
        limit: u64,
        window: Duration,
    },
    /// `counter_add` (never adverse).
    CounterAdd { key: Key, n: u64, window: Duration },
    /// `counter_window` (never adverse): a read ahead for a later stage (`policy::prefetch`).
    CounterWindow { key: Key, window: Duration },
    /// `set_check_and_add`.
    SetCheckAndAdd {
        key: Key,
        member: Vec<u8>,
        window: Duration,
        cap: u32,
    },
    /// `events_check_and_add`.
    EventsCheckAndAdd { key: Key, window: Duration, cap: u32 },
    /// `suppression_contains` of the batch's tenant.
    SuppressionContains { address: String },
    /// `block_get` of the batch's tenant.
    BlockGet { scope: BlockScope, target: String },
    /// `campaign_lookup_or_insert` of the batch's tenant.
    Campaign {
        band_keys: Vec<u64>,
        candidate: String,
        window: Duration,
        pinned: Vec<String>,
    },
}

/// The answer to one [`StageOp`], as its single method returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageAnswer {
    Counter(Charge),
    Added,
    Window(CounterWindow),
    Set(SetCharge),
    Events(EventCharge),
    Suppressed(bool),
    Block(Option<Block>),
    Campaign(CampaignMatch),
}

impl StageAnswer {
    /// Whether a check could take another path on this answer than on the one that lets the
    /// message through: the batch ends after it.
    pub fn is_adverse(&self) -> bool {
        match self {
            StageAnswer::Counter(charge) => !matches!(charge, Charge::Charged { .. }),
            StageAnswer::Added | StageAnswer::Window(_) => false,
            StageAnswer::Set(charge) => !charge.admitted,
            StageAnswer::Events(charge) => !charge.admitted,
            StageAnswer::Suppressed(suppressed) => *suppressed,
            StageAnswer::Block(block) => block.is_some(),
            StageAnswer::Campaign(found) => !found.merged.is_empty(),
        }
    }
}

/// Where the part [`CAMPAIGN_SLOT`] lies in `key`'s encoded bytes (start, end), if it does.
pub fn slot_span(key: &Key) -> Option<(usize, usize)> {
    let mut offset = 0;
    let encoded = key.as_bytes();
    for part in decode_parts(encoded)? {
        let end = offset + 4 + part.len();
        if part == CAMPAIGN_SLOT.as_bytes() {
            return Some((offset, end));
        }
        offset = end;
    }
    None
}

/// `key` with its [`CAMPAIGN_SLOT`] part replaced by `campaign`; `key` itself when it has none.
pub fn resolve(key: &Key, campaign: Option<&str>) -> Result<Key, StoreError> {
    if slot_span(key).is_none() {
        return Ok(key.clone());
    }
    let campaign =
        campaign.ok_or_else(|| StoreError::InvalidArgument("a campaign key before the campaign lookup".into()))?;
    let parts = decode_parts(key.as_bytes()).unwrap_or_default();
    let (kind, rest) = parts
        .split_first()
        .ok_or_else(|| StoreError::InvalidArgument("an empty key".into()))?;
    let mut resolved = Key::new(&String::from_utf8_lossy(kind), key.tenant());
    for part in rest.iter().skip(1) {
        resolved = if part == CAMPAIGN_SLOT.as_bytes() {
            resolved.part(campaign)
        } else {
            resolved.part(part)
        };
    }
    Ok(resolved)
}

/// `op` with every key resolved against `campaign` (what the operation is once the campaign
/// is known).
pub fn resolve_op(op: &StageOp, campaign: Option<&str>) -> Result<StageOp, StoreError> {
    Ok(match op {
        StageOp::CounterCheck { key, n, limit, window } => StageOp::CounterCheck {
            key: resolve(key, campaign)?,
            n: *n,
            limit: *limit,
            window: *window,
        },
        StageOp::CounterAdd { key, n, window } => StageOp::CounterAdd {
            key: resolve(key, campaign)?,
            n: *n,
            window: *window,
        },
        StageOp::CounterWindow { key, window } => StageOp::CounterWindow {
            key: resolve(key, campaign)?,
            window: *window,
        },
        StageOp::SetCheckAndAdd {
            key,
            member,
            window,
            cap,
        } => StageOp::SetCheckAndAdd {
            key: resolve(key, campaign)?,
            member: member.clone(),
            window: *window,
            cap: *cap,
        },
        StageOp::EventsCheckAndAdd { key, window, cap } => StageOp::EventsCheckAndAdd {
            key: resolve(key, campaign)?,
            window: *window,
            cap: *cap,
        },
        other => other.clone(),
    })
}

/// The default [`RateStore::stage_batch`]: each operation through its single method, in order,
/// up to and including the first adverse answer.
pub async fn one_by_one<S: RateStore + ?Sized>(
    store: &S,
    tenant: &str,
    ops: &[StageOp],
    now: u64,
) -> Result<Vec<StageAnswer>, StoreError> {
    let mut answers = Vec::with_capacity(ops.len());
    let mut campaign: Option<String> = None;
    for op in ops {
        let answer = match resolve_op(op, campaign.as_deref())? {
            StageOp::CounterCheck { key, n, limit, window } => {
                StageAnswer::Counter(store.counter_check_and_add(&key, n, limit, now, window).await?)
            }
            StageOp::CounterAdd { key, n, window } => {
                store.counter_add(&key, n, now, window).await?;
                StageAnswer::Added
            }
            StageOp::CounterWindow { key, window } => {
                StageAnswer::Window(store.counter_window(&key, now, window).await?)
            }
            StageOp::SetCheckAndAdd {
                key,
                member,
                window,
                cap,
            } => StageAnswer::Set(store.set_check_and_add(&key, &member, now, window, cap).await?),
            StageOp::EventsCheckAndAdd { key, window, cap } => {
                StageAnswer::Events(store.events_check_and_add(&key, now, window, cap).await?)
            }
            StageOp::SuppressionContains { address } => {
                StageAnswer::Suppressed(store.suppression_contains(tenant, &address).await?)
            }
            StageOp::BlockGet { scope, target } => StageAnswer::Block(store.block_get(tenant, scope, &target).await?),
            StageOp::Campaign {
                band_keys,
                candidate,
                window,
                pinned,
            } => {
                let found = store
                    .campaign_lookup_or_insert(tenant, &band_keys, &candidate, now, window, &pinned)
                    .await?;
                campaign = Some(found.id.clone());
                StageAnswer::Campaign(found)
            }
        };
        let adverse = answer.is_adverse();
        answers.push(answer);
        if adverse {
            break;
        }
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_replaced_by_the_campaign_and_nothing_else() {
        let planned = Key::new("mail_bomb", "t1").part(CAMPAIGN_SLOT).part("bob@x");
        let real = Key::new("mail_bomb", "t1").part("00ab").part("bob@x");
        assert_eq!(resolve(&planned, Some("00ab")).unwrap(), real);
        assert_eq!(resolve(&real, Some("ffff")).unwrap(), real);
        assert!(resolve(&planned, None).is_err());
        let (start, end) = slot_span(&planned).unwrap();
        assert_eq!(&planned.as_bytes()[start + 4..end], CAMPAIGN_SLOT.as_bytes());
        assert_eq!(slot_span(&real), None);
    }
}
