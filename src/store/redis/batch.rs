//! A stage's operations (`store::batch`) in one call of the batch script: run atomically on the
//! tenant's shard, each operation by the same Lua function its single script uses, so the
//! answers are those the single operations would give in that order.
//!
//! Callers of one tenant at the same moment share the call (`tenant_queue`), one after another
//! in it: at line rate several sessions' DATA stages cost one script call, and a quota counter
//! they all charge is read once and written once (the script's mirror). The answers are those
//! the callers' own calls would give in that order.

use std::sync::Arc;

use redis::{Arg, Cmd, RedisError, Value};

use super::ops::{block_field, rec_key};
use super::replies::{as_u64, campaign_reply, counter_reply, events_reply, script_buckets, set_reply};
use super::tenant_queue::{Caller, TenantQueues};
use super::RedisStore;
use crate::store::batch::{slot_span, StageAnswer, StageOp, CAMPAIGN_SLOT};
use crate::store::key::redis_tag;
use crate::store::window::span;
use crate::store::{check_cap, check_member, window_ms, CounterWindow, Key, StoreError};

/// One caller's arguments to the batch script (after its count), in a command's buffer (one
/// allocation for all of them, not one each); a call copies them once, into its `EVALSHA`.
pub(super) type Args = Cmd;

/// A caller of the batch script: its arguments, answered with its answers' replies in order.
pub(super) type BatchCaller = Caller<Args, Result<Vec<Value>, RedisError>>;

/// The stage batches' queues, one a tenant.
pub(super) type Batches = TenantQueues<Args, Result<Vec<Value>, RedisError>>;

/// The stage batches' share of a store, created with it.
pub(super) fn new_batches() -> Arc<Batches> {
    Arc::new(Batches::new(2, std::time::Duration::ZERO))
}

/// Appends `key` with its type `suffix` as the script reads it: `k <key>`, or `t <prefix>
/// <suffix>` around the campaign slot (only after a campaign lookup).
fn push_key(inv: &mut Args, key: &Key, suffix: Option<u8>, after_lookup: bool) -> Result<(), StoreError> {
    let tail = suffix.map(|s| vec![s]).unwrap_or_default();
    match slot_span(key) {
        None => {
            let mut k = key.redis_key();
            k.extend_from_slice(&tail);
            inv.arg("k").arg(k);
        }
        Some(_) if !after_lookup => {
            return Err(StoreError::InvalidArgument(
                "a campaign key before the campaign lookup".into(),
            ))
        }
        Some((start, end)) => {
            let mut prefix = redis_tag(key.tenant());
            prefix.extend_from_slice(&key.as_bytes()[..start]);
            let mut rest = key.as_bytes()[end..].to_vec();
            rest.extend_from_slice(&tail);
            inv.arg("t").arg(prefix).arg(rest);
        }
    }
    Ok(())
}

fn ints(value: &Value) -> Result<Vec<i64>, StoreError> {
    redis::from_redis_value_ref(value).map_err(|e| StoreError::corrupt("batch", e.to_string()))
}

