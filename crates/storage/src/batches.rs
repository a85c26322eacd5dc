//! Rollup tables of sealed batches (docs/architecture.md, Rollup tables): each batch by number, its
//! L2 → L1 messages, its blob payload and versioned hash, its L1 commit, and an index from a
//! batch's last block to its number (which also answers "which batch holds block N": the first
//! batch whose last block is ≥ N).
//!
//! A batch, its messages, its blob and its index entry are written in **one** write transaction
//! ([`Store::write_batch`]), and batches are written in order: batch `n + 1` must start right after
//! batch `n`'s last block. Commits are recorded in order too ([`Store::mark_batch_committed`]).
//! Records start with an encoding version byte ([`BATCH_ENCODING_VERSION`]), so a future layout
//! can be told apart from a corrupt entry.

use alloy_primitives::B256;
use alloy_rlp::{RlpDecodable, RlpEncodable};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::{Store, StoreError, rollup::open_read};
use keel_types::{Batch, BatchMessage};

/// Batch number → `version ‖ rlp(Batch)`.
const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");
/// Batch number → `rlp(Vec<BatchMessage>)`, in message order.
const BATCH_MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("batch_messages");
/// Last block of a batch → batch number.
const BATCH_BY_LAST_BLOCK: TableDefinition<u64, u64> = TableDefinition::new("batch_by_last_block");
/// Batch number → `version ‖ rlp(BatchBlob)` (absent in validium mode).
const BATCH_BLOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("batch_blobs");
/// Batch number → `version ‖ rlp(BatchCommit)`, for batches committed on L1.
const BATCH_COMMITS: TableDefinition<u64, &[u8]> = TableDefinition::new("batch_commits");

/// The version byte every batch, blob and commit record starts with.
pub const BATCH_ENCODING_VERSION: u8 = 1;

/// The blob of a sealed batch: its payload (`codec ‖ state diff`, docs/committer.md, State diff
/// formats) and the versioned hash of the blob it packs into (what `commitBatch` stores on L1).
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BatchBlob {
    /// `blobhash(0)` of the commit transaction.
    pub versioned_hash: B256,
    /// The blob payload (codec byte and body).
    pub payload: alloy_primitives::Bytes,
}

/// Where a batch was committed on L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct BatchCommit {
    /// The `commitBatch` transaction.
    pub tx_hash: B256,
    /// The L1 block it landed in.
    pub l1_block: u64,
}

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
    /// Commits are recorded in batch order, for sealed batches only.
    #[error(
        "batch {number} can't be marked committed: the last committed batch is {last_committed} \
         and the last sealed is {last_sealed}"
    )]
    CommitNotNext {
        /// The batch given.
        number: u64,
        /// The last batch recorded as committed (0: none).
        last_committed: u64,
        /// The last sealed batch (0: none).
        last_sealed: u64,
    },
}

crate::error::store_error_from_redb!(BatchWriteError);

/// Creates the tables (at [`Store`] open, under the schema version).
pub(crate) fn create_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(BATCHES)?;
    txn.open_table(BATCH_MESSAGES)?;
    txn.open_table(BATCH_BY_LAST_BLOCK)?;
    txn.open_table(BATCH_BLOBS)?;
    txn.open_table(BATCH_COMMITS)?;
    Ok(())
}

fn encode_messages(messages: &[BatchMessage]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list(messages, &mut out);
    out
}

/// `version ‖ rlp(value)`.
fn encode_versioned(value: &impl alloy_rlp::Encodable) -> Vec<u8> {
    let mut out = vec![BATCH_ENCODING_VERSION];
    value.encode(&mut out);
    out
}

fn decode_versioned<T: alloy_rlp::Decodable>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    match bytes.split_first() {
        Some((&BATCH_ENCODING_VERSION, rest)) => {
            alloy_rlp::decode_exact(rest).map_err(|e| StoreError::corrupt(what, e))
        }
        Some((version, _)) => Err(StoreError::corrupt(
            what,
            format!("record version {version}, this keel reads {BATCH_ENCODING_VERSION}"),
        )),
        None => Err(StoreError::corrupt(what, "empty record")),
    }
}

