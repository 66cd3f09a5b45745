//! The little CSS the fingerprint needs to tell hidden text from text a reader sees: the
//! properties that hide an element's text ([`Props`], read from inline styles and rules), and the
//! document's own `<style>` rules for a tag, a class or an id, or one naming ancestors
//! (`.a span`; [`StyleSheet`]). What a mail client applies, roughly: no cascade beyond "tag, then
//! class, then id, then rules with ancestors, then inline" and inheritance of
//! the font size and background; unconditional `@media` / `@supports` blocks apply, conditional
//! ones (a width, print) do not, so a mobile-only rule never hides what a desktop client shows.
//! Where the model is rougher than a browser it can take shown text for hidden: a child
//! combinator read as a descendant one, a rule with ancestors winning over an `id` rule.
//!
//! Used by [`super::visible`]. Linear in its input (rules with ancestors are bounded in number
//! and size, an element's classes are read once); never fails.

use std::collections::{HashMap, HashSet};

/// A colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Colour distance (largest difference of one channel) under which text is taken to be the
/// background's colour.
const SAME_COLOUR: u8 = 24;

impl Rgb {
    /// The background a colour is compared with when no element sets one: a mail client's page.
    pub const PAGE: Rgb = Rgb(255, 255, 255);

    pub fn near(self, other: Rgb) -> bool {
        self.0.abs_diff(other.0) <= SAME_COLOUR
            && self.1.abs_diff(other.1) <= SAME_COLOUR
            && self.2.abs_diff(other.2) <= SAME_COLOUR
    }
}

/// A text colour: a colour, or none at all (`transparent`, an alpha of 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    Colour(Rgb),
    Invisible,
}

/// A font size as declared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FontSize {
    Px(f64),
    /// Of the parent's (`em`, `%`).
    Parent(f64),
    /// Of the root's, 16 px (`rem`).
    Root(f64),
}

/// Normal text size of a mail client, in px.
pub const ROOT_FONT_PX: f64 = 16.0;
/// Text under this size (px) is not read.
const MIN_READABLE_PX: f64 = 4.0;
/// An element moved this far (px) off the page is not seen.
const OFF_PAGE_PX: f64 = -500.0;

/// The properties of one element that can hide its text; `None`: not declared.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Props {
    display_none: Option<bool>,
    visibility_hidden: Option<bool>,
    opacity: Option<f64>,
    mso_hide: Option<bool>,
    font_size: Option<FontSize>,
    colour: Option<Paint>,
    /// `Some(None)`: a background this cannot read (a gradient, an image, a variable).
    background: Option<Option<Rgb>>,
    overflow_hidden: Option<bool>,
    height_px: Option<f64>,
    max_height_px: Option<f64>,
    width_px: Option<f64>,
    positioned: Option<bool>,
    left_px: Option<f64>,
    top_px: Option<f64>,
    text_indent_px: Option<f64>,
    margin_px: Option<f64>,
    scaled_to_nothing: Option<bool>,
    clipped_to_nothing: Option<bool>,
}

