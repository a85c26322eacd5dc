//! Node storage abstraction. The trie never does I/O itself: every node it
//! needs beyond what is already in memory comes through [`NodeStore`].

use std::{collections::HashMap, sync::Arc};

use alloy_primitives::{B256, keccak256};

use crate::TrieError;

/// Content-addressed node storage: node RLP by keccak256(rlp).
///
/// Implementations are trusted to be content-addressed; the trie does not
/// re-hash what it loads (that is the hot path of block import). Untrusted
/// node sets (e.g. a witness) should go through
/// [`MemoryNodeStore::insert_rlps`], which computes the keys itself.
pub trait NodeStore {
    /// The RLP of the node whose keccak256 is `hash`, or `None` if unknown.
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError>;
}

impl<T: NodeStore + ?Sized> NodeStore for &T {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Arc<T> {
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        (**self).node(hash)
    }
}

/// Simple in-memory store for tests and for the stateless prover.
#[derive(Default, Clone, Debug)]
pub struct MemoryNodeStore {
    /// Node RLP keyed by its keccak256.
    pub nodes: HashMap<B256, Vec<u8>>,
}

impl MemoryNodeStore {
    /// Adds nodes whose keys the caller vouches for (e.g. [`TrieUpdates::nodes`](crate::TrieUpdates)).
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
    fn node(&self, hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(self.nodes.get(hash).cloned())
    }
}

/// A store with no nodes: for tries built from scratch.
#[derive(Default, Clone, Copy, Debug)]
pub struct EmptyNodeStore;

impl NodeStore for EmptyNodeStore {
    fn node(&self, _hash: &B256) -> Result<Option<Vec<u8>>, TrieError> {
        Ok(None)
    }
}
