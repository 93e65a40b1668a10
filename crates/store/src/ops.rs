//! The metadata changes the journal records. One journal frame holds one
//! transaction (a list of ops) that is applied whole or not at all, so a
//! MOVE (copy + expunge) or a delivery that creates its mailbox is atomic.

use crate::codec::{Dec, Put, corrupt};
use crate::flags::{self, FlagSet};
use crate::{FlagOp, StoreError};

/// Where one message's bytes are: a range of a segment file and its CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobLoc {
    pub segment: u32,
    pub offset: u64,
    pub len: u64,
    pub crc: u32,
}

impl BlobLoc {
    pub(crate) fn end(&self) -> u64 {
        self.offset.saturating_add(self.len)
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u32(self.segment);
        out.put_u64(self.offset);
        out.put_u64(self.len);
        out.put_u32(self.crc);
    }

    pub(crate) fn decode(dec: &mut Dec<'_>) -> Result<Self, StoreError> {
        Ok(BlobLoc { segment: dec.u32()?, offset: dec.u64()?, len: dec.u64()?, crc: dec.u32()? })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    CreateMailbox {
        id: u32,
        name: String,
        uid_validity: u32,
    },
    /// Renames one mailbox; a rename with inferiors is several of these.
    RenameMailbox {
        id: u32,
        name: String,
    },
    /// Removes the mailbox and its messages.
    DeleteMailbox {
        id: u32,
    },
    Subscribe {
        name: String,
        subscribed: bool,
    },
    /// A new message. `new_blob` is set when the bytes were written for
    /// it; otherwise the message shares an existing blob.
    Append {
        mailbox: u32,
        uid: u32,
        modseq: u64,
        blob: u64,
        new_blob: Option<BlobLoc>,
        flags: FlagSet,
        internal_date: i64,
        delivery: Option<u128>,
    },
    /// STORE on the listed messages, each of which changes.
    SetFlags {
        mailbox: u32,
        modseq: u64,
        op: FlagOp,
        flags: FlagSet,
        uids: Vec<u32>,
    },
    Expunge {
        mailbox: u32,
        modseq: u64,
        uids: Vec<u32>,
    },
    /// Copies (source uid, new uid) pairs, sharing their blobs.
    Copy {
        from: u32,
        to: u32,
        modseq: u64,
        pairs: Vec<(u32, u32)>,
    },
    /// The blob's bytes were copied elsewhere by segment compaction.
    Relocate {
        blob: u64,
        loc: BlobLoc,
    },
}

const CREATE: u8 = 1;
const RENAME: u8 = 2;
const DELETE: u8 = 3;
const SUBSCRIBE: u8 = 4;
const APPEND: u8 = 5;
const SET_FLAGS: u8 = 6;
const EXPUNGE: u8 = 7;
const COPY: u8 = 8;
const RELOCATE: u8 = 9;

pub(crate) fn encode_txn(ops: &[Op], out: &mut Vec<u8>) {
    out.put_len(ops.len());
    for op in ops {
        encode_op(op, out);
    }
}

fn encode_op(op: &Op, out: &mut Vec<u8>) {
    match op {
        Op::CreateMailbox { id, name, uid_validity } => {
            out.put_u8(CREATE);
            out.put_u32(*id);
            out.put_str(name);
            out.put_u32(*uid_validity);
        }
        Op::RenameMailbox { id, name } => {
            out.put_u8(RENAME);
            out.put_u32(*id);
            out.put_str(name);
        }
        Op::DeleteMailbox { id } => {
            out.put_u8(DELETE);
            out.put_u32(*id);
        }
        Op::Subscribe { name, subscribed } => {
            out.put_u8(SUBSCRIBE);
            out.put_str(name);
            out.put_u8(u8::from(*subscribed));
        }
        Op::Append { mailbox, uid, modseq, blob, new_blob, flags, internal_date, delivery } => {
            out.put_u8(APPEND);
            out.put_u32(*mailbox);
            out.put_u32(*uid);
            out.put_u64(*modseq);
            out.put_u64(*blob);
            match new_blob {
                None => out.put_u8(0),
                Some(loc) => {
                    out.put_u8(1);
                    loc.encode(out);
                }
            }
            flags.encode(out);
            out.put_i64(*internal_date);
            out.put_opt_u128(*delivery);
        }
        Op::SetFlags { mailbox, modseq, op, flags, uids } => {
            out.put_u8(SET_FLAGS);
            out.put_u32(*mailbox);
            out.put_u64(*modseq);
            out.put_u8(flags::encode_op(*op));
            flags.encode(out);
            put_uids(out, uids);
        }
        Op::Expunge { mailbox, modseq, uids } => {
            out.put_u8(EXPUNGE);
            out.put_u32(*mailbox);
            out.put_u64(*modseq);
            put_uids(out, uids);
        }
        Op::Copy { from, to, modseq, pairs } => {
            out.put_u8(COPY);
            out.put_u32(*from);
            out.put_u32(*to);
            out.put_u64(*modseq);
            out.put_len(pairs.len());
            for (old, new) in pairs {
                out.put_u32(*old);
                out.put_u32(*new);
            }
        }
        Op::Relocate { blob, loc } => {
            out.put_u8(RELOCATE);
            out.put_u64(*blob);
            loc.encode(out);
        }
    }
}

fn put_uids(out: &mut Vec<u8>, uids: &[u32]) {
    out.put_len(uids.len());
    for uid in uids {
        out.put_u32(*uid);
    }
}

fn uids(dec: &mut Dec<'_>) -> Result<Vec<u32>, StoreError> {
    let n = dec.len(4)?;
    (0..n).map(|_| dec.u32()).collect()
}

pub(crate) fn decode_txn(payload: &[u8]) -> Result<Vec<Op>, StoreError> {
    let mut dec = Dec::new(payload);
    let n = dec.len(5)?;
    let ops = (0..n).map(|_| decode_op(&mut dec)).collect::<Result<Vec<_>, _>>()?;
    dec.finish()?;
    Ok(ops)
}

fn decode_op(dec: &mut Dec<'_>) -> Result<Op, StoreError> {
    Ok(match dec.u8()? {
        CREATE => Op::CreateMailbox { id: dec.u32()?, name: dec.str()?, uid_validity: dec.u32()? },
        RENAME => Op::RenameMailbox { id: dec.u32()?, name: dec.str()? },
        DELETE => Op::DeleteMailbox { id: dec.u32()? },
        SUBSCRIBE => Op::Subscribe { name: dec.str()?, subscribed: dec.bool()? },
        APPEND => Op::Append {
            mailbox: dec.u32()?,
            uid: dec.u32()?,
            modseq: dec.u64()?,
            blob: dec.u64()?,
            new_blob: if dec.bool()? { Some(BlobLoc::decode(dec)?) } else { None },
            flags: FlagSet::decode(dec)?,
            internal_date: dec.i64()?,
            delivery: dec.opt_u128()?,
        },
        SET_FLAGS => Op::SetFlags {
            mailbox: dec.u32()?,
            modseq: dec.u64()?,
            op: flags::decode_op(dec)?,
            flags: FlagSet::decode(dec)?,
            uids: uids(dec)?,
        },
        EXPUNGE => Op::Expunge { mailbox: dec.u32()?, modseq: dec.u64()?, uids: uids(dec)? },
        COPY => {
            let (from, to, modseq) = (dec.u32()?, dec.u32()?, dec.u64()?);
            let n = dec.len(8)?;
            let pairs = (0..n).map(|_| Ok((dec.u32()?, dec.u32()?))).collect::<Result<_, StoreError>>()?;
            Op::Copy { from, to, modseq, pairs }
        }
        RELOCATE => Op::Relocate { blob: dec.u64()?, loc: BlobLoc::decode(dec)? },
        other => return Err(corrupt(format!("unknown record type {other}"))),
    })
}

#[cfg(test)]
mod tests;
