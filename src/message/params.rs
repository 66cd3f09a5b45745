//! Content-Type / Content-Disposition values read the strict way: `type/subtype` and its
//! parameters, and *every* value a reader could take for a parameter: the plain one, the RFC 2231
//! extended one (`name*=utf-8''...`) and the joined continuations (`name*0*=`, `name*1=`...).
//!
//! Why our own and not mail-parser's `ContentType`: mail-parser keeps one reading per parameter,
//! while the letter-bomb check must judge a file name under each reading a mail client might
//! take (`filename=a.pdf` next to `filename*=a.exe`), and must find names in header lines that
//! no MIME walk reaches (broken structure). Linear in its input; never panics.

use super::decode::{decode_charset, hex_pair};

/// RFC 2231 continuations beyond this are ignored (a name is not that long).
const MAX_SECTIONS: usize = 64;

/// `type/subtype` (lowercase) and its parameters `(name lowercase, value)`.
pub fn parse_field(value: &str) -> (String, Vec<(String, String)>) {
    let mut pieces = split_params(value).into_iter();
    let kind = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = pieces
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let value = value.trim();
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => unescape(inner),
                None => value.to_string(),
            };
            Some((name.trim().to_ascii_lowercase(), value))
        })
        .collect();
    (kind, params)
}

/// Splits at `;` outside quotes.
fn split_params(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut in_quote = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && in_quote {
            escaped = true;
        } else if c == '"' {
            in_quote = !in_quote;
        } else if c == ';' && !in_quote {
            out.push(String::new());
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn unescape(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut escaped = false;
    for c in quoted.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// Every value a reader could take for parameter `key`: the plain one, the RFC 2231 extended
/// one (`key*=utf-8''...`) and the joined continuations (`key*0*=`, `key*1=`...).
pub fn param_values(params: &[(String, String)], key: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut sections: Vec<(usize, bool, &str)> = Vec::new();
    for (name, value) in params {
        if name == key {
            values.push(value.clone());
        } else if let Some(rest) = name.strip_prefix(key).and_then(|r| r.strip_prefix('*')) {
            if rest.is_empty() {
                values.push(extended_value(value, true));
            } else {
                let (index, encoded) = match rest.strip_suffix('*') {
                    Some(index) => (index, true),
                    None => (rest, false),
                };
                if let Ok(index) = index.parse::<usize>() {
                    if index < MAX_SECTIONS {
                        sections.push((index, encoded, value));
                    }
                }
            }
        }
    }
    if !sections.is_empty() {
        sections.sort_by_key(|s| s.0);
        let first_encoded = sections.first().is_some_and(|s| s.0 == 0 && s.1);
        let mut joined_bytes = String::new();
        for (i, (_, encoded, value)) in sections.iter().enumerate() {
            // Only the first encoded section carries `charset'lang'`.
            let text = if *encoded {
                extended_raw(value, i == 0 && first_encoded)
            } else {
                value.to_string()
            };
            joined_bytes.push_str(&text);
        }
        let charset = if first_encoded {
            sections[0].2.split('\'').next().unwrap_or("")
        } else {
            "us-ascii"
        };
        let bytes: Vec<u8> = joined_bytes
            .chars()
            .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
            .collect();
        values.push(decode_charset(charset, &bytes));
    }
    values
}

/// `charset'lang'pct-encoded` → text.
fn extended_value(value: &str, with_charset: bool) -> String {
    let charset = if with_charset {
        value.split('\'').next().unwrap_or("")
    } else {
        "us-ascii"
    };
    let raw = extended_raw(value, with_charset);
    let bytes: Vec<u8> = raw
        .chars()
        .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
        .collect();
    decode_charset(charset, &bytes)
}

/// Percent-decodes (after dropping `charset'lang'`), one char per byte.
fn extended_raw(value: &str, with_charset: bool) -> String {
    let data = if with_charset {
        value.splitn(3, '\'').nth(2).unwrap_or(value)
    } else {
        value
    };
    let bytes = data.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(byte) = hex_pair(bytes[i + 1], bytes[i + 2]) {
                out.push(char::from(byte));
                i += 3;
                continue;
            }
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
    out
}

/// The file names a part's headers give it (Content-Disposition `filename`, Content-Type `name`).
pub fn file_names(kind: &str, value: &str) -> Vec<String> {
    let (_, params) = parse_field(value);
    let key = if kind == "content-disposition" {
        "filename"
    } else {
        "name"
    };
    let mut names = param_values(&params, key);
    // Some readers take either parameter from either field.
    names.extend(param_values(&params, if key == "name" { "filename" } else { "name" }));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2231_parameters_are_joined_and_decoded() {
        let (_, params) =
            parse_field("attachment; filename*0*=utf-8''in%76oice; filename*1=\".pdf\"; filename*2*=%2Eexe");
        assert_eq!(param_values(&params, "filename"), vec!["invoice.pdf.exe".to_string()]);
        let (_, params) = parse_field("attachment; filename*=UTF-8'en'r%C3%A9sum%C3%A9.scr");
        assert_eq!(param_values(&params, "filename"), vec!["résumé.scr".to_string()]);
        let (_, params) = parse_field("attachment; filename=\"a;b\\\".exe\"");
        assert_eq!(param_values(&params, "filename"), vec!["a;b\".exe".to_string()]);
    }
}
