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
//! Used by `tests/fingerprint_quality.rs` and `benches/fingerprint.rs`; not used at run time.

/// A tiny xorshift64* generator: fast, deterministic, good enough for test data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value, zero included).
    pub fn new(seed: u64) -> Self {
        Rng(super::minhash::mix64(seed ^ 0x9e37_79b9_7f4a_7c15) | 1)
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
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
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
            bytes: family.render(&mut rng),
        });
    }
    out
}

/// A campaign copy of roughly `bytes` bytes (a newsletter with as many paragraphs as it takes),
/// for throughput measurements.
pub fn message_of_size(seed: u64, bytes: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut t = Template::new(&mut rng, 0);
    t.kind = Kind::Newsletter;
    t.encoding = Encoding::Plain(Cte::SevenBit);
    t.paragraphs.clear();
    let mut msg = t.render(&mut rng);
    while msg.len() < bytes {
        t.paragraphs.push(paragraph(&mut rng, 4));
        msg = t.render(&mut rng);
    }
    msg
}

fn words(list: &'static str) -> Vec<&'static str> {
    list.split_whitespace().collect()
}

const FIRST: &str = "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David \
Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Maria Lopez Ahmed Fatima Wei Mei \
Hiroshi Yuki Olga Ivan Pierre Camille Hans Greta Sofia Luca Giulia Pedro Ana Carlos Lucia Noah Emma \
Liam Olivia Ethan Ava Mason Mia Aarav Priya Kwame Amara Sven Ingrid Mateo Valentina Omar Layla";
const LAST: &str = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez \
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White \
Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill \
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Mueller Schmidt Rossi \
Dubois Kowalski Novak Tanaka Suzuki Kim Park Chen Wang Singh Patel Okafor Mensah Larsen";
const MAIL_DOMAINS: &str = "gmail.com yahoo.com outlook.com hotmail.com web.de gmx.net orange.fr \
example.org proton.me icloud.com mail.ru fastmail.com";
const BRANDS: &str = "Acme Globex Initech Umbrella Hooli Vandelay Stark Wayne Wonka Cyberdyne \
Soylent Tyrell Monarch Oscorp Nakatomi Gringotts Aperture Blackmesa Pied Dunder Sterling Prestige \
Vehement Massive Dynamic Gekko Oceanic Virtucon Zorg Yoyodyne Bluth Krusty Duff Nuka Sirius Weyland \
Tessier Abstergo Ingen Rekall Omni Kaneda Cogswell Spacely Frobozz Zenith Quantum Northwind Contoso \
Fabrikam Litware Adatum Tailspin Woodgrove Lucerne Proseware Wingtip Margie Trey Alpine Coho";
const NOUNS: &str = "garden kitchen river mountain library engine bicycle harbor festival market \
orchard museum journey winter summer recipe planet camera guitar lantern meadow bridge village \
forest workshop painting concert season coffee bakery island highway theater blanket compass \
harvest canyon pottery novel puzzle rocket telescope violin backpack cabin sailboat vineyard \
volcano waterfall desert glacier tractor studio courtyard cathedral lighthouse chimney carpet \
mirror feather pebble sunrise thunder whistle ladder basket candle fountain garage hammer \
helmet jacket kettle ladle magnet needle notebook oven pillow quilt ribbon saddle shovel \
teapot umbrella wallet window yogurt zipper sneaker laptop monitor printer router speaker";
const VERBS: &str = "brings shapes follows reveals changes protects celebrates explores gathers \
improves connects inspires welcomes carries measures delivers rebuilds discovers balances \
collects supports transforms highlights invites shelters nourishes outlines prepares quiets \
refreshes sharpens strengthens tracks unites values warms";
const ADJS: &str = "quiet bright ancient modern gentle bold curious golden hidden vivid rustic \
elegant humble lively silent tiny vast warm crisp fresh clever sturdy rapid patient careful \
cheerful daring eager fancy graceful hearty honest jolly keen loyal merry nimble proud rare \
sleek smooth spicy tender tidy urban vintage wild witty young zesty";
const ADVS: &str = "slowly gladly quietly boldly rarely softly truly warmly deeply freely \
kindly neatly openly simply wisely";
const PRODUCTS: &str = "Wireless Headphones|Ceramic Mug|Running Shoes|Yoga Mat|Desk Lamp|Water \
Bottle|Phone Case|Backpack|Coffee Grinder|Notebook Set|Bluetooth Speaker|Wool Scarf|Cast Iron \
Pan|Standing Desk|Office Chair|LED Strip|Plant Pot|Chef Knife|Travel Pillow|Sunglasses|Board \
Game|Puzzle Box|Garden Hose|Tool Kit|Tea Sampler|Candle Set|Picture Frame|Bath Towel|Bed Sheet \
Set|Alarm Clock";
const TOPICS: &str = "meeting budget contract proposal schedule invoice shipment warehouse \
hiring interview vacation conference website server backup migration release roadmap \
audit training workshop lease renovation insurance mortgage dentist recital tournament";

/// The kind of a campaign template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Newsletter,
    Order,
    PasswordReset,
    Promo,
    Invoice,
}

