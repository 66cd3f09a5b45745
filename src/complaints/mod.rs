//! Complaints: what leads a mailbox provider's feedback report back to a tenant and a campaign,
//! and what a complaint does to that tenant. The pipeline's stages meet in [`model`].
//! Attribution: the fields every relayed message carries (`Feedback-ID`, the signed
//! `X-Aupgate-Ref` trace header, optionally CFBL) and their verification. [`notice`]: notices to
//! tenants through the gateway's own queue. [`outcomes`]: delivery outcomes per tenant and
//! campaign (bounce rates). [`unsubscribe`]: the gateway's own List-Unsubscribe and its hits.
//!
//! Effects (`[complaints]` of the profile): [`ladder`] (the sink, the watcher, the periodic
//! task) over [`counts`] (exact windows, per month), [`steps`] (SPCM, Pageant), [`cases`] and
//! `case_actions` (Integra), [`rates`] (SocketLabs, default); `act` takes one step; [`events`]
//! names what they log; [`summary`] is what the API shows.

pub mod attribution;
pub mod model;
pub mod notice;
pub mod outcomes;
pub mod unsubscribe;

mod act;
mod case_actions;
pub mod cases;
pub mod counts;
pub mod events;
pub mod ladder;
pub mod rates;
pub mod steps;
pub mod summary;

pub use attribution::{Attribution, TraceKeys};
pub use ladder::ComplaintLadders;
pub use model::{
    AttributedBy, Complaint, ComplaintError, ComplaintLog, ComplaintSink, ComplaintSource, DeliveryWatcher, Notice,
    NoticeKind, NoticeSender, Recorded,
};
