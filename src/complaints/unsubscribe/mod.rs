//! The unsubscribe the gateway enforces (SocketLabs: honoured within 48 h; Pageant Server:
//! removed before the next mailing). Under a profile with `[unsubscribe] enabled`, bulk mail to a
//! single recipient leaves with the gateway's own
//!
//! ```text
//! List-Unsubscribe: <https://HOST/u/TOKEN>,
//!  <mailto:unsubscribe@HOST?subject=TOKEN>
//! List-Unsubscribe-Post: List-Unsubscribe=One-Click
//! ```
//!
//! added on top before the gateway signs, so its DKIM signature covers them (RFC 8058 section 4
//! asks for that). The token ([`token`]) names the tenant, the recipient, the campaign and the
//! time, under the server's trace keys.
//!
//! A hit — `POST /u/{token}` (one-click, RFC 8058; `GET` only shows a page with the button and
//! changes nothing), or mail to the unsubscribe address with the token in its subject
//! ([`Unsubscriber::handle_unsubscribe_mail`]) — puts the recipient on the tenant's
//! suppression list at once (reason `unsubscribe`): the tenant's next bulk mail to it is refused
//! by the suppression check (`550 5.7.1`). The hit is audited and passed on to the tenant: a
//! notice to its contact, or a webhook (`[unsubscribe] notify`, per tenant in
//! `[unsubscribe.tenants.<id>]`); a webhook that fails falls back to the notice. A forged or
//! altered token changes nothing.
//!
//! Bulk is what the suppression check calls bulk (List-Unsubscribe, List-Unsubscribe-Post,
//! List-Id, or Precedence: bulk/list/junk). A message to several recipients keeps what the
//! tenant put on it: one header cannot carry a token per recipient. A message whose own DKIM
//! signature covers List-Unsubscribe or List-Unsubscribe-Post is left as signed too.

mod mail;
pub mod mailbox;
pub mod token;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use mail::mailto_token;
pub use token::Claims;

use super::model::{Notice, NoticeKind, NoticeSender};
use super::TraceKeys;
use crate::config::{Config, UnsubscribeConfig, UnsubscribeNotify};
use crate::queue::now_ms;
use crate::store::{AuditRecord, RateStore, StoreError, Suppression};

/// The suppression reason of an unsubscribe.
pub const REASON: &str = "unsubscribe";

/// How long a webhook may take before the hit falls back to a notice by mail.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a recipient's first hit is remembered (a later one is audited and passed on again).
const HIT_REMEMBERED: Duration = Duration::from_secs(400 * 86_400);

/// The webhook client: a timeout, no redirects. A client that cannot be built is an error to
/// log, never a default client without them.
fn webhook_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(WEBHOOK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| {
            tracing::error!(%error, "the unsubscribe webhook client could not be built: hits are passed on by mail");
            error.to_string()
        })
}

/// Why a hit did nothing.
#[derive(Debug, thiserror::Error)]
pub enum UnsubscribeError {
    /// Forged, altered, unknown key, or no token at all.
    #[error("not a valid unsubscribe token")]
    InvalidToken,
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// How a hit arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `POST /u/{token}`.
    OneClick,
    /// Mail to the unsubscribe address.
    Mail,
}

/// An unsubscribe the gateway carried out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub tenant: String,
    pub recipient: String,
    pub campaign: String,
    /// When (unix ms).
    pub at: u64,
    pub via: Via,
    /// False for a repeated hit of the recipient (not audited, the tenant is not told twice); a
    /// recipient suppressed for another reason (a complaint, a bounce) is told once.
    pub new: bool,
}

/// The gateway's unsubscribe: makes the fields, carries out hits.
pub struct Unsubscriber {
    keys: TraceKeys,
    /// `https://host` (no trailing `/`).
    url: String,
    address: String,
    notifier: Notifier,
}

/// Passes hits on to the tenants (in the background of the hit).
#[derive(Clone)]
struct Notifier {
    store: Arc<dyn RateStore>,
    notices: Arc<dyn NoticeSender>,
    config: Arc<UnsubscribeConfig>,
    /// Never follows a redirect (the webhook is the tenant's configured URL, not wherever it
    /// points); `Err` (why) when it could not be built: webhooks then fall back to a notice.
    http: Result<reqwest::Client, String>,
}

