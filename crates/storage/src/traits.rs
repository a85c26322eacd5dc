//! The read side of the store as traits, so execution and RPC can run over the database, over an
//! overlay of uncommitted changes, or (in the prover) over a witness.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_trie::TrieAccount;

use crate::StoreError;
use keel_types::{BlockBody, Header, Receipt};

/// Blocks, receipts and the canonical chain.
pub trait ChainReader {
    fn header(&self, hash: &B256) -> Result<Option<Header>, StoreError>;
    fn body(&self, hash: &B256) -> Result<Option<BlockBody>, StoreError>;
    fn receipts(&self, hash: &B256) -> Result<Option<Vec<Receipt>>, StoreError>;
    fn canonical_hash(&self, number: u64) -> Result<Option<B256>, StoreError>;
    fn block_number(&self, hash: &B256) -> Result<Option<u64>, StoreError>;
    /// (block hash, index) of a transaction in the canonical chain.
    fn tx_location(&self, tx_hash: &B256) -> Result<Option<(B256, u64)>, StoreError>;
    /// Hash of the head block, `None` before genesis is written.
    fn head_hash(&self) -> Result<Option<B256>, StoreError>;
    fn genesis_hash(&self) -> Result<Option<B256>, StoreError>;

    /// Head header with its hash.
    fn head(&self) -> Result<Option<(B256, Header)>, StoreError> {
        let Some(hash) = self.head_hash()? else {
            return Ok(None);
        };
        let header = self
            .header(&hash)?
            .ok_or_else(|| StoreError::corrupt("head", format!("header {hash} missing")))?;
        Ok(Some((hash, header)))
    }
}

/// The head state, flat: one lookup per account or slot.
pub trait StateReader {
    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, StoreError>;
    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StoreError>;
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StoreError>;
}
