//! What the DATA checks share about one message, computed once: the recipients' counting
//! identities and the message's campaign (DESIGN.md "Campaign": the body's MinHash/LSH band keys
//! looked up in the store's campaign index, so personalised variants share a campaign id); and
//! the charges the checks make (set members, occurrences, quota counts), noted so that a message
//! that is not accepted after all
//! (refused by a later recipient or check, deferred by authentication, or not queued) has them
//! taken back ([`Charges::release`]): only accepted mail counts (DESIGN.md step 5).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use super::Env;
use crate::fingerprint;
use crate::policy::recipient::identity;
use crate::policy::{CheckError, DataContext};
use crate::store::{CampaignMatch, Charge as CounterCharge, Key, RateStore, SetCharge};

/// One charge a check made for a message.
#[derive(Debug)]
pub(crate) enum Charge {
    /// A new member of a distinct set (a bulk or SMS recipient).
    Member { key: Key, member: String, window: Duration },
    /// One occurrence in an event log (a mail-bomb message).
    Occurrence { key: Key, window: Duration },
    /// `n` on a windowed counter (a quota).
    Count { key: Key, n: u64, window: Duration },
}

/// The charges made for one message at one time, to take back if it is not accepted.
#[derive(Debug, Default)]
pub struct Charges {
    at: u64,
    taken: Vec<Charge>,
}

impl Charges {
    /// Charges made at `at` (tests build them directly).
    #[cfg(test)]
    pub(crate) fn of(at: u64, taken: Vec<Charge>) -> Charges {
        Charges { at, taken }
    }

    /// When they were made (unix ms).
    pub fn at(&self) -> u64 {
        self.at
    }

    /// The counter charges among them: (key, n, window).
    pub fn counts(&self) -> impl Iterator<Item = (&Key, u64, Duration)> {
        self.taken.iter().filter_map(|charge| match charge {
            Charge::Count { key, n, window } => Some((key, *n, *window)),
            _ => None,
        })
    }

    /// True when nothing was charged.
    pub fn is_empty(&self) -> bool {
        self.taken.is_empty()
    }

    /// Takes every charge back. A store failure here is logged and leaves the charge (which can
    /// only make a limit trip earlier, never later).
    pub async fn release(self, store: &dyn RateStore) {
        for charge in self.taken {
            let result = match &charge {
                Charge::Member { key, member, window } => {
                    store.set_release(key, member.as_bytes(), self.at, *window).await
                }
                Charge::Occurrence { key, window } => store.events_release(key, self.at, *window).await,
                Charge::Count { key, n, window } => store.counter_release(key, *n, self.at, *window).await,
            };
            if let Err(error) = result {
                tracing::error!(%error, "cannot take back the charge of a message that was not accepted");
            }
        }
    }
}

/// What the DATA checks share about one message. The campaign is looked up on first use, so
/// the cheap checks (headers, attachments) run before the store is touched.
pub struct DataFacts {
    /// Counting identities of the envelope recipients, de-duplicated.
    pub recipients: Vec<String>,
    /// For each of `recipients`, how many envelope recipients have that identity: the copies
    /// of the message that reach it (`bob+1@x` and `bob+2@x` are two messages to `bob@x`).
    pub copies: Vec<u32>,
    /// The body's fingerprint band keys, computed once and shared with the planning copy.
    band_keys: Arc<OnceLock<Vec<u64>>>,
    campaign: tokio::sync::OnceCell<CampaignMatch>,
    charges: Mutex<Vec<Charge>>,
}

impl DataFacts {
    pub fn gather(ctx: &DataContext<'_>, strip_subaddress: bool) -> DataFacts {
        let mut all: Vec<String> = ctx
            .recipients
            .iter()
            .map(|r| identity(&r.to_address(), strip_subaddress))
            .collect();
        all.sort();
        let (mut recipients, mut copies) = (Vec::new(), Vec::new());
        for same in all.chunk_by(|a, b| a == b) {
            recipients.push(same[0].clone());
            copies.push(same.len() as u32);
        }
        DataFacts {
            copies,
            recipients,
            band_keys: Arc::default(),
            campaign: tokio::sync::OnceCell::new(),
            charges: Mutex::new(Vec::new()),
        }
    }

