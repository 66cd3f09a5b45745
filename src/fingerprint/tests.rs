//! Table-driven tests of the public fingerprint API: normalisation of whole messages, similar
//! and dissimilar pairs, and hostile input.

use super::*;

fn msg(to: &str, body: &str) -> Vec<u8> {
    format!("From: shop@acme.example\r\nTo: {to}\r\nSubject: x\r\n\r\n{body}").into_bytes()
}

const NEWSLETTER: &str = "Dear {name},\r\n\r\nThis spring the quiet garden brings new life to \
our little village market, and the bakery on the corner celebrates its tenth season with fresh \
bread every morning. Read the full story at https://news.acme.example/a/{tok} and tell us what you \
think about the new opening hours, the sourdough recipe and the weekend concerts by the river.\r\n\r\n\
Your order {order} ships on {date}. Questions? Write to help@acme.example.\r\n\r\n\
You receive this at {email}. Unsubscribe: https://acme.example/u?t={tok}\r\n";

fn newsletter(name: &str, email: &str, tok: &str, order: &str, date: &str) -> Vec<u8> {
    let body = NEWSLETTER
        .replace("{name}", name)
        .replace("{email}", email)
        .replace("{tok}", tok)
        .replace("{order}", order)
        .replace("{date}", date);
    msg(&format!("\"{name}\" <{email}>"), &body)
}

#[test]
fn normalize_whole_messages() {
    let cases: [(Vec<u8>, &str); 5] = [
        (msg("a@b.c", "Hello   World"), "<greet>"),
        (
            msg("\"Ann Lee\" <ann@x.org>", "Ann, your code is 123456. Lee team"),
            "<name> your code is <num> <name> team",
        ),
        (
            b"Content-Type: text/html\r\n\r\n<p>Hi Bob,</p><p>See <a href=\"https://t.shop.com/x9\">this</a> &amp; more</p>"
                .to_vec(),
            "<greet>\nsee this more",
        ),
        (
            b"Content-Transfer-Encoding: base64\r\n\r\nT3JkZXIgT1JELTk5IHNoaXBwZWQ=".to_vec(),
            "order ord <num> shipped",
        ),
        (b"".to_vec(), ""),
    ];
    for (m, want) in cases {
        assert_eq!(normalize(&m), want, "{}", String::from_utf8_lossy(&m));
    }
}

#[test]
fn campaign_copies_are_similar() {
    let a = fingerprint(&newsletter(
        "John Smith",
        "john.smith@gmail.com",
        "aZ9kQ2xPm4Lr8TwY",
        "ORD-48213",
        "March 5, 2026",
    ));
    let b = fingerprint(&newsletter(
        "Maria Lopez",
        "mlopez77@web.de",
        "Qw3Er5Ty7Ui9Op1A",
        "ORD-90001",
        "2026-04-17",
    ));
    assert!(!a.is_exact());
    let s = a.similarity(&b);
    assert!(s >= THRESHOLD, "similarity {s}");
    assert!(a.is_similar(&b));
    let ka = a.band_keys();
    assert!(ka.len() >= BANDS);
    assert!(b.band_keys().iter().any(|k| ka.contains(k)));
}

#[test]
fn unrelated_mail_is_not_similar() {
    let pairs = [
        (
            "Hi Tom, the budget meeting moved to Thursday because the auditors need another week \
             with the warehouse numbers and the insurance contract is still unsigned by legal.",
            "Dear Sue, thank you for the lovely concert last night, the violin section was \
             wonderful and the children talked about the lighthouse song all the way home.",
        ),
        (
            NEWSLETTER,
            "Your invoice for April is attached. Please pay the amount due within thirty days to \
             the account shown on the invoice, quoting your customer number as the reference.",
        ),
    ];
    for (x, y) in pairs {
        let (a, b) = (fingerprint(&msg("a@x.org", x)), fingerprint(&msg("b@y.org", y)));
        assert!(a.similarity(&b) < THRESHOLD, "{x} / {y}");
        assert!(!a.band_keys().iter().any(|k| b.band_keys().contains(k)));
    }
}

