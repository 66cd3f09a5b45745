//! `[attachments]`: dangerous attachments (the `attachments.dangerous` check).

use serde::{Deserialize, Serialize};

use super::Section;
use crate::config::Collector;

/// `[attachments]`: letter bombing, attachments that can harm the recipient's computer.
/// Refusals are `550 5.7.1` naming the file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Attachments {
    pub enabled: bool,
    /// File extensions (without the dot, any case) that are refused.
    pub extensions: Vec<String>,
    /// Also refuse names dressed as another type: bidirectional-override or invisible
    /// characters, or blank padding before the last extension (`invoice.pdf      .exe`).
    pub block_double_extensions: bool,
    /// Look at the file names inside archive attachments (ZIP, gzip, tar, nested: `inspect::archives`).
    pub inspect_archives: bool,
}

impl Default for Attachments {
    fn default() -> Self {
        Self {
            enabled: true,
            extensions: [
                "exe",
                "scr",
                "com",
                "bat",
                "cmd",
                "pif",
                "vbs",
                "vbe",
                "js",
                "jse",
                "wsf",
                "wsh",
                "msi",
                "msp",
                "hta",
                "cpl",
                "jar",
                "ps1",
                "lnk",
                "reg",
                "iso",
                "img",
                "vhd",
                "vhdx",
                "url",
                "scf",
                "appx",
                "appxbundle",
                "msix",
                "msixbundle",
                "application",
                "appref-ms",
                "one",
                "chm",
                "xll",
                "iqy",
                "slk",
                "library-ms",
                "search-ms",
                "settingcontent-ms",
                "sct",
                "ws",
                "inf",
                "gadget",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            block_double_extensions: true,
            inspect_archives: true,
        }
    }
}

impl Section for Attachments {
    fn validate(&self, errors: &mut Collector) {
        if self.enabled && self.extensions.is_empty() {
            errors.push(
                "attachments.extensions",
                "must list at least one extension (or set attachments.enabled = false)",
            );
        }
        for (i, ext) in self.extensions.iter().enumerate() {
            let word = |c: char| c.is_ascii_alphanumeric();
            if ext.len() > 24
                || !ext.starts_with(word)
                || !ext.ends_with(word)
                || !ext.chars().all(|c| word(c) || c == '-')
            {
                errors.push(
                    format!("attachments.extensions[{i}]"),
                    format!("`{ext}` is not an extension (letters, digits and inner hyphens, no dot)"),
                );
            }
        }
    }
}
