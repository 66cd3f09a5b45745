//! Complaint intake end to end: the real gateway, a newsletter relayed through it to the sink
//! (so it carries the real `X-Aupgate-Ref`), then feedback reports about it built the way real
//! loops build them — mail-auth's ARF generator, a hand-written Yahoo/AOL-style ARF, a
//! header-only one with a redacted recipient, a Microsoft-style (JMRP) one — fed by SMTP to
//! the feedback address, by `POST /api/v1/complaints` and by `aupgate admin complaints
//! import`. Attribution by trace header, by Message-ID, or none; duplicates, `not-spam`,
//! reports about reports; the complaining recipient's suppression as the next bulk message
//! sees it; the feedback address needing no AUTH, never reaching the relay, its size limit,
//! rate limit and mixing rule.

mod store_support;
mod support;

use std::time::Duration;

use aupgate::complaints::attribution::TRACE_HEADER;
use mail_auth::report::{Feedback, FeedbackType};
use serde_json::{json, Value};
use support::fixtures::newsletter;
use support::{admin_cli, send_message, send_queued, Harness};

const FEEDBACK: &str = "fbl@gw.test";

async fn start() -> Harness {
    Harness::start_with(|c| {
        c.feedback.addresses = vec![FEEDBACK.into(), "abuse-reports@gw.test".into()];
        c.feedback.max_report_size = aupgate::config::ByteSize(32 * 1024);
    })
    .await
}

/// Relays a newsletter copy to `rcpt` and returns (queue id, the message as the next hop got it).
async fn relay_newsletter(h: &Harness, rcpt: &str, n: usize) -> (String, String) {
    let queue_id = send_queued(
        h,
        "news@acme.example",
        "",
        &[rcpt],
        newsletter("Bob", rcpt, n).as_bytes(),
    )
    .await;
    let got = h.sink.wait_for_recipient(rcpt, Duration::from_secs(10)).await;
    (queue_id, String::from_utf8_lossy(&got.data).into_owned())
}

/// The campaign the acceptance of `queue_id` was audited with.
async fn campaign_of(h: &Harness, queue_id: &str) -> String {
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.expect("audit");
    let record = audit
        .iter()
        .find(|r| r.action == "accept" && r.target == queue_id)
        .expect("accept record");
    record.detail["campaign"].as_str().expect("campaign").to_string()
}

/// An ARF report made by mail-auth's generator, as a loop using it sends it.
fn generated_arf(original: &str, rcpt: &str) -> String {
    Feedback::new(FeedbackType::Abuse)
        .with_original_rcpt_to(rcpt)
        .with_reporting_mta("fbl.mailbox.example")
        .with_user_agent("SomeLoop/1.0")
        .with_arrival_date(1_764_950_400)
        .with_message(original)
        .to_rfc5322("fbl@mailbox.example", FEEDBACK, "Abuse report")
        .expect("generate")
}

/// A Yahoo/AOL-style ARF written by hand: only the returned header, the recipient redacted.
fn yahoo_style_headers_only(original: &str, report_id: &str) -> String {
    let header = original.split("\r\n\r\n").next().expect("header");
    format!(
        "Return-Path: <feedback@arf.mail.yahoo.example>\r\nFrom: Yahoo! Mail AntiSpam Feedback \
         <feedback@arf.mail.yahoo.example>\r\nTo: {FEEDBACK}\r\nSubject: FW: Spring sale\r\n\
         Message-ID: <{report_id}>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"----=_ARF_1\"\r\n\r\n\
         ------=_ARF_1\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\n\
         This is an email abuse report for an email message received from IP 192.0.2.25\r\n\r\n\
         ------=_ARF_1\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n\
         User-Agent: Yahoo!-Mail-Feedback/2.0\r\nVersion: 0.1\r\nOriginal-Mail-From: <news@acme.example>\r\n\
         Original-Rcpt-To: xxxxxxxxxxxx@yahoo.example\r\nReceived-Date: Sat, 05 Dec 2026 09:00:00 +0000\r\n\
         Source-IP: 192.0.2.25\r\nReported-Domain: acme.example\r\nAuthentication-Results: mta.yahoo.example; \
         dkim=pass header.d=acme.example\r\n\r\n------=_ARF_1\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         {header}\r\n\r\n------=_ARF_1--\r\n"
    )
}

