//! One SMTP, submission or LMTP conversation: its state, the input loop
//! that cuts the buffer into command lines and message content, and the
//! [`net::Session`] glue. The commands themselves are in `op/`.

use crate::command;
use crate::config::{Role, SmtpConfig};
use crate::data::DataReceiver;
use crate::op::auth::AuthExchange;
use crate::reply::{Reply, write_reply};
use bytes::{Buf, BytesMut};
use delivery::LocalDelivery;
use net::{ConnInfo, Session, Step};
use queue::Queue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;
use types::AccountName;

/// What sessions reach beyond the connection.
pub struct SmtpServices {
    /// Recipient look-ups, quota checks and the directory (for AUTH and
    /// sender ownership); LMTP delivers through it.
    pub delivery: Arc<LocalDelivery>,
    /// Where SMTP and submission put accepted messages; the queue runner
    /// delivers them.
    pub queue: Arc<Queue>,
}

/// The client's EHLO, HELO or LHLO.
#[derive(Debug)]
pub(crate) struct Helo {
    pub name: String,
    /// EHLO or LHLO rather than HELO.
    pub extended: bool,
}

/// Where the conversation is, in RFC 5321's terms. Whether the client has
/// greeted (client initiation, §4.1.1.1) is [`SmtpSession::helo`].
pub(crate) enum State {
    /// No mail transaction.
    Idle,
    /// MAIL was accepted (§3.3); RCPTs add recipients.
    Mail(Box<Transaction>),
    /// DATA was answered with 354; message content is arriving.
    Data(Box<DataPhase>),
    /// AUTH was answered with 334; the next line is a SASL response
    /// (RFC 4954 §4).
    Auth(AuthExchange),
}

/// One mail transaction.
#[derive(Debug)]
pub(crate) struct Transaction {
    /// The reverse-path without angle brackets; empty for `<>`.
    pub mail_from: String,
    /// The MAIL SIZE parameter, zero when absent.
    pub declared_size: u64,
    pub smtputf8: bool,
    /// Distinct recipients, in RCPT order.
    pub recipients: Vec<TransactionRecipient>,
    /// For every RCPT answered 250, its entry in `recipients`: LMTP owes
    /// one reply per such RCPT after the data (RFC 2033 §4.2).
    pub accepted: Vec<usize>,
    /// Recipient keys (local account or lower-cased address) to entries.
    by_key: HashMap<String, usize>,
}

#[derive(Debug)]
pub(crate) struct TransactionRecipient {
    /// The forward-path as the client gave it.
    pub address: String,
    /// The local account it delivers to; `None` for a remote recipient.
    pub account: Option<AccountName>,
}

impl Transaction {
    pub fn new(mail_from: String, declared_size: u64, smtputf8: bool) -> Self {
        Self {
            mail_from,
            declared_size,
            smtputf8,
            recipients: Vec::new(),
            accepted: Vec::new(),
            by_key: HashMap::new(),
        }
    }

    /// Records an accepted RCPT; a recipient given twice (or an alias and
    /// its account) is kept once.
    pub fn add_recipient(&mut self, address: &str, account: Option<AccountName>) {
        let key = match &account {
            Some(account) => account.to_string(),
            None => address.to_lowercase(),
        };
        let next = self.recipients.len();
        let index = *self.by_key.entry(key).or_insert(next);
        if index == next {
            self.recipients.push(TransactionRecipient { address: address.to_owned(), account });
        }
        self.accepted.push(index);
    }
}

/// A transaction whose content is arriving.
pub(crate) struct DataPhase {
    pub transaction: Box<Transaction>,
    pub receiver: DataReceiver,
    /// The id in the `Received:` header and in the logs.
    pub id: String,
}

/// One connection's SMTP, submission or LMTP session.
pub struct SmtpSession {
    pub(crate) config: Arc<SmtpConfig>,
    pub(crate) services: Arc<SmtpServices>,
    pub(crate) conn: ConnInfo,
    pub(crate) state: State,
    pub(crate) helo: Option<Helo>,
    /// The account that authenticated with AUTH.
    pub(crate) account: Option<AccountName>,
    /// Counts the session as logged in (`/metrics`) while `account` is set.
    pub(crate) logged_in: Option<net::LoggedIn>,
    n_errors: usize,
    /// The rest of an over-long command line is still arriving.
    discarding_line: bool,
    pub(crate) span: tracing::Span,
}

impl SmtpSession {
    pub fn new(config: Arc<SmtpConfig>, services: Arc<SmtpServices>, conn: ConnInfo) -> Self {
        let protocol = match config.role {
            Role::Mx => "smtp",
            Role::Submission => "submission",
            Role::Lmtp => "lmtp",
        };
        let span = tracing::info_span!(
            target: "smtp",
            "smtp",
            client.addr = %conn.peer,
            server.addr = %conn.local,
            protocol,
            account = tracing::field::Empty,
        );
        Self {
            config,
            services,
            conn,
            state: State::Idle,
            helo: None,
            account: None,
            logged_in: None,
            n_errors: 0,
            discarding_line: false,
            span,
        }
    }

