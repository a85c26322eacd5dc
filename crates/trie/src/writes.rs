//! Path-keyed changes to the account trie and the storage tries, as one
//! block (or several composed) makes them: what a path-keyed store applies.
//!
//! Lives here rather than in keel-evm so the storage crate, which does not
//! depend on execution, can apply it.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::B256;
use alloy_trie::Nibbles;

use crate::TrieUpdates;

/// One trie's changes: a [`TrieUpdates`] without the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieDiff {
    /// `(path, keccak256(rlp), rlp)` of stored nodes to write (overwriting
    /// whatever the path holds): children first as committed, path order
    /// once composed.
    pub nodes: Vec<(Nibbles, B256, Vec<u8>)>,
    /// Sorted paths to delete. Never shares a path with `nodes`. After
    /// [`TrieWrites::compose`] a path may name a node the store never got
    /// (written, then removed): deleting it is a no-op.
    pub removed: Vec<Nibbles>,
}

impl TrieDiff {
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.removed.is_empty()
    }

    /// `self` then `later`: later entries win per path.
    fn compose(self, later: TrieDiff) -> TrieDiff {
        let mut paths: BTreeMap<Nibbles, Option<(B256, Vec<u8>)>> = BTreeMap::new();
        for diff in [self, later] {
            for path in diff.removed {
                paths.insert(path, None);
            }
            for (path, hash, rlp) in diff.nodes {
                paths.insert(path, Some((hash, rlp)));
            }
        }
        let mut out = TrieDiff::default();
        for (path, entry) in paths {
            match entry {
                Some((hash, rlp)) => out.nodes.push((path, hash, rlp)),
                None => out.removed.push(path),
            }
        }
        out
    }
}

impl From<TrieUpdates> for TrieDiff {
    fn from(updates: TrieUpdates) -> Self {
        Self {
            nodes: updates.nodes,
            removed: updates.removed,
        }
    }
}

/// The trie changes of a block (or of consecutive blocks, composed).
///
/// A path-keyed store applies them in this order: delete every trie of
/// `wiped`, then each diff's `removed`, then its `nodes`. Storage tries are
/// keyed by their owner, keccak256(address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieWrites {
    pub account: TrieDiff,
    /// Sorted by owner, one entry per owner, no empty diffs.
    pub storage: Vec<(B256, TrieDiff)>,
    /// Sorted owners whose whole storage trie is deleted (account deleted
    /// or self-destructed) before `storage` applies: those tries were never
    /// loaded, so their nodes cannot be listed as `removed`.
    pub wiped: Vec<B256>,
}

impl TrieWrites {
    /// Collects per-trie diffs in any order (each owner at most once).
    pub fn new(
        account: TrieDiff,
        storage: impl IntoIterator<Item = (B256, TrieDiff)>,
        wiped: impl IntoIterator<Item = B256>,
    ) -> Self {
        let mut storage: Vec<_> = storage.into_iter().filter(|(_, d)| !d.is_empty()).collect();
        storage.sort_by_key(|(owner, _)| *owner);
        let wiped: BTreeSet<B256> = wiped.into_iter().collect();
        Self {
            account,
            storage,
            wiped: wiped.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.account.is_empty() && self.storage.is_empty() && self.wiped.is_empty()
    }

    /// `(keccak256(rlp), rlp)` of every node written, account trie first:
    /// for content-addressed stores and witness bookkeeping.
    pub fn hashes(&self) -> impl Iterator<Item = (B256, &[u8])> {
        self.account
            .nodes
            .iter()
            .chain(self.storage.iter().flat_map(|(_, diff)| &diff.nodes))
            .map(|(_, hash, rlp)| (*hash, rlp.as_slice()))
    }

    /// Like [`TrieWrites::hashes`], consuming.
    pub fn into_hashes(self) -> impl Iterator<Item = (B256, Vec<u8>)> {
        self.account
            .nodes
            .into_iter()
            .chain(self.storage.into_iter().flat_map(|(_, diff)| diff.nodes))
            .map(|(_, hash, rlp)| (hash, rlp))
    }

    /// The writes of `self` followed by those of `later`, as one: later
    /// entries override earlier ones at the same path, and a later wipe
    /// drops the earlier entries of that owner (the wipe stays).
    pub fn compose(self, later: TrieWrites) -> TrieWrites {
        let later_wiped: BTreeSet<B256> = later.wiped.iter().copied().collect();
        let mut storage: BTreeMap<B256, TrieDiff> = self
            .storage
            .into_iter()
            .filter(|(owner, _)| !later_wiped.contains(owner))
            .collect();
        for (owner, diff) in later.storage {
            let earlier = storage.remove(&owner).unwrap_or_default();
            storage.insert(owner, earlier.compose(diff));
        }
        Self::new(
            self.account.compose(later.account),
            storage,
            self.wiped.into_iter().chain(later.wiped),
        )
    }
}
