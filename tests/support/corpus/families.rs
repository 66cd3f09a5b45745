//! The adversarial families of issue 14, generated the way senders and spammers produce them.
//!
//! Campaigns (every copy of one is one ground-truth group; all should share a campaign):
//! - `invisible`: zero-width space, (non-)joiner, soft hyphen, word joiner inside 5–15% of the
//!   words, as characters or HTML entities, and Cyrillic look-alike letters in some copies;
//! - `short_template`: pitches under 80 words that vary by the recipient's name and city, one
//!   swapped word, an A/B prefix, the button label, and the sales rep's signature block;
//! - `html_only`: copies as text, as multipart and as HTML only, the HTML with a browser-view
//!   line, a navigation menu, a hidden preheader, zero-size text and a tracking pixel;
//! - `hash_buster`: 10–50 words of real prose added above or below the pitch;
//! - `short_push`: one sender pushing one short text with a link to many recipients.
//!
//! - the evasions an adversarial review found (session 10), one family each: `alt_salad` (a
//!   random `text/plain` alternative beside the HTML pitch), `hidden_salad` (a hidden word after
//!   every pitch word: white text, a `<style>` class, 2 px text, off the page), `signoff_pitch`
//!   (the pitch after an early `Thanks,`), `legal_sprinkled` (a legal-sounding sentence added to
//!   each pitch paragraph), `short_plus_word` (a short push with one random word added).
//!
//! Unrelated mail (every message its own group; none should share a campaign):
//! - `newsletter_issue`: issues of one publisher's newsletter, short articles under a shared
//!   footer (a ~130-word legal footer, or a plain "about us" paragraph);
//! - `disclaimer_one_liner`: one-liners under a long company disclaimer;
//! - `short_reply`: the same literal short reply from many people of one tenant;
//! - `prose_one_off`: mail written in real prose (see [`super::prose`]).

use super::prose::Prose;
use super::render::{assemble, leaf, Cte, Encoding};
use super::words::*;
use super::{Message, Rng};

/// Copies per campaign.
const COPIES: usize = 25;

/// Every family, `scale` campaigns or publishers/companies each, shuffled together.
pub(super) fn generate(rng: &mut Rng, scale: usize, first_group: usize, prose: &Prose) -> Vec<Message> {
    let mut g = Gen {
        rng: rng.clone(),
        prose_rng: Rng::new(rng.clone().next_u64() ^ PROSE_STREAM),
        prose,
        next_group: first_group,
        out: Vec::new(),
    };
    for _ in 0..scale {
        g.invisible();
        g.short_template();
        g.html_only();
        g.hash_buster();
        g.short_push();
        g.newsletter_issues(8);
        g.disclaimer_one_liners(8);
        g.prose_one_offs(8);
    }
    g.short_replies(scale * 4);
    // After every other family, so that adding them changed none of those.
    for _ in 0..scale {
        g.evasions();
    }
    let mut out = g.out;
    // Interleave the families and campaigns as live traffic would (Fisher–Yates).
    for i in (1..out.len()).rev() {
        let j = rng.below(i + 1);
        out.swap(i, j);
    }
    out
}

/// Mixed into the seed of the prose draws' own stream.
const PROSE_STREAM: u64 = 0x7072_6f73_6500_0001;

struct Gen<'a> {
    rng: Rng,
    /// The draws of real sentences, apart from `rng`: how many a family takes depends on the
    /// machine's documentation (sentence lengths), and it must not shift what every other
    /// family generates. Only the prose families then differ from machine to machine.
    prose_rng: Rng,
    prose: &'a Prose,
    next_group: usize,
    out: Vec<Message>,
}

const CITIES: [&str; 12] = [
    "Austin", "Leeds", "Porto", "Osaka", "Lyon", "Denver", "Graz", "Turin", "Dublin", "Quebec", "Perth", "Bergen",
];
const INVISIBLE: [(&str, &str); 5] = [
    ("\u{200b}", "&#8203;"),
    ("\u{200c}", "&zwnj;"),
    ("\u{200d}", "&zwj;"),
    ("\u{00ad}", "&shy;"),
    ("\u{2060}", "&#x2060;"),
];