#[test]
fn short_bodies_are_exact() {
    let a = fingerprint(&msg("a@x.org", "Hi Anna, call me at 555-1234"));
    let b = fingerprint(&msg("b@x.org", "Hi Bert, call me at 555-9876"));
    let c = fingerprint(&msg("c@x.org", "Lunch at noon?"));
    assert!(a.is_exact() && c.is_exact());
    assert_eq!(a.band_keys(), b.band_keys());
    assert_eq!(c.band_keys().len(), 1, "three words: no near keys");
    assert!(a.band_keys().len() > 1, "the near keys");
    assert_eq!(a.similarity(&b), 1.0);
    assert_eq!(a.similarity(&c), 0.0);
    assert!(!a.band_keys().iter().any(|k| c.band_keys().contains(k)));
    assert_eq!(a.campaign_id(), a.band_keys().into_iter().min().unwrap());
}

#[test]
fn short_pushes_one_word_apart_share_a_key() {
    let words = ["apple", "quarry", "violet", "harbour", "lantern"];
    let push = |w: &str| {
        fingerprint(&msg(
            "x@y.example",
            &format!("Hot deals at https://pills.example/buy today {w}"),
        ))
    };
    let prints: Vec<Fingerprint> = words.iter().map(|w| push(w)).collect();
    for p in &prints[1..] {
        assert!(prints[0].band_keys().iter().any(|k| p.band_keys().contains(k)));
        assert!(prints[0].is_similar(p));
    }
    // Without a call to action, one word apart is another mail (one-time codes of two kinds).
    let login = fingerprint(&msg("x@y.example", "Your login code is 123456 for today"));
    let reset = fingerprint(&msg("x@y.example", "Your reset code is 654321 for today"));
    assert!(!login.band_keys().iter().any(|k| reset.band_keys().contains(k)));
    // Two words apart is another text.
    let a = fingerprint(&msg("x@y.example", "Lunch at the harbour on Friday with the team?"));
    let b = fingerprint(&msg("x@y.example", "Dinner at the harbour on Friday with the kids?"));
    assert!(!a.band_keys().iter().any(|k| b.band_keys().contains(k)));
}

#[test]
fn campaign_id_is_deterministic() {
    let m = newsletter("A B", "a@b.cd", "tok", "1", "May 1");
    assert_eq!(fingerprint(&m).campaign_id(), fingerprint(&m).campaign_id());
    let f = fingerprint(&m);
    assert_eq!(
        f.campaign_id(),
        *minhash::band_keys(f.signature().unwrap()).iter().min().unwrap()
    );
}

#[test]
fn short_bodies_without_a_call_to_action_are_their_authors() {
    let from = |author: &str, body: &str| format!("From: {author}\r\nTo: x@y.z\r\n\r\n{body}").into_bytes();
    let thanks_a = fingerprint(&from("Ann <ann@corp.example>", "Thanks!"));
    let thanks_b = fingerprint(&from("bob@corp.example", "Thanks!"));
    let thanks_a2 = fingerprint(&from("ann@corp.example", "Thanks!\r\n"));
    assert_ne!(thanks_a.band_keys(), thanks_b.band_keys());
    assert_eq!(thanks_a.band_keys(), thanks_a2.band_keys());
    let push_a = fingerprint(&from("ann@corp.example", "Check this out: https://deals.example/x?u=1"));
    let push_b = fingerprint(&from("bob@corp.example", "Check this out: https://deals.example/x?u=2"));
    let push_c = fingerprint(&from("bob@corp.example", "Check this out: https://other.example/x?u=2"));
    assert_eq!(push_a.band_keys(), push_b.band_keys());
    assert_ne!(push_a.band_keys(), push_c.band_keys());
}

#[test]
fn invisible_characters_and_look_alikes_change_nothing() {
    let plain = msg(
        "a@b.c",
        "Our spring offer brings fresh bread and quiet gardens to every village market this week only",
    );
    let disguised = msg(
        "a@b.c",
        "Our spr\u{200b}ing off\u{00ad}er brings fr\u{200c}esh bre\u{2060}ad and quiet g\u{0430}rdens to every vill\u{200d}age m\u{0430}rket this week only",
    );
    assert_eq!(normalize(&plain), normalize(&disguised));
    let html = b"Content-Type: text/html\r\n\r\n<p>Our spr&#8203;ing off&shy;er brings fr&zwnj;esh bread and quiet gardens to every village market this week only</p>".to_vec();
    assert_eq!(normalize(&plain), normalize(&html));
}