impl Props {
    /// The properties a declaration block (`color: #fff; display: none`) sets; comments removed
    /// first. The last declaration of a property wins, as in CSS.
    pub fn parse(block: &str) -> Props {
        let block = without_comments(block);
        let mut p = Props::default();
        for decl in block.split(';') {
            let Some((name, value)) = decl.split_once(':') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().to_ascii_lowercase();
            let value = value.trim_end_matches("!important").trim();
            match name.as_str() {
                "display" => p.display_none = Some(value == "none"),
                "visibility" => p.visibility_hidden = Some(value == "hidden" || value == "collapse"),
                "opacity" => {
                    p.opacity = match value.strip_suffix('%') {
                        Some(pct) => pct.trim().parse::<f64>().ok().map(|o| o / 100.0),
                        None => value.parse().ok(),
                    }
                }
                "mso-hide" => p.mso_hide = Some(value == "all"),
                "font-size" => p.font_size = font_size(value),
                "font" => {
                    if let Some(size) = value.split_whitespace().find_map(font_size) {
                        p.font_size = Some(size);
                    }
                }
                "color" => p.colour = paint(value),
                "background-color" => p.background = Some(colour_of(value)),
                "background" => p.background = Some(value.split_whitespace().find_map(colour_of)),
                "background-image" if value != "none" => p.background = Some(None),
                "overflow" | "overflow-y" | "overflow-x" => {
                    p.overflow_hidden = Some(value == "hidden" || value == "clip")
                }
                "height" => p.height_px = absolute_px(value),
                "max-height" => p.max_height_px = absolute_px(value),
                "width" | "max-width" => p.width_px = absolute_px(value),
                "position" => p.positioned = Some(value == "absolute" || value == "fixed"),
                "left" => p.left_px = absolute_px(value),
                "top" => p.top_px = absolute_px(value),
                "text-indent" => p.text_indent_px = absolute_px(value),
                "margin-left" | "margin-top" => p.margin_px = absolute_px(value),
                "clip-path" => {
                    p.clipped_to_nothing = Some(
                        value.starts_with("inset(50%")
                            || value.replace(' ', "").starts_with("circle(0")
                            || value.replace(' ', "").starts_with("polygon(00"),
                    )
                }
                "clip" => {
                    let rect: String = value.chars().filter(|c| !c.is_whitespace() && *c != ',').collect();
                    p.clipped_to_nothing =
                        Some(rect == "rect(0000)" || rect == "rect(0px0px0px0px)" || rect == "rect(1px1px1px1px)");
                }
                "transform" => {
                    p.scaled_to_nothing = Some(
                        value.contains("scale(0)")
                            || value.contains("scale(0,")
                            || value.contains("scalex(0)")
                            || value.contains("scaley(0)"),
                    )
                }
                _ => {}
            }
        }
        p
    }

    /// These properties with `over`'s declared ones on top.
    pub fn merge(&mut self, over: &Props) {
        macro_rules! take {
            ($($field:ident),*) => { $(if over.$field.is_some() { self.$field = over.$field; })* };
        }
        take!(
            display_none,
            visibility_hidden,
            opacity,
            mso_hide,
            font_size,
            colour,
            background,
            overflow_hidden,
            height_px,
            max_height_px,
            width_px,
            positioned,
            left_px,
            top_px,
            text_indent_px,
            margin_px,
            scaled_to_nothing,
            clipped_to_nothing
        );
    }

    /// The background this element sets, if any: `Some(None)` when it is one this cannot read
    /// (a gradient, an image, a variable), against which no colour is judged.
    pub fn background(&self) -> Option<Option<Rgb>> {
        self.background
    }

    /// Sets the background when no style did (`bgcolor`).
    pub fn default_background(&mut self, colour: Option<Rgb>) {
        if self.background.is_none() {
            self.background = colour.map(Some);
        }
    }

    /// The text colour this element sets, if any (it is inherited).
    pub fn colour(&self) -> Option<Paint> {
        self.colour
    }

    /// Sets the text colour when no style did (`<font color>`).
    pub fn default_colour(&mut self, colour: Option<Rgb>) {
        self.colour = self.colour.or(colour.map(Paint::Colour));
    }

    /// `visibility` as set here (inherited, and a child may set it back to visible).
    pub fn visibility_hidden(&self) -> Option<bool> {
        self.visibility_hidden
    }

    /// The element's font size in px, from its parent's (inherited).
    pub fn font_px(&self, parent_px: f64) -> f64 {
        match self.font_size {
            None => parent_px,
            Some(FontSize::Px(px)) => px,
            Some(FontSize::Parent(f)) => parent_px * f,
            Some(FontSize::Root(f)) => ROOT_FONT_PX * f,
        }
    }

    /// Whether the element and everything in it is out of sight, whatever its children set:
    /// not displayed, transparent, scaled to nothing, clipped to nothing or moved off the page.
    pub fn hides_box(&self) -> bool {
        let yes = |v: Option<bool>| v == Some(true);
        let tiny = |v: Option<f64>| v.is_some_and(|px| px <= 1.0);
        let off_page = |v: Option<f64>| v.is_some_and(|px| px <= OFF_PAGE_PX);
        yes(self.display_none)
            || yes(self.mso_hide)
            || yes(self.scaled_to_nothing)
            || self.opacity.is_some_and(|o| o < 0.1)
            || (yes(self.overflow_hidden) && (tiny(self.height_px) || tiny(self.max_height_px) || tiny(self.width_px)))
            || (yes(self.positioned) && (off_page(self.left_px) || off_page(self.top_px)))
            || off_page(self.text_indent_px)
            || off_page(self.margin_px)
            || yes(self.clipped_to_nothing)
    }
}