impl Gen<'_> {
    /// One campaign of each evasion family (see the module docs).
    fn evasions(&mut self) {
        type Make<'a> = &'a dyn Fn(&mut Gen<'_>, &[String], &str) -> (String, String);
        let families: [(&'static str, Make); 4] = [
            ("alt_salad", &|g, pitch, link| {
                // Generated words, as a spammer's salad is (real prose here would share whole
                // sentences with the prose one-offs, which draw on the same few documents).
                let n = g.rng.range(2, 4);
                let salad = paragraph(&mut g.rng, n);
                let html: String = pitch.iter().map(|p| format!("<p>{p}</p>")).collect();
                let b = format!("=_a{:x}", g.rng.next_u64());
                (
                    format!("multipart/alternative; boundary=\"{b}\""),
                    format!(
                        "--{b}\r\n{}\r\n--{b}\r\n{}\r\n--{b}--\r\n",
                        leaf("text/plain", Cte::SevenBit, &salad),
                        leaf(
                            "text/html",
                            Cte::QuotedPrintable,
                            &format!("<html><body>{html}<p><a href=\"{link}\">Shop now</a></p></body></html>")
                        )
                    ),
                )
            }),
            ("hidden_salad", &|g, pitch, link| {
                let hide = g.rng.below(4);
                let salad = g.prose_words(80, 120);
                let mut words = salad.split(' ').cycle();
                let style = if hide == 1 {
                    "<style>.x{display:none}</style>"
                } else {
                    ""
                };
                let mut html = format!("<html><head>{style}</head><body>");
                for p in pitch {
                    html.push_str("<p>");
                    for w in p.split(' ') {
                        let h = words.next().unwrap_or("x");
                        let hidden = match hide {
                            0 => format!("<span style=\"color:#ffffff\">{h}</span>"),
                            1 => format!("<span class=\"x\">{h}</span>"),
                            2 => format!("<span style=\"font-size:2px\">{h}</span>"),
                            _ => format!("<span style=\"position:absolute;left:-9999px\">{h}</span>"),
                        };
                        html.push_str(&format!("{w} {hidden} "));
                    }
                    html.push_str("</p>");
                }
                html.push_str(&format!("<p><a href=\"{link}\">Shop now</a></p></body></html>"));
                ("text/html; charset=\"utf-8\"".into(), html)
            }),
            ("signoff_pitch", &|g, pitch, link| {
                let salad = g.prose_words(8, 14);
                (
                    "text/plain; charset=\"utf-8\"".into(),
                    format!("{salad}\r\nThanks,\r\n{}\r\n{link}\r\n", pitch.join("\r\n\r\n")),
                )
            }),
            ("legal_sprinkled", &|g, pitch, link| {
                let salad = g.prose_words(4, 8);
                let paragraphs: Vec<String> = pitch
                    .iter()
                    .map(|p| format!("{p} Registered subscribers of our newsletter enjoy this with full privacy and no liability."))
                    .collect();
                (
                    "text/plain; charset=\"utf-8\"".into(),
                    format!("{}\r\n{link}\r\n\r\n{salad}\r\n", paragraphs.join("\r\n\r\n")),
                )
            }),
        ];
        for (family, make) in families {
            let group = self.group();
            let (brand, host) = self.brand();
            let pitch = self.pitch_of((2, 3), (2, 4));
            for _ in 0..COPIES {
                let (_, to) = self.recipient();
                let link = format!("https://click.{host}/c/{}", self.rng.next_u64());
                let (content_type, body) = make(self, &pitch, &link);
                let bytes = format!(
                    "From: {brand} <news@{host}>\r\nTo: {to}\r\nSubject: Offer\r\nMIME-Version: 1.0\r\n\
                     Content-Type: {content_type}\r\n\r\n{body}"
                );
                self.push(group, true, family, bytes.into_bytes());
            }
        }
        // A short push with a link, one random word added to each copy.
        let group = self.group();
        let (brand, host) = self.brand();
        let offer = format!(
            "Fresh {} and {} deals today",
            self.rng.pick(&words(NOUNS)),
            self.rng.pick(&words(NOUNS))
        );
        for _ in 0..COPIES {
            let (_, to) = self.recipient();
            let word = self.prose_words(1, 1);
            let bytes = format!(
                "From: {brand} <deals@{host}>\r\nTo: {to}\r\nSubject: Deal\r\n\r\n{offer} https://{host}/buy {word}\r\n"
            );
            self.push(group, true, "short_plus_word", bytes.into_bytes());
        }
    }

    fn group(&mut self) -> usize {
        self.next_group += 1;
        self.next_group - 1
    }

    fn push(&mut self, group: usize, is_campaign: bool, family: &'static str, bytes: Vec<u8>) {
        self.out.push(Message {
            group,
            is_campaign,
            family,
            bytes,
        });
    }

    /// One sentence of real prose (or a generated one without usable prose).
    fn real_sentence(&mut self) -> String {
        if self.prose.usable() {
            self.prose.sentences[self.prose_rng.below(self.prose.sentences.len())].clone()
        } else {
            sentence(&mut self.prose_rng)
        }
    }

    /// `lo..=hi` words of real prose, whole sentences, cut to `hi` words.
    fn prose_words(&mut self, lo: usize, hi: usize) -> String {
        let want = self.rng.range(lo, hi);
        let mut words: Vec<String> = Vec::new();
        while words.len() < want {
            words.extend(self.real_sentence().split(' ').map(str::to_string));
        }
        words.truncate(want.max(lo));
        words.join(" ")
    }

    fn pitch_of(&mut self, paragraphs: (usize, usize), sentences: (usize, usize)) -> Vec<String> {
        let n = self.rng.range(paragraphs.0, paragraphs.1);
        self.pitch(n, sentences)
    }

    /// A pitch: `paragraphs` paragraphs of generated sentences (unique wording per campaign).
    fn pitch(&mut self, paragraphs: usize, sentences: (usize, usize)) -> Vec<String> {
        (0..paragraphs)
            .map(|_| {
                let n = self.rng.range(sentences.0, sentences.1);
                paragraph(&mut self.rng, n)
            })
            .collect()
    }

    fn recipient(&mut self) -> (String, String) {
        let first = self.rng.pick(&words(FIRST)).to_string();
        let last = self.rng.pick(&words(LAST)).to_string();
        let email = format!(
            "{}.{}{}@{}",
            first.to_lowercase(),
            last.to_lowercase(),
            self.rng.range(1, 99),
            self.rng.pick(&words(MAIL_DOMAINS))
        );
        let to = format!("\"{first} {last}\" <{email}>");
        (first, to)
    }

    fn brand(&mut self) -> (String, String) {
        let brand = format!(
            "{}{}",
            self.rng.pick(&words(BRANDS)),
            self.rng.pick(&["", "ly", "io", "hub"])
        );
        let host = format!("{}.example", brand.to_lowercase());
        (brand, host)
    }

    fn cte(&mut self) -> Cte {
        [Cte::SevenBit, Cte::QuotedPrintable, Cte::Base64][self.rng.below(3)]
    }

    fn invisible(&mut self) {
        let group = self.group();
        let (brand, host) = self.brand();
        let pitch = self.pitch_of((2, 4), (2, 4));
        let html = self.rng.percent(50);
        for _ in 0..COPIES {
            let (first, to) = self.recipient();
            let rate = self.rng.range(5, 15);
            let homoglyphs = self.rng.percent(30);
            let mut body = vec![format!("Hi {first},")];
            for p in &pitch {
                let words: Vec<String> = p
                    .split(' ')
                    .map(|w| {
                        let mut w = w.to_string();
                        if homoglyphs && self.rng.percent(20) {
                            w = w
                                .replace('a', "\u{430}")
                                .replace('o', "\u{43e}")
                                .replace('e', "\u{435}");
                        }
                        if self.rng.percent(rate) && w.len() > 2 {
                            let (raw, entity) = INVISIBLE[self.rng.below(INVISIBLE.len())];
                            let at = self.rng.range(1, w.chars().count() - 1);
                            let split: usize = w.char_indices().nth(at).map_or(w.len(), |(i, _)| i);
                            w.insert_str(split, if html { entity } else { raw });
                        }
                        w
                    })
                    .collect();
                body.push(words.join(" "));
            }
            body.push(format!("[Shop now](https://click.{host}/c/{})", self.rng.next_u64()));
            body.push(format!("Thanks, the {brand} team"));
            // Entities survive only unencoded (the fix-up below works on the raw bytes).
            let enc = if html {
                Encoding::Html(Cte::SevenBit)
            } else {
                Encoding::Plain(self.cte())
            };
            let mut bytes = assemble(
                &mut self.rng,
                &format!("{brand} <news@{host}>"),
                &to,
                "Offer",
                &body,
                enc,
            );
            if html {
                // `assemble` escapes `&`: put the entities back as the spammer wrote them.
                let text = String::from_utf8_lossy(&bytes)
                    .replace("&amp;#", "&#")
                    .replace("&amp;z", "&z")
                    .replace("&amp;shy;", "&shy;");
                bytes = text.into_bytes();
            }
            self.push(group, true, "invisible", bytes);
        }
    }

    fn short_template(&mut self) {
        let group = self.group();
        let (brand, host) = self.brand();
        let reps: Vec<String> = (0..4)
            .map(|_| format!("{} {}", self.rng.pick(&words(FIRST)), self.rng.pick(&words(LAST))))
            .collect();
        let a = paragraph(&mut self.rng, 1);
        let n = self.rng.range(1, 2);
        let b = paragraph(&mut self.rng, n);
        let noun = self.rng.pick(&words(NOUNS)).to_string();
        let swaps = [("quick", "short"), ("call", "chat"), ("this week", "next week")];
        for _ in 0..COPIES {
            let (first, to) = self.recipient();
            let city = CITIES[self.rng.below(CITIES.len())];
            let prefix = ["", "Quick note: ", "Heads up - ", "One more thing: "][self.rng.below(4)];
            let (w1, w2, w3) = (
                if self.rng.percent(50) { swaps[0].0 } else { swaps[0].1 },
                if self.rng.percent(50) { swaps[1].0 } else { swaps[1].1 },
                if self.rng.percent(50) { swaps[2].0 } else { swaps[2].1 },
            );
            let rep = reps[self.rng.below(reps.len())].clone();
            let mut body = vec![format!("Hi {first},")];
            body.push(format!(
                "{prefix}{a} We help teams in {city} with their {noun} and I would love a {w1} {w2} {w3} to show you how."
            ));
            body.push(b.clone());
            let label = ["Book a call", "Schedule a call", "Pick a time"][self.rng.below(3)];
            body.push(format!("[{label}](https://{host}/meet/{})", self.rng.next_u64()));
            body.push(match self.rng.below(3) {
                0 => format!(
                    "Best,\n{rep}\nAccount Executive, {brand}\n+1 555 {:04}",
                    self.rng.below(10_000)
                ),
                1 => format!("{rep} | Sales, {brand}\nDirect: +1 555 {:04}", self.rng.below(10_000)),
                _ => format!("Cheers,\n{rep}"),
            });
            let enc = if self.rng.percent(50) {
                Encoding::Plain(Cte::SevenBit)
            } else {
                Encoding::Alternative(self.cte())
            };
            let from = format!("{rep} <{}@{host}>", rep.to_lowercase().replace(' ', "."));
            let bytes = assemble(&mut self.rng, &from, &to, "Quick question", &body, enc);
            self.push(group, true, "short_template", bytes);
        }
    }

    fn html_only(&mut self) {
        let group = self.group();
        let (brand, host) = self.brand();
        let pitch = self.pitch_of((2, 4), (2, 3));
        let footer = format!(
            "You are receiving this email because you signed up at {host}. Unsubscribe | Manage preferences\n© 2026 {brand} Inc, 12 Harbor Street, Leeds"
        );
        for _ in 0..COPIES {
            let (first, to) = self.recipient();
            let tok = self.rng.next_u64();
            let mut text = vec![
                format!("View this email in your browser: https://{host}/v/{tok}"),
                format!("Hello {first},"),
            ];
            text.extend(pitch.iter().cloned());
            text.push(format!("Read more: https://{host}/r/{tok}"));
            text.push(footer.replace('\n', "\n\n"));
            let mut html = format!(
                "<!DOCTYPE html><html><head><style>.preheader{{display:none!important}}</style></head><body>\
<div class=\"preheader\" style=\"display:none;max-height:0;overflow:hidden\">{}</div>\
<table width=\"100%\"><tr><td align=\"center\"><a href=\"https://{host}/v/{tok}\">View this email in your browser</a></td></tr>\
<tr><td><a href=\"https://{host}/\">Home</a> | <a href=\"https://{host}/shop\">Shop</a> | <a href=\"https://{host}/blog\">Blog</a></td></tr>\
<tr><td><p>Hello {first},</p>",
                self.prose_words(8, 20)
            );
            for p in &pitch {
                html.push_str(&format!(
                    "<p>{p}<span style=\"font-size:0px;color:#ffffff\">{}</span></p>",
                    self.prose_words(5, 15)
                ));
            }
            html.push_str(&format!(
                "<p><a href=\"https://{host}/r/{tok}\" style=\"color:#fff;background:#06c\">Read more</a></p>\
<img src=\"https://t.{host}/o/{tok}.gif\" width=\"1\" height=\"1\" alt=\"\">\
<p style=\"font-size:11px;color:#888\">{}</p></td></tr></table></body></html>",
                footer.replace('\n', "<br>")
            ));
            let headers =
                format!("From: {brand} <news@{host}>\r\nTo: {to}\r\nSubject: {brand} news\r\nMIME-Version: 1.0\r\n");
            let cte = self.cte();
            let bytes = match self.rng.below(3) {
                0 => headers + &leaf("text/html", cte, &html),
                1 => headers + &leaf("text/plain", cte, &text.join("\n\n")),
                _ => {
                    let b = format!("=_h{tok:x}");
                    format!(
                        "{headers}Content-Type: multipart/alternative; boundary=\"{b}\"\r\n\r\n--{b}\r\n{}\r\n--{b}\r\n{}\r\n--{b}--\r\n",
                        leaf("text/plain", cte, &text.join("\n\n")),
                        leaf("text/html", cte, &html)
                    )
                }
            };
            self.push(group, true, "html_only", bytes.into_bytes());
        }
    }

    fn hash_buster(&mut self) {
        let group = self.group();
        let (brand, host) = self.brand();
        let pitch = self.pitch_of((1, 3), (3, 5));
        for _ in 0..COPIES {
            let (first, to) = self.recipient();
            let mut body = vec![format!("Dear {first},")];
            let salad = self.prose_words(10, 50);
            let where_ = self.rng.below(3);
            if where_ == 0 {
                body.push(salad.clone());
            }
            body.extend(pitch.iter().cloned());
            body.push(format!("[Claim your offer](https://{host}/o/{})", self.rng.next_u64()));
            if where_ == 1 {
                body.push(salad.clone());
            }
            body.push(format!("The {brand} team"));
            if where_ == 2 {
                body.push(salad);
            }
            let enc = [
                Encoding::Plain(Cte::SevenBit),
                Encoding::Html(Cte::QuotedPrintable),
                Encoding::Alternative(Cte::Base64),
            ][self.rng.below(3)];
            let bytes = assemble(
                &mut self.rng,
                &format!("{brand} <deals@{host}>"),
                &to,
                "Offer",
                &body,
                enc,
            );
            self.push(group, true, "hash_buster", bytes);
        }
    }

    fn short_push(&mut self) {
        let group = self.group();
        let (_, host) = self.brand();
        let text = [
            "Check this out",
            "You need to see this",
            "50% off today only",
            "Your prize is waiting",
            "Look what I found for you",
        ][self.rng.below(5)];
        let sender = format!("promo{}@{host}", self.rng.below(100));
        for _ in 0..COPIES {
            let (_, to) = self.recipient();
            let body = vec![format!("{text}: https://{host}/x/{}", self.rng.next_u64())];
            let bytes = assemble(
                &mut self.rng,
                &sender,
                &to,
                "hey",
                &body,
                Encoding::Plain(Cte::SevenBit),
            );
            self.push(group, true, "short_push", bytes);
        }
    }

    fn newsletter_issues(&mut self, issues: usize) {
        let (brand, host) = self.brand();
        let legal = self.rng.percent(67);
        let footer = if legal {
            format!(
                "You are receiving this newsletter because you subscribed at {host}. {brand} Media Ltd is registered in \
England and Wales under company number 0{}. Registered office: {} {} Street, London. The views expressed in \
this newsletter are those of the authors and do not necessarily reflect the views of {brand} Media. While we \
take care to ensure the accuracy of the information, we accept no liability for errors or omissions. This \
email and any attachments are intended solely for the addressee and may contain confidential information. If \
you have received it in error, please notify the sender and delete it. We process your personal data in \
accordance with our privacy notice. To stop receiving these emails, unsubscribe at any time.",
                self.rng.range(1_000_000, 9_999_999),
                self.rng.range(1, 99),
                self.rng.pick(&words(LAST)),
            )
        } else {
            format!(
                "{brand} Weekly is an independent publication written by a small team of editors who care about {} and {}. {} {} {}",
                self.rng.pick(&words(NOUNS)),
                self.rng.pick(&words(NOUNS)),
                self.real_sentence(),
                self.real_sentence(),
                self.real_sentence()
            )
        };
        for issue in 0..issues {
            let group = self.group();
            let (first, to) = self.recipient();
            let mut body = vec![format!("{brand} Weekly, issue {}", 100 + issue), format!("Hi {first},")];
            for _ in 0..self.rng.range(1, 2) {
                body.push(self.prose_words(20, 60));
            }
            body.push(footer.clone());
            let enc = if self.rng.percent(50) {
                Encoding::Plain(Cte::QuotedPrintable)
            } else {
                Encoding::Alternative(Cte::QuotedPrintable)
            };
            let bytes = assemble(
                &mut self.rng,
                &format!("{brand} Weekly <weekly@{host}>"),
                &to,
                "This week",
                &body,
                enc,
            );
            self.push(group, false, "newsletter_issue", bytes);
        }
    }

    fn disclaimer_one_liners(&mut self, messages: usize) {
        let (brand, host) = self.brand();
        let disclaimer = format!(
            "DISCLAIMER: This e-mail and any files transmitted with it are confidential and intended solely for the \
use of the individual or entity to whom they are addressed. If you have received this e-mail in error please \
notify the system manager. {brand} Holdings accepts no liability for the content of this e-mail, or for the \
consequences of any actions taken on the basis of the information provided, unless that information is \
subsequently confirmed in writing. Any views or opinions presented in this e-mail are solely those of the author \
and do not necessarily represent those of the company. Employees are expressly required not to make defamatory \
statements. {brand} Holdings, registered in {}, number {}.",
            CITIES[self.rng.below(CITIES.len())],
            self.rng.range(100_000, 999_999)
        );
        for _ in 0..messages {
            let group = self.group();
            let (first, to) = self.recipient();
            let sender = format!("{} {}", self.rng.pick(&words(FIRST)), self.rng.pick(&words(LAST)));
            let line = self.prose_words(5, 15);
            let body = vec![format!("Hi {first},"), line, sender.clone(), disclaimer.clone()];
            let from = format!("{sender} <{}@{host}>", sender.to_lowercase().replace(' ', "."));
            let bytes = assemble(
                &mut self.rng,
                &from,
                &to,
                "Re: today",
                &body,
                Encoding::Plain(Cte::SevenBit),
            );
            self.push(group, false, "disclaimer_one_liner", bytes);
        }
    }

    fn short_replies(&mut self, messages: usize) {
        let replies = [
            "Thanks!",
            "Thanks, got it.",
            "Sounds good.",
            "OK, thank you!",
            "Received, thanks.",
        ];
        let host = "tenant-corp.example";
        for i in 0..messages {
            let group = self.group();
            let (_, to) = self.recipient();
            let sender = format!("{} {}", self.rng.pick(&words(FIRST)), self.rng.pick(&words(LAST)));
            let from = format!("{sender} <user{i}@{host}>");
            let mut body = vec![replies[i % 2].to_string()];
            if self.rng.percent(50) {
                body.push(format!("{sender}\nTenant Corp"));
            }
            let bytes = assemble(
                &mut self.rng,
                &from,
                &to,
                "Re: your message",
                &body,
                Encoding::Plain(Cte::SevenBit),
            );
            self.push(group, false, "short_reply", bytes);
        }
    }

    fn prose_one_offs(&mut self, messages: usize) {
        for _ in 0..messages {
            let group = self.group();
            let (first, to) = self.recipient();
            let sender = format!("{} {}", self.rng.pick(&words(FIRST)), self.rng.pick(&words(LAST)));
            let mut body = vec![format!("Hello {first},")];
            for _ in 0..self.rng.range(1, 3) {
                let n = self.rng.range(1, 4);
                body.push((0..n).map(|_| self.real_sentence()).collect::<Vec<_>>().join(" "));
            }
            body.push(format!("Regards,\n{sender}"));
            let from = format!("{sender} <{}@mail.example>", sender.to_lowercase().replace(' ', "."));
            let enc = if self.rng.percent(70) {
                Encoding::Plain(self.cte())
            } else {
                Encoding::Alternative(self.cte())
            };
            let bytes = assemble(&mut self.rng, &from, &to, "Hello", &body, enc);
            self.push(group, false, "prose_one_off", bytes);
        }
    }
}