#[test]
fn bad_input_never_panics() {
    let mut nested = String::new();
    for i in 0..200 {
        nested.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    nested.push_str("Content-Type: text/plain\r\n\r\ndeep text\r\n");
    let mut many_parts = String::from("Content-Type: multipart/mixed; boundary=z\r\n\r\n");
    for _ in 0..10_000 {
        many_parts.push_str("--z\r\nContent-Type: image/png\r\n\r\nxx\r\n");
    }
    let garbage: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\r\n\r\n".to_vec(),
        b":::\r\n".to_vec(),
        garbage,
        vec![b'a'; 3 * 1024 * 1024],
        format!("Subject: x\r\n\r\n{}", "word ".repeat(400_000)).into_bytes(),
        b"Content-Type: multipart/mixed; boundary=\"\r\n\r\n--\r\nbroken".to_vec(),
        b"Content-Type: multipart/alternative\r\n\r\nno boundary param".to_vec(),
        b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nunterminated"
            .to_vec(),
        b"Content-Type: text/html\r\n\r\n<a href=\"https://".to_vec(),
        b"Content-Type: text/html\r\n\r\n<script>never closed".to_vec(),
        b"Content-Transfer-Encoding: base64\r\n\r\n====!!!!\xff\xfe".to_vec(),
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=\xff=\r=".to_vec(),
        b"To: =?utf-8?B?@@@?= =?x?Q?\r\n\r\nhi".to_vec(),
        "Dear \u{1F600}\u{0301},\r\n\u{00e9}\u{00e9} https://\u{00e9}.com/ &#xFFFFFFFF; &#0;"
            .as_bytes()
            .to_vec(),
        nested.into_bytes(),
        many_parts.into_bytes(),
    ];
    for m in &cases {
        let f = fingerprint(m);
        assert!(!f.band_keys().is_empty());
        let _ = f.similarity(&f);
    }
}

#[test]
fn a_long_pitch_paragraph_keys_the_copy_despite_added_salad() {
    let pitch = "Our spring collection of handmade ceramic mugs and linen napkins arrives this week, \
                 with free shipping on every order above forty euros and a small gift wrapped by hand \
                 in our workshop by the river for the first hundred customers who write to us.";
    let salad_a = "The committee reviewed the budget of the harbour lighthouse and postponed the vote \
                   on the new ferry timetable until the autumn session of the regional council.";
    let salad_b = "Migrating birds follow the coastline in long lines, resting on the salt marshes \
                   where volunteers count them every morning before the tide comes back in.";
    let a = fingerprint(&msg("a@x.org", &format!("{salad_a}\r\n\r\n{pitch}")));
    let b = fingerprint(&msg("b@y.org", &format!("{pitch}\r\n\r\n{salad_b}")));
    let (ka, kb) = (a.band_keys(), b.band_keys());
    assert!(ka.len() > BANDS, "the long paragraphs have keys of their own");
    assert!(kb.iter().any(|k| ka.contains(k)), "the copies meet through the pitch");
    // Without its paragraph keys the salad would have kept them apart.
    assert!(!kb[..BANDS].iter().any(|k| ka[..BANDS].contains(k)));
}

/// Twelve words of salad, different for each `i`.
fn salad(i: usize) -> String {
    const WORDS: [&str; 16] = [
        "harbour", "violet", "quarry", "lantern", "meadow", "copper", "falcon", "timber", "orchid", "glacier",
        "saddle", "pepper", "walnut", "canyon", "marble", "thistle",
    ];
    (0..12)
        .map(|k| WORDS[(i * 7 + k * 5 + k * k * i) % 16])
        .collect::<Vec<_>>()
        .join(" ")
}

const PITCH: &str = "Our spring collection of handmade ceramic mugs and linen napkins arrives this week, \
with free shipping on every order above forty euros and a small gift wrapped by hand in our workshop \
by the river for the first hundred customers who write to us before Sunday evening.";

