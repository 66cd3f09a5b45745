//! HTML reduced to the text a reader sees, for the fingerprint.
//!
//! Tokenised by `html5gum` (a WHATWG tokenizer: every named entity, broken markup recovered as a
//! browser would; `<script>`/`<style>` content kept out of the text). On top of it a bounded stack
//! of open elements decides what is visible:
//! - nothing inside `head`, `title`, `script`, `style`, `noscript`, `template`, `svg`;
//! - nothing inside an element with the `hidden` attribute, or whose style hides it — inline, or
//!   a `<style>` rule for its class or id (`.h { display: none }`): `display:none`,
//!   `visibility:hidden`, `opacity:0`, a `font-size` under 4 px (or a quarter em), `height`,
//!   `max-height` or `width` of 0–1 px with `overflow:hidden`, `mso-hide:all`, an element moved
//!   far off the page (`position:absolute; left:-9999px`, `text-indent:-9999px`), or a text
//!   colour (`color`, `<font color>`) within a few steps of the background colour in force (its
//!   own or an ancestor's `bgcolor` / `background(-color)`, white when none is set). CSS comments
//!   are not whitespace a filter can be fooled by (`display:/**/none`);
//! - nothing inside an element whose class or id names a preheader / preview text (ESPs hide it
//!   with a `<style>` rule, not always inline);
//! - navigation menus: a block whose text is two or more links and nothing else
//!   (`Home | Shop | Blog`);
//! - images give no text (tracking pixels, logos, alt text a reader does not see).
//!
//! A block element opened inside a `<p>` closes it, as an HTML parser does (`<p hidden>.<div>`
//! leaves the div visible). Block elements end a paragraph (a blank line), `<br>` ends a line, so the paragraph structure of
//! the HTML copy matches the text copy. Link destinations are not text; whether the document had
//! any link is reported. It is not a sanitiser and its output must never be rendered. Linear in the
//! input; never fails.

use html5gum::{DefaultEmitter, Token, Tokenizer};

/// Open elements tracked; deeper nesting inherits the deepest tracked element's visibility.
const MAX_STACK: usize = 256;

/// The visible text of an HTML document, and whether it links anywhere.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Visible {
    /// Paragraphs separated by blank lines, lines by `\n`.
    pub text: String,
    /// The document has an `http(s)` link.
    pub has_link: bool,
}

/// Elements whose content is never shown.
const INVISIBLE: [&str; 8] = [
    "head", "title", "script", "style", "noscript", "template", "svg", "object",
];
/// Elements that end a paragraph.
const BLOCKS: [&str; 22] = [
    "p",
    "div",
    "table",
    "tr",
    "td",
    "th",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "center",
];
/// Start tags that close an open `<p>` (HTML's "close a p element" for these).
const CLOSES_P: [&str; 20] = [
    "p",
    "div",
    "table",
    "ul",
    "ol",
    "dl",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "hr",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "center",
];
/// Elements a `<p>` is not closed across (its scope ends there).
const P_SCOPE: [&str; 6] = ["td", "th", "table", "button", "html", "object"];
/// The background a colour is compared with when no element sets one: a mail client's page.
const PAGE_BACKGROUND: Rgb = Rgb(255, 255, 255);
/// Colour distance (largest difference of one channel) under which text is taken to be the
/// background's colour.
const SAME_COLOUR: u8 = 24;
/// Elements of the document a `<style>` rule hides, by class or id.
#[derive(Default)]
struct HiddenBy {
    classes: Vec<String>,
    ids: Vec<String>,
}

/// Elements that have no end tag.
const VOID: [&str; 12] = [
    "br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr",
];

struct Open {
    name: Vec<u8>,
    hidden: bool,
    background: Option<Rgb>,
    link: bool,
}

/// A colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rgb(u8, u8, u8);

impl Rgb {
    fn near(self, other: Rgb) -> bool {
        self.0.abs_diff(other.0) <= SAME_COLOUR
            && self.1.abs_diff(other.1) <= SAME_COLOUR
            && self.2.abs_diff(other.2) <= SAME_COLOUR
    }
}

/// What the current paragraph holds so far.
#[derive(Default)]
struct Block {
    text: String,
    links: usize,
    words_outside_links: usize,
}

