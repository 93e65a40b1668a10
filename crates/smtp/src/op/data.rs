//! DATA (RFC 5321 §4.1.1.4) and what happens after the final dot: SMTP and
//! submission enqueue durably before 250; LMTP delivers to each recipient
//! and answers once per accepted RCPT (RFC 2033 §4.2).

use crate::data::{ContentError, DataReceiver};
use crate::received::{self, Trace};
use crate::reply::{Reply, write_reply};
use crate::session::{DataPhase, SmtpSession, State, Transaction};
use bytes::Bytes;
use delivery::DeliveryError;
use queue::Envelope;
use store::DeliveryId;
use time::OffsetDateTime;

impl SmtpSession {
    pub(crate) fn data(&mut self, out: &mut Vec<u8>) {
        let transaction = match std::mem::replace(&mut self.state, State::Idle) {
            State::Mail(transaction) if !transaction.recipients.is_empty() => transaction,
            State::Mail(transaction) => {
                self.state = State::Mail(transaction);
                // RFC 2033 §4.2 asks 503 of LMTP; RFC 5321 §3.3 allows 554.
                let code = if self.is_lmtp() { 503 } else { 554 };
                self.reject(out, code, "5.5.1", "no valid recipients");
                return;
            }
            other => {
                self.state = other;
                self.reject(out, 503, "5.5.1", "send MAIL and RCPT first");
                return;
            }
        };
        let id = format!("{:016x}", rand::random::<u64>());
        let mut prefix = Vec::with_capacity(256);
        self.trace(&transaction, &id).write(&mut prefix);
        let receiver = DataReceiver::new(&prefix, transaction.declared_size, self.config.max_message_size);
        tracing::debug!(target: "smtp::data", %id, "receiving data");
        self.state = State::Data(Box::new(DataPhase { transaction, receiver, id }));
        out.extend_from_slice(b"354 start mail input; end with <CRLF>.<CRLF>\r\n");
    }