/// Whether text is out of sight by its own look: too small to read, or in no colour or the
/// background's (`None`: a background this cannot read, against which no colour is judged).
pub fn text_unreadable(font_px: f64, colour: Option<Paint>, background: Option<Rgb>) -> bool {
    font_px < MIN_READABLE_PX
        || match colour {
            Some(Paint::Invisible) => true,
            Some(Paint::Colour(c)) => background.is_some_and(|b| c.near(b)),
            None => false,
        }
}

/// The document's `<style>` rules by the simple selector they name (`p`, `.a`, `#b`, `p.a`),
/// each rule's properties merged in the order written, and up to [`MAX_NESTED`] rules whose
/// selector names ancestors (`.a span`, `div > .b`, `#x .y p`: see [`Nested`]). A rule with any
/// other selector (attributes, pseudo-classes, siblings) is left out.
#[derive(Default)]
pub struct StyleSheet {
    by_tag: HashMap<String, Props>,
    by_class: HashMap<String, Props>,
    by_id: HashMap<String, Props>,
    nested: Vec<Nested>,
}

/// Rules with ancestors kept; the rest are left out (each costs every element a check).
const MAX_NESTED: usize = 32;
/// Ancestor compounds a nested rule may name.
const MAX_ANCESTORS: usize = 4;
/// Classes a compound of a nested rule may name, and the longest such selector (bytes): longer
/// ones are left out, so matching stays linear in the document.
const MAX_COMPOUND_CLASSES: usize = 4;
const MAX_NESTED_SELECTOR: usize = 256;

/// How far down each of a sheet's nested rules' chains of ancestors an element and its
/// ancestors go: bit `rule * MAX_ANCESTORS + position` is set when the element or an ancestor
/// matches the rule's compound at `position` inside elements that matched the ones before it, in
/// order. An element's is its parent's with its own matches added, so a rule's ancestors are
/// found in one test, however deep the document.
pub type Ancestry = u128;

/// One compound selector: a tag (or `*`, or none) with classes and an id (`p.a.b`, `#x`).
#[derive(Debug, Default, PartialEq)]
struct Compound {
    tag: Option<String>,
    classes: Vec<String>,
    id: Option<String>,
}

impl Compound {
    fn parse(text: &str) -> Option<Compound> {
        let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let mut compound = Compound::default();
        let first = text.find(['.', '#']).unwrap_or(text.len());
        match &text[..first] {
            "" | "*" => {}
            tag if word(tag) => compound.tag = Some(tag.to_string()),
            _ => return None,
        }
        let mut rest = &text[first..];
        while let Some(kind) = rest.chars().next() {
            let end = rest[1..].find(['.', '#']).map_or(rest.len(), |e| e + 1);
            let name = &rest[1..end];
            if !word(name) {
                return None;
            }
            if kind == '.' {
                if compound.classes.len() == MAX_COMPOUND_CLASSES {
                    return None;
                }
                compound.classes.push(name.to_string());
            } else {
                compound.id = Some(name.to_string());
            }
            rest = &rest[end..];
        }
        Some(compound)
    }

    /// Whether an element (`tag`, its classes, its `id`) matches.
    fn matches(&self, tag: &str, classes: &HashSet<&str>, id: &str) -> bool {
        self.tag.as_deref().is_none_or(|t| t == tag)
            && self.id.as_deref().is_none_or(|i| i == id.trim())
            && self.classes.iter().all(|c| classes.contains(c.as_str()))
    }
}

/// A rule whose selector names ancestors: it applies to an element matching `subject` inside
/// elements matching `ancestors`, outermost first. A child combinator (`>`) is read as a
/// descendant one, and the rule applies after the simple ones whatever its specificity: it may
/// apply a little more widely than in a browser. Only rules that set a property that can hide
/// text are kept.
#[derive(Debug)]
struct Nested {
    ancestors: Vec<Compound>,
    subject: Compound,
    props: Props,
}

