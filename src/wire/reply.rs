//! The reply catalogue: every SMTP reply text the gateway sends exists once, here. A reply is data
//! (code, enhanced status, text), so checks return it and tests compare it.

use std::borrow::Cow;
use std::fmt;

use super::rule::Rule;

/// One SMTP reply (possibly multi-line). Its fields are private: a reply comes from this
/// catalogue or its constructors ([`Reply::new`], [`Reply::refusal`]), so a refusal always
/// names its rule in its text, and code, status and rule are read, never parsed back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: u16,
    /// Enhanced status code (RFC 3463), e.g. `"5.7.1"`; empty for the replies that carry none.
    status: &'static str,
    /// Text lines; the first carries the enhanced status code.
    lines: Vec<Cow<'static, str>>,
    /// The stable id of the rule that refused (`bulk.max_recipients`), for refusals: named at
    /// the end of the text too, and what the audit log and escalation record.
    rule: Option<Rule>,
}

impl Reply {
    /// The reply code (`550`).
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code (`"5.7.1"`), or `""` for replies without one (greeting, EHLO,
    /// AUTH challenges, `354`).
    pub fn status(&self) -> &'static str {
        self.status
    }

    /// The text lines, without code and status.
    pub fn lines(&self) -> &[Cow<'static, str>] {
        &self.lines
    }

    /// The rule that refused, for refusals.
    pub fn rule(&self) -> Option<Rule> {
        self.rule
    }

