//! The messages the tests send, written once. The newsletter is one campaign: its copies differ
//! only in the recipient's name and address, a personal code and an unsubscribe link, so the
//! fingerprint sees one mailing however it is personalised (bulk, mail bombs, campaign blocks).
//! A test that needs a message unlike any other writes its own.
#![allow(dead_code)]

/// Copy `n` of the spring newsletter from `news@acme.example` to `rcpt`, greeting `name`: the
/// message as a client sends it (CRLF line ends, no terminating dot).
pub fn newsletter(name: &str, rcpt: &str, n: usize) -> String {
    format!(
        "From: news@acme.example\r\nTo: {rcpt}\r\nSubject: Spring sale, {name}!\r\n\r\nDear {name},\r\n\r\n\
         our spring collection has arrived and we picked a few favourites for you: linen shirts,\r\n\
         summer dresses and the sandals everybody asked for last year. Order before Friday and\r\n\
         shipping is free. Your personal discount code is SPRING{n:05}.\r\n\r\n\
         See everything at https://shop.acme.example/spring?u={n}x{n}\r\n\r\n\
         Unsubscribe: https://acme.example/u/{n:08x}\r\n"
    )
}

/// The same copy as a file for the offline `aupgate policy check` / `replay`: LF line ends, from
/// `News <news@shop.example>` (the sending tenant is whoever owns shop.example).
pub fn newsletter_file(name: &str, rcpt: &str, n: usize) -> String {
    newsletter(name, rcpt, n)
        .replacen("From: news@acme.example", "From: News <news@shop.example>", 1)
        .replace("\r\n", "\n")
}
