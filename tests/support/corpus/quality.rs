//! Scores a grouping of messages by fingerprint against the corpus ground truth, the way the
//! store will group mail. Test and benchmark support; not used at run time.

use super::Message;
use aupgate::fingerprint::Fingerprint;
use std::collections::{HashMap, HashSet};

/// Grouping quality of a corpus, measured as the store will group mail: messages that share any
/// band key are in one group (union-find over band-key collisions, transitively).
///
/// - **recall** — for each campaign, the share of its copies in the group holding most of them,
///   weighted by copies: 1.0 when every campaign is one group.
/// - **false-merge pair rate** — pairs of messages in one group whose ground-truth groups
///   differ, divided by all pairs whose ground-truth groups differ.
/// - **false-merge message rate** — messages whose group also holds a message of another
///   ground-truth group, divided by all messages (the stricter figure: one wrong merge of two
///   campaigns of 40 counts 80 messages).
#[derive(Clone, Debug, Default)]
pub struct Quality {
    /// Messages evaluated.
    pub messages: usize,
    /// Groups formed.
    pub groups: usize,
    /// See the type docs.
    pub recall: f64,
    /// See the type docs.
    pub false_merge_pairs: f64,
    /// See the type docs.
    pub false_merge_messages: f64,
    /// Campaigns not entirely in one group.
    pub split_campaigns: usize,
    /// Groups holding more than one ground-truth group.
    pub mixed_groups: usize,
    /// Recall when messages are assigned one by one as a store that never merges campaigns
    /// would: a message joins the known campaign owning most of its band keys (ties: smallest
    /// id), else starts a new one ([`Fingerprint::campaign_id`]); its keys not yet known
    /// are then recorded for that campaign (known keys keep their owner).
    pub sequential_recall: f64,
    /// Messages (in that sequential assignment) put in a campaign owned by another ground-truth
    /// group, over all messages.
    pub sequential_false_merge_messages: f64,
}

/// Groups `fingerprints[i]` (of `messages[i]`) by band-key collision and scores the grouping.
pub fn evaluate(messages: &[Message], fingerprints: &[Fingerprint]) -> Quality {
    let n = messages.len().min(fingerprints.len());
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut owner: HashMap<u64, usize> = HashMap::new();
    for (i, f) in fingerprints.iter().take(n).enumerate() {
        for k in f.band_keys() {
            match owner.get(&k) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(k, i);
                }
            }
        }
    }
    // group root -> (truth group -> count)
    let mut groups: HashMap<usize, HashMap<usize, usize>> = HashMap::new();
    for (i, m) in messages.iter().take(n).enumerate() {
        let r = find(&mut parent, i);
        *groups.entry(r).or_default().entry(m.group).or_default() += 1;
    }
    let mut truth_sizes: HashMap<usize, usize> = HashMap::new();
    for m in messages.iter().take(n) {
        *truth_sizes.entry(m.group).or_default() += 1;
    }
    let pairs = |k: usize| (k * k.saturating_sub(1) / 2) as f64;
    let same_truth_pairs: f64 = truth_sizes.values().map(|&k| pairs(k)).sum();
    let cross_pairs_total = pairs(n) - same_truth_pairs;
    let (mut cross_in_groups, mut mixed_msgs, mut mixed_groups) = (0.0, 0, 0);
    // best group count per campaign
    let mut best: HashMap<usize, usize> = HashMap::new();
    for members in groups.values() {
        let size: usize = members.values().sum();
        let within: f64 = members.values().map(|&k| pairs(k)).sum();
        cross_in_groups += pairs(size) - within;
        if members.len() > 1 {
            mixed_msgs += size;
            mixed_groups += 1;
        }
        for (&g, &k) in members {
            let b = best.entry(g).or_default();
            *b = (*b).max(k);
        }
    }
    let (mut campaign_msgs, mut recalled, mut split) = (0, 0, 0);
    let campaigns: HashSet<usize> = messages
        .iter()
        .take(n)
        .filter(|m| m.is_campaign)
        .map(|m| m.group)
        .collect();
    for g in campaigns {
        let total = truth_sizes[&g];
        campaign_msgs += total;
        recalled += best[&g];
        if best[&g] < total {
            split += 1;
        }
    }
    let (sequential_recall, sequential_false_merge_messages) = sequential(&messages[..n], &fingerprints[..n]);
    Quality {
        sequential_recall,
        sequential_false_merge_messages,
        messages: n,
        groups: groups.len(),
        recall: if campaign_msgs == 0 {
            1.0
        } else {
            recalled as f64 / campaign_msgs as f64
        },
        false_merge_pairs: if cross_pairs_total > 0.0 {
            cross_in_groups / cross_pairs_total
        } else {
            0.0
        },
        false_merge_messages: if n == 0 { 0.0 } else { mixed_msgs as f64 / n as f64 },
        split_campaigns: split,
        mixed_groups,
    }
}

