//! Where L2 blocks stand on L1 (docs/rpc.md, Block tags): the block tags `safe` (the last block of
//! the newest batch committed on L1 with the committer's confirmations) and `finalized` (the last
//! block of the newest batch whose proof L1 verified, in an L1 block L1 reports as finalized).
//!
//! The `SettlementTracker` (keel-sequencer) reads both from the OnChainProposer and records them
//! here, each with the L1 block it read it at, so that a later, lower reading can be told apart:
//! an L1 reorg (that block is gone from L1) moves a tag back, a lagging L1 node does not. The RPC
//! reads them from its snapshot ([`crate::StoreReader::settlement`]); they survive a restart.
//!
//! The table is created at store open; a datadir written before it reads as "no tag yet".

use alloy_primitives::B256;
use alloy_rlp::{RlpDecodable, RlpEncodable};
use redb::{ReadTransaction, ReadableDatabase, TableDefinition};

use crate::{Store, StoreError, StoreReader, rollup::open_read};

/// `"safe"` / `"finalized"` → `version ‖ rlp(SettledBlock)`.
const SETTLEMENT: TableDefinition<&str, &[u8]> = TableDefinition::new("settlement");

const SAFE: &str = "safe";
const FINALIZED: &str = "finalized";

/// The version byte every record starts with.
const SETTLEMENT_ENCODING_VERSION: u8 = 1;

/// Which settlement tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettlementTag {
    /// Committed on L1 with the committer's confirmations.
    Safe,
    /// Verified on L1 in an L1 block that L1 reports as finalized.
    Finalized,
}

impl SettlementTag {
    fn key(self) -> &'static str {
        match self {
            Self::Safe => SAFE,
            Self::Finalized => FINALIZED,
        }
    }

    /// `safe` or `finalized`.
    pub fn name(self) -> &'static str {
        self.key()
    }
}

/// Where a tag stands: the batch, its last L2 block, and the L1 block whose state said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct SettledBlock {
    /// The batch (≥ 1).
    pub batch: u64,
    /// Its last L2 block: the block the tag names.
    pub block: u64,
    /// The L1 block at which the OnChainProposer first reported this batch.
    pub l1_block: u64,
    /// That L1 block's hash (gone from L1 after a reorg).
    pub l1_hash: B256,
}

/// Both tags; `None` before the first commit (`safe`) or verification (`finalized`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settlement {
    /// The `safe` tag.
    pub safe: Option<SettledBlock>,
    /// The `finalized` tag.
    pub finalized: Option<SettledBlock>,
}

impl Settlement {
    /// The tag `tag`.
    pub fn get(&self, tag: SettlementTag) -> Option<SettledBlock> {
        match tag {
            SettlementTag::Safe => self.safe,
            SettlementTag::Finalized => self.finalized,
        }
    }
}

/// Creates the table (at [`Store`] open).
pub(crate) fn create_tables(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(SETTLEMENT)?;
    Ok(())
}

fn decode(bytes: &[u8]) -> Result<SettledBlock, StoreError> {
    match bytes.split_first() {
        Some((&SETTLEMENT_ENCODING_VERSION, rest)) => {
            alloy_rlp::decode_exact(rest).map_err(|e| StoreError::corrupt("settlement", e))
        }
        Some((version, _)) => Err(StoreError::corrupt(
            "settlement",
            format!("record version {version}, this keel reads {SETTLEMENT_ENCODING_VERSION}"),
        )),
        None => Err(StoreError::corrupt("settlement", "empty record")),
    }
}

fn settlement_in(txn: &ReadTransaction) -> Result<Settlement, StoreError> {
    let Some(table) = open_read(txn, SETTLEMENT)? else {
        return Ok(Settlement::default());
    };
    let get = |key: &str| -> Result<Option<SettledBlock>, StoreError> {
        table.get(key)?.map(|v| decode(v.value())).transpose()
    };
    Ok(Settlement {
        safe: get(SAFE)?,
        finalized: get(FINALIZED)?,
    })
}

impl Store {
    /// Both tags as stored.
    pub fn settlement(&self) -> Result<Settlement, StoreError> {
        let txn = self.database().begin_read()?;
        settlement_in(&txn)
    }

    /// Records `tag` (`None`: no such block, e.g. after an L1 reorg dropped the only commit).
    /// The caller (the SettlementTracker) decides whether a move is allowed.
    pub fn set_settlement(
        &self,
        tag: SettlementTag,
        value: Option<&SettledBlock>,
    ) -> Result<(), StoreError> {
        let txn = self.database().begin_write()?;
        {
            let mut table = txn.open_table(SETTLEMENT)?;
            match value {
                Some(v) => {
                    let mut out = vec![SETTLEMENT_ENCODING_VERSION];
                    alloy_rlp::Encodable::encode(v, &mut out);
                    table.insert(tag.key(), out.as_slice())?;
                }
                None => {
                    table.remove(tag.key())?;
                }
            }
        }
        txn.commit()?;
        self.committed();
        Ok(())
    }
}

impl StoreReader {
    /// Both tags as of this snapshot.
    pub fn settlement(&self) -> Result<Settlement, StoreError> {
        settlement_in(self.read_txn())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stored_read_from_snapshots_and_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keel.redb");
        let safe = SettledBlock {
            batch: 2,
            block: 40,
            l1_block: 100,
            l1_hash: B256::repeat_byte(1),
        };
        let finalized = SettledBlock {
            batch: 1,
            block: 20,
            l1_block: 90,
            l1_hash: B256::repeat_byte(2),
        };
        {
            let store = Store::open(&path).expect("open");
            assert_eq!(store.settlement().expect("read"), Settlement::default());
            let before = store.snapshot().expect("snapshot");
            store
                .set_settlement(SettlementTag::Safe, Some(&safe))
                .expect("write");
            store
                .set_settlement(SettlementTag::Finalized, Some(&finalized))
                .expect("write");
            // An older snapshot keeps what it saw; a new one sees the tags.
            assert_eq!(before.settlement().expect("read"), Settlement::default());
            let now = store
                .snapshot()
                .expect("snapshot")
                .settlement()
                .expect("read");
            assert_eq!(now.get(SettlementTag::Safe), Some(safe));
            assert_eq!(now.get(SettlementTag::Finalized), Some(finalized));
        }
        let store = Store::open(&path).expect("reopen");
        let reopened = store.settlement().expect("read");
        assert_eq!(
            reopened,
            Settlement {
                safe: Some(safe),
                finalized: Some(finalized)
            }
        );
        store
            .set_settlement(SettlementTag::Finalized, None)
            .expect("clear");
        assert_eq!(store.settlement().expect("read").finalized, None);
        assert_eq!(store.settlement().expect("read").safe, Some(safe));
        assert!(decode(&[9, 0]).is_err());
        assert!(decode(&[]).is_err());
    }
}
