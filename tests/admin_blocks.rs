//! The abuse desk's block commands, end to end: the real `aupgate admin` binary talks to the real
//! gateway's admin API; a tenant block refuses mail at MAIL FROM at once, lifting it restores
//! sending, and both are audited with who and why; sender and campaign blocks refuse only that
//! address (however it is spelled) or that mailing (however it is personalised).

mod support;

use support::fixtures::newsletter;
use support::{send_message, Harness};

fn admin(h: &Harness, args: &[&str], token: Option<&str>) -> (bool, String, String) {
    let (code, stdout, stderr) = support::admin_cli(h, args, token);
    (code == Some(0), stdout, stderr)
}

async fn mail_from(h: &Harness, expected: &str) {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<a@acme.example>", expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_refuses_mail_and_lift_restores_it() {
    let h = Harness::start().await;
    mail_from(&h, "250 2.1.0").await;

    let (ok, out, err) = admin(
        &h,
        &[
            "blocks",
            "add",
            "--tenant",
            "acme",
            "--reason",
            "spam run 4711",
            "--by",
            "alice",
        ],
        None,
    );
    assert!(ok, "add failed: {err}");
    assert!(out.contains("blocked: acme tenant by alice"), "{out}");
    mail_from(&h, "554 5.7.1").await;

    let (ok, out, _) = admin(&h, &["blocks", "list", "--tenant", "acme"], None);
    assert!(ok);
    assert!(out.contains("spam run 4711"), "{out}");

    let (ok, out, err) = admin(
        &h,
        &[
            "blocks",
            "lift",
            "--tenant",
            "acme",
            "--reason",
            "customer cleaned up",
            "--by",
            "bob",
        ],
        None,
    );
    assert!(ok, "lift failed: {err}");
    // Who lifted it and why, then the block as it was.
    assert!(
        out.starts_with("lifted by bob: customer cleaned up (the block was: acme tenant by alice at ")
            && out.trim_end().ends_with(": spam run 4711)"),
        "{out}"
    );
    mail_from(&h, "250 2.1.0").await;
    let (ok, out, _) = admin(&h, &["blocks", "list"], None);
    assert!(ok);
    assert_eq!(out.trim(), "no blocks");

    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    let actions: Vec<(String, String, String)> = audit
        .iter()
        .map(|a| (a.action.clone(), a.actor.clone(), a.reason.clone()))
        .collect();
    assert!(
        actions
            .iter()
            .any(|(_, who, why)| who == "alice" && why == "spam run 4711"),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|(_, who, why)| who == "bob" && why == "customer cleaned up"),
        "{actions:?}"
    );
}

