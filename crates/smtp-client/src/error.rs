//! Why a delivery attempt failed, in the form a queue needs: temporary or
//! permanent, at which stage, and what the server said (or why nothing
//! usable came back). `Display` is the diagnostic a DSN quotes.

use crate::destination::Destination;
use crate::reply::{EnhancedStatus, Reply, ReplyError};
use std::fmt;

/// Where in the SMTP conversation something went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Connect,
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// SMTP AUTH (RFC 4954).
    Auth,
    MailFrom,
    RcptTo,
    /// The DATA command itself.
    Data,
    /// Writing the message content.
    DataTransfer,
    /// The reply to the final `.`.
    FinalReply,
    Reset,
    Quit,
}

impl Stage {
    /// The request a reply at this stage answers, as in "in reply to ...".
    fn request(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "initial greeting",
            Stage::Ehlo => "EHLO",
            Stage::Helo => "HELO",
            Stage::StartTls => "STARTTLS",
            Stage::Auth => "AUTH",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Data => "DATA",
            Stage::DataTransfer | Stage::FinalReply => "end of DATA",
            Stage::Reset => "RSET",
            Stage::Quit => "QUIT",
        }
    }

    /// What the client was doing, as in "lost connection ... while ...".
    fn activity(self) -> &'static str {
        match self {
            Stage::Connect => "connecting",
            Stage::Greeting => "receiving the initial server greeting",
            Stage::Ehlo => "performing the EHLO handshake",
            Stage::Helo => "performing the HELO handshake",
            Stage::StartTls => "performing the STARTTLS handshake",
            Stage::Auth => "logging in",
            Stage::MailFrom => "sending MAIL FROM",
            Stage::RcptTo => "sending RCPT TO",
            Stage::Data => "sending DATA command",
            Stage::DataTransfer => "sending message body",
            // The server may have taken the message already.
            Stage::FinalReply => "sending end of data -- message may be sent more than once",
            Stage::Reset => "sending RSET",
            Stage::Quit => "sending QUIT",
        }
    }
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The server answered with a negative or unexpected reply.
    Reply(Reply),
    /// A socket error; the text is the operating system's.
    Io(String),
    /// The server closed the connection.
    Closed,
    /// No (complete) answer within the stage's timeout.
    Timeout,
    /// The server sent something that is not an SMTP reply.
    BadReply(ReplyError),
    /// TLS failed: setup, handshake or certificate verification.
    Tls(String),
    /// TLS is required and the server does not offer STARTTLS.
    TlsNotOffered,
    /// Refused here, before anything was sent: the message cannot go to
    /// this server as it is.
    Refused { status: EnhancedStatus, text: String },
}

/// A failed delivery attempt (to all recipients, or as one recipient's
/// [`crate::RcptResult::Rejected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpError {
    server: Destination,
    stage: Stage,
    cause: Cause,
    permanent: bool,
}

impl SmtpError {
    /// A failure whose permanence follows from the cause: a 5xx reply or a
    /// local refusal with a 5.x.x status is permanent, all else temporary.
    pub(crate) fn new(server: &Destination, stage: Stage, cause: Cause) -> SmtpError {
        let permanent = match &cause {
            Cause::Reply(reply) => reply.is_permanent(),
            Cause::Refused { status, .. } => status.class == 5,
            _ => false,
        };
        SmtpError { server: server.clone(), stage, cause, permanent }
    }

    /// The same failure, but temporary whatever the server said: a policy
    /// failure of ours (TLS required) may pass when the server changes.
    pub(crate) fn into_temporary(mut self) -> SmtpError {
        self.permanent = false;
        self
    }

    pub(crate) fn io(server: &Destination, stage: Stage, error: &std::io::Error) -> SmtpError {
        let cause = match error.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted => Cause::Closed,
            _ => Cause::Io(error.to_string()),
        };
        SmtpError::new(server, stage, cause)
    }

    /// Do not try again: bounce.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// Try again later (perhaps at another MX).
    pub fn is_temporary(&self) -> bool {
        !self.permanent
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    pub fn cause(&self) -> &Cause {
        &self.cause
    }

    /// The server this attempt talked to.
    pub fn server(&self) -> &Destination {
        &self.server
    }

    /// The server's reply, when the failure is one.
    pub fn reply(&self) -> Option<&Reply> {
        match &self.cause {
            Cause::Reply(reply) => Some(reply),
            _ => None,
        }
    }

    /// The RFC 3463 status a DSN reports for this failure: the server's
    /// own when it gave one, otherwise the closest generic one.
    pub fn status(&self) -> EnhancedStatus {
        let class = if self.permanent { 5 } else { 4 };
        match &self.cause {
            Cause::Reply(reply) => reply.enhanced.unwrap_or(EnhancedStatus::new(class, 0, 0)),
            Cause::Refused { status, .. } => *status,
            // RFC 3463: 4.4.1 no answer from host, 4.4.2 bad connection.
            Cause::Io(_) | Cause::Timeout if self.stage == Stage::Connect => EnhancedStatus::new(class, 4, 1),
            Cause::Io(_) | Cause::Closed | Cause::Timeout => EnhancedStatus::new(class, 4, 2),
            Cause::BadReply(_) => EnhancedStatus::new(class, 5, 0),
            Cause::Tls(_) => EnhancedStatus::new(class, 7, 5),
            Cause::TlsNotOffered => EnhancedStatus::new(class, 7, 4),
        }
    }
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = &self.server;
        let stage = self.stage;
        match &self.cause {
            Cause::Reply(reply) if stage == Stage::Greeting => write!(f, "{server} refused to talk to me: {reply}"),
            Cause::Reply(reply) => write!(f, "{server} said: {reply} (in reply to {})", stage.request()),
            Cause::Io(reason) if stage == Stage::Connect => {
                write!(f, "connect to {server}:{}: {reason}", server.addr.port())
            }
            Cause::Timeout if stage == Stage::Connect => {
                write!(f, "connect to {server}:{}: timed out", server.addr.port())
            }
            Cause::Io(reason) => write!(f, "lost connection with {server} while {}: {reason}", stage.activity()),
            Cause::Closed => write!(f, "lost connection with {server} while {}", stage.activity()),
            Cause::Timeout => write!(f, "conversation with {server} timed out while {}", stage.activity()),
            Cause::BadReply(error) => {
                write!(f, "{server} sent a malformed reply while {}: {error}", stage.activity())
            }
            Cause::Tls(reason) => write!(f, "TLS with {server} failed: {reason}"),
            Cause::TlsNotOffered => write!(f, "TLS is required, but {server} does not offer STARTTLS"),
            Cause::Refused { text, .. } => write!(f, "{text}"),
        }
    }
}

impl std::error::Error for SmtpError {}