impl Unsubscriber {
    pub fn new(
        config: &Config,
        keys: TraceKeys,
        store: Arc<dyn RateStore>,
        notices: Arc<dyn NoticeSender>,
    ) -> Unsubscriber {
        let hostname = &config.server.hostname;
        let url = config
            .unsubscribe
            .url
            .clone()
            .unwrap_or_else(|| format!("https://{hostname}"));
        Unsubscriber {
            keys,
            url: url.trim_end_matches('/').to_string(),
            address: config
                .unsubscribe
                .address
                .clone()
                .unwrap_or_else(|| format!("unsubscribe@{hostname}")),
            notifier: Notifier {
                store,
                notices,
                config: Arc::new(config.unsubscribe.clone()),
                http: webhook_client(),
            },
        }
    }

    /// The store hits are recorded in.
    pub fn store(&self) -> Arc<dyn RateStore> {
        self.notifier.store.clone()
    }

    /// `[unsubscribe] max_mails_per_client`.
    pub fn mail_rate(&self) -> crate::config::Rate {
        self.notifier.config.max_mails_per_client
    }

    /// The address mail unsubscribes are sent to (the SMTP listeners accept mail for it).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The one-click URL of a token.
    pub fn url(&self, token: &str) -> String {
        format!("{}/u/{token}", self.url)
    }

    /// The fields for the top of a message of `tenant` in `campaign` to `recipient` (its
    /// suppression identity), accepted at `now` (unix ms), each ending in CRLF.
    pub fn fields(&self, tenant: &str, recipient: &str, campaign: &str, now: u64) -> String {
        let token = token::sign(
            &self.keys,
            &Claims {
                tenant: tenant.into(),
                recipient: recipient.into(),
                campaign: campaign.into(),
                issued: now / 1000,
            },
        );
        format!(
            "List-Unsubscribe: <{url}>,\r\n <mailto:{address}?subject={token}>\r\n\
             List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            url = self.url(&token),
            address = self.address,
        )
    }

    /// What a token names, if it is genuine (no effect: the confirmation page's question).
    pub fn claims(&self, token: &str) -> Option<Claims> {
        token::verify(&self.keys, token)
    }

    /// Carries out the unsubscribe a token names: suppressed for the tenant's bulk mail at once,
    /// audited, and passed on to the tenant in the background.
    pub async fn unsubscribe(&self, token: &str, via: Via) -> Result<Hit, UnsubscribeError> {
        let claims = self.claims(token).ok_or(UnsubscribeError::InvalidToken)?;
        let store = &self.notifier.store;
        let now = now_ms();
        let was_suppressed = store.suppression_contains(&claims.tenant, &claims.recipient).await?;
        if !was_suppressed {
            let entry = Suppression {
                address: claims.recipient.clone(),
                at: now,
                reason: REASON.into(),
            };
            store.suppression_add(&claims.tenant, &entry).await?;
        }
        // The first hit for this recipient of this tenant (on every node sharing the store) is
        // audited and passed on; a repeated one (a second click, the mailto after the link) only
        // confirms the suppression. Written after the suppression: a failure is retried.
        let marker =
            crate::store::Key::new("unsubscribe.hit", &claims.tenant).part(claims.recipient.to_ascii_lowercase());
        let new = store
            .events_check_and_add(&marker, now, HIT_REMEMBERED, 1)
            .await?
            .admitted;
        let hit = Hit {
            tenant: claims.tenant,
            recipient: claims.recipient,
            campaign: claims.campaign,
            at: now,
            via,
            new,
        };
        let record = AuditRecord {
            at: now,
            actor: "unsubscribe".into(),
            action: "unsubscribe".into(),
            target: hit.recipient.clone(),
            reason: match via {
                Via::OneClick => "one-click unsubscribe".into(),
                Via::Mail => "unsubscribe by mail".into(),
            },
            detail: serde_json::json!({
                "campaign": hit.campaign,
                "issued": claims.issued,
                "already_suppressed": was_suppressed,
            }),
        };
        tracing::info!(tenant = %hit.tenant, campaign = %hit.campaign, via = ?via, new, "unsubscribe");
        if new {
            if let Err(error) = store.audit_append(&hit.tenant, &record).await {
                tracing::error!(tenant = %hit.tenant, %error, "audit of an unsubscribe failed");
            }
            tokio::spawn(self.notifier.clone().pass_on(hit.clone()));
        }
        Ok(hit)
    }

    /// Mail to the unsubscribe address, `raw` the message. The token is read from the subject,
    /// where the gateway's mailto writes it. Meant for the SMTP session's local mailbox: an
    /// `Err` is mail to drop (or refuse), never to relay.
    pub async fn handle_unsubscribe_mail(&self, raw: &[u8]) -> Result<Hit, UnsubscribeError> {
        let token =
            mailto_token(raw, |candidate| self.claims(candidate).is_some()).ok_or(UnsubscribeError::InvalidToken)?;
        self.unsubscribe(&token, Via::Mail).await
    }
}

