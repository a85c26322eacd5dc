//! Every leaf of a stored trie, in key order, read straight from a
//! [`NodeStore`]: for checks that compare a whole trie with another copy of
//! the state (e.g. the flat tables after a crash).
//!
//! Unlike [`Trie`](crate::Trie), the walk keeps nothing in memory beyond the
//! nodes on its stack, and re-hashes every node it loads: it exists to
//! verify a store, so a node that does not match its reference is an error
//! even for content-addressed stores, which do not check on their own.

use alloy_primitives::B256;
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles};

use crate::{
    NodeStore, TrieError, check_node,
    node::{MAX_NIBBLES, RawNode, RawRef, decode_raw},
};

/// Iterator over `(key, value)` of every leaf (and branch value) of the trie
/// under a root, in ascending key order. Keys are the full nibble paths
/// (64 nibbles for hashed Ethereum keys). After an error it yields nothing
/// more.
pub struct TrieLeaves<S> {
    store: S,
    owner: Option<B256>,
    /// Nodes still to visit; the top is the next in key order.
    stack: Vec<Pending>,
}

enum Pending {
    /// Referenced by hash, not loaded yet.
    Hash { path: Nibbles, hash: B256 },
    /// Inline in its parent: the node's own RLP.
    Inline { path: Nibbles, rlp: Vec<u8> },
}

impl<S> std::fmt::Debug for TrieLeaves<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrieLeaves")
            .field("owner", &self.owner)
            .field("pending", &self.stack.len())
            .finish_non_exhaustive()
    }
}

impl<S: NodeStore> TrieLeaves<S> {
    /// The leaves of the account trie under `root` (`EMPTY_ROOT_HASH`: none).
    pub fn new(store: S, root: B256) -> Self {
        Self::open(store, None, root)
    }

    /// The leaves of the storage trie of keccak256(address) `owner` under
    /// `root`, like [`TrieLeaves::new`].
    pub fn new_storage(store: S, owner: B256, root: B256) -> Self {
        Self::open(store, Some(owner), root)
    }

    fn open(store: S, owner: Option<B256>, root: B256) -> Self {
        let mut stack = Vec::new();
        if root != EMPTY_ROOT_HASH {
            stack.push(Pending::Hash {
                path: Nibbles::new(),
                hash: root,
            });
        }
        Self {
            store,
            owner,
            stack,
        }
    }

    /// Expands one pending node: pushes its children (last child first, so
    /// the first is popped next) and returns its value, if it has one.
    fn step(&mut self, pending: Pending) -> Result<Option<(Nibbles, Vec<u8>)>, TrieError> {
        let (path, rlp) = match pending {
            Pending::Hash { path, hash } => {
                let rlp = self
                    .store
                    .node(self.owner.as_ref(), &path, &hash)?
                    .ok_or(TrieError::MissingNode(hash))?;
                (path, check_node(self.owner.as_ref(), &path, &hash, rlp)?)
            }
            Pending::Inline { path, rlp } => (path, rlp),
        };
        match decode_raw(&rlp)? {
            RawNode::Empty => Err(TrieError::decode("empty node below the root")),
            RawNode::Leaf { key, value } => Ok(Some((join(path, &key)?, value.to_vec()))),
            RawNode::Extension { key, child } => {
                self.push(join(path, &key)?, child);
                Ok(None)
            }
            RawNode::Branch { children, value } => {
                for (i, child) in children.iter().enumerate().rev() {
                    if matches!(child, RawRef::Empty) {
                        continue;
                    }
                    if path.len() >= MAX_NIBBLES {
                        return Err(TrieError::decode("node path exceeds 64 nibbles"));
                    }
                    let mut child_path = path;
                    child_path.push_unchecked(i as u8);
                    self.push(child_path, *child);
                }
                // A branch's own value sorts before every key below it.
                Ok(value.map(|v| (path, v.to_vec())))
            }
        }
    }

    fn push(&mut self, path: Nibbles, child: RawRef<'_>) {
        match child {
            RawRef::Empty => {}
            RawRef::Hash(hash) => self.stack.push(Pending::Hash { path, hash }),
            RawRef::Inline(rlp) => self.stack.push(Pending::Inline {
                path,
                rlp: rlp.to_vec(),
            }),
        }
    }
}

impl<S: NodeStore> Iterator for TrieLeaves<S> {
    type Item = Result<(Nibbles, Vec<u8>), TrieError>;

