//! Any DATA stream, split at a fuzzer-chosen point: the receiver never panics, the result does not
//! depend on how the bytes were split, and it never ends at anything but CRLF.CRLF.
#![no_main]
use aupgate::smtp::data::{DataReceiver, Progress};
use libfuzzer_sys::fuzz_target;

fn run(chunks: &[&[u8]]) -> (Option<usize>, Result<Vec<u8>, aupgate::smtp::data::DataError>) {
    let mut receiver = DataReceiver::new(4096, 200);
    let mut offset = 0;
    for chunk in chunks {
        if let Progress::Done { consumed } = receiver.feed(chunk) {
            return (Some(offset + consumed), receiver.finish());
        }
        offset += chunk.len();
    }
    (None, receiver.finish())
}

fuzz_target!(|input: (u16, &[u8])| {
    let (split, data) = input;
    let split = (split as usize).min(data.len());
    let whole = run(&[data]);
    let parts = run(&[&data[..split], &data[split..]]);
    assert_eq!(whole, parts);
    if let (Some(end), _) = whole {
        assert!(end >= 3 && &data[end - 3..end] == b".\r\n");
        assert!(end == 3 || (end >= 5 && &data[end - 5..end - 3] == b"\r\n"));
    }
});
