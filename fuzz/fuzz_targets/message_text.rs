//! Arbitrary messages through what the DATA checks read: header parsing, address lists, the
//! header-integrity, sender-ownership and letter-bomb inspections (default profile rules), the
//! archive listers (ZIP, gzip, tar, nested), and the content
//! fingerprint (MIME decoding, HTML to text, normalisation, MinHash). Never a panic; a refusal
//! is always a permanent `5xx` naming its rule; the same message always gives the same
//! campaign keys.
#![no_main]
use aupgate::fingerprint;
use aupgate::message::parse_mailboxes;
use aupgate::policy::inspect::{archives, attachments, header_integrity};
use aupgate::policy::profile::{Attachments, HeaderRules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = aupgate::message::parse(data);
    let headers = message.headers();
    for name in ["from", "sender", "reply-to", "to", "cc"] {
        if let Some(value) = headers.first(name) {
            let _ = parse_mailboxes(value, true);
        }
    }
    let owns = |domain: &str| domain.ends_with("example");
    if let Some(refusal) = header_integrity::inspect(headers, &HeaderRules::default(), &owns) {
        let reply = refusal.reply();
        assert!((500..600).contains(&reply.code()), "{reply:?}");
        assert!(reply.lines().iter().any(|l| l.contains("[rule headers.")), "{reply:?}");
    }
    if let Some(refusal) = header_integrity::inspect_ownership(headers, &owns) {
        assert!((500..600).contains(&refusal.reply().code()), "{refusal:?}");
    }
    // The archive listers on the raw bytes too (inside a message they are reached only through
    // a well-formed MIME part and base64).
    for kind in [archives::Kind::Zip, archives::Kind::Gzip, archives::Kind::Tar] {
        let _ = archives::names(data, kind, "fuzz.bin", &mut archives::Budget::default());
    }
    if let Some(finding) = attachments::inspect(&message, &Attachments::default()) {
        let reply = finding.reply();
        assert!((500..600).contains(&reply.code()), "{reply:?}");
        assert!(reply.lines().iter().any(|l| l.contains("[rule attachments.")), "{reply:?}");
    }
    let first = fingerprint::fingerprint_message(&message);
    let again = fingerprint::fingerprint(data);
    assert_eq!(first.band_keys(), again.band_keys());
    assert_eq!(first.campaign_id(), again.campaign_id());
});
