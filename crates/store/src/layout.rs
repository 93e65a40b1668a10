//! Where an account's files live. Everything of one account is inside
//! `<root>/<domain>/<local-part>/`, so the directory can be copied or
//! opened from shared storage as a unit.
//!
//! Inside the account directory:
//! - `snapshot`: the whole metadata state as of the start of journal
//!   generation G (G is in its header); `snapshot.tmp` while being written;
//! - `journal.<G>`: the metadata log applied on top of that snapshot;
//! - `seg-<N>.dat`: append-only segments of message bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use types::AccountName;

pub(crate) const SNAPSHOT: &str = "snapshot";
pub(crate) const SNAPSHOT_TMP: &str = "snapshot.tmp";

/// `<root>/<domain>/<local-part>` with both names made safe as file names.
pub(crate) fn account_dir(root: &Path, name: &AccountName) -> PathBuf {
    root.join(encode_component(name.domain().as_str())).join(encode_component(name.local().as_str()))
}

/// Keeps `[a-z0-9._+-]` (but not a leading dot) and percent-encodes every
/// other byte, so `a/b`, `..`, upper case or unicode never escape or clash.
pub(crate) fn encode_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        let keep = matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'+' | b'-') || (b == b'.' && i > 0);
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub(crate) fn journal_name(generation: u64) -> String {
    format!("journal.{generation}")
}

pub(crate) fn parse_journal_name(file_name: &str) -> Option<u64> {
    file_name.strip_prefix("journal.")?.parse().ok()
}

pub(crate) fn segment_name(id: u32) -> String {
    format!("seg-{id:08}.dat")
}

pub(crate) fn parse_segment_name(file_name: &str) -> Option<u32> {
    file_name.strip_prefix("seg-")?.strip_suffix(".dat")?.parse().ok()
}

/// fsyncs a directory so that entries created, renamed or removed in it
/// survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
