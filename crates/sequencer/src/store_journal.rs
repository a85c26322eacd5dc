//! The L1 sender's journal kept in the node's store, so that a restarted node finds the
//! transactions it had signed and broadcast (and never sends a second one for the same job).

use keel_l1::sender::{JournalEntry, JournalError, SendJournal};
use keel_storage::Store;

/// A [`SendJournal`] over the store's `l1_send_journal` table (entries as JSON).
#[derive(Debug, Clone)]
pub struct StoreJournal {
    store: Store,
}

impl StoreJournal {
    /// A journal in `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

fn journal_error(e: impl std::fmt::Display) -> JournalError {
    JournalError(e.to_string())
}

impl SendJournal for StoreJournal {
    fn load(&self, kind: &str, key: u64) -> Result<Option<JournalEntry>, JournalError> {
        self.store
            .send_journal_get(kind, key)
            .map_err(journal_error)?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(journal_error))
            .transpose()
    }

    fn store(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let bytes = serde_json::to_vec(entry).map_err(journal_error)?;
        self.store
            .send_journal_put(&entry.kind, entry.key, &bytes)
            .map_err(journal_error)
    }

    fn finish(&self, kind: &str, key: u64) -> Result<(), JournalError> {
        self.store
            .send_journal_remove(kind, key)
            .map_err(journal_error)
    }

    fn entries(&self) -> Result<Vec<JournalEntry>, JournalError> {
        self.store
            .send_journal_list()
            .map_err(journal_error)?
            .into_iter()
            .map(|(_, _, bytes)| serde_json::from_slice(&bytes).map_err(journal_error))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, B256, Bytes};
    use keel_l1::sender::SentTx;

    #[test]
    fn entries_round_trip_through_the_store() {
        let journal = StoreJournal::new(Store::in_memory().expect("store"));
        let entry = JournalEntry {
            kind: "commit".into(),
            key: 7,
            from: Address::repeat_byte(1),
            nonce: 3,
            txs: vec![SentTx {
                hash: B256::repeat_byte(2),
                raw: Bytes::from(vec![1, 2, 3]),
                max_fee_per_gas: 10,
                max_priority_fee_per_gas: 1,
                max_fee_per_blob_gas: Some(5),
            }],
        };
        assert_eq!(journal.load("commit", 7).expect("load"), None);
        journal.store(&entry).expect("store");
        assert_eq!(
            journal.load("commit", 7).expect("load"),
            Some(entry.clone())
        );
        assert_eq!(journal.entries().expect("entries"), vec![entry]);
        journal.finish("commit", 7).expect("finish");
        assert_eq!(journal.load("commit", 7).expect("load"), None);
    }
}
