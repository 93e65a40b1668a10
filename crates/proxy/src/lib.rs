//! Frontend sessions for IMAP, POP3 and submission (DESIGN §4, "Client
//! login through a frontend"; CM-8, CM-15, CM-16).
//!
//! A frontend speaks just enough of each protocol to learn who is logging
//! in: the greeting, the capability list, STARTTLS/STLS and the login
//! forms. It then asks a [`BackendLookup`] for the account's backend,
//! opens a connection to that backend's service with a PROXY protocol v2
//! header naming the client (so per-IP limits, plaintext-auth policy and
//! `Received` headers on the backend see the real client), replays the
//! credentials there, relays the backend's answer, and only once the
//! backend accepts splices the two connections byte for byte.
//!
//! On a symmetric member (CM-8) the lookup may answer "here": the login is
//! then replayed, the same way, to one of the member's own sessions over
//! an in-process pipe ([`LocalSessions`]), and sessions that other members
//! proxy to this one go to those sessions directly. The listeners are
//! net's, so connection limits and PROXY headers from load balancers apply
//! as on direct listeners (CM-18).
//!
//! What this crate must not do: check a password (the backend does), keep
//! anything on disk (CM-15), or interpret anything after the splice.
#![forbid(unsafe_code)]

mod backend;
mod client;
mod config;
mod credentials;
mod frontend;
mod imap;
mod lines;
mod local;
mod login;
mod lookup;
mod pop3;
mod proxy_header;
mod splice;
mod submission;
#[cfg(test)]
mod test_support;

pub use config::{FrontendConfig, PlaintextAuth, PlaintextAuthByProtocol, SpliceTimeouts};
pub use frontend::{Frontend, Protocol};
pub use local::{LocalSessions, Served};
pub use lookup::{Backend, BackendLookup, DirectoryBackends, LookupError, StaticBackends};
