//! Checkpoints: a block known only by the state diff of the batch it ends (docs/committer.md,
//! Rebuilding from L1), as a node that rebuilds the L2 state from L1 (`keel l2 reconstruct`) stores
//! it, and the record of which bytecodes have been published in full on L1.
//!
//! A **checkpoint** is the last block of a batch. Its state (flat state and trie nodes) is whole,
//! but of the block itself only what the state diff carries is known, so it is stored as:
//! - its header, rebuilt by the caller from the diff's fields (the rest as keel's producer sets
//!   them), under the **committed block hash** from L1. The rebuilt header does *not* hash to that
//!   hash (the diff lacks e.g. the logs bloom and the beneficiary); the store keys the block by the
//!   committed hash because that is what the next block's `parent_hash` must be;
//! - an empty body and no receipts, no transaction index;
//! - canonical at its number and the head. Only checkpoint numbers are in the canonical index: the
//!   blocks between two checkpoints are not stored at all;
//! - no revert diff: a checkpoint can't be unwound (its parent is not stored).
//!
//! All of it, plus the codes, the trie nodes and the published-code records, is written in **one**
//! write transaction ([`Store::write_checkpoint`]).
//!
//! **Published codes** (`PUBLISHED_CODES`): code hash → the batch whose state diff carried the code
//! in full (0 = the genesis). A state diff may name a code by hash only if it is recorded here;
//! the batch sealer records what it publishes ([`Store::record_published_codes`]) and a
//! reconstructing node records what it applies, so both agree on what is known.

use alloy_primitives::B256;
use alloy_rlp::Encodable;
use redb::{ReadableDatabase, ReadableTable, TableError, WriteTransaction};

use crate::{StateChanges, Store, StoreError, chunked, state_diff, tables};
use keel_types::{BlockBody, Header};

/// A checkpoint block and the state it ends with. [`Store::write_checkpoint`] writes it atomically.
#[derive(Debug)]
pub struct CheckpointWrite<'a> {
    /// The committed hash of the batch's last block (from L1); the block is stored under it.
    pub hash: B256,
    /// The header rebuilt from the state diff (it need not hash to [`Self::hash`]).
    pub header: &'a Header,
    /// The head the state changes were computed on: the write is refused if the head moved.
    pub parent_head: B256,
    /// Flat-state changes from the parent head's state, and the new codes.
    pub state: &'a StateChanges,
    /// Trie writes from the parent head's tries to the checkpoint's.
    pub trie: &'a keel_trie::TrieWrites,
    /// Codes to record as published: (code hash, batch number). A code already recorded keeps its
    /// first batch.
    pub published_codes: &'a [(B256, u64)],
}

/// Why a checkpoint was not written (nothing is written then).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The head is no longer the block the state changes were computed on.
    #[error("the head moved: the checkpoint was computed on {expected}, the head is {found:?}")]
    HeadMoved {
        /// The head the caller computed on.
        expected: B256,
        /// The head found.
        found: Option<B256>,
    },
    /// A checkpoint must be above the head.
    #[error("checkpoint block {number} is not above the head block {head_number}")]
    NotAboveHead {
        /// The checkpoint's number.
        number: u64,
        /// The head's number.
        head_number: u64,
    },
}

crate::error::store_error_from_redb!(CheckpointError);

impl Store {
    /// Write a checkpoint (see the module docs) and make it the head, in one write transaction.
    /// Refused unless the head is still `w.parent_head` and is below the checkpoint's number.
    pub fn write_checkpoint(&self, w: &CheckpointWrite<'_>) -> Result<(), CheckpointError> {
        let txn = self.database().begin_write()?;
        {
            let head = read_head(&txn)?;
            if head != Some(w.parent_head) {
                return Err(CheckpointError::HeadMoved {
                    expected: w.parent_head,
                    found: head,
                });
            }
            let head_number = txn
                .open_table(tables::BLOCK_NUMBERS)?
                .get(&w.parent_head.0)?
                .map(|v| v.value())
                .ok_or_else(|| {
                    StoreError::corrupt("head", format!("{} has no number", w.parent_head))
                })?;
            if w.header.number <= head_number {
                return Err(CheckpointError::NotAboveHead {
                    number: w.header.number,
                    head_number,
                });
            }

            let mut buf = Vec::with_capacity(1024);
            w.header.encode(&mut buf);
            txn.open_table(tables::HEADERS)?
                .insert(&w.hash.0, buf.as_slice())?;
            buf.clear();
            // As keel's blocks have it: no transactions, no ommers, withdrawals empty (not absent)
            // once Shanghai is active.
            BlockBody {
                transactions: Vec::new(),
                ommers: Vec::new(),
                withdrawals: w.header.withdrawals_root.map(|_| Default::default()),
            }
            .encode(&mut buf);
            chunked::insert(&mut txn.open_table(tables::BODIES)?, &w.hash.0, &buf)?;
            // No transactions: no receipt rows, and an empty senders entry as for any stored
            // block.
            chunked::insert(&mut txn.open_table(tables::SENDERS)?, &w.hash.0, &[])?;
            txn.open_table(tables::BLOCK_NUMBERS)?
                .insert(&w.hash.0, w.header.number)?;
            txn.open_table(tables::CANONICAL)?
                .insert(w.header.number, &w.hash.0)?;
            txn.open_table(tables::META)?
                .insert(tables::META_HEAD, w.hash.as_slice())?;
            // A checkpoint has no transactions: an address index caught up with the old head is
            // caught up with it too.
            if crate::address_index::next_in(&txn)? == head_number + 1 {
                crate::address_index::set_next(&txn, w.header.number + 1)?;
            }

            let mut accounts = txn.open_table(tables::ACCOUNTS)?;
            let mut storage = txn.open_table(tables::STORAGE)?;
            // The revert is dropped: a checkpoint is never unwound.
            state_diff::apply(&mut accounts, &mut storage, w.state, &mut buf)?;
            let mut code = txn.open_table(tables::CODE)?;
            for (hash, bytes) in &w.state.codes {
                code.insert(&hash.0, bytes.as_ref())?;
            }
            drop((accounts, storage, code));
            crate::trie_store::apply_trie_writes(&txn, w.trie)?;
            crate::trie_store::check_trie_root(&txn, w.header.state_root)?;
            record_published(&txn, w.published_codes.iter().copied())?;
        }
        txn.commit()?;
        self.committed();
        self.node_cache().apply_writes(w.trie);
        Ok(())
    }

