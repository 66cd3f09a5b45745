//! Header integrity and letter bombing end to end on the real server: each `headers.*` rule
//! refuses what it must with its full reply, a clean message passes, executables (plain, double
//! extension, inside a ZIP) are refused and a PDF passes, and garbage never passes by accident.
//! Tenant `acme` owns `acme.example`.

mod support;

use base64::Engine as _;
use support::{send_message, Harness};

/// Quotas and campaign limits out of the way: only the checks under test can refuse.
const PROFILE: &str = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 0\nmessages_per_day = 0\nrecipients_per_hour = 0\nrecipients_per_day = 0\n[bulk]\nenabled = false\n[mail_bomb]\nenabled = false\n";

fn message(headers: &str) -> String {
    format!("{headers}\r\nTo: someone@dest.example\r\nSubject: quarterly numbers\r\n\r\nHello, the numbers are attached.\r\n")
}

async fn expect(h: &Harness, data: &str, prefix: &str, rule: Option<&str>) {
    let reply = send_message(h, "a@acme.example", &["someone@dest.example"], data).await;
    assert!(reply.starts_with(prefix), "expected {prefix}, got {reply} for\n{data}");
    if let Some(rule) = rule {
        assert!(
            reply.ends_with(&format!("[rule {rule}]")),
            "expected rule {rule}: {reply}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_rules_refuse_forgery_and_pass_a_clean_message() {
    let h = Harness::start_with_profile(Some(&format!("{PROFILE}[headers]\ncheck_reply_to = true\n")), |_| {}).await;
    expect(&h, &message("From: Alice <a@acme.example>"), "250 2.0.0", None).await;
    let received = "Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n".repeat(31);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            message("Date: Mon, 1 Jan 2024 00:00:00 +0000"),
            "550 5.7.1",
            "headers.from_count",
        ),
        (
            message("From: a@acme.example\r\nFrom: b@acme.example"),
            "550 5.7.1",
            "headers.from_count",
        ),
        (
            message("From: a@acme.example, b@acme.example"),
            "550 5.7.1",
            "headers.sender_required",
        ),
        (
            message("From: a@acme.example\r\nSender: x@acme.example\r\nSender: y@acme.example"),
            "550 5.7.1",
            "headers.sender_count",
        ),
        (
            message("From: Bank <ceo@bank.example>"),
            "550 5.7.1",
            "headers.foreign_originator",
        ),
        (
            message("From: a@acme.example\r\nSender: s@bank.example"),
            "550 5.7.1",
            "headers.foreign_originator",
        ),
        (
            message("From: a@acme.example\r\nReply-To: r@bank.example"),
            "550 5.7.1",
            "headers.foreign_originator",
        ),
        (
            message("From: a@acme.example\r\nResent-From: r@bank.example"),
            "550 5.7.1",
            "headers.foreign_originator",
        ),
        (
            message("From: \"ceo@bank.example\" <x@acme.example>"),
            "550 5.7.1",
            "headers.display_name_address",
        ),
        (
            message("From: =?utf-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?= <x@acme.example>"),
            "550 5.7.1",
            "headers.encoded_from",
        ),
        (
            message("From: <=?utf-8?q?ceo?=@acme.example>"),
            "550 5.7.1",
            "headers.encoded_from",
        ),
        (
            message("From: <a@evil.example> <b@acme.example>"),
            "550 5.7.1",
            "headers.ambiguous_address",
        ),
        (
            message("From: <b@acme.example"),
            "550 5.7.1",
            "headers.ambiguous_address",
        ),
        (
            message("From: a@evil.example@acme.example"),
            "550 5.7.1",
            "headers.ambiguous_address",
        ),
        // A quoted local part that reads as a foreign address, in each originator field.
        (
            message("From: \"ceo@bank.example\"@acme.example"),
            "550 5.7.1",
            "headers.ambiguous_address",
        ),
        (
            message("From: CEO <\"ceo@bank.example\"@acme.example>"),
            "550 5.7.1",
            "headers.ambiguous_address",
        ),
        (
            message("From: a@acme.example\r\nSender: \"ceo@bank.example\"@acme.example"),
            "550 5.7.1",
            "headers.ambiguous_address",
        ),
        (
            message("From: a@acme.example\r\nReply-To: \"ceo@bank.example\"@acme.example"),
            "550 5.7.1",
            "headers.ambiguous_address",
        ),
        (
            message("From: a@acme.example\r\nResent-From: \"ceo@bank.example\"@acme.example"),
            "550 5.7.1",
            "headers.ambiguous_address",
        ),
        (
            message(
                "From: a@acme.example\r\nARC-Authentication-Results: i=1; gw.test; dkim=pass header.d=bank.example",
            ),
            "550 5.7.1",
            "headers.authentication_results",
        ),
        (
            format!("{received}{}", message("From: a@acme.example")),
            "554 5.4.0",
            "headers.received_hops",
        ),
    ];
    for (data, code, rule) in &cases {
        expect(&h, data, code, Some(rule)).await;
    }
    // Folded and encoded, yet clean: passes.
    expect(
        &h,
        &message("From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?=\r\n <jm@mail.acme.example>\r\nReply-To: help@acme.example"),
        "250 2.0.0",
        None,
    )
    .await;
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "reject" && a.reason.contains("[rule headers.foreign_originator]")));
    // Each refusal is recorded under the rule that made it, not its check's group.
    assert!(audit
        .iter()
        .any(|a| a.action == "reject" && a.target == "headers.foreign_originator"));
    assert!(audit.iter().all(|a| a.target != "headers.integrity"), "{audit:?}");
}

