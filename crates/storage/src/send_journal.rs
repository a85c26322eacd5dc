//! The L1 send journal: what the node's L1 sender intends to send or has sent, per job (a kind
//! such as `"commit"` and a key such as the batch number), stored **before** a transaction is
//! broadcast so that a restarted node reconciles with L1 instead of sending again. The store keeps
//! the records as opaque bytes; `keel-l1`'s sender defines them.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::{Store, StoreError};

/// (kind, key) → the sender's record of the job.
const L1_SEND_JOURNAL: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("l1_send_journal");

/// Creates the table (at [`Store`] open, under the schema version).
pub(crate) fn create_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(L1_SEND_JOURNAL)?;
    Ok(())
}

impl Store {
    /// The journaled record of job (`kind`, `key`), if any.
    pub fn send_journal_get(&self, kind: &str, key: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.database().begin_read()?;
        let table = txn.open_table(L1_SEND_JOURNAL)?;
        Ok(table.get((kind, key))?.map(|v| v.value().to_vec()))
    }

    /// Stores (durably, before returning) the record of job (`kind`, `key`), replacing any.
    pub fn send_journal_put(&self, kind: &str, key: u64, record: &[u8]) -> Result<(), StoreError> {
        let txn = self.database().begin_write()?;
        txn.open_table(L1_SEND_JOURNAL)?
            .insert((kind, key), record)?;
        txn.commit()?;
        self.committed();
        Ok(())
    }

    /// Forgets job (`kind`, `key`).
    pub fn send_journal_remove(&self, kind: &str, key: u64) -> Result<(), StoreError> {
        let txn = self.database().begin_write()?;
        txn.open_table(L1_SEND_JOURNAL)?.remove((kind, key))?;
        txn.commit()?;
        self.committed();
        Ok(())
    }

    /// Every journaled job, in (kind, key) order.
    pub fn send_journal_list(&self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        let txn = self.database().begin_read()?;
        let table = txn.open_table(L1_SEND_JOURNAL)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let (kind, key) = k.value();
            out.push((kind.to_string(), key, v.value().to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_kept_per_job_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keel.redb");
        {
            let store = Store::open(&path).expect("open");
            assert_eq!(store.send_journal_get("commit", 1).expect("read"), None);
            store.send_journal_put("commit", 1, b"one").expect("put");
            store.send_journal_put("commit", 2, b"two").expect("put");
            store.send_journal_put("verify", 1, b"v").expect("put");
            store
                .send_journal_put("commit", 1, b"one again")
                .expect("replace");
            store.send_journal_remove("commit", 2).expect("remove");
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.send_journal_get("commit", 1).expect("read"),
            Some(b"one again".to_vec())
        );
        assert_eq!(store.send_journal_get("commit", 2).expect("read"), None);
        assert_eq!(
            store.send_journal_list().expect("list"),
            vec![
                ("commit".to_string(), 1, b"one again".to_vec()),
                ("verify".to_string(), 1, b"v".to_vec()),
            ]
        );
    }
}
