//! Rollup tables (docs/architecture.md, Rollup tables). For now those of the L1 → L2 path:
//!
//! - the **L1Watcher's cursor**: the last L1 block whose privileged transactions are all stored;
//! - the **privileged transactions seen**, by bridge transaction id (their nonce) → EIP-2718
//!   encoding, stored consecutively from id 0, and the last id stored;
//! - the **included marker**: the highest id that is in an L2 block. The block producer advances
//!   it; the ids above it are *pending*: the watcher hands them (again) to the mempool at start.
//!
//! The watcher writes the new transactions and its cursor in **one** write transaction
//! ([`Store::record_privileged_txs`]), so after a crash it resumes from a cursor that matches
//! exactly what is stored: no deposit lost, none seen twice. Ids must follow the last stored id
//! without a gap, which the write checks.
//!
//! The tables are created when the store is opened, under its schema version.

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use crate::{Store, StoreError};
use keel_types::PrivilegedTx;

/// Named `u64` values of the rollup components (cursors and markers).
const ROLLUP_META: TableDefinition<&str, u64> = TableDefinition::new("rollup_meta");
/// Privileged tx id (its nonce) → `0x7e ‖ rlp(tx)`.
const PRIVILEGED_TXS: TableDefinition<u64, &[u8]> = TableDefinition::new("privileged_txs");

const L1_WATCHER_CURSOR: &str = "l1_watcher.cursor";
const PRIVILEGED_LAST_ID: &str = "privileged.last_id";
const PRIVILEGED_INCLUDED: &str = "privileged.included_up_to";

/// What the L1Watcher has done so far, read in one snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L1WatcherProgress {
    /// The last L1 block whose privileged txs are all stored; `None` before the first scan.
    pub l1_cursor: Option<u64>,
    /// The highest privileged tx id stored (all ids from 0 to it are); `None` if none.
    pub last_privileged_id: Option<u64>,
    /// The highest id included in an L2 block; `None` if none.
    pub included_up_to: Option<u64>,
}

impl L1WatcherProgress {
    /// The id the next privileged tx must have.
    pub fn next_privileged_id(&self) -> u64 {
        self.last_privileged_id.map_or(0, |id| id + 1)
    }
}

/// Why a rollup-table write was refused (nothing is written then).
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    /// Reading or writing the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Privileged txs must be stored in id order with no gap and none twice.
    #[error("privileged tx {got} is not the next one: expected id {expected}")]
    NotConsecutive {
        /// The id that should come next.
        expected: u64,
        /// The id given.
        got: u64,
    },
    /// The watcher's cursor only moves forward.
    #[error("the L1 watcher cursor can't move back from block {current} to {new}")]
    CursorBackwards {
        /// The stored cursor.
        current: u64,
        /// The cursor given.
        new: u64,
    },
    /// Only stored privileged txs can be marked included, and the marker only moves forward.
    #[error(
        "privileged txs can't be marked included up to {id}: stored up to {last:?}, included up \
         to {included:?}"
    )]
    BadIncluded {
        /// The id given.
        id: u64,
        /// The last stored id.
        last: Option<u64>,
        /// The current marker.
        included: Option<u64>,
    },
}

crate::error::store_error_from_redb!(RollupError);

