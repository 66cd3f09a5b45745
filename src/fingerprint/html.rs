//! HTML reduced to the text a reader sees, for the fingerprint: tags stripped, `<script>`,
//! `<style>`, `<head>` and comments dropped, block elements turned into line breaks (so a greeting
//! stays on its own line), common entities decoded, and each link's host kept as a word (the
//! destination is part of what a campaign says). Linear in the input; never fails. It is not a
//! sanitiser and its output must never be rendered.

/// Elements whose whole content is invisible.
const HIDDEN: [&str; 5] = ["script", "style", "head", "title", "noscript"];
/// Elements that break a line.
const BLOCK: [&str; 16] = [
    "br",
    "p",
    "div",
    "tr",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "ul",
    "ol",
    "blockquote",
    "hr",
];

/// The visible text of an HTML document or fragment.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while i < bytes.len() {
        let starts_tag = bytes[i] == b'<'
            && bytes
                .get(i + 1)
                .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'/' || c == b'!');
        if !starts_tag {
            i += 1;
            continue;
        }
        push_text(&mut out, &html[text_start..i]);
        if html[i..].starts_with("<!--") {
            i = html[i + 4..].find("-->").map_or(bytes.len(), |e| i + 4 + e + 3);
            text_start = i;
            continue;
        }
        let tag_end = html[i..].find('>').map_or(bytes.len(), |e| i + e + 1);
        let tag = html[i + 1..tag_end].trim_end_matches('>');
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        i = tag_end;
        if !closing && HIDDEN.contains(&name.as_str()) {
            i = skip_element(html, i, &name);
        } else if BLOCK.contains(&name.as_str()) || name == "td" {
            out.push('\n');
        } else if name == "a" && !closing {
            if let Some(host) = href_host(tag) {
                out.push(' ');
                out.push_str(&host);
                out.push(' ');
            }
        }
        text_start = i;
    }
    if text_start < bytes.len() {
        push_text(&mut out, &html[text_start..]);
    }
    out
}

/// Position after the matching `</name>`, case-insensitively, or the end.
fn skip_element(html: &str, from: usize, name: &str) -> usize {
    let hay = &html.as_bytes()[from..];
    let needle_len = name.len() + 2;
    let mut j = 0;
    while j + needle_len <= hay.len() {
        if hay[j] == b'<' && hay[j + 1] == b'/' && hay[j + 2..j + needle_len].eq_ignore_ascii_case(name.as_bytes()) {
            let rest = &html[from + j..];
            return from + j + rest.find('>').map_or(rest.len(), |e| e + 1);
        }
        j += 1;
    }
    html.len()
}

/// The host of an `<a href=…>` attribute, as a URL so the normaliser reduces it the same way as a
/// URL in plain text.
fn href_host(tag: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find("href")?;
    let rest = tag[at + 4..].trim_start().strip_prefix('=')?.trim_start();
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest
        .find(|c: char| c == '"' || c == '\'' || c.is_whitespace())
        .unwrap_or(rest.len());
    let url = &rest[..end];
    let l = url.to_ascii_lowercase();
    (l.starts_with("http://") || l.starts_with("https://")).then(|| url.to_string())
}

/// Appends text with entities decoded; whitespace is folded later by the normaliser.
fn push_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').filter(|&s| s <= 10);
        match semi.and_then(|s| entity(&after[..s]).map(|c| (c, s))) {
            Some((c, s)) => {
                out.push(c);
                rest = &after[s + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "rsquo" | "lsquo" => '\'',
        "ldquo" | "rdquo" => '"',
        "nbsp" | "ensp" | "emsp" | "thinsp" | "zwnj" | "zwj" => ' ',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "bull" | "middot" => '·',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn html_to_text_table() {
        let cases = [
            ("<p>Hi&nbsp;John,</p><p>Hello</p>", "\nHi John,\n\nHello\n"),
            ("a<script>var x='<p>';</script>b", "ab"),
            ("<STYLE>p{}</STYLE>x<!-- c -->y", "xy"),
            ("Tom &amp; Jerry &#169; &#x41; &bogus; &", "Tom & Jerry © A &bogus; &"),
            (
                "<a href=\"https://click.shop.com/t/abc\">Buy</a>",
                " https://click.shop.com/t/abc Buy",
            ),
            ("unterminated <b", "unterminated "),
            ("1 < 2 and 3 > 2", "1 < 2 and 3 > 2"),
            ("<head><title>t</title></head>body", "body"),
        ];
        for (html, want) in cases {
            assert_eq!(to_text(html), want, "{html}");
        }
    }
}
