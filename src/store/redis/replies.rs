//! Reading the Redis scripts' replies ([`super::scripts`]) into the store's answers: counter,
//! set, event-log and campaign replies, and log records.

use serde::de::DeserializeOwned;

use crate::store::window::retry_after;
use crate::store::{CampaignMatch, Charge, EventCharge, SetCharge, StoreError};

pub(super) fn as_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

pub(super) fn as_u64(v: i64) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(0)
}

/// The records of a log's members (`sequence json`).
pub(super) fn parse_log<T: DeserializeOwned>(members: Vec<Vec<u8>>) -> Result<Vec<T>, StoreError> {
    members
        .iter()
        .map(|m| {
            let sp = m
                .iter()
                .position(|b| *b == b' ')
                .ok_or_else(|| StoreError::corrupt("log", "member without sequence"))?;
            Ok(serde_json::from_slice(&m[sp + 1..])?)
        })
        .collect()
}

/// The (bucket, count) pairs of a counter script's reply, ascending by bucket.
pub(super) fn script_buckets(flat: &[i64]) -> Vec<(u64, u64)> {
    flat.chunks_exact(2)
        .map(|c| (as_u64(c[0]), as_u64(c[1])))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect()
}

/// The charge a counter script's reply `{ok, total, [idx, count]...}` stands for, and the total.
pub(super) fn counter_reply(
    r: &[i64],
    n: u64,
    limit: u64,
    now: u64,
    w: u64,
    size: u64,
) -> Result<(Charge, u64), StoreError> {
    let (ok, total) = match r {
        [ok, total, ..] => (*ok, as_u64(*total)),
        _ => return Err(StoreError::corrupt("counter", "short script reply")),
    };
    if ok == 1 {
        return Ok((Charge::Charged { total }, total));
    }
    let buckets = script_buckets(&r[2..]);
    Ok((
        Charge::Refused {
            total,
            retry_after_ms: retry_after(&buckets, n, limit, now, w, size),
        },
        total,
    ))
}

/// A set script's reply `{admitted, already_member, distinct}`.
pub(super) fn set_reply(r: &[i64]) -> Result<SetCharge, StoreError> {
    match r {
        [admitted, already, n] => Ok(SetCharge {
            admitted: *admitted == 1,
            already_member: *already == 1,
            distinct: as_u32(*n),
        }),
        _ => Err(StoreError::corrupt("set", "bad script reply")),
    }
}

/// An event-log script's reply `{admitted, count, retry_after}`.
pub(super) fn events_reply(r: &[i64]) -> Result<EventCharge, StoreError> {
    match r {
        [admitted, n, retry] => Ok(EventCharge {
            admitted: *admitted == 1,
            count: as_u32(*n),
            retry_after_ms: (*admitted != 1 && *retry >= 0).then(|| as_u64(*retry)),
        }),
        _ => Err(StoreError::corrupt("event log", "bad script reply")),
    }
}

/// A campaign script's reply `{id, is_new, merged...}`.
pub(super) fn campaign_reply(reply: &[redis::Value]) -> Result<CampaignMatch, StoreError> {
    let text = |v: &redis::Value| -> Result<String, StoreError> {
        redis::from_redis_value_ref(v).map_err(|e| StoreError::corrupt("campaign", e.to_string()))
    };
    let (Some(id), Some(is_new)) = (reply.first(), reply.get(1)) else {
        return Err(StoreError::corrupt("campaign", "short script reply"));
    };
    let is_new: i64 =
        redis::from_redis_value_ref(is_new).map_err(|e| StoreError::corrupt("campaign", e.to_string()))?;
    let mut merged: Vec<String> = reply[2..].iter().map(text).collect::<Result<_, _>>()?;
    merged.sort();
    Ok(CampaignMatch {
        id: text(id)?,
        is_new: is_new == 1,
        merged,
    })
}
