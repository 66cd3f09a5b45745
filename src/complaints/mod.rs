//! Complaints: what leads a mailbox provider's feedback report back to a tenant and a campaign,
//! and what a complaint does to that tenant. The pipeline's stages meet in [`model`].
//! Attribution: the fields every relayed message carries (`Feedback-ID`, the signed
//! `X-Aupgate-Ref` trace header, optionally CFBL) and their verification.
//!
//! Intake: [`report`] parses a feedback report (pure, also in the fuzz build), [`intake`] is the
//! one path every report takes after that (SMTP, HTTP, CLI): ignore what is no complaint,
//! attribute, hand to a [`ComplaintSink`]; [`book`] is the sink that stores it, suppresses the
//! recipient, audits it and calls the further effects; [`mailbox`] is the SMTP local mailbox of
//! `[feedback] addresses`.
//!
//! Effects (`[complaints]` of the profile): [`ladder`] (the sink, the watcher, the periodic
//! task) over [`counts`] (exact windows, per month), [`steps`] (SPCM, Pageant), [`cases`] and
//! `case_actions` (Integra), [`rates`] (SocketLabs, default); `act` takes one step; [`events`]
//! names what they log; [`summary`] is what the API shows.
//!
//! Around them: [`notice`] sends notices to tenants through the gateway's own queue;
//! [`outcomes`] counts delivery outcomes per tenant and campaign (bounce rates);
//! [`unsubscribe`] is the gateway's own List-Unsubscribe and its hits; [`retention`] removes
//! stored complaints once they are as old as the audit log is kept.

#[cfg(feature = "server")]
mod act;
#[cfg(feature = "server")]
pub mod attribution;
#[cfg(feature = "server")]
pub mod book;
#[cfg(feature = "server")]
mod case_actions;
#[cfg(feature = "server")]
pub mod cases;
#[cfg(feature = "server")]
pub mod client_rate;
#[cfg(feature = "server")]
pub mod counts;
#[cfg(feature = "server")]
pub mod events;
#[cfg(feature = "server")]
pub mod intake;
#[cfg(feature = "server")]
pub mod ladder;
#[cfg(feature = "server")]
pub mod mailbox;
#[cfg(feature = "server")]
pub mod model;
#[cfg(feature = "server")]
pub mod notice;
#[cfg(feature = "server")]
pub mod outcomes;
#[cfg(feature = "server")]
pub mod rates;
pub mod report;
#[cfg(feature = "server")]
pub mod retention;
#[cfg(feature = "server")]
pub mod steps;
#[cfg(feature = "server")]
pub mod summary;
#[cfg(feature = "server")]
pub mod unsubscribe;

#[cfg(feature = "server")]
pub use attribution::{Attribution, TraceKeys};
#[cfg(feature = "server")]
pub use ladder::ComplaintLadders;
#[cfg(feature = "server")]
pub use model::{
    AttributedBy, Complaint, ComplaintError, ComplaintLog, ComplaintSink, ComplaintSource, DeliveryWatcher, Notice,
    NoticeKind, NoticeSender, Recorded,
};
