//! HTML reduced to the text a reader sees, for the fingerprint.
//!
//! Tokenised by `html5gum` (a WHATWG tokenizer: every named entity, broken markup recovered as a
//! browser would; `<script>`/`<style>` content kept out of the text). On top of it a bounded stack
//! of open elements decides what is visible:
//! - nothing inside `head`, `title`, `script`, `style`, `noscript`, `template`, `svg`;
//! - nothing inside an element with the `hidden` attribute, nothing of a closed `<details>` but
//!   its `<summary>`, nothing inside an element whose style (inline, or a
//!   `<style>` rule for its tag, class or id, or one naming its ancestors: [`super::css`]) puts it out of sight with all it
//!   holds: `display:none`, `opacity:0`, `transform:scale(0)`, a box of 0–1 px with
//!   `overflow:hidden`, `mso-hide:all`, moved far off the page;
//! - no text that is unreadable where it stands: `visibility:hidden` (a child may set it back),
//!   a font size under 4 px (relative sizes from the parent's: MJML's `font-size:0` cells with
//!   13 px text in them are read), or a colour (`color`, `<font color>`, inherited) within a few
//!   steps of the background in force (set by an element, its `bgcolor` or a rule; white when
//!   none is) or none at all (`transparent`);
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

use super::css::{colour_of, text_unreadable, Ancestry, Paint, Props, Rgb, StyleSheet, ROOT_FONT_PX};

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
/// Elements that have no end tag.
const VOID: [&str; 12] = [
    "br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr",
];

/// An open element: what its text inherits.
struct Open {
    name: Vec<u8>,
    /// Out of sight with all it holds (`display:none`, an off-page box, ...).
    box_hidden: bool,
    visibility_hidden: bool,
    font_px: f64,
    colour: Option<Paint>,
    /// `None`: one that cannot be read (a gradient, an image), against which no colour is judged.
    background: Option<Rgb>,
    /// Its text is not seen (the box, the visibility, or the text's own size or colour).
    hidden: bool,
    /// A `<details>` without `open`: only its `<summary>` is shown.
    closed_details: bool,
    /// Which ancestors the style sheet's nested rules look for it is inside or is.
    ancestry: Ancestry,
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
    let sheet = StyleSheet::parse(&style_elements(html));
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
                let (class, id) = (attr("class").unwrap_or_default(), attr("id").unwrap_or_default());
                let inherited = stack.last().map_or(0, |o| o.ancestry);
                let (mut props, ancestry) = sheet.element(name_str, &class, &id, inherited);
                props.merge(&Props::parse(&attr("style").unwrap_or_default()));
                props.default_background(attr("bgcolor").and_then(|c| colour_of(&c)));
                if name_str == "font" {
                    props.default_colour(attr("color").and_then(|c| colour_of(&c)));
                }
                let parent = stack.last();
                let names = format!("{class} {id}");
                let closed_details = name_str == "details" && !tag.attributes.contains_key(&b"open"[..]);
                let box_hidden = parent.is_some_and(|o| o.box_hidden)
                    || parent.is_some_and(|o| o.closed_details) && name_str != "summary"
                    || INVISIBLE.contains(&name_str)
                    || tag.attributes.contains_key(&b"hidden"[..])
                    || props.hides_box()
                    || names.contains("preheader")
                    || names.contains("preview-text")
                    || names.contains("previewtext");
                let visibility_hidden = props
                    .visibility_hidden()
                    .unwrap_or_else(|| parent.is_some_and(|o| o.visibility_hidden));
                let font_px = props.font_px(parent.map_or(ROOT_FONT_PX, |o| o.font_px));
                let colour = props.colour().or_else(|| parent.and_then(|o| o.colour));
                let background = props
                    .background()
                    .unwrap_or_else(|| parent.map_or(Some(Rgb::PAGE), |o| o.background));
                let hidden =
                    box_hidden || closed_details || visibility_hidden || text_unreadable(font_px, colour, background);
                if stack.len() < MAX_STACK {
                    stack.push(Open {
                        name,
                        box_hidden,
                        visibility_hidden,
                        font_px,
                        colour,
                        background,
                        hidden,
                        closed_details,
                        ancestry,
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

/// The text of the document's `<style>` elements, as a parser finds them (not one inside a
/// comment, a `<title>` or a `<textarea>`, which a client does not apply). Empty without one.
fn style_elements(html: &str) -> String {
    let mut css = String::new();
    if !html.as_bytes().windows(6).any(|w| w.eq_ignore_ascii_case(b"<style")) {
        return css;
    }
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut in_style = false;
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) if tag.name.eq_ignore_ascii_case(b"style") => in_style = true,
            Token::EndTag(tag) if tag.name.eq_ignore_ascii_case(b"style") => {
                in_style = false;
                css.push('\n');
            }
            Token::String(text) if in_style => css.push_str(&String::from_utf8_lossy(&text.value)),
            _ => {}
        }
    }
    css
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
                "<details><summary>More</summary>salad <b>words</b></details>Offer",
                "MoreOffer",
            ),
            ("<details open><summary>More</summary>shown</details>", "Moreshown"),
            (
                "<style>.z span{display:none}</style><div class=z><span>salad</span> pitch</div><span>shown</span>",
                "pitch\n\nshown",
            ),
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
            // What a child sets back is seen: a colour, a size, the visibility.
            (
                "<div style=\"color:#fff\">salad<span style=\"color:#000\"> shown</span></div>",
                "shown",
            ),
            (
                "<div style=\"font-size:0px\"><div style=\"font-size:13px\">shown</div></div>",
                "shown",
            ),
            (
                "<div style=\"visibility:hidden\">x<span style=\"visibility:visible\">shown</span></div>",
                "shown",
            ),
            (
                "<div style=\"font-size:80px\"><span style=\"font-size:0.2em\">shown</span></div>",
                "shown",
            ),
            // Dark themes: white text on a background set by a rule or an attribute is read.
            (
                "<style>body{background:#111}.t{color:#fff}</style><body><p class=\"t\">shown</p></body>",
                "shown",
            ),
            (
                "<style>.t{color:#ffffff}</style><table bgcolor=\"#000\"><tr><td class=\"t\">shown</td></tr></table>",
                "shown",
            ),
            (
                "<style>body{background:#000}</style><body><p style=\"color:#000\">salad</p>Offer</body>",
                "Offer",
            ),
            // A `<style>` inside a comment or a title is not applied.
            (
                "<!-- <style>.p{display:none}</style> --><p class=\"p\">shown</p>",
                "shown",
            ),
            (
                "<title><style>.p{display:none}</style></title><p class=\"p\">shown</p>",
                "shown",
            ),
            ("<style>i{display:none}</style><p>a<i> salad</i> b</p>", "a b"),
            ("<span style=\"color:transparent\">salad</span>Offer", "Offer"),
            ("<span style=\"opacity:0%\">salad</span>Offer", "Offer"),
            // White text on a gradient or an image: read (nobody can say it is hidden).
            (
                "<style>.hero{background:linear-gradient(#000,#333);color:#fff}</style><p class=\"hero\">shown</p>",
                "shown",
            ),
            (
                "<div style=\"background-image:url(x.png)\"><span style=\"color:#fff\">shown</span></div>",
                "shown",
            ),
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
