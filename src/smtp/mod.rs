//! SMTP ingress: listeners, sessions, the reply catalogue, the command parser and the DATA
//! receiver. It identifies the client and asks the policy engine; it holds no policy of its own.

pub mod command;
pub mod data;
pub mod listener;
pub mod reply;
pub mod sasl;
pub mod session;
pub mod tls;
pub mod trace;

pub use listener::{start_listeners, SmtpContext};
