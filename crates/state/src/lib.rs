//! keel-state: the read side of keel's chain and state as traits, with a storage-neutral error, so
//! that execution can run over the database, over an overlay of uncommitted changes, or (in the
//! prover) over a witness, without depending on the database. Owns no data and does no I/O.
//!
//! Each implementation names its own error type ([`StateReader::Error`], [`ChainReader::Error`]):
//! the redb store its `StoreError`, a witness its own. The one requirement is `From<StateError>`,
//! so the provided methods can report what they find inconsistent.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_trie::TrieAccount;
use keel_types::{BlockBody, Header, Receipt};

/// What a reader found inconsistent, whatever it reads from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// An entry the chain refers to is missing or does not decode.
    #[error("corrupt {what} entry: {reason}")]
    Corrupt {
        /// What kind of entry.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl StateError {
    /// A missing or undecodable `what`.
    pub fn corrupt(what: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what,
            reason: reason.to_string(),
        }
    }
}

/// Blocks, receipts and the canonical chain.
pub trait ChainReader {
    /// Why a read failed.
    type Error: From<StateError>;

    fn header(&self, hash: &B256) -> Result<Option<Header>, Self::Error>;
    fn body(&self, hash: &B256) -> Result<Option<BlockBody>, Self::Error>;
    /// Every receipt of block `hash`, in order; `None` for an unknown block.
    fn receipts(&self, hash: &B256) -> Result<Option<Vec<Receipt>>, Self::Error>;
    fn canonical_hash(&self, number: u64) -> Result<Option<B256>, Self::Error>;
    fn block_number(&self, hash: &B256) -> Result<Option<u64>, Self::Error>;
    /// (block hash, index) of a transaction in the canonical chain.
    fn tx_location(&self, tx_hash: &B256) -> Result<Option<(B256, u64)>, Self::Error>;
    /// Hash of the head block, `None` before genesis is written.
    fn head_hash(&self) -> Result<Option<B256>, Self::Error>;
    fn genesis_hash(&self) -> Result<Option<B256>, Self::Error>;

    /// The receipt of transaction `index` of block `hash`, with what a receipt alone lacks (its
    /// own gas and first log index), or `None` if there is no such block or transaction. The
    /// default derives it from [`ChainReader::receipts`]; the store reads one row instead.
    fn receipt(&self, hash: &B256, index: u64) -> Result<Option<StoredReceipt>, Self::Error> {
        let Some(receipts) = self.receipts(hash)? else {
            return Ok(None);
        };
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| StoredReceipt::at(&receipts, i)))
    }

    /// The sender of each transaction of block `hash`, in order, as recovered when the block was
    /// stored. `None` for an unknown block, and by default: a reader that keeps no senders (a
    /// witness) has none to give, and recovering them here would hide that cost from callers.
    fn senders(&self, _hash: &B256) -> Result<Option<Vec<Address>>, Self::Error> {
        Ok(None)
    }

    /// Head header with its hash.
    fn head(&self) -> Result<Option<(B256, Header)>, Self::Error> {
        let Some(hash) = self.head_hash()? else {
            return Ok(None);
        };
        let header = self
            .header(&hash)?
            .ok_or_else(|| StateError::corrupt("head", format!("header {hash} missing")))?;
        Ok(Some((hash, header)))
    }
}

/// One transaction's receipt with its place in the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    pub receipt: Receipt,
    /// Gas used by this transaction alone (its cumulative gas minus the previous one's).
    pub gas_used: u64,
    /// Block-wide index of the receipt's first log.
    pub first_log_index: u64,
}

impl StoredReceipt {
    /// Receipt `i` of a block's `receipts` (`None` past the end), computed as the RPC always
    /// has: gas from the difference of cumulative gas, log index from the earlier logs.
    pub fn at(receipts: &[Receipt], i: usize) -> Option<Self> {
        let receipt = receipts.get(i)?.clone();
        let earlier = &receipts[..i];
        let cumulative_before = earlier.last().map_or(0, |r| r.cumulative_gas_used());
        Some(Self {
            gas_used: receipt
                .cumulative_gas_used()
                .saturating_sub(cumulative_before),
            first_log_index: earlier.iter().map(|r| r.logs().len() as u64).sum(),
            receipt,
        })
    }
}

/// The state, flat: one lookup per account or slot.
pub trait StateReader {
    /// Why a read failed.
    type Error: From<StateError>;

    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, Self::Error>;
    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, Self::Error>;
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, Self::Error>;
}

/// How the state changed in one block, as final values per key.
///
/// Applied in this order: clear the storage of `wiped_storage` and of deleted accounts, write
/// `accounts`, write `storage`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StateChanges {
    /// New account records; `None` deletes the account (and its storage).
    pub accounts: Vec<(Address, Option<TrieAccount>)>,
    /// Accounts whose whole storage was cleared before `storage` is applied (self-destructed and
    /// re-created in the same block).
    pub wiped_storage: Vec<Address>,
    /// Final slot values; zero deletes the slot.
    pub storage: Vec<(Address, B256, U256)>,
    /// New bytecode by hash. Code is content-addressed and never removed, so diffs read back from
    /// the store carry none.
    pub codes: Vec<(B256, Bytes)>,
}