#[derive(Clone, Copy, Debug)]
enum Cte {
    SevenBit,
    QuotedPrintable,
    Base64,
}

#[derive(Clone, Copy, Debug)]
enum Encoding {
    Plain(Cte),
    Html(Cte),
    Alternative(Cte),
    MixedWithAttachment(Cte),
}

/// A generated sentence from slot patterns: unique wording per template with high probability.
fn sentence(rng: &mut Rng) -> String {
    let (n, v, a, d) = (words(NOUNS), words(VERBS), words(ADJS), words(ADVS));
    match rng.below(6) {
        0 => format!(
            "The {} {} {} every {} near the {}.",
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&v),
            rng.pick(&n),
            rng.pick(&n)
        ),
        1 => format!(
            "Our {} {} {} the {} {} of the {}.",
            rng.pick(&n),
            rng.pick(&d),
            rng.pick(&v),
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&n)
        ),
        2 => format!(
            "A {} {} and a {} {} make this {} feel {}.",
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&n),
            rng.pick(&a)
        ),
        3 => format!(
            "This {} we {} {} {} for your {} and {}.",
            rng.pick(&n),
            rng.pick(&d),
            rng.pick(&v).trim_end_matches('s'),
            rng.pick(&n),
            rng.pick(&n),
            rng.pick(&n)
        ),
        4 => format!(
            "Every {} {} {} the {} {} beside a {} {}.",
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&v),
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&a),
            rng.pick(&n)
        ),
        _ => format!(
            "Why does the {} {} {} so {} when the {} is {}?",
            rng.pick(&n),
            rng.pick(&d),
            rng.pick(&v).trim_end_matches('s'),
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&a)
        ),
    }
}

fn paragraph_of(rng: &mut Rng, lo: usize, hi: usize) -> String {
    let n = rng.range(lo, hi);
    paragraph(rng, n)
}