    fn next(&mut self) -> Option<Self::Item> {
        while let Some(pending) = self.stack.pop() {
            match self.step(pending) {
                Ok(Some(leaf)) => return Some(Ok(leaf)),
                Ok(None) => {}
                Err(e) => {
                    self.stack.clear();
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// `path ‖ key`, or an error if stored data makes it longer than 64 nibbles.
fn join(path: Nibbles, key: &Nibbles) -> Result<Nibbles, TrieError> {
    if path.len() + key.len() > MAX_NIBBLES {
        return Err(TrieError::decode("node path exceeds 64 nibbles"));
    }
    Ok(path.join(key))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use alloy_primitives::keccak256;

    use super::*;
    use crate::{EmptyNodeStore, MemoryNodeStore, Trie};

    /// A committed trie of `entries` in a memory store, and its root.
    fn stored(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> (MemoryNodeStore, B256) {
        let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        for (k, v) in entries {
            trie.insert(k, v.clone()).unwrap();
        }
        let updates = trie.commit();
        let root = updates.root;
        let mut store = MemoryNodeStore::default();
        store.insert_nodes(updates.hashed_nodes());
        (store, root)
    }

    fn walk(store: &MemoryNodeStore, root: B256) -> Vec<(Vec<u8>, Vec<u8>)> {
        TrieLeaves::new(store, root)
            .map(|leaf| {
                let (key, value) = leaf.unwrap();
                (key.pack().to_vec(), value)
            })
            .collect()
    }

    #[test]
    fn yields_every_leaf_in_key_order() {
        for n in [0u64, 1, 2, 3, 17, 300] {
            // Hashed keys with long values (stored nodes) and short ones (inline nodes).
            let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0..n)
                .map(|i| {
                    let value = if i % 2 == 0 {
                        vec![i as u8 + 1]
                    } else {
                        vec![7; 40]
                    };
                    (keccak256(i.to_be_bytes()).to_vec(), value)
                })
                .collect();
            let (store, root) = stored(&entries);
            let expected: Vec<_> = entries.into_iter().collect();
            assert_eq!(walk(&store, root), expected, "{n} keys");
        }
    }

    #[test]
    fn yields_branch_values_and_short_keys() {
        // Keys that are prefixes of one another put values on branches; tiny values keep the
        // nodes inline in their parents.
        let entries: BTreeMap<Vec<u8>, Vec<u8>> = [
            (vec![0x12], vec![1]),
            (vec![0x12, 0x34], vec![2]),
            (vec![0x12, 0x35], vec![3]),
            (vec![0x12, 0x34, 0x56], vec![4]),
            (vec![0xab], vec![5; 50]),
        ]
        .into_iter()
        .collect();
        let (store, root) = stored(&entries);
        assert_eq!(walk(&store, root), entries.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn storage_owner_reaches_the_store() {
        /// Answers only for one owner, as a path-keyed store would.
        struct OwnerOnly(MemoryNodeStore, B256);
        impl NodeStore for OwnerOnly {
            fn node(
                &self,
                owner: Option<&B256>,
                path: &Nibbles,
                hash: &B256,
            ) -> Result<Option<Vec<u8>>, TrieError> {
                if owner == Some(&self.1) {
                    self.0.node(owner, path, hash)
                } else {
                    Ok(None)
                }
            }
        }
        let entries = (0..20u64)
            .map(|i| (keccak256(i.to_be_bytes()).to_vec(), vec![9; 33]))
            .collect();
        let (store, root) = stored(&entries);
        let owner = B256::repeat_byte(1);
        let store = OwnerOnly(store, owner);
        assert_eq!(TrieLeaves::new_storage(&store, owner, root).count(), 20);
        let mut other = TrieLeaves::new_storage(&store, B256::repeat_byte(2), root);
        assert!(matches!(other.next(), Some(Err(TrieError::MissingNode(h))) if h == root));
        assert!(other.next().is_none(), "nothing after an error");
    }

    #[test]
    fn missing_and_tampered_nodes_are_errors() {
        let entries = (0..50u64)
            .map(|i| (keccak256(i.to_be_bytes()).to_vec(), vec![3; 40]))
            .collect();
        let (mut store, root) = stored(&entries);

        // A node whose bytes no longer hash to its key.
        let (&victim, _) = store.nodes.iter().find(|(h, _)| **h != root).unwrap();
        let mut tampered = store.clone();
        if let Some(rlp) = tampered.nodes.get_mut(&victim) {
            let last = rlp.len() - 1;
            rlp[last] ^= 1;
        }
        let errors: Vec<_> = TrieLeaves::new(&tampered, root)
            .filter_map(Result::err)
            .collect();
        assert!(
            matches!(errors.as_slice(), [TrieError::StaleNode(s)] if s.hash == victim),
            "{errors:?}"
        );

        // A node missing from the store.
        store.nodes.remove(&victim);
        let errors: Vec<_> = TrieLeaves::new(&store, root)
            .filter_map(Result::err)
            .collect();
        assert!(
            matches!(errors.as_slice(), [TrieError::MissingNode(h)] if *h == victim),
            "{errors:?}"
        );

        assert_eq!(TrieLeaves::new(&store, EMPTY_ROOT_HASH).count(), 0);
    }
}