#[test]
fn the_pitch_a_client_shows_keys_the_copy_whatever_else_the_message_holds() {
    let part = |ctype: &str, body: &str| format!("Content-Type: {ctype}; charset=utf-8\r\n\r\n{body}\r\n");
    let multipart = |kind: &str, parts: &[String]| {
        let mut m = format!(
            "From: shop@acme.example\r\nTo: x@y.example\r\nContent-Type: multipart/{kind}; boundary=\"b\"\r\n\r\n"
        );
        for p in parts {
            m.push_str(&format!("--b\r\n{p}"));
        }
        m.push_str("--b--\r\n");
        m.into_bytes()
    };
    let html = format!("<html><body><p>{PITCH}</p></body></html>");
    type Variant = Box<dyn Fn(usize) -> Vec<u8>>;
    let variants: [(&str, Variant); 3] = [
        (
            "alternative: random text/plain, the pitch in HTML",
            Box::new(move |i| {
                multipart(
                    "alternative",
                    &[part("text/plain", &salad(i)), part("text/html", &html)],
                )
            }),
        ),
        (
            "mixed: a random first part, the pitch in a second inline part",
            Box::new(move |i| multipart("mixed", &[part("text/plain", &salad(i)), part("text/plain", PITCH)])),
        ),
        (
            "mixed: the pitch in an attached message sent inline",
            Box::new(move |i| {
                let inner = format!(
                    "Content-Type: message/rfc822\r\n\r\nFrom: shop@acme.example\r\nSubject: fwd\r\n\r\n{PITCH}\r\n"
                );
                multipart("mixed", &[part("text/plain", &salad(i)), inner])
            }),
        ),
    ];
    for (name, make) in &variants {
        let prints: Vec<Fingerprint> = (0..6).map(|i| fingerprint(&make(i))).collect();
        for (i, p) in prints.iter().enumerate().skip(1) {
            let keys = p.band_keys();
            assert!(
                prints[0].band_keys().iter().any(|k| keys.contains(k)),
                "{name}: copy {i} shares no key"
            );
            assert!(prints[0].is_similar(p), "{name}: copy {i}");
        }
    }
    // The salads alone are unrelated: without the pitch's view the copies would not meet.
    let (a, b) = (
        fingerprint(&msg("x@y.example", &salad(0))),
        fingerprint(&msg("x@y.example", &salad(1))),
    );
    assert!(!a.band_keys().iter().any(|k| b.band_keys().contains(k)));
}

#[test]
fn an_attached_message_or_file_is_not_a_view() {
    let with = |disposition: &str| {
        format!(
            "From: shop@acme.example\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nSee the attached file, thanks.\r\n--b\r\n\
Content-Type: text/plain\r\nContent-Disposition: {disposition}; filename=a.txt\r\n\r\n{PITCH}\r\n--b--\r\n"
        )
        .into_bytes()
    };
    let attached = with("attachment");
    let shown = crate::message::parse(&attached).displayed();
    assert_eq!(shown.len(), 1, "{shown:?}");
    let inline = with("inline");
    assert_eq!(crate::message::parse(&inline).displayed().len(), 2);
}

#[test]
fn a_subaddressed_author_is_the_same_author() {
    let from = |author: &str| {
        format!("From: {author}\r\nTo: x@y.z\r\n\r\nAre you available? I need a quick favour.").into_bytes()
    };
    let a = fingerprint(&from("ceo+a1@corp.example"));
    let b = fingerprint(&from("CEO+zz@Corp.Example"));
    let other = fingerprint(&from("cfo@corp.example"));
    assert_eq!(a.band_keys(), b.band_keys());
    assert_ne!(a.band_keys(), other.band_keys());
}

/// Three paragraphs of one pitch.
const PITCH_PARAGRAPHS: [&str; 3] = [
    "Our spring collection of handmade ceramic mugs and linen napkins arrives this week with free shipping on every order above forty euros.",
    "Each piece is glazed by hand in our workshop by the river and packed in recycled paper so it reaches your kitchen without a scratch.",
    "The first hundred customers who write to us before Sunday evening also receive a small gift wrapped by hand and a card from the potter.",
];

#[test]
fn boilerplate_rules_do_not_switch_the_fingerprint_off() {
    type Variant = Box<dyn Fn(usize) -> String>;
    let variants: [(&str, Variant); 3] = [
        (
            "a pitch after an early sign-off",
            Box::new(|i| format!("{}\r\nThanks,\r\n{}", salad(i), PITCH_PARAGRAPHS.join("\r\n\r\n"))),
        ),
        (
            "a legal sentence added to every pitch paragraph",
            Box::new(|i| {
                let paragraphs: Vec<String> = PITCH_PARAGRAPHS
                    .iter()
                    .map(|p| format!("{p} Registered subscribers of our newsletter enjoy this with full privacy."))
                    .collect();
                format!("{}\r\n\r\n{}", paragraphs.join("\r\n\r\n"), &salad(i)[..20])
            }),
        ),
        (
            "an opt-out phrase on every pitch line",
            Box::new(|i| {
                let paragraphs: Vec<String> = PITCH_PARAGRAPHS
                    .iter()
                    .map(|p| format!("{p} (You can opt out anytime.)"))
                    .collect();
                format!("{}\r\n\r\n{}", paragraphs.join("\r\n\r\n"), &salad(i)[..20])
            }),
        ),
    ];
    for (name, make) in &variants {
        let prints: Vec<Fingerprint> = (0..6).map(|i| fingerprint(&msg("x@y.example", &make(i)))).collect();
        assert!(
            !prints[0].is_exact(),
            "{name}: the pitch was dropped: {:?}",
            normalize(&msg("x@y.example", &make(0)))
        );
        for (i, p) in prints.iter().enumerate().skip(1) {
            assert!(prints[0].is_similar(p), "{name}: copy {i}");
        }
    }
}

