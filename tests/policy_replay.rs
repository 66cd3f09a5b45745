//! `aupgate policy check` / `replay`: offline evaluation with the real binary, printing one JSON
//! line per message with verdict, reply and rule (then, for replay, a summary); the sending
//! tenant from `--tenant` or from who owns the sender domain; the envelope from `--mail-from` /
//! `--rcpt-to` or from the headers.

use std::process::Command;

#[path = "support/fixtures.rs"]
mod fixtures;

use fixtures::newsletter_file;

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

/// `aupgate policy check FILE --profile default` with `extra` arguments.
fn check(file: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["policy", "check", file, "--profile", "default"];
    args.extend_from_slice(extra);
    run(&args).1
}

#[test]
fn replay_directory_applies_the_bulk_rule_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..25 {
        std::fs::write(
            dir.path().join(format!("{n:03}.eml")),
            newsletter_file("Customer", &format!("person{n}@dest.example"), n),
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
    // Every message, accepted or refused, names its campaign, and the copies share one.
    let campaign = lines[0]["campaign"].as_str().expect("a campaign id").to_string();
    assert_eq!(campaign.len(), 16, "{campaign}");
    for line in &lines[..25] {
        assert_eq!(line["campaign"], campaign.as_str(), "{line}");
    }
}

#[test]
fn replay_mbox_applies_the_mail_bomb_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mbox: String = (0..12)
        .map(|n| {
            format!(
                "From news@shop.example Mon Nov 23 10:00:{n:02} 2026\n{}\n",
                newsletter_file("Customer", "victim@dest.example", n)
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

/// Each message is evaluated at its Date: eleven similar mails in one day are a mail bomb, the
/// same eleven spread over three days are not; a message without a Date takes the time of the
/// one before it.
#[test]
fn replay_evaluates_each_message_at_its_date() {
    let dir = tempfile::tempdir().unwrap();
    let dated = |n: usize, date: &str| {
        format!(
            "Date: {date}\n{}",
            newsletter_file("Customer", "victim@dest.example", n)
        )
    };
    // An undated message first, and one dated far in the future in the middle: neither moves
    // the clock away from the mail's own days.
    let mut mbox = format!(
        "From news@shop.example Mon Nov 23 10:00:00 2026\n{}\n",
        newsletter_file("Customer", "someone@dest.example", 99)
    );
    for n in 0..10 {
        let date = format!("Mon, 12 Oct 2026 {:02}:00:00 +0000", n + 1);
        mbox.push_str(&format!(
            "From news@shop.example Mon Nov 23 10:00:00 2026\n{}\n",
            dated(n, &date)
        ));
    }
    // The 11th within 24 hours of the first, dated in 2099: it takes the 10th's time.
    mbox.push_str(&format!(
        "From news@shop.example Mon Nov 23 10:00:00 2026\n{}\n",
        dated(10, "Thu, 01 Jan 2099 00:00:00 +0000")
    ));
    // Two days later the first ten have left the window.
    mbox.push_str(&format!(
        "From news@shop.example Wed Nov 25 10:00:00 2026\n{}\n",
        dated(11, "Wed, 14 Oct 2026 10:00:00 +0100")
    ));
    let path = dir.path().join("week.mbox");
    std::fs::write(&path, mbox).unwrap();
    let (_, all) = run(&["policy", "replay", path.to_str().unwrap(), "--profile", "spcm"]);
    assert_eq!(
        all[0]["at"], 1_791_766_800_000u64,
        "the undated first message takes the first date"
    );
    let lines = &all[1..];
    assert_eq!(lines.len(), 13, "{lines:?}");
    assert!(lines[..10].iter().all(|l| l["verdict"] == "accept"), "{lines:?}");
    assert_eq!(lines[10]["rule"], "mail_bomb.max_messages", "{}", lines[10]);
    assert_eq!(lines[10]["at"], lines[9]["at"]);
    assert_eq!(lines[0]["at"], 1_791_766_800_000u64, "Mon, 12 Oct 2026 01:00:00 UTC");
    assert_eq!(lines[11]["verdict"], "accept", "{}", lines[11]);
    assert_eq!(lines[11]["at"], 1_791_968_400_000u64, "Wed, 14 Oct 2026 09:00:00 UTC");
}

#[test]
fn check_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.eml");
    std::fs::write(&path, newsletter_file("Customer", "a@dest.example", 1)).unwrap();
    let lines = check(path.to_str().unwrap(), &[]);
    assert_eq!(lines.len(), 1, "one line, no summary: {lines:?}");
    assert_eq!(lines[0]["verdict"], "accept");
    assert_eq!(lines[0]["recipients"], 1);

    // `--tenant T` alone names the tenant that owns the From domains.
    let lines = check(path.to_str().unwrap(), &["--tenant", "shop"]);
    assert_eq!(lines[0]["verdict"], "accept", "{lines:?}");
}

#[test]
fn check_takes_the_envelope_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.eml");
    std::fs::write(&path, newsletter_file("Customer", "a@dest.example", 1)).unwrap();
    let file = path.to_str().unwrap();
    let lines = check(
        file,
        &[
            "--mail-from",
            "bounces@shop.example",
            "--rcpt-to",
            "x@dest.example",
            "--rcpt-to",
            "<y@dest.example>",
        ],
    );
    assert_eq!(lines[0]["verdict"], "accept", "{lines:?}");
    assert_eq!(lines[0]["recipients"], 2, "the envelope's recipients, not To");
    // An envelope sender at a domain the tenant does not own is refused at MAIL FROM.
    let lines = check(file, &["--mail-from", "a@elsewhere.example"]);
    assert_eq!(lines[0]["verdict"], "reject", "{lines:?}");
    assert_eq!(lines[0]["rule"], "sender.domain");
    assert!(
        lines[0]["reply"].as_str().unwrap().starts_with("553 5.7.1"),
        "{lines:?}"
    );
}

#[test]
fn replay_with_a_tenants_file_attributes_each_message_to_its_domain_owner() {
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.toml");
    std::fs::write(
        &tenants,
        "[[tenant]]\nid = \"shop\"\ndomains = [\"shop.example\"]\n\n\
         [[tenant]]\nid = \"blog\"\ndomains = [\"blog.example\"]\n",
    )
    .unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    // 21 copies of one newsletter: 11 from shop, 10 from blog. Counted per tenant, neither
    // passes the bulk limit of 20 recipients; a message from a domain nobody owns is reported,
    // not evaluated.
    for n in 0..21 {
        let from = if n % 2 == 0 {
            "news@shop.example"
        } else {
            "news@blog.example"
        };
        let text = newsletter_file("Customer", &format!("person{n}@dest.example"), n).replacen(
            "News <news@shop.example>",
            from,
            1,
        );
        std::fs::write(mail.join(format!("{n:03}.eml")), text).unwrap();
    }
    std::fs::write(
        mail.join("999.eml"),
        newsletter_file("Customer", "z@dest.example", 99).replacen("news@shop.example", "x@nobody.example", 1),
    )
    .unwrap();
    let (_, lines) = run(&[
        "policy",
        "replay",
        mail.to_str().unwrap(),
        "--profile",
        "spcm",
        "--tenants",
        tenants.to_str().unwrap(),
    ]);
    assert_eq!(lines.len(), 23, "{lines:?}");
    assert!(lines[..21].iter().all(|l| l["verdict"] == "accept"), "{lines:?}");
    assert_eq!(lines[21]["verdict"], "unattributed");
    assert!(lines[21]["error"].as_str().unwrap().contains("nobody.example"));
    assert_eq!(lines[22]["summary"]["accept"], 21);
    assert_eq!(lines[22]["summary"]["unattributed"], 1);

    // The same mail as one tenant's crosses the limit.
    let (_, lines) = run(&["policy", "replay", mail.to_str().unwrap(), "--profile", "spcm"]);
    assert_eq!(lines[20]["rule"], "bulk.max_recipients", "{lines:?}");
}

#[test]
fn replay_names_the_campaign_of_every_message_even_refused_before_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.eml"),
        newsletter_file("Customer", "a@dest.example", 1),
    )
    .unwrap();
    // No recipient at all: refused before the message checks run.
    std::fs::write(
        dir.path().join("2.eml"),
        "From: Sue <sue@shop.example>\nSubject: notes\n\nThe quarterly budget review moved to Thursday afternoon, \
         please bring the warehouse figures and the signed insurance contract.\n",
    )
    .unwrap();
    let (_, lines) = run(&["policy", "replay", dir.path().to_str().unwrap(), "--profile", "default"]);
    assert_eq!(lines[0]["verdict"], "accept", "{}", lines[0]);
    assert_ne!(lines[1]["verdict"], "accept", "{}", lines[1]);
    let (a, b) = (
        lines[0]["campaign"].as_str().unwrap(),
        lines[1]["campaign"].as_str().unwrap(),
    );
    assert_eq!((a.len(), b.len()), (16, 16));
    assert_ne!(a, b);
}

