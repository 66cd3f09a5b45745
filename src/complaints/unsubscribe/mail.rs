//! Unsubscribe by mail: where the token is in a message sent to the unsubscribe address. The
//! gateway's mailto puts it in the subject (`?subject=TOKEN`); mail clients may prefix the
//! subject (`Re: `, `unsubscribe `), and a sender may put it in the address's `+` detail
//! (`unsubscribe+TOKEN@host`). Only the message's header is read (mail-parser), never its body.

use mail_parser::MessageParser;

/// The first token in the recipient's `+` detail or the subject's words that `genuine` accepts.
pub fn mailto_token(rcpt: &str, raw: &[u8], genuine: impl Fn(&str) -> bool) -> Option<String> {
    let rcpt = rcpt.trim().trim_start_matches('<').trim_end_matches('>');
    let detail = rcpt
        .rsplit_once('@')
        .and_then(|(local, _)| local.split_once('+'))
        .map(|(_, detail)| detail.to_string());
    let subject = MessageParser::new()
        .parse_headers(raw)
        .and_then(|message| message.subject().map(str::to_string))
        .unwrap_or_default();
    let words = subject
        .split(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == ';' || c == '<' || c == '>')
        .map(str::to_string);
    detail
        .into_iter()
        .chain(words)
        .find(|candidate| !candidate.is_empty() && genuine(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genuine(token: &str) -> bool {
        token == "u1.k1.good.mac"
    }

    #[test]
    fn the_token_is_found_in_the_subject_or_the_detail() {
        let plain = b"From: bob@dest.example\r\nTo: unsubscribe@gw.example\r\nSubject: u1.k1.good.mac\r\n\r\n";
        assert_eq!(
            mailto_token("unsubscribe@gw.example", plain, genuine).as_deref(),
            Some("u1.k1.good.mac")
        );
        let replied = b"Subject: Re: unsubscribe u1.k1.good.mac\r\n\r\nplease\r\n";
        assert_eq!(
            mailto_token("<unsubscribe@gw.example>", replied, genuine).as_deref(),
            Some("u1.k1.good.mac")
        );
        let detail = b"Subject: unsubscribe\r\n\r\n";
        assert_eq!(
            mailto_token("unsubscribe+u1.k1.good.mac@gw.example", detail, genuine).as_deref(),
            Some("u1.k1.good.mac")
        );
    }

    #[test]
    fn mail_without_a_genuine_token_names_none() {
        for raw in [
            &b"Subject: u1.k1.forged.mac\r\n\r\n"[..],
            b"Subject: please remove me\r\n\r\n",
            b"no header at all",
            b"",
        ] {
            assert_eq!(mailto_token("unsubscribe@gw.example", raw, genuine), None);
        }
        // A token in the body is not read.
        let body = b"Subject: hi\r\n\r\nu1.k1.good.mac\r\n";
        assert_eq!(mailto_token("unsubscribe@gw.example", body, genuine), None);
    }
}
