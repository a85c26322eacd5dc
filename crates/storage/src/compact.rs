//! Giving a datadir's free pages back to the file system. redb grows its file in steps (up to
//! doubling it) and reuses freed pages only after a durable commit, so after a bulk write (an
//! import) the file can be twice what it holds. Compaction moves the pages in use to the front
//! and truncates the rest, as geth does at the end of `geth import`.

use std::path::Path;

use redb::Database;

use crate::StoreError;

/// File sizes before and after a compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub before_bytes: u64,
    pub after_bytes: u64,
}

/// Compacts the database file at `path`, which no process may have open (it is opened
/// exclusively, so a running node makes this fail with a "database already open" error and
/// changes nothing). Crash-safe: redb commits each step with its two-phase commit, so an
/// interrupted compaction leaves a whole database, only less compact.
pub fn compact_file(path: impl AsRef<Path>) -> Result<Compaction, StoreError> {
    let path = path.as_ref();
    let before_bytes = file_len(path)?;
    {
        let mut db = Database::open(path)?;
        db.compact()
            .map_err(|e| StoreError::Compaction(e.to_string()))?;
    }
    Ok(Compaction {
        before_bytes,
        after_bytes: file_len(path)?,
    })
}

fn file_len(path: &Path) -> Result<u64, StoreError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| StoreError::Compaction(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use redb::{ReadableDatabase, ReadableTableMetadata};

    #[test]
    fn compaction_shrinks_the_file_and_keeps_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keel.redb");
        let store = Store::open(&path).unwrap();
        // Write then delete most of a large table: the file keeps the freed pages.
        let db = store.database();
        let table: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("compact_test");
        let blob = vec![7u8; 4096];
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(table).unwrap();
            for i in 0..20_000u64 {
                t.insert(i, blob.as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(table).unwrap();
            for i in 100..20_000u64 {
                t.remove(i).unwrap();
            }
        }
        txn.commit().unwrap();
        drop(store);

        let result = compact_file(&path).unwrap();
        assert!(result.after_bytes * 4 < result.before_bytes, "{result:?}");
        assert_eq!(result.after_bytes, std::fs::metadata(&path).unwrap().len());

        let store = Store::open(&path).unwrap();
        let txn = store.database().begin_read().unwrap();
        let t = txn.open_table(table).unwrap();
        assert_eq!(t.len().unwrap(), 100);
        for i in 0..100u64 {
            assert_eq!(t.get(i).unwrap().unwrap().value(), blob.as_slice());
        }
    }

    #[test]
    fn an_open_database_is_not_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keel.redb");
        let store = Store::open(&path).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        let err = compact_file(&path).unwrap_err();
        assert!(err.to_string().contains("already open"), "{err}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
        drop(store);
    }
}
