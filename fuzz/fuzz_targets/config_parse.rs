//! Any config text: parsing reports errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = aupgate::config::Config::parse(text);
});
