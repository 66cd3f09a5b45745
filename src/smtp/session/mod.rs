//! One SMTP session: reads command lines (pipelined), dispatches each to its stage, writes replies,
//! and enforces the session limits (per-command deadline, whole-session deadline, byte budget,
//! error count), each ending with a proper reply. One file per stage: `ehlo`, `auth` (with
//! `auth_check`: lockouts and the password check), `mail`, `rcpt`, `data`, `starttls`; `io` and
//! `deadline` for reading within the limits.

mod auth;
mod auth_check;
mod data;
mod deadline;
mod ehlo;
mod io;
mod local;
mod mail;
mod rcpt;
mod starttls;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::config::ListenerConfig;
use crate::queue::MailParams;
use crate::smtp::command::{self, Command, CommandError, Path};
use crate::smtp::listener::SmtpContext;
use crate::smtp::reply::{self, Reply};
use crate::tenant::Tenant;

/// Any byte stream a session can run on (TCP, TLS over TCP, an in-memory duplex in tests).
pub trait SessionStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> SessionStream for T {}

/// Why a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The client closed or we said goodbye.
    Closed,
    /// A reply has been queued and the connection must close after flushing it.
    AfterReply,
}

/// The current mail transaction.
#[derive(Debug, Default)]
pub(crate) struct Envelope {
    pub sender: Option<Path>,
    pub recipients: Vec<Path>,
    /// `SMTPUTF8` and `BODY=` from MAIL FROM, queued with the message and declared on relay.
    pub params: MailParams,
    /// `SIZE=` from MAIL FROM: what DATA pre-sizes the body to and reserves at once.
    pub declared_size: Option<u64>,
    /// Recipients of a local mailbox (`smtp::local`), with the mailbox's index: a transaction
    /// holds these or relayed ones, never both.
    pub local: Vec<(usize, Path)>,
    /// MAIL FROM from a client the gateway sends nothing for: only local recipients may follow.
    pub local_only: bool,
    /// The counters MAIL FROM read for this transaction's RCPT TO checks (`policy::prefetch`).
    pub prefetched: crate::policy::prefetch::Prefetched,
}

/// One client connection.
pub struct Session {
    ctx: Arc<SmtpContext>,
    listener: Arc<ListenerConfig>,
    peer: SocketAddr,
    stream: Option<Box<dyn SessionStream>>,
    tls: bool,
    inbuf: BytesMut,
    outbuf: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    /// Tenant owning the client's address, if any.
    network_tenant: Option<Arc<Tenant>>,
    /// Tenant proven by AUTH, if any.
    auth_tenant: Option<Arc<Tenant>>,
    envelope: Envelope,
    errors: usize,
    messages: usize,
    bytes_read: u64,
    deadline: Instant,
    /// When the first byte of the command line being read arrived (None: no byte of it yet).
    line_started: Option<Instant>,
    /// True while a line longer than the limit is being skipped.
    discarding_line: bool,
    /// The last acceptance's audit record and Message-ID entry, while they are being written.
    recording: Option<crate::policy::Recording>,
}

impl Session {
    pub fn new(
        ctx: Arc<SmtpContext>,
        listener: Arc<ListenerConfig>,
        peer: SocketAddr,
        stream: Box<dyn SessionStream>,
        tls: bool,
    ) -> Session {
        let network_tenant = ctx.tenants.by_address(peer.ip());
        let deadline = Instant::now() + ctx.config.limits.session_timeout.get();
        Session {
            ctx,
            listener,
            peer,
            stream: Some(stream),
            tls,
            inbuf: BytesMut::with_capacity(4096),
            outbuf: Vec::with_capacity(512),
            helo: None,
            esmtp: false,
            network_tenant,
            auth_tenant: None,
            envelope: Envelope::default(),
            errors: 0,
            messages: 0,
            bytes_read: 0,
            deadline,
            line_started: None,
            discarding_line: false,
            recording: None,
        }
    }

