//! `[fingerprint]`: when two messages fall in one campaign.

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::Collector;

/// `[fingerprint]`: when two messages are "substantively similar" (DESIGN): the estimated
/// Jaccard similarity of their normalised bodies at which they fall in one campaign, 0.5–0.95.
/// The campaign index bands the MinHash signature for it (`fingerprint::Banding`); 0.7 is what
/// the quality benchmark measures, and changing it starts new campaign keys.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FingerprintRules {
    pub similarity: f64,
}

impl Default for FingerprintRules {
    fn default() -> Self {
        Self {
            similarity: crate::fingerprint::THRESHOLD,
        }
    }
}

impl Section for FingerprintRules {
    fn validate(&self, errors: &mut Collector) {
        if !(0.5..=0.95).contains(&self.similarity) {
            errors.push(
                "fingerprint.similarity",
                "must be between 0.5 and 0.95 (the estimated share of a body two messages have in common)",
            );
        }
    }
}
