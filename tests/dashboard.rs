//! The dashboard end to end: the real gateway, real SMTP, and Debian's headless Chromium driven
//! through chromedriver (fantoccini). A tenant logs in with its SMTP credentials and reads its
//! gauges; an admin lifts a block through the form and the next MAIL FROM is accepted; a tenant
//! name holding `<script>` is shown as text. Plain HTTP checks cover what a browser would never
//! do on its own: forms without the CSRF token, another tenant's URLs, read-only tokens, login
//! throttling, TLS.
//!
//! Screenshots go to `$CARGO_TARGET_DIR` (or `target/`). Without chromedriver the browser tests
//! say so loudly and pass, except under `CI=true`, where a missing browser fails them.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aupgate::config::{AdminRole, AdminTokenConfig, Config, Rate};
use fantoccini::{Client, Locator};
use support::fixtures::newsletter;
use support::{send_message, Harness, PASSWORD};

const ADMIN_TOKEN: &str = "admin-token-for-the-dashboard-test-0001";
const OPERATOR_TOKEN: &str = "operator-token-for-the-dashboard-test-01";
const SCRIPT_NAME: &str = "<script>alert(1)</script>";

fn sha256_hex(text: &str) -> String {
    aupgate::admin::tokens::hex(&aupgate::admin::tokens::sha256(text.as_bytes()))
}

/// Staff tokens: `alice` (admin) and `desk` (read-only operator), both stored hashed.
fn with_staff(c: &mut Config) {
    c.admin.tokens = vec![
        AdminTokenConfig {
            name: "alice".into(),
            role: AdminRole::Admin,
            sha256: sha256_hex(ADMIN_TOKEN),
        },
        AdminTokenConfig {
            name: "desk".into(),
            role: AdminRole::Operator,
            sha256: sha256_hex(OPERATOR_TOKEN),
        },
    ];
}

