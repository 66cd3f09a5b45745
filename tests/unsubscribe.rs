//! The unsubscribe the gateway enforces, end to end: bulk mail leaves with the gateway's own
//! List-Unsubscribe (one-click URL and mailto, RFC 8058) covered by its DKIM signature (checked
//! by an implementation we did not write, `mailauth`); `GET` on the link changes nothing, a
//! forged token answers `404` and suppresses no one, `POST` suppresses the recipient at once so
//! the next bulk message to it is refused, and the tenant hears of it (webhook, or a notice by
//! mail); the mail path does the same from a message to the unsubscribe address.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aupgate::auth::keys::{self, Algorithm};
use aupgate::complaints::unsubscribe::{UnsubscribeError, Via};
use aupgate::config::{Config, UnsubscribeNotify};
use support::dns::Record;
use support::fixtures::newsletter;
use support::verifier::verify_independently;
use support::{send_message, Harness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REPLACE: &str = r#"
[profile]
name = "default"
[unsubscribe]
enabled = true
mode = "replace"
"#;

const ADD: &str = r#"
[profile]
name = "default"
[unsubscribe]
enabled = true
mode = "add"
"#;

/// The newsletter to `rcpt` with the tenant's own list fields on top.
fn bulk(rcpt: &str, n: usize, list_fields: &str) -> String {
    format!("{list_fields}{}", newsletter("Reader", rcpt, n))
}

const TENANT_UNSUBSCRIBE: &str = "List-Unsubscribe: <https://acme.example/unsub/1>\r\n\
    List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nPrecedence: bulk\r\n";

fn header_block(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    text.split("\r\n\r\n").next().unwrap_or("").to_string()
}

/// The unfolded values of the fields named `name` in a header block.
fn fields(head: &str, name: &str) -> Vec<String> {
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    unfolded
        .split("\r\n")
        .filter(|line| line.to_ascii_lowercase().starts_with(&prefix))
        .map(|line| line[prefix.len()..].trim().to_string())
        .collect()
}

/// The one-click URL's path (`/u/TOKEN`) and the mailto's token in a List-Unsubscribe value.
fn links(value: &str) -> (String, String) {
    let url = value
        .split('<')
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("a URL");
    let path = url
        .strip_prefix("https://gw.test")
        .expect("the gateway's URL")
        .to_string();
    let token = value
        .split("?subject=")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("a mailto token")
        .to_string();
    (path, token)
}

/// A loopback HTTP server that records the bodies POSTed to it and answers `200`.
struct Hook {
    url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Hook {
    async fn start() -> Hook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let Ok(n) = stream.read(&mut buf).await else { return };
                        if n == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&request).to_string();
                        let Some((head, body)) = text.split_once("\r\n\r\n") else {
                            continue;
                        };
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_string())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if body.len() >= length {
                            seen.lock().unwrap().push(body.to_string());
                            let _ = stream
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                                .await;
                            return;
                        }
                    }
                });
            }
        });
        Hook { url, bodies }
    }

    async fn wait_for_one(&self) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(body) = self.bodies.lock().unwrap().first() {
                return serde_json::from_str(body).expect("JSON");
            }
            assert!(tokio::time::Instant::now() < deadline, "the webhook got nothing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn admin(h: &Harness, path: &str) -> String {
    format!("http://{}{path}", h.gateway.admin_address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_click_suppresses_the_next_bulk_message_and_the_signature_covers_the_gateways_fields() {
    let hook = Hook::start().await;
    let mut record = None;
    let webhook = hook.url.clone();
    let h = Harness::start_with_profile(Some(REPLACE), |c: &mut Config| {
        let key = keys::generate(&c.data_dir().join("dkim"), "acme.example", "r1", Algorithm::Rsa2048).expect("key");
        record = Some((key.record_name(), key.dns_record()));
        c.unsubscribe.notify = UnsubscribeNotify::Webhook;
        c.unsubscribe.webhook = Some(webhook);
    })
    .await;
    let (name, value) = record.unwrap();
    h.dns.zone.add(&name, Record::Txt(value));

    let reply = send_message(
        &h,
        "news@acme.example",
        &["bob@dest.example"],
        &bulk("bob@dest.example", 1, TENANT_UNSUBSCRIBE),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let got = h
        .sink
        .wait_for_recipient("bob@dest.example", Duration::from_secs(10))
        .await;
    let head = header_block(&got.data);
    // The tenant's fields are replaced by the gateway's, on top with the attribution fields.
    let unsubscribe = fields(&head, "List-Unsubscribe");
    assert_eq!(unsubscribe.len(), 1, "{head}");
    assert!(unsubscribe[0].starts_with("<https://gw.test/u/u1."), "{head}");
    assert!(
        unsubscribe[0].contains(", <mailto:unsubscribe@gw.test?subject=u1."),
        "{head}"
    );
    assert_eq!(fields(&head, "List-Unsubscribe-Post"), ["List-Unsubscribe=One-Click"]);
    assert!(!head.contains("acme.example/unsub"), "{head}");
    let signed = fields(&head, "DKIM-Signature")[0]
        .split("h=")
        .nth(1)
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .replace(' ', "");
    let signed: Vec<&str> = signed.split(':').collect();
    assert!(
        signed.contains(&"list-unsubscribe") && signed.contains(&"list-unsubscribe-post"),
        "{head}"
    );
    let verdict = verify_independently(&h, &got.data, "news@acme.example");
    assert_eq!(verdict["dkim"][0]["result"], "pass", "{verdict}");
    assert_eq!(verdict["dkim"][0]["domain"], "acme.example", "{verdict}");
    // A link changed on the way breaks the signature.
    let (path, token) = links(&unsubscribe[0]);
    let text = String::from_utf8_lossy(&got.data).to_string();
    let altered = text.replacen(&path, &format!("{path}x"), 1);
    let verdict = verify_independently(&h, altered.as_bytes(), "news@acme.example");
    assert_ne!(verdict["dkim"][0]["result"], "pass", "{verdict}");
    assert_eq!(path, format!("/u/{token}"));

    let http = reqwest::Client::new();
    let store = &h.gateway.store;
    // GET shows the question and changes nothing.
    let page = http.get(admin(&h, &path)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    // No other site may frame the one-click form.
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let page = page.text().await.unwrap();
    assert!(page.contains("<form method=\"post\">"), "{page}");
    assert!(page.contains("bob@dest.example"), "{page}");
    assert!(!store.suppression_contains("acme", "bob@dest.example").await.unwrap());

    // A forged token (another MAC, or another recipient under the old MAC) does nothing.
    let mut forged = path.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [forged.as_str(), "/u/u1.k.x.y", "/u/nonsense"] {
        let response = http
            .post(admin(&h, bad))
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{bad}");
        assert_eq!(http.get(admin(&h, bad)).send().await.unwrap().status().as_u16(), 404);
    }
    assert!(store.suppression_list("acme").await.unwrap().is_empty());

    // The one-click POST, as a mailbox provider sends it.
    let response = http
        .post(admin(&h, &path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let list = store.suppression_list("acme").await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].address.as_str(), list[0].reason.as_str()),
        ("bob@dest.example", "unsubscribe")
    );

    // The next bulk message to that recipient is refused at once; other mail to it is not.
    let reply = send_message(
        &h,
        "news@acme.example",
        &["bob@dest.example"],
        &bulk("bob@dest.example", 2, TENANT_UNSUBSCRIBE),
    )
    .await;
    assert!(reply.starts_with("550 5.7.1 Recipient bob@dest.example "), "{reply}");
    assert!(
        reply.contains("is suppressed for your bulk mail (it hard-bounced, complained or unsubscribed earlier)"),
        "{reply}"
    );
    let reply = send_message(
        &h,
        "news@acme.example",
        &["bob+orders@dest.example"],
        &bulk("bob+orders@dest.example", 3, "List-Id: <news.acme.example>\r\n"),
    )
    .await;
    assert!(reply.starts_with("550 5.7.1"), "the same mailbox: {reply}");
    let reply = send_message(
        &h,
        "news@acme.example",
        &["bob@dest.example"],
        "From: news@acme.example\r\nTo: bob@dest.example\r\nSubject: Your receipt\r\n\r\nThank you for your order 1234.\r\n",
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "transactional mail: {reply}");

    // The tenant's webhook heard of it.
    let event = hook.wait_for_one().await;
    assert_eq!(event["event"], "unsubscribe");
    assert_eq!(event["tenant"], "acme");
    assert_eq!(event["recipient"], "bob@dest.example");
    assert_eq!(event["via"], "one_click");
    assert_eq!(event["campaign"].as_str().map(str::len), Some(16), "{event}");
    // A second click changes nothing and tells no one again.
    let again = http.post(admin(&h, &path)).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.bodies.lock().unwrap().len(), 1);
    let audit = store.audit_range("acme", 0, u64::MAX).await.unwrap();
    assert_eq!(
        audit.iter().filter(|r| r.action == "unsubscribe").count(),
        1,
        "a repeated hit is not audited again"
    );
    assert!(audit.iter().any(|r| r.action == "unsubscribe.notify"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_mode_keeps_the_tenants_link_and_mail_to_the_address_unsubscribes() {
    let h = Harness::start_with_profile(Some(ADD), |_| {}).await;
    // The tenant's own List-Unsubscribe stays, alone.
    let reply = send_message(
        &h,
        "news@acme.example",
        &["ann@dest.example"],
        &bulk("ann@dest.example", 1, TENANT_UNSUBSCRIBE),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let ann = h
        .sink
        .wait_for_recipient("ann@dest.example", Duration::from_secs(10))
        .await;
    assert_eq!(
        fields(&header_block(&ann.data), "List-Unsubscribe"),
        ["<https://acme.example/unsub/1>"]
    );
    // List mail without one gets the gateway's.
    let reply = send_message(
        &h,
        "news@acme.example",
        &["carol@dest.example"],
        &bulk("carol@dest.example", 2, "List-Id: <news.acme.example>\r\n"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let carol = h
        .sink
        .wait_for_recipient("carol@dest.example", Duration::from_secs(10))
        .await;
    let head = header_block(&carol.data);
    let unsubscribe = fields(&head, "List-Unsubscribe");
    assert_eq!(unsubscribe.len(), 1, "{head}");
    let (_, token) = links(&unsubscribe[0]);
    // Mail to several recipients cannot carry one token per recipient: left as it was.
    let reply = send_message(
        &h,
        "news@acme.example",
        &["dan@dest.example", "eve@dest.example"],
        &bulk("dan@dest.example", 3, "List-Id: <news.acme.example>\r\n"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let dan = h
        .sink
        .wait_for_recipient("dan@dest.example", Duration::from_secs(10))
        .await;
    assert!(fields(&header_block(&dan.data), "List-Unsubscribe").is_empty());

    // Mail to the address: a forged token does nothing, the real one unsubscribes.
    let unsubscriber = &h.gateway.unsubscribe;
    assert_eq!(unsubscriber.address(), "unsubscribe@gw.test");
    let mut forged = token.clone();
    forged.insert(10, 'x');
    let raw = format!("From: carol@dest.example\r\nTo: unsubscribe@gw.test\r\nSubject: {forged}\r\n\r\n");
    assert!(matches!(
        unsubscriber.handle_unsubscribe_mail(raw.as_bytes()).await,
        Err(UnsubscribeError::InvalidToken)
    ));
    assert!(h.gateway.store.suppression_list("acme").await.unwrap().is_empty());
    let raw = format!("From: carol@dest.example\r\nTo: unsubscribe@gw.test\r\nSubject: {token}\r\n\r\n");
    let hit = unsubscriber
        .handle_unsubscribe_mail(raw.as_bytes())
        .await
        .expect("unsubscribed");
    assert_eq!(
        (hit.tenant.as_str(), hit.recipient.as_str(), hit.via),
        ("acme", "carol@dest.example", Via::Mail)
    );
    let reply = send_message(
        &h,
        "news@acme.example",
        &["carol@dest.example"],
        &bulk("carol@dest.example", 4, "List-Id: <news.acme.example>\r\n"),
    )
    .await;
    assert!(reply.starts_with("550 5.7.1 Recipient carol@dest.example "), "{reply}");

    // Without a webhook the tenant's contact gets a notice.
    let notice = h
        .sink
        .wait_for_recipient("abuse@provider.test", Duration::from_secs(10))
        .await;
    let text = String::from_utf8_lossy(&notice.data);
    assert!(
        text.contains("Subject: A recipient unsubscribed from your mail\r\n"),
        "{text}"
    );
    assert!(
        text.contains("The recipient carol@dest.example unsubscribed (by mail)"),
        "{text}"
    );
}

/// The presets whose provider asks for enforced removal turn the gateway's unsubscribe on, in
/// `replace` mode (every unsubscribe passes the gateway); the others leave it off.
#[test]
fn presets_enforce_unsubscribe_where_their_provider_asks_for_it() {
    use aupgate::policy::profile::Profile;
    use aupgate::policy::unsubscribe::UnsubscribeMode;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for (preset, enabled, mode) in [
        ("default", false, UnsubscribeMode::Add),
        ("spcm", false, UnsubscribeMode::Add),
        ("pageant-server", true, UnsubscribeMode::Replace),
        ("socketlabs", true, UnsubscribeMode::Replace),
        ("ims-network", true, UnsubscribeMode::Replace),
        ("integra", false, UnsubscribeMode::Add),
    ] {
        let profile = Profile::load(&dir.join(format!("{preset}.toml"))).expect("loads");
        assert_eq!(
            (profile.unsubscribe.enabled, profile.unsubscribe.mode),
            (enabled, mode),
            "{preset}"
        );
        // Enforcing it needs the suppression check that refuses the next bulk message.
        assert!(!enabled || profile.suppression.enabled, "{preset}");
    }
    let errors = Profile::parse("[unsubscribe]\nenabled = true\nmode = \"sometimes\"\n").expect_err("bad mode");
    assert_eq!(errors.0[0].path, "unsubscribe.mode");
}

/// An unidentified client (the submission listener without AUTH), as a mail client sends it:
/// mail to the unsubscribe address with `subject` and no token. Returns the MAIL FROM reply when
/// it is not `250`, else the RCPT TO reply; when that is `250`, DATA must be refused for want of
/// a token.
async fn unsubscribe_mail_reply(h: &Harness, subject: String) -> String {
    let mut c = h.connect(h.submission_addr()).await;
    c.send("EHLO mua.dest.example", "250 ").await;
    let mail = c
        .send("MAIL FROM:<carol@dest.example>", "")
        .await
        .last()
        .unwrap()
        .clone();
    if !mail.starts_with("250") {
        return mail;
    }
    let reply = c
        .send("RCPT TO:<unsubscribe@gw.test>", "")
        .await
        .last()
        .unwrap()
        .clone();
    if reply.starts_with("250") {
        c.send("DATA", "354").await;
        c.write(format!("Subject: {subject}\r\n\r\n.\r\n").as_bytes()).await;
        let data = c.read_reply().await.last().unwrap().clone();
        assert_eq!(
            data,
            "550 5.7.1 No valid unsubscribe token in the subject or the address"
        );
    }
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unsubscribe_address_takes_a_limited_number_of_mails_per_client() {
    let h = Harness::start_with_profile(Some(ADD), |c| {
        c.unsubscribe.max_mails_per_client = aupgate::config::Rate::new(2, Duration::from_secs(3600));
    })
    .await;
    let rcpt_reply = |n: usize| unsubscribe_mail_reply(&h, format!("unsubscribe me {n}"));
    for n in 0..2 {
        assert_eq!(rcpt_reply(n).await, "250 2.1.5 Recipient OK", "within the rate");
    }
    assert_eq!(
        rcpt_reply(2).await,
        "451 4.7.1 Too many unsubscribe mails from your address (at most 2 per 1h), try again later"
    );
}

/// The unsubscribe address takes mail while a loaded profile adds the gateway's
/// List-Unsubscribe: a policy reload that turns `[unsubscribe]` on opens it without a restart,
/// one that turns it off closes it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_reload_opens_and_closes_the_unsubscribe_address() {
    const OFF: &str = "[profile]\nname = \"default\"\n";
    let h = Harness::start_with_profile(Some(OFF), |_| {}).await;
    let rcpt_reply = || unsubscribe_mail_reply(&h, "unsubscribe me".to_string());
    // Closed: with no local mailbox open, the submission listener wants the client to
    // authenticate (and first to encrypt) at MAIL FROM.
    let closed = rcpt_reply().await;
    assert_eq!(closed, "530 5.7.0 Must issue a STARTTLS command first");
    let policy = h.dir.path().join("policies/default.toml");
    std::fs::write(&policy, ADD).unwrap();
    h.gateway.reload_policies().await.expect("reload");
    assert_eq!(rcpt_reply().await, "250 2.1.5 Recipient OK");
    std::fs::write(&policy, OFF).unwrap();
    h.gateway.reload_policies().await.expect("reload");
    assert_eq!(rcpt_reply().await, closed);
}
