//! The admin API end to end: the real gateway, mail sent over SMTP on loopback, the API asked
//! over HTTP (and the real `aupgate admin` binary for the CLI). Usage figures are checked against
//! what was sent and the reset time against what the store implies; audit filters and paging;
//! suppression and expiring blocks as the next SMTP command sees them; tokens; the OpenAPI
//! document served; the CLI's tables, `--json` and exit codes.

mod support;

use std::time::Duration;

use aupgate::admin::api::Page;
use aupgate::admin::usage::Usage;
use aupgate::store::{AuditRecord, Key};
use serde_json::{json, Value};
use support::fixtures::newsletter;
use support::{send_message, Harness};

const PROFILE: &str = r#"
[profile]
name = "default"
[quotas]
messages_per_hour = 5
messages_per_day = 0
recipients_per_hour = 0
recipients_per_day = 100
[bulk]
enabled = true
max_recipients = 50
window = "1h"
[mail_bomb]
enabled = true
max_messages = 10
window = "1h"
"#;

const HOUR_MS: u64 = 3_600_000;

fn url(h: &Harness, path: &str) -> String {
    format!("http://{}{path}", h.gateway.admin_address)
}

async fn get_json(h: &Harness, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(url(h, path))
        .send()
        .await
        .expect("admin API");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn send_json(h: &Harness, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url(h, path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("admin API");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn usage(h: &Harness) -> Usage {
    let (status, body) = get_json(h, "/api/v1/tenants/acme/usage").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).expect("a Usage")
}

fn quota<'a>(usage: &'a Usage, rule: &str) -> &'a aupgate::admin::usage::QuotaUsage {
    usage
        .quotas
        .iter()
        .find(|q| q.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} in {usage:?}"))
}

async fn send_newsletter(h: &Harness) -> String {
    send_message(
        h,
        "a@acme.example",
        &["ann@dest.example", "bob@dest.example"],
        &newsletter("Ann", "ann@dest.example", 1),
    )
    .await
}

async fn mail_from(h: &Harness, sender: &str, expected: &str) {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send(&format!("MAIL FROM:<{sender}>"), expected).await;
}

