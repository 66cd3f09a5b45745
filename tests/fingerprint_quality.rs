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

#[test]
#[ignore]
fn diag() {
    use aupgate::fingerprint::normalize;
    let cfg = CorpusConfig { seed: 0x5eed, campaigns: 100, copies: 20, one_offs: 600, family_size: 20 };
    let corpus = generate(&cfg);
    let fps: Vec<Fingerprint> = corpus.iter().map(|m| fingerprint(&m.bytes)).collect();
    // min intra-campaign similarity, max cross similarity
    let mut min_intra = 1.0f64;
    let mut hist = [0usize; 11];
    let mut shown = 0;
    for i in 0..corpus.len() {
        for j in (i + 1)..corpus.len() {
            let s = fps[i].similarity(&fps[j]);
            if corpus[i].group == corpus[j].group {
                min_intra = min_intra.min(s);
            } else {
                hist[(s * 10.0) as usize] += 1;
                let shared = fps[i].band_keys().iter().any(|k| fps[j].band_keys().contains(k));
                if shared && shown < 6 {
                    shown += 1;
                    println!("--- {} vs {} sim {s}\nA: {}\nB: {}", corpus[i].group, corpus[j].group, normalize(&corpus[i].bytes), normalize(&corpus[j].bytes));
                }
            }
        }
    }
    println!("min intra {min_intra} cross hist {hist:?}");
}
