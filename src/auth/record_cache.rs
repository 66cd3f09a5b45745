//! mail-auth's parsed DNS records, kept until their TTL runs out. Without them every message
//! would fetch and parse the sender's SPF record and its includes, the DMARC record and the
//! DKIM public keys again; with them the second message from a domain costs a map lookup. A
//! record that was fetched but does not parse is kept as that error for its TTL too; a lookup
//! that failed (timeout, SERVFAIL) is never kept, so the next message asks again.

use std::borrow::Borrow;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use mail_auth::{Parameters, RecordSet, ResolverCache, Txt, MX};

use crate::dns::cache::TtlCache;

/// Entries per kind of record.
const ENTRIES: usize = 16_384;

impl<K: Hash + Eq, V: Clone> ResolverCache<K, V> for TtlCache<K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        TtlCache::get(self, name)
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        TtlCache::remove(self, name)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        TtlCache::insert(self, key, value, valid_until)
    }
}

/// One cache per kind of record mail-auth looks up.
pub struct RecordCaches {
    txt: TtlCache<Box<str>, Txt>,
    mx: TtlCache<Box<str>, RecordSet<MX>>,
    ipv4: TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    ipv6: TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    ptr: TtlCache<IpAddr, RecordSet<Box<str>>>,
}

/// mail-auth's parameters with every cache attached.
pub type Cached<'x, P> = Parameters<
    'x,
    P,
    TtlCache<Box<str>, Txt>,
    TtlCache<Box<str>, RecordSet<MX>>,
    TtlCache<Box<str>, RecordSet<Ipv4Addr>>,
    TtlCache<Box<str>, RecordSet<Ipv6Addr>>,
    TtlCache<IpAddr, RecordSet<Box<str>>>,
>;

impl Default for RecordCaches {
    fn default() -> RecordCaches {
        RecordCaches {
            txt: TtlCache::new(ENTRIES),
            mx: TtlCache::new(ENTRIES),
            ipv4: TtlCache::new(ENTRIES),
            ipv6: TtlCache::new(ENTRIES),
            ptr: TtlCache::new(ENTRIES),
        }
    }
}

impl RecordCaches {
    /// `params` for a mail-auth verification that reads and fills these caches.
    pub fn parameters<P>(&self, params: P) -> Cached<'_, P> {
        Parameters::new(params)
            .with_txt_cache(&self.txt)
            .with_mx_cache(&self.mx)
            .with_ipv4_cache(&self.ipv4)
            .with_ipv6_cache(&self.ipv6)
            .with_ptr_cache(&self.ptr)
    }
}
