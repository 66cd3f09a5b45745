//! Complaints: what leads a mailbox provider's feedback report back to a tenant and a campaign.
//! The pipeline's stages meet in [`model`]. Attribution: the fields every relayed message carries (`Feedback-ID`, the signed
//! `X-Aupgate-Ref` trace header, optionally CFBL) and their verification.
//!
//! Intake: [`report`] parses a feedback report (pure, also in the fuzz build), [`intake`] is the
//! one path every report takes after that (SMTP, HTTP, CLI): ignore what is no complaint,
//! attribute, hand to a [`ComplaintSink`]; [`book`] is the sink that stores it, suppresses the
//! recipient, audits it and calls the further effects; [`mailbox`] is the SMTP local mailbox of
//! `[feedback] addresses`.

#[cfg(feature = "server")]
pub mod attribution;
#[cfg(feature = "server")]
pub mod book;
#[cfg(feature = "server")]
pub mod intake;
#[cfg(feature = "server")]
pub mod mailbox;
#[cfg(feature = "server")]
pub mod model;
pub mod report;

#[cfg(feature = "server")]
pub use attribution::{Attribution, TraceKeys};
#[cfg(feature = "server")]
pub use model::{
    AttributedBy, Complaint, ComplaintError, ComplaintLog, ComplaintSink, ComplaintSource, DeliveryWatcher, Notice,
    NoticeKind, NoticeSender, Recorded,
};