impl RedisStore {
    /// [`crate::store::RateStore::stage_batch`]: queued for a script call the tenant's callers
    /// of the moment share.
    pub(super) async fn run_batch(
        &self,
        tenant: &str,
        ops: &[StageOp],
        now: u64,
    ) -> Result<Vec<StageAnswer>, StoreError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let args = self.batch_args(tenant, ops, now)?;
        let run = |store: RedisStore, tenant: String, callers: Vec<BatchCaller>| async move {
            store.run_batches(&tenant, callers).await
        };
        let replies = self
            .grouped(&self.batches, tenant, args, run)
            .await?
            .map_err(StoreError::Redis)?;
        answers(ops, &replies, now)
    }

    /// Several callers' stage batches in one script call, in this order, without the queue:
    /// what a flush does, for tests that need to know which callers share a call.
    #[doc(hidden)]
    pub async fn stage_batches_in_one_call(
        &self,
        tenant: &str,
        callers: &[(&[StageOp], u64)],
    ) -> Result<Vec<Result<Vec<StageAnswer>, StoreError>>, StoreError> {
        let args = callers
            .iter()
            .map(|(ops, now)| self.batch_args(tenant, ops, *now))
            .collect::<Result<Vec<_>, _>>()?;
        let replies = self.batch_call(tenant, args.iter()).await?;
        Ok(callers
            .iter()
            .zip(replies)
            .map(|((ops, now), reply)| answers(ops, &reply.map_err(StoreError::Redis)?, *now))
            .collect())
    }

    /// One caller's arguments to the batch script.
    fn batch_args(&self, tenant: &str, ops: &[StageOp], now: u64) -> Result<Args, StoreError> {
        let mut inv = Args::new();
        inv.arg(now);
        let mut looked_up = false;
        for op in ops {
            match op {
                StageOp::CounterCheck { key, n, limit, window } => {
                    let w = window_ms(*window)?;
                    inv.arg("c");
                    push_key(&mut inv, key, Some(b'c'), looked_up)?;
                    inv.arg(*n).arg(*limit).arg(w).arg(span(now, w).size);
                }
                StageOp::CounterAdd { key, n, window } => {
                    let w = window_ms(*window)?;
                    inv.arg("a");
                    push_key(&mut inv, key, Some(b'c'), looked_up)?;
                    inv.arg(*n).arg(w).arg(span(now, w).size);
                }
                StageOp::CounterWindow { key, window } => {
                    let w = window_ms(*window)?;
                    inv.arg("w");
                    push_key(&mut inv, key, Some(b'c'), looked_up)?;
                    inv.arg(w).arg(span(now, w).size);
                }
                StageOp::SetCheckAndAdd {
                    key,
                    member,
                    window,
                    cap,
                } => {
                    let w = window_ms(*window)?;
                    check_cap(*cap)?;
                    check_member(member)?;
                    inv.arg("s");
                    push_key(&mut inv, key, Some(b's'), looked_up)?;
                    inv.arg(member.as_slice()).arg(w).arg(*cap);
                }
                StageOp::EventsCheckAndAdd { key, window, cap } => {
                    let w = window_ms(*window)?;
                    check_cap(*cap)?;
                    inv.arg("e");
                    push_key(&mut inv, key, Some(b'e'), looked_up)?;
                    inv.arg(self.occurrence_nonce());
                    inv.arg(w).arg(*cap);
                }
                StageOp::SuppressionContains { address } => {
                    inv.arg("p").arg("k").arg(rec_key("_suppr", tenant)).arg(address);
                }
                StageOp::BlockGet { scope, target } => {
                    if target == CAMPAIGN_SLOT {
                        return Err(StoreError::InvalidArgument("a block on the campaign slot".into()));
                    }
                    inv.arg("b")
                        .arg("k")
                        .arg(rec_key("_blocks", tenant))
                        .arg(block_field(*scope, target));
                }
                StageOp::Campaign {
                    band_keys,
                    candidate,
                    window,
                    pinned,
                } => {
                    let w = window_ms(*window)?;
                    inv.arg("m").arg(band_keys.len());
                    for band in band_keys {
                        inv.arg("k")
                            .arg(Key::new("_campaign", tenant).part_u64(*band).redis_key());
                    }
                    inv.arg(candidate).arg(w).arg(pinned.len());
                    for id in pinned {
                        inv.arg(id);
                    }
                    looked_up = true;
                }
            }
        }
        Ok(inv)
    }
}

/// The answers `replies` (one per answer, in order) give to `ops`.
fn answers(ops: &[StageOp], replies: &[Value], now: u64) -> Result<Vec<StageAnswer>, StoreError> {
    if replies.len() > ops.len() {
        return Err(StoreError::corrupt("batch", "more replies than operations"));
    }
    ops.iter()
        .zip(replies)
        .map(|(op, reply)| answer(op, reply, now))
        .collect()
}

impl RedisStore {
    /// Runs the batches of `callers` (of `tenant`) in one script call and answers each.
    async fn run_batches(&self, tenant: &str, callers: Vec<BatchCaller>) {
        let replies = self.batch_call(tenant, callers.iter().map(|c| &c.work)).await;
        match replies {
            Ok(replies) => {
                for (caller, reply) in callers.into_iter().zip(replies) {
                    // A caller that went away no longer needs its answer.
                    let _ = caller.answer.send(reply);
                }
            }
            Err(error) => {
                for caller in callers {
                    let _ = caller.answer.send(Err(error.clone()));
                }
            }
        }
    }
}

impl RedisStore {
    /// One call of the batch script with each caller's arguments, in order: each caller's
    /// replies (one per answer), or the error its operations raised.
    async fn batch_call<'a>(
        &self,
        tenant: &str,
        callers: impl ExactSizeIterator<Item = &'a Args>,
    ) -> Result<Vec<Result<Vec<Value>, RedisError>>, RedisError> {
        let count = callers.len();
        let mut eval = redis::cmd("EVALSHA");
        eval.arg(self.scripts.batch.get_hash())
            .arg(1)
            .arg(rec_key("_batch", tenant));
        for args in callers {
            eval.arg(args.args_iter().len());
            for arg in args.args_iter() {
                if let Arg::Simple(arg) = arg {
                    eval.arg(arg);
                }
            }
        }
        let flat = self.evalsha::<Vec<Value>>(&self.scripts.batch, &eval).await?;
        per_caller(flat, count)
    }
}

