//! A random tag per queue directory, kept in the file `origin` beside the
//! segments. Queue ids are unique within one queue (`id.rs`) but two
//! members' queues can issue the same id in the same millisecond; the
//! delivery ids the store deduplicates by carry this tag too, so mail
//! from two queues never looks like one delivery repeated, while the
//! same queue (reopened after a crash, or run by another member as a
//! foreign queue) repeats its own ids exactly.

use std::io::Write;
use std::path::Path;

const FILE: &str = "origin";

/// The directory's tag, made (durably) on first use.
pub(crate) fn load_or_create(dir: &Path, sync: bool) -> std::io::Result<u32> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => u32::from_str_radix(text.trim(), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let origin: u32 = rand::random();
            // Written aside and renamed, so a crash never leaves half a tag.
            let temporary = dir.join(format!("{FILE}.new"));
            let mut file = std::fs::File::create(&temporary)?;
            writeln!(file, "{origin:08x}")?;
            if sync {
                file.sync_all()?;
            }
            std::fs::rename(&temporary, &path)?;
            if sync {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(origin)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_directory_keeps_its_tag_and_another_gets_its_own() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = super::load_or_create(a.path(), true).unwrap();
        assert_eq!(super::load_or_create(a.path(), true).unwrap(), first);
        // 1 in 2^32 that this fails by chance.
        assert_ne!(super::load_or_create(b.path(), false).unwrap(), first);
    }
}
