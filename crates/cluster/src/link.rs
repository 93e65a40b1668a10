//! The cluster link: one authenticated, versioned channel between cluster
//! members over TCP (CM-5), carrying remote delivery and submission
//! (CM-25), remote administration (CM-24), remote mailbox access and
//! account moves (CM-26, protocol version 2, `mailbox`) and pings.
//!
//! **Authentication: a shared cluster secret**, proven in both directions
//! by HMAC-SHA256 challenge-response over fresh nonces (`handshake`).
//! Chosen over mutual TLS because a cluster is one trust domain run by one
//! operator: one secret in every member's config is simpler to deploy and
//! rotate than a private CA with per-member certificates, it needs no clock
//! (no expiry), and its failure modes are obvious in the logs ("the
//! cluster secrets differ"). Neither side sends the secret, and a replayed
//! transcript fails against the other side's new nonce. The link
//! authenticates but does not encrypt; members are expected on a private
//! cluster network (CM-21). Running the stream under TLS later changes
//! nothing above `conn`.
//!
//! **Allow-list (CM-21):** the listener closes a connection from an address
//! not on [`LinkConfig::allow`] before reading a byte.
//!
//! **Wire format** (`frame`): length-prefixed frames, `u32` length, kind,
//! `u64` request id, meta length, postcard-encoded meta, then the message
//! body raw; limits per kind checked before buffering (4 KiB during the
//! handshake, 64 MiB of body plus 1 MiB of meta for a request, 16 MiB of
//! fetched message bytes plus 1 MiB of meta for a response). A malformed or oversized frame closes the connection with an
//! error log.
//!
//! **One request at a time per connection** (not multiplexed): the
//! request id is echoed and checked, and the per-peer connection cache
//! (CM-23, `cache`) gives the parallelism. Simple, and a slow 64 MiB
//! delivery never holds up a ping behind it.
//!
//! Logs: `cluster::link` (transport, handshake, allow-list),
//! `cluster::delivery`, `cluster::admin`, `cluster::mailbox`, each settable
//! alone.
//!
//! This module owns its sockets, an exception to "only `net` owns sockets":
//! the link is not a client protocol session and shares nothing with
//! `net`'s driver but TCP.

mod cache;
mod client;
mod config;
mod conn;
mod error;
mod frame;
mod handshake;
mod mailbox;
mod message;
mod server;

pub use cache::CacheStats;
pub use client::LinkClient;
pub use config::{AllowedPeers, ClusterSecret, LinkConfig, LinkConfigError, MIN_SECRET_LEN, SecretText};
pub use error::LinkError;
pub use frame::{MAX_BODY, MAX_HANDSHAKE_FRAME, MAX_META, MAX_RESPONSE_BODY};
pub use handshake::SUPPORTED_VERSIONS;
pub use mailbox::{
    FetchedMessage, FlagChange, MAX_CHANGES, MAX_FETCH_BYTES, MAX_FETCH_MESSAGES, MailboxError, MailboxOp,
    MailboxReply, MailboxState, Upload,
};
pub use message::{AdminError, AdminOperation, AdminReply, DeliverRequest, Password, Request, Response};
pub use server::{LinkHandler, LinkServer};

#[cfg(test)]
mod tests;
