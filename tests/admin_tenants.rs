//! Tenants managed through the admin API on the real gateway (loopback, real RocksDB; two nodes
//! sharing a real `redis-server`): a tenant created by API sends at once by its network or its
//! credentials and its mail reaches the sink; a change of limits or profile holds for the next
//! message; a delete is refused while its mail is queued unless forced; invalid input is a
//! `400` naming every problem; concurrent block, verification and update all stay.

mod store_support;
mod support;

use std::time::{Duration, Instant};

use aupgate::store::Backend;
use serde_json::{json, Value};
use support::{plain, Harness};

/// The admin API of `h`: (status, JSON body or `null`).
async fn api(h: &Harness, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("http://{}{path}", h.gateway.admin_address);
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("admin API reachable");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The submission listener trusted, so AUTH needs no TLS in these tests.
fn trusted_submission(c: &mut aupgate::config::Config) {
    c.listeners[1].trusted = true;
}

fn beta() -> Value {
    json!({
        "id": "beta",
        "name": "Beta Ltd",
        "contact": "abuse@beta.example",
        "networks": ["127.0.0.77/32"],
        "domains": ["Beta.Example."],
        "credentials": [{"username": "beta-user", "password": "beta secret"}],
    })
}

/// One message from `source` on the relay listener: the reply to each step, stopping at the
/// first refusal; the last line.
async fn send_from(h: &Harness, source: &str, from: &str, rcpt: &str) -> String {
    let mut c = h.connect_from(h.relay_addr(), source).await;
    c.send("EHLO client.test", "250 ").await;
    for line in [format!("MAIL FROM:<{from}>"), format!("RCPT TO:<{rcpt}>")] {
        let reply = c.send(&line, "").await.last().cloned().unwrap_or_default();
        if !reply.starts_with("250") {
            return reply;
        }
    }
    c.send("DATA", "354").await;
    c.write(format!("From: {from}\r\nTo: {rcpt}\r\nSubject: hello\r\n\r\nHello there, {rcpt}.\r\n.\r\n").as_bytes())
        .await;
    c.read_reply().await.last().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_created_by_api_sends_at_once_by_network_and_by_credentials() {
    let h = Harness::start_with(trusted_submission).await;
    let (status, created) = api(&h, "POST", "/api/v1/tenants", Some(beta())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["id"], "beta");
    assert_eq!(created["domains"][0]["domain"], "beta.example");
    assert_eq!(created["domains"][0]["verified"], true);
    assert_eq!(created["usernames"], json!(["beta-user"]));
    assert!(!created.to_string().contains("argon2"), "no hash in {created}");

    // By its network (more specific than acme's 127.0.0.0/8).
    let reply = send_from(&h, "127.0.0.77", "news@beta.example", "reader@dest.example").await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let got = h
        .sink
        .wait_for_recipient("reader@dest.example", Duration::from_secs(10))
        .await;
    assert!(String::from_utf8_lossy(&got.data).contains("Hello there"));
    // Acme's other addresses are still acme's, which may not send as beta.example.
    let reply = send_from(&h, "127.0.0.78", "news@beta.example", "x@dest.example").await;
    assert!(reply.starts_with("553 5.7.1"), "{reply}");

    // By its credentials, from outside its networks: refused (as for config tenants) ...
    let mut c = h.connect_from(h.submission_addr(), "127.0.0.1").await;
    c.send("EHLO client.test", "250 ").await;
    let reply = c
        .send(&format!("AUTH PLAIN {}", plain("beta-user", "beta secret")), "")
        .await;
    assert!(!reply.last().unwrap().starts_with("235"), "{reply:?}");
    // ... and a tenant with credentials only sends from anywhere.
    let (status, body) = api(
        &h,
        "POST",
        "/api/v1/tenants",
        Some(json!({"id": "gamma", "domains": ["gamma.example"],
                    "credentials": [{"username": "gamma-user", "password": "gamma secret"}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mut c = h.connect_from(h.submission_addr(), "127.0.0.1").await;
    c.send("EHLO client.test", "250 ").await;
    c.send(
        &format!("AUTH PLAIN {}", plain("gamma-user", "gamma secret")),
        "235 2.7.0",
    )
    .await;
    c.send("MAIL FROM:<a@gamma.example>", "250 2.1.0").await;
    c.send("RCPT TO:<gamma-reader@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(b"From: a@gamma.example\r\nSubject: hi\r\n\r\nhi from gamma\r\n.\r\n")
        .await;
    c.expect("250 2.0.0").await;
    h.sink
        .wait_for_recipient("gamma-reader@dest.example", Duration::from_secs(10))
        .await;

    // A new password for a user name: the old one stops working, the new one works.
    let (status, body) = api(
        &h,
        "PUT",
        "/api/v1/tenants/gamma/credentials",
        Some(json!({"username": "gamma-user", "password": "new secret"})),
    )
    .await;
    assert_eq!((status, body), (200, json!({"usernames": ["gamma-user"]})));
    let mut c = h.connect_from(h.submission_addr(), "127.0.0.1").await;
    c.send("EHLO client.test", "250 ").await;
    c.send(
        &format!("AUTH PLAIN {}", plain("gamma-user", "new secret")),
        "235 2.7.0",
    )
    .await;

    // Listed and shown; every change audited with the caller's name.
    let (status, page) = api(&h, "GET", "/api/v1/tenants?limit=2", None).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 5, "three from the config, two by API: {page}");
    let ids: Vec<&str> = page["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!((ids, page["next_offset"].clone()), (vec!["acme", "beta"], json!(2)));
    let (status, shown) = api(&h, "GET", "/api/v1/tenants/gamma", None).await;
    assert_eq!((status, shown["usernames"].clone()), (200, json!(["gamma-user"])));
    let audit = h.gateway.store.audit_range("gamma", 0, u64::MAX).await.expect("audit");
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .filter(|r| r.action.starts_with("tenant."))
        .map(|r| (r.action.as_str(), r.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![("tenant.create", "admin"), ("tenant.credentials", "admin")]
    );
}

/// A profile whose hourly message quota is 1, next to the default one.
const TIGHT_PROFILE: &str = r#"
[profile]
name = "tight"
description = "one message an hour"

[quotas]
messages_per_hour = 1
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_of_limits_or_profile_holds_for_the_next_message() {
    let h = Harness::start_with(|c| {
        std::fs::create_dir_all(&c.policy.directory).unwrap();
        std::fs::write(format!("{}/tight.toml", c.policy.directory), TIGHT_PROFILE).unwrap();
    })
    .await;
    let (status, body) = api(&h, "POST", "/api/v1/tenants", Some(beta())).await;
    assert_eq!(status, 201, "{body}");
    for n in 0..2 {
        let reply = send_from(&h, "127.0.0.77", "a@beta.example", &format!("r{n}@dest.example")).await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
    }
    // Two sent this hour; a limit of 2 refuses the third at once.
    let (status, body) = api(
        &h,
        "PATCH",
        "/api/v1/tenants/beta",
        Some(json!({"limits": {"messages_per_hour": 2}})),
    )
    .await;
    assert_eq!(
        (status, body["limits"]["messages_per_hour"].clone()),
        (200, json!(2)),
        "{body}"
    );
    let reply = send_from(&h, "127.0.0.77", "a@beta.example", "r2@dest.example").await;
    assert!(reply.starts_with("451 4.7.1"), "{reply}");
    // Raised again: accepted.
    let (status, _) = api(&h, "PATCH", "/api/v1/tenants/beta", Some(json!({"limits": {}}))).await;
    assert_eq!(status, 200);
    let reply = send_from(&h, "127.0.0.77", "a@beta.example", "r3@dest.example").await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    // The tight profile allows one an hour: the next is refused; the name changed on its own.
    let (status, body) = api(
        &h,
        "PATCH",
        "/api/v1/tenants/beta",
        Some(json!({"profile": "tight", "name": "Beta Renamed"})),
    )
    .await;
    assert_eq!(
        (status, body["profile"].clone(), body["name"].clone()),
        (200, json!("tight"), json!("Beta Renamed"))
    );
    assert_eq!(body["contact"], "abuse@beta.example", "fields not given stay");
    let reply = send_from(&h, "127.0.0.77", "a@beta.example", "r4@dest.example").await;
    assert!(reply.starts_with("451 4.7.1"), "{reply}");
    // Networks: moved away, the address is acme's again.
    let (status, _) = api(
        &h,
        "PATCH",
        "/api/v1/tenants/beta",
        Some(json!({"networks": ["192.0.2.0/24"], "profile": "default"})),
    )
    .await;
    assert_eq!(status, 200);
    let reply = send_from(&h, "127.0.0.77", "a@acme.example", "r5@dest.example").await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_is_refused_while_mail_is_queued_unless_forced() {
    let h = Harness::start_with(trusted_submission).await;
    assert_eq!(api(&h, "POST", "/api/v1/tenants", Some(beta())).await.0, 201);
    // The sink answers 451 to `tempfail@`: the message stays queued.
    let reply = send_from(&h, "127.0.0.77", "a@beta.example", "tempfail@dest.example").await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let (status, body) = api(&h, "DELETE", "/api/v1/tenants/beta", None).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("1 message(s) of `beta` are queued"),
        "{body}"
    );
    assert_eq!(api(&h, "GET", "/api/v1/tenants/beta", None).await.0, 200, "still there");
    let (status, _) = api(&h, "DELETE", "/api/v1/tenants/beta?force=true", None).await;
    assert_eq!(status, 204);
    let (status, body) = api(&h, "GET", "/api/v1/tenants/beta", None).await;
    assert_eq!((status, body["error"].clone()), (404, json!("no tenant `beta`")));
    assert_eq!(api(&h, "DELETE", "/api/v1/tenants/beta", None).await.0, 404);
    // Its address is acme's again, and beta's credentials are gone.
    let reply = send_from(&h, "127.0.0.77", "a@beta.example", "x@dest.example").await;
    assert!(reply.starts_with("553 5.7.1"), "{reply}");
    let mut c = h.connect_from(h.submission_addr(), "127.0.0.77").await;
    c.send("EHLO client.test", "250 ").await;
    c.send(
        &format!("AUTH PLAIN {}", plain("beta-user", "beta secret")),
        "535 5.7.8",
    )
    .await;
    // A tenant without queued mail goes at once; the deletion is audited. Its API token goes
    // with it: the tenant created again under the same id is not reachable with it.
    let (status, issued) = api(
        &h,
        "POST",
        "/api/v1/tenants/roaming/tokens",
        Some(json!({"label": "ci"})),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().expect("token").to_string();
    let as_roaming = |path: &'static str| {
        let url = format!("http://{}{path}", h.gateway.admin_address);
        let token = token.clone();
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("reachable");
            response.status().as_u16()
        }
    };
    assert_eq!(as_roaming("/api/v1/tenants/roaming/usage").await, 200);
    assert_eq!(api(&h, "DELETE", "/api/v1/tenants/roaming", None).await.0, 204);
    assert_eq!(as_roaming("/api/v1/tenants/roaming/usage").await, 401);
    let (status, body) = api(
        &h,
        "POST",
        "/api/v1/tenants",
        Some(json!({"id": "roaming", "name": "New owner"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        as_roaming("/api/v1/tenants/roaming/usage").await,
        401,
        "the old token is gone"
    );
    let audit = h.gateway.store.audit_range("beta", 0, u64::MAX).await.expect("audit");
    assert_eq!(audit.last().map(|r| r.action.as_str()), Some("tenant.delete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tenants_are_refused_with_every_problem_named() {
    let h = Harness::start().await;
    let (status, body) = api(
        &h,
        "POST",
        "/api/v1/tenants",
        Some(json!({
            "id": "bad id",
            "profile": "nonexistent",
            "networks": ["10.0.0.0/33"],
            "domains": ["not a domain"],
            "limits": {"bulk_max_recipients": 0},
            "credentials": [{"username": "acme-user", "password": "x"}],
        })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    for expected in [
        "id: `bad id` is not a tenant id",
        "profile: `nonexistent` is not a loaded policy profile",
        "networks[0]: `10.0.0.0/33` is not a CIDR network",
        "domains[0]: `not a domain` is not a domain name",
        "limits.bulk_max_recipients: must be between 1 and 10000",
        "credentials[0].username: user name `acme-user` belongs to another tenant",
    ] {
        assert!(error.contains(expected), "`{expected}` missing from: {error}");
    }
    assert_eq!(
        api(&h, "GET", "/api/v1/tenants/bad%20id", None).await.0,
        404,
        "nothing created"
    );
    let (status, body) = api(&h, "POST", "/api/v1/tenants", Some(json!({"id": "acme"}))).await;
    assert_eq!((status, body["error"].clone()), (409, json!("tenant `acme` exists")));
    // A body that does not parse is refused like every other problem: 400 naming it, as JSON.
    let (status, body) = api(&h, "POST", "/api/v1/tenants", Some(json!({"id": "x", "colour": "red"}))).await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().expect("a JSON error");
    assert!(error.contains("unknown field `colour`"), "{error}");
    let (status, body) = api(&h, "GET", "/api/v1/tenants?limit=5000", None).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("`limit` must be 1..=1000"))
    );
    let (status, body) = api(&h, "GET", "/api/v1/tenants?state=bogus", None).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().expect("a JSON error").contains("bogus"),
        "{body}"
    );
    let (status, body) = api(&h, "PATCH", "/api/v1/tenants/acme", Some(json!({"networks": ["nope"]}))).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("networks[0]: `nope` is not a CIDR network"))
    );
    let (status, _) = api(&h, "PATCH", "/api/v1/tenants/nobody", Some(json!({"name": "x"}))).await;
    assert_eq!(status, 404);
    let (status, body) = api(
        &h,
        "PUT",
        "/api/v1/tenants/acme/credentials",
        Some(json!({"username": "remote-user", "password": "pw"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

async fn redis_node(url: &str) -> Harness {
    let url = url.to_string();
    Harness::start_with(move |c| {
        c.store.backend = Backend::Redis;
        c.store.urls = vec![url];
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_created_on_one_node_sends_through_another_within_two_seconds() {
    let redis = store_support::RedisServer::start();
    let (a, b) = (redis_node(&redis.url()).await, redis_node(&redis.url()).await);
    let (status, body) = api(&a, "POST", "/api/v1/tenants", Some(beta())).await;
    assert_eq!(status, 201, "{body}");
    let created = Instant::now();
    let reply = loop {
        let reply = send_from(&b, "127.0.0.77", "a@beta.example", "via-b@dest.example").await;
        if reply.starts_with("250") || created.elapsed() > Duration::from_secs(5) {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = created.elapsed();
    eprintln!("tenant created on node A sent through node B after {took:?}");
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    b.sink
        .wait_for_recipient("via-b@dest.example", Duration::from_secs(10))
        .await;

    // A block on A, a domain vouched for on B and a profile/name change on A, all at once: each
    // writes its own field, so all three stay, on both nodes.
    let block = api(
        &a,
        "POST",
        "/api/v1/blocks",
        Some(json!({"tenant": "beta", "scope": "tenant", "by": "alice", "reason": "spam run"})),
    );
    let verify = api(
        &b,
        "POST",
        "/api/v1/tenants/beta/domains/news.beta-mail.example/mark-verified",
        Some(json!({"by": "bob", "reason": "checked by phone"})),
    );
    let patch = api(
        &a,
        "PATCH",
        "/api/v1/tenants/beta",
        Some(json!({"name": "Beta Renamed", "contact": "desk@beta.example"})),
    );
    let (block, verify, patch) = tokio::join!(block, verify, patch);
    assert_eq!(
        (block.0, verify.0, patch.0),
        (200, 200, 200),
        "{block:?} {verify:?} {patch:?}"
    );
    for node in [&a, &b] {
        let (status, shown) = api(node, "GET", "/api/v1/tenants/beta", None).await;
        assert_eq!(status, 200);
        assert_eq!(shown["state"], "suspended", "{shown}");
        assert_eq!(shown["name"], "Beta Renamed", "{shown}");
        assert_eq!(shown["contact"], "desk@beta.example", "{shown}");
        let domains: Vec<(&str, bool)> = shown["domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["domain"].as_str().unwrap(), d["verified"].as_bool().unwrap()))
            .collect();
        assert_eq!(domains, vec![("beta.example", true), ("news.beta-mail.example", true)]);
    }
    // And node B refuses the suspended tenant within the follow interval.
    let deadline = Instant::now() + Duration::from_secs(5);
    let reply = loop {
        let reply = send_from(&b, "127.0.0.77", "a@beta.example", "late@dest.example").await;
        if reply.starts_with("554") || Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reply.starts_with("554 5.7.1"), "{reply}");
}

/// `aupgate admin [--json] tenants ARGS` (the real binary) with `stdin` fed to it: exit code,
/// stdout, stderr.
fn tenants_cli(h: &Harness, json: bool, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    use std::io::Write as _;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_aupgate"));
    command
        .arg("admin")
        .arg("--url")
        .arg(format!("http://{}", h.gateway.admin_address));
    if json {
        command.arg("--json");
    }
    let mut child = command
        .arg("tenants")
        .args(args)
        .env_remove("AUPGATE_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run aupgate admin tenants");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let output = child.wait_with_output().expect("exit");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_manages_tenants_with_tables_json_and_exit_codes() {
    let h = Harness::start().await;
    // Create, with networks, a domain and a limit.
    let (code, out, err) = tenants_cli(
        &h,
        true,
        &[
            "add",
            "gamma",
            "--name",
            "Gamma Ltd",
            "--network",
            "10.77.0.0/16",
            "--domain",
            "gamma.example",
            "--limit",
            "messages_per_hour=7",
        ],
        "",
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let created: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(created["id"], "gamma");
    assert_eq!(created["networks"], json!(["10.77.0.0/16"]));
    assert_eq!(created["limits"]["messages_per_hour"], 7);
    assert_eq!(created["domains"][0]["domain"], "gamma.example");

    // The table lists it among the configured tenants, with the total.
    let (code, out, err) = tenants_cli(&h, false, &["list"], "");
    assert_eq!(code, Some(0), "{err}");
    for text in ["gamma", "Gamma Ltd", "10.77.0.0/16", "acme", "Acme"] {
        assert!(out.contains(text), "{text} in {out}");
    }
    assert!(out.contains("4 tenants"), "{out}");

    // A change of one field; the others stay.
    let (code, _, err) = tenants_cli(&h, false, &["set", "gamma", "--contact", "abuse@gamma.example"], "");
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = tenants_cli(&h, true, &["show", "gamma"], "");
    assert_eq!(code, Some(0));
    let shown: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(shown["contact"], "abuse@gamma.example");
    assert_eq!(shown["name"], "Gamma Ltd");
    assert_eq!(shown["limits"]["messages_per_hour"], 7);

    // Credentials: the password from standard input, never echoed back.
    let (code, out, err) = tenants_cli(
        &h,
        true,
        &["credentials", "gamma", "--username", "gamma-user"],
        "s3cret-pw\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("gamma-user") && !out.contains("s3cret") && !out.contains("argon2"),
        "{out}"
    );
    let (code, out, err) = tenants_cli(
        &h,
        false,
        &["credentials", "gamma", "--username", "gamma-two"],
        "0ther-pw\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with("credentials of gamma: gamma-two set; its user names: ")
            && out.trim_end().ends_with("gamma-two, gamma-user"),
        "{out}"
    );

    // Exit codes: 1 not found, 2 usage (a refused input or nothing to set).
    assert_eq!(tenants_cli(&h, false, &["show", "nobody"], "").0, Some(1));
    let (code, _, err) = tenants_cli(&h, false, &["add", "bad", "--name", "x", "--network", "nonsense"], "");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nonsense"), "{err}");
    assert_eq!(tenants_cli(&h, false, &["set", "gamma"], "").0, Some(2));
    assert_eq!(
        tenants_cli(&h, false, &["add", "x", "--name", "x", "--limit", "oops"], "").0,
        Some(2)
    );

    // Delete, then it is gone.
    let (code, _, err) = tenants_cli(&h, false, &["delete", "gamma"], "");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(tenants_cli(&h, false, &["show", "gamma"], "").0, Some(1));
}
