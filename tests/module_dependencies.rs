//! The dependency directions `lib.rs` states, checked on the source: a module that must not
//! depend on another never names it (`crate::other`, or the engine from the checks). Issue 15
//! broke these cycles; this keeps them broken.

use std::path::Path;

/// Every `.rs` file under `dir`, with its text, test modules included (a test may not bring a
/// cycle back either).
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source");
                out.push((path.display().to_string(), text));
            }
        }
    }
    out
}

/// The files of `module` (a directory or a `.rs` file under `src/`) that name one of `forbidden`.
fn offenders(module: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let dir = root.join(module);
    let mut files = if dir.is_dir() { sources(&dir) } else { Vec::new() };
    let file = root.join(format!("{module}.rs"));
    if file.is_file() {
        files.push((file.display().to_string(), std::fs::read_to_string(&file).unwrap()));
    }
    assert!(!files.is_empty(), "no sources for {module}");
    files
        .into_iter()
        .filter_map(|(path, text)| {
            let hits: Vec<&str> = forbidden.iter().copied().filter(|f| text.contains(f)).collect();
            (!hits.is_empty()).then(|| format!("{path}: {hits:?}"))
        })
        .collect()
}

#[test]
fn policy_never_depends_on_smtp() {
    assert_eq!(offenders("policy", &["crate::smtp"]), Vec::<String>::new());
}

#[test]
fn the_checks_never_name_the_engine() {
    assert_eq!(
        offenders(
            "policy/checks",
            &["policy::engine", "super::engine", "super::super::engine"]
        ),
        Vec::<String>::new()
    );
}

#[test]
fn the_tenant_module_never_reads_the_config() {
    assert_eq!(offenders("tenant", &["crate::config"]), Vec::<String>::new());
}

#[test]
fn the_queue_never_depends_on_the_relay() {
    assert_eq!(offenders("queue", &["crate::relay"]), Vec::<String>::new());
}

#[test]
fn the_config_never_depends_on_smtp() {
    assert_eq!(offenders("config", &["crate::smtp"]), Vec::<String>::new());
}

#[test]
fn wire_is_a_leaf() {
    let others = [
        "crate::smtp",
        "crate::policy",
        "crate::relay",
        "crate::queue",
        "crate::store",
        "crate::config",
        "crate::tenant",
        "crate::complaints",
        "crate::admin",
    ];
    assert_eq!(offenders("wire", &others), Vec::<String>::new());
}