    /// The protocol this session speaks, as metrics label it.
    pub(crate) fn protocol(&self) -> &'static str {
        match self.config.role {
            Role::Mx => "smtp",
            Role::Submission => "submission",
            Role::Lmtp => "lmtp",
        }
    }

    pub(crate) fn is_lmtp(&self) -> bool {
        self.config.role == Role::Lmtp
    }

    /// Refuses a command. Permanent refusals count towards
    /// `max_errors`, except 552, which judges a message or a mailbox
    /// rather than the client's conduct.
    pub(crate) fn refuse(&mut self, out: &mut Vec<u8>, reply: Reply) {
        if reply.code >= 500 && reply.code != 552 {
            self.n_errors += 1;
        }
        tracing::debug!(target: "smtp", code = reply.code, status = reply.status, text = %reply.text, "refused");
        reply.write(out);
    }

    pub(crate) fn reject(
        &mut self,
        out: &mut Vec<u8>,
        code: u16,
        status: &'static str,
        text: impl Into<Cow<'static, str>>,
    ) {
        self.refuse(out, Reply::new(code, status, text));
    }

    /// Forgets everything the client said (RFC 3207 §4.2, after STARTTLS).
    fn reset(&mut self) {
        self.state = State::Idle;
        self.helo = None;
        self.account = None;
        self.logged_in = None;
    }

    async fn process(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Step {
        loop {
            match std::mem::replace(&mut self.state, State::Idle) {
                State::Data(mut phase) => {
                    if !phase.receiver.ingest(input) {
                        self.state = State::Data(phase);
                        return Step::Continue;
                    }
                    self.end_of_data(phase, out).await;
                    continue;
                }
                other => self.state = other,
            }
            if self.discarding_line {
                let Some(lf) = memchr::memchr(b'\n', input) else {
                    input.clear();
                    return Step::Continue;
                };
                input.advance(lf + 1);
                self.discarding_line = false;
            }
            let max_line = self.config.max_line();
            let Some(lf) = memchr::memchr(b'\n', &input[..input.len().min(max_line)]) else {
                if input.len() < max_line {
                    return Step::Continue;
                }
                // Drop the over-long line: through its LF if it has
                // arrived, else everything, and the rest as it comes.
                match memchr::memchr(b'\n', input) {
                    Some(lf) => input.advance(lf + 1),
                    None => {
                        input.clear();
                        self.discarding_line = true;
                    }
                }
                if matches!(self.state, State::Auth(_)) {
                    self.state = State::Idle;
                }
                self.reject(out, 500, "5.5.2", "line too long");
                return self.too_many_errors(out).unwrap_or(Step::Continue);
            };
            let step = self.line(&input[..=lf], out).await;
            input.advance(lf + 1);
            if step != Step::Continue {
                return step;
            }
            if let Some(step) = self.too_many_errors(out) {
                return step;
            }
        }
    }

    async fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Step {
        if let State::Auth(_) = self.state {
            self.auth_response(line, out).await;
            return Step::Continue;
        }
        match command::parse(line) {
            Ok(request) => self.request(request, out).await,
            Err(reply) => {
                self.refuse(out, reply);
                Step::Continue
            }
        }
    }

    fn too_many_errors(&mut self, out: &mut Vec<u8>) -> Option<Step> {
        let max_errors = self.config.max_errors;
        if max_errors == 0 || self.n_errors < max_errors {
            return None;
        }
        tracing::debug!(target: "smtp", n_errors = self.n_errors, "too many errors; closing");
        write_reply(out, 421, "4.7.0", "too many errors");
        Some(Step::Close)
    }
}

#[async_trait::async_trait]
impl Session for SmtpSession {
    async fn greeting(&mut self, out: &mut Vec<u8>) -> Step {
        let protocol = if self.is_lmtp() { "LMTP" } else { "ESMTP" };
        let _ = write!(out, "220 {} {protocol} Rookery\r\n", self.config.hostname);
        self.span.in_scope(|| tracing::debug!(target: "smtp", "connected"));
        Step::Continue
    }

    async fn input(&mut self, input: &mut BytesMut, out: &mut Vec<u8>) -> Step {
        let span = self.span.clone();
        self.process(input, out).instrument(span).await
    }

    fn tls_started(&mut self) {
        self.conn.tls = true;
        self.reset();
    }

    fn timed_out(&mut self, out: &mut Vec<u8>) {
        self.span.in_scope(|| tracing::debug!(target: "smtp", "idle timeout"));
        write_reply(out, 421, "4.4.2", &format!("{} timeout", self.config.hostname));
    }

    fn shutting_down(&mut self, out: &mut Vec<u8>) {
        write_reply(out, 421, "4.3.2", "shutting down");
    }

    fn idle_timeout(&self) -> Duration {
        match self.state {
            State::Data(_) => self.config.data_timeout,
            _ => self.config.idle_timeout,
        }
    }

    async fn closed(&mut self) {
        if let State::Data(phase) = &self.state {
            self.span.in_scope(|| {
                tracing::debug!(target: "smtp::data", id = %phase.id, "connection lost during DATA; message discarded");
            });
        }
        self.state = State::Idle;
    }
}
