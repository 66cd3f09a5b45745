//! aupgate — an outbound SMTP relay gateway that enforces a hosting provider's acceptable-use
//! policy on every message, then relays it or refuses it with a precise SMTP reply.
//!
//! The path of one message and the module that owns each step:
//!
//! - [`smtp`] — listeners and sessions: EHLO/STARTTLS/AUTH, MAIL/RCPT/DATA, the reply catalogue,
//!   the smuggling-proof DATA receiver, every session limit with its reply.
//! - [`tenant`] — who the client is: network or AUTH identity → tenant; argon2id passwords;
//!   domain ownership.
//! - [`message`] — one parse per message, shared by the session, every check, the fingerprint
//!   and the signer: raw header fields, strict addresses, the MIME walk (mail-parser) with one
//!   set of limits, charsets, the text a reader sees.
//! - [`policy`] — the engine: checks per SMTP stage returning `Result<Verdict, CheckError>`.
//! - [`fingerprint`] — normalises a message body and computes its similarity fingerprint
//!   (MinHash), from which campaigns for bulk and mail-bomb counting are keyed.
//! - [`auth`] — SPF/DKIM/DMARC as receivers will see them; DKIM keys and signing.
//! - [`queue`] — the durable spool (RocksDB, fsync before `250`), schedule, crash recovery,
//!   quarantine of corrupt entries.
//! - [`relay`] — delivery workers: MX or smarthost routing, outbound TLS (opportunistic or
//!   verified, MTA-STS, DANE), per-destination concurrency, retries with backoff, DSNs.
//! - [`complaints`] — feedback reports: attribution fields on relayed mail; intake (SMTP local
//!   mailbox at `[feedback] addresses`, API, CLI) → parse → attribute → store, suppress, audit;
//!   the `[complaints]` ladders, notices to tenants, delivery outcomes (bounce rates), the
//!   gateway's own unsubscribe.
//! - [`health`] — whether the queue and the store can write: degraded periods, logged once.
//! - [`dns`] — the one resolver (hickory) with configurable nameservers.
//! - [`store`] — the rate store: windowed counters, exact capped sets, tenant state, blocks,
//!   events, audit (RocksDB or Redis).
//! - [`admin`] — the admin plane: the `/api/v1` API the CLI talks to (tenants, usage, events,
//!   audit, blocks, domains, suppression, tokens, complaints, backup), the tenant dashboard,
//!   `/metrics`, `/healthz`, `/readyz`, and the one-click unsubscribe `/u/{token}`.
//! - [`backup`] — consistent online backups of the queue and the store, on an admin request.
//! - [`config`] — typed TOML config; every error reported at once with its path.
//! - [`server`] — wires the parts together and shuts them down in order.
//! - [`cli`] — the `aupgate` subcommands.
//! - [`wire`] — the values `smtp` and `policy` exchange: envelope paths, the reply catalogue,
//!   rule ids; and a next hop's parsed reply, which `relay` reads and `queue` stores (a leaf, so
//!   `policy` never depends on `smtp`, nor `queue` on `relay`).
//!
//! Dependencies point one way between these pairs: `smtp` → `policy`, `relay` → `queue`,
//! `config` → `tenant` (the config builds the tenant directory, `TenantConfig::directory`), and
//! inside `policy` the engine → the checks → `stage` (what a check is).
#![forbid(unsafe_code)]

#[cfg(feature = "server")]
pub mod admin;
pub mod auth;
#[cfg(feature = "server")]
pub mod backup;
#[cfg(feature = "server")]
pub mod cli;
#[cfg(any(feature = "server", feature = "arf"))]
pub mod complaints;
pub mod config;
#[cfg(feature = "server")]
pub mod dns;
pub mod fingerprint;
#[cfg(feature = "server")]
pub mod health;
pub mod message;
pub mod policy;
#[cfg(feature = "server")]
pub mod queue;
#[cfg(feature = "server")]
pub mod relay;
#[cfg(feature = "server")]
pub mod server;
pub mod smtp;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod telemetry;
pub mod tenant;
pub mod wire;
