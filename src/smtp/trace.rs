//! The RFC 5322 dates the session's neighbours write and read (DSNs, notices, key selectors,
//! replays), where they have always found them. They live in `message::date`, a leaf, so the
//! policy's `cleanup` (which writes the Received and Date fields) does not depend on `smtp`.

pub use crate::message::date::{parse_rfc5322_date, rfc5322_date, yyyymmdd};
