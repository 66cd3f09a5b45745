//! The feedback addresses as a local mailbox (`smtp::local`): mail to any of `[feedback]
//! addresses` (and `cfbl_address`) is taken on every listener from any client, without AUTH, and handed to
//! [`Intake`]; it is never queued or relayed.
//!
//! - Size: `[feedback] max_report_size` (`552 5.3.4` above it).
//! - Rate: `[feedback] max_reports_per_client` per client address (an IPv6 client by its /64),
//!   counted at the transaction's first feedback recipient in the rate store (so every node
//!   sharing it counts together): `451 4.7.1` over it.
//! - `250` only once the complaint is stored (a duplicate or a report that is no complaint is
//!   answered `250` too: the sender has nothing to retry); a store failure is `451 4.3.0` and the
//!   reporter's retry is deduplicated.

use std::net::IpAddr;
use std::sync::Arc;

use super::client_rate::{Admission, ClientRate};
use super::intake::{Intake, IntakeError, Outcome};
use super::model::ComplaintSource;
use crate::config::Rate;
use crate::queue::now_ms;
use crate::smtp::local::{LocalFut, LocalMailbox};
use crate::smtp::reply::{self, Reply};
use crate::store::RateStore;

/// The addresses taken as the feedback mailbox: `[feedback] addresses` and `cfbl_address` (the
/// address relayed mail names to CFBL-aware receivers), each once, lower case.
pub fn feedback_addresses(config: &crate::config::FeedbackConfig) -> Vec<String> {
    let mut addresses: Vec<String> = config
        .addresses
        .iter()
        .chain(config.cfbl_address.iter())
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// The counter kind of reports per client address.
const RATE_KIND: &str = "feedback.reports.addr";

/// `[feedback] addresses` as a local mailbox.
pub struct FeedbackMailbox {
    intake: Arc<Intake>,
    addresses: Vec<String>,
    rate: ClientRate,
}

impl FeedbackMailbox {
    pub fn new(intake: Arc<Intake>, store: Arc<dyn RateStore>, addresses: &[String], rate: Rate) -> FeedbackMailbox {
        FeedbackMailbox {
            intake,
            addresses: addresses.iter().map(|a| a.to_ascii_lowercase()).collect(),
            rate: ClientRate::new(store, RATE_KIND, rate),
        }
    }
}

impl LocalMailbox for FeedbackMailbox {
    fn accepts(&self, address: &str) -> bool {
        let address = address.to_ascii_lowercase();
        self.addresses.contains(&address)
    }

    fn max_size(&self) -> u64 {
        self.intake.max_size() as u64
    }

    fn admit<'a>(&'a self, client: IpAddr) -> LocalFut<'a, Option<Reply>> {
        Box::pin(async move {
            match self.rate.admit(client).await {
                Admission::Admitted => None,
                Admission::OverRate => {
                    tracing::info!(%client, "feedback reports over the rate");
                    Some(reply::reports_rate_exceeded(
                        self.rate.count(),
                        &self.rate.window_text(),
                    ))
                }
                Admission::Failed(error) => {
                    tracing::error!(%error, "counting feedback reports failed");
                    Some(reply::report_store_failed())
                }
            }
        })
    }

    fn deliver<'a>(&'a self, client: IpAddr, _recipients: &'a [String], message: Vec<u8>) -> LocalFut<'a, Reply> {
        Box::pin(async move {
            match self.intake.report(&message, ComplaintSource::Smtp, now_ms()).await {
                Ok(Outcome::Recorded {
                    id, tenant: Some(_), ..
                }) => reply::report_received(&format!("complaint {id}")),
                Ok(Outcome::Recorded { id, tenant: None, .. }) => {
                    reply::report_received(&format!("complaint {id} (unattributed)"))
                }
                Ok(Outcome::Duplicate { id }) => reply::report_received(&format!("duplicate of complaint {id}")),
                Ok(Outcome::Ignored { reason }) => reply::report_received(&format!("not a complaint ({reason})")),
                Err(IntakeError::Report(super::report::ReportError::TooBig { limit, .. })) => {
                    reply::size_exceeded(limit as u64)
                }
                Err(IntakeError::Invalid(why)) => reply::report_received(&format!("not a complaint ({why})")),
                Err(IntakeError::Complaint(error)) => {
                    tracing::error!(%client, %error, "storing a feedback report failed");
                    reply::report_store_failed()
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::feedback_addresses;
    use crate::config::FeedbackConfig;

    #[test]
    fn the_cfbl_address_is_a_feedback_address() {
        let config = FeedbackConfig {
            addresses: vec!["FBL@gw.example".into(), "arf@gw.example".into()],
            cfbl_address: Some("fbl@gw.example".into()),
            ..FeedbackConfig::default()
        };
        assert_eq!(feedback_addresses(&config), ["arf@gw.example", "fbl@gw.example"]);
        let only_cfbl = FeedbackConfig {
            cfbl_address: Some("cfbl@gw.example".into()),
            ..FeedbackConfig::default()
        };
        assert_eq!(feedback_addresses(&only_cfbl), ["cfbl@gw.example"]);
        assert!(feedback_addresses(&FeedbackConfig::default()).is_empty());
    }
}