/// Send N messages over SMTP: the API shows N used, the campaign's distinct recipients and the
/// copies per recipient; once the hourly quota is used up, the next message is deferred and the
/// API's reset time is the one the store's windows imply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_shows_what_was_sent_and_when_it_resets() {
    let h = Harness::start_with_profile(Some(PROFILE), |_| {}).await;
    let before = usage(&h).await;
    assert_eq!(quota(&before, "quota.messages_per_hour").used, 0);
    assert_eq!(before.bulk.as_ref().expect("bulk on").campaigns, vec![]);

    for _ in 0..3 {
        assert!(send_newsletter(&h).await.starts_with("250 2.0.0"));
    }
    let now = usage(&h).await;
    let hourly = quota(&now, "quota.messages_per_hour");
    assert_eq!((hourly.used, hourly.limit, hourly.window_seconds), (3, 5, 3_600));
    assert_eq!(hourly.resets_at, now.taken_at, "the next message fits now");
    assert!(hourly.empties_at > now.taken_at && hourly.empties_at <= now.taken_at + HOUR_MS + HOUR_MS / 60);
    let daily_recipients = quota(&now, "quota.recipients_per_day");
    assert_eq!((daily_recipients.used, daily_recipients.limit), (6, 100));
    assert!(
        !now.quotas.iter().any(|q| q.rule == "quota.messages_per_day"),
        "a limit of 0 is off"
    );
    let bulk = now.bulk.as_ref().expect("bulk on");
    assert_eq!(bulk.campaigns.len(), 1, "{bulk:?}");
    assert_eq!((bulk.campaigns[0].recipients, bulk.limit), (2, 50));
    let bomb = now.mail_bomb.as_ref().expect("mail bomb on");
    let targets: Vec<(&str, u64)> = bomb
        .recipients
        .iter()
        .map(|t| (t.target.as_str(), t.messages))
        .collect();
    assert_eq!(targets, vec![("ann@dest.example", 3), ("bob@dest.example", 3)]);
    assert_eq!(bomb.recipients[0].campaign, bulk.campaigns[0].campaign);

    for _ in 0..2 {
        assert!(send_newsletter(&h).await.starts_with("250 2.0.0"));
    }
    mail_from(&h, "a@acme.example", "451 4.7.1").await;
    let full = usage(&h).await;
    let hourly = quota(&full, "quota.messages_per_hour");
    assert_eq!(hourly.used, 5);
    assert_eq!(hourly.percent, 100.0);
    let window = h
        .gateway
        .store
        .counter_window(
            &Key::new("quota.messages.hour", "acme"),
            full.taken_at,
            Duration::from_secs(3_600),
        )
        .await
        .expect("store");
    let wait = window.fits_in(1, 5, full.taken_at, HOUR_MS).expect("fits some time");
    assert!(wait > 0);
    assert_eq!(hourly.resets_at, full.taken_at + wait);

    // Every policy decision is audited: the deferral by rule and verdict, the five acceptances.
    let (status, body) = get_json(&h, "/api/v1/tenants/acme/audit?verdict=defer").await;
    assert_eq!(status, 200, "{body}");
    let deferred: Page<AuditRecord> = serde_json::from_value(body).unwrap();
    assert_eq!(deferred.items.len(), 1, "{:?}", deferred.items);
    assert_eq!(deferred.items[0].target, "quota.messages_per_hour");
    let (_, body) = get_json(&h, "/api/v1/tenants/acme/audit?rule=quota.messages_per_hour").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (_, body) = get_json(&h, "/api/v1/tenants/acme/audit?rule=bulk.max_recipients").await;
    assert_eq!(body["items"], json!([]));
    // A verdict that is none would silently match nothing: refused, naming the verdicts.
    let (status, body) = get_json(&h, "/api/v1/tenants/acme/audit?verdict=bogus").await;
    assert_eq!(
        (status, body["error"].clone()),
        (
            400,
            json!("`bogus` is not a verdict of the audit log (accept, defer, reject, disconnect)")
        )
    );
    // Paging the acceptances two at a time: newest first, each once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/tenants/acme/audit?verdict=accept&limit=2".to_string();
    loop {
        let (status, body) = get_json(&h, &path).await;
        assert_eq!(status, 200, "{body}");
        let page: Page<AuditRecord> = serde_json::from_value(body).unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|r| (r.at, r.target.clone())));
        match page.next {
            Some(next) => path = format!("/api/v1/tenants/acme/audit?verdict=accept&limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first: {seen:?}");
    let mut ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each queue id once");
    // A range that ends before the mail: nothing.
    let (_, body) = get_json(&h, &format!("/api/v1/tenants/acme/audit?until={}", before.taken_at - 1)).await;
    assert_eq!(body["items"], json!([]));
    let (status, _) = get_json(&h, "/api/v1/tenants/acme/audit?limit=0").await;
    assert_eq!(status, 400);
    // One request never reads a whole history: at most 31 days.
    let (status, body) = get_json(&h, "/api/v1/tenants/acme/audit?since=0&limit=1").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("at most 31 days"), "{body}");
    let (status, _) = get_json(&h, "/api/v1/tenants/nobody/usage").await;
    assert_eq!(status, 404);
    // Without a staff token a loopback client is the admin, but not one a proxy forwarded.
    for header in ["X-Forwarded-For", "Forwarded", "X-Real-IP"] {
        let response = reqwest::Client::new()
            .get(url(&h, "/api/v1/tenants/acme/usage"))
            .header(header, "203.0.113.9")
            .send()
            .await
            .expect("admin API");
        assert_eq!(response.status().as_u16(), 401, "{header}");
    }
}

