//! Any command line: parse never panics, and a parsed MAIL/RCPT address has a valid domain.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    if let Ok(
        aupgate::smtp::command::Command::Mail { address, .. } | aupgate::smtp::command::Command::Rcpt { address, .. },
    ) = aupgate::smtp::command::parse(line)
    {
        let _ = address.to_address();
    }
});
