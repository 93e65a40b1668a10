//! The embedded directory: one redb file in the data directory.

use crate::*;

/// The single-server directory back-end.
pub struct EmbeddedDirectory {}

impl EmbeddedDirectory {
    /// Opens (creating if absent) the directory database at `path`.
    pub fn open(_path: &std::path::Path) -> Result<Self> {
        todo!()
    }
}
