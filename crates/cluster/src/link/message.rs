//! What the link carries after the handshake: [`Request`]s and their
//! [`Response`]s. Everything but a message body is postcard-encoded into
//! the frame's meta; the body travels raw as the frame's body.
//!
//! Postcard is not self-describing: changing any type here (including
//! `queue::Envelope` and `queue::Outcome`, which travel as they are) changes
//! the wire format, so it needs a new protocol version (see `handshake`).
//! The test `wire_format_is_stable` pins the encoding of version 1.
//!
//! Extension point: remote mailbox access (CM-26) will be new `Request`
//! variants (open, fetch, append... on an account another member has open),
//! logged under `cluster::mailbox`, added together with protocol version 2.

use bytes::Bytes;
use queue::{Envelope, Outcome};
use serde::{Deserialize, Serialize};
use types::AccountName;

/// A message handed to another member: for local delivery into `account`
/// (CM-25 remote delivery), or for submission (remote submission).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverRequest {
    /// The account on the receiving member the recipients belong to.
    pub account: AccountName,
    /// Unique per (queued message, recipient) on the sending member: a
    /// delivery repeated after a lost answer or a crash carries the same
    /// id, and the receiving store keeps the message once.
    pub delivery_id: u128,
    pub envelope: Envelope,
    /// The message, as received; at most [`super::frame::MAX_BODY`] bytes.
    pub body: Bytes,
}

/// A request from one member to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Is the peer there and does it still accept us? Answered by the link.
    Ping,
    /// Deliver to local recipients of the receiving member; one outcome per
    /// envelope recipient.
    Deliver(DeliverRequest),
    /// Submit a message generated on the sending member (web mail, rules)
    /// for the receiving member to send on (CM-27).
    Submit(DeliverRequest),
    /// An administrative operation (CM-24).
    Admin(AdminOperation),
}

impl Request {
    /// Whether sending it twice does no harm, so a broken connection may be
    /// replaced and the request sent again without asking the caller.
    pub fn is_idempotent(&self) -> bool {
        match self {
            Request::Ping => true,
            Request::Admin(operation) => operation.is_read_only(),
            Request::Deliver(_) | Request::Submit(_) => false,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Deliver(_) => "deliver",
            Request::Submit(_) => "submit",
            Request::Admin(_) => "admin",
        }
    }
}

/// A password in an admin operation: kept out of `Debug` output (and so out
/// of every log line).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// Administrative operations one member asks another to perform, usually
/// the host of the account concerned (CM-24). `Api` routes anything else to
/// the receiving member's JSON admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminOperation {
    AccountInfo {
        account: AccountName,
    },
    CreateAccount {
        account: AccountName,
        password: Option<Password>,
    },
    SetPassword {
        account: AccountName,
        password: Password,
    },
    DeleteAccount {
        account: AccountName,
    },
    /// A call of the JSON admin API: `method` (`GET`, `POST`...), `path`
    /// under the API's root, and the JSON body as text (postcard cannot carry
    /// a self-describing JSON value).
    Api {
        method: String,
        path: String,
        json: Option<String>,
    },
}

impl AdminOperation {
    pub fn is_read_only(&self) -> bool {
        match self {
            AdminOperation::AccountInfo { .. } => true,
            AdminOperation::Api { method, .. } => method.eq_ignore_ascii_case("GET"),
            _ => false,
        }
    }
}

/// A successful admin operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminReply {
    Done,
    /// A JSON document (account information, an API answer).
    Json(String),
}

/// A failed admin operation, as the performing member reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AdminError {
    #[error("no such account: {0}")]
    NoSuchAccount(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("failed: {0}")]
    Failed(String),
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Pong,
    /// One outcome per envelope recipient, in order (deliver and submit).
    Outcomes(Vec<Outcome>),
    Admin(Result<AdminReply, AdminError>),
    /// The peer could not handle the request at all (it does not serve that
    /// kind of request, or its handler is gone).
    Unavailable(String),
}

/// The meta of a request frame: the request without its body.
#[derive(Debug, Serialize, Deserialize)]
enum RequestMeta {
    Ping,
    Deliver { account: AccountName, delivery_id: u128, envelope: Envelope },
    Submit { account: AccountName, delivery_id: u128, envelope: Envelope },
    Admin(AdminOperation),
}

#[derive(Debug, thiserror::Error)]
#[error("undecodable {what}: {reason}")]
pub struct DecodeError {
    pub what: &'static str,
    pub reason: String,
}

/// Splits a request into the meta to encode and the body to send raw.
pub(crate) fn encode_request(request: &Request) -> Result<(Vec<u8>, Bytes), postcard::Error> {
    let (meta, body) = match request {
        Request::Ping => (postcard::to_stdvec(&RequestMeta::Ping)?, Bytes::new()),
        Request::Deliver(d) => {
            let meta = RequestMeta::Deliver {
                account: d.account.clone(),
                delivery_id: d.delivery_id,
                envelope: d.envelope.clone(),
            };
            (postcard::to_stdvec(&meta)?, d.body.clone())
        }
        Request::Submit(d) => {
            let meta = RequestMeta::Submit {
                account: d.account.clone(),
                delivery_id: d.delivery_id,
                envelope: d.envelope.clone(),
            };
            (postcard::to_stdvec(&meta)?, d.body.clone())
        }
        Request::Admin(op) => (postcard::to_stdvec(&RequestMeta::Admin(op.clone()))?, Bytes::new()),
    };
    Ok((meta, body))
}

pub(crate) fn decode_request(meta: &[u8], body: Bytes) -> Result<Request, DecodeError> {
    let meta: RequestMeta =
        postcard::from_bytes(meta).map_err(|e| DecodeError { what: "request", reason: e.to_string() })?;
    let no_body = |request: Request| {
        if body.is_empty() {
            Ok(request)
        } else {
            Err(DecodeError { what: "request", reason: "unexpected body".into() })
        }
    };
    match meta {
        RequestMeta::Ping => no_body(Request::Ping),
        RequestMeta::Admin(op) => no_body(Request::Admin(op)),
        RequestMeta::Deliver { account, delivery_id, envelope } => {
            Ok(Request::Deliver(DeliverRequest { account, delivery_id, envelope, body }))
        }
        RequestMeta::Submit { account, delivery_id, envelope } => {
            Ok(Request::Submit(DeliverRequest { account, delivery_id, envelope, body }))
        }
    }
}

pub(crate) fn encode_response(response: &Response) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_stdvec(response)
}

pub(crate) fn decode_response(meta: &[u8]) -> Result<Response, DecodeError> {
    postcard::from_bytes(meta).map_err(|e| DecodeError { what: "response", reason: e.to_string() })
}

#[cfg(test)]
mod tests;
