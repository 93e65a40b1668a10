//! One mail transaction on an open connection: MAIL, RCPT for each
//! recipient, DATA, the content, and the per-recipient outcome. With
//! PIPELINING (RFC 2920) MAIL, the RCPTs and DATA go in one write and the
//! replies are read in order; without it, one command at a time.

use crate::command::{self, MailParameters};
use crate::connection::Connection;
use crate::data::{self, CHUNK, DotStuffer};
use crate::destination::Destination;
use crate::error::{Cause, SmtpError, Stage};
use crate::reply::{EnhancedStatus, Reply};
use tracing::{debug, info};

/// The envelope of one message to one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path without angle brackets; empty for `<>`.
    pub mail_from: String,
    /// Forward-paths without angle brackets, in RCPT order.
    pub recipients: Vec<String>,
    /// The message needs SMTPUTF8 (it arrived with it); non-ASCII
    /// addresses need it whatever this says.
    pub smtputf8: bool,
    /// The body has 8-bit content (also detected from the bytes).
    pub body_8bit: bool,
}

/// What became of one recipient, in the order of `Envelope::recipients`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptResult {
    /// The server took responsibility for the message for this recipient.
    Accepted,
    /// Refused at RCPT, at DATA, after the final `.`, or lost with the
    /// connection before a final answer; the error says which, whether it
    /// is permanent, and carries the reply when there is one.
    Rejected(SmtpError),
}

impl RcptResult {
    pub fn is_accepted(&self) -> bool {
        matches!(self, RcptResult::Accepted)
    }
}

/// What is known about each recipient while a transaction runs.
#[derive(Debug)]
enum Pending {
    /// Not asked yet, or no answer yet.
    Unknown,
    /// RCPT accepted; the final reply decides.
    Accepted,
    Done(RcptResult),
}

impl Connection {
    /// Sends one message. `Err` when the whole transaction failed before
    /// any recipient had its own answer (connection, MAIL, a refusal
    /// decided here); otherwise one [`RcptResult`] per recipient, where a
    /// failure after the RCPTs (DATA refused, final reply, lost
    /// connection) is given to every recipient that was accepted.
    /// Afterwards the connection is ready for the next transaction (after
    /// [`Connection::reset`]) if [`Connection::is_usable`].
    pub async fn send(&mut self, envelope: &Envelope, body: &[u8]) -> Result<Vec<RcptResult>, SmtpError> {
        let parameters = self.check(envelope, body)?;
        let mut pending: Vec<Pending> = envelope
            .recipients
            .iter()
            .map(|recipient| match command::is_safe_path(recipient) {
                true => Pending::Unknown,
                false => Pending::Done(RcptResult::Rejected(self.local_refusal(
                    Stage::RcptTo,
                    EnhancedStatus::new(5, 1, 3),
                    format!("recipient address {:?} cannot be sent in an SMTP command", recipient.escape_debug()),
                ))),
            })
            .collect();
        let to_send: Vec<usize> = (0..pending.len()).filter(|&n| matches!(pending[n], Pending::Unknown)).collect();
        if to_send.is_empty() {
            return Ok(finish(pending, None, &self.wire.server));
        }
        let mail = command::mail_from(&envelope.mail_from, parameters);
        let outcome = if self.extensions.pipelining {
            self.pipelined(&mail, envelope, &to_send, &mut pending, body).await
        } else {
            self.one_by_one(&mail, envelope, &to_send, &mut pending, body).await
        };
        match outcome {
            Ok(final_error) => {
                self.transactions += 1;
                let results = finish(pending, final_error, &self.wire.server);
                let accepted = results.iter().filter(|result| result.is_accepted()).count();
                info!(target: "smtp_client", server = %self.wire.server, from = %envelope.mail_from,
                    size = body.len(), accepted, refused = results.len() - accepted, tls = self.is_tls(), "transaction done");
                Ok(results)
            }
            Err(error) if pending.iter().any(|state| !matches!(state, Pending::Unknown)) => {
                info!(target: "smtp_client", server = %self.wire.server, from = %envelope.mail_from, error = %error,
                    "transaction failed after recipients were answered");
                Ok(finish(pending, Some(error), &self.wire.server))
            }
            Err(error) => {
                info!(target: "smtp_client", server = %self.wire.server, from = %envelope.mail_from, error = %error,
                    "transaction failed");
                Err(error)
            }
        }
    }

