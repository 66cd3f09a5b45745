//! Delivery outcomes end to end: the sink answers `250` for some recipients and `550 5.1.1`
//! (`permfail@`) or `451 4.3.0` (`tempfail@`) for others; the counts per tenant and per campaign
//! in the store and in the usage API are exact, the DSN still goes back to the sender and is not
//! counted itself.

mod support;

use std::time::Duration;

use aupgate::admin::usage::Usage;
use aupgate::complaints::attribution::TRACE_HEADER;
use aupgate::complaints::outcomes::{campaign_figures, tenant_figures, OutcomeFigures, OUTCOME_WINDOW};
use aupgate::complaints::TraceKeys;
use aupgate::config::{AdminRole, AdminTokenConfig, FeedbackConfig};
use support::{send_queued, Harness};

/// A read-only staff token: the dashboard needs one (the loopback shortcut is the CLI's).
const OPERATOR_TOKEN: &str = "operator-token-for-the-outcomes-test-0001";

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!("From: news@acme.example\r\nTo: list@acme.example\r\nSubject: {subject}\r\n\r\n{body}\r\n").into_bytes()
}

/// The campaign the gateway's trace header names in a relayed message.
fn campaign_of(h: &Harness, data: &[u8]) -> String {
    let keys = TraceKeys::load(&FeedbackConfig::default(), h.dir.path()).expect("generated key");
    let text = String::from_utf8_lossy(data);
    let prefix = format!("{TRACE_HEADER}: ");
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .expect("a trace header");
    keys.verify(value).expect("verifies").campaign
}