/// A Microsoft-style (JMRP) report: no ARF fields, the original attached.
fn microsoft_style(original: &str) -> String {
    format!(
        "From: staff@hotmail.example\r\nTo: {FEEDBACK}\r\nSubject: complaint about message from 192.0.2.25\r\n\
         Date: Sat, 05 Dec 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"jmrp\"\r\n\r\n--jmrp\r\nContent-Type: text/plain\r\n\r\n\
         This is an email abuse report from the Junk Mail Reporting Program.\r\n--jmrp\r\n\
         Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n{original}\r\n--jmrp--\r\n"
    )
}

/// `original` with its trace header replaced by `value` (or removed when `None`).
fn with_trace(original: &str, value: Option<&str>) -> String {
    let prefix = format!("{TRACE_HEADER}: ");
    original
        .split("\r\n")
        .filter_map(|line| match (line.starts_with(&prefix), value) {
            (true, Some(value)) => Some(format!("{prefix}{value}")),
            (true, None) => None,
            (false, _) => Some(line.to_string()),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn trace_of(original: &str) -> String {
    let prefix = format!("{TRACE_HEADER}: ");
    original
        .split("\r\n")
        .find_map(|line| line.strip_prefix(&prefix))
        .expect("trace header")
        .to_string()
}

/// Sends `report` to the feedback address on the submission listener without AUTH (the way a
/// mailbox provider's loop connects: unidentified); every reply line, the last one DATA's.
async fn smtp_report(h: &Harness, rcpt: &str, report: &str) -> String {
    let mut c = h.connect(h.submission_addr()).await;
    c.send("EHLO mta.mailbox.example", "250 ").await;
    c.send("MAIL FROM:<fbl@mailbox.example>", "250 2.1.0").await;
    c.send(&format!("RCPT TO:<{rcpt}>"), "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(report.replace("\r\n.", "\r\n..").as_bytes()).await;
    c.write(b"\r\n.\r\n").await;
    let reply = c.read_reply().await.last().expect("reply").clone();
    c.send("QUIT", "221").await;
    reply
}

fn url(h: &Harness, path: &str) -> String {
    format!("http://{}{path}", h.gateway.admin_address)
}

async fn post_report(h: &Harness, report: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(url(h, "/api/v1/complaints"))
        .header("content-type", "message/rfc822")
        .body(report.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("admin API");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn call(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url(h, path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("admin API");
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

fn id_in(reply: &str) -> String {
    reply
        .split_whitespace()
        .find(|word| word.len() > 14 && word.as_bytes()[13] == b'-')
        .unwrap_or_else(|| panic!("no complaint id in {reply}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_by_smtp_comes_back_to_tenant_and_campaign_and_suppresses_the_recipient() {
    let h = start().await;
    let (queue_id, original) = relay_newsletter(&h, "bob@dest.example", 1).await;
    let campaign = campaign_of(&h, &queue_id).await;
    let relayed = h.sink.messages().len();

    let report = generated_arf(&original, "bob@dest.example");
    let reply = smtp_report(&h, FEEDBACK, &report).await;
    assert!(reply.starts_with("250 2.0.0 Report received: complaint "), "{reply}");
    let id = id_in(&reply);

    // Stored, attributed by the trace header to the tenant, campaign and message.
    let (status, complaint) = call(
        &h,
        reqwest::Method::GET,
        &format!("/api/v1/complaints/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{complaint}");
    assert_eq!(complaint["tenant"], "acme");
    assert_eq!(complaint["campaign"], campaign.as_str());
    assert_eq!(complaint["queue_id"], queue_id.as_str());
    assert_eq!(complaint["attributed_by"], "trace_header");
    assert_eq!(complaint["recipient"], "bob@dest.example");
    assert_eq!(complaint["reporter"], "fbl.mailbox.example");
    assert_eq!(complaint["feedback_type"], "abuse");
    assert_eq!(complaint["source"], "smtp");
    assert!(complaint["original"]
        .as_str()
        .expect("original")
        .contains("Spring sale"));

    // The same report again counts once.
    let again = smtp_report(&h, FEEDBACK, &report).await;
    assert_eq!(again, format!("250 2.0.0 Report received: duplicate of complaint {id}"));

    // The complaining recipient is suppressed for acme (reason `complaint`), audited...
    let suppressed = h.gateway.store.suppression_list("acme").await.expect("list");
    assert_eq!(suppressed.len(), 1, "{suppressed:?}");
    assert_eq!(
        (suppressed[0].address.as_str(), suppressed[0].reason.as_str()),
        ("bob@dest.example", "complaint")
    );
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.expect("audit");
    let record = audit
        .iter()
        .find(|r| r.action == "complaint")
        .expect("complaint audited");
    assert_eq!(record.target, id);
    assert_eq!(audit.iter().filter(|r| r.action == "complaint").count(), 1);

    // ... and the next bulk message to it is refused with the suppression check's reply.
    let bulk = newsletter("Bob", "bob@dest.example", 2).replacen(
        "Subject:",
        "List-Unsubscribe: <https://acme.example/u>\r\nSubject:",
        1,
    );
    let refused = send_message(&h, "news@acme.example", &["bob@dest.example"], &bulk).await;
    assert!(
        refused.starts_with("550 5.7.1 Recipient bob@dest.example "),
        "{refused}"
    );
    assert!(refused.ends_with("[rule suppression.hard_bounce]"), "{refused}");

    // The reports never reached the relay: once the queue is empty, what the sink has is all
    // it will ever get.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert_eq!(h.sink.messages().len(), relayed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_or_forged_trace_header_attributes_nothing() {
    let h = start().await;
    let (queue_id, original) = relay_newsletter(&h, "carol@dest.example", 1).await;

    // Altered: one character of the payload changed. The header attributes nothing; the
    // message was relayed, so its Message-ID still leads to it.
    let trace = trace_of(&original);
    let mut parts: Vec<String> = trace.split('.').map(str::to_string).collect();
    let flipped = if parts[2].starts_with('Y') { "Z" } else { "Y" };
    parts[2].replace_range(0..1, flipped);
    let altered = with_trace(&original, Some(&parts.join(".")));
    let (status, outcome) = post_report(&h, &generated_arf(&altered, "carol@dest.example"), None).await;
    assert_eq!(status, 201, "{outcome}");
    assert_eq!(outcome["outcome"], "recorded");
    assert_eq!(outcome["tenant"], "acme");
    assert_eq!(outcome["attributed_by"], "message_id");

    // Stripped: attributed by Message-ID to the same message.
    let stripped = with_trace(&original, None);
    let yahoo = yahoo_style_headers_only(&stripped, "y1@arf.mail.yahoo.example");
    let (status, outcome) = post_report(&h, &yahoo, None).await;
    assert_eq!(status, 201, "{outcome}");
    assert_eq!(outcome["attributed_by"], "message_id");
    let (_, shown) = call(
        &h,
        reqwest::Method::GET,
        &format!("/api/v1/complaints/{}", outcome["id"].as_str().expect("id")),
        None,
        None,
    )
    .await;
    assert_eq!(shown["queue_id"], queue_id.as_str());
    // Header only, the recipient redacted (RFC 6590): unknown, no error, nobody suppressed by it.
    assert_eq!(shown["recipient"], Value::Null);
    assert_eq!(shown["reporter"], "arf.mail.yahoo.example");

    // Forged: a header naming acme with a made-up MAC, on mail the gateway never relayed.
    let forged = original
        .replace(
            &trace,
            "1.k1.YWNtZQBjYW1wAHF1ZXVl.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .replace("Message-ID: <", "Message-ID: <not-ours.");
    let (status, outcome) = post_report(&h, &microsoft_style(&forged), None).await;
    assert_eq!(status, 201, "{outcome}");
    assert_eq!(outcome["tenant"], Value::Null, "{outcome}");
    let (_, unattributed) = call(
        &h,
        reqwest::Method::GET,
        "/api/v1/complaints?unattributed=true",
        None,
        None,
    )
    .await;
    let items = unattributed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{unattributed}");
    assert_eq!(items[0]["reporter"], "hotmail.example");
    // It touched no tenant: carol is not suppressed by it (only the message-id one above did).
    let suppressed = h.gateway.store.suppression_list("acme").await.expect("list");
    assert_eq!(
        suppressed.iter().map(|s| s.address.as_str()).collect::<Vec<_>>(),
        ["carol@dest.example"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_spam_and_reports_about_reports_are_ignored_and_the_desk_types_complaints_in() {
    let h = start().await;
    let (_, original) = relay_newsletter(&h, "dave@dest.example", 1).await;

    let not_spam =
        generated_arf(&original, "dave@dest.example").replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
    let (status, outcome) = post_report(&h, &not_spam, None).await;
    assert_eq!(
        (status, outcome),
        (200, json!({"outcome": "ignored", "reason": "not_spam"}))
    );

    let about_a_report = generated_arf(&generated_arf(&original, "dave@dest.example"), "x@dest.example");
    let (status, outcome) = post_report(&h, &about_a_report, None).await;
    assert_eq!(
        (status, outcome),
        (200, json!({"outcome": "ignored", "reason": "report_about_report"}))
    );
    let reply = smtp_report(&h, "abuse-reports@gw.test", &about_a_report).await;
    assert_eq!(
        reply,
        "250 2.0.0 Report received: not a complaint (report_about_report)"
    );

    // The abuse desk's form: by tenant, urgent, with a note.
    let form = json!({"tenant": "acme", "reporter": "someone@isp.example", "recipient": "Erin+list@Dest.Example",
        "note": "phoned the helpdesk", "urgent": true});
    let (status, outcome) = call(
        &h,
        reqwest::Method::POST,
        "/api/v1/complaints",
        Some(form.clone()),
        None,
    )
    .await;
    assert_eq!(status, 201, "{outcome}");
    assert_eq!(outcome["attributed_by"], "operator");
    let (status, again) = call(&h, reqwest::Method::POST, "/api/v1/complaints", Some(form), None).await;
    assert_eq!((status, again["outcome"].as_str()), (200, Some("duplicate")));
    let (_, shown) = call(
        &h,
        reqwest::Method::GET,
        &format!("/api/v1/complaints/{}", outcome["id"].as_str().expect("id")),
        None,
        None,
    )
    .await;
    assert_eq!(
        (shown["urgent"].clone(), shown["source"].clone()),
        (json!(true), json!("manual"))
    );
    assert_eq!(shown["recipient"], "erin@dest.example");
    assert!(h
        .gateway
        .store
        .suppression_contains("acme", "erin@dest.example")
        .await
        .expect("read"));
    // Nothing to attribute by, or a tenant that does not exist.
    let (status, _) = call(
        &h,
        reqwest::Method::POST,
        "/api/v1/complaints",
        Some(json!({"note": "x"})),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &h,
        reqwest::Method::POST,
        "/api/v1/complaints",
        Some(json!({"tenant": "nobody"})),
        None,
    )
    .await;
    assert_eq!(status, 404);
    // Over `[feedback] max_report_size`.
    let big = generated_arf(&format!("{original}{}", "x".repeat(40 * 1024)), "dave@dest.example");
    assert_eq!(post_report(&h, &big, None).await.0, 413);

    // A tenant's token may read only its own complaints and may not post.
    let (status, issued) = call(
        &h,
        reqwest::Method::POST,
        "/api/v1/tenants/acme/tokens",
        Some(json!({"label": "t"})),
        None,
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().expect("token").to_string();
    let (status, mine) = call(&h, reqwest::Method::GET, "/api/v1/complaints", None, Some(&token)).await;
    assert_eq!(status, 200);
    assert!(mine["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|c| c["tenant"] == "acme"));
    for path in [
        "/api/v1/complaints?tenant=remote",
        "/api/v1/complaints?unattributed=true",
    ] {
        assert_eq!(
            call(&h, reqwest::Method::GET, path, None, Some(&token)).await.0,
            404,
            "{path}"
        );
    }
    assert_eq!(post_report(&h, &not_spam, Some(&token)).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feedback_address_is_a_local_mailbox() {
    let h = Harness::start_with(|c| {
        c.feedback.addresses = vec![FEEDBACK.into()];
        c.feedback.max_report_size = aupgate::config::ByteSize(8 * 1024);
        c.feedback.max_reports_per_client = aupgate::config::Rate::new(3, Duration::from_secs(3600));
        // 127.0.0.2 is nobody's network.
        c.tenants[0].networks = vec!["127.0.0.1/32".into()];
    })
    .await;
    // An unidentified client on the relay listener: any MAIL FROM, only the feedback address.
    let mut c = h.connect_from(h.relay_addr(), "127.0.0.2").await;
    c.send("EHLO mta.mailbox.example", "250 ").await;
    c.send("MAIL FROM:<fbl@mailbox.example>", "250 2.1.0").await;
    c.send("RCPT TO:<someone@dest.example>", "554 5.7.1 Relay access denied")
        .await;
    c.send(&format!("RCPT TO:<{FEEDBACK}>"), "250 2.1.5").await;
    // After it, a relayed recipient is refused as relaying, not sent to another transaction
    // (where it would only be refused again).
    c.send("RCPT TO:<someone@dest.example>", "554 5.7.1 Relay access denied")
        .await;
    c.send("DATA", "354").await;
    c.write(b"Subject: hello\r\n\r\nnot a report\r\n.\r\n").await;
    c.expect("250 2.0.0 Report received: not a complaint (not_a_report)")
        .await;
    c.send("QUIT", "221").await;

    // Without AUTH on the submission listener: a relayed recipient is still refused, as MAIL
    // FROM would refuse it without the feedback addresses...
    let mut c = h.connect(h.submission_addr()).await;
    c.send("EHLO mta.mailbox.example", "250 ").await;
    c.send("MAIL FROM:<fbl@mailbox.example>", "250 2.1.0").await;
    c.send(
        "RCPT TO:<someone@dest.example>",
        "530 5.7.0 Must issue a STARTTLS command first",
    )
    .await;
    // ... the feedback address is taken (case does not matter), and the two do not mix.
    c.send("RCPT TO:<FBL@gw.test>", "250 2.1.5").await;
    c.send("RSET", "250").await;
    // Over the size limit: declared, or sent.
    c.send("MAIL FROM:<fbl@mailbox.example> SIZE=20000", "250 2.1.0").await;
    c.send(&format!("RCPT TO:<{FEEDBACK}>"), "250 2.1.5").await;
    c.send("DATA", "552 5.3.4").await;
    c.send("MAIL FROM:<fbl@mailbox.example>", "250 2.1.0").await;
    c.send(&format!("RCPT TO:<{FEEDBACK}>"), "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(format!("Subject: big\r\n\r\n{}", format!("{}\r\n", "y".repeat(70)).repeat(150)).as_bytes())
        .await;
    c.write(b".\r\n").await;
    c.expect("552 5.3.4").await;
    // Three transactions to the feedback address this hour: the fourth is over the rate.
    c.send("MAIL FROM:<fbl@mailbox.example>", "250 2.1.0").await;
    c.send(&format!("RCPT TO:<{FEEDBACK}>"), "451 4.7.1").await;
    c.send("QUIT", "221").await;

    // A tenant's client on the relay listener: a relayed recipient, then the feedback address.
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<news@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send(&format!("RCPT TO:<{FEEDBACK}>"), "452 4.5.3").await;
    c.send("QUIT", "221").await;
    // Once the queue is empty, what the sink has is all it will ever get.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert!(h.sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_imports_a_directory_and_an_mbox_and_lists_and_shows() {
    let h = start().await;
    let (_, original) = relay_newsletter(&h, "frank@dest.example", 1).await;
    // Another message: a report about the same one would be a duplicate, whatever its form.
    let (_, another) = relay_newsletter(&h, "fay@dest.example", 2).await;
    let dir = tempfile::tempdir().expect("tmp");
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).expect("mkdir");
    let arf = generated_arf(&original, "frank@dest.example");
    // Files on disk have LF line ends; the import makes them CRLF.
    std::fs::write(reports.join("1-arf.eml"), arf.replace("\r\n", "\n")).expect("write");
    std::fs::write(
        reports.join("2-jmrp.eml"),
        microsoft_style(&another).replace("\r\n", "\n"),
    )
    .expect("write");
    std::fs::write(reports.join("3-again.eml"), arf.replace("\r\n", "\n")).expect("write");
    let not_spam = arf.replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
    std::fs::write(reports.join("4-not-spam.eml"), not_spam.replace("\r\n", "\n")).expect("write");
    let (code, stdout, stderr) = admin_cli(&h, &["complaints", "import", reports.to_str().expect("path")], None);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(
        lines[0].contains("1-arf.eml: recorded ") && lines[0].contains("(tenant acme, campaign "),
        "{stdout}"
    );
    assert!(lines[0].ends_with("by trace_header)"), "{stdout}");
    assert!(lines[1].contains("2-jmrp.eml: recorded "), "{stdout}");
    let first_id = lines[0].split_whitespace().nth(2).expect("id");
    assert!(
        lines[2].ends_with(&format!("3-again.eml: duplicate of {first_id}")),
        "{stdout}"
    );
    assert!(lines[3].ends_with("4-not-spam.eml: ignored: not_spam"), "{stdout}");

    // An mbox of two reports: one about a report, one unattributed.
    let unknown = with_trace(&original, None).replace("Message-ID: <", "Message-ID: <unknown.");
    let mbox = format!(
        "From fbl@mailbox.example Sat Dec  5 10:00:00 2026\n{}\nFrom staff@hotmail.example Sat Dec  5 10:01:00 2026\n{}\n",
        generated_arf(&arf, "x@y.example").replace("\r\n", "\n"),
        microsoft_style(&unknown).replace("\r\n", "\n")
    );
    let mbox_path = dir.path().join("reports.mbox");
    std::fs::write(&mbox_path, mbox).expect("write");
    let (code, stdout, _) = admin_cli(&h, &["complaints", "import", mbox_path.to_str().expect("path")], None);
    assert_eq!(code, Some(0), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].ends_with("#1: ignored: report_about_report"), "{stdout}");
    assert!(
        lines[1].contains("#2: recorded ") && lines[1].ends_with(": unattributed"),
        "{stdout}"
    );

    let (code, stdout, _) = admin_cli(&h, &["complaints", "list", "--tenant", "acme"], None);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains(first_id) && stdout.contains("frank@dest.example"),
        "{stdout}"
    );
    assert!(!stdout.contains("(unattributed)"), "{stdout}");
    let (code, stdout, _) = admin_cli(&h, &["complaints", "list", "--unattributed", "--json"], None);
    assert_eq!(code, Some(0));
    let page: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(page["items"].as_array().expect("items").len(), 1, "{stdout}");
    let (code, stdout, _) = admin_cli(&h, &["complaints", "show", first_id], None);
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("tenant:       acme") && stdout.contains("Spring sale"),
        "{stdout}"
    );
    let (_, shown) = call(
        &h,
        reqwest::Method::GET,
        &format!("/api/v1/complaints/{first_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(shown["source"], "cli");
    let (code, _, stderr) = admin_cli(&h, &["complaints", "show", "0000000000000-none"], None);
    assert_eq!(code, Some(1), "{stderr}");
}

/// Two nodes sharing a Redis store: mail relayed by one node, its trace header stripped, is
/// attributed by Message-ID when the report reaches the other node; the same report at the
/// first node is a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_redis_share_the_message_index_and_the_dedup() {
    let redis = store_support::RedisServer::start();
    let node = |url: String| {
        Harness::start_with(move |c| {
            c.feedback.addresses = vec![FEEDBACK.into()];
            c.store.backend = aupgate::store::Backend::Redis;
            c.store.urls = vec![url];
        })
    };
    let (a, b) = (node(redis.url()).await, node(redis.url()).await);
    let (queue_id, original) = relay_newsletter(&a, "gina@dest.example", 1).await;
    let report = generated_arf(&with_trace(&original, None), "gina@dest.example");
    let reply = smtp_report(&b, FEEDBACK, &report).await;
    assert!(reply.starts_with("250 2.0.0 Report received: complaint "), "{reply}");
    let id = id_in(&reply);
    let (_, shown) = call(
        &a,
        reqwest::Method::GET,
        &format!("/api/v1/complaints/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(shown["tenant"], "acme");
    assert_eq!(shown["attributed_by"], "message_id");
    assert_eq!(shown["queue_id"], queue_id.as_str());
    let again = smtp_report(&a, FEEDBACK, &report).await;
    assert_eq!(again, format!("250 2.0.0 Report received: duplicate of complaint {id}"));
    assert!(b
        .gateway
        .store
        .suppression_contains("acme", "gina@dest.example")
        .await
        .expect("read"));
}

/// A tenant that copies another tenant's genuine trace header into its own mail, under a
/// DKIM-Signature of its own whose `h=` names the trace header (so a gateway honouring `h=`
/// would add none of its own), frames nobody: the copy is removed, ours goes on, and a complaint
/// about the mail comes back to the tenant that sent it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_trace_header_under_the_tenants_own_signature_frames_nobody() {
    use aupgate::complaints::attribution::{Attribution, TraceKeys};
    // Broken tenant signatures tagged, not refused: the forger's signature gets through.
    let profile = "[profile]\nname = \"default\"\n[dkim]\non_broken = \"tag\"\n";
    let h = Harness::start_with_profile(Some(profile), |c| {
        c.feedback.addresses = vec![FEEDBACK.into()];
    })
    .await;
    let keys = TraceKeys::load(&aupgate::config::FeedbackConfig::default(), h.dir.path()).expect("key");
    let victims = keys.sign(&Attribution {
        tenant: "remote".into(),
        campaign: "00ab12cd34ef5678".into(),
        queue_id: "0005F1A2B3C4D500000001".into(),
    });
    let rcpt = "hank@dest.example";
    let spam = format!(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.example; s=s1;\r\n\
         \th=from:x-aupgate-ref; bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=; b=AAAA\r\n\
         {TRACE_HEADER}: {victims}\r\n{}",
        newsletter("Hank", rcpt, 1)
    );
    let queue_id = send_queued(&h, "news@acme.example", "", &[rcpt], spam.as_bytes()).await;
    let got = h.sink.wait_for_recipient(rcpt, Duration::from_secs(10)).await;
    let relayed = String::from_utf8_lossy(&got.data).into_owned();
    let head = relayed.split("\r\n\r\n").next().expect("header");
    let prefix = format!("{}:", TRACE_HEADER.to_ascii_lowercase());
    let traces: Vec<&str> = head
        .split("\r\n")
        .filter(|line| line.to_ascii_lowercase().starts_with(&prefix))
        .collect();
    assert_eq!(traces.len(), 1, "exactly one trace header, ours: {head}");
    let ours = keys.verify(&traces[0][prefix.len()..]).expect("ours verifies");
    assert_eq!(
        (ours.tenant.as_str(), ours.queue_id.as_str()),
        ("acme", queue_id.as_str())
    );

    let (status, outcome) = post_report(&h, &generated_arf(&relayed, rcpt), None).await;
    assert_eq!(status, 201, "{outcome}");
    assert_eq!(outcome["tenant"], "acme", "{outcome}");
    assert_eq!(outcome["attributed_by"], "trace_header");
    assert!(h
        .gateway
        .store
        .suppression_list("remote")
        .await
        .expect("list")
        .is_empty());
}

/// The dedup key is what was complained about: one message and recipient counts once, however
/// many reports name it (a new Message-ID per copy, another loop, no Message-ID at all); another
/// recipient of the same message is another complaint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_and_recipient_count_once_whatever_reports_name_them() {
    let h = start().await;
    let (ivy, jon) = ("ivy@dest.example", "jon@dest.example");
    send_queued(
        &h,
        "news@acme.example",
        "",
        &[ivy, jon],
        newsletter("Ivy", ivy, 1).as_bytes(),
    )
    .await;
    let got = h.sink.wait_for_recipient(ivy, Duration::from_secs(10)).await;
    let original = String::from_utf8_lossy(&got.data).into_owned();

    let (status, first) = post_report(&h, &generated_arf(&original, ivy), None).await;
    assert_eq!(status, 201, "{first}");
    let id = first["id"].as_str().expect("id").to_string();
    let duplicate = json!({"outcome": "duplicate", "id": id});
    // The same forged again under a new report Message-ID, by another loop, with the recipient
    // named; then Microsoft-style with no report Message-ID at all.
    let again =
        yahoo_style_headers_only(&original, "y7@arf.mail.yahoo.example").replace("xxxxxxxxxxxx@yahoo.example", ivy);
    assert_eq!(post_report(&h, &again, None).await, (200, duplicate.clone()));
    let again = yahoo_style_headers_only(&original, "y8@arf.mail.yahoo.example")
        .replace("xxxxxxxxxxxx@yahoo.example", "IVY+promo@Dest.Example");
    assert_eq!(post_report(&h, &again, None).await, (200, duplicate.clone()));
    assert_eq!(
        post_report(&h, &microsoft_style(&original), None).await,
        (200, duplicate)
    );

    // The other recipient of the same message complains too: counted.
    let (status, second) = post_report(&h, &generated_arf(&original, jon), None).await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(second["id"], id.as_str());
    let (_, listed) = call(&h, reqwest::Method::GET, "/api/v1/complaints?tenant=acme", None, None).await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 2, "{listed}");

    // A recipient the message never had: a forged report (one genuine message reported again
    // under invented recipients), counted nowhere and suppressing no one.
    for forged in ["eve@dest.example", "mallory@elsewhere.example"] {
        assert_eq!(
            post_report(&h, &generated_arf(&original, forged), None).await,
            (200, json!({"outcome": "ignored", "reason": "not_a_recipient"}))
        );
    }
    let (_, listed) = call(&h, reqwest::Method::GET, "/api/v1/complaints?tenant=acme", None, None).await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 2, "{listed}");
    let suppressed = h.gateway.store.suppression_list("acme").await.expect("list");
    assert!(
        suppressed.iter().all(|s| s.address != "eve@dest.example"),
        "{suppressed:?}"
    );
}

/// A genuine trace header naming no campaign (`-`, when the store could not say) attributes the
/// tenant and the message but no campaign, so complaints about unrelated campaign-less mail do
/// not look related.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_header_without_a_campaign_attributes_none() {
    use aupgate::complaints::attribution::{Attribution, TraceKeys, NO_CAMPAIGN};
    let h = start().await;
    let (_, original) = relay_newsletter(&h, "kim@dest.example", 1).await;
    let keys = TraceKeys::load(&aupgate::config::FeedbackConfig::default(), h.dir.path()).expect("key");
    let mut reports = Vec::new();
    for (n, queue_id) in ["0005F1A2B3C4D500000101", "0005F1A2B3C4D500000102"].iter().enumerate() {
        let reference = keys.sign(&Attribution {
            tenant: "acme".into(),
            campaign: NO_CAMPAIGN.into(),
            queue_id: queue_id.to_string(),
        });
        let returned =
            with_trace(&original, Some(&reference)).replace("Message-ID: <", &format!("Message-ID: <nocampaign{n}."));
        let (status, outcome) = post_report(&h, &generated_arf(&returned, "kim@dest.example"), None).await;
        assert_eq!(status, 201, "{outcome}");
        assert_eq!(outcome["tenant"], "acme", "{outcome}");
        assert_eq!(outcome["attributed_by"], "trace_header");
        assert_eq!(outcome["campaign"], Value::Null, "{outcome}");
        reports.push(outcome);
    }
    let (_, shown) = call(
        &h,
        reqwest::Method::GET,
        &format!("/api/v1/complaints/{}", reports[0]["id"].as_str().expect("id")),
        None,
        None,
    )
    .await;
    assert_eq!(shown["campaign"], Value::Null, "{shown}");
    assert_eq!(shown["queue_id"], "0005F1A2B3C4D500000101");
}
