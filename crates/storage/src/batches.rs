//! Rollup tables of sealed batches (DESIGN.md section 5): each batch by number, its L2 → L1
//! messages, and an index from a batch's last block to its number (which also answers "which
//! batch holds block N": the first batch whose last block is ≥ N).
//!
//! A batch, its messages and its index entry are written in **one** write transaction
//! ([`Store::write_batch`]), and batches are written in order: batch `n + 1` must start right after
//! batch `n`'s last block. The tables are created by their first write; before it they read as
//! empty.

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use crate::{Store, StoreError};
use keel_types::{Batch, BatchMessage};

/// Batch number → `rlp(Batch)`.
const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");
/// Batch number → `rlp(Vec<BatchMessage>)`, in message order.
const BATCH_MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("batch_messages");
/// Last block of a batch → batch number.
const BATCH_BY_LAST_BLOCK: TableDefinition<u64, u64> = TableDefinition::new("batch_by_last_block");

/// Why a batch write was refused (nothing is written then).
#[derive(Debug, thiserror::Error)]
pub enum BatchWriteError {
    /// Reading or writing the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Batches are written in order, each starting right after the previous one.
    #[error(
        "batch {number} (blocks {first_block}..={last_block}) does not follow the last sealed \
         batch {last:?} ending at block {last_block_sealed}"
    )]
    NotNext {
        /// The batch given.
        number: u64,
        /// Its first block.
        first_block: u64,
        /// Its last block.
        last_block: u64,
        /// The last sealed batch number.
        last: Option<u64>,
        /// The last block sealed so far (0 = only the genesis).
        last_block_sealed: u64,
    },
}

impl From<redb::TransactionError> for BatchWriteError {
    fn from(e: redb::TransactionError) -> Self {
        Self::Store(e.into())
    }
}
impl From<redb::TableError> for BatchWriteError {
    fn from(e: redb::TableError) -> Self {
        Self::Store(e.into())
    }
}
impl From<redb::StorageError> for BatchWriteError {
    fn from(e: redb::StorageError) -> Self {
        Self::Store(e.into())
    }
}
impl From<redb::CommitError> for BatchWriteError {
    fn from(e: redb::CommitError) -> Self {
        Self::Store(e.into())
    }
}

fn open_read<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match txn.open_table(def) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn encode_messages(messages: &[BatchMessage]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list(messages, &mut out);
    out
}

fn decode_batch(bytes: &[u8]) -> Result<Batch, StoreError> {
    alloy_rlp::decode_exact(bytes).map_err(|e| StoreError::corrupt("batch", e))
}

impl Store {
    /// The last sealed batch, if any.
    pub fn last_batch(&self) -> Result<Option<Batch>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCHES)? else {
            return Ok(None);
        };
        match table.last()? {
            Some((_, v)) => Ok(Some(decode_batch(v.value())?)),
            None => Ok(None),
        }
    }

    /// Sealed batch `number`.
    pub fn batch(&self, number: u64) -> Result<Option<Batch>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCHES)? else {
            return Ok(None);
        };
        table
            .get(number)?
            .map(|v| decode_batch(v.value()))
            .transpose()
    }

    /// The L2 → L1 messages of sealed batch `number`, in message order.
    pub fn batch_messages(&self, number: u64) -> Result<Option<Vec<BatchMessage>>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCH_MESSAGES)? else {
            return Ok(None);
        };
        table
            .get(number)?
            .map(|v| {
                alloy_rlp::decode_exact(v.value())
                    .map_err(|e| StoreError::corrupt("batch messages", e))
            })
            .transpose()
    }

    /// The number of the sealed batch that holds L2 block `block`, if it is sealed.
    pub fn batch_number_of_block(&self, block: u64) -> Result<Option<u64>, StoreError> {
        if block == 0 {
            return Ok(Some(0));
        }
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCH_BY_LAST_BLOCK)? else {
            return Ok(None);
        };
        let mut range = table.range(block..)?;
        match range.next() {
            Some(entry) => Ok(Some(entry?.1.value())),
            None => Ok(None),
        }
    }

    /// Stores a sealed batch and its messages atomically. It must be the next batch: number
    /// `last + 1` (1 for the first) starting at the block after the last sealed one.
    pub fn write_batch(
        &self,
        batch: &Batch,
        messages: &[BatchMessage],
    ) -> Result<(), BatchWriteError> {
        let txn = self.database().begin_write()?;
        {
            let mut batches = txn.open_table(BATCHES)?;
            let last = match batches.last()? {
                Some((_, v)) => Some(decode_batch(v.value())?),
                None => None,
            };
            let (expected_number, last_block_sealed) = match &last {
                Some(b) => (b.number + 1, b.last_block),
                None => (1, 0),
            };
            if batch.number != expected_number
                || batch.first_block != last_block_sealed + 1
                || batch.last_block < batch.first_block
            {
                return Err(BatchWriteError::NotNext {
                    number: batch.number,
                    first_block: batch.first_block,
                    last_block: batch.last_block,
                    last: last.map(|b| b.number),
                    last_block_sealed,
                });
            }
            batches.insert(batch.number, alloy_rlp::encode(batch).as_slice())?;
            let mut table = txn.open_table(BATCH_MESSAGES)?;
            table.insert(batch.number, encode_messages(messages).as_slice())?;
            let mut index = txn.open_table(BATCH_BY_LAST_BLOCK)?;
            index.insert(batch.last_block, batch.number)?;
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256, U256};

    fn batch(number: u64, first_block: u64, last_block: u64) -> Batch {
        Batch {
            number,
            first_block,
            last_block,
            state_root: B256::repeat_byte(number as u8),
            last_block_hash: B256::repeat_byte(0x80 | number as u8),
            privileged_rolling_hash: B256::ZERO,
            withdrawals_root: B256::ZERO,
            non_privileged_tx_count: number,
        }
    }

    #[test]
    fn batches_are_written_in_order_and_found_by_block() {
        let store = Store::in_memory().expect("store");
        assert_eq!(store.last_batch().expect("read"), None);
        assert_eq!(store.batch_number_of_block(1).expect("read"), None);
        assert_eq!(store.batch_number_of_block(0).expect("read"), Some(0));

        let message = BatchMessage {
            tx_hash: B256::repeat_byte(1),
            sender_on_l2: Address::repeat_byte(0xff),
            data: B256::repeat_byte(2),
            message_id: U256::from(1),
        };
        store
            .write_batch(&batch(1, 1, 5), &[message])
            .expect("first batch");
        // Not next: a gap, an overlap, a wrong number.
        for wrong in [
            batch(2, 7, 9),
            batch(2, 5, 9),
            batch(3, 6, 9),
            batch(2, 6, 5),
        ] {
            let err = store.write_batch(&wrong, &[]).expect_err("refused");
            assert!(matches!(err, BatchWriteError::NotNext { .. }), "{err}");
        }
        store.write_batch(&batch(2, 6, 6), &[]).expect("second");

        assert_eq!(store.last_batch().expect("read"), Some(batch(2, 6, 6)));
        assert_eq!(store.batch(1).expect("read"), Some(batch(1, 1, 5)));
        assert_eq!(store.batch(3).expect("read"), None);
        assert_eq!(store.batch_messages(1).expect("read"), Some(vec![message]));
        assert_eq!(store.batch_messages(2).expect("read"), Some(vec![]));
        for (block, expected) in [(1, Some(1)), (5, Some(1)), (6, Some(2)), (7, None)] {
            assert_eq!(
                store.batch_number_of_block(block).expect("read"),
                expected,
                "block {block}"
            );
        }
    }
}