    fn trace<'a>(&'a self, transaction: &'a Transaction, id: &'a str) -> Trace<'a> {
        let (helo, extended) = self.helo.as_ref().map_or(("unknown", false), |h| (h.name.as_str(), h.extended));
        let single = match transaction.recipients.as_slice() {
            [only] => Some(only.address.as_str()),
            _ => None,
        };
        Trace {
            helo,
            peer: self.conn.peer.ip(),
            hostname: &self.config.hostname,
            protocol: received::protocol(
                self.is_lmtp(),
                extended,
                transaction.smtputf8,
                self.conn.tls,
                self.account.is_some(),
            ),
            id,
            recipient: single,
            date: OffsetDateTime::now_utc(),
        }
    }

    /// The final dot arrived; the transaction ends whatever the outcome.
    pub(crate) async fn end_of_data(&mut self, phase: Box<DataPhase>, out: &mut Vec<u8>) {
        let DataPhase { transaction, receiver, id } = *phase;
        let size = receiver.size();
        let body = match receiver.finish() {
            Ok(body) => Bytes::from(body),
            Err(error) => {
                let reply = match error {
                    ContentError::TooBig => Reply::new(552, "5.3.4", "message too big"),
                    ContentError::HeaderLineTooLong => Reply::new(554, "5.6.0", "header line too long"),
                };
                tracing::debug!(target: "smtp::data", %id, size, ?error, "message refused");
                let n_replies = if self.is_lmtp() { transaction.accepted.len() } else { 1 };
                for _ in 0..n_replies {
                    reply.write(out);
                }
                return;
            }
        };
        let hops = received::hops(&body);
        if hops > self.config.max_hops {
            // RFC 5321 §6.3: a loop; refusing it now stops it at once.
            tracing::info!(target: "smtp::data", %id, hops, "mail loop: too many Received headers");
            let reply = Reply::new(554, "5.4.6", format!("too many hops ({hops} Received headers): a mail loop"));
            let n_replies = if self.is_lmtp() { transaction.accepted.len() } else { 1 };
            for _ in 0..n_replies {
                reply.write(out);
            }
            return;
        }
        if self.is_lmtp() {
            self.deliver_lmtp(*transaction, &body, &id, out).await;
        } else if self.every_recipient_is_full(&transaction, body.len() as u64).await {
            // Refused now rather than bounced later: the sender is still
            // on the line. A message with any recipient that can take it
            // is queued; the queue defers the full ones.
            tracing::debug!(target: "smtp::data", %id, size, "every recipient's mailbox is full");
            self.reject(out, 552, "5.2.2", "mailbox full");
        } else {
            self.enqueue(*transaction, body, &id, out).await;
        }
    }

    /// Whether every recipient is local and over quota with `size` more
    /// bytes (the size may not have been declared at MAIL).
    async fn every_recipient_is_full(&self, transaction: &Transaction, size: u64) -> bool {
        for recipient in &transaction.recipients {
            let Some(account) = &recipient.account else { return false };
            match self.services.delivery.check_quota(account, size).await {
                Err(DeliveryError::QuotaExceeded { .. }) => {}
                _ => return false,
            }
        }
        true
    }

    async fn enqueue(&mut self, transaction: Transaction, body: Bytes, id: &str, out: &mut Vec<u8>) {
        let size = body.len();
        let envelope = Envelope {
            mail_from: transaction.mail_from,
            recipients: transaction.recipients.into_iter().map(|r| r.address).collect(),
            received_at: OffsetDateTime::now_utc().unix_timestamp(),
            authenticated_as: self.account.as_ref().map(ToString::to_string),
            smtputf8: transaction.smtputf8,
        };
        match self.services.queue.enqueue(envelope, body).await {
            Ok(queue_id) => {
                tracing::debug!(target: "smtp::data", %id, %queue_id, size, "queued");
                write_reply(out, 250, "2.0.0", &format!("queued as {queue_id}"));
            }
            Err(error) => {
                tracing::error!(target: "smtp::data", %id, %error, "enqueue failed");
                write_reply(out, 451, "4.3.0", "queue unavailable, try again later");
            }
        }
    }

    /// One LMTP recipient whose account is served by another member,
    /// queued here for it (the queue's transport sends it on).
    async fn queue_for_member(
        &self,
        transaction: &Transaction,
        recipient: &crate::session::TransactionRecipient,
        body: &Bytes,
        server: &str,
        id: &str,
    ) -> Reply {
        let envelope = Envelope {
            mail_from: transaction.mail_from.clone(),
            recipients: vec![recipient.address.clone()],
            received_at: OffsetDateTime::now_utc().unix_timestamp(),
            authenticated_as: self.account.as_ref().map(ToString::to_string),
            smtputf8: transaction.smtputf8,
        };
        match self.services.queue.enqueue(envelope, body.clone()).await {
            Ok(queue_id) => {
                tracing::debug!(target: "smtp::lmtp", %id, %queue_id, server, "queued for the member serving it");
                Reply::new(250, "2.0.0", format!("queued as {queue_id} for {server}"))
            }
            Err(error) => {
                tracing::error!(target: "smtp::lmtp", %id, %error, "enqueue failed");
                Reply::new(451, "4.3.0", "temporary failure, try again later")
            }
        }
    }

    async fn deliver_lmtp(&mut self, transaction: Transaction, body: &Bytes, id: &str, out: &mut Vec<u8>) {
        let delivery = &self.services.delivery;
        let mut replies = Vec::with_capacity(transaction.recipients.len());
        for recipient in &transaction.recipients {
            // LMTP accepts local recipients only, so this is always set.
            let Some(account) = &recipient.account else {
                replies.push(Reply::new(550, "5.7.1", "not a local recipient"));
                continue;
            };
            let outcome = delivery.deliver(account, &transaction.mail_from, body, DeliveryId(rand::random())).await;
            let reply = match outcome {
                Ok(_) => Reply::new(250, "2.0.0", "delivered"),
                Err(DeliveryError::QuotaExceeded { .. }) => Reply::new(552, "5.2.2", "mailbox full"),
                Err(DeliveryError::UnknownAccount(_)) => Reply::new(550, "5.1.1", "unknown user"),
                Err(DeliveryError::BadAddress(_)) => Reply::new(550, "5.1.3", "invalid recipient address"),
                // Another cluster member has the account (open): the queue
                // hands it over, durably, and retries until it can.
                Err(DeliveryError::HostedElsewhere(_, server)) => {
                    self.queue_for_member(&transaction, recipient, body, &server, id).await
                }
                Err(error @ DeliveryError::Temporary(_)) => {
                    tracing::warn!(target: "smtp::lmtp", %id, %account, %error, "delivery failed");
                    Reply::new(451, "4.3.0", "temporary failure, try again later")
                }
            };
            tracing::debug!(target: "smtp::lmtp", %id, %account, code = reply.code, size = body.len(), "delivery");
            replies.push(reply);
        }
        for &index in &transaction.accepted {
            replies[index].write(out);
        }
    }
}
