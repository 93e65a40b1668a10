//! Counting the connections of a dynamic cluster under load: a thread runs
//! `ss -Htn state established` several times a second and sorts each
//! connection, seen from its connecting side (its peer is a listener),
//! by the listener it goes to and the address it comes from. Unlike
//! `crate::connections`, which needs only the peer, this tells a client's
//! session to a member's IMAP listener (from the clients' address) from
//! a member's proxy hop to the owner's IMAP listener (from a member's
//! address), which go to the same listeners.

use crate::connections::{Counts, established_pairs};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(200);

/// What is watched: the members' IMAP listeners and link addresses, and
/// the address the clients connect from.
#[derive(Debug, Clone)]
pub struct Watch {
    pub imap: Vec<SocketAddr>,
    pub links: Vec<SocketAddr>,
    pub client_ip: IpAddr,
}

/// One sample's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// Client sessions at the members' IMAP listeners (M).
    pub clients: usize,
    /// Member-to-member IMAP connections (proxy hops to the owner).
    pub hops: usize,
    /// Connections to the members' cluster link addresses.
    pub links: usize,
}

impl Watch {
    /// Sorts the established connections `(local, peer)` of one sample.
    pub fn sample(&self, connections: &[(SocketAddr, SocketAddr)]) -> Sample {
        let mut sample = Sample::default();
        for (local, peer) in connections {
            if self.imap.contains(peer) {
                if local.ip() == self.client_ip {
                    sample.clients += 1;
                } else {
                    sample.hops += 1;
                }
            } else if self.links.contains(peer) {
                sample.links += 1;
            }
        }
        sample
    }
}

/// Samples running in a thread until [`Sampler::finish`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<anyhow::Result<Vec<Sample>>>,
}

/// What a run saw, per kind of connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    pub clients: Counts,
    pub hops: Counts,
    pub links: Counts,
}

impl Sampler {
    pub fn start(watch: Watch) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                let next = Instant::now() + INTERVAL;
                samples.push(watch.sample(&established_pairs()?));
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            Ok(samples)
        });
        Sampler { stop, thread }
    }

    pub fn finish(self) -> anyhow::Result<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.thread.join().map_err(|_| anyhow::anyhow!("the connection sampler panicked"))??;
        let of = |pick: fn(&Sample) -> usize| Counts::of(&samples.iter().map(pick).collect::<Vec<_>>());
        Ok(Seen { clients: of(|s| s.clients), hops: of(|s| s.hops), links: of(|s| s.links) })
    }
}

#[cfg(test)]
mod tests {
    use super::{Sample, Watch};
    use crate::connections::pairs;

    #[test]
    fn tells_client_sessions_from_member_hops_and_link_connections() {
        let text = "0 0 127.0.7.9:40000 127.0.0.1:1143\n\
                    0 0 127.0.0.1:1143 127.0.7.9:40000\n\
                    0 0 127.0.7.2:40001 127.0.0.1:1143\n\
                    0 0 127.0.7.1:40002 127.0.7.3:7000\n\
                    0 0 127.0.0.1:5555 127.0.0.1:2379\n\
                    not a line\n";
        let watch = Watch {
            imap: vec!["127.0.0.1:1143".parse().unwrap()],
            links: vec!["127.0.7.3:7000".parse().unwrap()],
            client_ip: "127.0.7.9".parse().unwrap(),
        };
        assert_eq!(pairs(text).len(), 5);
        assert_eq!(watch.sample(&pairs(text)), Sample { clients: 1, hops: 1, links: 1 });
    }
}
