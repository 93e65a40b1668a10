//! Records of the spool and their framing: pure bytes <-> values, no I/O.
//!
//! A frame is `len: u32 LE | crc: u32 LE | payload[len]`, where `crc` is
//! the CRC-32 of the four length bytes followed by the payload, so that a
//! damaged length is caught as surely as a damaged payload, and a run of
//! zeros (a hole left by a crash) never reads as a valid frame. The payload
//! starts with a kind byte:
//!
//! - `1` Message: id u64, queued-at unix-ms i64, envelope, one recipient
//!   state per recipient, then the body bytes up to the end of the payload.
//! - `2` Outcome: id u64, recipient index u32, the recipient's new state.
//! - `3` Removed: id u64.
//!
//! Integers are little-endian; strings are `u32` length + UTF-8 bytes.

use crate::{Envelope, QueueId};
use bytes::Bytes;
use std::ops::Range;

/// Length of `len` + `crc` in front of every payload.
pub(crate) const FRAME_HEADER_LEN: usize = 8;

/// The largest payload a frame may carry; a length above this is damage.
pub(crate) const MAX_PAYLOAD_LEN: usize = 1 << 30;

/// Texts that transports hand back are cut to this many bytes on record.
const MAX_TEXT_LEN: usize = 4096;

const KIND_MESSAGE: u8 = 1;
const KIND_OUTCOME: u8 = 2;
const KIND_REMOVED: u8 = 3;

const STATE_PENDING: u8 = 0;
const STATE_DEFERRED: u8 = 1;
const STATE_HELD: u8 = 2;
const STATE_DELIVERED: u8 = 3;
const STATE_FAILED: u8 = 4;
/// Deferred, and the sender has been warned of the delay (RFC 3464
/// `Action: delayed`); kept in the state so that compaction, which copies
/// a message with its current states, keeps it too.
const STATE_DEFERRED_WARNED: u8 = 5;

/// A recipient's state as the queue keeps it: like
/// [`crate::RecipientState`], with the next attempt in unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    Pending,
    Deferred { attempts: u32, next_attempt_ms: i64, last_error: String, warned: bool },
    Held { reason: String },
    Delivered,
    Failed { reason: String },
}

impl State {
    /// Delivered and Failed are final: the recipient is never tried again.
    pub(crate) fn is_final(&self) -> bool {
        matches!(self, State::Delivered | State::Failed { .. })
    }

    pub(crate) fn to_public(&self) -> crate::RecipientState {
        use crate::RecipientState as R;
        match self {
            State::Pending => R::Pending,
            State::Deferred { attempts, next_attempt_ms, last_error, warned } => R::Deferred {
                attempts: *attempts,
                next_attempt: next_attempt_ms.div_euclid(1000),
                last_error: last_error.clone(),
                warned: *warned,
            },
            State::Held { reason } => R::Held { reason: reason.clone() },
            State::Delivered => R::Delivered,
            State::Failed { reason } => R::Failed { reason: reason.clone() },
        }
    }
}

/// A decoded Message payload; the body stays in the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageRecord {
    pub id: QueueId,
    pub queued_at_ms: i64,
    pub envelope: Envelope,
    pub states: Vec<State>,
    /// Where the body lies in the payload.
    pub body: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Message(MessageRecord),
    Outcome { id: QueueId, index: u32, state: State },
    Removed { id: QueueId },
}

impl Record {
    pub(crate) fn id(&self) -> QueueId {
        match self {
            Record::Message(message) => message.id,
            Record::Outcome { id, .. } | Record::Removed { id } => *id,
        }
    }
}

/// Why a payload did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct DecodeError(pub &'static str);

/// A Message frame split in two so that the body is never copied before
/// the writer appends it: `head` is the frame header and the payload up to
/// the body.
#[derive(Debug, Clone)]
pub(crate) struct EncodedMessage {
    pub head: Vec<u8>,
    pub body: Bytes,
}

impl EncodedMessage {
    /// Length of the whole frame.
    pub(crate) fn len(&self) -> u64 {
        (self.head.len() + self.body.len()) as u64
    }
}

/// Frames a Message; `None` when the payload would exceed
/// [`MAX_PAYLOAD_LEN`].
pub(crate) fn encode_message(
    id: QueueId,
    queued_at_ms: i64,
    envelope: &Envelope,
    states: &[State],
    body: Bytes,
) -> Option<EncodedMessage> {
    let mut head = vec![0; FRAME_HEADER_LEN];
    head.push(KIND_MESSAGE);
    head.extend_from_slice(&id.0.to_le_bytes());
    head.extend_from_slice(&queued_at_ms.to_le_bytes());
    put_envelope(&mut head, envelope);
    put_u32(&mut head, states.len() as u32);
    for state in states {
        put_state(&mut head, state);
    }
    let payload_len = head.len() - FRAME_HEADER_LEN + body.len();
    if payload_len > MAX_PAYLOAD_LEN {
        return None;
    }
    let len = payload_len as u32;
    let crc = frame_crc(len, &[&head[FRAME_HEADER_LEN..], &body]);
    head[..4].copy_from_slice(&len.to_le_bytes());
    head[4..8].copy_from_slice(&crc.to_le_bytes());
    Some(EncodedMessage { head, body })
}

/// Frames an Outcome.
pub(crate) fn encode_outcome(id: QueueId, index: u32, state: &State) -> Vec<u8> {
    let mut payload = vec![KIND_OUTCOME];
    payload.extend_from_slice(&id.0.to_le_bytes());
    put_u32(&mut payload, index);
    put_state(&mut payload, state);
    frame(&payload)
}

