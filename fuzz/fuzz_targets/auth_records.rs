//! SPF records and Authentication-Results removal: never a panic; removal only ever deletes
//! whole header fields (the body and every other byte stay in order).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = aupgate::auth::spf_syntax::check(text);
    }
    if let Some(stripped) = aupgate::auth::results::strip_own(data, "gw.test") {
        assert!(stripped.len() < data.len());
        // What is left is a subsequence of the input.
        let mut rest = data.iter();
        assert!(stripped.iter().all(|b| rest.any(|c| c == b)));
    }
});