/// A table of a read transaction, `None` if it does not exist. (The store creates the rollup
/// tables at open; this keeps reads total for the batches and rollup modules alike.)
pub(crate) fn open_read<K: redb::Key + 'static, V: redb::Value + 'static>(
    txn: &ReadTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<redb::ReadOnlyTable<K, V>>, StoreError> {
    match txn.open_table(def) {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn decode_tx(id: u64, bytes: &[u8]) -> Result<PrivilegedTx, StoreError> {
    let tx =
        PrivilegedTx::decode_2718(bytes).map_err(|e| StoreError::corrupt("privileged tx", e))?;
    if tx.nonce != id {
        return Err(StoreError::corrupt(
            "privileged tx",
            format!("stored under id {id} but has nonce {}", tx.nonce),
        ));
    }
    Ok(tx)
}

fn progress_in(
    meta: Option<&impl ReadableTable<&'static str, u64>>,
) -> Result<L1WatcherProgress, StoreError> {
    let Some(meta) = meta else {
        return Ok(L1WatcherProgress::default());
    };
    let get =
        |key: &str| -> Result<Option<u64>, StoreError> { Ok(meta.get(key)?.map(|v| v.value())) };
    Ok(L1WatcherProgress {
        l1_cursor: get(L1_WATCHER_CURSOR)?,
        last_privileged_id: get(PRIVILEGED_LAST_ID)?,
        included_up_to: get(PRIVILEGED_INCLUDED)?,
    })
}

/// Creates the tables (at [`Store`] open, under the schema version).
pub(crate) fn create_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(ROLLUP_META)?;
    txn.open_table(PRIVILEGED_TXS)?;
    Ok(())
}

impl Store {
    /// The L1Watcher's cursor, last stored privileged id and included marker (one snapshot).
    pub fn l1_watcher_progress(&self) -> Result<L1WatcherProgress, StoreError> {
        let txn = self.database().begin_read()?;
        let meta = open_read(&txn, ROLLUP_META)?;
        progress_in(meta.as_ref())
    }

    /// Stores `txs` (ids consecutive from the last stored id + 1) and, if given, moves the
    /// watcher's cursor to `l1_cursor` (never backwards), in **one** write transaction. Refused
    /// as a whole if an id is out of order.
    pub fn record_privileged_txs(
        &self,
        txs: &[PrivilegedTx],
        l1_cursor: Option<u64>,
    ) -> Result<(), RollupError> {
        let txn = self.database().begin_write()?;
        {
            let mut meta = txn.open_table(ROLLUP_META)?;
            let progress = progress_in(Some(&meta))?;
            if let (Some(current), Some(new)) = (progress.l1_cursor, l1_cursor)
                && new < current
            {
                return Err(RollupError::CursorBackwards { current, new });
            }
            let mut table = txn.open_table(PRIVILEGED_TXS)?;
            for (expected, tx) in (progress.next_privileged_id()..).zip(txs) {
                if tx.nonce != expected {
                    return Err(RollupError::NotConsecutive {
                        expected,
                        got: tx.nonce,
                    });
                }
                table.insert(tx.nonce, tx.encoded_2718().as_slice())?;
            }
            if let Some(last) = txs.last() {
                meta.insert(PRIVILEGED_LAST_ID, last.nonce)?;
            }
            if let Some(cursor) = l1_cursor {
                meta.insert(L1_WATCHER_CURSOR, cursor)?;
            }
        }
        txn.commit()?;
        self.committed();
        Ok(())
    }

    /// The stored privileged tx with id `id`.
    pub fn privileged_tx(&self, id: u64) -> Result<Option<PrivilegedTx>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, PRIVILEGED_TXS)? else {
            return Ok(None);
        };
        table.get(id)?.map(|v| decode_tx(id, v.value())).transpose()
    }

    /// Up to `limit` stored privileged txs from id `first_id` on, in id order.
    pub fn privileged_txs_from(
        &self,
        first_id: u64,
        limit: usize,
    ) -> Result<Vec<PrivilegedTx>, StoreError> {
        let txn = self.database().begin_read()?;
        let Some(table) = open_read(&txn, PRIVILEGED_TXS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.range(first_id..)?.take(limit) {
            let (k, v) = entry?;
            out.push(decode_tx(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// The stored privileged txs not yet included in an L2 block (ids above the included
    /// marker), in id order.
    pub fn pending_privileged_txs(&self) -> Result<Vec<PrivilegedTx>, StoreError> {
        let first = self
            .l1_watcher_progress()?
            .included_up_to
            .map_or(0, |id| id + 1);
        self.privileged_txs_from(first, usize::MAX)
    }

    /// Marks every privileged tx up to `id` as included in an L2 block (the block producer calls
    /// this). `id` must be stored and not below the current marker.
    pub fn set_privileged_included_up_to(&self, id: u64) -> Result<(), RollupError> {
        let txn = self.database().begin_write()?;
        {
            let mut meta = txn.open_table(ROLLUP_META)?;
            let progress = progress_in(Some(&meta))?;
            let stored = progress.last_privileged_id.is_some_and(|last| id <= last);
            let forward = progress.included_up_to.is_none_or(|inc| id >= inc);
            if !stored || !forward {
                return Err(RollupError::BadIncluded {
                    id,
                    last: progress.last_privileged_id,
                    included: progress.included_up_to,
                });
            }
            meta.insert(PRIVILEGED_INCLUDED, id)?;
        }
        txn.commit()?;
        self.committed();
        Ok(())
    }

    /// Forgets the L1Watcher's cursor so it scans its (new) L1 from the start block again. Only
    /// allowed while no privileged tx was ever stored: with deposits of an earlier L1 in the chain,
    /// a fresh L1's ids would collide with them. Returns whether it was allowed.
    pub fn reset_l1_watcher_cursor(&self) -> Result<bool, StoreError> {
        let txn = self.database().begin_write()?;
        {
            let mut meta = txn.open_table(ROLLUP_META)?;
            if progress_in(Some(&meta))?.last_privileged_id.is_some() {
                return Ok(false);
            }
            meta.remove(L1_WATCHER_CURSOR)?;
        }
        txn.commit()?;
        self.committed();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, Bytes, U256};

    fn tx(id: u64) -> PrivilegedTx {
        PrivilegedTx {
            chain_id: 1_729_001,
            nonce: id,
            from: Address::with_last_byte(0xff),
            to: Address::with_last_byte(id as u8),
            value: U256::from(id * 1000),
            gas_limit: 200_000,
            data: Bytes::from(vec![id as u8; 3]),
        }
    }

    #[test]
    fn empty_store_has_no_progress() {
        let store = Store::in_memory().expect("store");
        let p = store.l1_watcher_progress().expect("progress");
        assert_eq!(p, L1WatcherProgress::default());
        assert_eq!(p.next_privileged_id(), 0);
        assert_eq!(store.privileged_tx(0).expect("read"), None);
        assert!(store.pending_privileged_txs().expect("pending").is_empty());
    }

    #[test]
    fn txs_and_cursor_are_stored_together() {
        let store = Store::in_memory().expect("store");
        store
            .record_privileged_txs(&[tx(0), tx(1), tx(2)], Some(10))
            .expect("record");
        let p = store.l1_watcher_progress().expect("progress");
        assert_eq!(p.l1_cursor, Some(10));
        assert_eq!(p.last_privileged_id, Some(2));
        assert_eq!(p.next_privileged_id(), 3);
        assert_eq!(store.privileged_tx(1).expect("read"), Some(tx(1)));
        assert_eq!(
            store.privileged_txs_from(1, 10).expect("range"),
            vec![tx(1), tx(2)]
        );
        assert_eq!(store.privileged_txs_from(0, 1).expect("range"), vec![tx(0)]);

        // A cursor-only write (a range without deposits).
        store.record_privileged_txs(&[], Some(20)).expect("cursor");
        let p = store.l1_watcher_progress().expect("progress");
        assert_eq!((p.l1_cursor, p.last_privileged_id), (Some(20), Some(2)));
        // Txs without moving the cursor.
        store.record_privileged_txs(&[tx(3)], None).expect("txs");
        let p = store.l1_watcher_progress().expect("progress");
        assert_eq!((p.l1_cursor, p.last_privileged_id), (Some(20), Some(3)));
    }

    #[test]
    fn gaps_duplicates_and_a_backward_cursor_write_nothing() {
        let store = Store::in_memory().expect("store");
        assert!(matches!(
            store.record_privileged_txs(&[tx(1)], Some(5)),
            Err(RollupError::NotConsecutive {
                expected: 0,
                got: 1
            })
        ));
        store
            .record_privileged_txs(&[tx(0), tx(1)], Some(5))
            .expect("record");
        // A duplicate, and a batch whose second tx skips an id: refused whole.
        assert!(matches!(
            store.record_privileged_txs(&[tx(1)], Some(6)),
            Err(RollupError::NotConsecutive {
                expected: 2,
                got: 1
            })
        ));
        assert!(matches!(
            store.record_privileged_txs(&[tx(2), tx(4)], Some(6)),
            Err(RollupError::NotConsecutive {
                expected: 3,
                got: 4
            })
        ));
        assert!(matches!(
            store.record_privileged_txs(&[tx(2)], Some(4)),
            Err(RollupError::CursorBackwards { current: 5, new: 4 })
        ));
        let p = store.l1_watcher_progress().expect("progress");
        assert_eq!((p.l1_cursor, p.last_privileged_id), (Some(5), Some(1)));
        assert_eq!(store.privileged_tx(2).expect("read"), None);
    }

    #[test]
    fn included_marker_selects_the_pending_txs() {
        let store = Store::in_memory().expect("store");
        assert!(matches!(
            store.set_privileged_included_up_to(0),
            Err(RollupError::BadIncluded { .. })
        ));
        let txs: Vec<_> = (0..5).map(tx).collect();
        store.record_privileged_txs(&txs, Some(3)).expect("record");
        assert_eq!(store.pending_privileged_txs().expect("pending"), txs);
        store.set_privileged_included_up_to(1).expect("mark");
        assert_eq!(
            store.pending_privileged_txs().expect("pending"),
            txs[2..].to_vec()
        );
        assert_eq!(
            store
                .l1_watcher_progress()
                .expect("progress")
                .included_up_to,
            Some(1)
        );
        // Not past the stored txs, not backwards.
        assert!(store.set_privileged_included_up_to(5).is_err());
        assert!(store.set_privileged_included_up_to(0).is_err());
        store.set_privileged_included_up_to(4).expect("mark all");
        assert!(store.pending_privileged_txs().expect("pending").is_empty());
    }

    #[test]
    fn progress_survives_reopening_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keel.redb");
        {
            let store = Store::open(&path).expect("open");
            store
                .record_privileged_txs(&[tx(0), tx(1)], Some(42))
                .expect("record");
            store.set_privileged_included_up_to(0).expect("mark");
        }
        let store = Store::open(&path).expect("reopen");
        let p = store.l1_watcher_progress().expect("progress");
        assert_eq!(
            p,
            L1WatcherProgress {
                l1_cursor: Some(42),
                last_privileged_id: Some(1),
                included_up_to: Some(0),
            }
        );
        assert_eq!(
            store.pending_privileged_txs().expect("pending"),
            vec![tx(1)]
        );
    }

    #[test]
    fn the_cursor_resets_only_without_privileged_txs() {
        let store = Store::in_memory().expect("store");
        store.record_privileged_txs(&[], Some(30)).expect("cursor");
        assert!(store.reset_l1_watcher_cursor().expect("reset"));
        assert_eq!(store.l1_watcher_progress().expect("read").l1_cursor, None);
        store
            .record_privileged_txs(&[tx(0)], Some(40))
            .expect("a deposit");
        assert!(!store.reset_l1_watcher_cursor().expect("refused"));
        assert_eq!(
            store.l1_watcher_progress().expect("read").l1_cursor,
            Some(40)
        );
    }
}
