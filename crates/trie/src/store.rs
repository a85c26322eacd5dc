//! Node storage abstraction. The trie never does I/O itself: every node it
//! needs beyond what is already in memory comes through [`NodeStore`].

use std::{collections::HashMap, sync::Arc};

use alloy_primitives::{B256, keccak256};
use alloy_trie::Nibbles;

use crate::{StaleNode, TrieError};

/// Node storage. Every load names the node three ways: the trie it belongs
/// to (`owner`: `None` for the account trie, `Some(keccak256(address))` for
/// a storage trie), its nibble path from that trie's root (`[]` for the
/// root), and the keccak256 of its RLP, as referenced by its parent.
///
/// Content-addressed stores look nodes up by `hash` and ignore the rest.
/// Path-addressed stores look them up by `(owner, path)` and must check that
/// the RLP hashes to `hash`, returning [`TrieError::StaleNode`] otherwise
/// (see [`check_node`]): a stale path then fails loudly instead of yielding
/// a wrong root.
///
/// The trie itself does not re-hash what it loads (that is the hot path of
/// block import). Untrusted node sets (e.g. a witness) should go through
/// [`MemoryNodeStore::insert_rlps`], which computes the keys itself.
pub trait NodeStore {
    /// The RLP of the node at `path` of trie `owner` whose keccak256 is
    /// `hash`, or `None` if unknown.
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError>;
}

impl<T: NodeStore + ?Sized> NodeStore for &T {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(owner, path, hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Arc<T> {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(owner, path, hash)
    }
}

/// For path-addressed stores: passes `rlp` through if it hashes to `hash`,
/// else [`TrieError::StaleNode`] (the path holds some other node).
pub fn check_node(
    owner: Option<&B256>,
    path: &Nibbles,
    hash: &B256,
    rlp: Vec<u8>,
) -> Result<Vec<u8>, TrieError> {
    if keccak256(&rlp) == *hash {
        Ok(rlp)
    } else {
        Err(TrieError::StaleNode(Box::new(StaleNode {
            owner: owner.copied(),
            path: *path,
            hash: *hash,
        })))
    }
}

/// Simple in-memory store for tests and for the stateless prover.
#[derive(Default, Clone, Debug)]
pub struct MemoryNodeStore {
    /// Node RLP keyed by its keccak256.
    pub nodes: HashMap<B256, Vec<u8>>,
}

impl MemoryNodeStore {
    /// Adds nodes whose keys the caller vouches for (e.g.
    /// [`TrieUpdates::hashed_nodes`](crate::TrieUpdates::hashed_nodes)).
    pub fn insert_nodes(&mut self, it: impl IntoIterator<Item = (B256, Vec<u8>)>) {
        self.nodes.extend(it);
    }

    /// Adds raw node RLPs, keying each by its own keccak256. Use this for
    /// untrusted input such as an execution witness.
    pub fn insert_rlps(&mut self, it: impl IntoIterator<Item = Vec<u8>>) {
        self.nodes
            .extend(it.into_iter().map(|rlp| (keccak256(&rlp), rlp)));
    }
}

impl NodeStore for MemoryNodeStore {
    fn node(
        &self,
        _owner: Option<&B256>,
        _path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.nodes.get(hash).cloned())
    }
}

/// A store with no nodes: for tries built from scratch.
#[derive(Default, Clone, Copy, Debug)]
pub struct EmptyNodeStore;

impl NodeStore for EmptyNodeStore {
    fn node(
        &self,
        _owner: Option<&B256>,
        _path: &Nibbles,
        _hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(None)
    }
}
