//! Tenant lookup by client address with 10,000 tenants (each with an IPv4 /24 and an IPv6 /48):
//! the prefix trie answers in time that depends on the address length, not the tenant count.
//! Also measures what one runtime change costs (an API create or update rebuilds and swaps the
//! index) and the lookup of an address no tenant owns.
//!
//! `cargo bench --bench tenants`

use std::net::IpAddr;

use aupgate::config::TenantConfig;
use criterion::{criterion_group, criterion_main, Criterion};

const TENANTS: usize = 10_000;

fn entry(i: usize) -> TenantConfig {
    TenantConfig {
        id: format!("tenant-{i:05}"),
        name: format!("Tenant {i}"),
        networks: vec![
            format!("10.{}.{}.0/24", i / 256, i % 256),
            format!("2001:db8:{:x}::/48", i),
        ],
        domains: vec![format!("t{i}.example")],
        ..Default::default()
    }
}

fn lookups(c: &mut Criterion) {
    let directory = TenantConfig::directory(&(0..TENANTS).map(entry).collect::<Vec<_>>());
    let v4: Vec<IpAddr> = (0..TENANTS)
        .map(|i| format!("10.{}.{}.7", i / 256, i % 256).parse().expect("ip"))
        .collect();
    let v6: Vec<IpAddr> = (0..TENANTS)
        .map(|i| format!("2001:db8:{:x}::7", i).parse().expect("ip"))
        .collect();
    let mut n = 0usize;
    c.bench_function("by_address ipv4, 10k tenants", |b| {
        b.iter(|| {
            n = (n + 7919) % TENANTS;
            assert!(directory.by_address(v4[n]).is_some());
        })
    });
    c.bench_function("by_address ipv6, 10k tenants", |b| {
        b.iter(|| {
            n = (n + 7919) % TENANTS;
            assert!(directory.by_address(v6[n]).is_some());
        })
    });
    let stranger: IpAddr = "192.0.2.1".parse().expect("ip");
    c.bench_function("by_address no tenant, 10k tenants", |b| {
        b.iter(|| assert!(directory.by_address(stranger).is_none()))
    });
    let mut spec = entry(TENANTS / 2).spec();
    c.bench_function("update one tenant's profile among 10k (in place)", |b| {
        b.iter(|| {
            spec.settings.profile = if spec.settings.profile == "a" { "b" } else { "a" }.into();
            directory.upsert(spec.clone());
        })
    });
    c.bench_function(
        "change one tenant's networks among 10k (index rebuilt and swapped)",
        |b| {
            b.iter(|| {
                let last = spec.settings.networks.len() - 1;
                spec.settings.networks[last] = if spec.settings.networks[last].prefix_len() == 48 {
                    "2001:db8:ffff::/64".parse().expect("net")
                } else {
                    "2001:db8:ffff::/48".parse().expect("net")
                };
                directory.upsert(spec.clone());
            })
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = lookups
}
criterion_main!(benches);
