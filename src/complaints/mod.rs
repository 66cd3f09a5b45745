//! Complaints: what leads a mailbox provider's feedback report back to a tenant and a campaign.
//! The pipeline's stages meet in [`model`]. Attribution: the fields every relayed message carries (`Feedback-ID`, the signed
//! `X-Aupgate-Ref` trace header, optionally CFBL) and their verification. [`notice`]: notices to
//! tenants through the gateway's own queue. [`outcomes`]: delivery outcomes per tenant and
//! campaign (bounce rates). [`unsubscribe`]: the gateway's own List-Unsubscribe and its hits.

pub mod attribution;
pub mod model;
pub mod notice;
pub mod outcomes;
pub mod unsubscribe;

pub use attribution::{Attribution, TraceKeys};
pub use model::{
    AttributedBy, Complaint, ComplaintError, ComplaintLog, ComplaintSink, ComplaintSource, DeliveryWatcher, Notice,
    NoticeKind, NoticeSender, Recorded,
};
