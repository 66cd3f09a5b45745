//! Email authentication as the receivers will see it, with `mail-auth` on the gateway's one
//! resolver: SPF of the envelope sender for the gateway's egress addresses, DKIM signing with
//! the keys the gateway manages and verification of every signature, the DMARC verdict the
//! message will get, and the Authentication-Results field. It reports results; what a result
//! means for the message is the policy's decision (`policy::authentication`).
//!
//! - `results` — Authentication-Results fields in raw headers (pure; fuzzable).
//! - `keys` — the DKIM key files, generation and rotation.
//! - `spf_syntax` — a strict RFC 7208 syntax check (pure; fuzzable).
//! - `record_cache` — mail-auth's parsed records (SPF, DKIM keys, DMARC, and the addresses SPF
//!   asks for), kept for their DNS TTL so a message does not re-parse them.

#[cfg(feature = "server")]
pub mod keys;
#[cfg(feature = "server")]
mod record_cache;
pub mod results;
pub mod spf_syntax;

#[cfg(feature = "server")]
pub use authenticator::{Authenticator, SpfPrediction};

#[cfg(feature = "server")]
mod authenticator {
    use std::net::IpAddr;
    use std::path::PathBuf;
    use std::sync::{Arc, RwLock};

    use mail_auth::common::headers::HeaderWriter;
    use mail_auth::dmarc::verify::DmarcParameters;
    use mail_auth::spf::verify::SpfParameters;
    use mail_auth::{AuthenticatedMessage, DkimOutput, DmarcOutput, MessageAuthenticator, SpfOutput, SpfResult};

    use super::keys::{DkimKey, KeyError, KeyRing, Signer};
    use super::record_cache::RecordCaches;
    use super::spf_syntax;
    use crate::config::Config;
    use crate::dns::cache::TtlCache;
    use crate::dns::Dns;

    /// How long an SPF prediction is reused for one sender address. Its records are cached for
    /// their TTL anyway; this only spares evaluating them again for every message. A change of
    /// a tenant's SPF record is seen at most this much later than the record's TTL allows.
    const PREDICTION_TTL: std::time::Duration = std::time::Duration::from_secs(5);
    /// Sender addresses whose prediction is kept.
    const PREDICTIONS: usize = 16_384;

    /// The SPF result a receiver will get, the worst over the egress addresses.
    #[derive(Debug, Clone)]
    pub struct SpfPrediction {
        pub output: SpfOutput,
        /// The egress address that produced the result.
        pub ip: IpAddr,
    }

    impl SpfPrediction {
        pub fn result(&self) -> SpfResult {
            self.output.result()
        }
    }

    /// SPF, DKIM and DMARC on the shared resolver, with the gateway's keys.
    pub struct Authenticator {
        resolver: MessageAuthenticator,
        dns: Dns,
        egress_ips: Vec<IpAddr>,
        spf_include: String,
        helo: String,
        key_dir: PathBuf,
        keys: RwLock<Arc<KeyRing>>,
        records: RecordCaches,
        predictions: TtlCache<Box<str>, SpfPrediction>,
    }

    impl Authenticator {
        /// Builds on the gateway's resolver; loads the DKIM keys from `<data_dir>/dkim`.
        pub fn new(config: &Config, dns: &Dns) -> Result<Authenticator, KeyError> {
            let key_dir = key_dir(config);
            let keys = KeyRing::load(&key_dir)?;
            Ok(Authenticator {
                resolver: MessageAuthenticator(dns.resolver().clone()),
                dns: dns.clone(),
                egress_ips: config.authentication.egress_ips.clone(),
                spf_include: config.authentication.spf_include.clone(),
                helo: config.server.hostname.clone(),
                key_dir,
                keys: RwLock::new(Arc::new(keys)),
                records: RecordCaches::default(),
                predictions: TtlCache::new(PREDICTIONS),
            })
        }

        /// Re-reads the key directory (reload); on error the keys in use stay.
        pub fn reload_keys(&self) -> Result<usize, KeyError> {
            let ring = KeyRing::load(&self.key_dir)?;
            let count = ring.len();
            *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
            Ok(count)
        }

        pub fn key_count(&self) -> usize {
            self.keys().len()
        }

        fn keys(&self) -> Arc<KeyRing> {
            self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
        }

