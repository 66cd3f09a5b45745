//! Arbitrary bytes through `message::parse` and everything it hands out: the top-level header
//! fields, every part of the MIME walk (its headers, type, decoded body, raw body), the readable
//! text and the recipient words. Never a panic; the walk stays within the one set of limits;
//! the readable text within its byte cap; the same bytes always give the same walk.
#![no_main]
use aupgate::message::{self, mime, Body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let msg = message::parse(data);
    for (_, value) in ["to", "subject", "from"].iter().filter_map(|n| msg.headers().first(n).map(|v| (n, v))) {
        let _ = message::decode_encoded_words(value);
    }
    let parts = msg.parts();
    assert!(parts.len() <= mime::MAX_PARTS);
    let mut decoded = 0usize;
    for part in &parts {
        assert!(part.depth <= mime::MAX_DEPTH);
        let headers = part.headers();
        for value in headers.all("content-disposition").chain(headers.all("content-type")) {
            let _ = message::params::file_names("content-disposition", value);
        }
        let _ = (part.content_type(), part.is_attachment(), part.raw_body(), part.header_block());
        match part.body() {
            Body::Text(t) | Body::Html(t) => decoded += t.len(),
            Body::Binary(b) => decoded += b.len(),
            Body::Message(_) | Body::Multipart => {}
        }
    }
    // Decoding only shrinks (base64, quoted-printable) or at most triples (a charset), and an
    // attached message is decoded at most a few levels deep.
    assert!(decoded <= data.len().saturating_mul(3 * 4) + 64, "{decoded} from {}", data.len());
    let readable = msg.readable();
    assert!(readable.text.len() <= mime::MAX_TEXT_BYTES);
    let shown = msg.displayed();
    assert!(shown.iter().map(|s| s.text.len()).sum::<usize>() <= mime::MAX_TEXT_BYTES);
    assert!(msg.recipient_words().len() <= 16);
    let again = message::parse(data);
    assert_eq!(again.parts().len(), parts.len());
    assert_eq!(again.overflow(), msg.overflow());
    assert_eq!(again.readable(), readable);
});
