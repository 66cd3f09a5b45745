//! Real prose the project did not write, for unrelated mail and hash-busters: sentences from the
//! package documentation installed on the machine (`/usr/share/doc/*/README*`, `NEWS*`, `*.md`,
//! `*.txt`, gzip-compressed or not), read in sorted order, so one machine gives one corpus.
//!
//! Not copyright files or `/usr/share/common-licenses`, although a minimal Debian image keeps only
//! those: licence text reads as a legal notice, which the fingerprint drops on purpose as
//! boilerplate, so as "unrelated mail" it would leave newsletter issues without their articles.
//! Where fewer than [`MIN_SENTENCES`] are found (a minimal image) the generators use generated
//! sentences instead, and the test says which it used.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Sentences wanted; reading stops there.
const WANT: usize = 20_000;
/// Fewer than this and the prose is not used.
pub const MIN_SENTENCES: usize = 500;

/// Sentences of real prose.
#[derive(Debug, Default)]
pub struct Prose {
    pub sentences: Vec<String>,
    /// Files the sentences came from.
    pub files: usize,
}

impl Prose {
    /// Reads the machine's documentation (see the module docs).
    pub fn load() -> Prose {
        let mut prose = Prose::default();
        let mut seen = std::collections::HashSet::new();
        let docs = sorted_dirs(Path::new("/usr/share/doc"));
        let readable = |name: &str| {
            let n = name.to_ascii_lowercase();
            n.starts_with("readme")
                || n.starts_with("news")
                || n.ends_with(".md")
                || n.ends_with(".md.gz")
                || n.ends_with(".txt")
                || n.ends_with(".txt.gz")
        };
        // `FPQ_PROSE=none` reads nothing: how the corpus behaves on a bare machine (the generated
        // sentences stand in).
        let only = std::env::var("FPQ_PROSE").unwrap_or_default();
        if only == "none" {
            return prose;
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for dir in &docs {
            files.extend(
                sorted_files(dir)
                    .into_iter()
                    .filter(|f| f.file_name().and_then(|n| n.to_str()).is_some_and(readable)),
            );
        }
        for file in files {
            if prose.sentences.len() >= WANT {
                break;
            }
            let Some(text) = read_text(&file) else { continue };
            let before = prose.sentences.len();
            for sentence in sentences(&text) {
                if seen.insert(sentence.clone()) {
                    prose.sentences.push(sentence);
                }
            }
            if prose.sentences.len() > before {
                prose.files += 1;
            }
        }
        prose
    }

    /// Whether there is enough to use.
    pub fn usable(&self) -> bool {
        self.sentences.len() >= MIN_SENTENCES
    }
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn sorted_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn read_text(path: &Path) -> Option<String> {
    let raw = std::fs::read(path).ok()?;
    if raw.len() > 4 << 20 {
        return None;
    }
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(4 << 20)
            .read_to_end(&mut out)
            .ok()?;
        out
    } else {
        raw
    };
    String::from_utf8(bytes).ok()
}

/// Sentences of 6–40 words that read as prose: mostly alphabetic words, no markup.
fn sentences(text: &str) -> Vec<String> {
    let flat: String = text
        .lines()
        .map(|l| l.trim().trim_start_matches(['#', '*', '-', '>', ' ']))
        .collect::<Vec<_>>()
        .join(" ");
    flat.split_inclusive(['.', '?', '!'])
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| {
            let words: Vec<&str> = s.split(' ').collect();
            let alphabetic = words
                .iter()
                .filter(|w| w.chars().all(|c| c.is_alphabetic() || ",.;:'?!()".contains(c)))
                .count();
            (6..=40).contains(&words.len())
                && alphabetic * 10 >= words.len() * 8
                && !s.contains(['<', '>', '{', '}', '=', '|', '`', '_', '@', '/'])
                && s.chars().next().is_some_and(char::is_uppercase)
        })
        .collect()
}