        /// The DKIM keys of exactly `domain`, newest first (the records its owner publishes).
        pub fn keys_for(&self, domain: &str) -> Vec<Arc<DkimKey>> {
            self.keys().for_domain(domain).to_vec()
        }

        pub fn egress_ips(&self) -> &[IpAddr] {
            &self.egress_ips
        }

        /// What tenants must publish to authorize the gateway, for SPF refusals.
        pub fn spf_hint(&self) -> String {
            if !self.spf_include.is_empty() {
                return format!("include:{}", self.spf_include);
            }
            self.egress_ips
                .iter()
                .map(|ip| match ip {
                    IpAddr::V4(v4) => format!("ip4:{v4}"),
                    IpAddr::V6(v6) => format!("ip6:{v6}"),
                })
                .collect::<Vec<_>>()
                .join(" ")
        }

        /// SPF of `sender` (`local@domain`) for every egress address; the worst result (a
        /// receiver may get any of them). `None` without egress addresses.
        pub async fn spf(&self, sender: &str) -> Option<SpfPrediction> {
            let key = sender.to_ascii_lowercase();
            if let Some(known) = self.predictions.get(key.as_str()) {
                return Some(known);
            }
            let prediction = self.predict_spf(sender).await?;
            // A temporary error is asked again with the next message.
            if prediction.result() != SpfResult::TempError {
                self.predictions.insert(
                    key.into_boxed_str(),
                    prediction.clone(),
                    std::time::Instant::now() + PREDICTION_TTL,
                );
            }
            Some(prediction)
        }

        async fn predict_spf(&self, sender: &str) -> Option<SpfPrediction> {
            let first_ip = *self.egress_ips.first()?;
            let domain = sender.rsplit_once('@').map(|(_, d)| d).unwrap_or(sender);
            // RFC 7208 4.5: two SPF records are a permerror (mail-auth would use the first), and
            // a lookup that fails now is a temperror for every address.
            let permerror = || SpfPrediction {
                output: SpfOutput::new(domain.to_string()).with_result(SpfResult::PermError),
                ip: first_ip,
            };
            match self.dns.txt(domain).await {
                Ok(records) => {
                    let spf: Vec<&String> = records.iter().filter(|r| is_spf_record(r)).collect();
                    if spf.len() > 1 || spf.first().is_some_and(|r| spf_syntax::check(r).is_err()) {
                        return Some(permerror());
                    }
                }
                Err(crate::dns::DnsError::Temporary { .. }) => {
                    return Some(SpfPrediction {
                        output: SpfOutput::new(domain.to_string()).with_result(SpfResult::TempError),
                        ip: first_ip,
                    });
                }
                _ => {}
            }
            let mut worst: Option<SpfPrediction> = None;
            for &ip in &self.egress_ips {
                let output = self
                    .resolver
                    .verify_spf(
                        self.records
                            .parameters(SpfParameters::verify_mail_from(ip, &self.helo, &self.helo, sender)),
                    )
                    .await;
                let prediction = SpfPrediction { output, ip };
                if worst
                    .as_ref()
                    .is_none_or(|w| severity(prediction.result()) > severity(w.result()))
                {
                    worst = Some(prediction);
                }
            }
            worst
        }

        /// The key to sign mail from `domain` with: of the keys of `domain` (or of the closest
        /// parent domain that has keys) that `allowed` permits, the newest whose record is
        /// published, so a new selector takes over once it is in DNS. When DNS cannot say (a
        /// temporary failure), the newest key DNS could not be asked about signs; a key DNS says
        /// is not published never does (its signature could only fail: `dkim=permerror` at
        /// every receiver), and with none published the mail leaves unsigned.
        pub async fn signing_key(&self, domain: &str, allowed: impl Fn(&str) -> bool) -> Option<Arc<DkimKey>> {
            let (candidate, keys) = self.keys_covering(domain, allowed)?;
            let mut unknown = None;
            for key in &keys {
                match self.published(key).await {
                    Some(true) => return Some(key.clone()),
                    Some(false) => {}
                    None => {
                        unknown.get_or_insert_with(|| key.clone());
                    }
                }
            }
            if unknown.is_none() {
                // Per message, so not a warning: `aupgate admin domains records` shows what to publish.
                tracing::debug!(
                    domain = %candidate,
                    "no DKIM key of the domain is published in DNS: the mail leaves unsigned"
                );
            }
            unknown
        }

