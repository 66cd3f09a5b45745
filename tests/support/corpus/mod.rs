//! Test/benchmark corpus generator: synthetic mail with known ground truth, deterministic from a
//! seed (a private xorshift generator; no `rand`).
//!
//! It produces **campaigns** — each a template of one kind (newsletter, order confirmation,
//! password reset, promotion, invoice) with its own brand, wording and generated paragraphs, sent
//! as many personalised copies (greeting and name, addresses in the body, tracking and
//! unsubscribe links with per-recipient tokens, order and invoice numbers, amounts, dates, times,
//! coupon codes, a varying list of ordered items) — and **one-off** mails on unrelated topics.
//! One-offs come in families that share a greeting style and a long footer (disclaimer,
//! signature): the hard negatives, unrelated messages with boilerplate in common. Templates of
//! one kind share stock phrasings too. Encodings vary by template (7bit, quoted-printable,
//! base64, HTML, multipart/alternative, multipart/mixed with an attachment) and, for some
//! templates, by copy.
//!
//! [`families`] adds the adversarial families of issue 14 (invisible characters, short
//! templates, HTML-only copies, hash-busters; newsletters and one-liners under shared legal
//! footers, identical short replies from many people) and one-offs written in real prose the
//! project did not write ([`prose`]: package documentation installed on the machine).
//!
//! Test and benchmark support, outside the library: `tests/fingerprint_quality.rs` and
//! `benches/fingerprint.rs` include it by path, and [`quality`] scores a grouping. [`words`] holds
//! the vocabulary and the sentence generator, [`render`] turns paragraphs into MIME messages.

#![allow(dead_code)]

mod families;
pub mod prose;
pub mod quality;
mod render;
mod words;

use render::{assemble, Cte, Encoding};
use words::*;

/// A tiny xorshift64* generator: fast, deterministic, good enough for test data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Rng(aupgate::fingerprint::minhash::mix64(seed ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p` percent.
    pub fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    /// A random element of a non-empty slice.
    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    fn token(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len).map(|_| alphabet[self.below(alphabet.len())] as char).collect()
    }
}

/// Size of a generated corpus.
#[derive(Clone, Copy, Debug)]
pub struct CorpusConfig {
    /// Seed: the same seed gives the same corpus byte for byte.
    pub seed: u64,
    /// Campaign templates.
    pub campaigns: usize,
    /// Personalised copies per campaign.
    pub copies: usize,
    /// One-off messages (unrelated to each other and to every campaign).
    pub one_offs: usize,
    /// One-offs per family sharing a footer / signature.
    pub family_size: usize,
}

/// One generated message with its ground truth.
#[derive(Clone, Debug)]
pub struct Message {
    /// Ground-truth group: the campaign index for a campaign copy; a unique number
    /// (`campaigns + i`) for one-off `i`.
    pub group: usize,
    /// Whether the message is a campaign copy.
    pub is_campaign: bool,
    /// The family it was generated as (`campaign`, `one_off`, or one of [`families`]).
    pub family: &'static str,
    /// The whole RFC 5322 message.
    pub bytes: Vec<u8>,
}

/// Generates a corpus: all copies of campaign 0, then campaign 1, …, then the one-offs.
pub fn generate(cfg: &CorpusConfig) -> Vec<Message> {
    let mut rng = Rng::new(cfg.seed);
    let mut out = Vec::with_capacity(cfg.campaigns * cfg.copies + cfg.one_offs);
    for c in 0..cfg.campaigns {
        let t = Template::new(&mut rng, c);
        for _ in 0..cfg.copies {
            out.push(Message {
                group: c,
                is_campaign: true,
                family: "campaign",
                bytes: t.render(&mut rng),
            });
        }
    }
    let mut family = Family::new(&mut rng);
    for i in 0..cfg.one_offs {
        if cfg.family_size > 0 && i % cfg.family_size == 0 && i > 0 {
            family = Family::new(&mut rng);
        }
        out.push(Message {
            group: cfg.campaigns + i,
            is_campaign: false,
            family: "one_off",
            bytes: family.render(&mut rng),
        });
    }
    out
}

/// The adversarial families (see [`families`]), `scale` groups of each, numbered from
/// `first_group`, written with real prose where `prose` has it.
pub fn generate_families(seed: u64, scale: usize, first_group: usize, prose: &prose::Prose) -> Vec<Message> {
    families::generate(&mut Rng::new(seed ^ 0xfa41), scale, first_group, prose)
}