fn decode_batch(bytes: &[u8]) -> Result<Batch, StoreError> {
    decode_versioned("batch", bytes)
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

    /// The blob of sealed batch `number` (`None` if unknown or sealed without one: validium).
    pub fn batch_blob(&self, number: u64) -> Result<Option<BatchBlob>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCH_BLOBS)? else {
            return Ok(None);
        };
        table
            .get(number)?
            .map(|v| decode_versioned("batch blob", v.value()))
            .transpose()
    }

    /// Where batch `number` was committed on L1, if it was.
    pub fn batch_commit(&self, number: u64) -> Result<Option<BatchCommit>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCH_COMMITS)? else {
            return Ok(None);
        };
        table
            .get(number)?
            .map(|v| decode_versioned("batch commit", v.value()))
            .transpose()
    }

    /// The last batch recorded as committed on L1 (0: none).
    pub fn last_committed_batch(&self) -> Result<u64, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, BATCH_COMMITS)? else {
            return Ok(0);
        };
        Ok(table.last()?.map_or(0, |(k, _)| k.value()))
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

    /// Stores a sealed batch, its messages, its blob (none in validium mode) and the code hashes
    /// its state diff publishes in full (so later diffs name them by hash) atomically. It must be
    /// the next batch: number `last + 1` (1 for the first) starting at the block after the last
    /// sealed one.
    pub fn write_batch(
        &self,
        batch: &Batch,
        messages: &[BatchMessage],
        blob: Option<&BatchBlob>,
        published_codes: &[B256],
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
            batches.insert(batch.number, encode_versioned(batch).as_slice())?;
            let mut table = txn.open_table(BATCH_MESSAGES)?;
            table.insert(batch.number, encode_messages(messages).as_slice())?;
            let mut index = txn.open_table(BATCH_BY_LAST_BLOCK)?;
            index.insert(batch.last_block, batch.number)?;
            if let Some(blob) = blob {
                txn.open_table(BATCH_BLOBS)?
                    .insert(batch.number, encode_versioned(blob).as_slice())?;
            }
            crate::checkpoint::record_published(
                &txn,
                published_codes.iter().map(|hash| (*hash, batch.number)),
            )?;
        }
        txn.commit()?;
        self.committed();
        Ok(())
    }

    /// Records that batch `number` is committed on L1 (after the confirmations the committer
    /// waits for). It must be sealed and the next one to commit.
    pub fn mark_batch_committed(
        &self,
        number: u64,
        commit: &BatchCommit,
    ) -> Result<(), BatchWriteError> {
        let txn = self.database().begin_write()?;
        {
            let mut commits = txn.open_table(BATCH_COMMITS)?;
            let last_committed = commits.last()?.map_or(0, |(k, _)| k.value());
            let last_sealed = txn
                .open_table(BATCHES)?
                .last()?
                .map_or(0, |(k, _)| k.value());
            if number != last_committed + 1 || number > last_sealed {
                return Err(BatchWriteError::CommitNotNext {
                    number,
                    last_committed,
                    last_sealed,
                });
            }
            commits.insert(number, encode_versioned(commit).as_slice())?;
        }
        txn.commit()?;
        self.committed();
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
    fn records_carry_their_version() {
        let store = Store::in_memory().expect("store");
        store
            .write_batch(&batch(1, 1, 2), &[], None, &[])
            .expect("write");
        let bytes = encode_versioned(&batch(1, 1, 2));
        assert_eq!(bytes[0], BATCH_ENCODING_VERSION);
        let mut other = bytes.clone();
        other[0] = 9;
        let err = decode_batch(&other).expect_err("another version");
        assert!(err.to_string().contains("record version 9"), "{err}");
        assert!(decode_batch(&[]).is_err());
        assert_eq!(decode_batch(&bytes).expect("decodes"), batch(1, 1, 2));
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
            .write_batch(
                &batch(1, 1, 5),
                &[message],
                None,
                &[B256::repeat_byte(0xc0)],
            )
            .expect("first batch");
        // Not next: a gap, an overlap, a wrong number.
        for wrong in [
            batch(2, 7, 9),
            batch(2, 5, 9),
            batch(3, 6, 9),
            batch(2, 6, 5),
        ] {
            let err = store
                .write_batch(&wrong, &[], None, &[])
                .expect_err("refused");
            assert!(matches!(err, BatchWriteError::NotNext { .. }), "{err}");
        }
        let blob = BatchBlob {
            versioned_hash: B256::repeat_byte(0x01),
            payload: vec![0, 1, 2].into(),
        };
        store
            .write_batch(&batch(2, 6, 6), &[], Some(&blob), &[])
            .expect("second");
        assert_eq!(store.batch_blob(2).expect("read"), Some(blob));
        assert_eq!(store.batch_blob(1).expect("read"), None);
        assert_eq!(
            store
                .published_code(&B256::repeat_byte(0xc0))
                .expect("read"),
            Some(1)
        );

        // Commits: in order, sealed batches only.
        assert_eq!(store.last_committed_batch().expect("read"), 0);
        let commit = BatchCommit {
            tx_hash: B256::repeat_byte(7),
            l1_block: 12,
        };
        for wrong in [2, 3] {
            assert!(matches!(
                store.mark_batch_committed(wrong, &commit),
                Err(BatchWriteError::CommitNotNext { .. })
            ));
        }
        store.mark_batch_committed(1, &commit).expect("commit 1");
        store.mark_batch_committed(2, &commit).expect("commit 2");
        assert!(store.mark_batch_committed(3, &commit).is_err());
        assert_eq!(store.last_committed_batch().expect("read"), 2);
        assert_eq!(store.batch_commit(1).expect("read"), Some(commit));

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
