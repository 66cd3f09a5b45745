//! The values the SMTP side and the policy side exchange: envelope paths ([`Path`]), replies (the
//! catalogue, [`reply`]) and rule ids ([`Rule`]); and a next hop's reply, parsed ([`response`]),
//! which the relay reads and the queue stores. A leaf: it uses nothing else in the crate, so
//! `smtp` depends on `policy` (to ask the engine) and `policy` never on `smtp`.

pub mod path;
pub mod reply;
#[cfg(feature = "server")]
pub mod response;
pub mod rule;

pub use path::Path;
pub use reply::Reply;
pub use rule::Rule;