fn paragraph(rng: &mut Rng, sentences: usize) -> String {
    (0..sentences)
        .map(|_| sentence(rng))
        .collect::<Vec<_>>()
        .join(" ")
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
        let products = (0..8)
            .map(|_| products[rng.below(products.len())].clone())
            .collect();
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
            rng.pick(&[
                "Springfield",
                "Berlin",
                "Lyon",
                "Austin",
                "Osaka",
                "Leeds",
                "Porto"
            ]),
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
        let tok = |rng: &mut Rng, n| {
            rng.token(
                n,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            )
        };
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
                .replace(
                    "{month}",
                    rng.pick(&["January", "February", "March", "April"]),
                )
                .replace(
                    "{amount}",
                    &format!("{}.{:02}", rng.range(10, 4000), rng.below(100)),
                )
                .replace(
                    "{unsub}",
                    &format!("https://{host}.com/unsubscribe?u={}", tok(rng, 32)),
                )
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
                out.push(format!("This link expires at {:02}:{:02} on {date}. If you did not ask for this, ignore this email.", rng.range(0, 23), rng.range(0, 59)));
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
                out.push(format!(
                    "[Read more](https://news.{host}.com/a/{i}?t={})",
                    tok(rng, 16)
                ));
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

/// Builds the message: headers, then the body paragraphs in the requested MIME shape.
fn assemble(
    rng: &mut Rng,
    from: &str,
    to: &str,
    subject: &str,
    body: &[String],
    enc: Encoding,
) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 23 Nov 2026 10:{:02}:00 +0000\r\n\
Message-ID: <{}@mx.example>\r\nMIME-Version: 1.0\r\n",
        rng.below(60),
        rng.next_u64()
    );
    let plain = plain_text(body);
    let html = html_text(body);
    let boundary = format!("=_b{:x}", rng.next_u64());
    match enc {
        Encoding::Plain(cte) => m.push_str(&leaf("text/plain", cte, &plain)),
        Encoding::Html(cte) => m.push_str(&leaf("text/html", cte, &html)),
        Encoding::Alternative(cte) => {
            m.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
            ));
            m.push_str(&format!(
                "This is a multi-part message in MIME format.\r\n--{boundary}\r\n"
            ));
            m.push_str(&leaf("text/plain", cte, &plain));
            m.push_str(&format!("\r\n--{boundary}\r\n"));
            m.push_str(&leaf("text/html", cte, &html));
            m.push_str(&format!("\r\n--{boundary}--\r\n"));
        }
        Encoding::MixedWithAttachment(cte) => {
            let inner = format!("=_i{:x}", rng.next_u64());
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n"
            ));
            m.push_str(&format!(
                "Content-Type: multipart/alternative; boundary=\"{inner}\"\r\n\r\n--{inner}\r\n"
            ));
            m.push_str(&leaf("text/plain", cte, &plain));
            m.push_str(&format!("\r\n--{inner}\r\n"));
            m.push_str(&leaf("text/html", cte, &html));
            m.push_str(&format!("\r\n--{inner}--\r\n--{boundary}\r\n"));
            m.push_str("Content-Type: application/pdf; name=\"document.pdf\"\r\n\
Content-Disposition: attachment; filename=\"document.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n");
            let pdf: Vec<u8> = (0..rng.range(300, 1500))
                .map(|_| rng.next_u64() as u8)
                .collect();
            m.push_str(&wrap(&base64(&pdf), 76));
            m.push_str(&format!("\r\n--{boundary}--\r\n"));
        }
    }
    m.into_bytes()
}