/// A campaign copy of roughly `bytes` bytes (a newsletter with as many paragraphs as it takes),
/// for throughput measurements.
pub fn message_of_size(seed: u64, bytes: usize) -> Vec<u8> {
    newsletter_of_size(seed, bytes, Encoding::Plain(Cte::SevenBit))
}

/// [`message_of_size`] as `multipart/alternative` (the same text as plain and as HTML, as most
/// newsletters are sent): the fingerprint reads the HTML and compares the plain copy with it.
pub fn alternative_of_size(seed: u64, bytes: usize) -> Vec<u8> {
    newsletter_of_size(seed, bytes, Encoding::Alternative(Cte::QuotedPrintable))
}

fn newsletter_of_size(seed: u64, bytes: usize, encoding: Encoding) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut t = Template::new(&mut rng, 0);
    t.kind = Kind::Newsletter;
    t.encoding = encoding;
    t.paragraphs.clear();
    let mut msg = t.render(&mut rng);
    while msg.len() < bytes {
        t.paragraphs.push(paragraph(&mut rng, 4));
        msg = t.render(&mut rng);
    }
    msg
}

/// The kind of a campaign template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Newsletter,
    Order,
    PasswordReset,
    Promo,
    Invoice,
}

/// One recipient of one copy.
struct Recipient {
    first: String,
    last: String,
    email: String,
}

impl Recipient {
    fn new(rng: &mut Rng) -> Self {
        let first = rng.pick(&words(FIRST)).to_string();
        let last = rng.pick(&words(LAST)).to_string();
        let domain = rng.pick(&words(MAIL_DOMAINS));
        let (f, l) = (first.to_lowercase(), last.to_lowercase());
        let local = match rng.below(5) {
            0 => format!("{f}.{l}"),
            1 => format!("{f}{l}"),
            2 => format!("{}.{l}", &f[..1]),
            3 => format!("{f}{}", rng.range(1, 9999)),
            _ => rng.token(8, b"abcdefghijklmnopqrstuvwxyz0123456789"),
        };
        Recipient {
            first,
            last,
            email: format!("{local}@{domain}"),
        }
    }
}

/// A campaign template: everything that is the same in every copy.
struct Template {
    kind: Kind,
    brand: String,
    encoding: Encoding,
    /// Pick the transfer encoding per copy (some mailers do).
    cte_per_copy: bool,
    greeting: usize,
    subject: String,
    intro: String,
    paragraphs: Vec<String>,
    products: Vec<String>,
    closing: String,
    footer: String,
}

impl Template {
    fn new(rng: &mut Rng, index: usize) -> Self {
        let kind = match index % 5 {
            0 => Kind::Newsletter,
            1 => Kind::Order,
            2 => Kind::PasswordReset,
            3 => Kind::Promo,
            _ => Kind::Invoice,
        };
        let brand = format!(
            "{}{}",
            rng.pick(&words(BRANDS)),
            rng.pick(&["", "ly", "io", "hub", " Shop", " Labs"])
        );
        let cte = match rng.below(3) {
            0 => Cte::SevenBit,
            1 => Cte::QuotedPrintable,
            _ => Cte::Base64,
        };
        let encoding = match rng.below(4) {
            0 => Encoding::Plain(cte),
            1 => Encoding::Html(cte),
            2 => Encoding::Alternative(cte),
            _ => Encoding::MixedWithAttachment(cte),
        };
        let n_par = match kind {
            Kind::Newsletter => rng.range(3, 6),
            Kind::PasswordReset => 1,
            _ => rng.range(1, 2),
        };
        let paragraphs = (0..n_par)
            .map(|_| {
                let s = rng.range(2, 4);
                paragraph(rng, s)
            })
            .collect();
        let products: Vec<String> = PRODUCTS
            .split('|')
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        let products = (0..8).map(|_| products[rng.below(products.len())].clone()).collect();
        let intro = match kind {
            Kind::Newsletter => rng.pick(&[
                "Here is what is new at {brand} this month.",
                "Welcome to the {brand} weekly digest.",
                "The latest stories from the {brand} team are here.",
                "Your {brand} newsletter has arrived.",
            ]),
            Kind::Order => rng.pick(&[
                "Thank you for your order {order} placed on {date}.",
                "We have received your order {order} from {date} and it is being prepared.",
                "Great news: order {order} ({date}) is confirmed.",
            ]),
            Kind::PasswordReset => rng.pick(&[
                "We received a request to reset the password of the {brand} account {email}.",
                "Someone asked to reset the password for {email} on {brand}.",
                "A password reset was requested for your {brand} login {email}.",
            ]),
            Kind::Promo => rng.pick(&[
                "{first}, take {pct}% off everything until {date}!",
                "{first}, our biggest sale of the season: {pct}% off through {date}.",
                "Only for you, {first}: {pct}% off selected items until {date}.",
            ]),
            Kind::Invoice => rng.pick(&[
                "Your invoice {invoice} for {month} is now available. Amount due: EUR {amount}, due on {date}.",
                "Please find invoice {invoice} ({month}) attached. Total: EUR {amount}. Payment due {date}.",
                "Invoice {invoice} for the period of {month} has been issued: EUR {amount}, payable by {date}.",
            ]),
        }
        .replace("{brand}", &brand);
        let closing = rng
            .pick(&[
                "Thanks, the {brand} team",
                "Best regards, {brand} customer care",
                "Cheers from everyone at {brand}",
                "Sincerely, {brand}",
            ])
            .replace("{brand}", &brand);
        let footer = format!(
            "You receive this email at {{email}} because you have an account with {brand}. {} \
Unsubscribe: {{unsub}} {brand} Inc, {} {} Street, {}",
            paragraph(rng, 1),
            rng.range(1, 999),
            rng.pick(&words(LAST)),
            rng.pick(&["Springfield", "Berlin", "Lyon", "Austin", "Osaka", "Leeds", "Porto"]),
        );
        let subject = format!("{} {}", brand, rng.pick(&words(NOUNS)));
        Template {
            kind,
            brand,
            encoding,
            cte_per_copy: rng.percent(20),
            greeting: rng.below(5),
            subject,
            intro,
            paragraphs,
            products,
            closing,
            footer,
        }
    }

