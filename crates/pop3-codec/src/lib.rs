//! POP3 wire format: bytes to commands and replies to bytes, no I/O.
//!
//! [`Decoder`] frames command lines (RFC 1939, RFC 2449, RFC 2595 STLS,
//! RFC 5034 AUTH) out of a [`bytes::BytesMut`] and parses them into
//! [`Command`]s; the `reply` functions write `+OK`/`-ERR` lines, RFC 2449
//! response codes and dot-stuffed multi-line responses into a `Vec<u8>`.
//! This crate knows nothing of sessions, accounts or sockets, and must not:
//! it is fuzzed, and a panic here is a bug.
#![forbid(unsafe_code)]

mod command;
mod decode;
mod reply;

pub use command::{Command, Secret};
pub use decode::{DecodeError, Decoder, MAX_LINE};
pub use reply::{ResponseCode, write_continuation, write_dot_stuffed, write_end, write_err, write_line, write_ok};

#[cfg(test)]
mod tests;
