//! What can go wrong on the connecting side, and whether trying again
//! later can help.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Nothing was sent.
    #[error("cannot connect to cluster member {peer}: {reason}")]
    Connect { peer: SocketAddr, reason: String },
    /// `stage` is `connect`, `handshake` or `request`; after `request` the
    /// peer may or may not have performed it.
    #[error("cluster member {peer} did not answer in time ({stage})")]
    Timeout { peer: SocketAddr, stage: &'static str },
    /// The secrets differ: an operator must act.
    #[error("cluster member {peer} failed authentication: {reason}")]
    Auth { peer: SocketAddr, reason: String },
    #[error("no common protocol version with cluster member {peer}: we speak {ours:?}, it speaks {theirs:?}")]
    NoCommonVersion { peer: SocketAddr, ours: Vec<u16>, theirs: Vec<u16> },
    /// The connection broke after the request was sent: the peer may or may
    /// not have performed it.
    #[error("connection to cluster member {peer} broke during the request: {reason}")]
    Interrupted { peer: SocketAddr, reason: String },
    #[error("cluster member {peer} broke the link protocol: {reason}")]
    Protocol { peer: SocketAddr, reason: String },
    /// The peer is up but does not serve this kind of request now.
    #[error("cluster member {peer} cannot serve the request: {reason}")]
    Unavailable { peer: SocketAddr, reason: String },
    /// The connection's protocol version does not know the request: the
    /// peer runs an older build. Nothing was sent.
    #[error(
        "cluster member {peer} speaks link protocol version {version}, which has no {request} requests (needs {needed})"
    )]
    Unsupported { peer: SocketAddr, request: &'static str, version: u16, needed: u16 },
    /// The message can never travel over the link.
    #[error("message of {size} bytes exceeds the link's limit of {max} bytes")]
    TooLarge { size: usize, max: usize },
}

impl LinkError {
    /// Whether the same request may succeed later (the queue defers, it
    /// does not bounce). Authentication and version errors count as
    /// temporary too: they are fixed by an operator, not by the sender.
    pub fn is_temporary(&self) -> bool {
        !matches!(self, LinkError::TooLarge { .. })
    }
}