/// The store's one-pass assignment (`RateStore::campaign_lookup_or_insert`): the campaign most
/// of the band keys map to (a tie: the smallest id), which then takes every key; returns
/// (recall, false-merge message rate).
fn sequential(messages: &[Message], fingerprints: &[Fingerprint]) -> (f64, f64) {
    let mut founder: HashMap<u64, usize> = HashMap::new(); // campaign -> truth group of its first message
    let mut per_truth: HashMap<usize, HashMap<u64, usize>> = HashMap::new();
    let mut wrong = 0;
    for (m, campaign) in messages.iter().zip(assign(messages, fingerprints)) {
        let first = *founder.entry(campaign).or_insert(m.group);
        if first != m.group {
            wrong += 1;
        }
        *per_truth.entry(m.group).or_default().entry(campaign).or_default() += 1;
    }
    let campaigns: HashSet<usize> = messages.iter().filter(|m| m.is_campaign).map(|m| m.group).collect();
    let (mut total, mut best) = (0, 0);
    for (g, camps) in &per_truth {
        if campaigns.contains(g) {
            total += camps.values().sum::<usize>();
            best += camps.values().max().copied().unwrap_or(0);
        }
    }
    let recall = if total == 0 { 1.0 } else { best as f64 / total as f64 };
    let n = messages.len().max(1);
    (recall, wrong as f64 / n as f64)
}

/// One family's figures under the store's one-pass assignment.
#[derive(Clone, Debug, Default)]
pub struct FamilyScore {
    pub family: &'static str,
    pub messages: usize,
    /// Campaign families: the share of copies in the campaign holding most of their campaign.
    pub recall: Option<f64>,
    /// Share of the family's messages in a campaign that also holds another ground-truth group.
    pub false_merged: f64,
}

/// Per-family scores of the store's one-pass assignment (see [`Quality::sequential_recall`]).
pub fn per_family(messages: &[Message], fingerprints: &[Fingerprint]) -> Vec<FamilyScore> {
    let assigned = assign(messages, fingerprints);
    let mut truths: HashMap<u64, HashSet<usize>> = HashMap::new();
    for (m, c) in messages.iter().zip(&assigned) {
        truths.entry(*c).or_default().insert(m.group);
    }
    let mut per_truth: HashMap<usize, HashMap<u64, usize>> = HashMap::new();
    for (m, c) in messages.iter().zip(&assigned) {
        *per_truth.entry(m.group).or_default().entry(*c).or_default() += 1;
    }
    let mut families: Vec<&'static str> = messages.iter().map(|m| m.family).collect();
    families.sort();
    families.dedup();
    families
        .into_iter()
        .map(|family| {
            let mine: Vec<(&Message, u64)> = messages
                .iter()
                .zip(&assigned)
                .filter(|(m, _)| m.family == family)
                .map(|(m, c)| (m, *c))
                .collect();
            let false_merged = mine.iter().filter(|(_, c)| truths[c].len() > 1).count();
            let campaign = mine.iter().any(|(m, _)| m.is_campaign);
            let recall = campaign.then(|| {
                let groups: HashSet<usize> = mine.iter().map(|(m, _)| m.group).collect();
                let (mut best, mut total) = (0, 0);
                for g in groups {
                    let camps = &per_truth[&g];
                    total += camps.values().sum::<usize>();
                    best += camps.values().max().copied().unwrap_or(0);
                }
                best as f64 / total.max(1) as f64
            });
            FamilyScore {
                family,
                messages: mine.len(),
                recall,
                false_merged: false_merged as f64 / mine.len().max(1) as f64,
            }
        })
        .collect()
}

/// The campaign the store assigns each message, in order (see `sequential`).
pub fn assign(messages: &[Message], fingerprints: &[Fingerprint]) -> Vec<u64> {
    let mut owner: HashMap<u64, u64> = HashMap::new();
    let mut out = Vec::with_capacity(messages.len());
    for f in fingerprints.iter().take(messages.len()) {
        let keys = f.band_keys();
        let mut votes: Vec<(u64, usize)> = Vec::new();
        for k in &keys {
            if let Some(&c) = owner.get(k) {
                match votes.iter_mut().find(|(v, _)| *v == c) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((c, 1)),
                }
            }
        }
        let campaign = votes
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or_else(|| f.campaign_id(), |&(c, _)| c);
        for k in keys {
            owner.insert(k, campaign);
        }
        out.push(campaign);
    }
    out
}