#[test]
fn replay_refuses_mail_bombing_of_one_destination_system() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("system.toml");
    std::fs::write(
        &profile,
        "[bulk]\nmax_recipients = 1000\n[mail_bomb]\nmax_messages = 10\nmax_messages_per_domain = 3\n",
    )
    .unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    // Four copies to four addresses of one system, then one to another system.
    for n in 0..4 {
        std::fs::write(
            mail.join(format!("{n}.eml")),
            newsletter_file("Customer", &format!("user{n}@system.example"), 1),
        )
        .unwrap();
    }
    std::fs::write(mail.join("4.eml"), newsletter_file("Customer", "user@other.example", 1)).unwrap();
    let (_, lines) = run(&[
        "policy",
        "replay",
        mail.to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
    ]);
    for line in &lines[..3] {
        assert_eq!(line["verdict"], "accept", "{line}");
    }
    assert_eq!(lines[3]["verdict"], "reject", "{}", lines[3]);
    assert_eq!(lines[3]["rule"], "mail_bomb.max_messages_per_domain");
    let reply = lines[3]["reply"].as_str().unwrap();
    assert!(
        reply.starts_with("550 5.7.1 Mail bomb") && reply.contains("system.example"),
        "{reply}"
    );
    assert_eq!(lines[4]["verdict"], "accept", "{}", lines[4]);
}

