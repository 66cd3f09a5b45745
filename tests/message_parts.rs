//! One parse, one set of MIME limits: what sits past the 64th part (where the fingerprint's own
//! walker used to stop) is seen by the letter-bomb check on the real server and by the
//! fingerprint, and both agree on where the message's limits are.

mod support;

use aupgate::fingerprint::{fingerprint, fingerprint_message, normalize};
use aupgate::message::{self, mime};
use support::{send_message, Harness};

const PERMISSIVE: &str = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 0\nmessages_per_day = 0\nrecipients_per_hour = 0\nrecipients_per_day = 0\n";

const CAMPAIGN: &str = "Our spring collection has arrived and we picked a few favourites for you: \
linen shirts, summer dresses and the sandals everybody asked for last year. Order before Friday \
and shipping is free for every order over fifty euros.";

/// A multipart/mixed message of `filler` inline images followed by `last` (part headers, body).
fn after_many_parts(filler: usize, last: (&str, &str)) -> String {
    let mut m = String::from(
        "From: news@acme.example\r\nTo: Ann Lee <ann@dest.example>\r\nSubject: spring\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n",
    );
    for i in 0..filler {
        m.push_str(&format!(
            "--p\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo{i:04}\r\n"
        ));
    }
    m.push_str(&format!("--p\r\n{}\r\n\r\n{}\r\n--p--\r\n", last.0, last.1));
    m
}

#[test]
fn campaign_text_past_the_64th_part_is_fingerprinted() {
    let text = ("Content-Type: text/plain; charset=utf-8", CAMPAIGN);
    let deep = after_many_parts(70, text);
    let simple = format!("From: news@acme.example\r\nTo: Ann Lee <ann@dest.example>\r\n\r\n{CAMPAIGN}\r\n");
    let parsed = message::parse(deep.as_bytes());
    assert_eq!(parsed.overflow(), None);
    assert!(parsed.parts().len() > 64);
    assert_eq!(parsed.readable().text.trim_end(), CAMPAIGN);
    // The same text, whatever its place, is the same campaign; an empty body is not it.
    assert_eq!(normalize(deep.as_bytes()), normalize(simple.as_bytes()));
    assert!(fingerprint_message(&parsed).is_similar(&fingerprint(simple.as_bytes())));
    assert!(!fingerprint(deep.as_bytes()).is_similar(&fingerprint(b"From: a@b.example\r\n\r\n")));
    // Another text behind as many parts is another campaign.
    let other = after_many_parts(
        70,
        (
            "Content-Type: text/plain",
            "Minutes of the board meeting: the budget for next year was approved, the new office \
             opens in March, and the audit committee reports at the next session in two weeks.",
        ),
    );
    assert!(!fingerprint(other.as_bytes()).is_similar(&fingerprint_message(&parsed)));
}

#[test]
fn the_limits_are_the_same_for_every_reader() {
    let over = after_many_parts(mime::MAX_PARTS + 10, ("Content-Type: text/plain", CAMPAIGN));
    let parsed = message::parse(over.as_bytes());
    assert_eq!(parsed.parts().len(), mime::MAX_PARTS);
    assert_eq!(parsed.overflow(), Some(message::Overflow::TooManyParts));
    // Past the limit the fingerprint sees no text either (it reads the same walk).
    assert_eq!(parsed.readable().text, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executable_past_the_64th_part_is_refused() {
    let h = Harness::start_with_profile(Some(PERMISSIVE), |_| {}).await;
    // No file name anywhere: only the MIME walk can see that part 71 is an executable.
    let bomb = after_many_parts(70, ("Content-Type: application/x-msdownload", "TVqQAAMAAAAEAAAA"));
    let reply = send_message(&h, "news@acme.example", &["ann@dest.example"], &bomb).await;
    assert!(reply.starts_with("550 5.7.1 Letter bomb: attachment"), "{reply}");
    assert!(reply.ends_with("[rule attachments.dangerous]"), "{reply}");
    // The same message with a harmless last part goes through.
    let fine = after_many_parts(70, ("Content-Type: text/plain", CAMPAIGN));
    let reply = send_message(&h, "news@acme.example", &["ann@dest.example"], &fine).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    // Over the one part limit: refused as a structure that cannot be checked.
    let wide = after_many_parts(mime::MAX_PARTS + 10, ("Content-Type: text/plain", CAMPAIGN));
    let reply = send_message(&h, "news@acme.example", &["ann@dest.example"], &wide).await;
    assert!(reply.starts_with("550 5.7.1 Letter bomb check"), "{reply}");
    assert!(reply.ends_with("[rule attachments.malformed]"), "{reply}");
}
