//! The independent DKIM/SPF/DMARC verifier (`tests/verify`: npm `mailauth`, an implementation we
//! did not write), run on a relayed message against the harness's DNS server.

use std::path::Path;

use super::{Harness, EGRESS_IP};

/// Runs the verifier on `data` as relayed for envelope sender `sender`; its JSON verdict
/// (`{"spf", "dkim": [{"result", "domain", "selector", "info"}], "dmarc"}`). Installs the pinned
/// verifier on first use (`npm ci`).
pub fn verify_independently(h: &Harness, data: &[u8], sender: &str) -> serde_json::Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify");
    if !dir.join("node_modules/mailauth").exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(&dir)
            .status()
            .expect("npm (Node.js) is needed for the independent verifier");
        assert!(status.success(), "npm ci --prefix tests/verify failed");
    }
    let file = h.dir.path().join("relayed.eml");
    std::fs::write(&file, data).unwrap();
    let output = std::process::Command::new("node")
        .arg(dir.join("verify.mjs"))
        .arg(&file)
        .arg(h.dns.address.to_string())
        .arg(EGRESS_IP)
        .arg("gw.test")
        .arg(sender)
        .output()
        .expect("node runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("verifier prints JSON")
}
