//! Local mailboxes: addresses the gateway takes mail for itself instead of relaying it (the
//! feedback addresses of complaint intake; an unsubscribe `mailto:` address plugs in the same
//! way, with one impl of [`LocalMailbox`]).
//!
//! The session treats a recipient a mailbox [`accepts`](LocalMailbox::accepts) as local: it
//! needs no tenant (any client on any listener may send to it, without AUTH), it is never
//! queued or relayed, its transaction holds only local recipients (a relayed recipient after
//! a local one, or the other way round, gets `452 4.5.3`: the client sends it in a next
//! transaction, as it does for any recipient over a limit), the message is limited to
//! [`max_size`](LocalMailbox::max_size) and handed to [`deliver`](LocalMailbox::deliver),
//! whose reply (`250` only once the mailbox has it safe) is the answer to DATA.
//!
//! A mailbox never sees SMTP: it gets the client's address, the recipients and the bytes.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use crate::wire::reply::Reply;

/// A boxed future of a local mailbox.
pub type LocalFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One kind of local address.
pub trait LocalMailbox: Send + Sync {
    /// Whether `address` (as given at RCPT TO, `local@domain`) is this mailbox's.
    fn accepts(&self, address: &str) -> bool;

    /// Whether it takes mail now (a mailbox the policy can switch on and off at a reload, as
    /// the unsubscribe address is): a closed one is as if it were not there.
    fn open(&self) -> bool {
        true
    }

    /// The largest message it takes (bytes); larger ones are refused `552 5.3.4`.
    fn max_size(&self) -> u64;

    /// At the transaction's first recipient of this mailbox: `None` lets the client go on, a
    /// reply refuses the recipient (a rate limit).
    fn admit<'a>(&'a self, _client: IpAddr) -> LocalFut<'a, Option<Reply>> {
        Box::pin(async { None })
    }

    /// Takes the message for `recipients` (its addresses, as given); the reply answers DATA.
    fn deliver<'a>(&'a self, client: IpAddr, recipients: &'a [String], message: Vec<u8>) -> LocalFut<'a, Reply>;
}

/// The gateway's local mailboxes, in the order they are asked.
#[derive(Clone, Default)]
pub struct LocalMailboxes(Vec<Arc<dyn LocalMailbox>>);

impl LocalMailboxes {
    pub fn new(mailboxes: Vec<Arc<dyn LocalMailbox>>) -> LocalMailboxes {
        LocalMailboxes(mailboxes)
    }

    /// Whether no mailbox takes mail now.
    pub fn is_empty(&self) -> bool {
        !self.0.iter().any(|mailbox| mailbox.open())
    }

    /// The index of the open mailbox that takes `address`, if any.
    pub fn find(&self, address: &str) -> Option<usize> {
        self.0
            .iter()
            .position(|mailbox| mailbox.open() && mailbox.accepts(address))
    }

    pub fn get(&self, index: usize) -> Option<&Arc<dyn LocalMailbox>> {
        self.0.get(index)
    }
}
