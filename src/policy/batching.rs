//! One store round trip per SMTP stage, with the checks written as if they asked one operation
//! at a time. The engine runs a stage's checks twice:
//!
//! 1. **Plan**: against a [`Recorder`], which notes each store operation the checks ask and
//!    answers it the way that lets the message through (a charge admitted, no block, nobody
//!    suppressed, a new campaign whose id is [`CAMPAIGN_SLOT`]). The operations the checks ask
//!    on that path form the stage's batch; [`RateStore::stage_batch`] runs it — on Redis in one
//!    script — and stops after the first answer that is not the optimistic one.
//! 2. **Decide**: the checks run again against a [`Replay`] of the answers. Up to the first
//!    answer that differs from the optimistic one the checks take the same path, so they ask the
//!    same operations in the same order (the campaign slot now the real id) and get the batch's
//!    answers; after it, the batch ran nothing more, and whatever the checks still ask goes to
//!    the store one operation at a time. So every check decides on exactly the answers it would
//!    have had, and nothing is charged that the checks did not charge.
//!
//! What cannot be planned ends the plan: an operation of another tenant, or a block lookup of
//! the campaign (its id is not known yet); the checks after it ask the store directly.
//!
//! Must never: answer an operation from the batch that is not the very next one it ran.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::prefetch::Prefetched;
use crate::store::batch::{self, resolve_op, StageAnswer, StageOp, CAMPAIGN_SLOT};
use crate::store::{Block, BlockScope, CampaignMatch, Charge, EventCharge, Key, RateStore, SetCharge, StoreError};