    /// The text of one personalised copy, as paragraphs (links as `[text](url)` for HTML).
    fn body(&self, rng: &mut Rng, r: &Recipient) -> Vec<String> {
        let host = self.brand.to_lowercase().replace(' ', "");
        let tok = |rng: &mut Rng, n| rng.token(n, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        let date = match rng.below(3) {
            0 => format!(
                "{} {}, 2026",
                rng.pick(&["March", "April", "May", "June"]),
                rng.range(1, 28)
            ),
            1 => format!("2026-{:02}-{:02}", rng.range(1, 12), rng.range(1, 28)),
            _ => format!("{:02}/{:02}/2026", rng.range(1, 28), rng.range(1, 12)),
        };
        let order = format!("#{}-{}", rng.range(100, 999), rng.range(10000, 99999));
        let fill = |s: &str, rng: &mut Rng| {
            s.replace("{first}", &r.first)
                .replace("{email}", &r.email)
                .replace("{date}", &date)
                .replace("{order}", &order)
                .replace("{pct}", &rng.range(10, 60).to_string())
                .replace("{invoice}", &format!("INV-{}", rng.range(100000, 999999)))
                .replace("{month}", rng.pick(&["January", "February", "March", "April"]))
                .replace("{amount}", &format!("{}.{:02}", rng.range(10, 4000), rng.below(100)))
                .replace("{unsub}", &format!("https://{host}.com/unsubscribe?u={}", tok(rng, 32)))
        };
        let mut out = Vec::new();
        let greeting = match self.greeting {
            0 => format!("Dear {} {},", r.first, r.last),
            1 => format!("Hi {},", r.first),
            2 => format!("Hello {}!", r.first),
            3 => format!("Dear {},", r.first),
            _ => String::new(),
        };
        if !greeting.is_empty() && self.kind != Kind::Promo {
            out.push(greeting);
        }
        out.push(fill(&self.intro, rng));
        match self.kind {
            Kind::Order => {
                let mut total = 0;
                for _ in 0..rng.range(1, 3) {
                    let price = rng.range(5, 300);
                    total += price;
                    out.push(format!(
                        "{} x {} - ${price}.{:02}",
                        rng.range(1, 3),
                        self.products[rng.below(self.products.len())],
                        rng.below(100)
                    ));
                }
                out.push(format!(
                    "Total: ${total}.00, shipping to {} {}, {} {} Road, {}",
                    r.first,
                    r.last,
                    rng.range(1, 500),
                    rng.pick(&words(LAST)),
                    rng.range(10000, 99999)
                ));
                out.push(format!(
                    "[Track your package](https://track.{host}.com/p/{})",
                    tok(rng, 24)
                ));
            }
            Kind::PasswordReset => {
                out.push(format!(
                    "[Reset your password](https://{host}.com/reset?code={})",
                    tok(rng, 40)
                ));
                out.push(format!(
                    "This link expires at {:02}:{:02} on {date}. If you did not ask for this, ignore this email.",
                    rng.range(0, 23),
                    rng.range(0, 59)
                ));
            }
            Kind::Promo => {
                out.push(format!(
                    "Use code {} at checkout.",
                    rng.token(8, b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                ));
                out.push(format!(
                    "[Shop now](https://click.{host}.com/c/{}?r={})",
                    tok(rng, 20),
                    rng.range(1, 1 << 30)
                ));
            }
            Kind::Invoice => {
                out.push(format!("Customer number: {}", rng.range(100000, 999999)));
            }
            Kind::Newsletter => {}
        }
        for (i, p) in self.paragraphs.iter().enumerate() {
            out.push(p.clone());
            if self.kind == Kind::Newsletter {
                out.push(format!("[Read more](https://news.{host}.com/a/{i}?t={})", tok(rng, 16)));
            }
        }
        out.push(self.closing.clone());
        out.push(fill(&self.footer, rng));
        out
    }

    fn render(&self, rng: &mut Rng) -> Vec<u8> {
        let r = Recipient::new(rng);
        let body = self.body(rng, &r);
        let mut encoding = self.encoding;
        if self.cte_per_copy {
            let cte = [Cte::SevenBit, Cte::QuotedPrintable, Cte::Base64][rng.below(3)];
            encoding = match encoding {
                Encoding::Plain(_) => Encoding::Plain(cte),
                Encoding::Html(_) => Encoding::Html(cte),
                Encoding::Alternative(_) => Encoding::Alternative(cte),
                Encoding::MixedWithAttachment(_) => Encoding::MixedWithAttachment(cte),
            };
        }
        let to = if rng.percent(60) {
            format!("\"{} {}\" <{}>", r.first, r.last, r.email)
        } else {
            r.email.clone()
        };
        let from = format!(
            "{} <news@{}.com>",
            self.brand,
            self.brand.to_lowercase().replace(' ', "")
        );
        assemble(rng, &from, &to, &self.subject, &body, encoding)
    }
}

/// A family of one-off mails: one sender organisation with a shared footer.
struct Family {
    sender: String,
    footer: String,
    greeting: usize,
}

impl Family {
    fn new(rng: &mut Rng) -> Self {
        let sender = format!("{} {}", rng.pick(&words(FIRST)), rng.pick(&words(LAST)));
        let company = format!(
            "{} {}",
            rng.pick(&words(BRANDS)),
            rng.pick(&["GmbH", "Ltd", "LLC", "SA", "Partners"])
        );
        let disclaimer = format!(
            "CONFIDENTIALITY NOTICE: {} This message and any attachments are intended only for the addressee. {}",
            paragraph(rng, 1),
            paragraph_of(rng, 1, 2)
        );
        // Families differ in how their boilerplate can be recognised: a sign-off line, an RFC 3676
        // delimiter, a disclaimer only, or (the hardest) a plain tagline paragraph.
        let footer = match rng.below(4) {
            0 => format!(
                "Best regards,\n{sender}\n{company}\nPhone +49 {} {}\n\n{disclaimer}",
                rng.range(100, 999),
                rng.range(100000, 999999)
            ),
            1 => format!("-- \n{sender}\n{company}\n{disclaimer}"),
            2 => format!(
                "{sender}\n{company}\nPhone +49 {} {}\n\n{disclaimer}",
                rng.range(100, 999),
                rng.range(100000, 999999)
            ),
            _ => format!("{sender}, {company}\n{}", paragraph_of(rng, 1, 2)),
        };
        Family {
            sender,
            footer,
            greeting: rng.below(3),
        }
    }

    fn render(&self, rng: &mut Rng) -> Vec<u8> {
        let r = Recipient::new(rng);
        let topic = rng.pick(&words(TOPICS));
        let mut body = vec![match self.greeting {
            0 => format!("Hi {},", r.first),
            1 => format!("Dear {},", r.first),
            _ => format!("Hello {},", r.first),
        }];
        body.push(format!("About the {topic}: {}", paragraph_of(rng, 1, 3)));
        for _ in 0..rng.range(0, 3) {
            let n = rng.range(1, 4);
            body.push(paragraph(rng, n));
        }
        body.push(self.footer.clone());
        let from = format!(
            "{} <{}@example.net>",
            self.sender,
            self.sender.to_lowercase().replace(' ', ".")
        );
        let cte = [Cte::SevenBit, Cte::QuotedPrintable, Cte::Base64][rng.below(3)];
        let enc = if rng.percent(70) {
            Encoding::Plain(cte)
        } else {
            Encoding::Alternative(cte)
        };
        assemble(
            rng,
            &from,
            &format!("{} <{}>", r.first, r.email),
            &format!("Re: {topic}"),
            &body,
            enc,
        )
    }
}