/// Off, the header checks no longer refuse forgery such as two From fields or a loop, but
/// the From and Sender domains must still be the tenant's (sender-domain ownership).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_header_section_still_holds_from_and_sender_to_owned_domains() {
    let h = Harness::start_with_profile(Some(&format!("{PROFILE}[headers]\nenabled = false\n")), |_| {}).await;
    let foreign = Some("headers.foreign_originator");
    expect(&h, &message("From: ceo@bank.example"), "550 5.7.1", foreign).await;
    expect(
        &h,
        &message("From: a@acme.example\r\nSender: x@bank.example"),
        "550 5.7.1",
        foreign,
    )
    .await;
    expect(
        &h,
        &message("From: a@acme.example\r\nFrom: ceo@bank.example"),
        "550 5.7.1",
        foreign,
    )
    .await;
    expect(
        &h,
        &message("From: a@acme.example\r\nFrom : ceo@bank.example"),
        "550 5.7.1",
        Some("headers.malformed_field"),
    )
    .await;
    // What only the header checks refuse passes.
    expect(
        &h,
        &message("From: a@acme.example\r\nFrom: b@acme.example"),
        "250 2.0.0",
        None,
    )
    .await;
    expect(&h, &message("From: a@acme.example, b@acme.example"), "250 2.0.0", None).await;
    // An address that reads as a foreign one is not one the tenant is known to own.
    expect(
        &h,
        &message("From: \"ceo@bank.example\"@acme.example"),
        "550 5.7.1",
        Some("headers.ambiguous_address"),
    )
    .await;
    let hops = "Received: from x by y; Mon, 23 Nov 2026 10:00:00 +0000\r\n".repeat(40);
    expect(&h, &message(&format!("{hops}From: a@acme.example")), "250 2.0.0", None).await;
}

fn stored_zip(names: &[&str]) -> Vec<u8> {
    let mut zip = Vec::new();
    for name in names {
        zip.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        zip.extend_from_slice(&[0; 12]);
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&[0, 0]);
        zip.extend_from_slice(name.as_bytes());
    }
    zip
}