    pub fn new(code: u16, status: &'static str, text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            status,
            lines: vec![text.into()],
            rule: None,
        }
    }

    /// A refusal by `rule`: the text ends with `[rule <id>]`.
    pub fn refusal(code: u16, status: &'static str, rule: Rule, text: impl fmt::Display) -> Reply {
        Reply {
            code,
            status,
            lines: vec![Cow::Owned(format!("{text} [rule {rule}]"))],
            rule: Some(rule),
        }
    }

    /// True for 4xx replies.
    pub fn is_temporary(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// True for 2xx and 3xx replies.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// Writes the reply in wire format. Texts never contain CR or LF (they are stripped), so a
    /// value echoed into a reply cannot inject a line.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            let clean: String = line.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            let text = if self.status.is_empty() {
                format!("{}{}{}\r\n", self.code, separator, clean)
            } else {
                format!("{}{}{} {}\r\n", self.code, separator, self.status, clean)
            };
            out.extend_from_slice(text.as_bytes());
        }
    }

    /// The first line as text, for logs and DSNs (`550 5.7.1 ...`).
    pub fn summary(&self) -> String {
        let first = self.lines.first().map(|l| l.as_ref()).unwrap_or("");
        format!("{} {} {}", self.code, self.status, first)
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

// ----- connection and session -----

pub fn greeting(hostname: &str) -> Reply {
    Reply {
        code: 220,
        status: "",
        lines: vec![format!("{hostname} ESMTP aupgate").into()],
        rule: None,
    }
}

pub fn too_many_connections() -> Reply {
    Reply::refusal(
        421,
        "4.3.2",
        Rule::LimitsConnections,
        "Too many connections, try again later",
    )
}

pub fn too_many_connections_from_ip() -> Reply {
    Reply::refusal(
        421,
        "4.7.0",
        Rule::LimitsConnectionsPerIp,
        "Too many connections from your address, try again later",
    )
}

pub fn shutting_down(hostname: &str) -> Reply {
    Reply::refusal(
        421,
        "4.3.0",
        Rule::ServerShutdown,
        format!("{hostname} is shutting down, try again later"),
    )
}

/// A client silent longer than `[limits] command_timeout`.
pub fn timeout(hostname: &str) -> Reply {
    Reply::refusal(
        421,
        "4.4.2",
        Rule::LimitsCommandTimeout,
        format!("{hostname} timeout exceeded, closing connection"),
    )
}

/// A session open longer than `[limits] session_timeout`.
pub fn session_timeout(hostname: &str) -> Reply {
    Reply::refusal(
        421,
        "4.4.2",
        Rule::LimitsSessionTimeout,
        format!("{hostname} session time exceeded, closing connection"),
    )
}

/// A DATA transfer slower than `[limits] data_min_rate` after its grace period.
pub fn data_too_slow(hostname: &str) -> Reply {
    Reply::refusal(
        421,
        "4.4.2",
        Rule::LimitsDataRate,
        format!("{hostname} data transfer too slow, closing connection"),
    )
}

pub fn too_many_errors() -> Reply {
    Reply::refusal(421, "4.7.0", Rule::LimitsErrors, "Too many errors, closing connection")
}

/// A session that sent `[limits] max_messages_per_session` messages.
pub fn session_messages_limit() -> Reply {
    Reply::refusal(
        421,
        "4.7.0",
        Rule::LimitsSessionMessages,
        "Session limit reached (messages), please reconnect",
    )
}

/// A session that sent `[limits] max_session_bytes`.
pub fn session_bytes_limit() -> Reply {
    Reply::refusal(
        421,
        "4.7.0",
        Rule::LimitsSessionBytes,
        "Session limit reached (bytes), please reconnect",
    )
}

pub fn bye(hostname: &str) -> Reply {
    Reply::new(221, "2.0.0", format!("{hostname} closing connection"))
}

pub fn ok() -> Reply {
    Reply::new(250, "2.0.0", "OK")
}

pub fn reset() -> Reply {
    Reply::new(250, "2.0.0", "Reset state")
}

pub fn helo(hostname: &str, peer: &str) -> Reply {
    Reply {
        code: 250,
        status: "",
        lines: vec![format!("{hostname} Hello {peer}").into()],
        rule: None,
    }
}

/// The EHLO reply: the greeting line, then one line per extension offered.
pub fn ehlo(hostname: &str, peer: &str, extensions: Vec<Cow<'static, str>>) -> Reply {
    let mut lines = Vec::with_capacity(extensions.len() + 1);
    lines.push(format!("{hostname} Hello {peer}").into());
    lines.extend(extensions);
    Reply {
        code: 250,
        status: "",
        lines,
        rule: None,
    }
}

// ----- syntax and sequence -----

pub fn unknown_command() -> Reply {
    Reply::new(500, "5.5.1", "Command unrecognized")
}

pub fn line_too_long() -> Reply {
    Reply::new(500, "5.5.2", "Line too long")
}

pub fn syntax(what: &'static str) -> Reply {
    Reply::new(501, "5.5.4", what)
}

pub fn bad_sender_syntax() -> Reply {
    Reply::new(501, "5.1.7", "Bad sender address syntax")
}

pub fn bad_recipient_syntax() -> Reply {
    Reply::new(501, "5.1.3", "Bad recipient address syntax")
}

/// A MAIL FROM or RCPT TO path over `[limits] max_path_length`: RFC 5321 4.5.3.1.10 names
/// `501 Path too long`; the enhanced status is the syntax one of that address (RFC 3463: 5.1.7
/// for the sender, 5.1.3 for a recipient), as for any other malformed path.
pub fn path_too_long(sender: bool, limit: usize) -> Reply {
    let status = if sender { "5.1.7" } else { "5.1.3" };
    Reply::refusal(
        501,
        status,
        Rule::LimitsPathLength,
        format!("Path too long (at most {limit} octets, RFC 5321 4.5.3.1.3)"),
    )
}

/// A non-ASCII address in a transaction opened without `SMTPUTF8` (RFC 6531 3.4).
pub fn utf8_address_without_smtputf8(sender: bool) -> Reply {
    let which = if sender { "sender" } else { "recipient" };
    Reply::new(
        553,
        "5.6.7",
        format!("Non-ASCII {which} address needs the SMTPUTF8 parameter on MAIL FROM (RFC 6531)"),
    )
}

/// `AUTH=` on MAIL FROM that is neither `<>` nor xtext (RFC 4954 5).
pub fn bad_auth_parameter() -> Reply {
    Reply::new(501, "5.5.4", "Bad AUTH parameter: <> or an xtext address expected")
}

pub fn unsupported_parameter(name: &str) -> Reply {
    Reply::new(555, "5.5.4", format!("Unsupported parameter {name}"))
}

pub fn bad_sequence(what: &'static str) -> Reply {
    Reply::new(503, "5.5.1", what)
}

pub fn vrfy_disabled() -> Reply {
    Reply::new(502, "5.5.1", "VRFY and EXPN are disabled")
}

pub fn not_implemented() -> Reply {
    Reply::new(502, "5.5.1", "Command not implemented")
}

pub fn help() -> Reply {
    Reply::new(
        214,
        "2.0.0",
        "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT STARTTLS AUTH",
    )
}

// ----- TLS and AUTH -----

pub fn ready_for_tls() -> Reply {
    Reply::new(220, "2.0.0", "Ready to start TLS")
}

pub fn tls_unavailable() -> Reply {
    Reply::new(454, "4.7.0", "TLS not available")
}

pub fn encryption_required() -> Reply {
    Reply::new(530, "5.7.0", "Must issue a STARTTLS command first")
}

pub fn auth_required() -> Reply {
    Reply::new(530, "5.7.0", "Authentication required")
}

pub fn auth_ok() -> Reply {
    Reply::new(235, "2.7.0", "Authentication successful")
}

pub fn auth_failed() -> Reply {
    Reply::new(535, "5.7.8", "Authentication credentials invalid")
}

pub fn auth_mechanism_unsupported() -> Reply {
    Reply::new(504, "5.5.4", "Unrecognized authentication mechanism")
}

pub fn auth_cancelled() -> Reply {
    Reply::new(501, "5.0.0", "Authentication cancelled")
}

pub fn auth_challenge(challenge_b64: &'static str) -> Reply {
    Reply {
        code: 334,
        status: "",
        lines: vec![challenge_b64.into()],
        rule: None,
    }
}

/// The client's address failed AUTH `[limits] auth_failures` times: locked out for a while.
pub fn auth_address_locked() -> Reply {
    Reply::refusal(
        421,
        "4.7.0",
        Rule::AuthAddressLockout,
        "Too many failed authentications from your address, try again later",
    )
}

/// The failure counts could not be read or written: no password is checked (RFC 4954 6).
pub fn auth_temporary_failure() -> Reply {
    Reply::refusal(
        454,
        "4.7.0",
        Rule::AuthFailures,
        "Temporary authentication failure, please try again later",
    )
}

pub fn already_authenticated() -> Reply {
    Reply::new(503, "5.5.1", "Already authenticated")
}

pub fn auth_outside_networks() -> Reply {
    Reply::refusal(
        554,
        "5.7.1",
        Rule::ClientNetwork,
        "Your address is not in the networks assigned to this account",
    )
}

// ----- envelope -----

pub fn sender_ok() -> Reply {
    Reply::new(250, "2.1.0", "Sender OK")
}

pub fn recipient_ok() -> Reply {
    Reply::new(250, "2.1.5", "Recipient OK")
}

pub fn relay_denied() -> Reply {
    Reply::refusal(
        554,
        "5.7.1",
        Rule::ClientUnidentified,
        "Relay access denied: authenticate or connect from your assigned network",
    )
}

pub fn too_many_recipients(limit: usize) -> Reply {
    Reply::refusal(
        452,
        "4.5.3",
        Rule::LimitsRecipients,
        format!("Too many recipients (at most {limit} per message)"),
    )
}

pub fn size_exceeded(limit: u64) -> Reply {
    Reply::refusal(
        552,
        "5.3.4",
        Rule::LimitsMessageSize,
        format!("Message size exceeds the limit of {limit} bytes"),
    )
}

// ----- data -----

pub fn start_data() -> Reply {
    Reply {
        code: 354,
        status: "",
        lines: vec!["End data with <CR><LF>.<CR><LF>".into()],
        rule: None,
    }
}

pub fn queued(queue_id: &str) -> Reply {
    Reply::new(250, "2.0.0", format!("OK queued as {queue_id}"))
}

pub fn bare_line_break() -> Reply {
    Reply::refusal(
        550,
        "5.5.2",
        Rule::DataBareLineBreak,
        "Message refused: bare CR or LF in message data (lines must end with CRLF)",
    )
}

pub fn nul_in_data() -> Reply {
    Reply::refusal(
        550,
        "5.6.0",
        Rule::DataNul,
        "Message refused: NUL character in message data (not allowed in mail text, 8BITMIME included)",
    )
}

pub fn data_line_too_long(limit: usize) -> Reply {
    Reply::refusal(
        550,
        "5.5.2",
        Rule::DataLineLength,
        format!("Message refused: a line is longer than {limit} bytes"),
    )
}

pub fn no_valid_recipients() -> Reply {
    Reply::new(554, "5.5.1", "No valid recipients")
}

/// A check that could not decide (its store or resolver failed): deferred, naming the check.
pub fn check_failed(rule: Rule) -> Reply {
    Reply::refusal(
        451,
        "4.3.0",
        rule,
        "Temporary failure checking the message, please try again later",
    )
}

/// A check that could not decide, where the profile closes the session (`[on_error] disconnect`).
pub fn check_failed_disconnect(rule: Rule) -> Reply {
    Reply::refusal(
        421,
        "4.3.0",
        rule,
        "Temporary failure checking the message, closing the connection; please try again later",
    )
}

/// The queue could not store the message durably: nothing was accepted.
/// The budget of message data in flight (`[limits] max_data_in_flight`) has no room for this
/// message now (RFC 3463 4.3.1: mail system full).
pub fn data_in_flight_exceeded() -> Reply {
    Reply::refusal(
        452,
        "4.3.1",
        Rule::LimitsDataInFlight,
        "Insufficient system storage for this message now, please try again later",
    )
}

pub fn queue_write_failed() -> Reply {
    Reply::refusal(
        451,
        "4.3.0",
        Rule::QueueWrite,
        "Temporary failure storing the message, please try again later",
    )
}

// ----- relay: our own reasons for a recipient's permanent failure (in its DSN) -----

/// The next hop does not offer SMTPUTF8 and the recipient (or the whole envelope or header)
/// needs it: we never downgrade an address (RFC 6531 3.4, RFC 6532).
pub fn next_hop_without_smtputf8(what: &str) -> Reply {
    Reply::new(
        550,
        "5.6.7",
        format!("Not delivered: the next hop does not support SMTPUTF8, which the {what} needs (RFC 6531)"),
    )
}

/// The next hop does not offer 8BITMIME and the message has 8-bit content: we do not convert it
/// (that would break its DKIM signatures), so it is returned (RFC 6152 3).
pub fn next_hop_without_8bitmime() -> Reply {
    Reply::new(
        554,
        "5.6.3",
        "Not delivered: the message has 8-bit content and the next hop does not support 8BITMIME (RFC 6152); it is not converted, as that would break its signatures",
    )
}

// ----- local mailboxes (`smtp::local`) and complaint intake (`complaints::mailbox`) -----

/// RCPT of a relayed recipient in a transaction to a local address, or the other way round:
/// the client sends it in a next transaction (as for any recipient over a limit).
pub fn local_and_relayed_recipients() -> Reply {
    Reply::refusal(
        452,
        "4.5.3",
        Rule::RecipientsSeparate,
        "Send to this recipient in a separate transaction: local addresses and relayed mail do not mix",
    )
}

/// A feedback report stored as complaint `id` (or a duplicate of it, or set aside).
pub fn report_received(what: &str) -> Reply {
    Reply::new(250, "2.0.0", format!("Report received: {what}"))
}

/// A client over `[feedback] max_reports_per_client`.
pub fn reports_rate_exceeded(count: u32, window: &str) -> Reply {
    Reply::new(
        451,
        "4.7.1",
        format!("Too many feedback reports from your address (at most {count} per {window}), try again later"),
    )
}

/// A report that could not be stored (or the rate could not be checked): nothing was lost.
pub fn report_store_failed() -> Reply {
    Reply::new(
        451,
        "4.3.0",
        "Temporary failure storing the report, please try again later",
    )
}

/// Mail to the unsubscribe address whose token was honoured: the recipient is suppressed.
pub fn unsubscribed() -> Reply {
    Reply::new(250, "2.0.0", "Unsubscribed: no further bulk mail from this sender")
}

/// Mail to the unsubscribe address without a genuine token (forged, altered or missing).
pub fn unsubscribe_token_invalid() -> Reply {
    Reply::new(550, "5.7.1", "No valid unsubscribe token in the subject or the address")
}

/// An unsubscribe that could not be stored: nothing was changed, the client tries again.
pub fn unsubscribe_store_failed() -> Reply {
    Reply::new(
        451,
        "4.3.0",
        "Temporary failure recording the unsubscribe, please try again later",
    )
}

/// A client over `[unsubscribe] max_mails_per_client`.
pub fn unsubscribes_rate_exceeded(count: u32, window: &str) -> Reply {
    Reply::new(
        451,
        "4.7.1",
        format!("Too many unsubscribe mails from your address (at most {count} per {window}), try again later"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply) -> String {
        let mut out = Vec::new();
        reply.write_to(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn single_and_multi_line() {
        assert_eq!(wire(&ok()), "250 2.0.0 OK\r\n");
        let multi = Reply {
            code: 250,
            status: "",
            lines: vec!["a".into(), "b".into()],
            rule: None,
        };
        assert_eq!(wire(&multi), "250-a\r\n250 b\r\n");
    }

    #[test]
    fn echoed_text_cannot_inject_lines() {
        let reply = unsupported_parameter("X\r\n250 fake");
        assert_eq!(wire(&reply), "555 5.5.4 Unsupported parameter X250 fake\r\n");
    }
}
