//! TCP keepalive on every connection a session runs over, so that a peer
//! that vanished without closing (a client whose NAT entry expired, a
//! host that lost power) is noticed within minutes even while the
//! protocol is silent (an IMAP IDLE), and so that NAT and firewall state
//! along the way stays alive for such sessions.

use socket2::{SockRef, TcpKeepalive};
use std::time::Duration;
use tokio::net::TcpStream;

/// Silence before the first probe: shorter than common NAT timeouts for
/// established TCP (several minutes and up).
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
/// Between unanswered probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Unanswered probes before the connection is declared dead: a vanished
/// peer is noticed after about two minutes of silence.
pub const KEEPALIVE_PROBES: u32 = 4;

/// Turns keepalive on for `stream`. A failure only costs the early notice
/// of a dead peer, so it is logged, not returned.
pub fn enable(stream: &TcpStream) {
    let keepalive =
        TcpKeepalive::new().with_time(KEEPALIVE_IDLE).with_interval(KEEPALIVE_INTERVAL).with_retries(KEEPALIVE_PROBES);
    if let Err(e) = SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(target: "net::listener", error = %e, "cannot enable TCP keepalive");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keepalive_is_on_with_our_timings() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        enable(&stream);
        let socket = SockRef::from(&stream);
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(socket.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE_PROBES);
    }
}
