//! [`NodeCache`]: the upper levels of the head's account trie, kept in memory across blocks.
//!
//! Every block's random account updates walk from the root: at 10 million accounts each of 1,000
//! updates passes through the same few thousand branch nodes of the first levels, which a fresh
//! trie per block would otherwise load and decode from redb again. Paths are what the tables are
//! keyed by, so the cache is too: the writer updates it from each committed block's
//! [`TrieWrites`], and readers fill it on a miss.
//!
//! An entry is `path → (hash, rlp)` and is served only to a caller asking for that exact hash, so
//! a reader on an older snapshot (or an entry a newer block replaced) falls through to its own
//! read transaction: the cache can make a read faster, never different.

use std::collections::HashMap;

use alloy_primitives::B256;
use keel_trie::{Nibbles, TrieWrites};
use parking_lot::RwLock;

/// Shared, bounded cache of account-trie nodes at paths no longer than its depth.
#[derive(Debug)]
pub struct NodeCache {
    depth: usize,
    nodes: RwLock<HashMap<Nibbles, (B256, Vec<u8>)>>,
}

impl NodeCache {
    /// The node's default: the root and four levels below it, at most 69,905 branch nodes
    /// (about 37 MB when all are full), whatever the state's size.
    pub const DEFAULT_DEPTH: usize = 4;

    /// A cache of the nodes at paths of at most `depth` nibbles (0: only the root).
    pub fn new(depth: usize) -> Self {
        Self {
            depth,
            nodes: RwLock::new(HashMap::new()),
        }
    }

    /// Whether nodes at `path` are kept.
    pub fn covers(&self, path: &Nibbles) -> bool {
        path.len() <= self.depth
    }

    /// The node at `path` if the cache holds the one hashing to `hash`.
    pub fn get(&self, path: &Nibbles, hash: &B256) -> Option<Vec<u8>> {
        if !self.covers(path) {
            return None;
        }
        let nodes = self.nodes.read();
        match nodes.get(path) {
            Some((cached, rlp)) if cached == hash => Some(rlp.clone()),
            _ => None,
        }
    }

    /// Remember the node at `path`; `hash` must be keccak256(`rlp`) (read and checked from the
    /// store, or computed by a commit).
    pub fn insert(&self, path: &Nibbles, hash: B256, rlp: &[u8]) {
        if self.covers(path) {
            self.nodes.write().insert(*path, (hash, rlp.to_vec()));
        }
    }

    /// Follow a committed change of the account trie: its new nodes replace the cached ones,
    /// its removed paths are dropped.
    pub fn apply(&self, nodes: &[(Nibbles, B256, Vec<u8>)], removed: &[Nibbles]) {
        let mut cached = self.nodes.write();
        for path in removed {
            cached.remove(path);
        }
        for (path, hash, rlp) in nodes {
            if path.len() <= self.depth {
                cached.insert(*path, (*hash, rlp.clone()));
            }
        }
    }

    /// Follow a committed block's (or reorg's) trie writes.
    pub fn apply_writes(&self, writes: &TrieWrites) {
        self.apply(&writes.account.nodes, &writes.account.removed);
    }

    /// Forget everything (after a write that replaces the state wholesale).
    pub fn clear(&self) {
        self.nodes.write().clear();
    }

    /// Nodes held.
    pub fn len(&self) -> usize {
        self.nodes.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::keccak256;

    use super::*;

    fn path(nibbles: &[u8]) -> Nibbles {
        Nibbles::from_nibbles(nibbles)
    }

    #[test]
    fn serves_only_the_asked_hash_and_only_upper_paths() {
        let cache = NodeCache::new(2);
        let (old, new) = (vec![0xc1, 0x01], vec![0xc1, 0x02]);
        cache.insert(&path(&[1]), keccak256(&old), &old);
        assert_eq!(cache.get(&path(&[1]), &keccak256(&old)), Some(old.clone()));
        // Another hash at the same path (an older or newer node): not served.
        assert_eq!(cache.get(&path(&[1]), &keccak256(&new)), None);
        // Deeper than the depth: not kept.
        cache.insert(&path(&[1, 2, 3]), keccak256(&new), &new);
        assert_eq!(cache.get(&path(&[1, 2, 3]), &keccak256(&new)), None);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_commit_replaces_and_removes() {
        let cache = NodeCache::new(4);
        let (a, b, c) = (vec![0xc1, 0x01], vec![0xc1, 0x02], vec![0xc1, 0x03]);
        cache.insert(&path(&[]), keccak256(&a), &a);
        cache.insert(&path(&[5]), keccak256(&b), &b);
        cache.apply(&[(path(&[]), keccak256(&c), c.clone())], &[path(&[5])]);
        assert_eq!(cache.get(&path(&[]), &keccak256(&a)), None);
        assert_eq!(cache.get(&path(&[]), &keccak256(&c)), Some(c));
        assert_eq!(cache.get(&path(&[5]), &keccak256(&b)), None);
        cache.clear();
        assert!(cache.is_empty());
    }
}
