//! The link's configuration (one `[cluster.link]`-style table) and the
//! shared cluster secret.

use ipnet::IpNet;
use ring::hmac;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The shortest secret accepted: HMAC-SHA256 keys shorter than this are
/// guessable offline from one recorded handshake.
pub const MIN_SECRET_LEN: usize = 16;

/// How this member talks to the other members of its cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// This member's cluster address: the listener binds it, and outgoing
    /// cluster connections leave from its IP address (CM-21).
    pub address: SocketAddr,
    /// The members allowed to connect (CM-21): addresses, or networks such
    /// as the cluster's own `10.0.0.0/24`, so that a member added later is
    /// let in without touching the others (CM-4); anything else is closed
    /// before a byte is read.
    pub allow: Vec<AllowedPeers>,
    /// The shared cluster secret (at least 16 bytes), same on every member.
    #[serde(default)]
    pub secret: Option<SecretText>,
    /// A file holding the secret (surrounding white space ignored); use
    /// either this or `secret`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// How many idle connections to keep per peer (CM-23); when a returned
    /// connection would exceed it, the oldest idle one is closed.
    #[serde(default = "defaults::cache_per_peer")]
    pub cache_per_peer: usize,
    /// Limit on establishing the TCP connection.
    #[serde(default = "defaults::connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Limit on the handshake (versions and authentication).
    #[serde(default = "defaults::auth_timeout", with = "humantime_serde")]
    pub auth_timeout: Duration,
    /// Limit on one request, from its first byte sent to its answer.
    #[serde(default = "defaults::request_timeout", with = "humantime_serde")]
    pub request_timeout: Duration,
    /// A connection idle this long is closed by the accepting side; the
    /// connecting side reuses only connections idle for less than half.
    #[serde(default = "defaults::idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
}

/// One entry of the allow-list: an address (`10.0.0.4`) or a network
/// (`10.0.0.0/24`, `2001:db8::/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedPeers(IpNet);

impl<'de> Deserialize<'de> for AllowedPeers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

impl AllowedPeers {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::str::FromStr for AllowedPeers {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map(AllowedPeers)
            .map_err(|_| format!("{text:?} is neither an IP address nor a network such as 10.0.0.0/24"))
    }
}

impl std::fmt::Display for AllowedPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<IpAddr> for AllowedPeers {
    fn from(ip: IpAddr) -> Self {
        AllowedPeers(IpNet::from(ip))
    }
}

mod defaults {
    use std::time::Duration;
    pub fn cache_per_peer() -> usize {
        8
    }
    pub fn connect_timeout() -> Duration {
        Duration::from_secs(5)
    }
    pub fn auth_timeout() -> Duration {
        Duration::from_secs(5)
    }
    pub fn request_timeout() -> Duration {
        Duration::from_secs(120)
    }
    pub fn idle_timeout() -> Duration {
        Duration::from_secs(300)
    }
}

/// A secret as written in the config file; never shown by `Debug`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(..)")
    }
}

/// A setting that cannot work; `key` names it as written in the file.
#[derive(Debug, thiserror::Error)]
#[error("cluster link setting `{key}`: {reason}")]
pub struct LinkConfigError {
    pub key: &'static str,
    pub reason: String,
}

impl LinkConfig {
    /// A member at `address` with the default cache and timeouts and an
    /// empty allow-list.
    pub fn new(address: SocketAddr, secret: &str) -> LinkConfig {
        LinkConfig {
            address,
            allow: Vec::new(),
            secret: Some(SecretText(secret.to_owned())),
            secret_file: None,
            cache_per_peer: defaults::cache_per_peer(),
            connect_timeout: defaults::connect_timeout(),
            auth_timeout: defaults::auth_timeout(),
            request_timeout: defaults::request_timeout(),
            idle_timeout: defaults::idle_timeout(),
        }
    }

    /// Checks every setting and returns the secret, reading `secret_file`
    /// if that is how it is given (the one file the link reads, at start).
    pub fn validate(&self) -> Result<ClusterSecret, LinkConfigError> {
        let invalid = |key, reason: &str| LinkConfigError { key, reason: reason.to_owned() };
        if self.cache_per_peer == 0 {
            return Err(invalid("cache_per_peer", "must be at least 1"));
        }
        for (key, value) in [
            ("connect_timeout", self.connect_timeout),
            ("auth_timeout", self.auth_timeout),
            ("request_timeout", self.request_timeout),
            ("idle_timeout", self.idle_timeout),
        ] {
            if value.is_zero() {
                return Err(invalid(key, "must be longer than zero"));
            }
        }
        let (key, text) = match (&self.secret, &self.secret_file) {
            (Some(secret), None) => ("secret", secret.0.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| invalid("secret_file", &format!("cannot read {}: {e}", path.display())))?;
                ("secret_file", text.trim().to_owned())
            }
            (None, None) => return Err(invalid("secret", "missing (give `secret` or `secret_file`)")),
            (Some(_), Some(_)) => {
                return Err(invalid("secret_file", "give either `secret` or `secret_file`, not both"));
            }
        };
        if text.len() < MIN_SECRET_LEN {
            return Err(invalid(key, &format!("must be at least {MIN_SECRET_LEN} bytes")));
        }
        Ok(ClusterSecret::new(text.as_bytes()))
    }
}

/// The key every member shares; both sides of a connection prove they
/// hold it without sending it (see `handshake`).
#[derive(Clone)]
pub struct ClusterSecret {
    key: hmac::Key,
}

impl ClusterSecret {
    pub fn new(secret: &[u8]) -> ClusterSecret {
        ClusterSecret { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    pub(crate) fn key(&self) -> &hmac::Key {
        &self.key
    }

    /// A key for another use of the shared secret (web admin forwarding,
    /// web session cookies): HMAC-SHA256(secret, purpose). Every member
    /// derives the same bytes, and the link's own key is never handed out.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        hmac::sign(&self.key, purpose.as_bytes()).as_ref().to_vec()
    }
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

#[cfg(test)]
mod tests;
