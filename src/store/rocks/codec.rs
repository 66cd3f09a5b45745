//! Byte layouts of RocksDB values, the counter merge operator and the expiry compaction filters.
//!
//! Every windowed value starts with its expiry (u64 LE unix ms, the moment no read can count it any
//! more), so one compaction filter drops dead counters, sets, event logs and campaign mappings
//! without any scan on the hot path. Decoding never trusts the disk: a short or malformed value is
//! an error, not a zero.

use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::{compaction_filter::Decision, MergeOperands};

use crate::store::StoreError;

/// Wall clock, for garbage collection only.
pub(super) fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Value with an expiry header.
pub(super) fn expiring(expire: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&expire.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// (expiry, payload) of an expiring value.
pub(super) fn split_expiring<'a>(what: &'static str, v: &'a [u8]) -> Result<(u64, &'a [u8]), StoreError> {
    let exp = read_u64(v, 0).ok_or_else(|| StoreError::corrupt(what, "value shorter than 8"))?;
    Ok((exp, &v[8..]))
}

/// A counter bucket value (or merge operand): expiry, count.
/// Two counter merge operands as one, as the merge operator would fold them (later expiry, sum).
pub(super) fn counter_combine(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    if a.len() != 16 || b.len() != 16 {
        return None;
    }
    let exp = read_u64(a, 0)?.max(read_u64(b, 0)?);
    let n = read_u64(a, 8)?.saturating_add(read_u64(b, 8)?);
    Some(counter_value(exp, n).to_vec())
}

pub(super) fn counter_value(expire: u64, n: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&expire.to_le_bytes());
    v[8..].copy_from_slice(&n.to_le_bytes());
    v
}

/// The count of a counter bucket value.
pub(super) fn counter_count(v: &[u8]) -> Result<u64, StoreError> {
    match (v.len(), read_u64(v, 8)) {
        (16, Some(n)) => Ok(n),
        _ => Err(StoreError::corrupt("counter", format!("{} bytes", v.len()))),
    }
}

/// Merge operator of the counters: sums counts, keeps the latest expiry. Associative, so RocksDB
/// may pre-merge operands. A malformed operand fails the merge (surfacing as a read error) rather
/// than being counted as zero.
pub(super) fn counter_merge(_key: &[u8], existing: Option<&[u8]>, ops: &MergeOperands) -> Option<Vec<u8>> {
    let (mut exp, mut n) = match existing {
        Some(v) if v.len() == 16 => (read_u64(v, 0)?, read_u64(v, 8)?),
        Some(_) => return None,
        None => (0, 0),
    };
    for op in ops {
        if op.len() != 16 {
            return None;
        }
        exp = exp.max(read_u64(op, 0)?);
        n = n.saturating_add(read_u64(op, 8)?);
    }
    Some(counter_value(exp, n).to_vec())
}

/// Compaction filter of every expiring column family.
pub(super) fn expiry_filter(_level: u32, _key: &[u8], value: &[u8]) -> Decision {
    match read_u64(value, 0) {
        Some(exp) if exp <= wall_ms() => Decision::Remove,
        // Malformed values are kept so that reads report them.
        _ => Decision::Keep,
    }
}

/// Compaction filter of the event and audit logs: key = part(tenant), at (u64 BE), seq.
pub(super) fn log_filter(retention_ms: u64) -> impl FnMut(u32, &[u8], &[u8]) -> Decision + Send + 'static {
    move |_level, key, _value| match log_key_at(key) {
        Some(at) if at.saturating_add(retention_ms) <= wall_ms() => Decision::Remove,
        _ => Decision::Keep,
    }
}

fn log_key_at(key: &[u8]) -> Option<u64> {
    let len = usize::try_from(u32::from_be_bytes(key.get(..4)?.try_into().ok()?)).ok()?;
    let at = key.get(4 + len..12 + len)?;
    Some(u64::from_be_bytes(at.try_into().ok()?))
}

/// Decodes an event log: u64 LE timestamps.
pub(super) fn decode_events(p: &[u8]) -> Result<Vec<u64>, StoreError> {
    if !p.len().is_multiple_of(8) {
        return Err(StoreError::corrupt("event log", format!("{} bytes", p.len())));
    }
    Ok(p.chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(u64::from_le_bytes))
        .collect())
}

/// Encodes an event log.
pub(super) fn encode_events(ts: &[u64]) -> Vec<u8> {
    ts.iter().flat_map(|t| t.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_logs_roundtrip_and_truncation() {
        assert!(decode_events(&[1, 2, 3]).is_err());
        assert_eq!(decode_events(&encode_events(&[1, 9])).expect("ok"), vec![1, 9]);
    }

    #[test]
    fn log_key_at_reads_the_timestamp() {
        let mut k = Vec::new();
        crate::store::key::push_part(&mut k, b"tenant");
        k.extend_from_slice(&42u64.to_be_bytes());
        k.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(log_key_at(&k), Some(42));
        assert_eq!(log_key_at(&k[..10]), None);
    }
}
