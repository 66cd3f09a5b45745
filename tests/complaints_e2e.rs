//! The complaint pipeline end to end through the real server, every step on the wire: a tenant
//! on a provider's preset relays mail through the gateway to the sink (so it carries the real
//! `X-Aupgate-Ref`); the mailbox provider's feedback loop sends Yahoo-style ARF reports
//! (RFC 5965 `multipart/report` with the returned message as `message/rfc822`, written by hand)
//! by SMTP to the feedback address without AUTH; the tenant's state moves as the preset's ladder
//! says, read back from the admin API, and the notices arrive at the sink with the copies of the
//! reported mails. The gateway's unsubscribe mailto is used by mail over SMTP the same way. A
//! report about mail the gateway never relayed is kept unattributed and moves no one.
//!
//! Nothing here sleeps to wait for a state: the SMTP reply to a report comes after its effects
//! (complaint stored, ladder judged, notice queued), so once the queue is empty the sink holds
//! every notice there will be; states are polled.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use aupgate::complaints::attribution::TRACE_HEADER;
use mail_parser::{MessageParser, PartType};
use serde_json::Value;
use support::fixtures::newsletter;
use support::{send_message, send_queued, Harness};

/// The gateway's feedback address (`[feedback] addresses`).
const FEEDBACK: &str = "fbl@gw.test";
/// The contact of tenant `acme` in the harness config: where its notices go.
const CONTACT: &str = "abuse@provider.test";
/// How long any one wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(10);

/// `policies/<name>.toml` installed as the `default` profile (every harness tenant uses it),
/// with the feedback address configured.
async fn start(preset: &str) -> Harness {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("policies/{preset}.toml"));
    let text = std::fs::read_to_string(path).expect("preset");
    let text = text.replacen(&format!("name = \"{preset}\""), "name = \"default\"", 1);
    Harness::start_with_profile(Some(&text), |c| c.feedback.addresses = vec![FEEDBACK.into()]).await
}

/// A personal letter (no list markers: not bulk) from `a@acme.example` with Message-ID
/// `<letter-N@acme.example>`.
fn letter(rcpt: &str, n: usize) -> String {
    format!(
        "From: Ann Acme <a@acme.example>\r\nTo: {rcpt}\r\nSubject: About your order {n}\r\n\
         Message-ID: <letter-{n}@acme.example>\r\nDate: Sun, 06 Dec 2026 09:00:00 +0000\r\n\r\n\
         Hello,\r\n\r\nyour order number {n} has shipped and should arrive on Tuesday.\r\n"
    )
}

/// Relays letter `n` to `rcpt` (every reply asserted) and returns the message as the next hop
/// got it, with its trace header.
async fn relay_letter(h: &Harness, rcpt: &str, n: usize) -> String {
    send_queued(h, "a@acme.example", "", &[rcpt], letter(rcpt, n).as_bytes()).await;
    let got = h.sink.wait_for_recipient(rcpt, WAIT).await;
    let text = String::from_utf8(got.data).expect("ASCII mail");
    assert!(
        text.contains(&format!("\r\n{TRACE_HEADER}: ")) || text.starts_with(&format!("{TRACE_HEADER}: ")),
        "the relayed mail carries the trace header: {text}"
    );
    text
}