/// Frames a Removed.
pub(crate) fn encode_removed(id: QueueId) -> Vec<u8> {
    let mut payload = vec![KIND_REMOVED];
    payload.extend_from_slice(&id.0.to_le_bytes());
    frame(&payload)
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame_crc(len, &[payload]).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The CRC a frame of payload length `len` made of `parts` must carry.
pub(crate) fn frame_crc(len: u32, parts: &[&[u8]]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len.to_le_bytes());
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize()
}

/// Splits a frame header into `(payload length, crc)`.
pub(crate) fn parse_frame_header(header: [u8; FRAME_HEADER_LEN]) -> (u32, u32) {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
    (u32::from_le_bytes([l0, l1, l2, l3]), u32::from_le_bytes([c0, c1, c2, c3]))
}

/// Decodes a payload whose CRC was checked.
pub(crate) fn decode(payload: &[u8]) -> Result<Record, DecodeError> {
    let mut input = Reader { bytes: payload, position: 0 };
    let record = match input.u8()? {
        KIND_MESSAGE => {
            let id = QueueId(input.u64()?);
            let queued_at_ms = input.i64()?;
            let envelope = input.envelope()?;
            let n_states = input.count(1)?;
            let mut states = Vec::with_capacity(n_states);
            for _ in 0..n_states {
                states.push(input.state()?);
            }
            if states.len() != envelope.recipients.len() {
                return Err(DecodeError("recipient states do not match recipients"));
            }
            let body = input.position..payload.len();
            Record::Message(MessageRecord { id, queued_at_ms, envelope, states, body })
        }
        KIND_OUTCOME => {
            let id = QueueId(input.u64()?);
            let index = input.u32()?;
            let state = input.state()?;
            input.end()?;
            Record::Outcome { id, index, state }
        }
        KIND_REMOVED => {
            let id = QueueId(input.u64()?);
            input.end()?;
            Record::Removed { id }
        }
        _ => return Err(DecodeError("unknown record kind")),
    };
    Ok(record)
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u32(out, text.len() as u32);
    out.extend_from_slice(text.as_bytes());
}

fn put_envelope(out: &mut Vec<u8>, envelope: &Envelope) {
    put_str(out, &envelope.mail_from);
    put_u32(out, envelope.recipients.len() as u32);
    for recipient in &envelope.recipients {
        put_str(out, recipient);
    }
    out.extend_from_slice(&envelope.received_at.to_le_bytes());
    match &envelope.authenticated_as {
        Some(account) => {
            out.push(1);
            put_str(out, account);
        }
        None => out.push(0),
    }
    out.push(u8::from(envelope.smtputf8));
}

fn put_state(out: &mut Vec<u8>, state: &State) {
    match state {
        State::Pending => out.push(STATE_PENDING),
        State::Deferred { attempts, next_attempt_ms, last_error, warned } => {
            out.push(if *warned { STATE_DEFERRED_WARNED } else { STATE_DEFERRED });
            put_u32(out, *attempts);
            out.extend_from_slice(&next_attempt_ms.to_le_bytes());
            put_str(out, clip(last_error));
        }
        State::Held { reason } => {
            out.push(STATE_HELD);
            put_str(out, clip(reason));
        }
        State::Delivered => out.push(STATE_DELIVERED),
        State::Failed { reason } => {
            out.push(STATE_FAILED);
            put_str(out, clip(reason));
        }
    }
}

/// Cuts a transport's text to [`MAX_TEXT_LEN`] bytes on a char boundary.
pub(crate) fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT_LEN {
        return text;
    }
    let mut end = MAX_TEXT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A bounds-checked cursor: every read of damaged input is an error.
struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.position.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(DecodeError("record ends early"))?;
        let taken = &self.bytes[self.position..end];
        self.position = end;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A count of items each at least `min_item_len` bytes long, checked
    /// against what is left so that damage cannot make us allocate much.
    fn count(&mut self, min_item_len: usize) -> Result<usize, DecodeError> {
        let count = self.u32()? as usize;
        let left = self.bytes.len() - self.position;
        if count.saturating_mul(min_item_len) > left {
            return Err(DecodeError("count larger than the record"));
        }
        Ok(count)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError("text is not utf-8"))?;
        Ok(text.to_owned())
    }

    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError("bad flag")),
        }
    }

    fn envelope(&mut self) -> Result<Envelope, DecodeError> {
        let mail_from = self.string()?;
        let n_recipients = self.count(4)?;
        let mut recipients = Vec::with_capacity(n_recipients);
        for _ in 0..n_recipients {
            recipients.push(self.string()?);
        }
        let received_at = self.i64()?;
        let authenticated_as = if self.bool()? { Some(self.string()?) } else { None };
        let smtputf8 = self.bool()?;
        Ok(Envelope { mail_from, recipients, received_at, authenticated_as, smtputf8 })
    }

    fn state(&mut self) -> Result<State, DecodeError> {
        Ok(match self.u8()? {
            STATE_PENDING => State::Pending,
            kind @ (STATE_DEFERRED | STATE_DEFERRED_WARNED) => {
                let attempts = self.u32()?;
                let next_attempt_ms = self.i64()?;
                let last_error = self.string()?;
                State::Deferred { attempts, next_attempt_ms, last_error, warned: kind == STATE_DEFERRED_WARNED }
            }
            STATE_HELD => State::Held { reason: self.string()? },
            STATE_DELIVERED => State::Delivered,
            STATE_FAILED => State::Failed { reason: self.string()? },
            _ => return Err(DecodeError("unknown recipient state")),
        })
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.position == self.bytes.len() { Ok(()) } else { Err(DecodeError("trailing bytes in record")) }
    }
}

#[cfg(test)]
mod tests;
