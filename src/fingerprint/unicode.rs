//! Unicode folding for the fingerprint: the text a spammer disguises with invisible or
//! look-alike characters is turned back into the text a reader sees.
//!
//! Per character, outside ASCII: compatibility decomposition (NFKD: full-width letters, ligatures,
//! styled mathematical letters and odd spaces become their plain forms), then
//! - default-ignorable code points are dropped (zero-width space, zero-width (non-)joiner, soft
//!   hyphen, word joiner, BOM, variation selectors, Hangul fillers: UTS 39's skeleton removes
//!   them, and so do we), and so are combining marks (accents: `café` and `cafe` read alike);
//! - a character whose UTS 39 confusable prototype is ASCII letters becomes those letters
//!   (Cyrillic `а`, Greek `ο`, Cherokee `Ꭺ` inside Latin words), except that a capital whose
//!   prototype is `l` (Greek `Ι`, Cyrillic `І`, Lisu `ꓲ`) becomes `I` unless it follows a
//!   lower-case letter, as a reader takes it;
//! - small capitals, a few IPA letters, parenthesised, squared and negative circled letters,
//!   which neither table folds, become their letters (`styled_letter`).
//!
//! The tables are `unicode-normalization`'s and `unicode-security`'s (UTS 39 `skeleton`). ASCII
//! input is returned as it is (the common case costs one scan); CJK ideographs, kana and Hangul
//! syllables are kept without lookups. Only ASCII *letters* are taken from a prototype: UTS 39 maps
//! `0` to `O` and `1` to `l`, which would turn numbers into words.
//!
//! It must never panic and stays linear in the input.

use std::borrow::Cow;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The folded text (see the module docs).
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() || is_plain_cjk(c) {
            out.push(c);
            continue;
        }
        if let Some(letter) = styled_letter(c) {
            out.push(letter);
            continue;
        }
        for d in std::iter::once(c).nfkd() {
            if d.is_ascii() {
                out.push(d);
            } else if !is_combining_mark(d) {
                push_prototype(&mut out, d);
            }
        }
    }
    Cow::Owned(out)
}

/// A letter in a style UTS 39 and NFKD leave alone but a reader reads as a Latin letter: small
/// capitals and their IPA cousins (`ᴛ`, `ʀ`, `ɴ`), a few IPA look-alikes (`ɾ`, `ɑ`, `ϲ`),
/// parenthesised letters (`⒜`, which NFKD spells `(a)`) and squared or negative circled capitals
/// (`🅰`, `🅐`, `🄰`).
fn styled_letter(c: char) -> Option<char> {
    let offset = |base: u32| char::from_u32(u32::from(b'a') + (c as u32 - base));
    match c {
        '\u{249c}'..='\u{24b5}' => offset(0x249c),
        '\u{1f130}'..='\u{1f149}' => offset(0x1f130),
        '\u{1f150}'..='\u{1f169}' => offset(0x1f150),
        '\u{1f170}'..='\u{1f189}' => offset(0x1f170),
        _ => Some(match c {
            'ᴀ' | 'ɑ' => 'a',
            'ʙ' | 'ᴃ' => 'b',
            'ᴄ' | 'ϲ' => 'c',
            'ᴅ' => 'd',
            'ᴇ' => 'e',
            'ꜰ' => 'f',
            'ɢ' | 'ɡ' => 'g',
            'ʜ' => 'h',
            'ɪ' => 'i',
            'ᴊ' => 'j',
            'ᴋ' => 'k',
            'ʟ' | 'ᴌ' => 'l',
            'ᴍ' => 'm',
            'ɴ' | 'ᴎ' => 'n',
            'ᴏ' => 'o',
            'ᴘ' => 'p',
            'ʀ' | 'ᴙ' | 'ɾ' | 'ɿ' | 'ɹ' => 'r',
            'ꜱ' => 's',
            'ᴛ' => 't',
            'ᴜ' => 'u',
            'ᴠ' => 'v',
            'ᴡ' => 'w',
            'ʏ' => 'y',
            'ᴢ' => 'z',
            _ => return None,
        }),
    }
}

/// Ideographs, kana and Hangul syllables: no prototype is ASCII, nothing to decompose that matters.
fn is_plain_cjk(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{3096}' | '\u{30a1}'..='\u{30fa}' | '\u{4e00}'..='\u{9fff}' | '\u{ac00}'..='\u{d7a3}')
}

/// Appends `c`'s UTS 39 prototype when it is ASCII letters, nothing when `c` is default-ignorable
/// (its skeleton is empty), and `c` itself otherwise.
fn push_prototype(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    let mut skeleton = unicode_security::skeleton(c.encode_utf8(&mut buf)).peekable();
    if skeleton.peek().is_none() {
        return;
    }
    let mut letters = [' '; 4];
    let mut n = 0;
    for p in skeleton {
        if !p.is_ascii_alphabetic() || n == letters.len() {
            out.push(c);
            return;
        }
        letters[n] = p;
        n += 1;
    }
    // UTS 39 reads every upright stroke as `l`; a capital one (Greek `Ι`, Cyrillic `І` and `Ӏ`,
    // Lisu `ꓲ` among Lisu's capital look-alikes) reads as `I` except after a lower-case letter
    // (`WΙN`, `Ιnternet`, but `waІІet`).
    let capital = c.is_uppercase() || ('\u{a4d0}'..='\u{a4ff}').contains(&c);
    if n == 1 && letters[0] == 'l' && capital && !out.chars().next_back().is_some_and(|p| p.is_lowercase()) {
        out.push('I');
        return;
    }
    out.extend(&letters[..n]);
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folding_table() {
        let cases = [
            ("plain ascii 123", "plain ascii 123"),
            ("fr\u{200b}ee mo\u{200c}ney to\u{200d}day", "free money today"),
            ("of\u{00ad}fer to\u{2060}day \u{feff}now", "offer today now"),
            ("\u{0440}\u{0430}y\u{0440}\u{0430}l", "paypal"), // Cyrillic р, а
            ("\u{ff26}\u{ff32}\u{ff25}\u{ff25}", "FREE"),     // full-width
            ("caf\u{e9} cafe\u{301}", "cafe cafe"),           // precomposed and combining
            ("\u{1d425}\u{1d428}\u{1d42c}\u{1d42d}", "lost"), // mathematical bold
            ("\u{ff10}\u{ff11} 01", "01 01"),                 // digits stay digits
            ("日本語 テキスト 한국어", "日本語 テキスト 한국어"),
            ("a\u{fe0f}b\u{3164}c", "abc"), // variation selector, Hangul filler
            ("привет", "пpивeт"),           // Cyrillic: look-alikes folded, the rest kept
            ("ϲoffee ɾoaᴛed ᴍoᴎday", "coffee roated monday"), // small capitals, IPA
            ("\u{249c}\u{249d} \u{1f170}\u{1f171} \u{1f150} \u{1f130}", "ab ab a a"), // parenthesised, squared
            ("W\u{0399}N W\u{0406}N W\u{04c0}N W\u{a4f2}N", "WIN WIN WIN WIN"), // capital I look-alikes
            ("\u{0399}nternet wa\u{0406}\u{0406}et", "Internet wallet"), // after a lower-case letter: l
            ("\u{01c0}ast", "last"),        // a stroke that is not a capital stays `l`
        ];
        for (input, want) in cases {
            assert_eq!(fold(input), want, "{input:?}");
        }
    }
}
