//! What the link carries after the handshake: [`Request`]s and their
//! [`Response`]s. Everything but a message body is postcard-encoded into
//! the frame's meta; the body travels raw as the frame's body.
//!
//! Postcard is not self-describing: changing any type here (including
//! `queue::Envelope` and `queue::Outcome`, which travel as they are) changes
//! the wire format, so it needs a new protocol version (see `handshake`).
//! The test `wire_format_is_stable` pins the encoding of version 1.
//!
//! Version 2 added remote mailbox access (CM-26, `mailbox.rs`): one new
//! `Request` variant and one new `Response` variant, each appended, so
//! every version 1 encoding is unchanged. A request is sent only on a
//! connection whose negotiated version knows it ([`Request::min_version`]);
//! a peer that receives a request of a kind it does not know (a newer
//! member's) answers [`Response::Unavailable`] and keeps the connection
//! ([`unknown_request`]) instead of failing to decode it.

use super::mailbox::{MailboxError, MailboxOp, MailboxReply};
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
    /// Remote mailbox access (CM-26, version 2); `body` only for imports.
    Mailbox { op: MailboxOp, body: Bytes },
}

impl Request {
    /// The lowest protocol version that knows this request.
    pub fn min_version(&self) -> u16 {
        match self {
            Request::Mailbox { .. } => 2,
            _ => 1,
        }
    }

    /// Whether sending it twice does no harm, so a broken connection may be
    /// replaced and the request sent again without asking the caller.
    pub fn is_idempotent(&self) -> bool {
        match self {
            Request::Ping => true,
            Request::Admin(operation) => operation.is_read_only(),
            Request::Mailbox { op, .. } => op.is_idempotent(),
            Request::Deliver(_) | Request::Submit(_) => false,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Deliver(_) => "deliver",
            Request::Submit(_) => "submit",
            Request::Admin(_) => "admin",
            Request::Mailbox { .. } => "mailbox",
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
    /// A JSON document (account information).
    Json(String),
    /// The answer to an [`AdminOperation::Api`] call: its HTTP status and
    /// JSON body, passed on to the caller as they are.
    Api {
        status: u16,
        json: String,
    },
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
    /// The answer to [`Request::Mailbox`] (version 2); `body` carries the
    /// fetched message bytes and travels raw as the frame's body.
    Mailbox {
        result: Result<MailboxReply, MailboxError>,
        #[serde(skip)]
        body: Bytes,
    },
}

impl Response {
    /// The bytes that travel raw after the meta.
    pub(crate) fn body(&self) -> Bytes {
        match self {
            Response::Mailbox { body, .. } => body.clone(),
            _ => Bytes::new(),
        }
    }
}

/// The meta of a request frame: the request without its body.
#[derive(Debug, Serialize, Deserialize)]
enum RequestMeta {
    Ping,
    Deliver { account: AccountName, delivery_id: u128, envelope: Envelope },
    Submit { account: AccountName, delivery_id: u128, envelope: Envelope },
    Admin(AdminOperation),
    Mailbox(MailboxOp),
}

/// How many variants [`RequestMeta`] has in this build: a request whose
/// first varint (the variant's index) is at or above it comes from a
/// newer member.
const KNOWN_REQUESTS: u32 = 5;
/// How many variants [`MailboxOp`] has in this build.
const KNOWN_MAILBOX_OPS: u32 = 17;

/// Names the kind of request a newer member sent that this build does not
/// know, from the variant indexes at the start of the meta; `None` when
/// the kind is known (the meta may still be malformed).
pub(crate) fn unknown_request(meta: &[u8]) -> Option<String> {
    let (kind, rest) = varint(meta)?;
    if kind >= KNOWN_REQUESTS {
        return Some(format!("request kind {kind} is not supported by this member"));
    }
    if kind == 4 {
        let (op, _) = varint(rest)?;
        if op >= KNOWN_MAILBOX_OPS {
            return Some(format!("mailbox operation {op} is not supported by this member"));
        }
    }
    None
}

/// A postcard varint (LEB128) `u32` and the bytes after it.
fn varint(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let mut value: u32 = 0;
    for (i, byte) in bytes.iter().enumerate().take(5) {
        value |= u32::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            return Some((value, &bytes[i + 1..]));
        }
    }
    None
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
        Request::Mailbox { op, body } => (postcard::to_stdvec(&RequestMeta::Mailbox(op.clone()))?, body.clone()),
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
        RequestMeta::Mailbox(op) if op.takes_body() => Ok(Request::Mailbox { op, body }),
        RequestMeta::Mailbox(op) => no_body(Request::Mailbox { op, body: Bytes::new() }),
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

pub(crate) fn decode_response(meta: &[u8], body: Bytes) -> Result<Response, DecodeError> {
    let response = postcard::from_bytes(meta).map_err(|e| DecodeError { what: "response", reason: e.to_string() })?;
    match response {
        Response::Mailbox { result, .. } => Ok(Response::Mailbox { result, body }),
        other if body.is_empty() => Ok(other),
        _ => Err(DecodeError { what: "response", reason: "unexpected body".into() }),
    }
}

#[cfg(test)]
mod tests;