/// Where the checks' store operations go.
#[derive(Clone, Copy)]
pub enum Ops<'a> {
    /// Each operation to the store as it is asked.
    Direct(&'a dyn RateStore),
    /// Noted for a batch, answered optimistically.
    Recording(&'a Recorder),
    /// Answered from a batch, then by the store.
    Replaying(&'a Replay<'a>),
}

impl<'a> Ops<'a> {
    async fn ask(&self, tenant: &str, op: StageOp, now: u64) -> Result<StageAnswer, StoreError> {
        match self {
            Ops::Direct(store) => direct(*store, tenant, op, now).await,
            Ops::Recording(recorder) => recorder.record(tenant, op, now),
            Ops::Replaying(replay) => replay.answer(tenant, op, now).await,
        }
    }

    pub async fn counter_check_and_add(
        &self,
        key: &Key,
        n: u64,
        limit: u64,
        now: u64,
        window: Duration,
    ) -> Result<Charge, StoreError> {
        let op = StageOp::CounterCheck {
            key: key.clone(),
            n,
            limit,
            window,
        };
        match self.ask(key.tenant(), op, now).await? {
            StageAnswer::Counter(charge) => Ok(charge),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn set_check_and_add(
        &self,
        key: &Key,
        member: &[u8],
        now: u64,
        window: Duration,
        cap: u32,
    ) -> Result<SetCharge, StoreError> {
        let op = StageOp::SetCheckAndAdd {
            key: key.clone(),
            member: member.to_vec(),
            window,
            cap,
        };
        match self.ask(key.tenant(), op, now).await? {
            StageAnswer::Set(charge) => Ok(charge),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn events_check_and_add(
        &self,
        key: &Key,
        now: u64,
        window: Duration,
        cap: u32,
    ) -> Result<EventCharge, StoreError> {
        let op = StageOp::EventsCheckAndAdd {
            key: key.clone(),
            window,
            cap,
        };
        match self.ask(key.tenant(), op, now).await? {
            StageAnswer::Events(charge) => Ok(charge),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn suppression_contains(&self, tenant: &str, address: &str, now: u64) -> Result<bool, StoreError> {
        let op = StageOp::SuppressionContains {
            address: address.to_string(),
        };
        match self.ask(tenant, op, now).await? {
            StageAnswer::Suppressed(suppressed) => Ok(suppressed),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn block_get(
        &self,
        tenant: &str,
        scope: BlockScope,
        target: &str,
        now: u64,
    ) -> Result<Option<Block>, StoreError> {
        let op = StageOp::BlockGet {
            scope,
            target: target.to_string(),
        };
        match self.ask(tenant, op, now).await? {
            StageAnswer::Block(block) => Ok(block),
            other => Err(mismatch(&other)),
        }
    }

    pub async fn campaign_lookup_or_insert(
        &self,
        tenant: &str,
        band_keys: &[u64],
        candidate: &str,
        now: u64,
        window: Duration,
        pinned: &[String],
    ) -> Result<CampaignMatch, StoreError> {
        let op = StageOp::Campaign {
            band_keys: band_keys.to_vec(),
            candidate: candidate.to_string(),
            window,
            pinned: pinned.to_vec(),
        };
        match self.ask(tenant, op, now).await? {
            StageAnswer::Campaign(found) => Ok(found),
            other => Err(mismatch(&other)),
        }
    }
}

fn mismatch(answer: &StageAnswer) -> StoreError {
    StoreError::corrupt("batch", format!("answer {answer:?} to another operation"))
}

async fn direct(store: &dyn RateStore, tenant: &str, op: StageOp, now: u64) -> Result<StageAnswer, StoreError> {
    let mut answers = batch::one_by_one(store, tenant, std::slice::from_ref(&op), now).await?;
    answers.pop().ok_or_else(|| StoreError::corrupt("batch", "no answer"))
}

/// The operations a stage's checks ask when every answer lets the message through.
pub struct Recorder {
    tenant: String,
    now: u64,
    ops: Mutex<Option<Vec<StageOp>>>,
}

/// The error that ends a plan (never seen outside planning).
fn plan_ends() -> StoreError {
    StoreError::InvalidArgument("not part of a stage batch".into())
}

impl Recorder {
    pub fn new(tenant: &str, now: u64) -> Recorder {
        Recorder {
            tenant: tenant.to_string(),
            now,
            ops: Mutex::new(Some(Vec::new())),
        }
    }

    fn record(&self, tenant: &str, op: StageOp, now: u64) -> Result<StageAnswer, StoreError> {
        let mut ops = self.ops.lock().unwrap_or_else(PoisonError::into_inner);
        let plannable = tenant == self.tenant
            && now == self.now
            && !matches!(&op, StageOp::BlockGet { target, .. } if target == CAMPAIGN_SLOT);
        if !plannable {
            // Nothing after this is planned either: the decide run asks it directly.
            *ops = None;
        }
        let Some(list) = ops.as_mut() else {
            return Err(plan_ends());
        };
        let answer = match &op {
            StageOp::CounterCheck { .. } => StageAnswer::Counter(Charge::Charged { total: 0 }),
            StageOp::CounterAdd { .. } => StageAnswer::Added,
            StageOp::CounterWindow { .. } => StageAnswer::Window(Default::default()),
            StageOp::SetCheckAndAdd { .. } => StageAnswer::Set(SetCharge {
                admitted: true,
                already_member: false,
                distinct: 1,
            }),
            StageOp::EventsCheckAndAdd { .. } => StageAnswer::Events(EventCharge {
                admitted: true,
                count: 1,
                retry_after_ms: None,
            }),
            StageOp::SuppressionContains { .. } => StageAnswer::Suppressed(false),
            StageOp::BlockGet { .. } => StageAnswer::Block(None),
            StageOp::Campaign { .. } => StageAnswer::Campaign(CampaignMatch {
                id: CAMPAIGN_SLOT.to_string(),
                is_new: true,
                merged: Vec::new(),
            }),
        };
        list.push(op);
        Ok(answer)
    }

    /// Whether the plan ended (the checks after this point are not planned).
    pub fn ended(&self) -> bool {
        self.ops.lock().unwrap_or_else(PoisonError::into_inner).is_none()
    }

    /// The operations planned so far (none if the plan ended).
    pub fn planned(&self) -> Vec<StageOp> {
        self.ops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_default()
    }

    /// Adds reads for a later stage at the end of the batch (`policy::prefetch`); they run only
    /// if every planned answer lets the message through. Nothing is added to an ended plan.
    pub fn read_ahead(&self, reads: Vec<StageOp>) {
        if let Some(list) = self.ops.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            list.extend(reads);
        }
    }

    /// Runs the planned operations as one batch: the answers the decide run reads. When
    /// `prefetched` answers every one of them (a RCPT TO whose counters MAIL FROM read), the
    /// store is not asked.
    pub async fn run<'a>(self, store: &'a dyn RateStore, prefetched: &Prefetched) -> Replay<'a> {
        let ops = self
            .ops
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or_default();
        let mut replay = Replay {
            store,
            tenant: self.tenant,
            now: self.now,
            answers: Mutex::new(VecDeque::new()),
            error: Mutex::new(None),
        };
        if ops.is_empty() {
            return replay;
        }
        if let Some(answers) = answered_ahead(&ops, prefetched, self.now) {
            replay.answers = Mutex::new(ops.into_iter().zip(answers).collect());
            return replay;
        }
        match store.stage_batch(&replay.tenant, &ops, self.now).await {
            Ok(answers) => match resolved(&ops, answers) {
                Ok(answers) => replay.answers = Mutex::new(answers),
                Err(error) => replay.error = Mutex::new(Some(error)),
            },
            Err(error) => replay.error = Mutex::new(Some(error)),
        }
        replay
    }
}

/// The answers `prefetched` gives to `ops`, in order up to and including the first adverse one,
/// as a batch would; `None` unless it answers every operation it must.
fn answered_ahead(ops: &[StageOp], prefetched: &Prefetched, now: u64) -> Option<Vec<StageAnswer>> {
    if prefetched.is_empty() {
        return None;
    }
    let mut answers = Vec::with_capacity(ops.len());
    for op in ops {
        let answer = prefetched.answer(op, now)?;
        let adverse = answer.is_adverse();
        answers.push(answer);
        if adverse {
            break;
        }
    }
    Some(answers)
}

/// Each answer with the operation it answers, the campaign slot replaced by the campaign found.
fn resolved(ops: &[StageOp], answers: Vec<StageAnswer>) -> Result<VecDeque<(StageOp, StageAnswer)>, StoreError> {
    let mut campaign: Option<String> = None;
    let mut out = VecDeque::with_capacity(answers.len());
    for (op, answer) in ops.iter().zip(answers) {
        let op = resolve_op(op, campaign.as_deref())?;
        if let StageAnswer::Campaign(found) = &answer {
            campaign = Some(found.id.clone());
        }
        out.push_back((op, answer));
    }
    Ok(out)
}

/// A batch's answers, handed out in order to the operations they answer.
pub struct Replay<'a> {
    store: &'a dyn RateStore,
    tenant: String,
    now: u64,
    answers: Mutex<VecDeque<(StageOp, StageAnswer)>>,
    /// The batch failed: the first operation asked gets the error.
    error: Mutex<Option<StoreError>>,
}

impl Replay<'_> {
    /// The answers to the reads ahead ([`Recorder::read_ahead`]) once the checks took theirs:
    /// what is left of the batch, if it got that far.
    pub fn read_ahead(&self) -> Vec<(StageOp, StageAnswer)> {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        answers
            .drain(..)
            .filter(|(op, _)| matches!(op, StageOp::CounterWindow { .. }))
            .collect()
    }

    /// The next answer of the batch if `op` is the next operation it ran, else the store's.
    ///
    /// Invariant with reads ahead: MAIL FROM's batch ends with the RCPT TO counters' reads
    /// ([`Recorder::read_ahead`]), so on the path where every answer lets the message through
    /// those answers are still queued when the MAIL checks ask their last operation. A MAIL
    /// check must therefore ask its operations in a fixed order (the plan's order, no operation
    /// more or different) as long as its answers are not adverse: one that asks anything else
    /// finds a read-ahead answer at the front, the `debug_assert` below fires, and the queue is
    /// cleared — the prefetch is lost and every RCPT TO asks the store (slower, still correct).
    /// After an adverse answer the batch ran nothing more, the queue is empty and the checks may
    /// ask what they like.
    async fn answer(&self, tenant: &str, op: StageOp, now: u64) -> Result<StageAnswer, StoreError> {
        if let Some(error) = self.error.lock().unwrap_or_else(PoisonError::into_inner).take() {
            return Err(error);
        }
        if tenant == self.tenant && now == self.now {
            let unused: Vec<(StageOp, StageAnswer)> = {
                let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
                if answers.front().is_some_and(|(planned, _)| *planned == op) {
                    if let Some((_, answer)) = answers.pop_front() {
                        return Ok(answer);
                    }
                }
                if !answers.is_empty() {
                    // The checks left the planned path before the batch's first adverse answer:
                    // never expected; what the batch charged past this point is not used.
                    tracing::error!(?op, "a check asked an operation its stage's batch did not plan");
                    debug_assert!(false, "a check left its stage's planned path: {op:?}");
                }
                answers.drain(..).collect()
            };
            take_back(self.store, &unused, now).await;
        }
        direct(self.store, tenant, op, now).await
    }
}

/// Takes back what a batch charged that the checks will not use (they left its planned path and
/// ask the store themselves, which charges again): counter amounts, set members it made new,
/// event occurrences. A failure is logged and leaves the charge (a limit trips earlier, never
/// later).
async fn take_back(store: &dyn RateStore, unused: &[(StageOp, StageAnswer)], now: u64) {
    for (op, answer) in unused {
        let result = match (op, answer) {
            (StageOp::CounterCheck { key, n, window, .. }, StageAnswer::Counter(Charge::Charged { .. })) if *n > 0 => {
                store.counter_release(key, *n, now, *window).await
            }
            (
                StageOp::SetCheckAndAdd {
                    key, member, window, ..
                },
                StageAnswer::Set(charge),
            ) if charge.admitted && !charge.already_member => store.set_release(key, member, now, *window).await,
            (StageOp::EventsCheckAndAdd { key, window, .. }, StageAnswer::Events(charge)) if charge.admitted => {
                store.events_release(key, now, *window).await
            }
            _ => Ok(()),
        };
        if let Err(error) = result {
            tracing::error!(%error, "cannot take back a charge the checks did not use");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    /// What a batch charged and the checks will not use is given back; refusals and members that
    /// were there already are left alone.
    #[tokio::test]
    async fn unused_charges_are_taken_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = crate::store::rocks::RocksStore::open(dir.path(), DAY).expect("store");
        let now = crate::queue::now_ms();
        let counter = Key::new("quota.messages.hour", "t1");
        let set = Key::new("bulk", "t1").part("c1");
        let events = Key::new("mail_bomb", "t1").part("c1");
        let count_op = StageOp::CounterCheck {
            key: counter.clone(),
            n: 2,
            limit: 10,
            window: DAY,
        };
        let set_op = |member: &[u8]| StageOp::SetCheckAndAdd {
            key: set.clone(),
            member: member.to_vec(),
            window: DAY,
            cap: 10,
        };
        let events_op = StageOp::EventsCheckAndAdd {
            key: events.clone(),
            window: DAY,
            cap: 10,
        };
        // Made by a batch: a counter charge, a new member, a member already there, an occurrence.
        batch::one_by_one(&store, "t1", &[set_op(b"old")], now - 1)
            .await
            .expect("old member");
        let ops = [count_op, set_op(b"new"), set_op(b"old"), events_op];
        let answers = batch::one_by_one(&store, "t1", &ops, now).await.expect("batch");
        let unused: Vec<(StageOp, StageAnswer)> = ops.into_iter().zip(answers).collect();
        take_back(&store, &unused, now).await;
        assert_eq!(store.counter_get(&counter, now, DAY).await.expect("counter"), 0);
        assert_eq!(
            store.set_count(&set, now, DAY).await.expect("set"),
            1,
            "the member that was there stays"
        );
        assert_eq!(store.events_count(&events, now, DAY).await.expect("events"), 0);
        // A refused charge took nothing: nothing is given back.
        store.counter_add(&counter, 5, now, DAY).await.expect("add");
        let refused = [(
            StageOp::CounterCheck {
                key: counter.clone(),
                n: 9,
                limit: 10,
                window: DAY,
            },
            StageAnswer::Counter(Charge::Refused {
                total: 5,
                retry_after_ms: None,
            }),
        )];
        take_back(&store, &refused, now).await;
        assert_eq!(store.counter_get(&counter, now, DAY).await.expect("counter"), 5);
    }
}
