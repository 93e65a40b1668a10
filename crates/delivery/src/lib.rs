//! The local delivery agent. It answers "is this recipient ours, and which
//! account is it?" for the SMTP and LMTP receivers, and writes messages
//! into account storage for LMTP and for the queue. It asks the
//! [`cluster::Locator`] where each account lives; an account hosted
//! elsewhere is not delivered here (the cluster issue routes it).
#![forbid(unsafe_code)]

use bytes::{Bytes, BytesMut};
use cluster::{Location, Locator};
use directory::Directory;
use std::sync::Arc;
use store::{Delivery, DeliveryId, DeliveryOutcome, Store, StoreError};
use types::{AccountName, DomainName};

mod transport;

pub use transport::{MemberDelivery, NO_OUTBOUND, QueueTransport, delivery_id};

/// What a recipient address is to this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// An account of a local domain (directly or through an alias).
    Local(AccountName),
    /// A local domain without such an account or alias.
    UnknownUser,
    /// Not one of our domains: relaying, for authenticated senders only.
    Remote,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("address {0:?} is not valid")]
    BadAddress(String),
    #[error("mailbox full: {usage} of {limit} bytes used")]
    QuotaExceeded { usage: u64, limit: u64 },
    #[error("account {0} is hosted on {1}")]
    HostedElsewhere(AccountName, String),
    #[error("unknown account {0}")]
    UnknownAccount(AccountName),
    /// The directory, locator or storage failed; a retry may succeed.
    #[error("temporary failure: {0}")]
    Temporary(String),
}

impl DeliveryError {
    /// Whether the sender should try again later (4xx) rather than give up
    /// (5xx).
    pub fn is_temporary(&self) -> bool {
        matches!(self, DeliveryError::Temporary(_) | DeliveryError::HostedElsewhere(..))
    }
}

/// Resolves recipients and stores messages for local accounts.
pub struct LocalDelivery {
    directory: Arc<dyn Directory>,
    store: Arc<Store>,
    locator: Arc<dyn Locator>,
    main_domain: DomainName,
}

impl LocalDelivery {
    pub fn new(
        directory: Arc<dyn Directory>,
        store: Arc<Store>,
        locator: Arc<dyn Locator>,
        main_domain: DomainName,
    ) -> Self {
        Self { directory, store, locator, main_domain }
    }

    pub fn directory(&self) -> &Arc<dyn Directory> {
        &self.directory
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Where the account is served from (the cluster's locator).
    pub async fn locate(&self, account: &AccountName) -> Result<Location, cluster::LocateError> {
        self.locator.locate(account).await
    }

    pub fn main_domain(&self) -> &DomainName {
        &self.main_domain
    }

    /// Classifies a forward-path (without angle brackets). A bare
    /// `postmaster` (RFC 5321 §4.5.1) means the main domain's postmaster.
    pub async fn recipient(&self, address: &str) -> Result<Recipient, DeliveryError> {
        let name = if address.eq_ignore_ascii_case("postmaster") {
            AccountName::parse("postmaster", Some(&self.main_domain))
        } else {
            AccountName::parse(address, None)
        }
        .map_err(|_| DeliveryError::BadAddress(address.to_owned()))?;
        let directory = &self.directory;
        if !directory.has_domain(name.domain()).await.map_err(temporary)? {
            return Ok(Recipient::Remote);
        }
        match directory.resolve(&name).await.map_err(temporary)? {
            Some(account) => Ok(Recipient::Local(account)),
            None => Ok(Recipient::UnknownUser),
        }
    }

    /// Whether `account` can take `size` more bytes now. Checked at RCPT
    /// and DATA time so that a full mailbox is refused before the message
    /// is accepted, not bounced after.
    pub async fn check_quota(&self, account: &AccountName, size: u64) -> Result<(), DeliveryError> {
        let record = self.directory.account(account).await.map_err(temporary)?;
        let Some(limit) = record.and_then(|r| r.quota_bytes) else { return Ok(()) };
        // Counted where the account is open; a member that does not serve
        // it leaves the check to the one that does, at delivery.
        if !matches!(self.locator.locate(account).await, Ok(Location::Here)) {
            return Ok(());
        }
        let usage = self.store.account(account).await.map_err(from_store)?.usage().bytes;
        if usage.saturating_add(size) > limit {
            return Err(DeliveryError::QuotaExceeded { usage, limit });
        }
        Ok(())
    }

    /// Stores `body` in the account's INBOX, durably, with a `Return-Path`
    /// (RFC 5321 §4.4) for `mail_from`. A second call with the same `id`
    /// stores nothing and reports the first UID.
    pub async fn deliver(
        &self,
        account: &AccountName,
        mail_from: &str,
        body: &Bytes,
        id: DeliveryId,
    ) -> Result<DeliveryOutcome, DeliveryError> {
        match self.locator.locate(account).await {
            Ok(Location::Here) => {}
            Ok(Location::Elsewhere { server }) => {
                return Err(DeliveryError::HostedElsewhere(account.clone(), server));
            }
            Err(e) => return Err(temporary(e)),
        }
        self.deliver_here(account, mail_from, body, id).await
    }

    /// [`LocalDelivery::deliver`] for a caller that has just asked the
    /// locator itself (the queue's transport).
    pub(crate) async fn deliver_here(
        &self,
        account: &AccountName,
        mail_from: &str,
        body: &Bytes,
        id: DeliveryId,
    ) -> Result<DeliveryOutcome, DeliveryError> {
        let record = self
            .directory
            .account(account)
            .await
            .map_err(temporary)?
            .ok_or_else(|| DeliveryError::UnknownAccount(account.clone()))?;
        let handle = self.store.account(account).await.map_err(from_store)?;
        let delivery = Delivery {
            id,
            mailbox: "INBOX".to_owned(),
            body: with_return_path(mail_from, body),
            flags: Vec::new(),
            internal_date: unix_now(),
            quota_bytes: record.quota_bytes,
        };
        let outcome = handle.deliver(delivery).await.map_err(from_store)?;
        tracing::debug!(target: "delivery", account = %account, ?outcome, "delivered");
        Ok(outcome)
    }
}

fn with_return_path(mail_from: &str, body: &Bytes) -> Bytes {
    let header = format!("Return-Path: <{mail_from}>\r\n");
    let mut out = BytesMut::with_capacity(header.len() + body.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out.freeze()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn temporary(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Temporary(e.to_string())
}

fn from_store(e: StoreError) -> DeliveryError {
    match e {
        StoreError::QuotaExceeded { usage, limit } => DeliveryError::QuotaExceeded { usage, limit },
        other => DeliveryError::Temporary(other.to_string()),
    }
}