/// An address added to the suppression list refuses the tenant's bulk mail to it with the
/// suppression check's reply; removed, the same mail is accepted. Both changes are audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppression_added_and_removed_over_the_api() {
    let h = Harness::start().await;
    let bulk = "From: news@acme.example\r\nTo: ann@dest.example\r\nList-Unsubscribe: <https://acme.example/u/1>\r\nSubject: News\r\n\r\nThis month's news.\r\n";
    let (status, body) = send_json(
        &h,
        reqwest::Method::POST,
        "/api/v1/tenants/acme/suppression",
        Some(json!({"address": "Ann+news@Dest.example", "reason": "asked by phone"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["address"], "ann@dest.example");
    let reply = send_message(&h, "a@acme.example", &["ann@dest.example"], bulk).await;
    assert!(
        reply.starts_with("550 5.7.1") && reply.contains("suppressed"),
        "{reply}"
    );
    let (_, list) = get_json(&h, "/api/v1/tenants/acme/suppression").await;
    assert_eq!(list[0]["address"], "ann@dest.example");

    let (status, _) = send_json(
        &h,
        reqwest::Method::DELETE,
        "/api/v1/tenants/acme/suppression/ann@dest.example",
        None,
    )
    .await;
    assert_eq!(status, 400, "a removal needs a reason");
    let (status, body) = send_json(
        &h,
        reqwest::Method::DELETE,
        "/api/v1/tenants/acme/suppression/ann%40dest.example?reason=confirmed%20opt-in",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(send_message(&h, "a@acme.example", &["ann@dest.example"], bulk)
        .await
        .starts_with("250 2.0.0"));
    let (status, _) = send_json(
        &h,
        reqwest::Method::DELETE,
        "/api/v1/tenants/acme/suppression/ann%40dest.example?reason=again",
        None,
    )
    .await;
    assert_eq!(status, 404, "no longer on the list");

    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    let changes: Vec<(&str, &str, &str)> = audit
        .iter()
        .filter(|r| r.action.starts_with("suppression."))
        .map(|r| (r.action.as_str(), r.actor.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("suppression.add", "admin", "asked by phone"),
            ("suppression.remove", "admin", "confirmed opt-in"),
        ]
    );
}

/// A block with `expires_at` refuses until then and stops applying after, with no lift; the
/// block names the caller as `by`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_with_expires_at_stop_applying_by_themselves() {
    let h = Harness::start().await;
    let expires = aupgate::queue::now_ms() + 1_500;
    let (status, body) = send_json(
        &h,
        reqwest::Method::POST,
        "/api/v1/tenants/acme/blocks",
        Some(
            json!({"scope": "sender", "target": "a@acme.example", "reason": "phished account", "expires_at": expires}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["by"], "admin");
    let (status, body) = send_json(
        &h,
        reqwest::Method::POST,
        "/api/v1/tenants/acme/blocks",
        Some(json!({"scope": "tenant", "reason": "cool-off", "expires_at": expires})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    mail_from(&h, "b@acme.example", "554 5.7.1").await;
    let (_, list) = get_json(&h, "/api/v1/tenants/acme/blocks").await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[0]["expires_at"], expires);

    tokio::time::sleep(Duration::from_millis(
        expires.saturating_sub(aupgate::queue::now_ms()) + 50,
    ))
    .await;
    mail_from(&h, "b@acme.example", "250 2.1.0").await;
    mail_from(&h, "a@acme.example", "250 2.1.0").await;
    // The expired tenant block is lifted by `expiry`: the tenant is active again, in the
    // record the API and the dashboard show, and the expiry is audited.
    let (_, tenant) = get_json(&h, "/api/v1/tenants/acme").await;
    assert_eq!(tenant["state"], "active", "{tenant}");
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    assert!(
        audit.iter().any(|r| r.action == "block.expire" && r.actor == "expiry"),
        "{audit:?}"
    );

    let (status, _) = send_json(
        &h,
        reqwest::Method::POST,
        "/api/v1/tenants/acme/blocks",
        Some(json!({"scope": "sender", "target": "c@acme.example", "reason": "x", "expires_at": 1})),
    )
    .await;
    assert_eq!(status, 400, "an expiry in the past is refused");
}

/// With a token configured, the API answers 401 without it; the probes answer without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_the_token_and_the_probes_do_not() {
    const TOKEN: &str = "admin-token-0123456789abcdef";
    let h = Harness::start_with(|c| c.admin.token = Some(TOKEN.into())).await;
    let client = reqwest::Client::new();
    for path in [
        "/api/v1/tenants/acme/usage",
        "/api/v1/tenants/acme/audit",
        "/api/v1/tenants/acme/events",
        "/api/v1/tenants/acme/suppression",
        "/api/v1/tenants/acme/blocks",
        "/api/v1/openapi.json",
        "/metrics",
    ] {
        let response = client.get(url(&h, path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
        let response = client.get(url(&h, path)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    for path in ["/healthz", "/readyz", "/health"] {
        let response = client.get(url(&h, path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    let document: Value = client
        .get(url(&h, "/api/v1/openapi.json"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/tenants/{tenant}/usage",
        "/api/v1/tenants/{tenant}/audit",
        "/api/v1/tenants/{tenant}/suppression/{address}",
        "/api/v1/tenants/{tenant}/domains/{domain}/records",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} documented");
    }
}

/// The records a tenant publishes for a domain: the ownership token, the SPF include.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_lists_the_records_to_publish() {
    let h = Harness::start().await;
    let (status, added) = send_json(
        &h,
        reqwest::Method::POST,
        "/api/v1/tenants/acme/domains",
        Some(json!({"domain": "mail.acme.example", "by": "alice"})),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let (status, body) = get_json(&h, "/api/v1/tenants/acme/domains/mail.acme.example/records").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verified"], false);
    let token = added["token"].as_str().unwrap();
    assert_eq!(
        body["records"],
        json!([
            {"name": "_aupgate.mail.acme.example", "type": "TXT", "value": format!("aupgate-verify={token}"), "purpose": "ownership"},
            {"name": "mail.acme.example", "type": "TXT", "value": "v=spf1 include:_spf.gw.test ~all", "purpose": "spf"},
        ])
    );
    let (status, _) = get_json(&h, "/api/v1/tenants/acme/domains/other.example/records").await;
    assert_eq!(status, 404);
}

fn cli(args: &[&str], url: &str) -> (Option<i32>, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_aupgate"))
        .arg("admin")
        .arg("--url")
        .arg(url)
        .args(args)
        .env_remove("AUPGATE_TOKEN")
        .output()
        .expect("run aupgate admin");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The abuse desk's CLI against a live gateway: tables, `--json`, and the exit codes 0 (done),
/// 1 (not found or refused), 2 (bad input), 3 (gateway unreachable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_tables_and_json_with_exit_codes() {
    let h = Harness::start_with_profile(Some(PROFILE), |_| {}).await;
    for _ in 0..2 {
        assert!(send_newsletter(&h).await.starts_with("250 2.0.0"));
    }
    let base = format!("http://{}", h.gateway.admin_address);
    let (code, out, err) = cli(&["usage", "acme"], &base);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("quota.messages_per_hour"), "{out}");
    let row = out.lines().find(|l| l.contains("quota.messages_per_hour")).unwrap();
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(&cells[1..5], ["quota.messages_per_hour", "2", "5", "40.0"], "{row}");
    assert!(row.contains("now"), "{row}");
    assert!(out.contains("ann@dest.example"), "{out}");

    let (code, out, err) = cli(&["--json", "usage", "acme"], &base);
    assert_eq!(code, Some(0), "{err}");
    let usage: Usage = serde_json::from_str(&out).expect("--json prints the API's JSON");
    assert_eq!(quota(&usage, "quota.messages_per_hour").used, 2);

    let (code, out, err) = cli(&["audit", "acme", "--since", "1h", "--verdict", "accept"], &base);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.matches("| policy").count(), 2, "{out}");
    let (code, out, _) = cli(&["--json", "audit", "acme", "--rule", "quota.messages_per_hour"], &base);
    assert_eq!(code, Some(0));
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["items"], json!([]));
    let (code, out, err) = cli(&["events", "acme"], &base);
    assert_eq!((code, out.trim()), (Some(0), "no events"), "{err}");

    let (code, out, err) = cli(
        &[
            "suppression",
            "add",
            "acme",
            "carl@dest.example",
            "--reason",
            "complaint",
        ],
        &base,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("suppressed: carl@dest.example"), "{out}");
    let (code, out, _) = cli(&["--json", "suppression", "list", "acme"], &base);
    assert_eq!(code, Some(0));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()[0]["address"],
        "carl@dest.example"
    );
    let (code, out, err) = cli(
        &[
            "suppression",
            "remove",
            "acme",
            "carl@dest.example",
            "--reason",
            "resolved",
        ],
        &base,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("removed: carl@dest.example"), "{out}");

    let (code, out, err) = cli(
        &[
            "blocks",
            "add",
            "--tenant",
            "acme",
            "--scope",
            "sender",
            "--target",
            "x@acme.example",
            "--reason",
            "test",
            "--by",
            "dora",
            "--expires",
            "1h",
        ],
        &base,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("blocked: acme sender x@acme.example by dora") && out.contains(" until "),
        "{out}"
    );
    let (code, out, _) = cli(&["blocks", "list", "--tenant", "acme"], &base);
    assert_eq!(code, Some(0));
    assert!(out.contains("x@acme.example") && out.contains("dora"), "{out}");

    // 1: not found or refused.
    let (code, _, err) = cli(&["usage", "nobody"], &base);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("404") && err.contains("no tenant `nobody`"), "{err}");
    let (code, _, err) = cli(
        &["suppression", "remove", "acme", "never@dest.example", "--reason", "x"],
        &base,
    );
    assert_eq!(code, Some(1), "{err}");
    // 2: bad input, from the command line or as the API judges it.
    let (code, _, err) = cli(&["events", "acme", "--since", "yesterday"], &base);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, _) = cli(&["usage"], &base);
    assert_eq!(code, Some(2));
    let (code, _, err) = cli(&["audit", "acme", "--limit", "5000"], &base);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = cli(
        &["suppression", "add", "acme", "not-an-address", "--reason", "x"],
        &base,
    );
    assert_eq!(code, Some(2), "{err}");
    // 3: nobody listening.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", unused.local_addr().unwrap());
    drop(unused);
    let (code, _, err) = cli(&["usage", "acme"], &dead);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("cannot reach the admin API"), "{err}");
}
