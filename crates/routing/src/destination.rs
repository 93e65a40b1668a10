//! The result of routing, and the caps that keep it short.

use std::net::{IpAddr, SocketAddr};

/// At most this many MX hosts are looked up, the most preferred first: a
/// hostile zone with hundreds of MX records must not cost hundreds of
/// queries per message.
pub const MAX_MX_HOSTS: usize = 10;
/// At most this many destinations per domain, so one delivery attempt
/// cannot go on connecting for ever.
pub const MAX_ADDRESSES: usize = 20;
/// At most this many addresses of one host, so a host with many addresses
/// does not crowd the backup MX hosts out of the list.
pub const MAX_ADDRESSES_PER_HOST: usize = 5;

/// One place to try to deliver to, in the order returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The host name, for TLS SNI and certificate checks and for logs; the
    /// address itself (`192.0.2.1`, no brackets) when the route gave an
    /// address, so that no SNI is sent.
    pub name: String,
    pub addr: SocketAddr,
    /// The MX preference; 0 for an implicit MX or an address literal; the
    /// position in the list for configured hosts.
    pub preference: u16,
}

/// Builds the list in order, dropping repeated addresses and anything past
/// the caps.
#[derive(Debug, Default)]
pub(crate) struct Destinations {
    list: Vec<Destination>,
}

impl Destinations {
    pub(crate) fn add_host(&mut self, name: &str, preference: u16, port: u16, addresses: &[IpAddr]) {
        let mut taken = 0;
        for ip in addresses {
            if taken == MAX_ADDRESSES_PER_HOST || self.is_full() {
                return;
            }
            let addr = SocketAddr::new(*ip, port);
            // Two MX names for one machine: trying it twice gains nothing.
            if self.list.iter().any(|known| known.addr == addr) {
                continue;
            }
            self.list.push(Destination { name: name.to_owned(), addr, preference });
            taken += 1;
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.list.len() >= MAX_ADDRESSES
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<Destination> {
        self.list
    }
}
