//! Sending: the web mail's counterpart of SMTP submission. The message goes
//! into the queue durably (fsync) before the user is told it was sent, and
//! the queue delivers it as it would an authenticated SMTP client's.

use crate::WebmailServices;
use crate::error::WebError;
use bytes::Bytes;
use queue::{Envelope, QueueId};
use types::AccountName;

/// Recipients one message may have, as SMTP's default `max_recipients`.
pub const MAX_RECIPIENTS: usize = 100;

impl WebmailServices {
    /// Queues `message` (a complete RFC 5322 message, CRLF line ends) from
    /// `account` to `recipients` (bare `local@domain` addresses). A
    /// recipient that is not an address is refused (400 naming it) and
    /// nothing is queued.
    pub async fn submit(
        &self,
        account: &AccountName,
        recipients: &[String],
        message: Bytes,
    ) -> Result<QueueId, WebError> {
        if recipients.is_empty() {
            return Err(WebError::BadRequest("no recipient".into()));
        }
        if recipients.len() > MAX_RECIPIENTS {
            return Err(WebError::BadRequest(format!("at most {MAX_RECIPIENTS} recipients")));
        }
        for recipient in recipients {
            if AccountName::parse(recipient, None).is_err() {
                return Err(WebError::BadRequest(format!("{recipient:?} is not an e-mail address")));
            }
        }
        let envelope = Envelope {
            mail_from: account.to_string(),
            recipients: recipients.to_vec(),
            received_at: time::OffsetDateTime::now_utc().unix_timestamp(),
            authenticated_as: Some(account.to_string()),
            smtputf8: !account.to_string().is_ascii() || recipients.iter().any(|r| !r.is_ascii()),
        };
        let size = message.len();
        let id = self.queue.enqueue(envelope, message).await.map_err(|e| WebError::Unavailable(e.to_string()))?;
        tracing::info!(target: "webmail::submit", %account, %id, size, n_recipients = recipients.len(), "queued");
        Ok(id)
    }

    /// The addresses `account` may send as: itself and its aliases.
    pub async fn sender_addresses(&self, account: &AccountName) -> Result<Vec<AccountName>, WebError> {
        let mut addresses = vec![account.clone()];
        addresses.extend(self.directory.aliases_of(account).await?);
        Ok(addresses)
    }
}
