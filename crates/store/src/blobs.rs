//! Message bytes: append-only segment files `seg-<N>.dat`, each written
//! until it passes the configured size; the highest-numbered one is
//! active. A blob is a byte range of a segment, found through the journal
//! (a segment has no framing of its own, so a crash can only leave
//! unreferenced bytes at its end). Reads are positional, from cached
//! handles, and check the blob's CRC.

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

/// Reads a blob and checks its CRC.
pub(crate) fn read(file: &File, loc: &BlobLoc) -> Result<Vec<u8>, StoreError> {
    let len = usize::try_from(loc.len).map_err(|_| corrupt("blob too large"))?;
    let mut buf = vec![0; len];
    match file.read_exact_at(&mut buf, loc.offset) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
            return Err(corrupt(format!("segment {} ends inside a message", loc.segment)));
        }
        Err(e) => return Err(e.into()),
    }
    if crc32fast::hash(&buf) != loc.crc {
        return Err(corrupt(format!("message bytes in segment {} fail their checksum", loc.segment)));
    }
    Ok(buf)
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