/// The visible text of `html` (see the module docs).
pub fn to_visible(html: &str) -> Visible {
    let hidden_by = style_rules(html);
    let mut out = Visible::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut block = Block::default();
    // Naive state switching: `<script>`/`<style>`/`<title>` content is tokenised as raw text, as a
    // browser's tree builder would have it.
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = tag.name.to_ascii_lowercase();
                let name_str = std::str::from_utf8(&name).unwrap_or("").to_string();
                let name_str = name_str.as_str();
                if CLOSES_P.contains(&name_str) {
                    let open_p = stack
                        .iter()
                        .rposition(|o| o.name == b"p" || P_SCOPE.iter().any(|s| o.name == s.as_bytes()));
                    if let Some(at) = open_p.filter(|&at| stack[at].name == b"p") {
                        stack.truncate(at);
                    }
                }
                if BLOCKS.contains(&name_str) {
                    end_block(&mut out, &mut block);
                } else if name_str == "br" {
                    block.text.push('\n');
                }
                let parent_hidden = stack.last().is_some_and(|o| o.hidden);
                let attr = |key: &str| {
                    tag.attributes
                        .get(key.as_bytes())
                        .map(|v| String::from_utf8_lossy(&v.value).to_ascii_lowercase())
                };
                let href = attr("href");
                if name_str == "a"
                    && href
                        .as_deref()
                        .is_some_and(|h| h.starts_with("http://") || h.starts_with("https://"))
                {
                    out.has_link = true;
                }
                if VOID.contains(&name_str) || tag.self_closing {
                    continue;
                }
                let style = without_comments(&attr("style").unwrap_or_default());
                let inherited_bg = stack.iter().rev().find_map(|o| o.background).unwrap_or(PAGE_BACKGROUND);
                let background = attr("bgcolor")
                    .and_then(|c| colour_of(&c))
                    .or_else(|| css_value(&style, "background-color").and_then(colour_of))
                    .or_else(|| css_value(&style, "background").and_then(colour_of));
                let colour = css_value(&style, "color").and_then(colour_of).or_else(|| {
                    (name_str == "font")
                        .then(|| attr("color").and_then(|c| colour_of(&c)))
                        .flatten()
                });
                let (class, id) = (attr("class").unwrap_or_default(), attr("id").unwrap_or_default());
                let names = format!("{class} {id}");
                let hidden = parent_hidden
                    || INVISIBLE.contains(&name_str)
                    || tag.attributes.contains_key(&b"hidden"[..])
                    || style_hides(&style)
                    || names.contains("preheader")
                    || names.contains("preview-text")
                    || names.contains("previewtext")
                    || class
                        .split_whitespace()
                        .any(|c| hidden_by.classes.iter().any(|h| h == c))
                    || (!id.is_empty() && hidden_by.ids.contains(&id))
                    || colour.is_some_and(|c| c.near(background.unwrap_or(inherited_bg)));
                if stack.len() < MAX_STACK {
                    stack.push(Open {
                        name,
                        hidden,
                        background,
                        link: name_str == "a" && href.is_some(),
                    });
                    if name_str == "a" && href.is_some() && !hidden {
                        block.links += 1;
                    }
                }
            }
            Token::EndTag(tag) => {
                let name = tag.name.to_ascii_lowercase();
                if let Some(at) = stack.iter().rposition(|o| o.name == name) {
                    stack.truncate(at);
                }
                if BLOCKS.contains(&std::str::from_utf8(&name).unwrap_or("")) {
                    end_block(&mut out, &mut block);
                }
            }
            Token::String(text) => {
                if stack.last().is_some_and(|o| o.hidden) {
                    continue;
                }
                let text = String::from_utf8_lossy(&text.value);
                if !stack.iter().any(|o| o.link) {
                    block.words_outside_links += text
                        .split_whitespace()
                        .filter(|w| w.chars().any(char::is_alphanumeric))
                        .count();
                }
                block.text.push_str(&text);
            }
            _ => {}
        }
    }
    end_block(&mut out, &mut block);
    let len = out.text.trim_end().len();
    out.text.truncate(len);
    out
}

/// Appends the paragraph unless it is empty or a navigation menu.
fn end_block(out: &mut Visible, block: &mut Block) {
    let b = std::mem::take(block);
    if b.text.trim().is_empty() || (b.links >= 2 && b.words_outside_links == 0) {
        return;
    }
    out.text.push_str(b.text.trim());
    out.text.push_str("\n\n");
}

/// The value of a CSS property in an inline style (the last declaration wins, as in CSS).
fn css_value<'a>(style: &'a str, property: &str) -> Option<&'a str> {
    style
        .split(';')
        .filter_map(|decl| decl.split_once(':'))
        .filter(|(p, _)| p.trim() == property)
        .map(|(_, v)| v.trim().trim_end_matches("!important").trim())
        .next_back()
}

