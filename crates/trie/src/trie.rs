//! The [`Trie`] handle: lookups, hashing, commits and recording.

use alloy_primitives::{B256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles};

use crate::{
    NodeStore, TrieError,
    node::{NodeKind, NodeRef, NodeSink},
    resolver::Resolver,
    update::{self, Removal},
};

/// A persistent, incremental Merkle Patricia Trie over a [`NodeStore`].
///
/// Nodes are loaded lazily along the paths that operations touch and stay
/// cached in memory; hashes are cached per node and recomputed only along
/// modified paths.
///
/// If an operation returns an error caused by a missing or malformed node,
/// the trie is left unchanged for well-formed tries; callers should
/// nonetheless treat it as unusable, as such errors mean a corrupt store or
/// incomplete witness.
pub struct Trie<S: NodeStore> {
    /// `None` is the empty trie.
    pub(crate) root: Option<NodeRef>,
    pub(crate) resolver: Resolver<S>,
    /// Reused encoding buffer for hashing and commits.
    pub(crate) buf: Vec<u8>,
}

impl<S: NodeStore> std::fmt::Debug for Trie<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let root = match &self.root {
            None => Some(EMPTY_ROOT_HASH),
            Some(NodeRef::Hash(hash)) => Some(*hash),
            Some(NodeRef::Node(node)) => node
                .rlp
                .as_ref()
                .map(|rlp| rlp.as_hash().unwrap_or_else(|| keccak256(rlp))),
        };
        // `None` means changes are pending and not hashed yet.
        f.debug_struct("Trie")
            .field("root", &root)
            .finish_non_exhaustive()
    }
}

/// The result of [`Trie::commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrieUpdates {
    /// The trie's root hash.
    pub root: B256,
    /// `(keccak256(rlp), rlp)` of every node created or changed since the
    /// previous commit that is referenced by hash, plus the root node.
    /// Children come before their parents; the root is last.
    pub nodes: Vec<(B256, Vec<u8>)>,
}

impl<S: NodeStore> Trie<S> {
    /// Opens the trie with the given root; `EMPTY_ROOT_HASH` is the empty
    /// trie. Nothing is loaded until an operation needs it.
    pub fn new(store: S, root: B256) -> Self {
        let root = (root != EMPTY_ROOT_HASH).then_some(NodeRef::Hash(root));
        Self {
            root,
            resolver: Resolver::new(store),
            buf: Vec::new(),
        }
    }

    /// The backing store.
    pub fn store(&self) -> &S {
        &self.resolver.store
    }

    /// Consumes the trie, returning the store.
    pub fn into_store(self) -> S {
        self.resolver.store
    }

    /// The value stored under `key`. Takes `&mut self` because nodes loaded
    /// along the way are kept in memory.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        let mut rem = key_nibbles(key)?;
        let Some(mut cur) = self.root.as_mut() else {
            return Ok(None);
        };
        let mut depth = 0;
        loop {
            let node = self.resolver.visit(cur, depth)?;
            match &mut node.kind {
                NodeKind::Leaf { key, value } => {
                    return Ok((*key == rem).then(|| value.clone()));
                }
                NodeKind::Extension { key, child } => {
                    if !rem.starts_with(key) {
                        return Ok(None);
                    }
                    rem = rem.slice(key.len()..);
                    depth += key.len();
                    cur = child;
                }
                NodeKind::Branch { children, value } => {
                    let Some(nibble) = rem.first() else {
                        return Ok(value.clone());
                    };
                    let Some(child) = &mut children[usize::from(nibble)] else {
                        return Ok(None);
                    };
                    rem = rem.slice(1..);
                    depth += 1;
                    cur = child;
                }
            }
        }
    }

    /// Sets `key` to `value`; an empty value removes the key.
    pub fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), TrieError> {
        if value.is_empty() {
            return self.remove(key);
        }
        let path = key_nibbles(key)?;
        match &mut self.root {
            None => {
                self.root = Some(NodeRef::new(NodeKind::Leaf { key: path, value }));
            }
            Some(root) => {
                update::insert(&mut self.resolver, root, path, 0, value)?;
            }
        }
        Ok(())
    }

    /// Removes `key`; absent keys are not an error.
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        let path = key_nibbles(key)?;
        if let Some(root) = &mut self.root
            && let Removal::Emptied = update::remove(&mut self.resolver, root, path, 0)?
        {
            self.root = None;
        }
        Ok(())
    }

    /// The root hash. Only nodes changed since the last hashing are encoded
    /// and hashed; everything else comes from per-node caches.
    pub fn root(&mut self) -> B256 {
        let Some(root) = &mut self.root else {
            return EMPTY_ROOT_HASH;
        };
        let rlp = root.update(&mut self.buf, &mut None);
        // The root hash is always keccak(rlp), even when the root is small
        // enough to be referenced inline.
        rlp.as_hash().unwrap_or_else(|| keccak256(&rlp))
    }

    /// Hashes and returns every node created or changed since the last commit
    /// whose RLP is >= 32 bytes, plus the root node (whatever its size, as it
    /// is always looked up by hash). Later changes start a fresh diff.
    ///
    /// An unchanged root that was never loaded is not emitted: it is already
    /// in the store. The empty trie emits no nodes.
    pub fn commit(&mut self) -> TrieUpdates {
        let mut nodes: NodeSink = Vec::new();
        let Some(root) = &mut self.root else {
            return TrieUpdates {
                root: EMPTY_ROOT_HASH,
                nodes,
            };
        };
        let rlp = root.update(&mut self.buf, &mut Some(&mut nodes));
        let hash = rlp.as_hash().unwrap_or_else(|| keccak256(&rlp));
        // Post-order emission puts a changed, hash-referenced root last.
        if nodes.last().is_none_or(|(h, _)| *h != hash)
            && let NodeRef::Node(node) = root
        {
            if rlp.is_hash() {
                self.buf.clear();
                // Clean after `update`, so every child reference is cached.
                if node.encode_cached(&mut self.buf) {
                    nodes.push((hash, self.buf.clone()));
                }
            } else {
                nodes.push((hash, rlp.to_vec()));
            }
        }
        TrieUpdates { root: hash, nodes }
    }

    /// From now on, records the RLP of every pre-existing node that
    /// operations pass through (store loads, including siblings loaded when a
    /// deletion collapses a branch): the execution witness.
    pub fn start_recording(&mut self) {
        self.resolver.start_recording();
    }

    /// The deduplicated node RLPs recorded since `start_recording` or the
    /// previous `take_recorded`, in first-visit order. Recording continues.
    pub fn take_recorded(&mut self) -> Vec<Vec<u8>> {
        self.resolver.take_recorded()
    }
}

/// Keys are limited to 32 bytes: `Nibbles` holds at most 64 nibbles.
pub(crate) fn key_nibbles(key: &[u8]) -> Result<Nibbles, TrieError> {
    if key.len() > 32 {
        return Err(TrieError::KeyTooLong(key.len()));
    }
    Ok(Nibbles::unpack(key))
}
