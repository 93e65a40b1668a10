//! RFC 5321 §5.1: a client that finds itself among a domain's MX hosts
//! must discard that MX and every less preferred one, and report an error
//! when nothing is left; otherwise a domain routed to this server (a
//! missing local domain, a stale MX) makes mail circle until its hop count
//! runs out.

use routing::Destination;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// This server's SMTP listeners, to recognise itself among destinations.
#[derive(Debug, Clone, Default)]
pub(crate) struct Myself {
    listeners: Vec<SocketAddr>,
}

impl Myself {
    pub(crate) fn new(listeners: &[SocketAddr]) -> Myself {
        Myself { listeners: listeners.to_vec() }
    }

    /// `destinations` without this server and those it is preferred to;
    /// `None` when this server was the most preferred, so nothing is left.
    pub(crate) fn discard_from(&self, destinations: Vec<Destination>) -> Option<Vec<Destination>> {
        let Some(own) = destinations.iter().filter(|d| self.is_me(d.addr)).map(|d| d.preference).min() else {
            return Some(destinations);
        };
        let kept: Vec<Destination> = destinations.into_iter().filter(|d| d.preference < own).collect();
        (!kept.is_empty()).then_some(kept)
    }

    fn is_me(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.listeners.iter().any(|listener| {
            listener.port() == addr.port()
                && if listener.ip().is_unspecified() {
                    is_local_address(ip)
                } else {
                    listener.ip().to_canonical() == ip
                }
        })
    }
}

/// Whether `ip` belongs to this host: the kernel lets a socket bind only
/// to a local address (or to a loopback one).
fn is_local_address(ip: IpAddr) -> bool {
    ip.is_loopback() || UdpSocket::bind((ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(ip: &str, port: u16, preference: u16) -> Destination {
        Destination { name: ip.to_owned(), addr: SocketAddr::new(ip.parse().unwrap(), port), preference }
    }

    #[test]
    fn less_preferred_hosts_than_myself_are_discarded() {
        let me = Myself::new(&["127.0.0.7:25".parse().unwrap()]);
        let list =
            vec![destination("127.0.0.2", 25, 10), destination("127.0.0.7", 25, 20), destination("127.0.0.3", 25, 30)];
        let kept = me.discard_from(list).unwrap();
        assert_eq!(kept, vec![destination("127.0.0.2", 25, 10)]);
    }

    #[test]
    fn myself_as_the_best_host_leaves_nothing() {
        let me = Myself::new(&["127.0.0.7:25".parse().unwrap()]);
        assert_eq!(me.discard_from(vec![destination("127.0.0.7", 25, 10), destination("127.0.0.2", 25, 20)]), None);
    }

    #[test]
    fn another_port_or_address_is_not_myself() {
        let me = Myself::new(&["127.0.0.7:2525".parse().unwrap()]);
        let list = vec![destination("127.0.0.7", 25, 10), destination("127.0.0.8", 2525, 20)];
        assert_eq!(me.discard_from(list.clone()), Some(list));
        assert_eq!(Myself::default().discard_from(vec![destination("127.0.0.7", 25, 0)]).map(|l| l.len()), Some(1));
    }

    #[test]
    fn a_wildcard_listener_is_every_local_address() {
        let me = Myself::new(&["0.0.0.0:25".parse().unwrap()]);
        assert_eq!(me.discard_from(vec![destination("127.0.0.9", 25, 0)]), None);
        // TEST-NET-3 is nobody's local address.
        let remote = vec![destination("203.0.113.5", 25, 0)];
        assert_eq!(me.discard_from(remote.clone()), Some(remote));
    }
}
