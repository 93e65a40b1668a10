//! Frames on the link, pure (no sockets): bytes <-> [`Frame`].
//!
//! ```text
//! u32 BE  n: length of everything after this field (13 + meta + body)
//! u8      kind (see [`Kind`])
//! u64 BE  request id (0 during the handshake)
//! u32 BE  meta length m
//! m bytes meta: the message, postcard-encoded
//! rest    body: message bytes, raw (deliveries, submissions, imports,
//!         fetch answers)
//! ```
//!
//! The length is checked against the limit of the frame's kind before a
//! byte of the frame is buffered, so a peer can never make us allocate more
//! than [`MAX_REQUEST_FRAME`] (and before authentication no more than
//! [`MAX_HANDSHAKE_FRAME`]).

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes before the meta: length, kind, request id, meta length.
pub const HEAD_LEN: usize = 4 + 1 + 8 + 4;
/// The largest message body a delivery or submission may carry.
pub const MAX_BODY: usize = 64 << 20;
/// The largest meta (envelope, admin operation, reply) of any frame.
pub const MAX_META: usize = 1 << 20;
/// Handshake frames are tiny; before authentication a peer gets no more.
pub const MAX_HANDSHAKE_FRAME: usize = 4 << 10;
/// A request: meta plus a body.
pub const MAX_REQUEST_FRAME: usize = HEAD_LEN - 4 + MAX_META + MAX_BODY;
/// The largest body of a response: fetched message bytes (version 2).
pub const MAX_RESPONSE_BODY: usize = super::mailbox::MAX_FETCH_BYTES as usize;
/// A response: meta plus, for a fetch, message bytes.
pub const MAX_RESPONSE_FRAME: usize = HEAD_LEN - 4 + MAX_META + MAX_RESPONSE_BODY;

/// What a frame holds; the value is the byte on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hello = 1,
    Challenge = 2,
    Proof = 3,
    Welcome = 4,
    Refused = 5,
    Request = 16,
    Response = 17,
}

impl Kind {
    fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            1 => Kind::Hello,
            2 => Kind::Challenge,
            3 => Kind::Proof,
            4 => Kind::Welcome,
            5 => Kind::Refused,
            16 => Kind::Request,
            17 => Kind::Response,
            _ => return None,
        })
    }

    fn is_handshake(self) -> bool {
        !matches!(self, Kind::Request | Kind::Response)
    }
}

/// Which frames are acceptable now: before authentication only small
/// handshake frames, after it only requests and responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Handshake,
    Established,
}

impl Stage {
    /// The largest `n` (length field) allowed for `kind` at this stage;
    /// `None` when the kind does not belong here.
    fn max_len(self, kind: Kind) -> Option<usize> {
        match (self, kind) {
            (Stage::Handshake, kind) if kind.is_handshake() => Some(MAX_HANDSHAKE_FRAME),
            (Stage::Established, Kind::Request) => Some(MAX_REQUEST_FRAME),
            (Stage::Established, Kind::Response) => Some(MAX_RESPONSE_FRAME),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    pub request_id: u64,
    pub meta: Bytes,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    #[error("frame kind {kind:?} not allowed during {stage:?}")]
    Unexpected { kind: Kind, stage: Stage },
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("frame of {len} bytes is shorter than its header")]
    TooShort { len: usize },
    #[error("meta of {meta} bytes does not fit a frame of {len} bytes")]
    BadMetaLength { meta: usize, len: usize },
}

/// Takes one frame off the front of `buf`; `Ok(None)` means "need more
/// bytes", in which case `buf` has been made to hold the rest of the
/// announced frame (already checked against its limit). An error leaves
/// the stream unusable: the caller closes the connection.
pub fn decode(buf: &mut BytesMut, stage: Stage) -> Result<Option<Frame>, FrameError> {
    // The kind byte comes with the length so the limit is known at once.
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let kind_byte = buf[4];
    let kind = Kind::from_byte(kind_byte).ok_or(FrameError::UnknownKind(kind_byte))?;
    let max = stage.max_len(kind).ok_or(FrameError::Unexpected { kind, stage })?;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if len < HEAD_LEN - 4 {
        return Err(FrameError::TooShort { len });
    }
    let total = 4 + len;
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    frame.advance(5);
    let request_id = frame.get_u64();
    let meta_len = frame.get_u32() as usize;
    if meta_len > frame.len() || meta_len > MAX_META {
        return Err(FrameError::BadMetaLength { meta: meta_len, len });
    }
    // No copy: meta and body are views of the one buffer the frame was read into.
    let mut rest = frame.freeze();
    let meta = rest.split_to(meta_len);
    Ok(Some(Frame { kind, request_id, meta, body: rest }))
}

/// The bytes that go before `body`: header and meta. The body is written
/// after them as it is, so it is never copied into an encoding buffer.
pub fn encode_head(kind: Kind, request_id: u64, meta: &[u8], body_len: usize) -> Result<BytesMut, FrameError> {
    let len = HEAD_LEN - 4 + meta.len() + body_len;
    let max = match kind {
        Kind::Request => MAX_REQUEST_FRAME,
        Kind::Response => MAX_RESPONSE_FRAME,
        _ => MAX_HANDSHAKE_FRAME,
    };
    if len > max || meta.len() > MAX_META {
        return Err(FrameError::TooLarge { len, max });
    }
    let too_large = || FrameError::TooLarge { len, max };
    let mut head = BytesMut::with_capacity(HEAD_LEN + meta.len());
    head.put_u32(u32::try_from(len).map_err(|_| too_large())?);
    head.put_u8(kind as u8);
    head.put_u64(request_id);
    head.put_u32(u32::try_from(meta.len()).map_err(|_| too_large())?);
    head.put_slice(meta);
    Ok(head)
}

#[cfg(test)]
mod tests;