/// A tenant suspended in the configuration has a block like any other: listed, and lifted by
/// an operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspension_in_the_configuration_is_a_block_an_operator_lifts() {
    let h = Harness::start_with(|c| c.tenants[0].state = aupgate::config::TenantStateConfig::Suspended).await;
    mail_from(&h, "554 5.7.1").await;
    let (ok, out, err) = admin(&h, &["blocks", "list", "--tenant", "acme"], None);
    assert!(ok, "{err}");
    assert!(out.contains("config") && out.contains("in the configuration"), "{out}");
    let (ok, err) = support::lift_tenant_block(&h, "acme", "contract signed");
    assert!(ok, "lift failed: {err}");
    mail_from(&h, "250 2.1.0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_clearly() {
    let h = Harness::start().await;
    let (ok, _, err) = admin(&h, &["blocks", "add", "--tenant", "nobody", "--reason", "x"], None);
    assert!(!ok);
    assert!(err.contains("404") && err.contains("no tenant `nobody`"), "{err}");
    let (ok, _, err) = admin(&h, &["blocks", "lift", "--tenant", "acme", "--reason", "x"], None);
    assert!(!ok);
    assert!(err.contains("no such block"), "{err}");
    let (ok, _, err) = admin(
        &h,
        &[
            "blocks", "add", "--tenant", "acme", "--scope", "sender", "--reason", "x",
        ],
        None,
    );
    assert!(!ok);
    assert!(err.contains("need a target"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_token_is_required() {
    let h = Harness::start_with(|c| c.admin.token = Some("s3cret-token-0123456789".into())).await;
    let (ok, _, err) = admin(&h, &["blocks", "list"], None);
    assert!(!ok);
    assert!(err.contains("401"), "{err}");
    let (ok, _, err) = admin(&h, &["blocks", "list"], Some("wrong-token-0123456789"));
    assert!(!ok, "{err}");
    let (ok, out, err) = admin(&h, &["blocks", "list"], Some("s3cret-token-0123456789"));
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "no blocks");
}

fn block(h: &Harness, action: &str, scope: &str, target: &str) {
    let (ok, _, err) = admin(
        h,
        &[
            "blocks",
            action,
            "--tenant",
            "acme",
            "--scope",
            scope,
            "--target",
            target,
            "--reason",
            "abuse desk ticket 12",
            "--by",
            "carol",
        ],
        None,
    );
    assert!(ok, "blocks {action} --scope {scope}: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_and_campaign_blocks_refuse_until_lifted() {
    let h = Harness::start().await;
    let bob = newsletter("bob", "bob@dest.example", 1);

    // A sender block stops that address however it is spelled, and no other.
    block(&h, "add", "sender", "Alerts@ACME.example");
    for spelling in [
        "alerts@acme.example",
        "Alerts+1@acme.example",
        "\"alerts\"@ACME.EXAMPLE.",
    ] {
        let reply = send_message(&h, spelling, &["bob@dest.example"], &bob).await;
        assert!(reply.starts_with("554 5.7.1"), "{spelling}: {reply}");
        assert!(reply.contains("[rule block.sender]"), "{reply}");
    }
    // Nor does a null or different envelope sender with the blocked address in From or Sender.
    let from_blocked = bob.replace("From: news@acme.example", "From: Alerts <alerts@acme.example>");
    let reply = send_message(&h, "", &["bob@dest.example"], &from_blocked).await;
    assert!(
        reply.starts_with("554 5.7.1") && reply.contains("[rule block.sender]"),
        "{reply}"
    );
    let sender_blocked = bob.replace(
        "From: news@acme.example",
        "From: news@acme.example\r\nSender: ALERTS+x@acme.example",
    );
    let reply = send_message(&h, "news@acme.example", &["bob@dest.example"], &sender_blocked).await;
    assert!(
        reply.starts_with("554 5.7.1") && reply.contains("[rule block.sender]"),
        "{reply}"
    );
    let resent_blocked = bob.replace(
        "From: news@acme.example",
        "From: news@acme.example\r\nResent-From: alerts@acme.example",
    );
    let reply = send_message(&h, "news@acme.example", &["bob@dest.example"], &resent_blocked).await;
    assert!(
        reply.starts_with("554 5.7.1") && reply.contains("[rule block.sender]"),
        "Resent-From: {reply}"
    );
    let reply = send_message(&h, "news@acme.example", &["bob@dest.example"], &bob).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");

    // A campaign block stops every personalised copy of that mailing, and nothing else. The
    // mailing above founded its campaign, whose id is its fingerprint's.
    let campaign = format!(
        "{:016x}",
        aupgate::fingerprint::fingerprint(bob.as_bytes()).campaign_id()
    );
    block(&h, "add", "campaign", &campaign);
    let reply = send_message(
        &h,
        "news@acme.example",
        &["dora@dest.example"],
        &newsletter("dora", "dora@dest.example", 2),
    )
    .await;
    assert!(reply.starts_with("554 5.7.1"), "{reply}");
    assert!(
        reply.contains(&format!("campaign {campaign}")) && reply.contains("[rule block.campaign]"),
        "{reply}"
    );
    let other = "From: news@acme.example\r\nTo: dora@dest.example\r\nSubject: Invoice\r\n\r\n\
                 Your invoice for November is attached as a PDF; payment is due within thirty days \
                 of receipt by bank transfer to the account named on it.\r\n";
    let reply = send_message(&h, "news@acme.example", &["dora@dest.example"], other).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");

    // Listed with who and why; lifting restores both.
    let (ok, out, _) = admin(&h, &["blocks", "list", "--tenant", "acme"], None);
    assert!(ok);
    assert!(out.contains("alerts@acme.example") && out.contains(&campaign), "{out}");
    block(&h, "lift", "sender", "alerts@acme.example");
    block(&h, "lift", "campaign", &campaign);
    let reply = send_message(
        &h,
        "alerts@acme.example",
        &["erin@dest.example"],
        &newsletter("erin", "erin@dest.example", 3),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
}
