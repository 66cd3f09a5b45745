//! Relay (Postfix's `qmgr` + `smtp`): takes due messages from the queue, groups recipients by
//! destination, delivers with per-destination concurrency limits, retries temporary failures with
//! exponential backoff, and returns a DSN to the sender for permanent failures and expiry.
//! MAIL FROM declares again what the client declared (SMTPUTF8, BODY=8BITMIME) and the size, when
//! the next hop offers each; what a hop cannot take is returned, never converted (`envelope`).

pub mod client;
pub mod dane;
mod dsn;
mod envelope;
pub mod mta_sts;
mod pool;
// A next hop's reply, parsed: a wire value, which the queue stores too.
pub use crate::wire::response;
pub mod route;
pub mod tls;
mod tls_policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use crate::complaints::outcomes::{Outcome as CountedOutcome, OutcomeCounter};
use crate::config::Config;
use crate::dns::Dns;
use crate::queue::{now_ms, Queue, QueueEntry, QueueError, RecipientStatus};
use client::{HopSettings, Outcome, Transaction};
use response::{EnhancedStatus, Reason, Response};
use route::RouteError;

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum RelaySetupError {
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
    #[error(transparent)]
    MtaSts(#[from] mta_sts::MtaStsSetupError),
}

/// The delivery side of the gateway.
pub struct Relay {
    config: Arc<Config>,
    queue: Queue,
    dns: Dns,
    workers: Arc<Semaphore>,
    destinations: Mutex<HashMap<String, Arc<Semaphore>>>,
    pool: pool::Pool,
    store: Arc<dyn crate::store::RateStore>,
    connectors: tls::Connectors,
    mta_sts: Option<mta_sts::MtaSts>,
    /// The validating resolver DANE asks (MX mode with `[dns] dnssec`).
    dnssec: Option<crate::dns::secure::SecureResolver>,
    /// Counts each recipient's outcome per tenant and campaign (`complaints::outcomes`), once
    /// set.
    outcomes: std::sync::OnceLock<Arc<OutcomeCounter>>,
}

impl Relay {
    pub fn new(
        config: Arc<Config>,
        queue: Queue,
        dns: Dns,
        store: Arc<dyn crate::store::RateStore>,
    ) -> Result<Arc<Relay>, RelaySetupError> {
        let connectors = tls::Connectors::new(&config.relay)?;
        let mta_sts = (config.relay.mode == crate::config::RelayMode::Mx && config.relay.mta_sts)
            .then(|| mta_sts::MtaSts::new(dns.clone(), &connectors, &config.relay))
            .transpose()?;
        let dnssec = (config.relay.mode == crate::config::RelayMode::Mx && config.dns.dnssec).then(|| {
            crate::dns::secure::SecureResolver::new(
                config.dns.nameservers.iter().filter_map(|s| s.parse().ok()).collect(),
                config.dns.timeout.get(),
            )
        });
        Ok(Arc::new(Relay {
            store,
            connectors,
            mta_sts,
            dnssec,
            workers: Arc::new(Semaphore::new(config.relay.workers)),
            pool: pool::Pool::new(config.relay.per_destination_concurrency),
            config,
            queue,
            dns,
            destinations: Mutex::new(HashMap::new()),
            outcomes: std::sync::OnceLock::new(),
        }))
    }

    /// From now on, the outcomes of tenants' recipients are counted by `counter` (set once).
    pub fn count_outcomes(&self, counter: Arc<OutcomeCounter>) {
        let _ = self.outcomes.set(counter);
    }

    /// Counts one attempt's outcomes of a tenant's message (never the gateway's own mail), in a
    /// task of its own: delivery never waits on the counters or on what they tell (the rate
    /// ladders and their lock). Call it after the entry is settled.
    fn count(&self, entry: &QueueEntry, outcomes: Vec<CountedOutcome>) {
        let Some(counter) = self.outcomes.get() else {
            return;
        };
        if entry.own || outcomes.is_empty() {
            return;
        }
        let campaign = counter.campaign_of(&entry.tenant, &entry.trace);
        let (counter, tenant) = (counter.clone(), entry.tenant.clone());
        tokio::spawn(async move { counter.count(&tenant, &campaign, &outcomes, now_ms()).await });
    }

    /// Runs the dispatcher until shutdown: every due message gets a worker.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let id = tokio::select! {
                id = self.queue.next_due() => id,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let permit = tokio::select! {
                permit = self.workers.clone().acquire_owned() => permit,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let Ok(permit) = permit else { break };
            let relay = self.clone();
            tokio::spawn(async move {
                relay.attempt(&id).await;
                drop(permit);
            });
        }
    }

    /// One delivery attempt for every pending recipient of one message.
    async fn attempt(&self, id: &str) {
        let (mut entry, body) = match self.queue.load(id).await {
            Ok(loaded) => loaded,
            Err(QueueError::NotFound(_)) | Err(QueueError::Corrupt(_)) => return,
            Err(error) => {
                tracing::error!(queue_id = id, %error, "cannot read queue entry; retrying later");
                self.queue
                    .requeue_id(id, now_ms() + self.config.queue.retry_initial.get().as_millis() as u64);
                return;
            }
        };
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, recipient) in entry.recipients.iter().enumerate() {
            if recipient.status == RecipientStatus::Pending {
                let domain = recipient.address.rsplit('@').next().unwrap_or("").to_string();
                let domain = crate::tenant::normalize_domain(&domain).unwrap_or(domain);
                groups.entry(domain).or_default().push(index);
            }
        }
        let mut counted = Vec::new();
        for (domain, indexes) in groups {
            let outcomes = self.deliver_group(&entry, &body, &domain, &indexes).await;
            for (index, outcome) in indexes.into_iter().zip(outcomes) {
                let recipient = &mut entry.recipients[index];
                let (status, reply, label) = match outcome {
                    Outcome::Delivered(reply) => (RecipientStatus::Delivered, Reason::Response(reply), "delivered"),
                    Outcome::Temporary(reason) => (RecipientStatus::Pending, reason, "deferred"),
                    Outcome::Permanent(reason) => (RecipientStatus::Failed, reason, "failed"),
                };
                counted.push(counted_outcome(status, &reply));
                tracing::info!(queue_id = %entry.id, tenant = %entry.tenant, recipient = %recipient.address, outcome = label, reply = %reply, attempt = entry.attempts + 1, "delivery attempt");
                crate::telemetry::delivery(label);
                if hard_bounced(status, &reply) && !entry.own {
                    self.suppress(&entry.tenant, &recipient.address, &reply.to_string())
                        .await;
                }
                recipient.status = status;
                recipient.last_reply = Some(reply);
            }
        }
        entry.attempts += 1;
        // Settle first (the next attempt, the DSN, the removal), then count: the queue never
        // waits on the counters.
        let counting = entry.clone();
        self.settle(entry, &body).await;
        self.count(&counting, counted);
    }

    /// The outcomes of one domain's recipients (each reason names the next hop that gave it,
    /// if one did).
    async fn deliver_group(&self, entry: &QueueEntry, body: &[u8], domain: &str, indexes: &[usize]) -> Vec<Outcome> {
        let recipients: Vec<String> = indexes.iter().map(|&i| entry.recipients[i].address.clone()).collect();
        let all = |make: fn(Reason) -> Outcome, reason: Reason| {
            recipients.iter().map(|_| make(reason.clone())).collect::<Vec<_>>()
        };
        let limit = self.destination(&route::destination_key(&self.config.relay, domain));
        let Ok(_permit) = limit.acquire_owned().await else {
            return all(
                Outcome::Temporary,
                Response::new(451, Some(EnhancedStatus::new(4, 3, 0)), "relay shutting down").into(),
            );
        };
        let hops = match route::route(&self.config.relay, &self.dns, domain).await {
            Ok(hops) => hops,
            Err(RouteError::Temporary(reason)) => return all(Outcome::Temporary, reason),
            Err(RouteError::Permanent(reply)) => return all(Outcome::Permanent, reply.into()),
        };
        let policies = tls_policy::Policies {
            configured: self.config.relay.starttls,
            dnssec: self.dnssec.as_ref(),
            mta_sts: self.mta_sts.as_ref(),
            port: self.config.relay.mx_port,
        };
        let hops = match tls_policy::plan(&policies, domain, hops, &entry.id).await {
            Ok(hops) => hops,
            Err(reply) => return all(Outcome::Temporary, reply.into()),
        };
        let relay = &self.config.relay;
        let helo = relay
            .helo_name
            .clone()
            .unwrap_or_else(|| self.config.server.hostname.clone());
        let credentials = match (&relay.smarthost.username, &relay.smarthost.password) {
            (Some(user), Some(password)) if relay.mode == crate::config::RelayMode::Smarthost => {
                Some((user.clone(), password.clone()))
            }
            _ => None,
        };
        let tx = Transaction {
            sender: &entry.sender,
            recipients: &recipients,
            trace: entry.trace.as_bytes(),
            body,
            params: entry.mail_params(),
            content: envelope::Content::of(entry.trace.as_bytes(), body),
        };
        let mut last_failure = Reason::Response(Response::new(
            451,
            Some(EnhancedStatus::new(4, 4, 1)),
            "no next hop reachable",
        ));
        let (mut unsupported, mut temporary_failure) = (None, false);
        for (hop, tls) in hops {
            let settings = HopSettings {
                helo: &helo,
                tls: tls.mode,
                dane: tls.dane,
                connectors: &self.connectors,
                insecure_auth: relay.smarthost.insecure_auth && relay.mode == crate::config::RelayMode::Smarthost,
                implicit_tls: hop.implicit_tls,
                tls_name: &hop.name,
                credentials: credentials.clone(),
                timeout: relay.timeout.get(),
            };
            for address in &hop.addresses {
                match self.deliver_to(*address, &settings, &tx).await {
                    Ok(outcomes) => return outcomes,
                    Err(failure) if failure.is_permanent() => return all(Outcome::Permanent, failure.reason),
                    Err(failure) if failure.unsupported => {
                        tracing::info!(queue_id = %entry.id, hop = %hop.name, %address, reason = %failure.reason, "next hop cannot take the message; trying the next");
                        unsupported = Some(failure.reason);
                        // Its other addresses are the same host.
                        break;
                    }
                    Err(failure) => {
                        tracing::info!(queue_id = %entry.id, hop = %hop.name, %address, reason = %failure.reason, "next hop failed");
                        temporary_failure = true;
                        last_failure = failure.reason;
                    }
                }
            }
        }
        // Every host that answered lacks what the message needs: it can never be delivered
        // there. If some host could not be reached, it may yet take the message: retry.
        match unsupported {
            Some(reason) if !temporary_failure => all(Outcome::Permanent, reason),
            _ => all(Outcome::Temporary, last_failure),
        }
    }

    /// One transaction to one address, on a pooled connection when there is one. A pooled
    /// connection that fails is dropped and the transaction is tried once on a fresh one.
    async fn deliver_to(
        &self,
        address: std::net::SocketAddr,
        settings: &HopSettings<'_>,
        tx: &Transaction<'_>,
    ) -> Result<Vec<Outcome>, client::SessionFailure> {
        if let Some(mut connection) = self.pool.take(&client::HopKey::new(address, settings)) {
            if let Ok(outcomes) = client::transact(&mut connection, settings, tx).await {
                self.pool.give_back(connection);
                return Ok(outcomes);
            }
        }
        let mut connection = client::connect(address, settings).await?;
        let outcomes = client::transact(&mut connection, settings, tx).await?;
        self.pool.give_back(connection);
        Ok(outcomes)
    }

    /// After an attempt: finished → DSN for failures and removal; otherwise expire or retry.
    async fn settle(&self, mut entry: QueueEntry, body: &[u8]) {
        let now = now_ms();
        let pending = entry.pending().count();
        let age = Duration::from_millis(now.saturating_sub(entry.created_ms));
        if pending > 0 && age >= self.config.queue.max_age.get() {
            self.count(&entry, vec![CountedOutcome::Expired; pending]);
            for recipient in entry
                .recipients
                .iter_mut()
                .filter(|r| r.status == RecipientStatus::Pending)
            {
                recipient.status = RecipientStatus::Failed;
                recipient.last_reply = Some(Reason::Expired {
                    last: recipient.last_reply.take().map(Box::new),
                });
            }
        } else if pending > 0 {
            let backoff = self.backoff(entry.attempts);
            entry.next_attempt_ms = now + backoff.as_millis() as u64;
            if let Err(error) = self.queue.reschedule(&entry).await {
                tracing::error!(queue_id = %entry.id, %error, "cannot save delivery state");
                self.queue.requeue_id(&entry.id, entry.next_attempt_ms);
            }
            return;
        }
        if let Some(dsn) = dsn::build(
            &self.config.server.hostname,
            &entry.id,
            &entry.sender,
            &entry.recipients,
            body,
            entry.created_ms / 1000,
            now / 1000,
        ) {
            let id = self.queue.new_id();
            let bounce = QueueEntry::new(
                id.clone(),
                entry.tenant.clone(),
                String::new(),
                vec![dsn.recipient],
                String::new(),
                now,
            )
            .gateways_own();
            if let Err(error) = self.queue.enqueue(bounce, dsn.message).await {
                // Keep the original so the DSN is tried again rather than lost.
                tracing::error!(queue_id = %entry.id, %error, "cannot queue DSN; keeping the message");
                self.queue.requeue_id(
                    &entry.id,
                    now + self.config.queue.retry_initial.get().as_millis() as u64,
                );
                return;
            }
            tracing::info!(queue_id = %entry.id, dsn_id = %id, "DSN queued");
        }
        self.queue.remove(&entry.id);
    }

    /// Feeds the tenant's suppression list with a recipient that hard-bounced.
    async fn suppress(&self, tenant: &str, address: &str, reply: &str) {
        let entry = crate::store::Suppression {
            address: crate::policy::recipient::identity(address, true),
            at: now_ms(),
            reason: reply.to_string(),
        };
        if let Err(error) = self.store.suppression_add(tenant, &entry).await {
            tracing::error!(tenant, %error, "cannot record suppression");
        }
    }

    /// Exponential backoff: `retry_initial * 2^(attempts-1)`, at most `retry_max`.
    fn backoff(&self, attempts: u32) -> Duration {
        let initial = self.config.queue.retry_initial.get();
        let factor = 1u32.checked_shl(attempts.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
        initial.saturating_mul(factor).min(self.config.queue.retry_max.get())
    }

    fn destination(&self, key: &str) -> Arc<Semaphore> {
        let mut map = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.relay.per_destination_concurrency)))
            .clone()
    }
}

