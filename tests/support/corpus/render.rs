//! MIME rendering of the test corpus: one body (paragraphs, `[text](url)` links) as text/plain,
//! text/html, multipart/alternative or multipart/mixed with an attachment, in 7bit,
//! quoted-printable or base64.

use super::Rng;

#[derive(Clone, Copy, Debug)]
pub(super) enum Cte {
    SevenBit,
    QuotedPrintable,
    Base64,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Encoding {
    Plain(Cte),
    Html(Cte),
    Alternative(Cte),
    MixedWithAttachment(Cte),
}

/// Builds the message: headers, then the body paragraphs in the requested MIME shape.
pub(super) fn assemble(rng: &mut Rng, from: &str, to: &str, subject: &str, body: &[String], enc: Encoding) -> Vec<u8> {
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
            m.push_str(
                "Content-Type: application/pdf; name=\"document.pdf\"\r\n\
Content-Disposition: attachment; filename=\"document.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            );
            let pdf: Vec<u8> = (0..rng.range(300, 1500)).map(|_| rng.next_u64() as u8).collect();
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
            Some((text, url)) => h.push_str(&format!("<p><a class=\"btn\" href=\"{url}\">{text}</a></p>\n")),
            None => {
                let esc = p.replace('&', "&amp;").replace('<', "&lt;").replace('\n', "<br>\n");
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

pub(super) fn leaf(mime: &str, cte: Cte, text: &str) -> String {
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

pub(super) fn base64(data: &[u8]) -> String {
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

pub(super) fn wrap(s: &str, width: usize) -> String {
    s.as_bytes()
        .chunks(width)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}