    /// Facts for planning the stage's batch (`policy::batching`): the same recipients and
    /// fingerprint, a campaign and charges of their own.
    pub fn planning_copy(&self) -> DataFacts {
        DataFacts {
            recipients: self.recipients.clone(),
            copies: self.copies.clone(),
            band_keys: Arc::clone(&self.band_keys),
            campaign: tokio::sync::OnceCell::new(),
            charges: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn note(&self, charge: Charge) {
        self.charges.lock().unwrap_or_else(PoisonError::into_inner).push(charge);
    }

    /// Adds `member` to the capped distinct set `key` over `window` (check-and-charge, atomic
    /// per key) and notes the charge when it made `member` new, so it can be taken back.
    pub(crate) async fn charge_member(
        &self,
        env: &Env<'_>,
        key: Key,
        member: &str,
        window: Duration,
        cap: u32,
    ) -> Result<SetCharge, CheckError> {
        let charge = env
            .ops
            .set_check_and_add(&key, member.as_bytes(), env.now, window, cap)
            .await?;
        if charge.admitted && !charge.already_member {
            self.note(Charge::Member {
                key,
                member: member.to_string(),
                window,
            });
        }
        Ok(charge)
    }

    /// Adds `n` to the counter `key` if its total over `window` stays within `limit`
    /// (check-and-charge, atomic per key) and notes the charge, so it can be taken back.
    pub(crate) async fn charge_count(
        &self,
        env: &Env<'_>,
        key: Key,
        n: u64,
        limit: u64,
        window: Duration,
    ) -> Result<CounterCharge, CheckError> {
        let charge = env.ops.counter_check_and_add(&key, n, limit, env.now, window).await?;
        if matches!(charge, CounterCharge::Charged { .. }) && n > 0 {
            self.note(Charge::Count { key, n, window });
        }
        Ok(charge)
    }

    /// The charges the checks made, all at `at` (the decision's time).
    pub fn into_charges(self, at: u64) -> Charges {
        Charges {
            at,
            taken: self.charges.into_inner().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// The message's campaign id (fingerprint → store campaign index), computed once.
    pub async fn campaign(&self, env: &Env<'_>, ctx: &DataContext<'_>) -> Result<&str, CheckError> {
        self.campaign
            .get_or_try_init(|| async {
                let band_keys = self.band_keys.get_or_init(|| {
                    let print = fingerprint::fingerprint_message(ctx.message);
                    let banding = fingerprint::Banding::for_threshold(env.profile.fingerprint.similarity);
                    print.band_keys_with(banding)
                });
                // `Fingerprint::campaign_id`, from the keys already computed.
                let candidate = format!("{:016x}", band_keys.iter().copied().min().unwrap_or(0));
                let window = env.profile.bulk.window.get().max(env.profile.mail_bomb.window.get());
                env.ops
                    .campaign_lookup_or_insert(
                        &ctx.tenant.id,
                        band_keys,
                        &candidate,
                        env.now,
                        window,
                        &ctx.tenant.narrow_blocks.pinned_campaigns(),
                    )
                    .await
                    .map_err(CheckError::Store)
            })
            .await
            .map(|found| found.id.as_str())
    }

    /// The other campaigns this message's band keys named (merged into its campaign), once
    /// [`DataFacts::campaign`] has run.
    pub fn merged_campaigns(&self) -> &[String] {
        self.campaign
            .get()
            .map(|found| found.merged.as_slice())
            .unwrap_or_default()
    }

    /// The campaign id if it was looked up (for the event log).
    pub fn campaign_if_known(&self) -> &str {
        self.campaign.get().map(|found| found.id.as_str()).unwrap_or("-")
    }
}
