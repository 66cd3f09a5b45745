//! Attribution end to end: what the next hop receives carries `Feedback-ID` and a trace header
//! that names the tenant, the campaign and the queue id under the server's key; a tenant's own
//! (forged) trace header is removed; configured keys and CFBL are used as configured.

mod support;

use std::time::Duration;

use aupgate::complaints::attribution::{Attribution, TraceKeys, TRACE_HEADER};
use aupgate::config::{FeedbackConfig, TraceKeyConfig};
use support::{send_queued, Harness};

/// The values of the header fields named `name` in the header block of `data`, unfolded, in
/// order from the top.
fn fields(data: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let head = text.split("\r\n\r\n").next().unwrap_or("").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    head.split("\r\n")
        .filter(|line| line.to_ascii_lowercase().starts_with(&prefix))
        .map(|line| line[prefix.len()..].trim().to_string())
        .collect()
}

/// The shared newsletter (one campaign) to `b@dest.example`, with `extra` header fields on top.
fn newsletter(extra: &str) -> Vec<u8> {
    format!("{extra}{}", support::fixtures::newsletter("Bob", "b@dest.example", 1)).into_bytes()
}

async fn accepted_campaign(h: &Harness, queue_id: &str) -> String {
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    let record = audit
        .iter()
        .find(|r| r.action == "accept" && r.target == queue_id)
        .unwrap_or_else(|| panic!("no accept record for {queue_id}: {audit:?}"));
    record.detail["campaign"].as_str().expect("campaign").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_mail_names_tenant_campaign_and_queue_id_under_the_generated_key() {
    let h = Harness::start().await;
    let queue_id = send_queued(&h, "news@acme.example", "", &["b@dest.example"], &newsletter("")).await;
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let data = &got[0].data;

    // The key was generated under data_dir at first start; reading it back verifies the header.
    let keys = TraceKeys::load(&FeedbackConfig::default(), h.dir.path()).expect("generated key");
    let references = fields(data, TRACE_HEADER);
    assert_eq!(references.len(), 1, "{}", String::from_utf8_lossy(data));
    let attribution = keys.verify(&references[0]).expect("the trace header verifies");
    let campaign = accepted_campaign(&h, &queue_id).await;
    assert_eq!(campaign.len(), 16, "a real campaign id: {campaign}");
    assert_eq!(
        attribution,
        Attribution {
            tenant: "acme".into(),
            campaign: campaign.clone(),
            queue_id: queue_id.clone(),
        }
    );
    assert_eq!(
        fields(data, "Feedback-ID"),
        vec![format!("{campaign}:acme:default:aupgate")]
    );

    // A copy of the same mailing is the same campaign, with its own queue id.
    let second = send_queued(&h, "news@acme.example", "", &["c@dest.example"], &newsletter("")).await;
    let got = h.sink.wait_for(2, Duration::from_secs(10)).await;
    let copy = got.iter().find(|m| m.recipients == ["c@dest.example"]).expect("copy");
    let attribution = keys.verify(&fields(&copy.data, TRACE_HEADER)[0]).expect("verifies");
    assert_eq!(attribution.campaign, campaign);
    assert_eq!(attribution.queue_id, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_header_the_tenant_wrote_is_removed_and_ours_added() {
    let h = Harness::start().await;
    // What a tenant would try: a header naming another tenant, with a made-up MAC.
    let forged = format!("{TRACE_HEADER}: 1.k1.dmljdGltAGNhbXBhaWduAHF1ZXVl.AAAAAAAAAAAAAAAAAAAAAA\r\n");
    let queue_id = send_queued(&h, "news@acme.example", "", &["b@dest.example"], &newsletter(&forged)).await;
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    let keys = TraceKeys::load(&FeedbackConfig::default(), h.dir.path()).expect("key");
    let references = fields(&got[0].data, TRACE_HEADER);
    // The header is the gateway's own: the tenant's copy is gone, ours verifies.
    assert_eq!(references.len(), 1, "only ours");
    assert_eq!(keys.verify(&references[0]).map(|a| a.queue_id), Some(queue_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_keys_sender_id_and_cfbl_are_used() {
    use base64::Engine as _;
    let current = TraceKeyConfig {
        id: "k2".into(),
        secret: base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    };
    let old = TraceKeyConfig {
        id: "k1".into(),
        secret: base64::engine::general_purpose::STANDARD.encode([3u8; 32]),
    };
    let feedback = FeedbackConfig {
        sender_id: "hostco".into(),
        trace_keys: vec![current.clone(), old.clone()],
        cfbl_address: Some("fbl@gw.test".into()),
        ..FeedbackConfig::default()
    };
    let configured = feedback.clone();
    let h = Harness::start_with(move |c| c.feedback = configured).await;
    let queue_id = send_queued(&h, "news@acme.example", "", &["b@dest.example"], &newsletter("")).await;
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    let data = &got[0].data;
    assert!(
        !h.dir.path().join("trace-keys.toml").exists(),
        "no key is generated when keys are configured"
    );
    let reference = fields(data, TRACE_HEADER).remove(0);
    assert!(reference.starts_with("1.k2."), "the first key signs: {reference}");
    // Another node configured with the same keys verifies it; one with only the old key does not.
    let same = TraceKeys::from_config(&feedback.trace_keys).unwrap();
    assert_eq!(same.verify(&reference).map(|a| a.queue_id), Some(queue_id));
    assert_eq!(TraceKeys::from_config(&[old]).unwrap().verify(&reference), None);
    assert!(fields(data, "Feedback-ID")[0].ends_with(":acme:default:hostco"));
    assert_eq!(
        fields(data, "CFBL-Address"),
        vec!["fbl@gw.test; report=arf".to_string()]
    );
    assert_eq!(fields(data, "CFBL-Feedback-ID"), vec![reference]);
}

#[test]
fn bad_feedback_settings_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = support::config_text(dir.path(), "127.0.0.1:25".parse().unwrap());
    let text = format!(
        "{base}\n[feedback]\nsender_id = \"a:b\"\ncfbl_address = \"not an address\"\n\
         [[feedback.trace_keys]]\nid = \"k 1\"\nsecret = \"c2hvcnQ=\"\n"
    );
    let errors = aupgate::config::Config::parse(&text).expect_err("invalid").to_string();
    for path in ["feedback.sender_id", "feedback.cfbl_address", "feedback.trace_keys[0]"] {
        assert!(errors.contains(path), "{path} in {errors}");
    }
}
