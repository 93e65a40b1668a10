//! Segment files: names, headers, the sequential scan used by recovery,
//! and positional reads of single frames. Knows nothing of the index.
//!
//! A segment is `seg-NNNNNN.q` in the queue directory: a 24-byte header
//! (`RKQSEG01`, the id floor u64 — every id issued before the segment was
//! created is below it — and a CRC-32 of those 16 bytes, 4 spare bytes)
//! followed by frames (see [`crate::record`]). Segments are only appended
//! to, one at a time (the active one, the highest number).

use crate::record::{self, DecodeError, FRAME_HEADER_LEN, MAX_PAYLOAD_LEN};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub(crate) const SEGMENT_HEADER_LEN: u64 = 24;
const MAGIC: &[u8; 8] = b"RKQSEG01";

pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("seg-{number:06}.q"))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".q")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The numbers of the segments in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(number) = entry.file_name().to_str().and_then(parse_segment_name) {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

pub(crate) fn encode_header(id_floor: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0; SEGMENT_HEADER_LEN as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&id_floor.to_le_bytes());
    let crc = crc32fast::hash(&header[..16]);
    header[16..20].copy_from_slice(&crc.to_le_bytes());
    header
}

/// The id floor of a valid header.
pub(crate) fn decode_header(header: &[u8]) -> Option<u64> {
    let header = header.get(..SEGMENT_HEADER_LEN as usize)?;
    if &header[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(header[16..20].try_into().ok()?);
    if crc != crc32fast::hash(&header[..16]) {
        return None;
    }
    Some(u64::from_le_bytes(header[8..16].try_into().ok()?))
}

/// Reads the header of an open segment.
pub(crate) fn read_header(file: &File) -> io::Result<Option<u64>> {
    let mut header = [0; SEGMENT_HEADER_LEN as usize];
    match file.read_exact_at(&mut header, 0) {
        Ok(()) => Ok(decode_header(&header)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes a new segment with its header; when `sync`, the file and the
/// directory entry are durable before this returns.
pub(crate) fn create_segment(dir: &Path, number: u64, id_floor: u64, sync: bool) -> io::Result<File> {
    let file = OpenOptions::new().read(true).write(true).create_new(true).open(segment_path(dir, number))?;
    file.write_all_at(&encode_header(id_floor), 0)?;
    if sync {
        file.sync_data()?;
        sync_dir(dir)?;
    }
    Ok(file)
}

/// Rewrites the header of a segment whose header was torn, emptying it.
pub(crate) fn reset_segment(file: &File, id_floor: u64, sync: bool) -> io::Result<()> {
    file.set_len(0)?;
    file.write_all_at(&encode_header(id_floor), 0)?;
    if sync {
        file.sync_data()?;
    }
    Ok(())
}

/// Creates `dir` if needed and takes the exclusive lock on its `lock`
/// file, held for as long as the returned file is open: two queues on one
/// spool would corrupt it. The kernel drops the lock when a process dies.
/// A lock held only for a moment is waited for: a child process being
/// spawned holds a copy of every descriptor until it execs.
pub(crate) fn lock_dir(dir: &Path) -> io::Result<File> {
    const PATIENCE: Duration = Duration::from_secs(1);
    std::fs::create_dir_all(dir)?;
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join("lock"))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < PATIENCE => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let message = format!("queue directory {} is in use by another queue", dir.display());
                return Err(io::Error::new(io::ErrorKind::WouldBlock, message));
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
    }
}

/// Makes creations and deletions of files in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// How a scan of a segment ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanEnd {
    /// Bytes from the start of the file up to the end of the last good frame.
    pub valid_len: u64,
    /// What stopped the scan before the end of the file, if anything.
    pub damage: Option<String>,
}

/// Reads the frames of a segment in order, calling `visit(offset,
/// frame_len, payload)` for each frame whose CRC matches, and stops at the
/// first frame that is torn, damaged, or that `visit` rejects.
pub(crate) fn scan(
    file: &File,
    file_len: u64,
    mut visit: impl FnMut(u64, u64, &[u8]) -> Result<(), DecodeError>,
) -> io::Result<ScanEnd> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(SEGMENT_HEADER_LEN))?;
    let mut offset = SEGMENT_HEADER_LEN;
    let mut payload = Vec::new();
    let damage = loop {
        let left = file_len.saturating_sub(offset);
        if left == 0 {
            break None;
        }
        if left < FRAME_HEADER_LEN as u64 {
            break Some(format!("torn frame header at offset {offset}"));
        }
        let mut header = [0; FRAME_HEADER_LEN];
        reader.read_exact(&mut header)?;
        let (len, crc) = record::parse_frame_header(header);
        let frame_len = FRAME_HEADER_LEN as u64 + u64::from(len);
        if len == 0 || len as usize > MAX_PAYLOAD_LEN || frame_len > left {
            break Some(format!("bad or torn frame length {len} at offset {offset}"));
        }
        payload.resize(len as usize, 0);
        reader.read_exact(&mut payload)?;
        if record::frame_crc(len, &[&payload]) != crc {
            break Some(format!("crc mismatch in frame at offset {offset}"));
        }
        if let Err(e) = visit(offset, frame_len, &payload) {
            break Some(format!("undecodable frame at offset {offset}: {e}"));
        }
        offset += frame_len;
        // One huge message must not keep its buffer for the whole scan.
        if payload.capacity() > 4 << 20 {
            payload = Vec::new();
        }
    };
    Ok(ScanEnd { valid_len: offset, damage })
}

/// Why a frame could not be read back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{0}")]
    Damaged(String),
}

/// Reads the frame of `frame_len` bytes at `offset` and returns its
/// payload once its length and CRC are checked.
pub(crate) fn read_frame(file: &File, offset: u64, frame_len: u64) -> Result<Vec<u8>, ReadError> {
    let payload_len =
        frame_len.checked_sub(FRAME_HEADER_LEN as u64).filter(|&n| n > 0 && n as usize <= MAX_PAYLOAD_LEN);
    let Some(payload_len) = payload_len else {
        return Err(ReadError::Damaged(format!("bad frame length {frame_len}")));
    };
    let mut header = [0; FRAME_HEADER_LEN];
    file.read_exact_at(&mut header, offset)?;
    let (len, crc) = record::parse_frame_header(header);
    if u64::from(len) != payload_len {
        return Err(ReadError::Damaged(format!("frame at offset {offset} has length {len}, expected {payload_len}")));
    }
    let mut payload = vec![0; payload_len as usize];
    file.read_exact_at(&mut payload, offset + FRAME_HEADER_LEN as u64)?;
    if record::frame_crc(len, &[&payload]) != crc {
        return Err(ReadError::Damaged(format!("crc mismatch in frame at offset {offset}")));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests;

/// Whether the spool in `dir` may hold a message: some segment is longer
/// than its header. Read without opening (or locking) the queue, so that
/// a look at another member's idle spool costs nothing.
pub fn may_hold_messages(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.filter_map(|entry| entry.ok()).any(|entry| {
        entry.file_name().to_str().and_then(parse_segment_name).is_some()
            && entry.metadata().is_ok_and(|meta| meta.len() > SEGMENT_HEADER_LEN)
    })
}
