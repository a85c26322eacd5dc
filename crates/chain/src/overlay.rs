//! The state after a block that is executed but still being written: the store's snapshot with
//! that block's changes laid over it. Lets the importer execute block N+1 while block N commits.

use std::collections::{HashMap, HashSet};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_trie::TrieAccount;
use keel_storage::{ChainReader, NodeLayer, StateReader, StoreError, StoreReader, StoredReceipt};
use keel_trie::{Nibbles, NodeStore, TrieError};
use keel_types::{BlockBody, Header, Receipt};

use crate::ExecutedBlock;

/// `base` (a snapshot taken before or after `pending` was written: both read the same through
/// the overlay) plus the changes of `pending`, which becomes the head.
pub struct PendingOverlay<'a> {
    base: &'a StoreReader,
    pending: &'a ExecutedBlock,
    accounts: HashMap<Address, Option<&'a TrieAccount>>,
    storage: HashMap<(Address, B256), U256>,
    /// Accounts whose storage the block cleared (wiped or deleted): slots it didn't set are zero.
    cleared: HashSet<Address>,
    codes: HashMap<B256, &'a Bytes>,
    /// The block's trie writes by path, over the base's.
    nodes: NodeLayer,
}

impl<'a> PendingOverlay<'a> {
    pub fn new(base: &'a StoreReader, pending: &'a ExecutedBlock) -> Self {
        let changes = &pending.update.changes;
        let mut cleared: HashSet<Address> = changes.wiped_storage.iter().copied().collect();
        cleared.extend(
            changes
                .accounts
                .iter()
                .filter(|(_, a)| a.is_none())
                .map(|(a, _)| *a),
        );
        Self {
            base,
            pending,
            accounts: changes
                .accounts
                .iter()
                .map(|(a, acc)| (*a, acc.as_ref()))
                .collect(),
            storage: changes
                .storage
                .iter()
                .map(|&(a, slot, v)| ((a, slot), v))
                .collect(),
            cleared,
            codes: changes.codes.iter().map(|(h, c)| (*h, c)).collect(),
            nodes: NodeLayer::new(&pending.update.trie),
        }
    }

    fn is_pending(&self, hash: &B256) -> bool {
        *hash == self.pending.hash
    }
}

impl StateReader for PendingOverlay<'_> {
    type Error = StoreError;

    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, StoreError> {
        match self.accounts.get(address) {
            Some(account) => Ok(account.cloned()),
            None => self.base.account(address),
        }
    }

    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StoreError> {
        if let Some(value) = self.storage.get(&(*address, *slot)) {
            return Ok(*value);
        }
        if self.cleared.contains(address) {
            return Ok(U256::ZERO);
        }
        self.base.storage(address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StoreError> {
        match self.codes.get(code_hash) {
            Some(code) => Ok(Some((*code).clone())),
            None => self.base.code(code_hash),
        }
    }
}

/// The block's trie writes by path (paths it removed read nothing, even on a base taken before
/// it was written), then the base.
impl NodeStore for PendingOverlay<'_> {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        self.nodes.node_over(self.base, owner, path, hash)
    }
}

impl ChainReader for PendingOverlay<'_> {
    type Error = StoreError;

    fn header(&self, hash: &B256) -> Result<Option<Header>, StoreError> {
        if self.is_pending(hash) {
            return Ok(Some(self.pending.block.header.clone()));
        }
        self.base.header(hash)
    }

    fn body(&self, hash: &B256) -> Result<Option<BlockBody>, StoreError> {
        if self.is_pending(hash) {
            return Ok(Some(self.pending.block.body.clone()));
        }
        self.base.body(hash)
    }

    fn receipts(&self, hash: &B256) -> Result<Option<Vec<Receipt>>, StoreError> {
        if self.is_pending(hash) {
            return Ok(Some(self.pending.receipts.clone()));
        }
        self.base.receipts(hash)
    }

    fn receipt(&self, hash: &B256, index: u64) -> Result<Option<StoredReceipt>, StoreError> {
        if self.is_pending(hash) {
            return Ok(usize::try_from(index)
                .ok()
                .and_then(|i| StoredReceipt::at(&self.pending.receipts, i)));
        }
        self.base.receipt(hash, index)
    }

    fn senders(&self, hash: &B256) -> Result<Option<Vec<Address>>, StoreError> {
        if self.is_pending(hash) {
            return Ok(Some(self.pending.senders.clone()));
        }
        self.base.senders(hash)
    }

    fn canonical_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        if number == self.pending.block.header.number {
            return Ok(Some(self.pending.hash));
        }
        self.base.canonical_hash(number)
    }

    fn block_number(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        if self.is_pending(hash) {
            return Ok(Some(self.pending.block.header.number));
        }
        self.base.block_number(hash)
    }

    fn tx_location(&self, tx_hash: &B256) -> Result<Option<(B256, u64)>, StoreError> {
        let txs = &self.pending.block.body.transactions;
        if let Some(i) = txs.iter().position(|tx| tx.tx_hash() == tx_hash) {
            return Ok(Some((self.pending.hash, i as u64)));
        }
        self.base.tx_location(tx_hash)
    }

    fn head_hash(&self) -> Result<Option<B256>, StoreError> {
        Ok(Some(self.pending.hash))
    }

    fn genesis_hash(&self) -> Result<Option<B256>, StoreError> {
        self.base.genesis_hash()
    }
}