/// A headless Chromium behind its own chromedriver on a free loopback port; killed on drop.
struct Browser {
    client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

impl Browser {
    /// The browser, or `None` (with a loud message) when chromedriver or Chromium is missing;
    /// under `CI=true` that is a failure.
    async fn start() -> Option<Browser> {
        let driver = find_program(
            "CHROMEDRIVER",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        );
        let chromium = find_program("CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            let message = "chromedriver or chromium not found (Debian: apt-get install chromium chromium-driver)";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{message}: the dashboard browser tests cannot run under CI=true");
            }
            eprintln!("\n!!!!!!!! SKIPPED: {message} !!!!!!!!\n");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut browser_guard = DriverGuard(Some(child));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1800"],
            }),
        );
        let client = fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("webdriver session");
        Some(Browser {
            client,
            driver: browser_guard.0.take().expect("driver"),
        })
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
            .text()
            .await
            .expect("text")
    }

    async fn login(&self, admin: SocketAddr, username: &str, secret: &str) {
        self.client
            .goto(&format!("http://{admin}/login"))
            .await
            .expect("goto login");
        self.client
            .find(Locator::Id("username"))
            .await
            .expect("username field")
            .send_keys(username)
            .await
            .expect("type");
        self.client
            .find(Locator::Id("secret"))
            .await
            .expect("secret field")
            .send_keys(secret)
            .await
            .expect("type");
        self.client
            .find(Locator::Id("login"))
            .await
            .expect("login button")
            .click()
            .await
            .expect("click");
        // Signed in: every page then has the logout form.
        self.wait_for("form[action='/logout']").await;
    }

    /// Waits (up to 10 s) until the page shows `css`: a click's navigation has finished.
    async fn wait_for(&self, css: &str) {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        if let Err(error) = found {
            let url = self
                .client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = self.client.source().await.unwrap_or_default();
            panic!("`{css}` never appeared ({error}) on {url}:\n{source}");
        }
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
        let dir = dir.join("dashboard-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(name);
        std::fs::write(&path, png).expect("write screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Ends the session; chromedriver goes with `self`.
    async fn close(self) {
        self.client.clone().close().await.expect("close session");
    }
}

/// Kills chromedriver if the session never starts.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn mail_from(h: &Harness, expected: &str) {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<news@acme.example>", expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_logs_in_with_its_smtp_credentials_and_reads_its_gauges() {
    let h = Harness::start_with(|c| {
        c.tenants[0].limits.messages_per_hour = Some(4);
        c.tenants[0].limits.recipients_per_hour = Some(40);
    })
    .await;
    for n in 0..3 {
        let rcpt = format!("reader{n}@dest.example");
        let reply = send_message(&h, "news@acme.example", &[&rcpt], &newsletter("Ann", &rcpt, n)).await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
    }
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<news@not-acme.example>", "553 5.7.1").await;
    // A domain awaiting verification (no staff token configured: the loopback CLI is the admin).
    let added = http_client()
        .post(format!(
            "http://{}/api/v1/tenants/acme/domains",
            h.gateway.admin_address
        ))
        .json(&serde_json::json!({"domain": "news.acme.example", "by": "alice"}))
        .send()
        .await
        .expect("add domain");
    assert_eq!(added.status(), 200);
    let Some(browser) = Browser::start().await else {
        return;
    };
    let admin = h.gateway.admin_address;
    browser.login(admin, "acme-user", PASSWORD).await;
    let url = browser.client.current_url().await.expect("url");
    assert_eq!(url.path(), "/dashboard");
    assert_eq!(browser.text("#tenant-id").await, "acme");
    let gauge = r#"[id="gauge-quota.messages_per_hour"]"#;
    assert_eq!(browser.text(&format!("{gauge} .used")).await, "3");
    assert_eq!(browser.text(&format!("{gauge} .limit")).await, "4");
    assert_eq!(browser.text(&format!("{gauge} .percent")).await, "75%");
    assert_eq!(
        browser.text(&format!("{gauge} .resets")).await,
        "One more message fits now."
    );
    let recipients = r#"[id="gauge-quota.recipients_per_hour"]"#;
    assert_eq!(browser.text(&format!("{recipients} .used")).await, "3");
    assert_eq!(browser.text(&format!("{recipients} .limit")).await, "40");
    let refusals = browser.text("#refusals").await;
    assert!(refusals.contains("sender.domain"), "{refusals}");
    assert!(refusals.contains("not one of your verified domains"), "{refusals}");
    assert!(browser.text("#taken-at").await.ends_with("UTC"));
    let domains = browser.text("#domains").await;
    assert!(
        domains.contains("_aupgate.news.acme.example TXT \"aupgate-verify="),
        "{domains}"
    );
    assert!(
        domains.contains("news.acme.example TXT \"v=spf1 include:_spf.gw.test ~all\""),
        "{domains}"
    );
    let charts = browser.text("figure.chart figcaption").await;
    assert!(charts.contains("3 sent") && charts.contains("1 refused"), "{charts}");
    browser.screenshot("tenant.png").await;

    // Another tenant's page is a 404 page, like a tenant that does not exist.
    browser
        .client
        .goto(&format!("http://{admin}/dashboard/tenants/remote"))
        .await
        .expect("goto");
    assert!(browser.text("#error").await.starts_with("404"));
    browser
        .client
        .goto(&format!("http://{admin}/admin"))
        .await
        .expect("goto");
    assert!(browser.text("#error").await.starts_with("404"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_lifts_a_block_through_the_form_and_mail_flows_again() {
    let h = Harness::start_with(with_staff).await;
    let admin = h.gateway.admin_address;
    let http = http_client();
    let placed = http
        .post(format!("http://{admin}/api/v1/blocks"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"tenant": "acme", "scope": "tenant", "by": "alice", "reason": "spam run 4711"}))
        .send()
        .await
        .expect("block");
    assert_eq!(placed.status(), 200);
    mail_from(&h, "554 5.7.1").await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    browser.login(admin, "", ADMIN_TOKEN).await;
    assert_eq!(browser.client.current_url().await.expect("url").path(), "/admin");
    browser
        .client
        .goto(&format!("http://{admin}/dashboard/tenants/acme"))
        .await
        .expect("goto");
    assert_eq!(browser.text("#tenant-state").await, "suspended");
    assert!(browser.text("#blocks").await.contains("spam run 4711"));
    browser
        .client
        .find(Locator::Id("lift-reason"))
        .await
        .expect("reason field")
        .send_keys("customer cleaned up")
        .await
        .expect("type");
    browser
        .client
        .find(Locator::Id("lift"))
        .await
        .expect("lift button")
        .click()
        .await
        .expect("click");
    browser.wait_for("#no-blocks").await;
    assert_eq!(browser.text("#tenant-state").await, "active");
    assert_eq!(browser.text("#no-blocks").await, "No blocks.");
    let trail = browser.text("#trail").await;
    assert!(
        trail.contains("alice") && trail.contains("customer cleaned up"),
        "{trail}"
    );
    browser.screenshot("admin-tenant.png").await;
    mail_from(&h, "250 2.1.0").await;

    browser
        .client
        .goto(&format!("http://{admin}/admin"))
        .await
        .expect("goto");
    let table = browser.text("#tenants").await;
    assert!(table.contains("acme") && table.contains("remote"), "{table}");
    browser.screenshot("admin-overview.png").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_name_holding_a_script_is_shown_as_text() {
    let h = Harness::start_with(|c| {
        with_staff(c);
        c.tenants[1].name = SCRIPT_NAME.into();
    })
    .await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let admin = h.gateway.admin_address;
    browser.login(admin, "", OPERATOR_TOKEN).await;
    browser
        .client
        .goto(&format!("http://{admin}/admin"))
        .await
        .expect("goto");
    let names = browser
        .client
        .find_all(Locator::Css(".tenant-name"))
        .await
        .expect("names");
    let mut texts = Vec::new();
    for name in names {
        texts.push(name.text().await.expect("text"));
    }
    assert!(texts.iter().any(|t| t == SCRIPT_NAME), "{texts:?}");
    // No alert opened: the script never ran.
    assert!(browser.client.get_alert_text().await.is_err());
    let source = browser.client.source().await.expect("source");
    assert!(!source.contains(SCRIPT_NAME));
    browser
        .client
        .goto(&format!("http://{admin}/dashboard/tenants/remote"))
        .await
        .expect("goto");
    assert_eq!(browser.text("#tenant-name").await, SCRIPT_NAME);
    assert!(browser.client.get_alert_text().await.is_err());
    browser.close().await;
}

// ----- plain HTTP: what a browser never does on its own -----

const FORM: &str = "application/x-www-form-urlencoded";

/// An urlencoded form body, as a browser sends it.
fn form(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The status `GET /dashboard` answers with the session cookie `cookie` (`name=value`).
async fn dashboard_status(admin: SocketAddr, cookie: String) -> u16 {
    http_client()
        .get(format!("http://{admin}/dashboard"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Logs in through the form; the session cookie (`name=value`) and the page's CSRF token.
async fn login(admin: SocketAddr, username: &str, secret: &str) -> (String, String) {
    let http = http_client();
    let response = http
        .post(format!("http://{admin}/login"))
        .header("content-type", FORM)
        .body(form(&[("username", username), ("secret", secret)]))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303, "login refused");
    let set_cookie = response.headers()["set-cookie"].to_str().expect("cookie").to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("cookie").to_string();
    let page = http
        .get(format!("http://{admin}/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("page");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let location = page.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    let body = match location {
        Some(location) => http
            .get(format!("http://{admin}{location}"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("body"),
        None => page.text().await.expect("body"),
    };
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_string();
    (cookie, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_csrf_token_or_from_another_origin_are_refused() {
    let h = Harness::start_with(with_staff).await;
    let admin = h.gateway.admin_address;
    let http = http_client();
    let (cookie, csrf) = login(admin, "", ADMIN_TOKEN).await;
    let block = |fields: Vec<(&'static str, String)>, origin: Option<String>| {
        let mut request = http
            .post(format!("http://{admin}/admin/tenants/acme/block"))
            .header("cookie", &cookie)
            .header("content-type", FORM)
            .body(form(&fields.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let fields = |csrf: &str| {
        vec![
            ("scope", "tenant".to_string()),
            ("reason", "test".to_string()),
            ("csrf", csrf.to_string()),
        ]
    };
    let without = vec![("scope", "tenant".to_string()), ("reason", "test".to_string())];
    assert_eq!(block(without, None).await.expect("post").status(), 403);
    assert_eq!(block(fields("forged"), None).await.expect("post").status(), 403);
    let cross = block(fields(&csrf), Some("http://evil.example".into()))
        .await
        .expect("post");
    assert_eq!(cross.status(), 403);
    mail_from(&h, "250 2.1.0").await;
    // The same form with the session's token (and our own origin) works.
    let ok = block(fields(&csrf), Some(format!("http://{admin}")))
        .await
        .expect("post");
    assert_eq!(ok.status(), 303);
    mail_from(&h, "554 5.7.1").await;
    // A bearer request needs no CSRF token; the JSON API refuses a cookie without one.
    let api = http
        .post(format!("http://{admin}/api/v1/tenants/acme/tokens"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"label": "x"}))
        .send()
        .await
        .expect("post");
    assert_eq!(api.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_name_who_may_do_what_and_a_tenant_sees_only_itself() {
    let h = Harness::start_with(with_staff).await;
    let admin = h.gateway.admin_address;
    let http = http_client();
    let tokens_url = |tenant: &str| format!("http://{admin}/api/v1/tenants/{tenant}/tokens");
    // No token, a wrong one: 401.
    assert_eq!(http.get(tokens_url("acme")).send().await.unwrap().status(), 401);
    assert_eq!(
        http.get(tokens_url("acme"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // The operator reads, never writes.
    let read = http
        .get(tokens_url("acme"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let write = http
        .post(tokens_url("acme"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&serde_json::json!({"label": "deploy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
    // The admin issues a tenant token: shown once, listed without its text.
    let issued: serde_json::Value = {
        let response = http
            .post(tokens_url("acme"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&serde_json::json!({"label": "deploy"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    };
    let token = issued["token"].as_str().expect("token").to_string();
    let id = issued["id"].as_str().expect("id").to_string();
    let listed = http
        .get(tokens_url("acme"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains(&id) && listed.contains("deploy") && !listed.contains(&token),
        "{listed}"
    );
    let records = h.gateway.store.api_token_list("acme").await.unwrap();
    assert_eq!(records.len(), 1);
    assert_ne!(records[0].sha256, token);
    // The tenant token sees its tenant, and another tenant is a 404 like a missing one.
    let own = http.get(tokens_url("acme")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(own.status(), 200);
    for tenant in ["remote", "no-such-tenant"] {
        let other = http.get(tokens_url(tenant)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(other.status(), 404, "{tenant}");
    }
    // Every per-tenant view: its own answers, another tenant's is a 404; so are the
    // provider-wide views.
    for view in ["", "/usage", "/audit", "/events", "/blocks", "/domains", "/suppression"] {
        let own = http
            .get(format!("http://{admin}/api/v1/tenants/acme{view}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), 200, "acme{view}");
        let other = http
            .get(format!("http://{admin}/api/v1/tenants/remote{view}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 404, "remote{view}");
    }
    for wide in ["/api/v1/tenants", "/api/v1/blocks"] {
        let answer = http
            .get(format!("http://{admin}{wide}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{wide}");
    }
    let other_page = http
        .get(format!("http://{admin}/dashboard/tenants/remote"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(other_page.status(), 404);
    // A tenant cannot issue tokens, not even for itself.
    let self_issue = http
        .post(tokens_url("acme"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"label": "more"}))
        .send()
        .await
        .unwrap();
    assert_eq!(self_issue.status(), 404);
    // It logs in to the dashboard with it; revoking the token ends that session too.
    let (cookie, _) = login(admin, "", &token).await;
    let revoked = http
        .delete(format!("{}/{id}", tokens_url("acme")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        http.get(tokens_url("acme"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let page = http
        .get(format!("http://{admin}/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_throttled_per_address_with_a_clear_answer() {
    let h = Harness::start_with(|c| {
        c.limits.auth_failures = Rate::new(3, Duration::from_secs(600));
    })
    .await;
    let admin = h.gateway.admin_address;
    let http = http_client();
    let attempt = |password: &'static str| {
        http.post(format!("http://{admin}/login"))
            .header("content-type", FORM)
            .body(form(&[("username", "acme-user"), ("secret", password)]))
            .send()
    };
    for _ in 0..3 {
        assert_eq!(attempt("wrong").await.unwrap().status(), 401);
    }
    let locked = attempt(PASSWORD).await.unwrap();
    assert_eq!(locked.status(), 429);
    let body = locked.text().await.unwrap();
    assert!(
        body.contains("Too many failed logins from your address: try again in 15 minutes."),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_serves_tls_and_marks_its_cookies_secure() {
    let h = Harness::start_with(|c| {
        with_staff(c);
        c.admin.tls = true;
    })
    .await;
    let admin = h.gateway.admin_address;
    let https = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let page = https.get(format!("https://{admin}/login")).send().await.expect("https");
    assert_eq!(page.status(), 200);
    let login = https
        .post(format!("https://{admin}/login"))
        .header("content-type", FORM)
        .body(form(&[("username", ""), ("secret", ADMIN_TOKEN)]))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    // Plain HTTP is not served on a TLS listener.
    assert!(http_client().get(format!("http://{admin}/login")).send().await.is_err());
}

#[test]
fn a_non_loopback_admin_address_needs_tls_or_an_explicit_insecure_http() {
    let base = "[admin]\naddress = \"0.0.0.0:8025\"\ntoken = \"0123456789abcdef0123\"\n";
    let errors = Config::parse(base)
        .expect_err("plain HTTP on every address")
        .to_string();
    assert!(errors.contains("admin.tls"), "{errors}");
    Config::parse(&format!("{base}tls = true\n")).expect("TLS");
    Config::parse(&format!("{base}insecure_http = true\n")).expect("explicitly insecure");
    let bad = "[admin]\n[[admin.tokens]]\nname = \"x\"\nrole = \"operator\"\nsha256 = \"abc\"\n";
    let errors = Config::parse(bad).expect_err("short hash").to_string();
    assert!(errors.contains("admin.tokens[0].sha256"), "{errors}");
}

/// How long a tenant page takes with 20,000 audit records in its week (debug build: a figure
/// for the report, bounded generously so that only a pathological slowdown fails).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_page_with_twenty_thousand_audit_records_is_drawn_in_time() {
    let h = Harness::start_with(with_staff).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for i in 0..20_000u64 {
        let record = aupgate::store::AuditRecord {
            at: now - i * 30_000,
            actor: "policy".into(),
            action: if i % 10 == 0 { "reject" } else { "accept" }.into(),
            target: if i % 10 == 0 { "bulk.max_recipients" } else { "q" }.into(),
            reason: "550 5.7.1 ...".into(),
            detail: serde_json::Value::Null,
        };
        h.gateway.store.audit_append("acme", &record).await.unwrap();
    }
    let http = http_client();
    let url = format!("http://{}/dashboard/tenants/acme", h.gateway.admin_address);
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let page = http.get(&url).bearer_auth(OPERATOR_TOKEN).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let body = page.text().await.unwrap();
        times.push(started.elapsed());
        assert!(body.contains("bulk.max_recipients"));
    }
    times.sort();
    eprintln!("tenant page with 20,000 audit records: median {:?}", times[2]);
    assert!(times[2] < Duration::from_secs(5), "{times:?}");
}

/// A session lives only as long as the credential it was granted on: a tenant's new password
/// ends the sessions opened with the old one; a session of another tenant's password is none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_password_ends_the_sessions_opened_with_the_old_one() {
    let h = Harness::start_with(with_staff).await;
    let admin = h.gateway.admin_address;
    let http = http_client();
    let (cookie, _) = login(admin, "acme-user", PASSWORD).await;
    let dashboard = |cookie: String| dashboard_status(admin, cookie);
    assert_eq!(dashboard(cookie.clone()).await, 200);
    let changed = http
        .put(format!("http://{admin}/api/v1/tenants/acme/credentials"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&serde_json::json!({"username": "acme-user", "password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(dashboard(cookie).await, 303, "the old password's session is over");
    let (cookie, _) = login(admin, "acme-user", "a brand new password").await;
    assert_eq!(dashboard(cookie).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_ends_the_session_for_every_copy_of_its_cookie() {
    let h = Harness::start_with(with_staff).await;
    let admin = h.gateway.admin_address;
    let http = http_client();
    let (cookie, csrf) = login(admin, "acme-user", PASSWORD).await;
    let dashboard = |cookie: String| dashboard_status(admin, cookie);
    assert_eq!(dashboard(cookie.clone()).await, 200);
    let logout = http
        .post(format!("http://{admin}/logout"))
        .header("cookie", &cookie)
        .header("content-type", FORM)
        .header("origin", format!("http://{admin}"))
        .body(form(&[("csrf", &csrf)]))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    assert_eq!(logout.headers()["location"], "/login");
    // The browser forgot the cookie; a copy kept elsewhere is no good any more either.
    assert_eq!(
        dashboard(cookie).await,
        303,
        "a logged-out session still opened the dashboard"
    );
    let (cookie, _) = login(admin, "acme-user", PASSWORD).await;
    assert_eq!(dashboard(cookie).await, 200, "a new login works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_address_or_query_gets_a_page_that_says_so() {
    let h = Harness::start_with(with_staff).await;
    let admin = h.gateway.admin_address;
    let http = http_client();
    let page = http.get(format!("http://{admin}/nope")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("There is no page at /nope."));
    let api = http
        .get(format!("http://{admin}/api/v1/nope"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"], "There is no page at /api/v1/nope.");

    let (cookie, _) = login(admin, "", ADMIN_TOKEN).await;
    for (query, expected) in [
        (
            "state=nonsense",
            "`nonsense` is not a tenant state (active, warned, final_warning, suspended)",
        ),
        ("sort=bogus", "sort"),
    ] {
        let page = http
            .get(format!("http://{admin}/admin?{query}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 400, "{query}");
        let body = page.text().await.unwrap();
        assert!(body.contains("<html") && body.contains(expected), "{query}: {body}");
    }
}
