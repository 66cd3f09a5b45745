//! `aupgate policy check` / `replay`: offline evaluation with the real binary, printing one JSON
//! line per message with verdict, reply and rule, then a summary.

use std::process::Command;

fn newsletter(n: usize, to: &str) -> String {
    format!(
        "From: News <news@shop.example>\nTo: {to}\nSubject: Weekly deals {n}\n\nHello Customer {n},\n\n\
         this week's deals: garden tools, kitchen knives and the reading lamps everybody loved.\n\
         Prices drop on Thursday; order by Sunday for free shipping. Code: W{n:05}\n\
         https://shop.example/deals?r={n:x}\n"
    )
}

fn run(args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let output = Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (output.status.code().unwrap_or(-1), lines)
}

#[test]
fn replay_directory_applies_the_bulk_rule_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..25 {
        std::fs::write(
            dir.path().join(format!("{n:03}.eml")),
            newsletter(n, &format!("person{n}@dest.example")),
        )
        .unwrap();
    }
    let (_, lines) = run(&["policy", "replay", dir.path().to_str().unwrap(), "--profile", "spcm"]);
    assert_eq!(lines.len(), 26);
    for line in &lines[..20] {
        assert_eq!(line["verdict"], "accept", "{line}");
    }
    for line in &lines[20..25] {
        assert_eq!(line["verdict"], "reject", "{line}");
        assert_eq!(line["rule"], "bulk.max_recipients");
        assert!(line["reply"].as_str().unwrap().starts_with("550 5.7.1"));
        assert!(line["file"].as_str().unwrap().ends_with(".eml"));
    }
    assert_eq!(lines[25]["summary"]["accept"], 20);
    assert_eq!(lines[25]["summary"]["reject"], 5);
}

#[test]
fn replay_mbox_applies_the_mail_bomb_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mbox: String = (0..12)
        .map(|n| {
            format!(
                "From news@shop.example Mon Nov 23 10:00:{n:02} 2026\n{}\n",
                newsletter(n, "victim@dest.example")
            )
        })
        .collect();
    let path = dir.path().join("yesterday.mbox");
    std::fs::write(&path, mbox).unwrap();
    let (_, lines) = run(&[
        "policy",
        "replay",
        path.to_str().unwrap(),
        "--profile",
        "policies/spcm.toml",
    ]);
    assert_eq!(lines.len(), 13);
    assert!(lines[..10].iter().all(|l| l["verdict"] == "accept"));
    assert_eq!(lines[10]["rule"], "mail_bomb.max_messages");
    assert_eq!(lines[11]["rule"], "mail_bomb.max_messages");
}

#[test]
fn check_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.eml");
    std::fs::write(&path, newsletter(1, "a@dest.example")).unwrap();
    let (_, lines) = run(&["policy", "check", path.to_str().unwrap(), "--profile", "default"]);
    assert_eq!(lines[0]["verdict"], "accept");
    assert_eq!(lines[0]["recipients"], 1);
}