#[test]
fn real_boilerplate_is_still_dropped() {
    let body = "Can we move the review to Thursday afternoon? The draft is not ready yet.\r\n\r\n\
Thanks,\r\nAnna Berg\r\nHead of Design, Acme Ltd\r\n+44 20 7946 0000 | https://acme.example\r\n\r\n\
This email and any attachments are confidential and intended solely for the addressee. If you are \
not the intended recipient, please notify the sender and delete it. Any unauthorised use, \
disclosure or dissemination is strictly prohibited.\r\n\r\nTo unsubscribe from these updates click here.";
    let n = crate::fingerprint::normalize_message(&crate::message::parse(&msg("x@y.example", body))).0;
    assert_eq!(
        n.text, "can we move the review to <date> afternoon the draft is not ready yet",
        "{n:?}"
    );
    assert!(!n.call_to_action, "the signature's link is dropped with it");
}

#[test]
fn salad_hidden_between_the_words_is_not_read() {
    let html = |i: usize, hide: &dyn Fn(&str) -> String, head: &str| {
        let salad = salad(i);
        let mut words = salad.split(' ').cycle();
        let body: Vec<String> = PITCH_PARAGRAPHS
            .iter()
            .map(|p| {
                let interleaved: Vec<String> = p
                    .split(' ')
                    .map(|w| format!("{w} {}", hide(words.next().unwrap_or("x"))))
                    .collect();
                format!("<p>{}</p>", interleaved.join(" "))
            })
            .collect();
        format!(
            "From: shop@acme.example\r\nTo: x@y.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head>{head}</head><body>{}</body></html>",
            body.join("")
        )
        .into_bytes()
    };
    type Hide = Box<dyn Fn(&str) -> String>;
    let hides: [(&str, Hide, &str); 5] = [
        (
            "white on the default page",
            Box::new(|w| format!("<span style=\"color:#ffffff\">{w}</span>")),
            "",
        ),
        (
            "a <font> colour",
            Box::new(|w| format!("<font color=\"white\">{w}</font>")),
            "",
        ),
        (
            "a style rule",
            Box::new(|w| format!("<span class=\"h\">{w}</span>")),
            "<style>.h{display:none}</style>",
        ),
        (
            "two-pixel text",
            Box::new(|w| format!("<span style=\"font-size:2px\">{w}</span>")),
            "",
        ),
        (
            "off the page",
            Box::new(|w| format!("<span style=\"position:absolute;left:-9999px\">{w}</span>")),
            "",
        ),
    ];
    for (name, hide, head) in &hides {
        let prints: Vec<Fingerprint> = (0..6).map(|i| fingerprint(&html(i, hide.as_ref(), head))).collect();
        for (i, p) in prints.iter().enumerate().skip(1) {
            assert!(prints[0].is_similar(p), "{name}: copy {i}");
        }
    }
}

#[test]
fn a_stub_plain_part_does_not_join_a_senders_mails() {
    let issue = |html: &str| {
        format!(
            "From: news@acme.example\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nYour mail program cannot show this newsletter.\r\n--b\r\n\
Content-Type: text/html\r\n\r\n<p>{html}</p>\r\n--b--\r\n"
        )
        .into_bytes()
    };
    let a = fingerprint(&issue(PITCH));
    let b = fingerprint(&issue(&salad(3).repeat(3)));
    assert!(!a.band_keys().iter().any(|k| b.band_keys().contains(k)));
}

