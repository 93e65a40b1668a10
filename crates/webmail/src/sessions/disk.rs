//! The session table on disk: one redb table, id → postcard record. Writes
//! run on the blocking pool; each is one committed transaction.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");

#[derive(Debug, thiserror::Error)]
pub enum SessionStoreError {
    #[error("session store: {0}")]
    Redb(#[from] redb::Error),
    #[error("session store: encoding a record: {0}")]
    Encode(#[from] postcard::Error),
    #[error("session store: background write stopped: {0}")]
    Join(#[from] tokio::task::JoinError),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub account: String,
    pub csrf: String,
    /// Unix seconds.
    pub created: u64,
    pub last_used: u64,
}

#[derive(Clone)]
pub struct SessionDisk {
    db: Arc<Database>,
}

fn redb_error(error: impl Into<redb::Error>) -> SessionStoreError {
    SessionStoreError::Redb(error.into())
}

impl SessionDisk {
    /// Opens (or creates) the file and reads every record; a record that
    /// does not decode is dropped rather than stopping the server.
    pub fn open(path: &Path) -> Result<(SessionDisk, Vec<(String, Record)>), SessionStoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| redb_error(redb::StorageError::Io(e)))?;
        }
        let db = Database::create(path).map_err(redb_error)?;
        let txn = db.begin_write().map_err(redb_error)?;
        txn.open_table(SESSIONS).map_err(redb_error)?;
        txn.commit().map_err(redb_error)?;
        let mut records = Vec::new();
        let read = db.begin_read().map_err(redb_error)?;
        let table = read.open_table(SESSIONS).map_err(redb_error)?;
        for item in table.iter().map_err(redb_error)? {
            let (id, value) = item.map_err(redb_error)?;
            if let Ok(record) = postcard::from_bytes::<Record>(value.value()) {
                records.push((id.value().to_owned(), record));
            }
        }
        drop(table);
        drop(read);
        Ok((SessionDisk { db: Arc::new(db) }, records))
    }

    /// Stores a new session and removes the ones it displaced.
    pub async fn write(&self, id: String, record: Record, gone: Vec<String>) -> Result<(), SessionStoreError> {
        let bytes = postcard::to_stdvec(&record)?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(redb_error)?;
            {
                let mut table = txn.open_table(SESSIONS).map_err(redb_error)?;
                for id in &gone {
                    table.remove(id.as_str()).map_err(redb_error)?;
                }
                table.insert(id.as_str(), bytes.as_slice()).map_err(redb_error)?;
            }
            txn.commit().map_err(redb_error)
        })
        .await
    }

    /// Records a later last use, unless the session was removed meanwhile
    /// (writes are serialised, so a logout is never undone by this).
    pub async fn touch(&self, id: String, record: Record) -> Result<(), SessionStoreError> {
        let bytes = postcard::to_stdvec(&record)?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(redb_error)?;
            {
                let mut table = txn.open_table(SESSIONS).map_err(redb_error)?;
                let present = table.get(id.as_str()).map_err(redb_error)?.is_some();
                if present {
                    table.insert(id.as_str(), bytes.as_slice()).map_err(redb_error)?;
                }
            }
            txn.commit().map_err(redb_error)
        })
        .await
    }

    pub async fn remove(&self, ids: Vec<String>) -> Result<(), SessionStoreError> {
        self.blocking(move |db| remove_ids(db, &ids)).await
    }

    pub fn remove_blocking(&self, ids: &[String]) -> Result<(), SessionStoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        remove_ids(&self.db, ids)
    }

    async fn blocking<F>(&self, work: F) -> Result<(), SessionStoreError>
    where
        F: FnOnce(&Database) -> Result<(), SessionStoreError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db)).await?
    }
}

fn remove_ids(db: &Database, ids: &[String]) -> Result<(), SessionStoreError> {
    let txn = db.begin_write().map_err(redb_error)?;
    {
        let mut table = txn.open_table(SESSIONS).map_err(redb_error)?;
        for id in ids {
            table.remove(id.as_str()).map_err(redb_error)?;
        }
    }
    txn.commit().map_err(redb_error)
}