/// A Yahoo-style ARF report written by hand: `multipart/report` with a human part, the
/// `message/feedback-report` fields (the complaining recipient in `Original-Rcpt-To`) and the
/// whole returned message as `message/rfc822`.
fn yahoo_arf(returned: &str, rcpt: &str, report_id: &str) -> String {
    format!(
        "Return-Path: <feedback@arf.mail.yahoo.example>\r\n\
         From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.example>\r\n\
         To: {FEEDBACK}\r\nSubject: FW: Yahoo! Mail complaint\r\nMessage-ID: <{report_id}@arf.mail.yahoo.example>\r\n\
         Date: Sun, 06 Dec 2026 09:05:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"----=_Part_ARF_{report_id}\"\r\n\r\n\
         ------=_Part_ARF_{report_id}\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\
         Content-Transfer-Encoding: 7bit\r\n\r\n\
         This is an email abuse report for an email message received from IP 192.0.2.25 on\r\n\
         Sun, 06 Dec 2026 09:00:01 +0000.\r\nFor more information about this format please see\r\n\
         http://tools.ietf.org/html/rfc5965.\r\n\r\n\
         ------=_Part_ARF_{report_id}\r\nContent-Type: message/feedback-report\r\n\r\n\
         Feedback-Type: abuse\r\nUser-Agent: Yahoo!-Mail-Feedback/2.0\r\nVersion: 1\r\n\
         Original-Mail-From: <a@acme.example>\r\nOriginal-Rcpt-To: {rcpt}\r\n\
         Arrival-Date: Sun, 06 Dec 2026 09:00:01 +0000\r\nReporting-MTA: dns; mta1.mail.yahoo.example\r\n\
         Source-IP: 192.0.2.25\r\nReported-Domain: acme.example\r\n\
         Authentication-Results: mta1.mail.yahoo.example; spf=pass smtp.mailfrom=acme.example\r\n\r\n\
         ------=_Part_ARF_{report_id}\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n\
         {returned}\r\n------=_Part_ARF_{report_id}--\r\n"
    )
}

