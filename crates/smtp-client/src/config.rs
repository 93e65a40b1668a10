//! How the client behaves: the name it gives, its TLS policy, its
//! timeouts. The binary fills this in; the crate reads no configuration.

use crate::auth::Credentials;
use crate::tls::TlsSettings;
use std::collections::BTreeMap;
use std::time::Duration;

/// Whether and how STARTTLS (RFC 3207) is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// Never: plaintext even when offered.
    Disabled,
    /// When offered, without checking the certificate (what MTAs do
    /// between themselves without DANE or MTA-STS: encryption against
    /// passive listeners). A failed handshake is retried once in
    /// plaintext on a new connection.
    #[default]
    Opportunistic,
    /// Always, with a certificate valid for the destination's name; a
    /// server without STARTTLS or with a bad certificate is a temporary
    /// failure.
    Required,
}

/// Timeouts for each stage; the defaults are RFC 5321 §4.5.3.2's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect.
    pub connect: Duration,
    /// The initial 220 greeting.
    pub greeting: Duration,
    /// EHLO, HELO, STARTTLS and its handshake, RSET, QUIT (the RFC names
    /// none; these are quick commands).
    pub command: Duration,
    pub mail: Duration,
    pub rcpt: Duration,
    /// The reply to DATA (the 354).
    pub data: Duration,
    /// Writing one block of content.
    pub data_block: Duration,
    /// The reply after the final `.`: long, since the server may be
    /// scanning the message, and giving up early delivers it twice.
    pub final_dot: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        let minutes = |n: u64| Duration::from_secs(60 * n);
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: minutes(5),
            command: minutes(5),
            mail: minutes(5),
            rcpt: minutes(5),
            data: minutes(2),
            data_block: minutes(3),
            final_dot: minutes(10),
        }
    }
}

impl Timeouts {
    /// Every timeout the same; for tests.
    pub fn all(timeout: Duration) -> Timeouts {
        Timeouts {
            connect: timeout,
            greeting: timeout,
            command: timeout,
            mail: timeout,
            rcpt: timeout,
            data: timeout,
            data_block: timeout,
            final_dot: timeout,
        }
    }
}

/// Everything a connection needs to know besides its destination.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The name given in EHLO and HELO: this host's public name.
    pub helo_name: String,
    pub tls_policy: TlsPolicy,
    /// Trust anchors for [`TlsPolicy::Required`] (webpki-roots by default).
    pub tls: TlsSettings,
    pub timeouts: Timeouts,
    /// Logins by server name (lowercase): a connection to one of these
    /// servers logs in after EHLO and STARTTLS (`auth.rs`).
    pub logins: BTreeMap<String, Credentials>,
}

impl ClientConfig {
    /// Opportunistic TLS, RFC timeouts, webpki-roots as trust anchors.
    pub fn new(helo_name: impl Into<String>) -> ClientConfig {
        ClientConfig {
            helo_name: helo_name.into(),
            tls_policy: TlsPolicy::default(),
            tls: TlsSettings::webpki_roots(),
            timeouts: Timeouts::default(),
            logins: BTreeMap::new(),
        }
    }

    /// The login for the server named `name`, if one is configured.
    pub(crate) fn login(&self, name: &str) -> Option<&Credentials> {
        self.logins.get(&name.to_ascii_lowercase())
    }
}