/// A style (declarations, comments removed) that makes its element's text invisible.
fn style_hides(style: &str) -> bool {
    if style.is_empty() {
        return false;
    }
    let clipped = css_value(style, "overflow") == Some("hidden");
    let zero = |v: Option<&str>| v.and_then(length_px).is_some_and(|px| px <= 1.0);
    let far_off = |v: Option<&str>| v.and_then(length_px).is_some_and(|px| px <= -500.0);
    css_value(style, "display") == Some("none")
        || css_value(style, "visibility") == Some("hidden")
        || css_value(style, "mso-hide") == Some("all")
        || css_value(style, "opacity").is_some_and(|v| v.parse::<f64>().is_ok_and(|o| o < 0.1))
        || css_value(style, "font-size")
            .and_then(length_px)
            .is_some_and(|px| px < 4.0)
        || (clipped
            && (zero(css_value(style, "max-height"))
                || zero(css_value(style, "height"))
                || zero(css_value(style, "width"))))
        || (matches!(css_value(style, "position"), Some("absolute" | "fixed"))
            && (far_off(css_value(style, "left")) || far_off(css_value(style, "top"))))
        || far_off(css_value(style, "text-indent"))
}

/// A CSS length in pixels, roughly (`em`/`rem` as 16 px, `%` of 16 px, `pt` as 4/3 px); `None`
/// when it is no length.
fn length_px(value: &str) -> Option<f64> {
    let v = value.trim();
    let unit_at = v.find(|c: char| c.is_ascii_alphabetic() || c == '%').unwrap_or(v.len());
    let n: f64 = v[..unit_at].trim().parse().ok()?;
    let scale = match &v[unit_at..] {
        "" | "px" => 1.0,
        "pt" => 4.0 / 3.0,
        "em" | "rem" => 16.0,
        "%" => 0.16,
        "cm" => 37.8,
        "mm" => 3.78,
        "in" => 96.0,
        _ => return None,
    };
    Some(n * scale)
}