/// Text paragraphs; `[text](url)` links become `text: url`.
fn plain_text(body: &[String]) -> String {
    body.iter()
        .map(|p| match link(p) {
            Some((text, url)) => format!("{text}: {url}"),
            None => p.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn html_text(body: &[String]) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>p{margin:0 0 12px} .btn{color:#fff}</style>\
<title>Message</title></head><body><table width=\"100%\"><tr><td>\n",
    );
    for p in body {
        match link(p) {
            Some((text, url)) => h.push_str(&format!(
                "<p><a class=\"btn\" href=\"{url}\">{text}</a></p>\n"
            )),
            None => {
                let esc = p
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('\n', "<br>\n");
                h.push_str(&format!("<p>{esc}</p>\n"));
            }
        }
    }
    h.push_str("</td></tr></table></body></html>\n");
    h
}

fn link(p: &str) -> Option<(&str, &str)> {
    let inner = p.strip_prefix('[')?.strip_suffix(')')?;
    inner.split_once("](")
}

fn leaf(mime: &str, cte: Cte, text: &str) -> String {
    let (name, body) = match cte {
        Cte::SevenBit => ("7bit", text.replace('\n', "\r\n")),
        Cte::QuotedPrintable => ("quoted-printable", qp(text)),
        Cte::Base64 => ("base64", wrap(&base64(text.as_bytes()), 76)),
    };
    format!("Content-Type: {mime}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: {name}\r\n\r\n{body}")
}

fn qp(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let mut col = 0;
        for &b in line.as_bytes() {
            let enc = if b == b'=' || !(32..127).contains(&b) {
                format!("={b:02X}")
            } else {
                (b as char).to_string()
            };
            if col + enc.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            col += enc.len();
            out.push_str(&enc);
        }
        out.push_str("\r\n");
    }
    out
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn wrap(s: &str, width: usize) -> String {
    s.as_bytes()
        .chunks(width)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Grouping quality of a corpus, measured as the store will group mail: messages that share any
/// band key are in one group (union-find over band-key collisions, transitively).
///
/// - **recall** — for each campaign, the share of its copies in the group holding most of them,
///   weighted by copies: 1.0 when every campaign is one group.
/// - **false-merge pair rate** — pairs of messages in one group whose ground-truth groups
///   differ, divided by all pairs whose ground-truth groups differ.
/// - **false-merge message rate** — messages whose group also holds a message of another
///   ground-truth group, divided by all messages (the stricter figure: one wrong merge of two
///   campaigns of 40 counts 80 messages).
#[derive(Clone, Debug, Default)]
pub struct Quality {
    /// Messages evaluated.
    pub messages: usize,
    /// Groups formed.
    pub groups: usize,
    /// See the type docs.
    pub recall: f64,
    /// See the type docs.
    pub false_merge_pairs: f64,
    /// See the type docs.
    pub false_merge_messages: f64,
    /// Campaigns not entirely in one group.
    pub split_campaigns: usize,
    /// Groups holding more than one ground-truth group.
    pub mixed_groups: usize,
    /// Recall when messages are assigned one by one as a store that never merges campaigns
    /// would: a message joins the known campaign owning most of its band keys (ties: smallest
    /// id), else starts a new one ([`super::Fingerprint::campaign_id`]); its keys not yet known
    /// are then recorded for that campaign (known keys keep their owner).
    pub sequential_recall: f64,
    /// Messages (in that sequential assignment) put in a campaign owned by another ground-truth
    /// group, over all messages.
    pub sequential_false_merge_messages: f64,
}

/// Groups `fingerprints[i]` (of `messages[i]`) by band-key collision and scores the grouping.
pub fn evaluate(messages: &[Message], fingerprints: &[super::Fingerprint]) -> Quality {
    use std::collections::HashMap;
    let n = messages.len().min(fingerprints.len());
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut owner: HashMap<u64, usize> = HashMap::new();
    for (i, f) in fingerprints.iter().take(n).enumerate() {
        for k in f.band_keys() {
            match owner.get(&k) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(k, i);
                }
            }
        }
    }
    // group root -> (truth group -> count)
    let mut groups: HashMap<usize, HashMap<usize, usize>> = HashMap::new();
    for (i, m) in messages.iter().take(n).enumerate() {
        let r = find(&mut parent, i);
        *groups.entry(r).or_default().entry(m.group).or_default() += 1;
    }
    let mut truth_sizes: HashMap<usize, usize> = HashMap::new();
    for m in messages.iter().take(n) {
        *truth_sizes.entry(m.group).or_default() += 1;
    }
    let pairs = |k: usize| (k * k.saturating_sub(1) / 2) as f64;
    let same_truth_pairs: f64 = truth_sizes.values().map(|&k| pairs(k)).sum();
    let cross_pairs_total = pairs(n) - same_truth_pairs;
    let (mut cross_in_groups, mut mixed_msgs, mut mixed_groups) = (0.0, 0, 0);
    // best group count per campaign
    let mut best: HashMap<usize, usize> = HashMap::new();
    for members in groups.values() {
        let size: usize = members.values().sum();
        let within: f64 = members.values().map(|&k| pairs(k)).sum();
        cross_in_groups += pairs(size) - within;
        if members.len() > 1 {
            mixed_msgs += size;
            mixed_groups += 1;
        }
        for (&g, &k) in members {
            let b = best.entry(g).or_default();
            *b = (*b).max(k);
        }
    }
    let (mut campaign_msgs, mut recalled, mut split) = (0, 0, 0);
    let campaigns: std::collections::HashSet<usize> = messages
        .iter()
        .take(n)
        .filter(|m| m.is_campaign)
        .map(|m| m.group)
        .collect();
    for g in campaigns {
        let total = truth_sizes[&g];
        campaign_msgs += total;
        recalled += best[&g];
        if best[&g] < total {
            split += 1;
        }
    }
    let (sequential_recall, sequential_false_merge_messages) =
        sequential(&messages[..n], &fingerprints[..n]);
    Quality {
        sequential_recall,
        sequential_false_merge_messages,
        messages: n,
        groups: groups.len(),
        recall: if campaign_msgs == 0 {
            1.0
        } else {
            recalled as f64 / campaign_msgs as f64
        },
        false_merge_pairs: if cross_pairs_total > 0.0 {
            cross_in_groups / cross_pairs_total
        } else {
            0.0
        },
        false_merge_messages: if n == 0 {
            0.0
        } else {
            mixed_msgs as f64 / n as f64
        },
        split_campaigns: split,
        mixed_groups,
    }
}

/// The store-like one-pass assignment; returns (recall, false-merge message rate).
fn sequential(messages: &[Message], fingerprints: &[super::Fingerprint]) -> (f64, f64) {
    use std::collections::HashMap;
    let mut owner: HashMap<u64, u64> = HashMap::new();
    let mut founder: HashMap<u64, usize> = HashMap::new(); // campaign -> truth group of its first message
    let mut per_truth: HashMap<usize, HashMap<u64, usize>> = HashMap::new();
    let mut wrong = 0;
    for (m, f) in messages.iter().zip(fingerprints) {
        let keys = f.band_keys();
        // Join the known campaign owning most of the keys (ties: the smallest id).
        let mut votes: Vec<(u64, usize)> = Vec::new();
        for k in &keys {
            if let Some(&c) = owner.get(k) {
                match votes.iter_mut().find(|(v, _)| *v == c) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((c, 1)),
                }
            }
        }
        let campaign = votes
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
            .map_or_else(|| f.campaign_id(), |&(c, _)| c);
        for k in keys {
            owner.entry(k).or_insert(campaign);
        }
        let first = *founder.entry(campaign).or_insert(m.group);
        if first != m.group {
            wrong += 1;
        }
        *per_truth
            .entry(m.group)
            .or_default()
            .entry(campaign)
            .or_default() += 1;
    }
    let campaigns: std::collections::HashSet<usize> = messages
        .iter()
        .filter(|m| m.is_campaign)
        .map(|m| m.group)
        .collect();
    let (mut total, mut best) = (0, 0);
    for (g, camps) in &per_truth {
        if campaigns.contains(g) {
            total += camps.values().sum::<usize>();
            best += camps.values().max().copied().unwrap_or(0);
        }
    }
    let recall = if total == 0 {
        1.0
    } else {
        best as f64 / total as f64
    };
    let n = messages.len().max(1);
    (recall, wrong as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_labelled() {
        let cfg = CorpusConfig {
            seed: 7,
            campaigns: 5,
            copies: 3,
            one_offs: 4,
            family_size: 2,
        };
        let a = generate(&cfg);
        let b = generate(&cfg);
        assert_eq!(a.len(), 19);
        assert!(a
            .iter()
            .zip(&b)
            .all(|(x, y)| x.bytes == y.bytes && x.group == y.group));
        assert_eq!(a[18].group, 5 + 3);
    }

    #[test]
    fn base64_roundtrip() {
        for data in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            b"abcd",
            &[0u8, 255, 128, 7, 9],
        ] {
            assert_eq!(
                super::super::mime::decode_base64(base64(data).as_bytes(), 1 << 20),
                data
            );
        }
    }

    #[test]
    fn message_of_size_is_big_enough() {
        assert!(message_of_size(1, 2048).len() >= 2048);
    }
}