/// Splits the batch script's flat reply into each of `callers`' replies (one per answer), or
/// the error its operations raised; a reply of another shape is believed for no one.
fn per_caller(flat: Vec<Value>, callers: usize) -> Result<Vec<Result<Vec<Value>, RedisError>>, RedisError> {
    let bad = |what: &str| RedisError::from((redis::ErrorKind::Parse, "unexpected batch reply", what.to_string()));
    let int = |value: Option<Value>| match value {
        Some(Value::Int(n)) => usize::try_from(n).map_err(|_| bad("a negative length")),
        _ => Err(bad("a length that is not a number")),
    };
    let mut items = flat.into_iter();
    let mut out = Vec::with_capacity(callers);
    for _ in 0..callers {
        match items.next() {
            Some(Value::Int(1)) => {
                let count = int(items.next())?;
                let segment: Vec<Value> = items.by_ref().take(count).collect();
                if segment.len() != count {
                    return Err(bad("fewer items than the caller's count"));
                }
                let mut segment = segment.into_iter();
                let mut replies = Vec::new();
                while let Some(len) = segment.next() {
                    let len = int(Some(len))?;
                    let reply: Vec<Value> = segment.by_ref().take(len).collect();
                    if reply.len() != len {
                        return Err(bad("an answer longer than its caller's items"));
                    }
                    replies.push(Value::Array(reply));
                }
                out.push(Ok(replies));
            }
            Some(Value::Int(0)) => {
                let message = match items.next() {
                    Some(Value::BulkString(text)) => String::from_utf8_lossy(&text).into_owned(),
                    _ => return Err(bad("a failed caller without its error")),
                };
                out.push(Err(RedisError::from((
                    redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
                    "a batched stage failed",
                    message,
                ))));
            }
            _ => return Err(bad("a missing or unknown caller status")),
        }
    }
    if items.next().is_some() {
        return Err(bad("more callers answered than asked"));
    }
    Ok(out)
}

/// The answer `reply` gives to `op`.
fn answer(op: &StageOp, reply: &Value, now: u64) -> Result<StageAnswer, StoreError> {
    Ok(match op {
        StageOp::CounterCheck { n, limit, window, .. } => {
            let w = window_ms(*window)?;
            StageAnswer::Counter(counter_reply(&ints(reply)?, *n, *limit, now, w, span(now, w).size)?.0)
        }
        StageOp::CounterAdd { .. } => StageAnswer::Added,
        StageOp::CounterWindow { window, .. } => {
            let r = ints(reply)?;
            if r.len() < 2 {
                return Err(StoreError::corrupt("counter", "short script reply"));
            }
            StageAnswer::Window(CounterWindow {
                bucket_ms: span(now, window_ms(*window)?).size,
                buckets: script_buckets(&r[2..]),
            })
        }
        StageOp::SetCheckAndAdd { .. } => StageAnswer::Set(set_reply(&ints(reply)?)?),
        StageOp::EventsCheckAndAdd { .. } => StageAnswer::Events(events_reply(&ints(reply)?)?),
        StageOp::SuppressionContains { .. } => StageAnswer::Suppressed(ints(reply)?.first() == Some(&1)),
        StageOp::BlockGet { .. } => {
            let parts: Vec<Value> =
                redis::from_redis_value_ref(reply).map_err(|e| StoreError::corrupt("batch", e.to_string()))?;
            match parts.as_slice() {
                [found, json] if as_u64(redis::from_redis_value_ref(found).unwrap_or(0)) == 1 => {
                    let json: Vec<u8> =
                        redis::from_redis_value_ref(json).map_err(|e| StoreError::corrupt("block", e.to_string()))?;
                    StageAnswer::Block(Some(serde_json::from_slice(&json)?))
                }
                [_] => StageAnswer::Block(None),
                _ => return Err(StoreError::corrupt("batch", "bad block reply")),
            }
        }
        StageOp::Campaign { .. } => {
            let parts: Vec<Value> =
                redis::from_redis_value_ref(reply).map_err(|e| StoreError::corrupt("batch", e.to_string()))?;
            StageAnswer::Campaign(campaign_reply(&parts)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: i64) -> Value {
        Value::Int(n)
    }

    #[test]
    fn each_caller_gets_its_own_answers_or_its_error() {
        let flat = vec![
            int(1),
            int(5),
            int(2),
            int(1),
            int(7),
            int(1),
            int(0),
            int(0),
            Value::BulkString(b"WRONGTYPE".to_vec()),
        ];
        let out = per_caller(flat, 2).expect("well formed");
        let first = out[0].as_ref().expect("answered");
        assert_eq!(
            first,
            &vec![Value::Array(vec![int(1), int(7)]), Value::Array(vec![int(0)])]
        );
        let error = out[1].as_ref().expect_err("failed");
        assert!(error.to_string().contains("WRONGTYPE"), "{error}");
    }

    #[test]
    fn a_reply_of_another_shape_is_believed_for_no_one() {
        let cases: [(Vec<Value>, usize); 6] = [
            // cut short inside the caller's items, even at an answer's end
            (vec![int(1), int(4), int(1), int(1)], 1),
            (vec![int(1), int(3), int(2), int(1)], 1),
            // an answer longer than the caller's items
            (vec![int(1), int(2), int(3), int(1)], 1),
            // a negative length, an unknown status, a missing error text
            (vec![int(1), int(-1)], 1),
            (vec![int(2)], 1),
            (vec![int(0), int(5)], 1),
        ];
        for (flat, callers) in cases {
            assert!(per_caller(flat.clone(), callers).is_err(), "{flat:?}");
        }
        // more callers answered than asked, or fewer
        assert!(per_caller(vec![int(1), int(0), int(1), int(0)], 1).is_err());
        assert!(per_caller(vec![int(1), int(0)], 2).is_err());
    }
}