async fn usage(h: &Harness) -> Usage {
    let response = reqwest::Client::new()
        .get(format!("http://{}/api/v1/tenants/acme/usage", h.gateway.admin_address))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("admin API");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("a Usage")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_and_bounced_recipients_are_counted_exactly_per_tenant_and_campaign() {
    let h = Harness::start_with(|c| {
        c.admin.tokens = vec![AdminTokenConfig {
            name: "desk".into(),
            role: AdminRole::Operator,
            sha256: aupgate::admin::tokens::hex(&aupgate::admin::tokens::sha256(OPERATOR_TOKEN.as_bytes())),
        }]
    })
    .await;
    let first = message(
        "Spring sale",
        "Our spring collection is here: linen shirts, light jackets and canvas shoes at last year's prices.",
    );
    send_queued(
        &h,
        "news@acme.example",
        "",
        &[
            "ann@dest.example",
            "bob@dest.example",
            "permfail@dest.example",
            "permfail@other.example",
            "refused@dest.example",
        ],
        &first,
    )
    .await;
    let second = message(
        "Minutes",
        "The minutes of the board meeting of Tuesday are attached below for your review and comments.",
    );
    send_queued(&h, "news@acme.example", "", &["carol@dest.example"], &second).await;
    h.wait_queue_empty(Duration::from_secs(15)).await;

    let got = h.sink.messages();
    // The DSN for the two bounces went back to the sender, as before.
    let dsn = got
        .iter()
        .find(|m| m.recipients == ["news@acme.example"])
        .expect("a DSN to the sender");
    let dsn_text = String::from_utf8_lossy(&dsn.data);
    assert!(dsn_text.contains("Final-Recipient: rfc822; permfail@dest.example\r\nAction: failed\r\nStatus: 5.1.1"));
    assert!(dsn_text.contains("Final-Recipient: rfc822; permfail@other.example\r\nAction: failed\r\nStatus: 5.1.1"));
    assert!(dsn_text.contains("Final-Recipient: rfc822; refused@dest.example\r\nAction: failed\r\nStatus: 5.7.1"));
    let sale = got
        .iter()
        .find(|m| m.recipients.contains(&"ann@dest.example".to_string()))
        .expect("the sale");
    let minutes = got
        .iter()
        .find(|m| m.recipients == ["carol@dest.example"])
        .expect("the minutes");
    let (sale_campaign, minutes_campaign) = (campaign_of(&h, &sale.data), campaign_of(&h, &minutes.data));
    assert_ne!(sale_campaign, minutes_campaign);

    // Outcomes are counted after delivery settled, in a task of their own.
    let store = h.gateway.store.as_ref();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let figures = tenant_figures(store, "acme", aupgate::queue::now_ms()).await.unwrap();
        if (figures.recipients() >= 5 && figures.failed >= 1) || std::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = aupgate::queue::now_ms();
    let tenant = tenant_figures(store, "acme", now).await.unwrap();
    assert_eq!(
        tenant,
        OutcomeFigures {
            delivered: 3,
            hard_bounced: 2,
            expired: 0,
            deferred: 0,
            failed: 1,
        }
    );
    // The policy refusal is in neither the recipients nor the bounce rate.
    assert_eq!(tenant.recipients(), 5);
    assert_eq!(tenant.hard_bounce_percent(), 40.0);
    assert_eq!(
        campaign_figures(store, "acme", &sale_campaign, now).await.unwrap(),
        OutcomeFigures {
            delivered: 2,
            hard_bounced: 2,
            failed: 1,
            ..OutcomeFigures::default()
        }
    );
    assert_eq!(
        campaign_figures(store, "acme", &minutes_campaign, now).await.unwrap(),
        OutcomeFigures {
            delivered: 1,
            ..OutcomeFigures::default()
        }
    );
    // Nobody else's figures moved (the DSN is the gateway's own mail).
    for other in ["remote", "roaming", ""] {
        assert_eq!(
            tenant_figures(store, other, now).await.unwrap(),
            OutcomeFigures::default()
        );
    }

    let deliveries = usage(&h).await.deliveries;
    assert_eq!(deliveries.window_seconds, OUTCOME_WINDOW.as_secs());
    assert_eq!(
        (
            deliveries.delivered,
            deliveries.hard_bounced,
            deliveries.expired,
            deliveries.deferred,
            deliveries.failed
        ),
        (3, 2, 0, 0, 1)
    );
    assert_eq!(deliveries.recipients, 5);
    assert_eq!(deliveries.hard_bounce_percent, 40.0);
    // The dashboard's tenant page shows the same figures.
    let page = reqwest::Client::new()
        .get(format!("http://{}/dashboard/tenants/acme", h.gateway.admin_address))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .expect("dashboard");
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<tr><td>3</td><td>2</td><td>0</td><td>0</td><td>1</td><td>40% of 5</td></tr>"),
        "{page}"
    );

    // A temporary failure counts one deferral per attempt and no final outcome.
    let id = send_queued(&h, "news@acme.example", "", &["tempfail@dest.example"], &second).await;
    let reply = h.first_attempt(&id).await;
    assert!(reply.starts_with("451 4.3.0"), "{reply}");
    let mut later = tenant_figures(store, "acme", aupgate::queue::now_ms()).await.unwrap();
    while later.deferred == 0 && std::time::Instant::now() < deadline + Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        later = tenant_figures(store, "acme", aupgate::queue::now_ms()).await.unwrap();
    }
    assert!(later.deferred >= 1, "{later:?}");
    assert_eq!((later.delivered, later.hard_bounced, later.recipients()), (3, 2, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_judgement_in_progress_does_not_hold_up_delivery() {
    let h = Harness::start().await;
    // The ladders are busy (their lock held): the relay's watcher call would wait on it.
    let busy = h.gateway.ladders.hold_for_test().await;
    let mail = message(
        "Held",
        "A message relayed while the complaint ladders judge something else.",
    );
    send_queued(
        &h,
        "news@acme.example",
        "",
        &["ann@dest.example", "permfail@dest.example"],
        &mail,
    )
    .await;
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert!(h.sink.messages().iter().any(|m| m.recipients == ["ann@dest.example"]));
    // The counts land once the lock is free (the watcher runs after them).
    drop(busy);
    let store = h.gateway.store.as_ref();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut figures = tenant_figures(store, "acme", aupgate::queue::now_ms()).await.unwrap();
    while figures.recipients() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        figures = tenant_figures(store, "acme", aupgate::queue::now_ms()).await.unwrap();
    }
    assert_eq!((figures.delivered, figures.hard_bounced, figures.failed), (1, 1, 0));
}
