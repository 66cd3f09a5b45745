//! The envelope stages of the engine: MAIL FROM (which also reads RCPT TO's counters ahead,
//! `policy::prefetch`) and RCPT TO. Each plans its checks' store work as one batch
//! (`policy::batching`), then decides on the answers.

use super::{plan, Engine};
use crate::policy::batching::Recorder;
use crate::policy::prefetch::Prefetched;
use crate::policy::profile::Profile;
use crate::policy::{MailContext, RcptContext, Verdict};
use crate::store::batch::StageOp;

impl Engine {
    pub async fn on_mail(&self, ctx: &MailContext<'_>) -> Verdict {
        self.on_mail_reading_ahead(ctx).await.0
    }

    /// [`Engine::on_mail`], which also reads the counters the transaction's RCPT TO checks
    /// will ask (`policy::prefetch`): pass them to [`Engine::on_rcpt_with`].
    pub async fn on_mail_reading_ahead(&self, ctx: &MailContext<'_>) -> (Verdict, Prefetched) {
        let profile = self.profile_for(ctx.tenant);
        let now = self.now();
        let recorder = Recorder::new(&ctx.tenant.id, now);
        let mut recent = Prefetched::none();
        // A MAIL FROM its checks refuse without asking the store (a suspended tenant, a sender
        // domain not owned) reads nothing ahead, so it still costs no call.
        if plan(&self.mail, &self.planning_env(&recorder, &profile, now), ctx, &recorder).await {
            // The RCPT TO checks' counters, and the MAIL checks' own, read as windows: answered
            // from this node's recent reads when those cover every operation (`policy::recent`),
            // else read by the batch and remembered.
            let planned = recorder.planned();
            let mut reads = self.rcpt_reads(ctx, &profile, now).await;
            reads.extend(Prefetched::reads_for(&planned));
            if let Some(fresh) = self.recent().covering(&reads, now) {
                if planned.iter().chain(&reads).all(|op| fresh.answer(op, now).is_some()) {
                    recent = fresh;
                }
            }
            recorder.read_ahead(reads);
        }
        let replay = recorder.run(self.store.as_ref(), &recent).await;
        let env = self.deciding_env(&replay, &profile, now);
        for check in &self.mail {
            let verdict = self
                .decide(
                    &env,
                    check.rule(),
                    ctx.tenant,
                    check.check(&env, ctx).await,
                    || serde_json::json!({ "sender": ctx.sender.to_address() }),
                )
                .await;
            if verdict != Verdict::Continue {
                self.record_envelope_violation(&env, ctx.tenant, &verdict).await;
                return (verdict, Prefetched::none());
            }
        }
        let read = replay.read_ahead();
        if !recent.is_empty() {
            return (Verdict::Continue, recent);
        }
        self.recent().remember(now, &read);
        (Verdict::Continue, Prefetched::new(now, read))
    }

    /// The reads MAIL FROM's batch adds for the RCPT TO checks: what they plan for a stand-in
    /// first recipient (`policy::prefetch`).
    async fn rcpt_reads(&self, ctx: &MailContext<'_>, profile: &Profile, now: u64) -> Vec<StageOp> {
        let recorder = Recorder::new(&ctx.tenant.id, now);
        let stand_in = RcptContext {
            tenant: ctx.tenant,
            sender: ctx.sender,
            recipient: ctx.sender,
            accepted_so_far: 0,
        };
        plan(
            &self.rcpt,
            &self.planning_env(&recorder, profile, now),
            &stand_in,
            &recorder,
        )
        .await;
        Prefetched::reads_for(&recorder.planned())
    }

    pub async fn on_rcpt(&self, ctx: &RcptContext<'_>) -> Verdict {
        self.on_rcpt_with(ctx, &Prefetched::none()).await
    }

    /// [`Engine::on_rcpt`] answering its counter reads from what MAIL FROM read ahead, when
    /// that covers them (then the store is not asked).
    pub async fn on_rcpt_with(&self, ctx: &RcptContext<'_>, prefetched: &Prefetched) -> Verdict {
        let profile = self.profile_for(ctx.tenant);
        let now = self.now();
        let recorder = Recorder::new(&ctx.tenant.id, now);
        plan(&self.rcpt, &self.planning_env(&recorder, &profile, now), ctx, &recorder).await;
        let replay = recorder.run(self.store.as_ref(), prefetched).await;
        let env = self.deciding_env(&replay, &profile, now);
        for check in &self.rcpt {
            let verdict = self
                .decide(&env, check.rule(), ctx.tenant, check.check(&env, ctx).await, || {
                    serde_json::json!({
                        "sender": ctx.sender.to_address(),
                        "recipient": ctx.recipient.to_address(),
                        "accepted_so_far": ctx.accepted_so_far,
                    })
                })
                .await;
            if verdict != Verdict::Continue {
                self.record_envelope_violation(&env, ctx.tenant, &verdict).await;
                return verdict;
            }
        }
        Verdict::Continue
    }
}
