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

/// The result of [`Trie::commit`]: what turns the store's copy of the trie
/// (as of the previous commit, or as opened) into the current one.
///
/// A *stored* node is the root (path `[]`, whatever its size) or a node
/// referenced by hash (RLP of 32 bytes or more); inline nodes live inside
/// their parent. A path-keyed store applies an update by deleting
/// `removed` and writing `nodes` (in either order: the two never share a
/// path); a hash-keyed store writes [`TrieUpdates::hashed_nodes`] and keeps
/// everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrieUpdates {
    /// The trie's root hash.
    pub root: B256,
    /// `(path, keccak256(rlp), rlp)` of every stored node created or changed
    /// since the previous commit, plus the root node if it was loaded.
    /// Children come before their parents; the root is last.
    pub nodes: Vec<(Nibbles, B256, Vec<u8>)>,
    /// Sorted paths that held a stored node and hold none now: nodes that
    /// were deleted, merged into a neighbour, or shrank to inline size.
    /// Paths still holding a (new) stored node are in `nodes` instead.
    pub removed: Vec<Nibbles>,
}

impl TrieUpdates {
    /// `(keccak256(rlp), rlp)` of the changed nodes, for content-addressed
    /// stores.
    pub fn hashed_nodes(self) -> impl Iterator<Item = (B256, Vec<u8>)> {
        self.nodes.into_iter().map(|(_, hash, rlp)| (hash, rlp))
    }
}

impl<S: NodeStore> Trie<S> {
    /// Opens the account trie with the given root; `EMPTY_ROOT_HASH` is the
    /// empty trie. Nothing is loaded until an operation needs it.
    pub fn new(store: S, root: B256) -> Self {
        Self::open(store, None, root)
    }

    /// Opens the storage trie of the account whose keccak256(address) is
    /// `owner`, like [`Trie::new`]. The owner is passed to every store load
    /// so path-keyed stores can tell storage tries apart.
    pub fn new_storage(store: S, owner: B256, root: B256) -> Self {
        Self::open(store, Some(owner), root)
    }

    fn open(store: S, owner: Option<B256>, root: B256) -> Self {
        let root = (root != EMPTY_ROOT_HASH).then_some(NodeRef::Hash(root));
        Self {
            root,
            resolver: Resolver::new(store, owner),
            buf: Vec::new(),
        }
    }

    /// `None` for the account trie, else the storage trie's
    /// keccak256(address).
    pub fn owner(&self) -> Option<&B256> {
        self.resolver.owner.as_ref()
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
        let full = key_nibbles(key)?;
        let mut rem = full;
        let Some(mut cur) = self.root.as_mut() else {
            return Ok(None);
        };
        let mut depth = 0;
        loop {
            let node = self.resolver.visit(cur, full.slice(..depth))?;
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
                update::insert(&mut self.resolver, root, path, Nibbles::new(), value)?;
            }
        }
        Ok(())
    }

    /// Removes `key`; absent keys are not an error.
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        let path = key_nibbles(key)?;
        if let Some(root) = &mut self.root
            && let Removal::Emptied =
                update::remove(&mut self.resolver, root, path, Nibbles::new())?
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
        let rlp = root.update(&mut self.buf, &mut None, Nibbles::new());
        // The root hash is always keccak(rlp), even when the root is small
        // enough to be referenced inline.
        rlp.as_hash().unwrap_or_else(|| keccak256(&rlp))
    }

    /// Hashes and returns every stored node created or changed since the
    /// last commit (or since opening), with its path, plus the root node
    /// (whatever its size, as it is always looked up by hash), and the paths
    /// whose stored node is gone. Later changes start a fresh diff, which
    /// assumes this one was written to the store.
    ///
    /// An unchanged root that was never loaded is not emitted: it is already
    /// in the store. The empty trie emits no nodes.
    ///
    /// `removed` is exact for paths this trie has seen: every change to the
    /// set of stored nodes happens where nodes were loaded (a branch's path
    /// is fixed by its keys, so untouched subtrees never move), so it is the
    /// loaded (or previously committed) paths minus the stored nodes in
    /// memory now. Cost: a walk over the nodes in memory.
    pub fn commit(&mut self) -> TrieUpdates {
        let mut nodes: NodeSink = Vec::new();
        let mut present = Vec::new();
        let root = match &mut self.root {
            None => EMPTY_ROOT_HASH,
            Some(root) => {
                let rlp = root.update(&mut self.buf, &mut Some(&mut nodes), Nibbles::new());
                let hash = rlp.as_hash().unwrap_or_else(|| keccak256(&rlp));
                // Post-order emission puts a changed, hash-referenced root last.
                if nodes.last().is_none_or(|(path, _, _)| !path.is_empty())
                    && let NodeRef::Node(node) = root
                {
                    if rlp.is_hash() {
                        self.buf.clear();
                        // Clean after `update`, so every child reference is cached.
                        if node.encode_cached(&mut self.buf) {
                            nodes.push((Nibbles::new(), hash, self.buf.clone()));
                        }
                    } else {
                        nodes.push((Nibbles::new(), hash, rlp.to_vec()));
                    }
                }
                root.stored_paths(Nibbles::new(), &mut present);
                hash
            }
        };
        present.sort_unstable();
        let mut before = std::mem::take(&mut self.resolver.on_disk);
        before.sort_unstable();
        before.dedup();
        let removed = before
            .into_iter()
            .filter(|path| present.binary_search(path).is_err())
            .collect();
        // After this commit is written, exactly these in-memory paths are stored.
        self.resolver.on_disk = present;
        TrieUpdates {
            root,
            nodes,
            removed,
        }
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