impl Nested {
    fn parse(selector: &str, props: &Props) -> Option<Nested> {
        if selector.len() > MAX_NESTED_SELECTOR
            || selector.contains(['+', '~'])
            || selector.split_whitespace().collect::<String>().contains(">>")
            || *props == Props::default()
        {
            return None;
        }
        let mut compounds = selector
            .split(|c: char| c.is_whitespace() || c == '>')
            .filter(|part| !part.is_empty())
            .map(Compound::parse)
            .collect::<Option<Vec<_>>>()?;
        let subject = compounds.pop()?;
        if compounds.is_empty() || compounds.len() > MAX_ANCESTORS {
            return None;
        }
        Some(Nested {
            ancestors: compounds,
            subject,
            props: props.clone(),
        })
    }

    /// The bit of `Ancestry` an element's parent has when the element is inside the whole chain
    /// of ancestors of this rule (the `index`-th).
    fn inside_all(&self, index: usize) -> Ancestry {
        bit(index, self.ancestors.len() - 1)
    }
}

fn bit(rule: usize, position: usize) -> Ancestry {
    1 << (rule * MAX_ANCESTORS + position)
}

/// `@`-rule blocks nested this deep are not read.
const MAX_NESTING: usize = 4;

impl StyleSheet {
    /// The rules of `css` (the text of the document's `<style>` elements).
    pub fn parse(css: &str) -> StyleSheet {
        let mut sheet = StyleSheet::default();
        let css = without_comments(&css.to_ascii_lowercase());
        sheet.add_rules(&css, 0);
        sheet
    }

    pub fn is_empty(&self) -> bool {
        self.by_tag.is_empty() && self.by_class.is_empty() && self.by_id.is_empty() && self.nested.is_empty()
    }

    fn add_rules(&mut self, css: &str, depth: usize) {
        let mut rest = css;
        while let Some(open) = rest.find('{') {
            let prelude = rest[..open].trim();
            let body_start = open + 1;
            let Some(close) = matching_brace(&rest[body_start..]) else {
                return;
            };
            let body = &rest[body_start..body_start + close];
            rest = &rest[body_start + close + 1..];
            if let Some(at_rule) = prelude.strip_prefix('@') {
                if depth < MAX_NESTING && unconditional(at_rule) {
                    self.add_rules(body, depth + 1);
                }
                continue;
            }
            let props = Props::parse(body);
            for selector in prelude.split(',').map(str::trim) {
                if let Some((map, name)) = self.target(selector) {
                    map.entry(name).or_default().merge(&props);
                } else if self.nested.len() < MAX_NESTED {
                    self.nested.extend(Nested::parse(selector, &props));
                }
            }
        }
    }

    /// Where the rules of a simple `selector` go, and under which name.
    fn target(&mut self, selector: &str) -> Option<(&mut HashMap<String, Props>, String)> {
        let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        match selector.rfind(['.', '#']) {
            Some(at) => {
                let (tag, name) = (&selector[..at], &selector[at + 1..]);
                if !(tag.is_empty() || tag == "*" || word(tag)) || !word(name) {
                    return None;
                }
                let map = if selector.as_bytes()[at] == b'.' {
                    &mut self.by_class
                } else {
                    &mut self.by_id
                };
                Some((map, name.to_string()))
            }
            None if word(selector) => Some((&mut self.by_tag, selector.to_string())),
            None => None,
        }
    }

    /// The properties the rules give an element (`tag`, its `class` attribute, its `id`) whose
    /// parent's ancestry is `inherited` (0 at the root), and the element's own ancestry for its
    /// children. The simple rules come first, then the nested ones, each in the order written.
    pub fn element(&self, tag: &str, class: &str, id: &str, inherited: Ancestry) -> (Props, Ancestry) {
        let mut props = self.props_of(tag, class, id);
        if self.nested.is_empty() {
            return (props, inherited);
        }
        let classes: HashSet<&str> = class.split_whitespace().collect();
        let mut ancestry = inherited;
        for (index, rule) in self.nested.iter().enumerate() {
            if inherited & rule.inside_all(index) != 0 && rule.subject.matches(tag, &classes, id) {
                props.merge(&rule.props);
            }
            for (position, ancestor) in rule.ancestors.iter().enumerate() {
                let after_the_ones_before = position == 0 || inherited & bit(index, position - 1) != 0;
                if after_the_ones_before && ancestor.matches(tag, &classes, id) {
                    ancestry |= bit(index, position);
                }
            }
        }
        (props, ancestry)
    }

