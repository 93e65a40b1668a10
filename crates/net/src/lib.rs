//! Listeners, TLS and the one connection driver every protocol runs on.
//!
//! A protocol implements [`Session`]: it is handed buffered input and
//! appends replies; it never touches the socket. [`driver::drive`] owns the
//! socket: it reads, steps the session, writes, upgrades to TLS when asked,
//! and enforces the idle timeout, the input bound and shutdown. Only this
//! crate owns sockets.
#![forbid(unsafe_code)]

pub mod driver;
pub mod http;
pub mod keepalive;
pub mod listener;
pub mod logged_in;
pub mod proxy_protocol;
pub mod tls;

pub use driver::{ConnInfo, Io, Prefixed, Session, Step, TlsMode};
pub use listener::{Connection, Listener, ListenerLimits};
pub use logged_in::LoggedIn;
pub use proxy_protocol::{TrustedProxies, TrustedProxiesError};
pub use tls::TlsConfig;
