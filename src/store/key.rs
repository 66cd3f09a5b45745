//! Store keys built from length-prefixed parts.
//!
//! A key is a kind, a tenant and any number of further parts; each part is written as a 4-byte
//! big-endian length followed by its bytes. A sequence of parts therefore decodes in exactly one way,
//! so no tenant id, recipient or domain can forge another key: tenant `a:b` and tenant `a` with
//! part `b` encode differently. Never build a key by joining strings with a separator.
//!
//! For Redis the key gets a `{t<hex tenant>}` hash tag in front, so all keys of one tenant live on
//! one cluster shard (and one Lua script may touch several of them). The tag is hex so that a `{` or
//! `}` inside a tenant id cannot move the tag.

/// A store key: kind, tenant and further parts, length-prefixed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    tenant: String,
    encoded: Vec<u8>,
}

/// Appends one length-prefixed part to `buf`.
pub(crate) fn push_part(buf: &mut Vec<u8>, part: &[u8]) {
    // Parts longer than 4 GiB cannot occur (keys come from SMTP lines and config); saturate rather
    // than panic, the length check in `Key::part` refuses them earlier anyway.
    let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(part);
}

/// Splits length-prefixed parts (what [`Key::part`] appends; e.g. the rest of a key under a
/// prefix) back into the parts; `None` if the bytes are not a whole sequence of parts.
pub fn decode_parts(mut encoded: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut parts = Vec::new();
    while !encoded.is_empty() {
        let len = u32::from_be_bytes(encoded.get(..4)?.try_into().ok()?) as usize;
        parts.push(encoded.get(4..4 + len)?.to_vec());
        encoded = &encoded[4 + len..];
    }
    Some(parts)
}

/// Hex of `bytes`, lower case.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The Redis hash tag of a tenant: `{t<hex>}`.
pub(crate) fn redis_tag(tenant: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(tenant.len() * 2 + 3);
    k.extend_from_slice(b"{t");
    k.extend_from_slice(hex(tenant.as_bytes()).as_bytes());
    k.push(b'}');
    k
}

impl Key {
    /// A key of `kind` (e.g. `"bulk.rcpts"`) belonging to `tenant`. Use `""` as tenant for keys that
    /// belong to no tenant (per-IP counters). Kinds starting with `_` are reserved for the store.
    pub fn new(kind: &str, tenant: &str) -> Self {
        let mut encoded = Vec::with_capacity(16 + kind.len() + tenant.len());
        push_part(&mut encoded, kind.as_bytes());
        push_part(&mut encoded, tenant.as_bytes());
        Key {
            tenant: tenant.to_owned(),
            encoded,
        }
    }

    /// Adds a part (recipient, campaign id, domain...).
    #[must_use]
    pub fn part(mut self, part: impl AsRef<[u8]>) -> Self {
        push_part(&mut self.encoded, part.as_ref());
        self
    }

    /// Adds an integer part (a fingerprint band, a hash).
    #[must_use]
    pub fn part_u64(self, v: u64) -> Self {
        self.part(v.to_be_bytes())
    }

    /// The tenant this key belongs to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The encoded parts (the RocksDB key, before any suffix).
    pub fn as_bytes(&self) -> &[u8] {
        &self.encoded
    }

    /// The Redis key: hash tag of the tenant, then the encoded parts.
    pub fn redis_key(&self) -> Vec<u8> {
        let mut k = redis_tag(&self.tenant);
        k.extend_from_slice(&self.encoded);
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_cannot_forge_keys() {
        let cases = [
            (Key::new("rcpt", "a:b"), Key::new("rcpt", "a").part("b")),
            (
                Key::new("rcpt", "a").part("b:c"),
                Key::new("rcpt", "a").part("b").part("c"),
            ),
            (Key::new("rcpt", "ab"), Key::new("rcpt", "a").part("b")),
            (Key::new("r", "cpt"), Key::new("rc", "pt")),
            (Key::new("rcpt", "").part("a"), Key::new("rcpt", "a")),
        ];
        for (a, b) in cases {
            assert_ne!(a.as_bytes(), b.as_bytes(), "{a:?} vs {b:?}");
            assert_ne!(a.redis_key(), b.redis_key(), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn parts_under_a_prefix_decode_back() {
        let prefix = Key::new("mail_bomb", "t");
        let key = prefix.clone().part("c1").part("ann@example.org");
        let rest = &key.as_bytes()[prefix.as_bytes().len()..];
        assert_eq!(
            decode_parts(rest),
            Some(vec![b"c1".to_vec(), b"ann@example.org".to_vec()])
        );
        assert_eq!(decode_parts(&rest[..rest.len() - 1]), None);
        assert_eq!(decode_parts(&[0, 0]), None);
    }

    #[test]
    fn braces_in_tenant_do_not_move_the_hash_tag() {
        let k = Key::new("x", "}{evil}").redis_key();
        assert!(k.starts_with(b"{t7d7b6576696c7d}"));
        assert_eq!(Key::new("x", "a").redis_key()[..5], *b"{t61}");
    }
}
