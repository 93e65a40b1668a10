//! The queue's transport for local recipients. Remote recipients are held
//! in the queue until outbound delivery exists (issue: outbound mail).

use crate::{DeliveryError, LocalDelivery, Recipient};
use queue::{Job, Outcome, Transport};
use store::DeliveryId;

#[async_trait::async_trait]
impl Transport for LocalDelivery {
    async fn deliver(&self, job: &Job) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(job.recipients.len());
        for &index in &job.recipients {
            let Some(address) = job.envelope.recipients.get(index) else {
                outcomes.push(Outcome::Failed("recipient index out of range".to_owned()));
                continue;
            };
            outcomes.push(self.deliver_one(job, index, address).await);
        }
        outcomes
    }
}

impl LocalDelivery {
    async fn deliver_one(&self, job: &Job, index: usize, address: &str) -> Outcome {
        let account = match self.recipient(address).await {
            Ok(Recipient::Local(account)) => account,
            Ok(Recipient::UnknownUser) => return Outcome::Failed(format!("5.1.1 unknown user {address}")),
            Ok(Recipient::Remote) => return Outcome::Held("outbound delivery is not enabled on this server".into()),
            Err(DeliveryError::BadAddress(a)) => return Outcome::Failed(format!("5.1.3 bad address {a}")),
            Err(e) => return Outcome::Deferred(e.to_string()),
        };
        let id = delivery_id(job.id, index);
        match self.deliver(&account, &job.envelope.mail_from, &job.body, id).await {
            Ok(_) => Outcome::Delivered,
            Err(DeliveryError::QuotaExceeded { .. }) => {
                Outcome::Deferred(format!("4.2.2 mailbox of {account} is full"))
            }
            Err(e) if e.is_temporary() => Outcome::Deferred(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

/// Unique per (queued message, recipient): the store uses it to recognise
/// a delivery repeated after a crash.
fn delivery_id(id: queue::QueueId, index: usize) -> DeliveryId {
    DeliveryId(((id.0 as u128) << 32) | index as u128)
}
