//! What signing costs per message: a DKIM signature over a 2 KiB message with the gateway's
//! RSA-2048 and Ed25519 keys, and the verification a receiver (and our DMARC prediction) runs.
//!
//! `cargo bench --bench dkim`

use aupgate::auth::keys::{generate, Algorithm, Signer};
#[path = "../tests/support/corpus/mod.rs"]
mod corpus;

use corpus::message_of_size;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mail_auth::common::headers::HeaderWriter;

fn signing(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut message = b"From: news@acme.example\r\nTo: bob@dest.example\r\nSubject: report\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <x@acme.example>\r\n".to_vec();
    message.extend_from_slice(&message_of_size(1, 2 * 1024));
    let mut g = c.benchmark_group("dkim/2KiB");
    g.throughput(Throughput::Elements(1));
    for (name, algorithm) in [("rsa2048", Algorithm::Rsa2048), ("ed25519", Algorithm::Ed25519)] {
        let key = generate(dir.path(), "acme.example", name, algorithm).expect("key");
        g.bench_function(format!("sign/{name}"), |b| {
            b.iter(|| match &key.signer {
                Signer::Rsa(s) => s.sign(&message).expect("sign").to_header(),
                Signer::Ed25519(s) => s.sign(&message).expect("sign").to_header(),
            })
        });
    }
    g.finish();
}

criterion_group!(benches, signing);
criterion_main!(benches);
