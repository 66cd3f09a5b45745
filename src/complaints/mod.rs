//! Complaints: what leads a mailbox provider's feedback report back to a tenant and a campaign.
//! Today: attribution, the fields every relayed message carries (`Feedback-ID`, the signed
//! `X-Aupgate-Ref` trace header, optionally CFBL) and their verification.

pub mod attribution;

pub use attribution::{Attribution, TraceKeys};