    /// What must hold before anything is sent, and the MAIL parameters.
    fn check(&self, envelope: &Envelope, body: &[u8]) -> Result<MailParameters, SmtpError> {
        if !self.usable {
            return Err(self.wire.error(Stage::MailFrom, Cause::Closed));
        }
        if !command::is_safe_path(&envelope.mail_from) {
            return Err(self.local_refusal(
                Stage::MailFrom,
                EnhancedStatus::new(5, 1, 7),
                format!("sender address {:?} cannot be sent in an SMTP command", envelope.mail_from.escape_debug()),
            ));
        }
        let needs_smtputf8 = envelope.smtputf8
            || command::needs_smtputf8(&envelope.mail_from)
            || envelope.recipients.iter().any(|recipient| command::needs_smtputf8(recipient));
        if needs_smtputf8 && !self.extensions.smtputf8 {
            // RFC 6531 §3.2: without SMTPUTF8 at the server the message
            // cannot be relayed as it is.
            return Err(self.local_refusal(
                Stage::MailFrom,
                EnhancedStatus::new(5, 6, 7),
                format!("{} does not support SMTPUTF8, which this message needs", self.wire.server),
            ));
        }
        let size = self.extensions.size.map(|_| data::message_size(body));
        if let (Some(limit), Some(size)) = (self.extensions.size, size)
            && limit > 0
            && size > limit
        {
            return Err(self.local_refusal(
                Stage::MailFrom,
                EnhancedStatus::new(5, 3, 4),
                format!("message size {size} exceeds size limit {limit} of server {}", self.wire.server),
            ));
        }
        let eight_bit = envelope.body_8bit || data::has_8bit(body);
        Ok(MailParameters {
            size,
            // Without 8BITMIME the content goes as it is: converting it is
            // the sender's business, and most receivers take it.
            body_8bitmime: eight_bit && self.extensions.eight_bit_mime,
            smtputf8: needs_smtputf8,
        })
    }

    fn local_refusal(&self, stage: Stage, status: EnhancedStatus, text: String) -> SmtpError {
        self.wire.error(stage, Cause::Refused { status, text })
    }

    /// RFC 2920: MAIL, every RCPT and DATA in one write, then the replies
    /// in order. All of them are read even after a refusal, so the next
    /// transaction starts in step. `Ok(Some(error))` is a failure after
    /// the RCPTs that every accepted recipient shares.
    async fn pipelined(
        &mut self,
        mail: &str,
        envelope: &Envelope,
        to_send: &[usize],
        pending: &mut [Pending],
        body: &[u8],
    ) -> Result<Option<SmtpError>, SmtpError> {
        let mut batch = String::from(mail);
        for &n in to_send {
            batch.push_str(&command::rcpt_to(&envelope.recipients[n]));
        }
        batch.push_str(command::DATA);
        debug!(target: "smtp_client", server = %self.wire.server, command = mail.trim_end(), recipients = to_send.len(),
            "command: pipelined MAIL, RCPTs and DATA");
        if let Err(error) = self.wire.write(batch.as_bytes(), Stage::MailFrom, self.timeouts.mail).await {
            self.usable = false;
            return Err(error);
        }
        let result = self.wire.read_reply(Stage::MailFrom, self.timeouts.mail).await;
        let mail_reply = self.note(result, Stage::MailFrom)?;
        for &n in to_send {
            let result = self.wire.read_reply(Stage::RcptTo, self.timeouts.rcpt).await;
            let reply = self.note(result, Stage::RcptTo)?;
            // After a refused MAIL the RCPT replies (503s) mean nothing.
            if mail_reply.is_positive() {
                pending[n] = self.rcpt_state(reply);
            }
        }
        let result = self.wire.read_reply(Stage::Data, self.timeouts.data).await;
        let data_reply = self.note(result, Stage::Data)?;
        let any_accepted = pending.iter().any(|state| matches!(state, Pending::Accepted));
        if data_reply.code == 354 && !(mail_reply.is_positive() && any_accepted) {
            // RFC 2920 §3.1: a server that took DATA anyway gets an empty
            // message, which it must refuse for want of recipients.
            let _ = self.wire.write(b".\r\n", Stage::DataTransfer, self.timeouts.data_block).await;
            let result = self.wire.read_reply(Stage::FinalReply, self.timeouts.final_dot).await;
            let _ = self.note(result, Stage::FinalReply);
        }
        if !mail_reply.is_positive() {
            for &n in to_send {
                pending[n] = Pending::Unknown;
            }
            return Err(self.refusal(Stage::MailFrom, mail_reply));
        }
        if !any_accepted {
            return Ok(None);
        }
        if data_reply.code != 354 {
            let error = self.refusal(Stage::Data, data_reply);
            self.end_transaction().await;
            return Ok(Some(error));
        }
        self.content(body).await
    }

