//! Unsubscribe by mail: where the token is in a message sent to the unsubscribe address. The
//! gateway's mailto puts it in the subject (`?subject=TOKEN`); mail clients may prefix the
//! subject (`Re: `, `unsubscribe `). (Not in the address's `+` detail: a token is longer than
//! the 64 octets SMTP allows a local part.) Only the message's header is read (mail-parser),
//! never its body.

use mail_parser::MessageParser;

/// The first of the subject's words that `genuine` accepts.
pub fn mailto_token(raw: &[u8], genuine: impl Fn(&str) -> bool) -> Option<String> {
    let subject = MessageParser::new()
        .parse_headers(raw)
        .and_then(|message| message.subject().map(str::to_string))
        .unwrap_or_default();
    subject
        .split(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == ';' || c == '<' || c == '>')
        .find(|candidate| !candidate.is_empty() && genuine(candidate))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genuine(token: &str) -> bool {
        token == "u1.k1.good.mac"
    }

    #[test]
    fn the_token_is_found_among_the_subjects_words() {
        let plain = b"From: bob@dest.example\r\nTo: unsubscribe@gw.example\r\nSubject: u1.k1.good.mac\r\n\r\n";
        assert_eq!(mailto_token(plain, genuine).as_deref(), Some("u1.k1.good.mac"));
        let replied = b"Subject: Re: unsubscribe u1.k1.good.mac\r\n\r\nplease\r\n";
        assert_eq!(mailto_token(replied, genuine).as_deref(), Some("u1.k1.good.mac"));
    }

    #[test]
    fn mail_without_a_genuine_token_names_none() {
        for raw in [
            &b"Subject: u1.k1.forged.mac\r\n\r\n"[..],
            b"Subject: please remove me\r\n\r\n",
            b"no header at all",
            b"",
        ] {
            assert_eq!(mailto_token(raw, genuine), None);
        }
        // A token in the body is not read.
        let body = b"Subject: hi\r\n\r\nu1.k1.good.mac\r\n";
        assert_eq!(mailto_token(body, genuine), None);
    }
}
