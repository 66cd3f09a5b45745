//! Any AUTH response: decoding never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = aupgate::smtp::sasl::decode_plain(text);
    let _ = aupgate::smtp::sasl::decode_login_step(text);
});