        /// The newest key that would sign mail from `domain` once its record is published
        /// (`signing_key` without asking DNS): what a refusal names when nothing signed.
        pub fn newest_key(&self, domain: &str, allowed: impl Fn(&str) -> bool) -> Option<Arc<DkimKey>> {
            self.keys_covering(domain, allowed)?.1.first().cloned()
        }

        /// The keys of `domain`, or of the closest parent domain that has keys, that `allowed`
        /// permits (newest first), with that domain.
        fn keys_covering(&self, domain: &str, allowed: impl Fn(&str) -> bool) -> Option<(String, Vec<Arc<DkimKey>>)> {
            let ring = self.keys();
            let mut candidate = domain.trim_end_matches('.').to_ascii_lowercase();
            loop {
                let keys = ring.for_domain(&candidate);
                if !keys.is_empty() && allowed(&candidate) {
                    return Some((candidate, keys.to_vec()));
                }
                let (_, parent) = candidate.split_once('.')?;
                if !parent.contains('.') {
                    return None;
                }
                candidate = parent.to_string();
            }
        }

        /// Whether `key`'s record is published: `None` when DNS cannot say just now.
        async fn published(&self, key: &DkimKey) -> Option<bool> {
            match self.dns.txt(&key.record_name()).await {
                Ok(records) => Some(records.iter().any(|r| key.matches_record(r))),
                Err(crate::dns::DnsError::NotFound { .. }) => Some(false),
                Err(_) => None,
            }
        }

        /// A DKIM-Signature field (with its CRLF) over `chunks`, the message as it will leave,
        /// and the signature's `b=` bytes (which identify it among the message's signatures).
        pub fn sign(&self, key: &DkimKey, chunks: &[&[u8]]) -> Result<(String, Vec<u8>), mail_auth::Error> {
            let signature = match &key.signer {
                Signer::Rsa(signer) => signer.sign_chained(chunks.iter().copied())?,
                Signer::Ed25519(signer) => signer.sign_chained(chunks.iter().copied())?,
            };
            // `b` holds the base64 text; verification results carry the decoded bytes.
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&signature.b)
                .unwrap_or_default();
            Ok((signature.to_header(), raw))
        }

        /// The name the gateway greets receivers with (SPF's HELO identity).
        pub fn helo(&self) -> &str {
            &self.helo
        }

        /// Verifies every DKIM signature of `message` against DNS.
        pub async fn verify_dkim<'x>(&'x self, message: &'x AuthenticatedMessage<'x>) -> Vec<DkimOutput<'x>> {
            self.resolver.verify_dkim(self.records.parameters(message)).await
        }

        /// The DMARC verdict for `message` given the DKIM results and the SPF prediction.
        pub async fn dmarc<'x>(
            &self,
            message: &'x AuthenticatedMessage<'x>,
            dkim: &'x [DkimOutput<'x>],
            mail_from_domain: &'x str,
            spf: &'x SpfOutput,
        ) -> DmarcOutput {
            self.resolver
                .verify_dmarc(self.records.parameters(DmarcParameters {
                    message,
                    dkim_output: dkim,
                    dkim2_output: None,
                    rfc5321_mail_from_domain: mail_from_domain,
                    spf_output: spf,
                }))
                .await
        }
    }

    /// Where the DKIM keys live: `<data_dir>/dkim`.
    pub fn key_dir(config: &Config) -> PathBuf {
        config.data_dir().join("dkim")
    }

    /// An SPF record: `v=spf1` alone or followed by a space (RFC 7208 4.5).
    fn is_spf_record(text: &str) -> bool {
        let text = text.trim_start();
        text.len() >= 6 && text[..6].eq_ignore_ascii_case("v=spf1") && text[6..].chars().next().is_none_or(|c| c == ' ')
    }

    /// Ordering of SPF results from best to worst for picking the prediction.
    fn severity(result: SpfResult) -> u8 {
        match result {
            SpfResult::Pass => 0,
            SpfResult::None => 1,
            SpfResult::Neutral => 2,
            SpfResult::SoftFail => 3,
            SpfResult::Fail => 4,
            SpfResult::PermError => 5,
            SpfResult::TempError => 6,
        }
    }
}

#[cfg(feature = "server")]
pub use authenticator::key_dir;
