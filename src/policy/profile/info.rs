//! `[profile]`: the profile's name and description.

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::Collector;

/// `[profile]`: what the profile is.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileInfo {
    /// Name tenants refer to (`profile = "spcm"`).
    pub name: String,
    /// One line for operators.
    pub description: String,
}

impl Default for ProfileInfo {
    fn default() -> Self {
        Self {
            name: "default".into(),
            description: String::new(),
        }
    }
}

impl Section for ProfileInfo {
    fn validate(&self, errors: &mut Collector) {
        if self.name.trim().is_empty() {
            errors.push("profile.name", "must not be empty");
        }
    }
}
