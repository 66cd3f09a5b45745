//! Grouping quality of the fingerprint on a generated corpus (`fingerprint::corpus`): messages
//! are grouped the way the store groups them — any shared LSH band key puts two messages in one
//! campaign, transitively (union-find) — and the grouping is scored against the ground truth.
//!
//! Asserted: recall ≥ 99% (copies of one campaign in one group) and false merges ≤ 0.1% of the
//! pairs of messages from different campaigns / one-offs (see `fingerprint::quality::Quality` for the exact
//! definitions; the stricter per-message figure is printed and bounded too). The store's own
//! one-pass assignment (`sequential_recall`: each message joins the campaign most of its band
//! keys map to and re-points the rest, as `campaign_lookup_or_insert` does) is held to the same
//! ≥ 99%: two early copies that happen not to collide start two campaigns, and the copies that
//! follow converge on one.
//!
//! `cargo test --test fingerprint_quality -- --nocapture` prints the figures.

use aupgate::fingerprint::corpus::{generate, CorpusConfig};
use aupgate::fingerprint::quality::evaluate;
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
        q.sequential_recall >= 0.99,
        "the store's recall {}",
        q.sequential_recall
    );
    assert!(q.sequential_false_merge_messages <= 0.001, "{q:?}");
    assert!(
        q.false_merge_pairs <= 0.001,
        "false-merge pairs {}",
        q.false_merge_pairs
    );
    assert!(
        q.false_merge_messages <= 0.001,
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
        assert!(q.sequential_false_merge_messages <= 0.001, "{q:?}");
        assert!(q.false_merge_pairs <= 0.001 && q.false_merge_messages <= 0.001, "{q:?}");
    }
}