    /// Without PIPELINING: each command waits for its reply.
    async fn one_by_one(
        &mut self,
        mail: &str,
        envelope: &Envelope,
        to_send: &[usize],
        pending: &mut [Pending],
        body: &[u8],
    ) -> Result<Option<SmtpError>, SmtpError> {
        let reply = self.command(mail, Stage::MailFrom, self.timeouts.mail).await?;
        if !reply.is_positive() {
            return Err(self.refusal(Stage::MailFrom, reply));
        }
        for &n in to_send {
            let rcpt = command::rcpt_to(&envelope.recipients[n]);
            let reply = self.command(&rcpt, Stage::RcptTo, self.timeouts.rcpt).await?;
            pending[n] = self.rcpt_state(reply);
            if !self.usable {
                // 421: the server is going away; the rest stay unknown.
                return Err(self.wire.error(Stage::RcptTo, Cause::Closed));
            }
        }
        if !pending.iter().any(|state| matches!(state, Pending::Accepted)) {
            // Nobody to send to: end the transaction instead of DATA.
            self.end_transaction().await;
            return Ok(None);
        }
        let reply = self.command(command::DATA, Stage::Data, self.timeouts.data).await?;
        if reply.code != 354 {
            let error = self.refusal(Stage::Data, reply);
            self.end_transaction().await;
            return Ok(Some(error));
        }
        self.content(body).await
    }

    fn rcpt_state(&self, reply: Reply) -> Pending {
        if reply.is_positive() {
            Pending::Accepted
        } else {
            Pending::Done(RcptResult::Rejected(self.refusal(Stage::RcptTo, reply)))
        }
    }

    /// The content after 354, in blocks, and the reply to the final `.`.
    async fn content(&mut self, body: &[u8]) -> Result<Option<SmtpError>, SmtpError> {
        let mut stuffer = DotStuffer::new();
        let mut block = Vec::with_capacity(CHUNK + CHUNK / 2);
        let mut chunks = body.chunks(CHUNK).peekable();
        loop {
            block.clear();
            if let Some(chunk) = chunks.next() {
                stuffer.encode(chunk, &mut block);
            }
            let last = chunks.peek().is_none();
            if last {
                stuffer.finish(&mut block);
            }
            if let Err(error) = self.wire.write(&block, Stage::DataTransfer, self.timeouts.data_block).await {
                self.usable = false;
                return Err(error);
            }
            if last {
                break;
            }
        }
        let result = self.wire.read_reply(Stage::FinalReply, self.timeouts.final_dot).await;
        let reply = self.note(result, Stage::FinalReply)?;
        if reply.is_positive() { Ok(None) } else { Ok(Some(self.refusal(Stage::FinalReply, reply))) }
    }

    /// RSET after a transaction that stopped before its final reply, so
    /// the connection can carry the next one; if even that fails, the
    /// connection is given up.
    async fn end_transaction(&mut self) {
        if self.usable && self.reset().await.is_err() {
            self.usable = false;
        }
    }
}

/// One result per recipient: accepted ones take `final_error` when there
/// is one; any without an answer take it too (there is always one then).
fn finish(pending: Vec<Pending>, final_error: Option<SmtpError>, server: &Destination) -> Vec<RcptResult> {
    pending
        .into_iter()
        .map(|state| match (state, &final_error) {
            (Pending::Done(result), _) => result,
            (Pending::Accepted | Pending::Unknown, Some(error)) => RcptResult::Rejected(error.clone()),
            (Pending::Accepted, None) => RcptResult::Accepted,
            // Cannot happen: a transaction that ends without an error has
            // answered everyone it asked about. Deferring is the safe guess.
            (Pending::Unknown, None) => RcptResult::Rejected(SmtpError::new(server, Stage::RcptTo, Cause::Closed)),
        })
        .collect()
}