#[test]
fn decoy_alternatives_and_nested_parts_do_not_hide_the_pitch() {
    let part = |ctype: &str, body: &str| format!("Content-Type: {ctype}; charset=utf-8\r\n\r\n{body}\r\n");
    let html = format!("<html><body><p>{PITCH}</p></body></html>");
    // Five random plain decoys, then the HTML pitch, which is what a client shows.
    let decoys = |i: usize| {
        let mut m =
            String::from("From: shop@acme.example\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n");
        for k in 0..5 {
            m.push_str(&format!("--b\r\n{}", part("text/plain", &salad(i * 10 + k))));
        }
        m.push_str(&format!("--b\r\n{}--b--\r\n", part("text/html", &html)));
        m.into_bytes()
    };
    // A mixed message: an alternative (random plain, the HTML pitch), then an alternative of
    // four random texts.
    let nested = |i: usize| {
        let mut m = String::from("From: shop@acme.example\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n");
        m.push_str(&format!(
            "--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\n{}--a\r\n{}--a--\r\n",
            part("text/plain", &salad(i)),
            part("text/html", &html)
        ));
        m.push_str("--m\r\nContent-Type: multipart/alternative; boundary=\"c\"\r\n\r\n");
        for k in 0..4 {
            m.push_str(&format!("--c\r\n{}", part("text/plain", &salad(i * 10 + k + 1))));
        }
        m.push_str("--c--\r\n--m--\r\n");
        m.into_bytes()
    };
    for (name, make) in [("decoys", &decoys as &dyn Fn(usize) -> Vec<u8>), ("nested", &nested)] {
        let prints: Vec<Fingerprint> = (0..5).map(|i| fingerprint(&make(i))).collect();
        for (i, p) in prints.iter().enumerate().skip(1) {
            assert!(
                prints[0].band_keys().iter().any(|k| p.band_keys().contains(k)),
                "{name}: copy {i}"
            );
        }
    }
}

#[test]
fn a_short_html_pitch_beside_a_long_random_plain_part_still_keys_the_copy() {
    let copy = |i: usize| {
        format!(
            "From: shop@acme.example\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\n{}\r\n--b\r\nContent-Type: text/html\r\n\r\n\
<p>Hot deals at <a href=\"https://pills.example/buy\">our shop</a> today</p>\r\n--b--\r\n",
            salad(i).repeat(2)
        )
        .into_bytes()
    };
    let (a, b) = (fingerprint(&copy(1)), fingerprint(&copy(2)));
    assert!(a.band_keys().iter().any(|k| b.band_keys().contains(k)));
}

#[test]
fn one_liners_under_a_long_signature_stay_apart() {
    let signature = "Best regards,\r\nAnna Berg\r\nSenior Account Manager, Northwind Trading Ltd\r\n\
Northwind House, 12 Harbour Road, Leeds LS1 4AB, United Kingdom\r\nPhone +44 113 496 0000 | Mobile +44 7700 900123\r\n\
Fax +44 113 496 0001\r\nhttps://northwind.example | https://northwind.example/linkedin\r\n\
Opening hours Monday to Friday, nine to five\r\nFollow us for news about our products";
    let lines = [
        "Could you send me the signed contract by Friday please?",
        "The delivery to your warehouse is delayed until next Tuesday.",
        "Thank you for the samples, our team liked the blue ones best.",
        "Please find the invoice for March attached to this message.",
    ];
    let prints: Vec<Fingerprint> = lines
        .iter()
        .map(|l| {
            fingerprint(
                &format!(
                    "From: Anna Berg <anna@northwind.example>\r\nTo: x@y.example\r\n\r\n{l}\r\n\r\n{signature}\r\n"
                )
                .into_bytes(),
            )
        })
        .collect();
    for (i, a) in prints.iter().enumerate() {
        for b in &prints[i + 1..] {
            assert!(!a.band_keys().iter().any(|k| b.band_keys().contains(k)), "{a:?} {b:?}");
        }
    }
}

#[test]
fn an_html_part_without_text_leaves_the_plain_copy_to_tell_issues_apart() {
    let issue = |plain: &str| {
        format!(
            "From: news@acme.example\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\n{plain}\r\n--b\r\n\
Content-Type: text/html\r\n\r\n<p><img src=\"https://acme.example/issue.png\" alt=\"This week\"></p>\r\n--b--\r\n"
        )
        .into_bytes()
    };
    let a = fingerprint(&issue(PITCH));
    let b = fingerprint(&issue(&salad(4).repeat(3)));
    assert!(!a.band_keys().iter().any(|k| b.band_keys().contains(k)));
    // And copies of one issue still meet.
    assert!(a
        .band_keys()
        .iter()
        .any(|k| fingerprint(&issue(PITCH)).band_keys().contains(k)));
}
