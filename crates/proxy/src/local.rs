//! A symmetric member's own accounts (CM-8): their sessions are served in
//! process. The frontend has read the login as it does for any account;
//! the lookup says "here", so instead of a TCP connection to a backend it
//! opens an in-memory pipe to one of this member's own sessions (net's
//! driver running the member's IMAP, POP3 or SMTP session) and replays the
//! login over it exactly as it would over the network. The session sees
//! the real client in its [`ConnInfo`]; no PROXY header is needed.

use crate::frontend::Protocol;
use std::future::Future;
use std::pin::Pin;
use tokio::io::DuplexStream;

pub use net::{ConnInfo, Io, TlsMode};

/// What a [`LocalSessions::serve`] future is.
pub type Served = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// This member's own protocol sessions, for a symmetric member.
pub trait LocalSessions: Send + Sync + 'static {
    /// Serves one `protocol` session over `stream` to its end: the
    /// member's own session under net's driver, with `tls` as the
    /// listener's (`TlsMode::Off` for a pipe: the frontend holds the
    /// client's TLS). Ends at the member's shutdown too.
    fn serve(&self, protocol: Protocol, stream: Box<dyn Io>, tls: TlsMode, info: ConnInfo) -> Served;
}

/// Room in each direction of the pipe to a local session: a pipelined
/// command burst or a large FETCH moves in steps of this, as through a
/// socket buffer.
const PIPE_CAPACITY: usize = 64 * 1024;

/// Starts a local session for `info`'s client and returns the frontend's
/// end of the pipe to it. The session ends when that end is dropped.
pub(crate) fn open(local: &dyn LocalSessions, protocol: Protocol, info: ConnInfo) -> DuplexStream {
    use tracing::Instrument;
    let (ours, theirs) = tokio::io::duplex(PIPE_CAPACITY);
    let served = local.serve(protocol, Box::new(theirs), TlsMode::Off, info);
    tokio::spawn(served.in_current_span());
    ours
}
