//! SMTP ingress: listeners, sessions, the reply catalogue, the command parser and the DATA
//! receiver. It identifies the client and asks the policy engine; it holds no policy of its own.

#[cfg(feature = "server")]
pub mod auth_guard;
pub mod budget;
pub mod command;
pub mod data;
#[cfg(feature = "server")]
pub mod listener;
#[cfg(feature = "server")]
pub mod local;
/// The reply catalogue (in the `wire` leaf module, shared with the policy checks).
pub use crate::wire::reply;
pub mod sasl;
#[cfg(feature = "server")]
pub mod session;
#[cfg(feature = "server")]
pub mod tls;
pub mod trace;

#[cfg(feature = "server")]
pub use listener::{start_listeners, SmtpContext};