    /// The properties the simple rules give an element.
    fn props_of(&self, tag: &str, class: &str, id: &str) -> Props {
        let mut props = Props::default();
        if let Some(p) = self.by_tag.get(tag) {
            props.merge(p);
        }
        for c in class.split_whitespace() {
            if let Some(p) = self.by_class.get(c) {
                props.merge(p);
            }
        }
        if let Some(p) = self.by_id.get(id.trim()) {
            props.merge(p);
        }
        props
    }
}

/// Whether an `@`-rule applies whatever the client: `@media screen`, `@media all`, `@supports`.
fn unconditional(at_rule: &str) -> bool {
    let at_rule = at_rule.trim();
    match at_rule.strip_prefix("media") {
        Some(query) => matches!(query.trim(), "" | "screen" | "all" | "only screen"),
        None => at_rule.starts_with("supports"),
    }
}

/// Where the `}` closing a block that starts at `text` is (nested blocks counted).
fn matching_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `css` without its `/* comments */`.
pub fn without_comments(css: &str) -> String {
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

/// A `font-size` value.
fn font_size(value: &str) -> Option<FontSize> {
    let (n, unit) = number_and_unit(value)?;
    Some(match unit {
        "" | "px" => FontSize::Px(n),
        "pt" => FontSize::Px(n * 4.0 / 3.0),
        "em" => FontSize::Parent(n),
        "%" => FontSize::Parent(n / 100.0),
        "rem" => FontSize::Root(n),
        "mm" => FontSize::Px(n * 3.78),
        "cm" => FontSize::Px(n * 37.8),
        "in" => FontSize::Px(n * 96.0),
        // Of a mail client's window, some 600 px wide.
        "vw" | "vh" | "vmin" | "vmax" => FontSize::Px(n * 6.0),
        _ => return None,
    })
}

/// A length in px when it is absolute (`px`, `pt`, or a bare 0); a relative one is not known.
fn absolute_px(value: &str) -> Option<f64> {
    match number_and_unit(value)? {
        (n, "" | "px") => Some(n),
        (n, "pt") => Some(n * 4.0 / 3.0),
        (0.0, _) => Some(0.0),
        _ => None,
    }
}

fn number_and_unit(value: &str) -> Option<(f64, &str)> {
    let v = value.trim();
    let at = v.find(|c: char| c.is_ascii_alphabetic() || c == '%').unwrap_or(v.len());
    let n: f64 = v[..at].trim().parse().ok()?;
    n.is_finite().then_some((n, &v[at..]))
}

/// A text colour (see [`Paint`]).
fn paint(value: &str) -> Option<Paint> {
    if value == "transparent" || alpha(value).is_some_and(|a| a < 0.1) {
        return Some(Paint::Invisible);
    }
    colour_of(value).map(Paint::Colour)
}

/// The alpha of `rgba(…)`, `hsla(…)`, `#rgba` or `#rrggbbaa`.
fn alpha(value: &str) -> Option<f64> {
    if let Some(hex) = value.strip_prefix('#') {
        return match hex.len() {
            4 => u8::from_str_radix(&hex[3..4], 16).ok().map(|a| f64::from(a) / 15.0),
            8 => u8::from_str_radix(&hex[6..8], 16).ok().map(|a| f64::from(a) / 255.0),
            _ => None,
        };
    }
    let args = value.split_once('(')?.1.trim_end_matches(')');
    let last = args.split([',', '/']).nth(3).or_else(|| args.split('/').nth(1))?.trim();
    match last.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => last.parse().ok(),
    }
}

