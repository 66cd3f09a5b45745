//! `aupgate dkim` through the real binary: generate writes a private key only its owner can read
//! and prints the record to publish (never the key); list shows it; rotation and retire.

use std::process::Command;

fn aupgate(config: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .arg("dkim")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("aupgate.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nhostname = \"gw.test\"\ndata_dir = \"{}\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn generate_writes_a_private_key_and_prints_only_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let (code, out, err) = aupgate(&config, &["generate", "Acme.Example", "--selector", "s1"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("s1._domainkey.acme.example. IN TXT ( \"v=DKIM1; k=rsa; p=MIIB"),
        "{out}"
    );
    let key_path = dir.path().join("data/dkim/acme.example/s1.pem");
    let pem = std::fs::read_to_string(&key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let secret_line = pem.lines().nth(1).unwrap();
    assert!(
        !out.contains(secret_line) && !err.contains(secret_line),
        "the key never leaves the file"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The same selector again is refused; a second selector (rotation) is fine.
    let (code, _, err) = aupgate(&config, &["generate", "acme.example", "--selector", "s1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("already exists"), "{err}");
    let (code, out, err) = aupgate(
        &config,
        &["generate", "acme.example", "--selector", "s2", "--algorithm", "ed25519"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("s2._domainkey.acme.example. IN TXT ( \"v=DKIM1; k=ed25519; p="),
        "{out}"
    );

    let (code, out, _) = aupgate(&config, &["list"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|l| l.starts_with("acme.example\t")), "{out}");
    assert!(!out.contains("PRIVATE"));

    let (code, _, err) = aupgate(&config, &["retire", "acme.example", "s1"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!key_path.exists());
    let (code, _, err) = aupgate(&config, &["retire", "acme.example", "s1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no key for selector `s1`"), "{err}");
}

#[test]
fn bad_arguments_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let (code, _, err) = aupgate(&config, &["generate", "acme.example", "--algorithm", "dsa"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--algorithm must be rsa2048 or ed25519"), "{err}");
    let (code, _, err) = aupgate(&config, &["generate", "not a domain"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is not a domain name"), "{err}");
    let (code, _, err) = aupgate(&config, &["generate", "acme.example", "--selector", "../../etc"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is not a selector"), "{err}");
    assert!(!dir.path().join("data/dkim/acme.example").join("../../etc.pem").exists());
}
