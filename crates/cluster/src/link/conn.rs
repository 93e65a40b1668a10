//! One link connection: a TCP stream, the bytes read ahead of the next
//! frame, and whether the handshake is done.

use super::frame::{self, Frame, FrameError, Kind, Stage};
use bytes::{Bytes, BytesMut};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The first read buffer; a frame's announced length resizes it once.
const INITIAL_BUFFER: usize = 8 << 10;

#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The peer closed between frames.
    #[error("closed by the peer")]
    Closed,
    /// The peer closed in the middle of a frame.
    #[error("closed by the peer in the middle of a frame")]
    Truncated,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
}

pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    stage: Stage,
    pub peer: SocketAddr,
    /// The id of the last request sent on (or received from) this connection.
    pub last_request_id: u64,
    /// The protocol version the handshake agreed on (1 until then).
    pub version: u16,
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr) -> Conn {
        Conn {
            stream,
            buf: BytesMut::with_capacity(INITIAL_BUFFER),
            stage: Stage::Handshake,
            peer,
            last_request_id: 0,
            version: 1,
        }
    }

    #[cfg(test)]
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// After the handshake: only requests and responses from now on.
    pub fn established(&mut self) {
        self.stage = Stage::Established;
    }

    /// Reads the next frame, never buffering more than its kind allows.
    pub async fn read_frame(&mut self) -> Result<Frame, ConnError> {
        loop {
            if let Some(frame) = frame::decode(&mut self.buf, self.stage)? {
                return Ok(frame);
            }
            if self.buf.capacity() == self.buf.len() {
                self.buf.reserve(INITIAL_BUFFER);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(if self.buf.is_empty() { ConnError::Closed } else { ConnError::Truncated });
            }
        }
    }

    /// Writes a frame; `body` goes to the socket as it is, after the head.
    pub async fn write_frame(
        &mut self,
        kind: Kind,
        request_id: u64,
        meta: &[u8],
        body: &Bytes,
    ) -> Result<(), ConnError> {
        let head = frame::encode_head(kind, request_id, meta, body.len())?;
        self.stream.write_all(&head).await?;
        if !body.is_empty() {
            self.stream.write_all(body).await?;
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// A cheap check before reusing an idle connection: the peer must not
    /// have closed it or sent anything unasked. One non-blocking peek, no
    /// waiting.
    pub fn looks_alive(&self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut byte = [MaybeUninit::<u8>::uninit(); 1];
        match socket2::SockRef::from(&self.stream).peek(&mut byte) {
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            // Ok(0) is the peer's FIN; data nobody asked for is as bad.
            Ok(_) => false,
        }
    }
}
