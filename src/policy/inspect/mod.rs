//! What the DATA checks read in a message, as pure functions: no store, no I/O, so the fuzz
//! targets reach them without the `server` feature. The checks in `policy::checks` run them and
//! turn a finding into a verdict.

pub mod archives;
pub mod attachments;
pub mod header_integrity;