fn with_attachment(part_headers: &str, body: &str) -> String {
    format!(
        "From: a@acme.example\r\nTo: someone@dest.example\r\nSubject: your invoice\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n--=_b\r\nContent-Type: text/plain\r\n\r\n\
         Please find the invoice attached.\r\n--=_b\r\n{part_headers}\r\n\r\n{body}\r\n--=_b--\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letter_bombs_are_refused_and_a_pdf_passes() {
    let h = Harness::start_with_profile(Some(PROFILE), |_| {}).await;
    let b64 = |data: &[u8]| base64::engine::general_purpose::STANDARD.encode(data);
    let pdf = with_attachment(
        "Content-Type: application/pdf; name=\"invoice.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64",
        &b64(b"%PDF-1.4\n%fake\n"),
    );
    expect(&h, &pdf, "250 2.0.0", None).await;
    let clean_zip = with_attachment(
        "Content-Type: application/zip; name=\"docs.zip\"\r\nContent-Transfer-Encoding: base64",
        &b64(&stored_zip(&["docs/readme.txt", "docs/plan.pdf"])),
    );
    expect(&h, &clean_zip, "250 2.0.0", None).await;
    let exe = with_attachment(
        "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"setup.exe\"\r\nContent-Transfer-Encoding: base64",
        &b64(b"MZ\x90\x00"),
    );
    let reply = send_message(&h, "a@acme.example", &["someone@dest.example"], &exe).await;
    assert!(
        reply.starts_with("550 5.7.1 Letter bomb: attachment \"setup.exe\""),
        "{reply}"
    );
    assert!(reply.ends_with("[rule attachments.dangerous]"), "{reply}");
    let double = with_attachment("Content-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename*=utf-8''invoice.pdf%2Eexe", "x");
    let reply = send_message(&h, "a@acme.example", &["someone@dest.example"], &double).await;
    assert!(
        reply.starts_with("550 5.7.1 Letter bomb: attachment \"invoice.pdf.exe\" hides a dangerous extension"),
        "{reply}"
    );
    let zipped = with_attachment(
        "Content-Type: application/zip; name=\"invoice.zip\"\r\nContent-Transfer-Encoding: base64",
        &b64(&stored_zip(&["readme.txt", "invoice/open-me.exe"])),
    );
    let reply = send_message(&h, "a@acme.example", &["someone@dest.example"], &zipped).await;
    assert!(
        reply.starts_with("550 5.7.1 Letter bomb: attachment \"invoice.zip -> invoice/open-me.exe\""),
        "{reply}"
    );
    let rtl = with_attachment(
        "Content-Type: application/octet-stream; name=\"=?utf-8?q?invoice=E2=80=AEfdp.scr?=\"",
        "x",
    );
    expect(&h, &rtl, "550 5.7.1", Some("attachments.dangerous")).await;
    // Shortcuts, app packages, OneNote and help files of the default list.
    for name in [
        "notes.one",
        "Invoice.URL",
        "search.library-ms",
        "update.msix",
        "manual.chm",
        "disk.vhdx",
    ] {
        let file = with_attachment(
            &format!("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\""),
            "x",
        );
        expect(&h, &file, "550 5.7.1", Some("attachments.dangerous")).await;
    }
    // An executable compressed with gzip, under a harmless-looking outer name.
    let gzipped = {
        use std::io::Write;
        let mut gz = flate2::GzBuilder::new()
            .filename("setup.exe")
            .write(Vec::new(), flate2::Compression::default());
        gz.write_all(b"MZ\x90\x00").unwrap();
        gz.finish().unwrap()
    };
    let gz = with_attachment(
        "Content-Type: application/octet-stream; name=\"update.dat\"\r\nContent-Transfer-Encoding: base64",
        &b64(&gzipped),
    );
    let reply = send_message(&h, "a@acme.example", &["someone@dest.example"], &gz).await;
    assert!(
        reply.starts_with("550 5.7.1 Letter bomb: attachment \"update.dat -> setup.exe\""),
        "{reply}"
    );
    // A large message (inspected as blocking work) is judged the same: 1 MiB of text before
    // the zipped executable, and the same text with a clean archive.
    let padding = "All figures for the quarter are in the table below.\r\n".repeat(20_000);
    let large = |zip: &[u8]| {
        with_attachment(
            "Content-Type: application/zip; name=\"q3.zip\"\r\nContent-Transfer-Encoding: base64",
            &b64(zip),
        )
        .replacen("Please find the invoice attached.", &padding, 1)
    };
    let bad = large(&stored_zip(&["q3/report.pdf", "q3/viewer.exe"]));
    assert!(bad.len() > 1_000_000);
    let h = Harness::start_with_profile(Some(PROFILE), |c| {
        c.limits.max_message_size = aupgate::config::ByteSize(4 << 20);
    })
    .await;
    let reply = send_message(&h, "a@acme.example", &["someone@dest.example"], &bad).await;
    assert!(
        reply.starts_with("550 5.7.1 Letter bomb: attachment \"q3.zip -> q3/viewer.exe\""),
        "{reply}"
    );
    let good = large(&stored_zip(&["q3/report.pdf"]));
    expect(&h, &good, "250 2.0.0", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_mime_and_garbage_never_pass_by_accident() {
    let h = Harness::start_with_profile(Some(PROFILE), |_| {}).await;
    // A multipart with no boundary cannot be checked: refused, not waved through.
    let no_boundary = "From: a@acme.example\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\nContent-Disposition: attachment\r\n\r\nMZ\r\n";
    expect(&h, no_boundary, "550 5.7.1", Some("attachments.malformed")).await;
    // Delimiters that never match the declared boundary: the attachment's name is still read.
    let mismatched = "From: a@acme.example\r\nContent-Type: multipart/mixed; boundary=real\r\n\r\n--fake\r\nContent-Disposition: attachment; filename=\"run.vbs\"\r\n\r\nx\r\n--fake--\r\n";
    expect(&h, mismatched, "550 5.7.1", Some("attachments.dangerous")).await;
    // Garbage header bytes: refused (a field name of control bytes), the gateway keeps serving.
    let garbage = "\u{1}\u{2}\u{7f}: \u{3}\r\nFrom: \u{1}<a@acme.example>\r\n\r\n\u{ff}\u{fe}\r\n";
    expect(&h, garbage, "550 5.7.1", Some("headers.malformed_field")).await;
    // A From readers disagree on (whitespace before the colon), and a line that is no field.
    let spaced = "From : ceo@bank.example\r\nFrom: a@acme.example\r\n\r\nhi\r\n";
    expect(&h, spaced, "550 5.7.1", Some("headers.malformed_field")).await;
    let no_colon = "From: a@acme.example\r\nSubject: hi\r\nthis is the body without a blank line\r\n";
    expect(&h, no_colon, "550 5.7.1", Some("headers.malformed_field")).await;
    // Control bytes inside the From value are still judged by the address parser; a NUL
    // anywhere is refused before any check reads the message.
    let bad_value = "From: \u{1}<a@acme.example>\r\n\r\nhi\r\n";
    expect(&h, bad_value, "550 5.7.1", Some("headers.ambiguous_address")).await;
    let nul = "From: \u{0}<a@acme.example>\r\n\r\nhi\r\n";
    expect(&h, nul, "550 5.6.0", Some("data.nul")).await;
    expect(&h, &message("From: a@acme.example"), "250 2.0.0", None).await;
}
