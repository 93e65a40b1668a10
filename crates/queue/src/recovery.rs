//! Opening the spool: scans every segment in order and rebuilds the index,
//! truncating a torn or damaged tail of the last segment. Bad data is
//! logged and skipped, never a panic.

use crate::id::IdGenerator;
use crate::index::{Index, Location};
use crate::record;
use crate::spool::{self, SEGMENT_HEADER_LEN};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// What recovery leaves for the writer: the index and the segment to
/// append to.
pub(crate) struct Recovered {
    pub index: Index,
    pub active: ActiveSegment,
}

/// The segment appended to.
pub(crate) struct ActiveSegment {
    pub number: u64,
    pub file: Arc<File>,
    /// Its length, which is where the next frame goes.
    pub len: u64,
}

pub(crate) fn recover(dir: &Path, sync: bool, ids: &IdGenerator) -> io::Result<Recovered> {
    let numbers = spool::list_segments(dir)?;
    let mut index = Index::default();
    let mut active = None;
    for (position, &number) in numbers.iter().enumerate() {
        let is_last = position + 1 == numbers.len();
        let path = spool::segment_path(dir, number);
        let file = OpenOptions::new().read(true).write(is_last).open(&path)?;
        let file_len = file.metadata()?.len();
        let Some(id_floor) = spool::read_header(&file)? else {
            if is_last {
                // A crash while the segment was being created.
                tracing::warn!(target: "queue::spool", segment = number, "segment header torn; segment emptied");
                spool::reset_segment(&file, ids.floor(), sync)?;
                let file = Arc::new(file);
                index.add_segment(number, file.clone(), SEGMENT_HEADER_LEN);
                active = Some((number, file, SEGMENT_HEADER_LEN));
            } else if file_len <= SEGMENT_HEADER_LEN {
                tracing::warn!(target: "queue::spool", segment = number, "empty segment with a torn header removed");
                std::fs::remove_file(&path)?;
            } else {
                tracing::error!(
                    target: "queue::spool",
                    segment = number,
                    path = %path.display(),
                    "segment header damaged; the segment is left aside, unread"
                );
            }
            continue;
        };
        ids.observe(id_floor.saturating_sub(1));
        let file = Arc::new(file);
        index.add_segment(number, file.clone(), file_len);
        let end = spool::scan(&file, file_len, |offset, len, payload| {
            let record = record::decode(payload)?;
            ids.observe(record.id().0);
            index.apply(record, Location { segment: number, offset, len });
            Ok(())
        })?;
        let mut size = file_len;
        if let Some(damage) = end.damage {
            if is_last {
                tracing::warn!(
                    target: "queue::spool",
                    segment = number,
                    %damage,
                    dropped_bytes = file_len - end.valid_len,
                    "torn tail of the last segment truncated"
                );
                file.set_len(end.valid_len)?;
                if sync {
                    file.sync_data()?;
                }
                size = end.valid_len;
            } else {
                tracing::error!(
                    target: "queue::spool",
                    segment = number,
                    %damage,
                    lost_bytes = file_len - end.valid_len,
                    "closed segment damaged; records after the damage are lost"
                );
            }
        }
        index.set_segment_size(number, size);
        if is_last {
            active = Some((number, file, size));
        }
    }
    let (number, file, len) = match active {
        Some(active) => active,
        None => {
            let number = numbers.last().map_or(1, |last| last + 1);
            let file = Arc::new(spool::create_segment(dir, number, ids.floor(), sync)?);
            index.add_segment(number, file.clone(), SEGMENT_HEADER_LEN);
            (number, file, SEGMENT_HEADER_LEN)
        }
    };
    tracing::info!(
        target: "queue::spool",
        messages = index.len(),
        segments = index.segments().len(),
        "queue recovered"
    );
    Ok(Recovered { index, active: ActiveSegment { number, file, len } })
}
