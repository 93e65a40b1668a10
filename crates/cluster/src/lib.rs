//! Where an account lives and how to reach it. Every part that touches an
//! account asks the [`Locator`] first; on a single server the answer is
//! always "here". Static and dynamic clusters answer from the directory's
//! `hostServer` and from etcd ownership, behind the same trait.
//!
//! [`link`] is the channel between members: requests (deliver, submit,
//! admin, ping) over authenticated, versioned, cached TCP connections.
#![forbid(unsafe_code)]

pub mod link;

use async_trait::async_trait;
use types::AccountName;

/// Where an account's data is served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// This server holds (or may open) the account.
    Here,
    /// Another server does; reach it over the cluster link.
    Elsewhere { server: String },
}

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// The source of truth (directory, coordination engine) is out of
    /// reach; trying again later may work.
    #[error("cannot locate {account}: {reason}")]
    Unavailable { account: AccountName, reason: String },
}

#[async_trait]
pub trait Locator: Send + Sync + 'static {
    async fn locate(&self, account: &AccountName) -> Result<Location, LocateError>;
}

/// The single server: every account is here.
#[derive(Debug, Default, Clone, Copy)]
pub struct SingleServer;

#[async_trait]
impl Locator for SingleServer {
    async fn locate(&self, _account: &AccountName) -> Result<Location, LocateError> {
        Ok(Location::Here)
    }
}
