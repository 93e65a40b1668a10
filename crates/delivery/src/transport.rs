//! The queue's transport: recipients of local domains go into account
//! storage here, or to the cluster member that hosts their account; the
//! others to the remote transport (outbound SMTP) when the server has one,
//! or stay held in the queue when it has none.

use crate::{DeliveryError, LocalDelivery, Recipient};
use cluster::Location;
use queue::{Job, Outcome, Transport};
use std::sync::Arc;
use store::DeliveryId;
use types::AccountName;

/// Why a remote recipient waits when outbound delivery is off.
pub const NO_OUTBOUND: &str = "outbound delivery is not enabled on this server";

/// Delivery to an account another cluster member hosts (CM-25): the
/// cluster link's client, in the binary.
#[async_trait::async_trait]
pub trait MemberDelivery: Send + Sync + 'static {
    /// Delivers the job's message to `account` on `server`, for the
    /// envelope recipient at `position`; `id` is the same on every retry.
    async fn deliver(&self, server: &str, account: &AccountName, job: &Job, position: usize, id: DeliveryId)
    -> Outcome;
}

pub struct QueueTransport {
    local: Arc<LocalDelivery>,
    remote: Option<Arc<dyn Transport>>,
    members: Option<Arc<dyn MemberDelivery>>,
}

impl QueueTransport {
    /// `remote: None` keeps mail for other domains held in the queue.
    pub fn new(local: Arc<LocalDelivery>, remote: Option<Arc<dyn Transport>>) -> QueueTransport {
        QueueTransport { local, remote, members: None }
    }

    /// Replaces the transport for other domains' mail (a backend's "forward
    /// to *", CM-27).
    pub fn with_remote(mut self, remote: Arc<dyn Transport>) -> QueueTransport {
        self.remote = Some(remote);
        self
    }

    /// In a cluster: mail for accounts hosted on other members goes to
    /// them over the cluster link.
    pub fn with_members(mut self, members: Arc<dyn MemberDelivery>) -> QueueTransport {
        self.members = Some(members);
        self
    }

    async fn deliver_to_account(&self, job: &Job, position: usize, account: &AccountName) -> Outcome {
        let id = delivery_id(job, position);
        match self.local.locate(account).await {
            Ok(Location::Here) => self.local.deliver_queued(job, account, id).await,
            Ok(Location::Elsewhere { server }) => match &self.members {
                Some(members) => members.deliver(&server, account, job, position, id).await,
                None => Outcome::Deferred(format!("4.4.0 {account} is hosted on {server}, not reachable from here")),
            },
            Err(e) => Outcome::Deferred(format!("4.4.3 {e}")),
        }
    }
}

#[async_trait::async_trait]
impl Transport for QueueTransport {
    async fn deliver(&self, job: &Job) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; job.recipients.len()];
        let mut remote = Vec::new();
        for (slot, &position) in job.recipients.iter().enumerate() {
            let Some(address) = job.envelope.recipients.get(position) else {
                outcomes[slot] = Some(Outcome::Failed("recipient index out of range".to_owned()));
                continue;
            };
            outcomes[slot] = match self.local.recipient(address).await {
                Ok(Recipient::Local(account)) => Some(self.deliver_to_account(job, position, &account).await),
                Ok(Recipient::UnknownUser) => Some(Outcome::Failed(format!("5.1.1 unknown user {address}"))),
                Ok(Recipient::Remote) if self.remote.is_some() => {
                    remote.push(slot);
                    None
                }
                Ok(Recipient::Remote) => Some(Outcome::Held(NO_OUTBOUND.into())),
                Err(DeliveryError::BadAddress(a)) => Some(Outcome::Failed(format!("5.1.3 bad address {a}"))),
                Err(e) => Some(Outcome::Deferred(e.to_string())),
            };
        }
        if let (Some(transport), false) = (&self.remote, remote.is_empty()) {
            let remote_job =
                Job { recipients: remote.iter().map(|&slot| job.recipients[slot]).collect(), ..job.clone() };
            let results = transport.deliver(&remote_job).await;
            for (slot, outcome) in remote.into_iter().zip(results) {
                outcomes[slot] = Some(outcome);
            }
        }
        outcomes.into_iter().map(|o| o.unwrap_or_else(|| Outcome::Deferred("4.3.0 no outcome".into()))).collect()
    }
}

impl LocalDelivery {
    /// Delivers a queued message to one account the locator has just
    /// placed here.
    async fn deliver_queued(&self, job: &Job, account: &AccountName, id: DeliveryId) -> Outcome {
        match self.deliver_here(account, &job.envelope.mail_from, &job.body, id).await {
            Ok(_) => Outcome::Delivered,
            Err(DeliveryError::QuotaExceeded { .. }) => {
                Outcome::Deferred(format!("4.2.2 mailbox of {account} is full"))
            }
            Err(e) if e.is_temporary() => Outcome::Deferred(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

/// Unique per (queue, queued message, recipient): the store uses it to
/// recognise a delivery repeated after a crash ([`queue::Job::delivery_id`]).
pub fn delivery_id(job: &queue::Job, position: usize) -> DeliveryId {
    DeliveryId(job.delivery_id(position))
}