    /// Runs the session to its end.
    pub async fn run(mut self) {
        if let Some(tenant) = &self.network_tenant {
            tracing::Span::current().record("tenant", tenant.id.as_str());
        }
        if self.admit_address().await.is_err() {
            let _ = self.flush().await;
            self.close().await;
            return;
        }
        self.reply(reply::greeting(&self.ctx.config.server.hostname));
        loop {
            match self.process_buffered().await {
                Ok(()) => {}
                Err(End::Closed) => break,
                Err(End::AfterReply) => {
                    let _ = self.flush().await;
                    break;
                }
            }
            if self.flush().await.is_err() {
                break;
            }
            match self.read_command_input().await {
                Ok(()) => {}
                Err(End::AfterReply) => {
                    let _ = self.flush().await;
                    break;
                }
                Err(End::Closed) => break,
            }
        }
        self.recorded().await;
        self.close().await;
    }

    /// Waits until the last acceptance is recorded (`policy::Recording`).
    async fn recorded(&mut self) {
        if let Some(recording) = self.recording.take() {
            recording.written().await;
        }
    }

    /// Handles every complete command line already buffered (PIPELINING).
    async fn process_buffered(&mut self) -> Result<(), End> {
        while let Some(line) = self.take_line() {
            let line = match line {
                Ok(line) => line,
                Err(()) => {
                    self.error_reply(reply::line_too_long())?;
                    continue;
                }
            };
            self.dispatch(&line).await?;
        }
        Ok(())
    }

    async fn dispatch(&mut self, line: &[u8]) -> Result<(), End> {
        let max_path = self.ctx.config.limits.max_path_length;
        let command = match command::parse_limited(line, max_path) {
            Ok(command) => command,
            Err(CommandError::Unknown) => return self.error_reply(reply::unknown_command()),
            Err(CommandError::Syntax(what)) => return self.error_reply(reply::syntax(what)),
            Err(error @ (CommandError::BadAddress | CommandError::PathTooLong)) => {
                let upper = line.get(..4).map(|v| v.to_ascii_uppercase());
                let sender = upper.as_deref() == Some(b"MAIL");
                let reply = match (error, sender) {
                    (CommandError::PathTooLong, _) => reply::path_too_long(sender, max_path),
                    (_, true) => reply::bad_sender_syntax(),
                    (_, false) => reply::bad_recipient_syntax(),
                };
                return self.error_reply(reply);
            }
        };
        match command {
            Command::Ehlo(name) => self.ehlo(name, true),
            Command::Helo(name) => self.ehlo(name, false),
            Command::StartTls => self.starttls().await,
            Command::Auth { mechanism, initial } => self.auth(mechanism, initial).await,
            Command::Mail { address, params } => self.mail(address, params).await,
            Command::Rcpt { address, params } => self.rcpt(address, params).await,
            Command::Data => self.data().await,
            Command::Rset => {
                self.envelope = Envelope::default();
                self.reply(reply::reset());
                Ok(())
            }
            Command::Noop => {
                self.reply(reply::ok());
                Ok(())
            }
            Command::Quit => {
                // A client that waits for the goodbye finds its acceptances recorded.
                self.recorded().await;
                self.reply(reply::bye(&self.ctx.config.server.hostname));
                Err(End::AfterReply)
            }
            Command::Vrfy | Command::Expn => self.error_reply(reply::vrfy_disabled()),
            Command::Help => {
                self.reply(reply::help());
                Ok(())
            }
        }
    }

    /// Queues a reply.
    fn reply(&mut self, reply: Reply) {
        reply.write_to(&mut self.outbuf);
    }

    /// Queues a failure reply and counts it; too many failures end the session.
    fn error_reply(&mut self, reply: Reply) -> Result<(), End> {
        self.reply(reply);
        self.errors += 1;
        if self.errors >= self.ctx.config.limits.max_errors {
            self.reply(reply::too_many_errors());
            return Err(End::AfterReply);
        }
        Ok(())
    }

    /// The tenant a transaction would be sent as: the authenticated one, else the network's.
    fn tenant(&self) -> Option<Arc<Tenant>> {
        self.auth_tenant.clone().or_else(|| self.network_tenant.clone())
    }
}
