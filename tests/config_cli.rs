//! The binary's config handling: a bad config reports every error with its path and exits non-zero.

use std::process::Command;

#[test]
fn bad_config_reports_all_errors_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"
[server]
hostnme = "typo"
[limits]
command_timeout = "soon"
[relay]
mode = "pigeon"
[[listener]]
address = "nowhere"
[[tenant]]
id = "t"
networks = ["300.0.0.0/8"]
"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for path in [
        "server.hostnme",
        "limits.command_timeout",
        "relay.mode",
        "listener[0].address",
        "tenant[0].networks[0]",
    ] {
        assert!(stderr.contains(path), "{path} missing from:\n{stderr}");
    }
}

#[test]
fn check_config_accepts_the_demo_config() {
    let output = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args([
            "check-config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/aupgate.demo.toml"),
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn policy_lint_accepts_the_presets_and_reports_errors_with_paths() {
    for preset in [
        "default",
        "spcm",
        "pageant-server",
        "socketlabs",
        "ims-network",
        "integra",
    ] {
        let path = format!("{}/policies/{preset}.toml", env!("CARGO_MANIFEST_DIR"));
        let output = Command::new(env!("CARGO_BIN_EXE_aupgate"))
            .args(["policy", "lint", &path])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{preset}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[bulk]\nmax_recipients = 0\n[mail_bomb]\nwindow = \"soon\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args(["policy", "lint"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bulk.max_recipients") && stderr.contains("mail_bomb.window"),
        "{stderr}"
    );
}

/// `aupgate … | head -1`: a reader that closed the pipe ends the command quietly with status 0,
/// not with a panic (Rust ignores SIGPIPE, so every write fails with EPIPE instead).
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.toml");
    std::fs::write(&path, "").unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args(["check-config"])
        .arg(&path)
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A tenant naming a profile the policy directory lacks, or with an id the admin API would
/// refuse: `check-config` reports both (as `serve` refuses them), and `serve` stops before it
/// writes anything (a store it had opened would keep the tenant's record).
#[test]
fn check_config_and_serve_refuse_a_tenant_profile_that_is_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = dir.path().join("gw.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\ndata_dir = \"{}\"\n[policy]\ndirectory = \"{}\"\n\
             [[tenant]]\nid = \"acme\"\nprofile = \"nosuch\"\n[[tenant]]\nid = \"a b\"\n",
            data.display(),
            dir.path().join("policies").display()
        ),
    )
    .unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tenant[1].id"), "{stderr}");
    // The id is reported first (the config's own errors); with it fixed, the profile.
    std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("a b", "b")).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("tenant[0].profile") && stderr.contains("`nosuch` is not a profile"),
        "{stderr}"
    );
    let serve = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(!serve.status.success(), "{stderr}");
    assert!(stderr.contains("`nosuch` is not a profile"), "{stderr}");
    assert!(
        !data.exists(),
        "serve wrote {} before refusing the config",
        data.display()
    );
}
