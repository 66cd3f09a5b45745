//! Header parsing, address lists and the content fingerprint (MIME decoding, HTML to text,
//! normalisation, MinHash) on arbitrary messages: never a panic, and the same message always
//! gives the same campaign keys.
#![no_main]
use aupgate::fingerprint;
use aupgate::policy::headers::{parse_mailboxes, Headers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let headers = Headers::parse(data);
    for name in ["from", "sender", "reply-to", "to", "cc"] {
        if let Some(value) = headers.first(name) {
            let _ = parse_mailboxes(value, true);
        }
    }
    let first = fingerprint::fingerprint(data);
    let again = fingerprint::fingerprint(data);
    assert_eq!(first.band_keys(), again.band_keys());
    assert_eq!(first.campaign_id(), again.campaign_id());
});
