//! HTML reduced to the text a reader sees, for the fingerprint.
//!
//! Tokenised by `html5gum` (a WHATWG tokenizer: every named entity, broken markup recovered as a
//! browser would; `<script>`/`<style>` content kept out of the text). On top of it a bounded stack
//! of open elements decides what is visible:
//! - nothing inside `head`, `title`, `script`, `style`, `noscript`, `template`, `svg`;
//! - nothing inside an element with the `hidden` attribute, or whose inline style hides it:
//!   `display:none`, `visibility:hidden`, `opacity:0`, `font-size` or `max-height` or `height` of
//!   0–1 px, `mso-hide:all`, or text colour equal to the background colour in force (its own or an
//!   ancestor's `bgcolor` / `background(-color)`);
//! - nothing inside an element whose class or id names a preheader / preview text (ESPs hide it
//!   with a `<style>` rule, not always inline);
//! - navigation menus: a block whose text is two or more links and nothing else
//!   (`Home | Shop | Blog`);
//! - images give no text (tracking pixels, logos, alt text a reader does not see).
//!
//! Block elements end a paragraph (a blank line), `<br>` ends a line, so the paragraph structure of
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
/// Elements that have no end tag.
const VOID: [&str; 12] = [
    "br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr",
];

struct Open {
    name: Vec<u8>,
    hidden: bool,
    background: Option<String>,
    link: bool,
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
                let style = attr("style").unwrap_or_default();
                let inherited_bg = stack.iter().rev().find_map(|o| o.background.clone());
                let background = attr("bgcolor")
                    .map(|c| normalise_colour(&c))
                    .or_else(|| css_value(&style, "background-color").map(normalise_colour))
                    .or_else(|| css_value(&style, "background").map(normalise_colour));
                let colour = css_value(&style, "color").map(normalise_colour);
                let names = format!(
                    "{} {}",
                    attr("class").unwrap_or_default(),
                    attr("id").unwrap_or_default()
                );
                let hidden = parent_hidden
                    || INVISIBLE.contains(&name_str)
                    || tag.attributes.contains_key(&b"hidden"[..])
                    || style_hides(&style)
                    || names.contains("preheader")
                    || names.contains("preview-text")
                    || names.contains("previewtext")
                    || colour.is_some_and(|c| Some(&c) == background.as_ref().or(inherited_bg.as_ref()));
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

/// An inline style that makes its element's text invisible.
fn style_hides(style: &str) -> bool {
    if style.is_empty() {
        return false;
    }
    let zero = |v: Option<&str>| {
        v.is_some_and(|v| {
            let n = v.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%').trim();
            n.parse::<f64>().is_ok_and(|n| n <= 1.0)
        })
    };
    css_value(style, "display") == Some("none")
        || css_value(style, "visibility") == Some("hidden")
        || css_value(style, "mso-hide") == Some("all")
        || css_value(style, "opacity").is_some_and(|v| v.parse::<f64>().is_ok_and(|o| o < 0.1))
        || zero(css_value(style, "font-size"))
        || zero(css_value(style, "max-height"))
        || (zero(css_value(style, "height")) && css_value(style, "overflow") == Some("hidden"))
}

/// A colour as one comparable spelling: `#fff`, `#FFFFFF` and `white` are one colour.
fn normalise_colour(value: &str) -> String {
    let v = value.split_whitespace().next().unwrap_or("");
    let named = match v {
        "white" => "#ffffff",
        "black" => "#000000",
        "red" => "#ff0000",
        "transparent" => "transparent",
        _ => v,
    };
    match named.strip_prefix('#') {
        Some(h) if h.len() == 3 => {
            let mut s = String::from("#");
            for c in h.chars() {
                s.push(c);
                s.push(c);
            }
            s
        }
        _ => named.to_string(),
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