/// `css` without its `/* comments */`.
fn without_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        match rest[start + 2..].find("*/") {
            Some(end) => rest = &rest[start + 2 + end + 2..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// The classes and ids that the document's `<style>` rules hide ([`style_hides`], or a text
/// colour near the page's white): simple selectors only (`.a`, `#b`, `p.a`, `.a, .b`); a rule
/// with another selector is left out. Found by a scan for `<style`, so a rule written after
/// the elements it hides counts too.
fn style_rules(html: &str) -> HiddenBy {
    let mut hidden = HiddenBy::default();
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(open) = lower[from..].find("<style") {
        let body_start = match lower[from + open..].find('>') {
            Some(gt) => from + open + gt + 1,
            None => break,
        };
        let body_end = lower[body_start..]
            .find("</style")
            .map_or(lower.len(), |e| body_start + e);
        let css = without_comments(&lower[body_start..body_end]);
        for rule in css.split('}') {
            let Some((selectors, declarations)) = rule.split_once('{') else {
                continue;
            };
            let colour_hides = css_value(declarations, "color")
                .and_then(colour_of)
                .is_some_and(|c| c.near(PAGE_BACKGROUND))
                && css_value(declarations, "background-color").is_none()
                && css_value(declarations, "background").is_none();
            if !(style_hides(declarations) || colour_hides) {
                continue;
            }
            for selector in selectors.split(',').map(str::trim) {
                let name_end = |s: &str| {
                    s.find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
                        .unwrap_or(s.len())
                };
                if let Some(at) = selector.rfind(['.', '#']) {
                    let name = &selector[at + 1..];
                    let simple = name_end(name) == name.len()
                        && selector[..at].chars().all(|c| c.is_ascii_alphanumeric() || c == '*');
                    if simple && !name.is_empty() && hidden.classes.len() + hidden.ids.len() < 256 {
                        if selector.as_bytes()[at] == b'.' {
                            hidden.classes.push(name.to_string());
                        } else {
                            hidden.ids.push(name.to_string());
                        }
                    }
                }
            }
        }
        from = body_end;
    }
    hidden
}

/// A CSS or HTML colour (`#fff`, `#FFFFFF`, `white`, `rgb(255, 255, 255)`), if it is one this
/// knows.
fn colour_of(value: &str) -> Option<Rgb> {
    let v = value.trim().to_ascii_lowercase();
    let v = v.trim_end_matches("!important").trim();
    if let Some(args) = v.strip_prefix("rgb(").or_else(|| v.strip_prefix("rgba(")) {
        let mut channels = args
            .trim_end_matches(')')
            .split(',')
            .map(|c| c.trim().parse::<f64>().ok());
        let mut next = || channels.next().flatten().map(|c| c.clamp(0.0, 255.0) as u8);
        return Some(Rgb(next()?, next()?, next()?));
    }
    let v = v.split_whitespace().next().unwrap_or("");
    let hex = match v {
        "white" => "ffffff",
        "black" => "000000",
        "red" => "ff0000",
        "snow" | "ivory" | "ghostwhite" | "whitesmoke" | "floralwhite" | "mintcream" | "azure" => "fafafa",
        _ => v.strip_prefix('#')?,
    };
    let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
    match hex.len() {
        3 => Some(Rgb(digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17)),
        6 => Some(Rgb(digit(0, 2)?, digit(2, 2)?, digit(4, 2)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::to_visible;

    #[test]
    fn visible_text_table() {
        let cases = [
            ("<p>Hi&nbsp;John,</p><p>Hello</p>", "Hi\u{a0}John,\n\nHello"),
            ("a<script>var x='<p>';</script>b", "ab"),
            ("<STYLE>p{}</STYLE>x<!-- c -->y", "xy"),
            ("Tom &amp; Jerry &copy; &shy;&zwnj;", "Tom & Jerry © \u{ad}\u{200c}"),
            ("<head><title>t</title></head>body", "body"),
            ("<div style=\"display:none\">preheader text</div><p>Body</p>", "Body"),
            ("<span style='font-size:0px'>salad words</span>Offer", "Offer"),
            ("<span class=\"preheader\">Open me</span><p>Body</p>", "Body"),
            (
                "<td bgcolor=\"#FFF\"><font><span style=\"color:#ffffff\">hidden</span> shown</font></td>",
                "shown",
            ),
            (
                "<p><a href=\"https://a.example/\">Home</a> | <a href=\"https://a.example/s\">Shop</a></p><p>Text</p>",
                "Text",
            ),
            ("<p><a href=\"https://a.example/b\">Shop now</a></p>", "Shop now"),
            (
                "<img src=\"https://t.example/p.gif\" width=1 height=1 alt=\"pixel\">Hi",
                "Hi",
            ),
            ("line<br>next", "line\nnext"),
            ("unterminated <b", "unterminated"),
            ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
            // Text the colour of the page (white when nothing sets one), however it is spelled.
            ("<p>Buy<span style=\"color:#ffffff\"> salad</span> now</p>", "Buy now"),
            ("<p>Buy<font color=\"#FFF\"> salad</font> now</p>", "Buy now"),
            (
                "<p>Buy<span style=\"color: rgb(255, 255, 255)\"> salad</span> now</p>",
                "Buy now",
            ),
            ("<p>Buy<span style=\"color:#fdfdfd\"> salad</span> now</p>", "Buy now"),
            (
                "<td bgcolor=\"#000\"><span style=\"color:#fff\">shown</span></td>",
                "shown",
            ),
            ("<p style=\"color:#333\">shown</p>", "shown"),
            // Rules of a `<style>` element, before or after what they hide.
            (
                "<style>.h{display:none}</style><p>a<span class=\"x h\"> b</span> c</p>",
                "a c",
            ),
            (
                "<p>a<span id=\"s\"> b</span> c</p><style>#s { font-size: 0 }</style>",
                "a c",
            ),
            (
                "<style>.w{color:white}</style><p>a<span class=\"w\"> b</span> c</p>",
                "a c",
            ),
            (
                "<style>@media (max-width:600px) { .m{display:none} }</style><p class=\"m\">shown</p>",
                "shown",
            ),
            // Hidden by comments, tiny sizes, clipping and positions off the page.
            ("<span style=\"display:/**/none\">salad</span>Offer", "Offer"),
            ("<span style=\"font-size:2px\">salad</span>Offer", "Offer"),
            ("<span style=\"font-size:1em\">shown</span>", "shown"),
            (
                "<span style=\"position:absolute;left:-9999px\">salad</span>Offer",
                "Offer",
            ),
            ("<span style=\"width:0;overflow:hidden\">salad</span>Offer", "Offer"),
            ("<div style=\"max-height:0;overflow:hidden\">salad</div>Offer", "Offer"),
            ("<div style=\"max-height:0\">shown</div>", "shown"),
            // A block start closes an open `<p>`: the hidden paragraph does not hide the div.
            ("<p style=\"display:none\">.<div>Pitch</div>", "Pitch"),
            ("<p style=\"display:none\">x<button><div>hidden</div></button>", ""),
        ];
        for (html, want) in cases {
            assert_eq!(to_visible(html).text, want, "{html}");
        }
        assert!(to_visible("<a href=\"https://x.example\">x</a>").has_link);
        assert!(!to_visible("<a href=\"#top\">x</a>").has_link);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let html = "<div style=\"display:none\">".to_string() + &"<b>".repeat(10_000) + "secret";
        assert_eq!(to_visible(&html).text, "");
        let html = "<i>".repeat(100_000) + "shown";
        assert_eq!(to_visible(&html).text, "shown");
    }
}
