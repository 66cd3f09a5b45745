//! Grouping quality of the fingerprint on a generated corpus (`fingerprint::corpus`): messages
//! are grouped the way the store groups them — any shared LSH band key puts two messages in one
//! campaign, transitively (union-find) — and the grouping is scored against the ground truth.
//!
//! Asserted: recall ≥ 99% (copies of one campaign in one group) and false merges ≤ 0.1% of the
//! pairs of messages from different campaigns / one-offs (see `corpus::Quality` for the exact
//! definitions; the stricter per-message figure is printed and bounded too).
//!
//! `cargo test --test fingerprint_quality -- --nocapture` prints the figures.

use aupgate::fingerprint::corpus::{evaluate, generate, CorpusConfig};
use aupgate::fingerprint::{fingerprint, Fingerprint};

#[test]
fn campaigns_group_and_unrelated_mail_does_not() {
    let cfg = CorpusConfig {
        seed: 0x5eed,
        campaigns: 100,
        copies: 20,
        one_offs: 600,
        family_size: 20,
    };
    let corpus = generate(&cfg);
    let fps: Vec<Fingerprint> = corpus.iter().map(|m| fingerprint(&m.bytes)).collect();
    let q = evaluate(&corpus, &fps);
    println!("{q:#?}");
    assert_eq!(q.messages, 100 * 20 + 600);
    assert!(q.recall >= 0.99, "recall {}", q.recall);
    assert!(
        q.false_merge_pairs <= 0.001,
        "false-merge pairs {}",
        q.false_merge_pairs
    );
    assert!(
        q.false_merge_messages <= 0.01,
        "false-merge messages {}",
        q.false_merge_messages
    );
}

/// The same on larger corpora and several seeds (about a minute in a debug build).
#[test]
#[ignore = "slow in debug builds; run with --ignored"]
fn larger_corpora_several_seeds() {
    for seed in 1..=5u64 {
        let cfg = CorpusConfig {
            seed,
            campaigns: 200,
            copies: 30,
            one_offs: 2000,
            family_size: 25,
        };
        let corpus = generate(&cfg);
        let fps: Vec<Fingerprint> = corpus.iter().map(|m| fingerprint(&m.bytes)).collect();
        let q = evaluate(&corpus, &fps);
        println!("seed {seed}: {q:?}");
        assert!(q.recall >= 0.99 && q.sequential_recall >= 0.99, "{q:?}");
        assert!(
            q.false_merge_pairs <= 0.001 && q.false_merge_messages <= 0.01,
            "{q:?}"
        );
    }
}

#[test]
#[ignore]
fn tmp_timing() {
    use aupgate::fingerprint::corpus::message_of_size;
    for size in [2048usize, 50 * 1024] {
        let msgs: Vec<Vec<u8>> = (0..16).map(|s| message_of_size(s, size)).collect();
        let n = if size < 10_000 { 200_000 } else { 10_000 };
        let t = std::time::Instant::now();
        let mut acc = 0u64;
        for i in 0..n {
            acc ^= fingerprint(&msgs[i % 16]).band_keys()[0];
        }
        let el = t.elapsed();
        let t2 = std::time::Instant::now();
        for i in 0..n {
            acc ^= aupgate::fingerprint::normalize(&msgs[i % 16]).len() as u64;
        }
        let el2 = t2.elapsed();
        println!("{size} bytes (actual {}): {:?}/msg fingerprint+keys, {:?}/msg normalize, {:.0} msg/s {acc}", msgs[0].len(), el / n as u32, el2 / n as u32, n as f64 / el.as_secs_f64());
    }
}
