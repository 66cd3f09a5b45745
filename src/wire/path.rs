//! An envelope address as the session parsed it (`MAIL FROM`, `RCPT TO`), which the policy
//! checks read. Parsing it is the session's job (`smtp::command`); this is only the value.

/// RFC 5321 4.5.3.1.3: a reverse- or forward-path of 256 octets, `<` and `>` included, must be
/// accepted; the configured maximum may be larger, never smaller.
pub const MIN_MAX_PATH: usize = 256;

/// An envelope address: `<>` (null) or `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    Null,
    Mailbox { local: String, domain: String },
}

impl Path {
    /// `local@domain`, or the empty string for the null path.
    pub fn to_address(&self) -> String {
        match self {
            Path::Null => String::new(),
            Path::Mailbox { local, domain } => format!("{local}@{domain}"),
        }
    }

    /// True when neither the local part nor the domain holds non-ASCII characters: such an
    /// address needs `SMTPUTF8` (RFC 6531).
    pub fn is_ascii(&self) -> bool {
        match self {
            Path::Null => true,
            Path::Mailbox { local, domain } => local.is_ascii() && domain.is_ascii(),
        }
    }

    pub fn domain(&self) -> Option<&str> {
        match self {
            Path::Null => None,
            Path::Mailbox { domain, .. } => Some(domain),
        }
    }
}