    /// Record `code_hashes` as published in full by batch `batch` (0 = the genesis). A code
    /// already recorded keeps its first batch, so recording again is harmless.
    pub fn record_published_codes(
        &self,
        batch: u64,
        code_hashes: &[B256],
    ) -> Result<(), StoreError> {
        let txn = self.database().begin_write()?;
        record_published(&txn, code_hashes.iter().map(|hash| (*hash, batch)))?;
        txn.commit()?;
        self.committed();
        Ok(())
    }

    /// The batch that published the code with hash `code_hash` in full (0 = the genesis), if any.
    pub fn published_code(&self, code_hash: &B256) -> Result<Option<u64>, StoreError> {
        let txn = self.database().begin_read()?;
        let table = match txn.open_table(tables::PUBLISHED_CODES) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(&code_hash.0)?.map(|v| v.value()))
    }

    /// Every published code: (code hash, batch), in code-hash order.
    pub fn published_codes(&self) -> Result<Vec<(B256, u64)>, StoreError> {
        let txn = self.database().begin_read()?;
        let table = match txn.open_table(tables::PUBLISHED_CODES) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        table
            .iter()?
            .map(|entry| {
                let (k, v) = entry?;
                Ok((B256::from(*k.value()), v.value()))
            })
            .collect()
    }
}

pub(crate) fn record_published(
    txn: &WriteTransaction,
    codes: impl Iterator<Item = (B256, u64)>,
) -> Result<(), StoreError> {
    let mut table = txn.open_table(tables::PUBLISHED_CODES)?;
    for (hash, batch) in codes {
        if table.get(&hash.0)?.is_none() {
            table.insert(&hash.0, batch)?;
        }
    }
    Ok(())
}

fn read_head(txn: &WriteTransaction) -> Result<Option<B256>, StoreError> {
    let table = txn.open_table(tables::META)?;
    let Some(v) = table.get(tables::META_HEAD)? else {
        return Ok(None);
    };
    B256::try_from(v.value())
        .map(Some)
        .map_err(|_| StoreError::corrupt("meta", format!("head has {} bytes", v.value().len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_codes_keep_their_first_batch() {
        let store = Store::in_memory().expect("store");
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        assert_eq!(store.published_code(&a).expect("read"), None);
        assert!(store.published_codes().expect("read").is_empty());
        store.record_published_codes(0, &[a]).expect("record");
        store.record_published_codes(3, &[a, b]).expect("record");
        assert_eq!(store.published_code(&a).expect("read"), Some(0));
        assert_eq!(store.published_code(&b).expect("read"), Some(3));
        assert_eq!(store.published_codes().expect("read"), vec![(a, 0), (b, 3)]);
    }

    #[test]
    fn a_checkpoint_needs_the_head_it_was_computed_on() {
        let store = Store::in_memory().expect("store");
        let header = Header {
            number: 5,
            ..Default::default()
        };
        let write = CheckpointWrite {
            hash: B256::repeat_byte(5),
            header: &header,
            parent_head: B256::repeat_byte(4),
            state: &StateChanges::default(),
            trie: &Default::default(),
            published_codes: &[(B256::repeat_byte(9), 1)],
        };
        let err = store.write_checkpoint(&write).expect_err("no head");
        assert!(
            matches!(err, CheckpointError::HeadMoved { found: None, .. }),
            "{err}"
        );
        assert_eq!(
            store.published_code(&B256::repeat_byte(9)).expect("read"),
            None
        );
    }
}
