//! The server one connection goes to.

use std::fmt;
use std::net::SocketAddr;

/// One MX host at one address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Destination {
    /// The MX host name: the TLS server name (SNI, certificate check) and
    /// the name in logs and diagnostics.
    pub name: String,
    pub addr: SocketAddr,
}

impl Destination {
    pub fn new(name: impl Into<String>, addr: SocketAddr) -> Destination {
        Destination { name: name.into(), addr }
    }
}

/// `mx.example.com[192.0.2.1]`, as Postfix writes a peer in diagnostics.
impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.name, self.addr.ip())
    }
}
