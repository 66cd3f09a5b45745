//! `GET /metrics` end to end, alone in its test binary (the metrics recorder is one per
//! process): messages sent over SMTP are counted by tenant, verdict and rule; recipients,
//! deliveries, sessions and the store's latency show up.

mod support;

use std::time::Duration;

use support::{send_message, Harness};

const PROFILE: &str = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 2\nmessages_per_day = 0\nrecipients_per_hour = 0\nrecipients_per_day = 0\n[bulk]\nenabled = false\n[mail_bomb]\nenabled = false\n";

/// The value of the series `line_prefix` (name and labels, as rendered), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_messages_sent_by_verdict() {
    let h = Harness::start_with_profile(Some(PROFILE), |_| {}).await;
    let body = "From: a@acme.example\r\nTo: r@dest.example\r\nSubject: hi\r\n\r\nhello\r\n";
    for _ in 0..2 {
        let reply = send_message(&h, "a@acme.example", &["r1@dest.example", "r2@dest.example"], body).await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
    }
    let refused = send_message(&h, "a@acme.example", &["r1@dest.example"], body).await;
    assert!(refused.starts_with("451 4.7.1"), "{refused}");
    h.wait_queue_empty(Duration::from_secs(10)).await;

    let url = format!("http://{}/metrics", h.gateway.admin_address);
    let response = reqwest::get(&url).await.expect("metrics");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    assert_eq!(
        value(
            &text,
            r#"aupgate_messages_total{tenant="acme",verdict="accept",rule=""}"#
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"aupgate_messages_total{tenant="acme",verdict="defer",rule="quota.messages_per_hour"}"#
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(&text, r#"aupgate_recipients_total{tenant="acme"}"#),
        4.0,
        "{text}"
    );
    assert_eq!(
        value(&text, r#"aupgate_deliveries_total{outcome="delivered"}"#),
        4.0,
        "{text}"
    );
    assert_eq!(value(&text, "aupgate_queue_depth"), 0.0, "{text}");
    assert!(
        value(&text, r#"aupgate_store_latency_seconds_count{op="stage_batch"}"#) >= 3.0,
        "{text}"
    );
    // Each accepted message waited for its synced queue write.
    assert!(value(&text, "aupgate_queue_write_seconds_count") >= 2.0, "{text}");
    assert!(text.contains("aupgate_smtp_sessions_open"), "{text}");
    assert!(!text.contains("dest.example"), "no recipient in any label");
}