/// Whether a recipient's attempt hard-bounced: the next hop itself refused the address for good
/// (its reply names it, and its status says the address is bad: `5.1.x`, `5.2.1`). The one
/// definition behind both the suppression list and the bounce rate. The gateway's own permanent
/// failures are not hard bounces, even those with a bad-address status (no MX or address records,
/// a null MX): they rest on this gateway's DNS answers, and a resolver that wrongly answers
/// NXDOMAIN must cost the sender a DSN, never a suppression or a bounce-rate step.
fn hard_bounced(status: RecipientStatus, reason: &Reason) -> bool {
    status == RecipientStatus::Failed && reason.remote().is_some() && reason.is_hard_bounce()
}

/// What one recipient's attempt counts as (`complaints::outcomes`): a hard bounce
/// ([`hard_bounced`]); any other permanent failure — the gateway's own, or the next hop's for
/// another reason — is `failed`, counted apart and not in the bounce rate.
fn counted_outcome(status: RecipientStatus, reason: &Reason) -> CountedOutcome {
    match status {
        RecipientStatus::Delivered => CountedOutcome::Delivered,
        RecipientStatus::Pending => CountedOutcome::Deferred,
        RecipientStatus::Failed if hard_bounced(status, reason) => CountedOutcome::HardBounce,
        RecipientStatus::Failed => CountedOutcome::Failed,
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    #[test]
    fn only_the_next_hops_bad_address_reply_is_a_hard_bounce() {
        let from_hop = |code, status: &str, text: &str| {
            let mut reply = Response::new(code, EnhancedStatus::parse(status), text);
            reply.remote = Some("mx1.dest.example".into());
            reply
        };
        let bad_address: Reason = from_hop(550, "5.1.1", "no such user").into();
        let policy: Reason = from_hop(554, "5.7.1", "rejected").into();
        let at_mail = Reason::Refused {
            stage: response::Stage::Mail,
            reply: from_hop(550, "5.1.1", "sender unknown"),
        };
        let no_host: Reason = Response::new(
            550,
            Some(EnhancedStatus::new(5, 1, 2)),
            "Domain x.example has no MX or address records",
        )
        .into();
        let ours_bad: Reason = Response::new(550, EnhancedStatus::parse("5.1.1"), "ours").into();
        let local = Reason::Local("the next hop does not support SMTPUTF8".into());
        let failed = RecipientStatus::Failed;
        assert_eq!(counted_outcome(failed, &bad_address), CountedOutcome::HardBounce);
        assert_eq!(counted_outcome(failed, &policy), CountedOutcome::Failed);
        assert_eq!(counted_outcome(failed, &at_mail), CountedOutcome::Failed);
        assert_eq!(counted_outcome(failed, &no_host), CountedOutcome::Failed);
        assert_eq!(counted_outcome(failed, &ours_bad), CountedOutcome::Failed);
        assert_eq!(counted_outcome(failed, &local), CountedOutcome::Failed);
        assert_eq!(
            counted_outcome(RecipientStatus::Delivered, &bad_address),
            CountedOutcome::Delivered
        );
        assert_eq!(
            counted_outcome(RecipientStatus::Pending, &local),
            CountedOutcome::Deferred
        );
    }
}
