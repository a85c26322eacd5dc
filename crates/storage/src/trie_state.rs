//! State at any stored root, read through the trie instead of the flat tables: for executing a
//! block on a side chain (whose parent is not the head) and for queries of older blocks.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use keel_trie::{Nibbles, NodeStore, Trie, TrieError};

use crate::{StateReader, StoreError, StoreReader, codec::decode};

/// The state under `root`, read from trie nodes (slower than the flat state: every lookup walks
/// the trie from the root).
#[derive(Debug)]
pub struct TrieState<'a> {
    reader: &'a StoreReader,
    root: B256,
}

impl<'a> TrieState<'a> {
    pub fn new(reader: &'a StoreReader, root: B256) -> Self {
        Self { reader, root }
    }

    /// `owner`: `None` for the account trie, else keccak256 of the storage trie's address.
    fn lookup(
        &self,
        owner: Option<B256>,
        root: B256,
        key: B256,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if root == EMPTY_ROOT_HASH {
            return Ok(None);
        }
        let mut trie = match owner {
            None => Trie::new(self.reader, root),
            Some(owner) => Trie::new_storage(self.reader, owner, root),
        };
        trie.get(key.as_slice()).map_err(StoreError::Trie)
    }
}

impl StateReader for TrieState<'_> {
    type Error = StoreError;

    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, StoreError> {
        self.lookup(None, self.root, keccak256(address))?
            .map(|bytes| decode("account leaf", &bytes))
            .transpose()
    }

    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StoreError> {
        let Some(account) = self.account(address)? else {
            return Ok(U256::ZERO);
        };
        Ok(self
            .lookup(
                Some(keccak256(address)),
                account.storage_root,
                keccak256(slot),
            )?
            .map(|bytes| decode::<U256>("storage leaf", &bytes))
            .transpose()?
            .unwrap_or_default())
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StoreError> {
        self.reader.code(code_hash)
    }
}

impl NodeStore for TrieState<'_> {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        self.reader.node(owner, path, hash)
    }
}
