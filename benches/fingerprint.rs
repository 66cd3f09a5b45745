//! Fingerprint throughput (messages per second for a 2 KiB and a 50 KiB message), then the
//! grouping quality on a larger generated corpus (recall and false merges, see
//! `fingerprint::corpus::Quality`), printed because criterion has no place for it.
//!
//! `cargo bench --bench fingerprint`; `-- campaign_lookup` measures the RocksDB store's campaign
//! index lookup with a 2 KiB message's band keys against the load driver's one exact key.

use std::time::Instant;

#[path = "../tests/support/corpus/mod.rs"]
mod corpus;

use aupgate::fingerprint::{fingerprint, normalize, Fingerprint};
use corpus::quality::evaluate;
use corpus::{alternative_of_size, generate, message_of_size, CorpusConfig};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn throughput(c: &mut Criterion) {
    type Make = fn(u64, usize) -> Vec<u8>;
    let cases: [(&str, usize, Make); 3] = [
        ("2KiB", 2 * 1024, message_of_size),
        ("2KiB-alternative", 2 * 1024, alternative_of_size),
        ("50KiB", 50 * 1024, message_of_size),
    ];
    for (label, size, make) in cases {
        // Several distinct copies so branch predictors and caches see varied input.
        let msgs: Vec<Vec<u8>> = (0..16).map(|s| make(s, size)).collect();
        let mut g = c.benchmark_group(format!("fingerprint/{label}"));
        g.throughput(Throughput::Elements(1));
        let mut i = 0;
        g.bench_function("normalize", |b| {
            b.iter(|| {
                i = (i + 1) % msgs.len();
                normalize(&msgs[i])
            })
        });
        g.bench_function("fingerprint", |b| {
            b.iter(|| {
                i = (i + 1) % msgs.len();
                fingerprint(&msgs[i])
            })
        });
        // The gateway parses each message once and shares the parse (`crate::message`); this is
        // the fingerprint's own cost on top of it, and the parse's.
        let parsed: Vec<aupgate::message::Message<'_>> = msgs.iter().map(|m| aupgate::message::parse(m)).collect();
        g.bench_function("parse", |b| {
            b.iter(|| {
                i = (i + 1) % msgs.len();
                aupgate::message::parse(&msgs[i])
            })
        });
        g.bench_function("fingerprint_message+band_keys (parsed)", |b| {
            b.iter(|| {
                i = (i + 1) % parsed.len();
                aupgate::fingerprint::fingerprint_message(&parsed[i]).band_keys()
            })
        });
        g.bench_function("fingerprint+band_keys", |b| {
            b.iter_batched(
                || {
                    i = (i + 1) % msgs.len();
                    i
                },
                |i| fingerprint(&msgs[i]).band_keys(),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

fn quality(_: &mut Criterion) {
    let cfg = CorpusConfig {
        seed: 2026,
        campaigns: 200,
        copies: 40,
        one_offs: 2000,
        family_size: 25,
    };
    let corpus = generate(&cfg);
    let bytes: usize = corpus.iter().map(|m| m.bytes.len()).sum();
    let t = Instant::now();
    let fps: Vec<Fingerprint> = corpus.iter().map(|m| fingerprint(&m.bytes)).collect();
    let el = t.elapsed();
    let q = evaluate(&corpus, &fps);
    println!(
        "corpus: {} messages ({} campaigns x {} copies + {} one-offs), {:.1} MiB, fingerprinted in {:?} ({:.0} msg/s)",
        q.messages,
        cfg.campaigns,
        cfg.copies,
        cfg.one_offs,
        bytes as f64 / 1_048_576.0,
        el,
        q.messages as f64 / el.as_secs_f64()
    );
    println!(
        "recall {:.4} (sequential {:.4}), false merges: {:.2e} of cross pairs, {:.4} of messages \
         (sequential {:.4}); {} groups, {} split campaigns, {} mixed groups",
        q.recall,
        q.sequential_recall,
        q.false_merge_pairs,
        q.false_merge_messages,
        q.sequential_false_merge_messages,
        q.groups,
        q.split_campaigns,
        q.mixed_groups
    );
}

/// `RateStore::campaign_lookup_or_insert` on RocksDB for live campaigns (after their first copy:
/// the cache holds their keys, and a mapping is rewritten only once its slack is used up), with
/// the band keys of 2 KiB newsletters (21 body keys, 3 per long paragraph) and with one exact
/// key (the load driver's message).
fn campaign_lookup(c: &mut Criterion) {
    use aupgate::store::rocks::RocksStore;
    use aupgate::store::RateStore;
    const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
    let dir = tempfile::tempdir().expect("tmp");
    let store = RocksStore::open(dir.path(), DAY).expect("open");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let newsletters: Vec<Vec<u64>> = (0..64)
        .map(|s| fingerprint(&message_of_size(s, 2 * 1024)).band_keys())
        .collect();
    let mean = newsletters.iter().map(Vec::len).sum::<usize>() as f64 / newsletters.len() as f64;
    println!("campaign_lookup: a 2 KiB newsletter has {mean:.1} band keys on average");
    let exact: Vec<Vec<u64>> = (0..64u64)
        .map(|s| vec![aupgate::fingerprint::minhash::mix64(s)])
        .collect();
    let mut g = c.benchmark_group("campaign_lookup");
    g.throughput(Throughput::Elements(1));
    for (label, sets) in [("2KiB newsletter keys", &newsletters), ("one exact key", &exact)] {
        g.bench_function(label, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    for i in 0..iters as usize {
                        let keys = &sets[i % sets.len()];
                        let candidate = format!("{:016x}", keys.iter().copied().min().unwrap_or(0));
                        store
                            .campaign_lookup_or_insert("bench", keys, &candidate, now, DAY, &[])
                            .await
                            .expect("lookup");
                    }
                    t.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, throughput, campaign_lookup, quality);
criterion_main!(benches);
