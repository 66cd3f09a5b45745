//! Arbitrary bytes through `complaints::report::parse`, the feedback-report parser every
//! complaint goes through (ARF, header-only, Microsoft-style, garbage). Never a panic; a report
//! over the size limit is refused before it is parsed; every string kept is bounded; the same
//! bytes always give the same verdict.
#![no_main]
use aupgate::complaints::report::{parse, Parsed, ReportError};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let own = vec!["fbl@gw.test".to_string()];
    let verdict = parse(data, LIMIT, &own);
    if data.len() > LIMIT {
        assert!(matches!(verdict, Err(ReportError::TooBig { .. })));
        return;
    }
    let verdict = verdict.expect("only size refuses a report");
    if let Parsed::Complaint(report) = &verdict {
        for field in [&report.reporter, &report.recipient, &report.original_message_id, &report.trace] {
            assert!(field.as_ref().is_none_or(|f| f.len() <= 4 * 512), "{field:?}");
        }
        assert!(!report.feedback_type.is_empty() && report.feedback_type != "not-spam");
        // Bounded by the input: decoding shrinks (base64, quoted-printable) or replaces an
        // invalid byte by U+FFFD (3 bytes), and CRLF for bare LFs at most doubles.
        assert!(report.original.len() <= data.len() * 6 + 2, "{} from {}", report.original.len(), data.len());
        let _ = report.dedup_basis(None, false);
    }
    assert_eq!(parse(data, LIMIT, &own), Ok(verdict));
    // A smaller limit refuses the same bytes at once.
    if !data.is_empty() {
        assert!(matches!(parse(data, data.len() - 1, &own), Err(ReportError::TooBig { .. })));
    }
});
