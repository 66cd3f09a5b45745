//! A binary prefix trie of networks: the tenant whose network contains a client address, the
//! longest prefix winning, in time that depends on the address length (32 or 128 steps), not on
//! the number of tenants. IPv4-mapped IPv6 addresses are looked up as IPv4 (the caller passes
//! [`super::canonical_ip`]); an IPv4 network never matches a native IPv6 address or the reverse.
//!
//! Built once and never changed: the directory builds a new trie and swaps it in whole.

use std::net::IpAddr;

use ipnet::IpNet;

/// Index of a node in the arena; 0 is the root, so no child ever points to 0.
type NodeId = u32;

#[derive(Clone, Debug, Default)]
struct Node {
    children: [NodeId; 2],
    value: Option<u32>,
}

/// One trie per address family, nodes in an arena.
#[derive(Clone, Debug)]
pub struct PrefixTrie<V> {
    v4: Vec<Node>,
    v6: Vec<Node>,
    values: Vec<V>,
}

impl<V> Default for PrefixTrie<V> {
    fn default() -> Self {
        PrefixTrie {
            v4: vec![Node::default()],
            v6: vec![Node::default()],
            values: Vec::new(),
        }
    }
}

/// The address as bits from the most significant, and its width.
fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn bit(value: u128, width: u8, i: u8) -> usize {
    usize::from((value >> (width - 1 - i)) & 1 == 1)
}

impl<V> PrefixTrie<V> {
    fn nodes(&mut self, v4: bool) -> &mut Vec<Node> {
        if v4 {
            &mut self.v4
        } else {
            &mut self.v6
        }
    }

    /// Adds `net` → `value`, unless `net` is already there: then the first value stays (the
    /// caller inserts in its order of preference) and `false` is returned.
    pub fn insert(&mut self, net: IpNet, value: V) -> bool {
        let net = net.trunc();
        let (addr, width) = bits(net.network());
        let nodes = self.nodes(width == 32);
        let mut at = 0usize;
        for i in 0..net.prefix_len() {
            let b = bit(addr, width, i);
            let child = nodes[at].children[b];
            at = if child == 0 {
                let new = NodeId::try_from(nodes.len()).unwrap_or(NodeId::MAX);
                nodes.push(Node::default());
                nodes[at].children[b] = new;
                new as usize
            } else {
                child as usize
            };
        }
        if nodes[at].value.is_some() {
            return false;
        }
        let slot = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        self.nodes(width == 32)[at].value = Some(slot);
        self.values.push(value);
        true
    }

    /// The value of the longest prefix containing `ip`.
    pub fn longest_match(&self, ip: IpAddr) -> Option<&V> {
        let (addr, width) = bits(ip);
        let nodes = if width == 32 { &self.v4 } else { &self.v6 };
        let mut at = 0usize;
        let mut best = nodes[0].value;
        for i in 0..width {
            let child = nodes[at].children[bit(addr, width, i)];
            if child == 0 {
                break;
            }
            at = child as usize;
            if nodes[at].value.is_some() {
                best = nodes[at].value;
            }
        }
        best.and_then(|slot| self.values.get(slot as usize))
    }

    /// Number of networks.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// No networks.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(nets: &[(&str, &str)]) -> PrefixTrie<String> {
        let mut t = PrefixTrie::default();
        for (net, name) in nets {
            t.insert(net.parse().expect("net"), name.to_string());
        }
        t
    }

    #[test]
    fn the_longest_prefix_wins_in_both_families() {
        let t = trie(&[
            ("10.0.0.0/8", "wide"),
            ("10.1.0.0/16", "narrow"),
            ("10.1.2.3/32", "host"),
            ("0.0.0.0/0", "any4"),
            ("2001:db8::/32", "v6"),
            ("2001:db8:1::/48", "v6-narrow"),
        ]);
        let hit = |ip: &str| t.longest_match(ip.parse().expect("ip")).cloned();
        let cases = [
            ("10.1.2.3", Some("host")),
            ("10.1.2.4", Some("narrow")),
            ("10.2.0.1", Some("wide")),
            ("192.0.2.1", Some("any4")),
            ("2001:db8:1::5", Some("v6-narrow")),
            ("2001:db8:2::5", Some("v6")),
            ("2001:db9::1", None),
            // An IPv4-mapped address is not IPv4 to the trie: the directory canonicalises first.
            ("::ffff:10.1.2.3", None),
        ];
        for (ip, want) in cases {
            assert_eq!(hit(ip).as_deref(), want, "{ip}");
        }
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn a_duplicate_network_keeps_the_first_value() {
        let mut t = trie(&[("192.0.2.0/24", "first")]);
        assert!(!t.insert("192.0.2.0/24".parse().expect("net"), "second".into()));
        assert!(!t.insert("192.0.2.77/24".parse().expect("net"), "untruncated".into()));
        assert_eq!(
            t.longest_match("192.0.2.9".parse().expect("ip")).map(String::as_str),
            Some("first")
        );
    }

    #[test]
    fn an_empty_trie_matches_nothing() {
        let t: PrefixTrie<u8> = PrefixTrie::default();
        assert!(t.is_empty());
        assert_eq!(t.longest_match("127.0.0.1".parse().expect("ip")), None);
        assert_eq!(t.longest_match("::1".parse().expect("ip")), None);
    }
}