impl Notifier {
    /// Tells the tenant: its webhook, or a notice (also when the webhook fails).
    async fn pass_on(self, hit: Hit) {
        let (notify, webhook) = self.config.notify_for(&hit.tenant);
        if notify == UnsubscribeNotify::Webhook {
            if let Some(url) = webhook {
                match self.post(url, &hit).await {
                    Ok(()) => {
                        self.audit(&hit, "webhook", url).await;
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(tenant = %hit.tenant, url, %error, "unsubscribe webhook failed; sending a notice");
                    }
                }
            }
        }
        let notice = Notice {
            tenant: hit.tenant.clone(),
            kind: NoticeKind::Unsubscribe,
            reason: format!(
                "The recipient {recipient} unsubscribed ({via}) from your mail of campaign {campaign}.\r\n\
                 The gateway has suppressed {recipient} for your bulk mail: remove it from your list.",
                recipient = hit.recipient,
                campaign = hit.campaign,
                via = match hit.via {
                    Via::OneClick => "one-click link",
                    Via::Mail => "by mail",
                },
            ),
            copies: Vec::new(),
        };
        if let Err(error) = self.notices.send(&notice).await {
            tracing::error!(tenant = %hit.tenant, %error, "cannot send the unsubscribe notice");
        }
    }

    async fn post(&self, url: &str, hit: &Hit) -> Result<(), String> {
        let body = serde_json::json!({
            "event": "unsubscribe",
            "tenant": hit.tenant,
            "recipient": hit.recipient,
            "campaign": hit.campaign,
            "at": hit.at,
            "via": hit.via,
        });
        let http = self.http.as_ref().map_err(|why| format!("no HTTP client: {why}"))?;
        let response = http
            .post(url)
            .timeout(WEBHOOK_TIMEOUT)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", response.status()))
        }
    }

    async fn audit(&self, hit: &Hit, how: &str, to: &str) {
        let record = AuditRecord {
            at: now_ms(),
            actor: "unsubscribe".into(),
            action: "unsubscribe.notify".into(),
            target: hit.recipient.clone(),
            reason: format!("passed to the tenant by {how}"),
            detail: serde_json::json!({ "to": to }),
        };
        if let Err(error) = self.store.audit_append(&hit.tenant, &record).await {
            tracing::error!(tenant = %hit.tenant, %error, "audit of an unsubscribe notification failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::complaints::model::ComplaintFut;
    use crate::config::TraceKeyConfig;

    /// Records the notices it is asked to send.
    #[derive(Default)]
    struct Recorder(std::sync::Mutex<Vec<Notice>>);

    impl NoticeSender for Recorder {
        fn send<'a>(&'a self, notice: &'a Notice) -> ComplaintFut<'a, String> {
            self.0.lock().unwrap().push(notice.clone());
            Box::pin(std::future::ready(Ok("Q".to_string())))
        }
    }

    fn keys() -> TraceKeys {
        TraceKeys::from_config(&[TraceKeyConfig {
            id: "k1".into(),
            secret: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]),
        }])
        .unwrap()
    }

    fn unsubscriber(dir: &std::path::Path, notices: Arc<Recorder>) -> (Unsubscriber, Arc<dyn RateStore>) {
        let store: Arc<dyn RateStore> =
            Arc::new(crate::store::rocks::RocksStore::open(&dir.join("store"), Duration::from_secs(86_400)).unwrap());
        let mut config = Config::default();
        config.server.hostname = "gw.example".into();
        (Unsubscriber::new(&config, keys(), store.clone(), notices), store)
    }

    /// The token in the mailto of `fields`.
    fn mailto_token_of(fields: &str) -> String {
        fields
            .split("?subject=")
            .nth(1)
            .unwrap()
            .split('>')
            .next()
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_fields_carry_the_link_and_the_address_with_one_token() {
        let dir = tempfile::tempdir().unwrap();
        let (unsubscriber, _) = unsubscriber(dir.path(), Arc::default());
        let fields = unsubscriber.fields("acme", "bob@dest.example", "c1", 1_800_000_000_000);
        let token = mailto_token_of(&fields);
        assert_eq!(
            fields,
            format!(
                "List-Unsubscribe: <https://gw.example/u/{token}>,\r\n <mailto:unsubscribe@gw.example?subject={token}>\r\n\
                 List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            )
        );
        let claims = unsubscriber.claims(&token).expect("genuine");
        assert_eq!(
            claims,
            Claims {
                tenant: "acme".into(),
                recipient: "bob@dest.example".into(),
                campaign: "c1".into(),
                issued: 1_800_000_000,
            }
        );
    }

    #[tokio::test]
    async fn handle_unsubscribe_mail_suppresses_once_and_tells_the_tenant_once() {
        let dir = tempfile::tempdir().unwrap();
        let notices = Arc::new(Recorder::default());
        let (unsubscriber, store) = unsubscriber(dir.path(), notices.clone());
        let token = mailto_token_of(&unsubscriber.fields("acme", "bob@dest.example", "c1", 1_800_000_000_000));
        let raw = format!("From: bob@dest.example\r\nSubject: {token}\r\n\r\n");

        // Forged, or no token at all: nothing happens.
        let forged = raw.replacen("u1.k1.", "u1.k1.A", 1);
        for bad in [forged.as_str(), "Subject: unsubscribe me\r\n\r\n", ""] {
            let result = unsubscriber.handle_unsubscribe_mail(bad.as_bytes()).await;
            assert!(matches!(result, Err(UnsubscribeError::InvalidToken)), "{bad}");
        }
        assert!(store.suppression_list("acme").await.unwrap().is_empty());

        let hit = unsubscriber
            .handle_unsubscribe_mail(raw.as_bytes())
            .await
            .expect("unsubscribed");
        assert_eq!(
            (
                hit.tenant.as_str(),
                hit.recipient.as_str(),
                hit.campaign.as_str(),
                hit.via,
                hit.new
            ),
            ("acme", "bob@dest.example", "c1", Via::Mail, true)
        );
        let list = store.suppression_list("acme").await.unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].address.as_str(), list[0].reason.as_str()),
            ("bob@dest.example", REASON)
        );
        // Passed on in the background: a notice (no webhook configured).
        for _ in 0..100 {
            if !notices.0.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let sent = notices.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            (sent[0].tenant.as_str(), sent[0].kind),
            ("acme", NoticeKind::Unsubscribe)
        );
        assert!(sent[0].reason.contains("bob@dest.example"), "{}", sent[0].reason);

        // The same mail again: still suppressed, not told twice.
        let again = unsubscriber
            .handle_unsubscribe_mail(raw.as_bytes())
            .await
            .expect("still fine");
        assert!(!again.new);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(notices.0.lock().unwrap().len(), 1);
        assert_eq!(store.suppression_list("acme").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_repeated_hit_is_not_audited_or_told_again_but_a_first_one_always_is() {
        let dir = tempfile::tempdir().unwrap();
        let notices = Arc::new(Recorder::default());
        let (unsubscriber, store) = unsubscriber(dir.path(), notices.clone());
        // Suppressed already, by a complaint: the unsubscribe is still news to the tenant.
        let complaint = Suppression {
            address: "bob@dest.example".into(),
            at: 1,
            reason: "complaint".into(),
        };
        store.suppression_add("acme", &complaint).await.unwrap();
        let token = mailto_token_of(&unsubscriber.fields("acme", "bob@dest.example", "c1", 1_800_000_000_000));
        let first = unsubscriber.unsubscribe(&token, Via::OneClick).await.unwrap();
        assert!(first.new);
        for _ in 0..3 {
            let again = unsubscriber.unsubscribe(&token, Via::OneClick).await.unwrap();
            assert!(!again.new);
        }
        let audits = store.audit_range("acme", 0, u64::MAX).await.unwrap();
        let unsubscribes: Vec<_> = audits.iter().filter(|a| a.action == "unsubscribe").collect();
        assert_eq!(unsubscribes.len(), 1, "{audits:?}");
        assert_eq!(unsubscribes[0].detail["already_suppressed"], true);
        for _ in 0..100 {
            if !notices.0.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(notices.0.lock().unwrap().len(), 1);
        // The suppression keeps its first reason.
        assert_eq!(store.suppression_list("acme").await.unwrap()[0].reason, "complaint");
    }

    #[tokio::test]
    async fn the_webhook_does_not_follow_redirects() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Where the redirect points: counts the requests it gets.
        let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_addr = target.local_addr().unwrap();
        let reached = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = reached.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = target.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
            }
        });
        let webhook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let webhook_addr = webhook.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = webhook.accept().await {
                let mut buf = vec![0u8; 8192];
                let _ = conn.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{target_addr}/\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let (unsubscriber, _store) = unsubscriber(dir.path(), Arc::new(Recorder::default()));
        let hit = Hit {
            tenant: "acme".into(),
            recipient: "bob@dest.example".into(),
            campaign: "c1".into(),
            at: 1,
            via: Via::OneClick,
            new: true,
        };
        let answer = unsubscriber
            .notifier
            .post(&format!("http://{webhook_addr}/hook"), &hit)
            .await;
        assert_eq!(answer, Err("answered 307 Temporary Redirect".to_string()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
