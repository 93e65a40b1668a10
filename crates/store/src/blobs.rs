//! Message bytes: append-only segment files `seg-<N>.dat`, each written
//! until it passes the configured size; the highest-numbered one is
//! active. A blob is a byte range of a segment, found through the journal
//! (a segment has no framing of its own, so a crash can only leave
//! unreferenced bytes at its end). Reads are positional, from cached
//! handles, and check the blob's CRC.
//!
//! A header-only read (`read_header`) reads the start of a blob in
//! growing chunks until the empty line that ends the header. The CRC
//! covers the whole blob, so it is checked only when such a read
//! happens to cover the whole blob; a header read of a larger message
//! still fails on a segment that ends too early, but not on flipped bits.
//! This costs nothing in crash safety (a journal record only ever names
//! bytes that were fsynced first); the whole read, which every BODY[]
//! and RETR uses, still checks every byte.

use crate::StoreError;
use crate::codec::corrupt;
use crate::layout;
use crate::ops::BlobLoc;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Segment ids found in `dir` with their file lengths.
pub(crate) fn scan(dir: &Path) -> Result<BTreeMap<u32, u64>, StoreError> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry.file_name().to_str().and_then(layout::parse_segment_name) {
            out.insert(id, entry.metadata()?.len());
        }
    }
    Ok(out)
}

/// Opens segment `id` for appending, creating it (durably) if needed.
pub(crate) fn open_for_append(dir: &Path, id: u32, sync: bool) -> Result<File, StoreError> {
    let path = dir.join(layout::segment_name(id));
    let existed = path.exists();
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
    if sync && !existed {
        // A journal record must never name a segment whose directory entry
        // could vanish in a crash.
        layout::sync_dir(dir)?;
    }
    Ok(file)
}

/// Open read handles of the account's segments, opened on first use so
/// that rarely read segments hold no descriptor.
pub(crate) struct SegmentReaders {
    dir: PathBuf,
    handles: Mutex<HashMap<u32, Arc<File>>>,
}

impl SegmentReaders {
    pub(crate) fn new(dir: PathBuf) -> Self {
        SegmentReaders { dir, handles: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, id: u32) -> std::io::Result<Arc<File>> {
        if let Some(file) = self.handles.lock().get(&id) {
            return Ok(file.clone());
        }
        let file = Arc::new(File::open(self.dir.join(layout::segment_name(id)))?);
        Ok(self.handles.lock().entry(id).or_insert(file).clone())
    }

    pub(crate) fn insert(&self, id: u32, file: Arc<File>) {
        self.handles.lock().insert(id, file);
    }

    pub(crate) fn remove(&self, id: u32) {
        self.handles.lock().remove(&id);
    }
}

/// The first read of a header-only read. Most headers fit in it; a
/// message no larger is read whole, and checked.
pub(crate) const HEADER_READ_AHEAD: usize = 4096;

/// Reads a blob and checks its CRC.
pub(crate) fn read(file: &File, loc: &BlobLoc) -> Result<Vec<u8>, StoreError> {
    let len = usize::try_from(loc.len).map_err(|_| corrupt("blob too large"))?;
    let mut buf = vec![0; len];
    read_at(file, loc, &mut buf, 0)?;
    check(&buf, loc)?;
    Ok(buf)
}

/// Reads the blob's header block: every line up to and including the
/// first empty one, or the whole blob if it has no empty line.
pub(crate) fn read_header(file: &File, loc: &BlobLoc) -> Result<Vec<u8>, StoreError> {
    read_header_in_chunks(file, loc, HEADER_READ_AHEAD)
}

/// `read_header` with the size of its first read as a parameter, so that
/// tests can make headers span several reads.
fn read_header_in_chunks(file: &File, loc: &BlobLoc, first_chunk: usize) -> Result<Vec<u8>, StoreError> {
    let len = usize::try_from(loc.len).map_err(|_| corrupt("blob too large"))?;
    let mut buf = Vec::new();
    // Where the first line not yet seen whole starts.
    let mut scanned = 0;
    // Doubling keeps a huge header (or a message without an empty line)
    // to a logarithmic number of reads.
    let mut chunk = first_chunk.max(1);
    loop {
        let start = buf.len();
        let end = start.saturating_add(chunk).min(len);
        buf.resize(end, 0);
        read_at(file, loc, &mut buf[start..], start)?;
        if end == len {
            // The whole blob is here: check it as a whole read would.
            check(&buf, loc)?;
            buf.truncate(header_end(&buf, scanned).unwrap_or(len));
            return Ok(buf);
        }
        match header_end(&buf, scanned) {
            Ok(header_len) => {
                buf.truncate(header_len);
                return Ok(buf);
            }
            Err(next_line) => scanned = next_line,
        }
        chunk = chunk.saturating_mul(2);
    }
}

/// Fills `buf` from the blob's bytes starting `from` bytes into it.
fn read_at(file: &File, loc: &BlobLoc, buf: &mut [u8], from: usize) -> Result<(), StoreError> {
    let offset = loc.offset.saturating_add(from as u64);
    match file.read_exact_at(buf, offset) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
            Err(corrupt(format!("segment {} ends inside a message", loc.segment)))
        }
        Err(e) => Err(e.into()),
    }
}

fn check(buf: &[u8], loc: &BlobLoc) -> Result<(), StoreError> {
    if crc32fast::hash(buf) != loc.crc {
        return Err(corrupt(format!("message bytes in segment {} fail their checksum", loc.segment)));
    }
    Ok(())
}

/// Looks through the whole lines of `bytes` from `at` (a line start) for
/// the empty line that ends a message header (RFC 5322 §2.1): `Ok` with
/// the length of the header up to and including it, or `Err` with the
/// start of the first line not yet complete.
pub(crate) fn header_end(bytes: &[u8], mut at: usize) -> Result<usize, usize> {
    while let Some(n) = bytes.get(at..).and_then(|rest| rest.iter().position(|b| *b == b'\n')) {
        let line_end = at + n + 1;
        if matches!(&bytes[at..line_end], b"\n" | b"\r\n") {
            return Ok(line_end);
        }
        at = line_end;
    }
    Err(at)
}

/// The closed segment most worth compacting: the one with the smallest
/// share of live bytes, if that share is under half.
pub(crate) fn compaction_candidate(closed: &BTreeMap<u32, u64>, live: &BTreeMap<u32, u64>) -> Option<u32> {
    closed
        .iter()
        .map(|(id, len)| (*id, *len, live.get(id).copied().unwrap_or(0)))
        .filter(|(_, len, live)| *live == 0 || live.saturating_mul(2) < *len)
        .min_by(|a, b| (u128::from(a.2) * u128::from(b.1)).cmp(&(u128::from(b.2) * u128::from(a.1))))
        .map(|(id, _, _)| id)
}

#[cfg(test)]
mod tests;