/// Sends `message` to `rcpt` from an unidentified client: the submission listener without AUTH,
/// as a mailbox provider's loop connects. Asserts every reply up to DATA's and returns that one.
async fn smtp_to_local(h: &Harness, from: &str, rcpt: &str, message: &str) -> String {
    let mut c = h.connect(h.submission_addr()).await;
    c.send("EHLO mta1.mail.yahoo.example", "250 ").await;
    c.send(&format!("MAIL FROM:<{from}>"), "250 2.1.0").await;
    c.send(&format!("RCPT TO:<{rcpt}>"), "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(message.replace("\r\n.", "\r\n..").as_bytes()).await;
    c.write(b"\r\n.\r\n").await;
    let reply = c.read_reply().await.last().expect("a reply").clone();
    c.send("QUIT", "221 2.0.0").await;
    reply
}

/// Sends a report to the feedback address; the complaint id from `250 2.0.0 Report received:
/// complaint ID`, asserting it was attributed (`attributed`) or not.
async fn report(h: &Harness, report: &str, attributed: bool) -> String {
    let reply = smtp_to_local(h, "feedback@arf.mail.yahoo.example", FEEDBACK, report).await;
    let rest = reply
        .strip_prefix("250 2.0.0 Report received: complaint ")
        .unwrap_or_else(|| panic!("a new complaint: {reply}"));
    match rest.strip_suffix(" (unattributed)") {
        Some(id) if !attributed => id.to_string(),
        None if attributed => rest.to_string(),
        _ => panic!("attributed = {attributed}: {reply}"),
    }
}

async fn get_json(h: &Harness, path: &str) -> Value {
    let response = reqwest::get(format!("http://{}{path}", h.gateway.admin_address))
        .await
        .expect("admin API");
    assert_eq!(response.status().as_u16(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

async fn state_of(h: &Harness, tenant: &str) -> String {
    let view = get_json(h, &format!("/api/v1/tenants/{tenant}")).await;
    view["state"].as_str().expect("a state").to_string()
}

/// Polls `GET /api/v1/tenants/{tenant}` until its state is `expected` (fails after `WAIT`).
async fn wait_state(h: &Harness, tenant: &str, expected: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let state = state_of(h, tenant).await;
        if state == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{tenant} is {state}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The messages the sink got for the tenant's contact (the notices), oldest first.
fn notices(h: &Harness) -> Vec<support::sink::Received> {
    h.sink
        .messages()
        .into_iter()
        .filter(|m| m.recipients.iter().any(|r| r == CONTACT))
        .collect()
}

/// Waits until the sink holds `n` notices and returns the last one.
async fn wait_notice(h: &Harness, n: usize) -> support::sink::Received {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = notices(h);
        if got.len() >= n {
            assert_eq!(got.len(), n, "one notice per step");
            return got[n - 1].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{} notices, not {n}", got.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The subject and the Message-IDs of the `message/rfc822` copies of a notice (asserting every
/// attachment is one).
fn subject_and_copies(notice: &support::sink::Received) -> (String, BTreeSet<String>) {
    assert_eq!(notice.sender, "postmaster@gw.test");
    assert_eq!(notice.recipients, [CONTACT]);
    let message = MessageParser::default().parse(&notice.data).expect("a MIME notice");
    let ids = message
        .attachments()
        .map(|part| match &part.body {
            PartType::Message(copy) => copy.message_id().expect("the copy's Message-ID").to_string(),
            other => panic!("a message/rfc822 copy, got {other:?}"),
        })
        .collect();
    (message.subject().expect("a subject").to_string(), ids)
}

/// The complaint ladder's steps in an events page, newest first.
fn ladder_steps(page: &Value) -> Vec<&Value> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["rule"] == "complaints.steps")
        .collect()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const SPCM_WARNED: &str = "If UBE or UCE generates two or more complaints in one 24-hour period";
const SPCM_TERMINATED: &str =
    "If UBE or UCE generates any additional complaints the account will be terminated immediately.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spcm_two_reports_warn_with_copies_and_a_third_suspends() {
    let h = start("spcm").await;
    let first = relay_letter(&h, "ann@dest.example", 1).await;
    let second = relay_letter(&h, "bob@dest.example", 2).await;

    // One report: N-1 of the warning step. Counted, no step, no notice.
    report(&h, &yahoo_arf(&first, "ann@dest.example", "r1"), true).await;
    h.wait_queue_empty(WAIT).await;
    assert_eq!(state_of(&h, "acme").await, "active");
    assert!(notices(&h).is_empty(), "no notice at one complaint");

    // The second within 24 h: warned, its one chance, with copies of both reported mails.
    report(&h, &yahoo_arf(&second, "bob@dest.example", "r2"), true).await;
    wait_state(&h, "acme", "warned").await;
    let warning = wait_notice(&h, 1).await;
    let (subject, copies) = subject_and_copies(&warning);
    assert_eq!(subject, "Warning: your mail breaks the acceptable use policy");
    assert_eq!(copies, ids(&["letter-1@acme.example", "letter-2@acme.example"]));
    let text = String::from_utf8_lossy(&warning.data);
    assert!(text.contains(SPCM_WARNED), "the notice quotes the clause: {text}");

    // Warned is not blocked: the tenant still sends.
    let third = relay_letter(&h, "carol@dest.example", 3).await;

    // Any further complaint: suspended, told with the copy of that mail.
    report(&h, &yahoo_arf(&third, "carol@dest.example", "r3"), true).await;
    wait_state(&h, "acme", "suspended").await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send(
        "MAIL FROM:<a@acme.example>",
        "554 5.7.1 Sending is suspended for this account; contact abuse@provider.test [rule tenant.suspended]",
    )
    .await;
    c.send("QUIT", "221 2.0.0").await;
    let suspension = wait_notice(&h, 2).await;
    let (subject, copies) = subject_and_copies(&suspension);
    assert_eq!(subject, "Your outbound mail has been suspended");
    assert_eq!(copies, ids(&["letter-3@acme.example"]));

    // The events API shows both steps, who took them and why, newest first.
    let page = get_json(&h, "/api/v1/tenants/acme/events").await;
    let steps = ladder_steps(&page);
    assert_eq!(steps.len(), 2, "{page}");
    let (suspended, warned) = (steps[0], steps[1]);
    assert_eq!(warned["kind"], "complaint.warning");
    assert_eq!(warned["detail"]["by"], "policy:complaints.steps");
    assert_eq!(
        (
            warned["detail"]["complaints"].as_u64(),
            warned["detail"]["copies"].as_u64()
        ),
        (Some(2), Some(2))
    );
    let reason = warned["detail"]["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with(
            "2 complaints within 24h reached step 1 of 2 of the complaint ladder (2 in 24h): state warned (\"If UBE"
        ),
        "{reason}"
    );
    assert_eq!(suspended["kind"], "complaint.suspension");
    assert_eq!(suspended["detail"]["by"], "policy:complaints.steps");
    let reason = suspended["detail"]["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("1 complaint since the previous step reached step 2 of 2 of the complaint ladder")
            && reason.contains("state suspended")
            && reason.contains(SPCM_TERMINATED),
        "{reason}"
    );
    assert!(warned["at"].as_u64() < suspended["at"].as_u64(), "{page}");
}

/// The unsubscribe address's token from a List-Unsubscribe value:
/// `<https://...>, <mailto:ADDRESS?subject=TOKEN>`.
fn mailto_of(list_unsubscribe: &str) -> (String, String) {
    let mailto = list_unsubscribe
        .split("<mailto:")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .unwrap_or_else(|| panic!("a mailto in {list_unsubscribe}"));
    let (address, token) = mailto.split_once("?subject=").expect("a subject token");
    (address.to_string(), token.to_string())
}

/// The unfolded List-Unsubscribe value of the mail the sink got for `rcpt` (asserting one).
async fn list_unsubscribe_for(h: &Harness, rcpt: &str) -> String {
    let got = h.sink.wait_for_recipient(rcpt, WAIT).await;
    let text = String::from_utf8_lossy(&got.data).to_string();
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ");
    let values: Vec<&str> = head
        .split("\r\n")
        .filter_map(|line| line.strip_prefix("List-Unsubscribe: "))
        .collect();
    assert_eq!(values.len(), 1, "{head}");
    values[0].to_string()
}

/// The newsletter as list mail, with the tenant's own (replaced) unsubscribe link.
fn bulk(rcpt: &str, n: usize) -> String {
    format!(
        "List-Unsubscribe: <https://acme.example/unsub/{n}>\r\nPrecedence: bulk\r\n{}",
        newsletter("Reader", rcpt, n)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketlabs_unsubscribe_by_mail_over_smtp_refuses_the_next_bulk_message() {
    let h = start("socketlabs").await;
    send_queued(
        &h,
        "news@acme.example",
        "",
        &["bob@dest.example"],
        bulk("bob@dest.example", 1).as_bytes(),
    )
    .await;
    send_queued(
        &h,
        "news@acme.example",
        "",
        &["dan@dest.example"],
        bulk("dan@dest.example", 2).as_bytes(),
    )
    .await;
    let bob = list_unsubscribe_for(&h, "bob@dest.example").await;
    let dan = list_unsubscribe_for(&h, "dan@dest.example").await;
    assert!(
        bob.starts_with("<https://gw.test/u/"),
        "the gateway's, not the tenant's: {bob}"
    );
    let (address, token) = mailto_of(&bob);
    assert_eq!(address, "unsubscribe@gw.test");

    // bob's mail client sends the mailto, unauthenticated.
    let unsubscribe = format!(
        "From: bob@dest.example\r\nTo: {address}\r\nSubject: {token}\r\nDate: Sun, 06 Dec 2026 09:10:00 +0000\r\n\r\n\
         This message was automatically generated by Mail to unsubscribe.\r\n"
    );
    assert_eq!(
        smtp_to_local(&h, "bob@dest.example", &address, &unsubscribe).await,
        "250 2.0.0 Unsubscribed: no further bulk mail from this sender"
    );

    // Another client forges dan's token (one character of its MAC changed): refused, no effect.
    let (_, dan_token) = mailto_of(&dan);
    let mut forged = dan_token.clone();
    let last = forged.pop().expect("a token");
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let forgery = format!("From: mallory@evil.example\r\nTo: {address}\r\nSubject: {forged}\r\n\r\nremove\r\n");
    assert_eq!(
        smtp_to_local(&h, "mallory@evil.example", &address, &forgery).await,
        "550 5.7.1 No valid unsubscribe token in the subject or the address"
    );
    let list = h.gateway.store.suppression_list("acme").await.expect("list");
    let list: Vec<(&str, &str)> = list.iter().map(|s| (s.address.as_str(), s.reason.as_str())).collect();
    assert_eq!(list, [("bob@dest.example", "unsubscribe")]);

    // bob's next bulk message is refused; dan's is not; bob's transactional mail still goes.
    assert_eq!(
        send_message(
            &h,
            "news@acme.example",
            &["bob@dest.example"],
            &bulk("bob@dest.example", 3)
        )
        .await,
        "550 5.7.1 Recipient bob@dest.example is suppressed for your bulk mail (it hard-bounced, complained or \
         unsubscribed earlier); remove it from the list and send again [rule suppression.hard_bounce]"
    );
    send_queued(
        &h,
        "news@acme.example",
        "",
        &["dan@dest.example"],
        bulk("dan@dest.example", 4).as_bytes(),
    )
    .await;
    let receipt = "From: news@acme.example\r\nTo: bob@dest.example\r\nSubject: Your receipt\r\n\r\n\
                   Thank you for your order 1234.\r\n";
    send_queued(&h, "news@acme.example", "", &["bob@dest.example"], receipt.as_bytes()).await;

    // The unsubscribe mail itself was never relayed; the tenant's contact heard of the hit.
    h.wait_queue_empty(WAIT).await;
    let messages = h.sink.messages();
    assert!(
        messages.iter().all(|m| m.recipients.iter().all(|r| r != &address)),
        "the mailto is a local mailbox"
    );
    let told = notices(&h);
    assert_eq!(told.len(), 1);
    let text = String::from_utf8_lossy(&told[0].data);
    assert!(
        text.contains("Subject: A recipient unsubscribed from your mail\r\n")
            && text.contains("The recipient bob@dest.example unsubscribed (by mail)"),
        "{text}"
    );
    // bob: the first bulk copy and the receipt; dan: both bulk copies.
    let to = |rcpt: &str| {
        messages
            .iter()
            .filter(|m| m.recipients.iter().any(|r| r == rcpt))
            .count()
    };
    assert_eq!((to("bob@dest.example"), to("dan@dest.example")), (2, 2));
}

/// A message the gateway never relayed: no trace header, a Message-ID it never saw (its From
/// names the tenant's domain: attribution never goes by what a message claims).
fn not_ours(rcpt: &str, n: usize) -> String {
    format!(
        "Received: from mx.elsewhere.example by mta1.mail.yahoo.example; Sun, 06 Dec 2026 08:00:00 +0000\r\n\
         From: Acme Deals <deals@acme.example>\r\nTo: {rcpt}\r\nSubject: You have won\r\n\
         Message-ID: <spam-{n}@mx.elsewhere.example>\r\nDate: Sun, 06 Dec 2026 08:00:00 +0000\r\n\r\n\
         Claim your prize now.\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_for_mail_not_ours_is_kept_unattributed_and_moves_no_tenant() {
    let h = start("spcm").await;
    // One genuine complaint first: one more attributed to acme would warn it.
    let mine = relay_letter(&h, "ann@dest.example", 1).await;
    report(&h, &yahoo_arf(&mine, "ann@dest.example", "r1"), true).await;

    let a = report(
        &h,
        &yahoo_arf(&not_ours("erin@dest.example", 1), "erin@dest.example", "x1"),
        false,
    )
    .await;
    let b = report(
        &h,
        &yahoo_arf(&not_ours("fred@dest.example", 2), "fred@dest.example", "x2"),
        false,
    )
    .await;
    h.wait_queue_empty(WAIT).await;

    // Stored, unattributed, shown to the admin.
    for id in [&a, &b] {
        let shown = get_json(&h, &format!("/api/v1/complaints/{id}")).await;
        assert_eq!(shown["tenant"], Value::Null, "{shown}");
        assert_eq!(shown["attributed_by"], Value::Null, "{shown}");
        assert_eq!(shown["feedback_type"], "abuse");
        assert_eq!(shown["source"], "smtp");
    }
    let unattributed = get_json(&h, "/api/v1/complaints?unattributed=true").await;
    let listed: BTreeSet<String> = unattributed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(listed, [a.clone(), b.clone()].into_iter().collect(), "{unattributed}");

    // No tenant moved, no notice, nobody suppressed for them; acme still counts one complaint.
    let tenants = get_json(&h, "/api/v1/tenants").await;
    let states: Vec<(&str, &str)> = tenants["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .map(|t| (t["id"].as_str().unwrap_or(""), t["state"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        states,
        [("acme", "active"), ("remote", "active"), ("roaming", "active")]
    );
    assert!(notices(&h).is_empty());
    let suppressed = h.gateway.store.suppression_list("acme").await.expect("list");
    assert_eq!(
        suppressed.iter().map(|s| s.address.as_str()).collect::<Vec<_>>(),
        ["ann@dest.example"]
    );
    let summary = get_json(&h, "/api/v1/tenants/acme/complaints/summary").await;
    assert_eq!(summary["windows"][0]["complaints"], 1, "{summary}");
    let page = get_json(&h, "/api/v1/tenants/acme/events").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
}

/// Pageant Server's first UCE/UBE event, through the real server: two reports in 72 hours leave
/// the tenant active and untold; the third makes the event, the tenant is warned and its contact
/// gets the warning with the three reported mails attached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pageant_third_report_in_72_hours_is_the_first_event_and_warns_with_the_complaints() {
    let h = start("pageant-server").await;
    let mut sent = Vec::new();
    for (n, rcpt) in ["ann@dest.example", "bob@dest.example", "carol@dest.example"]
        .iter()
        .enumerate()
    {
        sent.push((rcpt.to_string(), relay_letter(&h, rcpt, n + 1).await));
    }
    for (i, (rcpt, mail)) in sent.iter().take(2).enumerate() {
        report(&h, &yahoo_arf(mail, rcpt, &format!("p{i}")), true).await;
    }
    h.wait_queue_empty(WAIT).await;
    assert_eq!(state_of(&h, "acme").await, "active", "two complaints are no event");
    assert!(notices(&h).is_empty(), "no notice before the event");

    let (rcpt, mail) = &sent[2];
    report(&h, &yahoo_arf(mail, rcpt, "p2"), true).await;
    wait_state(&h, "acme", "warned").await;
    let warning = wait_notice(&h, 1).await;
    let (_, copies) = subject_and_copies(&warning);
    assert_eq!(
        copies,
        ids(&[
            "letter-1@acme.example",
            "letter-2@acme.example",
            "letter-3@acme.example"
        ])
    );
    let text = String::from_utf8_lossy(&warning.data);
    assert!(
        text.contains("First UCE/UBE Event"),
        "the notice quotes the clause: {text}"
    );

    // Warned is not blocked: the tenant still sends.
    relay_letter(&h, "dave@dest.example", 4).await;
    let page = get_json(&h, "/api/v1/tenants/acme/events").await;
    let steps = ladder_steps(&page);
    assert_eq!(steps.len(), 1, "{page}");
    assert_eq!(steps[0]["kind"], "complaint.warning");
    assert_eq!(steps[0]["detail"]["complaints"].as_u64(), Some(3), "{page}");
}
