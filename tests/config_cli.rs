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
max_path_length = 100
[relay]
mode = "pigeon"
[[listener]]
address = "nowhere"
tls = "sometimes"
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
        // Reported in the same run as the section's key that did not parse.
        "limits.max_path_length",
        "relay.mode",
        "listener[0].address",
        "listener[0].tls",
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
    assert!(
        output.stderr.is_empty(),
        "no warnings: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn check_config_warns_of_a_message_size_the_memory_budget_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.toml");
    std::fs::write(
        &path,
        "[limits]\nmax_data_in_flight = \"64KiB\"\nmax_message_size = \"200KiB\"\n",
    )
    .unwrap();
    let output = check_config(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: limits.max_data_in_flight (64KiB) is less than 3 × limits.max_message_size (200KiB)"),
        "{stderr}"
    );
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
    let check = check_config(&path);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("tenant[1].id"), "{stderr}");
    // The id is reported first (the config's own errors); with it fixed, the profile.
    std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("a b", "b")).unwrap();
    let check = check_config(&path);
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

/// `aupgate hash-password` refuses an empty password rather than hash it.
#[test]
fn hash_password_refuses_an_empty_password() {
    use std::io::Write;
    let hash = |input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_aupgate"))
            .arg("hash-password")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let empty = hash("\n");
    assert_eq!(empty.status.code(), Some(2));
    assert!(empty.stdout.is_empty());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("an empty password is refused"));
    let good = hash("s3cret\n");
    assert!(good.status.success());
    assert!(String::from_utf8_lossy(&good.stdout).starts_with("$argon2id$"));
}

/// Text logs written anywhere but a terminal (a file, journald) carry no colour escape codes.
#[test]
fn logs_to_a_file_have_no_colour_codes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gw.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = \"{d}/data\"\n[admin]\naddress = \"127.0.0.1:0\"\n\
             [[listener]]\naddress = \"127.0.0.1:0\"\ntls = \"none\"\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("NO_COLOR")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok(line) = received.recv_timeout(std::time::Duration::from_secs(20)) {
        let done = line.contains("DKIM keys loaded");
        seen.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen.iter().any(|l| l.contains("DKIM keys loaded")), "{seen:#?}");
    assert!(seen.iter().all(|l| !l.contains('\u{1b}')), "{seen:#?}");
}

/// `aupgate check-config PATH`.
fn check_config(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .arg("check-config")
        .arg(path)
        .output()
        .unwrap()
}
