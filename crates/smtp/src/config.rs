//! What a listener tells its sessions: the role it serves and the limits.

use std::time::Duration;

/// The protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Inbound mail from the Internet (RFC 5321): local recipients for
    /// anyone, remote ones only after AUTH.
    #[default]
    Mx,
    /// Message submission (RFC 6409): AUTH is required before MAIL, and
    /// the sender must be the account or one of its aliases.
    Submission,
    /// LMTP (RFC 2033): `LHLO`, local recipients only, delivered into the
    /// store before the final replies, one per recipient.
    Lmtp,
}

/// Settings of one SMTP, submission or LMTP listener.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The name this server gives itself in the greeting, the EHLO reply
    /// and `Received:` headers.
    pub hostname: String,
    /// Which protocol the listener speaks.
    pub role: Role,
    /// The largest message accepted, in octets, advertised as `SIZE`.
    /// Content beyond it is counted and dropped, then refused with `552`.
    pub max_message_size: u64,
    /// Recipients per transaction; further `RCPT`s get `452 4.5.3`.
    pub max_recipients: usize,
    /// Failed commands after which the session is closed with `421`;
    /// zero means no limit.
    pub max_errors: usize,
    /// How long to wait for the next command (RFC 5321 §4.5.3.2.7 asks at
    /// least five minutes).
    pub idle_timeout: Duration,
    /// How long to wait for more message content after `354`.
    pub data_timeout: Duration,
    /// The longest command line, in octets including CRLF (RFC 5321
    /// §4.5.3.1.4: at least 512). Longer lines are answered with `500` and
    /// discarded; values below 512 count as 512.
    pub max_line: usize,
    /// Allow AUTH without TLS when the client is on a loopback address.
    pub allow_plaintext_auth_on_loopback: bool,
    /// Allow AUTH without TLS from anywhere. Never in production.
    pub allow_plaintext_auth: bool,
    /// How long a failed AUTH waits before its `535`, to slow guessing.
    pub auth_failure_delay: Duration,
    /// A message with more `Received:` headers than this (ours included)
    /// is going round in a loop and is refused with `554 5.4.6`. RFC 5321
    /// §6.3 asks for a threshold of at least 100.
    pub max_hops: usize,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            hostname: "localhost".to_owned(),
            role: Role::Mx,
            max_message_size: 50 << 20,
            max_recipients: 1000,
            max_errors: 10,
            idle_timeout: Duration::from_secs(5 * 60),
            data_timeout: Duration::from_secs(5 * 60),
            max_line: 4096,
            allow_plaintext_auth_on_loopback: true,
            allow_plaintext_auth: false,
            auth_failure_delay: Duration::from_secs(1),
            max_hops: 100,
        }
    }
}

/// RFC 5321 §4.5.3.1.4: a command line may always be 512 octets long.
pub(crate) const MIN_LINE: usize = 512;

impl SmtpConfig {
    pub(crate) fn max_line(&self) -> usize {
        self.max_line.max(MIN_LINE)
    }
}
