//! The dynamic cluster's coordination through etcd v3 (CM-11..14).
//!
//! Members of one dynamic cluster share a storage root; etcd says which
//! member has which account open. Each member holds a short lease
//! ([`Coordinator`]): its registry entry `members/<member>`, the accounts
//! it owns `accounts/<account>` and its election key under `controller/`
//! are all attached to that lease, so they vanish together when the
//! member dies. All keys live under `/rookery/<cluster>/`.
//!
//! Self-fencing is the safety property: a member that cannot renew its
//! lease stops serving ([`Coordinator::serving`] turns false and
//! [`Coordinator::epochs`] says so) before etcd can expire the lease, so
//! no other member can own an account while this one still writes it.
//! Validity is counted from the moment each confirmed renewal was *sent*
//! (etcd restarts the TTL when it receives it, which is later).
//!
//! [`Controller`] is the election of the member that runs cluster-wide
//! singleton work; [`Controller::fenced`] makes its etcd writes conditional
//! on still leading. [`Reader`] is the lease-less read-only view for
//! frontends.
#![forbid(unsafe_code)]

mod controller;
mod coordinator;
mod etcd;
mod keys;
mod lease;
mod reader;

pub use controller::{Controller, Leadership};
pub use coordinator::Coordinator;
pub use etcd_client::{Compare, CompareOp, TxnOp};
pub use reader::{Owned, Reader};

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// How a member reaches etcd and how long its lease lasts.
#[derive(Clone, Debug)]
pub struct CoordConfig {
    /// `127.0.0.11:2379` or `http://127.0.0.11:2379`; one per etcd node.
    pub endpoints: Vec<String>,
    /// The dynamic cluster's name (the key prefix), e.g. `dc1.example`.
    pub cluster: String,
    /// This member's name, unique in the cluster.
    pub member: String,
    /// The lease's time to live; etcd counts it in whole seconds, so it is
    /// granted rounded up (and etcd may raise it to its minimum), while
    /// this member still fences itself by this value.
    pub lease_ttl: Duration,
    /// Stop serving this long before the lease could expire at etcd: room
    /// for a stalled process to notice. Must be less than the TTL.
    pub fence_margin: Duration,
}

impl CoordConfig {
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(5);
    pub const DEFAULT_FENCE_MARGIN: Duration = Duration::from_secs(1);

    /// The default timings: a 5 s lease, fenced 1 s before it can expire.
    pub fn new(endpoints: Vec<String>, cluster: impl Into<String>, member: impl Into<String>) -> CoordConfig {
        CoordConfig {
            endpoints,
            cluster: cluster.into(),
            member: member.into(),
            lease_ttl: Self::DEFAULT_LEASE_TTL,
            fence_margin: Self::DEFAULT_FENCE_MARGIN,
        }
    }

    fn validate(&self) -> Result<(), CoordError> {
        if self.cluster.is_empty() || self.cluster.contains('/') {
            return Err(CoordError::Invalid(format!("bad cluster name {:?}", self.cluster)));
        }
        if self.member.is_empty() || self.member.contains('/') {
            return Err(CoordError::Invalid(format!("bad member name {:?}", self.member)));
        }
        if self.lease_ttl < Duration::from_secs(1) {
            return Err(CoordError::Invalid("lease_ttl must be at least 1 s".into()));
        }
        if self.fence_margin >= self.lease_ttl {
            return Err(CoordError::Invalid("fence_margin must be less than lease_ttl".into()));
        }
        Ok(())
    }
}

/// What a member publishes about itself in `members/<member>`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct MemberInfo {
    /// `backend`, `frontend`, ...: free text for `cluster status`.
    pub role: String,
    /// The cluster link (member-to-member proxying and deliveries).
    pub link: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
    pub pop3: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    /// The web mail listener (absent in entries of older members).
    #[serde(default)]
    pub web: Option<SocketAddr>,
    /// The member's queue size, for `cluster status`.
    pub queue_messages: Option<u64>,
}

/// Which lease the member serves under. `number` grows by one with each
/// new lease; `serving` turns false when the member fences itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Epoch {
    pub number: u64,
    pub serving: bool,
}

/// The answer of [`Coordinator::acquire`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// This member owns the account under its current lease.
    Me,
    /// Another member does (its name).
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CoordError {
    /// etcd could not be reached or did not answer in time: temporary.
    #[error("etcd unavailable: {0}")]
    Unavailable(String),
    /// This member is not serving: its lease is not known to be valid.
    #[error("this member is fenced: its etcd lease is not known to be valid")]
    Fenced,
    /// etcd refused the request (not something a retry fixes).
    #[error("etcd refused: {0}")]
    Rejected(String),
    /// A bad configuration or argument.
    #[error("invalid: {0}")]
    Invalid(String),
}