#[test]
fn a_registered_bulk_sender_may_name_the_recipient_in_the_body_where_the_profile_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    for n in 0..4 {
        // The recipient is in Bcc, not in To; the body names them.
        std::fs::write(
            mail.join(format!("{n}.eml")),
            format!(
                "From: News <news@shop.example>\nTo: undisclosed-recipients:;\nBcc: reader{n}@dest.example\n\
                 Subject: Weekly deals\nList-Unsubscribe: <https://shop.example/u>\n\n\
                 This week's deals: garden tools, kitchen knives and the reading lamps everybody loved.\n\
                 Prices drop on Thursday; order by Sunday for free shipping.\n\
                 You receive this at reader{n}@dest.example because you subscribed.\n"
            ),
        )
        .unwrap();
    }
    for (in_body, expected) in [
        ("true", ["accept"; 4]),
        ("false", ["accept", "accept", "reject", "reject"]),
    ] {
        let profile = dir.path().join(format!("bulk-{in_body}.toml"));
        std::fs::write(
            &profile,
            format!("[bulk]\nmax_recipients = 2\nregistered_senders = [\"replay\"]\nrecipient_in_body = {in_body}\n"),
        )
        .unwrap();
        let (_, lines) = run(&[
            "policy",
            "replay",
            mail.to_str().unwrap(),
            "--profile",
            profile.to_str().unwrap(),
        ]);
        for (line, want) in lines.iter().zip(expected) {
            assert_eq!(line["verdict"], want, "recipient_in_body = {in_body}: {line}");
            if want == "reject" {
                assert_eq!(line["rule"], "bulk.max_recipients");
                assert!(line["reply"].as_str().unwrap().starts_with("550 5.7.1"), "{line}");
            }
        }
    }
}

/// Outside the source tree (no `./policies`), `--profile default` is the built-in default the
/// gateway would judge by, and `--tenants FILE` reads profiles from that config's
/// `[policy] directory`.
#[test]
fn check_finds_the_profiles_serve_would_use_outside_the_source_tree() {
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("m.eml");
    std::fs::write(&message, newsletter_file("Customer", "person@dest.example", 0)).unwrap();
    let outside = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_aupgate"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let output = outside(&["policy", "check", "m.eml", "--profile", "default"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(line["verdict"], "accept", "{line}");

    let output = outside(&["policy", "check", "m.eml", "--profile", "spcm"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("`spcm` is neither a file nor a profile in policies (its profiles: default)"),
        "{stderr}"
    );

    let config = dir.path().join("gw.toml");
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    std::fs::write(
        &config,
        format!("[policy]\ndirectory = \"{policies}\"\n[[tenant]]\nid = \"acme\"\ndomains = [\"shop.example\"]\n"),
    )
    .unwrap();
    let output = outside(&[
        "policy",
        "check",
        "m.eml",
        "--profile",
        "spcm",
        "--tenants",
        "gw.toml",
        "--tenant",
        "acme",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
