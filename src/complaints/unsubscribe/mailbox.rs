//! The unsubscribe `mailto:` as an SMTP local mailbox: mail to `[unsubscribe] address` (also
//! with a `+detail`) is taken by the gateway itself, from any client without AUTH, and never
//! relayed. A genuine token suppresses the recipient at once (`250 2.0.0`); a forged, altered
//! or missing one is refused (`550 5.7.1`) and changes nothing; a store failure defers
//! (`451 4.3.0`), so the hit is not lost. Rate: `[unsubscribe] max_mails_per_client` per client
//! address (`451 4.7.1` over it; the feedback mailbox's [`ClientRate`]).

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{UnsubscribeError, Unsubscriber};
use crate::complaints::client_rate::{Admission, ClientRate};
use crate::smtp::local::{LocalFut, LocalMailbox};
use crate::wire::reply::{self, Reply};

/// The counter kind of unsubscribe mails per client address.
const RATE_KIND: &str = "unsubscribe.mails.addr";

/// An unsubscribe mail is a short message; a larger one is no unsubscribe.
const MAX_UNSUBSCRIBE_MAIL: u64 = 64 * 1024;

/// The local mailbox of the unsubscribe address.
pub struct UnsubscribeMailbox {
    unsubscriber: Arc<Unsubscriber>,
    rate: ClientRate,
    /// `local` and `domain` of the address, lower-cased.
    local: String,
    domain: String,
    /// Whether a loaded profile adds the gateway's List-Unsubscribe (set at start and at each
    /// policy reload): only then does the address take mail.
    open: Arc<AtomicBool>,
}

impl UnsubscribeMailbox {
    /// The mailbox, taking mail while `open` is set.
    pub fn new(unsubscriber: Arc<Unsubscriber>, open: Arc<AtomicBool>) -> UnsubscribeMailbox {
        let address = unsubscriber.address().to_ascii_lowercase();
        let (local, domain) = address.rsplit_once('@').unwrap_or((address.as_str(), ""));
        UnsubscribeMailbox {
            rate: ClientRate::new(unsubscriber.store(), RATE_KIND, unsubscriber.mail_rate()),
            local: local.to_string(),
            domain: domain.to_string(),
            unsubscriber,
            open,
        }
    }
}

impl LocalMailbox for UnsubscribeMailbox {
    fn open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    fn accepts(&self, address: &str) -> bool {
        let address = address.to_ascii_lowercase();
        let Some((local, domain)) = address.rsplit_once('@') else {
            return false;
        };
        let base = local.split_once('+').map_or(local, |(base, _)| base);
        !self.local.is_empty() && base == self.local && domain == self.domain
    }

    fn max_size(&self) -> u64 {
        MAX_UNSUBSCRIBE_MAIL
    }

    fn admit<'a>(&'a self, client: IpAddr) -> LocalFut<'a, Option<Reply>> {
        Box::pin(async move {
            match self.rate.admit(client).await {
                Admission::Admitted => None,
                Admission::OverRate => {
                    tracing::info!(%client, "unsubscribe mails over the rate");
                    Some(reply::unsubscribes_rate_exceeded(
                        self.rate.count(),
                        &self.rate.window_text(),
                    ))
                }
                Admission::Failed(error) => {
                    tracing::error!(%error, "counting unsubscribe mails failed");
                    Some(reply::unsubscribe_store_failed())
                }
            }
        })
    }

    /// The token is in the message (its subject), so the message is read once, however many
    /// times it names the mailbox.
    fn deliver<'a>(&'a self, client: IpAddr, _recipients: &'a [String], message: Vec<u8>) -> LocalFut<'a, Reply> {
        Box::pin(async move {
            match self.unsubscriber.handle_unsubscribe_mail(&message).await {
                Ok(_) => reply::unsubscribed(),
                Err(UnsubscribeError::InvalidToken) => {
                    tracing::info!(%client, "unsubscribe mail without a genuine token");
                    reply::unsubscribe_token_invalid()
                }
                Err(UnsubscribeError::Store(error)) => {
                    tracing::error!(%client, %error, "recording an unsubscribe by mail failed");
                    reply::unsubscribe_store_failed()
                }
            }
        })
    }
}
