//! The complaint ladders against the running gateway: complaints fed to a ladder built on the
//! server's own engine, store and live tenants move the tenant, and the next SMTP session sees
//! it (`554 5.7.1` at MAIL FROM once suspended; `250` again after `aupgate admin blocks lift`).
//! The case commands and the summary over the real admin API and the real `aupgate admin`.

mod support;

use std::sync::{Arc, Mutex};

use aupgate::complaints::model::ComplaintFut;
use aupgate::complaints::{
    AttributedBy, Complaint, ComplaintLadders, ComplaintLog, ComplaintSink, ComplaintSource, Notice, NoticeKind,
    NoticeSender, Recorded,
};
use aupgate::queue::now_ms;
use serde_json::Value;
use support::Harness;

#[derive(Default)]
struct RecordedNotices(Mutex<Vec<Notice>>);

impl NoticeSender for RecordedNotices {
    fn send<'a>(&'a self, notice: &'a Notice) -> ComplaintFut<'a, String> {
        self.0.lock().unwrap().push(notice.clone());
        Box::pin(async { Ok("notice".to_string()) })
    }
}

#[derive(Default)]
struct MemoryLog(Mutex<Vec<Complaint>>);

impl ComplaintLog for MemoryLog {
    fn received<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> ComplaintFut<'a, Vec<Complaint>> {
        let found = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.tenant.as_deref() == Some(tenant) && (from..to).contains(&c.received_at))
            .cloned()
            .collect();
        Box::pin(async move { Ok(found) })
    }
}

/// The gateway with `preset` (a file of `policies/`) installed as its `default` profile, and a
/// ladder on the running server's engine and tenants.
async fn start(preset: &str) -> (Harness, Arc<ComplaintLadders>, Arc<RecordedNotices>, Arc<MemoryLog>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("policies/{preset}.toml"));
    let text = std::fs::read_to_string(path).expect("preset");
    let text = text.replacen(&format!("name = \"{preset}\""), "name = \"default\"", 1);
    let h = Harness::start_with_profile(Some(&text), |_| {}).await;
    let notices = Arc::new(RecordedNotices::default());
    let log = Arc::new(MemoryLog::default());
    let ladders = ComplaintLadders::new(
        h.gateway.engine().clone(),
        h.gateway.tenants().clone(),
        notices.clone(),
        log.clone(),
    );
    (h, ladders, notices, log)
}

async fn complain(ladders: &ComplaintLadders, log: &MemoryLog, n: u32) -> Recorded {
    let complaint = Complaint {
        dedup_key: format!("e2e-report-{n}"),
        tenant: Some("acme".into()),
        campaign: Some("0123456789abcdef".into()),
        queue_id: None,
        attributed_by: Some(AttributedBy::TraceHeader),
        recipient: Some(format!("r{n}@example.org")),
        reporter: Some("fbl.mailbox.example".into()),
        feedback_type: "abuse".into(),
        received_at: now_ms(),
        original_message_id: Some(format!("<m{n}@acme.example>")),
        original: format!("Message-ID: <m{n}@acme.example>\r\nSubject: n{n}\r\n\r\nhi\r\n").into_bytes(),
        source: ComplaintSource::Http,
        urgent: false,
        note: None,
    };
    log.0.lock().unwrap().push(complaint.clone());
    ladders.record(&complaint).await.expect("effects")
}

async fn mail_from(h: &Harness, expected: &str) {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<a@acme.example>", expected).await;
}

async fn get_json(h: &Harness, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("http://{}{path}", h.gateway.admin_address))
        .await
        .expect("admin API");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spcm_ladder_suspends_the_running_tenant_and_a_lift_restores_it() {
    let (h, ladders, notices, log) = start("spcm").await;
    mail_from(&h, "250 2.1.0").await;
    complain(&ladders, &log, 1).await;
    complain(&ladders, &log, 2).await;
    // Warned: the one chance; mail still flows.
    mail_from(&h, "250 2.1.0").await;
    complain(&ladders, &log, 3).await;
    mail_from(&h, "554 5.7.1").await;
    let kinds: Vec<NoticeKind> = notices.0.lock().unwrap().iter().map(|n| n.kind).collect();
    assert_eq!(kinds, [NoticeKind::Warning, NoticeKind::Suspension]);

    // The events API shows each step with who and why.
    let (status, page) = get_json(&h, "/api/v1/tenants/acme/events").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    let kinds: Vec<&str> = items.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(
        kinds.contains(&"complaint.warning") && kinds.contains(&"complaint.suspension"),
        "{kinds:?}"
    );
    assert!(items.iter().any(|e| e["detail"]["by"] == "policy:complaints.steps"));

    let (status, summary) = get_json(&h, "/api/v1/tenants/acme/complaints/summary").await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["windows"][0]["window_seconds"], 86_400);
    assert_eq!(summary["windows"][0]["complaints"], 3);
    assert_eq!(summary["months"][0]["complaints"], 3);

    // Lifting works as for any block, and restarts the ladder.
    let (ok, err) = support::lift_tenant_block(&h, "acme", "customer cleaned up");
    assert!(ok, "lift failed: {err}");
    mail_from(&h, "250 2.1.0").await;
    complain(&ladders, &log, 4).await;
    mail_from(&h, "250 2.1.0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integra_cases_are_resolved_with_the_cli() {
    let (h, ladders, notices, log) = start("integra").await;
    let Recorded::New { id } = complain(&ladders, &log, 1).await else {
        panic!("a new complaint");
    };
    assert_eq!(notices.0.lock().unwrap()[0].kind, NoticeKind::CaseOpened);
    let (status, summary) = get_json(&h, "/api/v1/tenants/acme/complaints/summary").await;
    assert_eq!(status, 200);
    assert_eq!(summary["open_cases"][0]["id"], id.as_str());
    assert!(summary["rates"].is_null(), "{summary}");

    // The CLI lists the open cases, with the id resolve takes.
    let (code, out, err) = support::admin_cli(&h, &["complaints", "cases", "acme"], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(id.as_str()) && out.contains("open"), "{out}");
    let (code, out, err) = support::admin_cli(&h, &["--json", "complaints", "cases", "acme"], None);
    assert_eq!(code, Some(0), "{err}");
    let cases: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(cases[0]["id"], id.as_str(), "{cases}");
    let (code, out, err) = support::admin_cli(&h, &["complaints", "resolve", &id, "--reason", "list cleaned"], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&format!("case {id} of tenant acme resolved by")), "{out}");
    let (code, _, err) = support::admin_cli(&h, &["complaints", "resolve", &id, "--reason", "again"], None);
    assert_eq!(code, Some(1), "already resolved: refused");
    assert!(err.contains("already resolved"), "{err}");
    let (code, _, _) = support::admin_cli(&h, &["complaints", "resolve", "12-deadbeef", "--reason", "x"], None);
    assert_eq!(code, Some(1), "no such case");
    let (_, summary) = get_json(&h, "/api/v1/tenants/acme/complaints/summary").await;
    assert_eq!(summary["open_cases"].as_array().map(Vec::len), Some(0), "{summary}");
    let (_, out, _) = support::admin_cli(&h, &["complaints", "cases", "acme"], None);
    assert_eq!(out.trim(), "no open cases");
    // The second complaint for the same campaign finds no other open case: still active.
    complain(&ladders, &log, 2).await;
    mail_from(&h, "250 2.1.0").await;
    // A third, with the second still open: related claims suspend at once.
    complain(&ladders, &log, 3).await;
    mail_from(&h, "554 5.7.1").await;
}
