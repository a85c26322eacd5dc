//! The path-keyed trie tables (`ACCOUNT_TRIE`, `STORAGE_TRIE`): applying a block's
//! [`TrieWrites`] to them, and [`NodeLayer`], the same writes held in memory over another
//! [`NodeStore`] (a historical view, a block still being written, a witness re-execution).

use std::collections::{HashMap, HashSet};

use alloy_primitives::{B256, keccak256};
use alloy_trie::EMPTY_ROOT_HASH;
use keel_trie::{Nibbles, NodeStore, TrieError, TrieWrites, check_node};
use redb::{ReadableTable, WriteTransaction};

use crate::{StoreError, codec, tables};

/// Key of a node of the account trie in `ACCOUNT_TRIE`.
pub(crate) fn account_trie_key(path: &Nibbles) -> Vec<u8> {
    path.to_vec()
}

/// Key of a node of storage trie `owner` in `STORAGE_TRIE`.
pub(crate) fn storage_trie_key(owner: &B256, path: &Nibbles) -> Vec<u8> {
    let mut key = Vec::with_capacity(32 + path.len());
    key.extend_from_slice(owner.as_slice());
    key.extend(path.to_vec());
    key
}

/// Apply `writes` in their documented order: wiped owners' tries, then removed paths (a path
/// never stored is a no-op), then nodes.
pub(crate) fn apply_trie_writes(
    txn: &WriteTransaction,
    writes: &TrieWrites,
) -> Result<(), StoreError> {
    let mut account = txn.open_table(tables::ACCOUNT_TRIE)?;
    let mut storage = txn.open_table(tables::STORAGE_TRIE)?;
    for owner in &writes.wiped {
        let start = owner.to_vec();
        let mut end = start.clone();
        end.push(0x10);
        let keys: Vec<Vec<u8>> = storage
            .range::<&[u8]>(start.as_slice()..end.as_slice())?
            .map(|e| e.map(|(k, _)| k.value().to_vec()))
            .collect::<Result<_, _>>()?;
        for key in keys {
            storage.remove(key.as_slice())?;
        }
    }
    for path in &writes.account.removed {
        account.remove(account_trie_key(path).as_slice())?;
    }
    for (path, _, rlp) in &writes.account.nodes {
        account.insert(
            account_trie_key(path).as_slice(),
            &*codec::encode_trie_node(rlp),
        )?;
    }
    for (owner, diff) in &writes.storage {
        for path in &diff.removed {
            storage.remove(storage_trie_key(owner, path).as_slice())?;
        }
        for (path, _, rlp) in &diff.nodes {
            storage.insert(storage_trie_key(owner, path).as_slice(), rlp.as_slice())?;
        }
    }
    Ok(())
}

/// Refuse to commit a write whose account trie root is not `expected` (the new head's header):
/// a wrong or missing trie write must abort the block, not corrupt the head.
pub(crate) fn check_trie_root(txn: &WriteTransaction, expected: B256) -> Result<(), StoreError> {
    let table = txn.open_table(tables::ACCOUNT_TRIE)?;
    let found = table.get([].as_slice())?.map_or(EMPTY_ROOT_HASH, |v| {
        keccak256(codec::decode_trie_node(v.value()))
    });
    if found != expected {
        return Err(StoreError::TrieRoot { expected, found });
    }
    Ok(())
}

/// Trie writes held in memory over a base [`NodeStore`]: a path the layer wrote reads its node, a
/// path it removed or of a wiped trie reads nothing, any other path reads the base. Every node is
/// checked against the hash its parent references.
#[derive(Debug, Default, Clone)]
pub struct NodeLayer {
    nodes: HashMap<(Option<B256>, Nibbles), Option<Vec<u8>>>,
    wiped: HashSet<B256>,
}

impl NodeLayer {
    /// A layer of `writes` alone.
    pub fn new(writes: &TrieWrites) -> Self {
        let mut layer = Self::default();
        layer.apply(writes);
        layer
    }

    /// Lay `writes` (made on top of this layer) over it.
    pub fn apply(&mut self, writes: &TrieWrites) {
        for owner in &writes.wiped {
            self.wiped.insert(*owner);
            self.nodes.retain(|(o, _), _| *o != Some(*owner));
        }
        let diffs = std::iter::once((None, &writes.account))
            .chain(writes.storage.iter().map(|(o, d)| (Some(*o), d)));
        for (owner, diff) in diffs {
            for path in &diff.removed {
                self.nodes.insert((owner, *path), None);
            }
            for (path, _, rlp) in &diff.nodes {
                self.nodes.insert((owner, *path), Some(rlp.clone()));
            }
        }
    }

    /// `Some(node or None)` if the layer decides the path, `None` if the base does.
    pub fn get(&self, owner: Option<&B256>, path: &Nibbles) -> Option<Option<&[u8]>> {
        if let Some(entry) = self.nodes.get(&(owner.copied(), *path)) {
            return Some(entry.as_deref());
        }
        match owner {
            Some(owner) if self.wiped.contains(owner) => Some(None),
            _ => None,
        }
    }

    /// The node at `(owner, path)` through this layer, else from `base`.
    pub fn node_over<S: NodeStore + ?Sized>(
        &self,
        base: &S,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        match self.get(owner, path) {
            Some(Some(rlp)) => check_node(owner, path, hash, rlp.to_vec()).map(Some),
            Some(None) => Ok(None),
            None => base.node(owner, path, hash),
        }
    }
}
