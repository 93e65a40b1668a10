//! The metadata journal: an append-only file of CRC32-framed
//! transactions on top of the snapshot of the same generation.
//!
//! File: a 16-byte header (`RKJ1`, version, generation), then frames of
//! `len: u32, crc: u32, payload` where `crc` covers `len` and the payload.
//! Recovery replays frames in order; the first frame that is incomplete or
//! fails its CRC starts the torn tail, which is cut off: it was never
//! acknowledged, since a commit answers only after its frames are synced.
//! A frame that passes its CRC but does not decode or apply is damage, not
//! a torn write, and fails the open with [`StoreError::Corrupt`].
//!
//! The file is extended with zeros ahead of use (see `commit.rs`); a zero
//! length ends the frames, so such a tail is simply free space.

use crate::StoreError;
use crate::codec::corrupt;
use crate::layout;
use crate::meta::Meta;
use crate::ops::{self, Op};
use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

pub(crate) const HEADER_LEN: u64 = 16;
const MAGIC: &[u8; 4] = b"RKJ1";
const VERSION: u32 = 1;
const FRAME_HEADER: u64 = 8;
/// No transaction is larger; a length above it is a torn or damaged frame.
const MAX_FRAME: u32 = 1 << 30;

/// Appends one framed transaction to `out`.
pub(crate) fn encode_frame(txn: &[Op], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER as usize]);
    ops::encode_txn(txn, out);
    let len = u32::try_from(out.len() - start - FRAME_HEADER as usize).unwrap_or(u32::MAX);
    let crc = frame_crc(len, &out[start + FRAME_HEADER as usize..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn frame_crc(len: u32, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

fn header(generation: u64) -> [u8; HEADER_LEN as usize] {
    let mut out = [0; HEADER_LEN as usize];
    out[..4].copy_from_slice(MAGIC);
    out[4..8].copy_from_slice(&VERSION.to_le_bytes());
    out[8..].copy_from_slice(&generation.to_le_bytes());
    out
}

/// Creates (or empties) the journal of `generation`, header synced.
pub(crate) fn create(dir: &Path, generation: u64, sync: bool) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join(layout::journal_name(generation)))?;
    file.write_all_at(&header(generation), 0)?;
    if sync {
        file.sync_all()?;
    }
    Ok(file)
}

/// The open journal after recovery.
pub(crate) struct Recovered {
    pub file: File,
    /// Where the next frame goes.
    pub len: u64,
    /// The file's length; zeros from `len` on.
    pub allocated: u64,
}

/// Replays the journal of `generation` into `meta`, cutting off a torn
/// tail; creates the journal if it does not exist.
pub(crate) fn recover(dir: &Path, generation: u64, meta: &mut Meta, sync: bool) -> Result<Recovered, StoreError> {
    let path = dir.join(layout::journal_name(generation));
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Ok(Recovered { file: create(dir, generation, sync)?, len: HEADER_LEN, allocated: HEADER_LEN });
        }
        Err(e) => return Err(e.into()),
    };
    let file_len = file.metadata()?.len();
    if file_len < HEADER_LEN {
        // Torn while being created: nothing in it was ever acknowledged.
        drop(file);
        return Ok(Recovered { file: create(dir, generation, sync)?, len: HEADER_LEN, allocated: HEADER_LEN });
    }
    let mut reader = BufReader::with_capacity(1 << 16, &file);
    let mut head = [0; HEADER_LEN as usize];
    reader.read_exact(&mut head)?;
    if head != header(generation) {
        return Err(corrupt(format!("journal {} has a bad header", path.display())));
    }
    let mut pos = HEADER_LEN;
    let mut payload = Vec::new();
    while let Some(len) = next_frame(&mut reader, pos, file_len, &mut payload)? {
        let txn = ops::decode_txn(&payload)?;
        for op in &txn {
            meta.apply(op)?;
        }
        pos += FRAME_HEADER + u64::from(len);
    }
    drop(reader);
    if zeros_from(&file, pos, file_len)? {
        return Ok(Recovered { file, len: pos, allocated: file_len });
    }
    tracing::warn!(target: "store::journal", path = %path.display(), offset = pos, dropped = file_len - pos, "cutting torn journal tail");
    file.set_len(pos)?;
    if sync {
        file.sync_all()?;
    }
    Ok(Recovered { file, len: pos, allocated: pos })
}

/// Whether the file holds only zeros from `pos` to `end` (space written
/// ahead, not a torn frame).
fn zeros_from(file: &File, pos: u64, end: u64) -> Result<bool, StoreError> {
    const MAX_CHECKED: u64 = 16 << 20;
    if end - pos > MAX_CHECKED {
        return Ok(false);
    }
    let mut tail = vec![0; usize::try_from(end - pos).unwrap_or(0)];
    file.read_exact_at(&mut tail, pos)?;
    Ok(tail.iter().all(|b| *b == 0))
}

/// Reads the frame at `pos` into `payload`; `None` at the end or at a
/// torn frame.
fn next_frame(
    reader: &mut impl Read,
    pos: u64,
    file_len: u64,
    payload: &mut Vec<u8>,
) -> Result<Option<u32>, StoreError> {
    if file_len - pos < FRAME_HEADER {
        return Ok(None);
    }
    let mut head = [0; FRAME_HEADER as usize];
    reader.read_exact(&mut head)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    // A zero length is never written: zero-filled space after a crash is torn.
    if len == 0 || len > MAX_FRAME || u64::from(len) > file_len - pos - FRAME_HEADER {
        return Ok(None);
    }
    payload.resize(len as usize, 0);
    reader.read_exact(payload)?;
    if frame_crc(len, payload) != crc {
        return Ok(None);
    }
    Ok(Some(len))
}