/// `hsl(h, s%, l%)` (commas or spaces) as a colour.
fn hsl(args: &str) -> Option<Rgb> {
    let mut parts = args.split([',', ' ', '/']).filter(|p| !p.is_empty());
    let h: f64 = parts.next()?.trim_end_matches("deg").parse().ok()?;
    let mut pct = || {
        parts
            .next()?
            .trim_end_matches('%')
            .parse::<f64>()
            .ok()
            .map(|v| (v / 100.0).clamp(0.0, 1.0))
    };
    let (s, l) = (pct()?, pct()?);
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h.rem_euclid(360.0) / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let channel = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Some(Rgb(channel(r), channel(g), channel(b)))
}

/// A CSS or HTML colour (`#fff`, `#FFFFFF`, `white`, `rgb(255, 255, 255)`, `hsl(0, 0%, 100%)`),
/// if it is one this knows.
pub fn colour_of(value: &str) -> Option<Rgb> {
    let v = value.trim().to_ascii_lowercase();
    let v = v.trim_end_matches("!important").trim();
    if let Some(args) = v.strip_prefix("hsl(").or_else(|| v.strip_prefix("hsla(")) {
        return hsl(args.trim_end_matches(')'));
    }
    if let Some(args) = v.strip_prefix("rgb(").or_else(|| v.strip_prefix("rgba(")) {
        let mut channels = args
            .trim_end_matches(')')
            .split([',', ' ', '/'])
            .filter(|c| !c.is_empty())
            .map(|c| c.trim().parse::<f64>().ok());
        let mut next = || channels.next().flatten().map(|c| c.clamp(0.0, 255.0) as u8);
        return Some(Rgb(next()?, next()?, next()?));
    }
    let v = v.split_whitespace().next().unwrap_or("");
    let hex = match v {
        "white" => "ffffff",
        "black" => "000000",
        "red" => "ff0000",
        "snow" | "ivory" | "ghostwhite" | "whitesmoke" | "floralwhite" | "mintcream" | "azure" | "seashell"
        | "linen" | "oldlace" | "honeydew" | "aliceblue" | "lavenderblush" | "cornsilk" | "beige" => "f8f8f4",
        _ => v.strip_prefix('#')?,
    };
    let digit = |i: usize, len: usize| u8::from_str_radix(hex.get(i..i + len)?, 16).ok();
    match hex.len() {
        3 | 4 => Some(Rgb(digit(0, 1)? * 17, digit(1, 1)? * 17, digit(2, 1)? * 17)),
        6 | 8 => Some(Rgb(digit(0, 2)?, digit(2, 2)?, digit(4, 2)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_that_hide() {
        let hidden = |style: &str| {
            let p = Props::parse(style);
            p.hides_box()
                || p.visibility_hidden() == Some(true)
                || text_unreadable(p.font_px(ROOT_FONT_PX), p.colour(), Some(Rgb::PAGE))
        };
        for style in [
            "display:none",
            "display:/**/none",
            "visibility:hidden",
            "opacity:0",
            "font-size:2px",
            "font-size:0",
            "color:#fff",
            "color:#fdfdfd",
            "color:transparent",
            "color:rgba(0,0,0,0)",
            "color:#0000",
            "width:0;overflow:hidden",
            "max-height:0;overflow:hidden",
            "position:absolute;left:-9999px",
            "text-indent:-9999px",
            "transform:scale(0)",
            "color:hsl(0,0%,100%)",
            "color:hsl(0 0% 99%)",
            "color:seashell",
            "margin-left:-9999px",
            "clip-path:inset(50%)",
            "position:absolute;clip:rect(0 0 0 0)",
            "font-size:.01vw",
        ] {
            assert!(hidden(style), "{style}");
        }
        for style in [
            "",
            "color:#333",
            "color:hsl(210,50%,30%)",
            "font-size:1em",
            "max-height:0",
            "font-size:12px",
            "font-size:3vw",
            "position:absolute;left:10px",
            "margin-left:-10px",
            "clip-path:circle(40%)",
        ] {
            assert!(!hidden(style), "{style}");
        }
        // A relative size is the parent's.
        assert_eq!(Props::parse("font-size:0.2em").font_px(80.0), 16.0);
        assert!(Props::parse("font-size:0.1em").font_px(ROOT_FONT_PX) < MIN_READABLE_PX);
        // White on black is read.
        assert!(!text_unreadable(
            ROOT_FONT_PX,
            Props::parse("color:#fff").colour(),
            Some(Rgb(0, 0, 0))
        ));
        // On a gradient nobody can say.
        assert!(!text_unreadable(
            ROOT_FONT_PX,
            Props::parse("color:#fff").colour(),
            None
        ));
    }

    #[test]
    fn style_rules_by_tag_class_and_id() {
        let sheet = StyleSheet::parse(
            ".h{display:none} #s { font-size: 0 } span.w, .w2 {color:WHITE} a > b {display:none} \
             @media (max-width:600px) { .m{display:none} } @media screen { .sc{display:none} }",
        );
        let hidden = |tag: &str, class: &str, id: &str| {
            let p = sheet.props_of(tag, class, id);
            p.hides_box() || text_unreadable(p.font_px(ROOT_FONT_PX), p.colour(), Some(Rgb::PAGE))
        };
        assert!(hidden("span", "x h", ""));
        assert!(hidden("span", "", "s"));
        assert!(hidden("span", "w", "") && hidden("p", "w2", ""));
        assert!(hidden("div", "sc", ""));
        assert!(!hidden("div", "m", ""), "a conditional @media block does not apply");
        assert!(
            !hidden("b", "", ""),
            "a descendant selector applies only inside its ancestor"
        );
    }

    #[test]
    fn rules_with_ancestors_apply_inside_them() {
        let sheet = StyleSheet::parse(
            ".x span { display:none } div#w > p.s { color:#fff } .a .b i { font-size:0 } \
             a[href] b, .q:not(.r) u { display:none }",
        );
        let hidden = |path: &[(&str, &str, &str)]| {
            let mut ancestry = 0;
            let mut props = Props::default();
            for (tag, class, id) in path {
                (props, ancestry) = sheet.element(tag, class, id, ancestry);
            }
            props.hides_box() || text_unreadable(props.font_px(ROOT_FONT_PX), props.colour(), Some(Rgb::PAGE))
        };
        assert!(hidden(&[("div", "x", ""), ("p", "", ""), ("span", "", "")]));
        assert!(!hidden(&[("div", "y", ""), ("span", "", "")]));
        assert!(
            !hidden(&[("span", "x", "")]),
            "the subject needs the ancestor, not to be it"
        );
        assert!(hidden(&[("div", "", "w"), ("p", "s t", "")]));
        assert!(!hidden(&[("div", "", "v"), ("p", "s", "")]));
        assert!(hidden(&[("div", "a", ""), ("div", "b", ""), ("i", "", "")]));
        assert!(!hidden(&[("div", "b", ""), ("i", "", "")]), "every ancestor is needed");
        assert!(
            !hidden(&[("div", "b", ""), ("div", "a", ""), ("i", "", "")]),
            "in their order"
        );
        assert!(
            !hidden(&[("div", "a b", ""), ("i", "", "")]),
            "one element is one ancestor"
        );
        assert!(
            !hidden(&[("a", "", ""), ("b", "", "")]),
            "attribute selectors are left out"
        );
        assert!(
            !hidden(&[("div", "q", ""), ("u", "", "")]),
            "pseudo-classes are left out"
        );
        let siblings = StyleSheet::parse("p + span, li ~ i { display:none }");
        assert!(siblings.is_empty(), "sibling combinators are left out");
        let many: String = (0..100).map(|n| format!(".c{n} b {{display:none}} ")).collect();
        assert_eq!(StyleSheet::parse(&many).nested.len(), MAX_NESTED);
        // Rules that hide nothing take no place; over-long compounds and selectors are left out.
        let padded =
            StyleSheet::parse(".ExternalClass p { line-height:100% } #t td { padding:0 } .x b { display:none }");
        assert_eq!(padded.nested.len(), 1);
        let long = format!("{} b, .a.b.c.d.e b, div >> p {{ display:none }}", ".c".repeat(200));
        assert!(StyleSheet::parse(&long).is_empty());
    }
}
