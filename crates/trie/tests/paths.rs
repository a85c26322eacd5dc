//! Path-keyed storage: loads name the node's owner and path, and commits
//! carry exactly the writes and deletions that keep a path-keyed copy of the
//! trie equal to its stored-node set (no garbage, nothing missing).

mod common;

use std::{
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    rc::Rc,
};

use alloy_primitives::{B256, keccak256};
use common::*;
use keel_trie::{
    EMPTY_ROOT_HASH, EmptyNodeStore, Nibbles, NodeStore, StaleNode, Trie, TrieDiff, TrieError,
    TrieUpdates, TrieWrites, check_node,
};
use proptest::prelude::*;

/// Stored nodes of one trie by path.
type PathMap = BTreeMap<Nibbles, Vec<u8>>;

/// A path-keyed store over any number of tries, as the node's tables will be.
#[derive(Default, Debug)]
struct PathStore {
    tries: HashMap<Option<B256>, PathMap>,
}

impl PathStore {
    /// Writes one commit: deletions and node writes never share a path.
    fn apply(&mut self, owner: Option<B256>, updates: &TrieUpdates) {
        check_update_shape(updates);
        let trie = self.tries.entry(owner).or_default();
        for path in &updates.removed {
            assert!(
                trie.remove(path).is_some(),
                "removed path {path:?} was not stored"
            );
        }
        for (path, _, rlp) in &updates.nodes {
            trie.insert(*path, rlp.clone());
        }
    }

    /// Writes a block's (or composed blocks') changes in the documented
    /// order: wipes, removals, nodes. Composed removals may name absent paths.
    fn apply_writes(&mut self, writes: &TrieWrites) {
        for owner in &writes.wiped {
            self.tries.remove(&Some(*owner));
        }
        let diffs = std::iter::once((None, &writes.account))
            .chain(writes.storage.iter().map(|(o, d)| (Some(*o), d)));
        for (owner, diff) in diffs {
            let trie = self.tries.entry(owner).or_default();
            for path in &diff.removed {
                trie.remove(path);
            }
            for (path, _, rlp) in &diff.nodes {
                trie.insert(*path, rlp.clone());
            }
        }
        self.tries.retain(|_, t| !t.is_empty());
    }

    fn trie(&self, owner: Option<B256>) -> PathMap {
        self.tries.get(&owner).cloned().unwrap_or_default()
    }
}

impl NodeStore for PathStore {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        self.tries
            .get(&owner.copied())
            .and_then(|t| t.get(path))
            .map(|rlp| check_node(owner, path, hash, rlp.clone()))
            .transpose()
    }
}

/// Lets a long-lived trie read the store that its own commits are written to.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<PathStore>>);

impl NodeStore for Shared {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        self.0.borrow().node(owner, path, hash)
    }
}

fn check_update_shape(updates: &TrieUpdates) {
    for (path, hash, rlp) in &updates.nodes {
        assert_eq!(keccak256(rlp), *hash, "node at {path:?}");
        assert!(
            path.is_empty() || rlp.len() >= 32,
            "inline node emitted at {path:?}"
        );
        assert!(
            updates.removed.binary_search(path).is_err(),
            "{path:?} both written and removed"
        );
    }
    assert!(updates.removed.windows(2).all(|w| w[0] < w[1]));
    if let Some((path, hash, _)) = updates.nodes.last()
        && path.is_empty()
    {
        assert_eq!(*hash, updates.root);
    }
}

/// The stored-node set of a trie holding `model`, built from nothing.
fn scratch(owner: Option<B256>, model: &Model) -> (B256, PathMap) {
    let mut trie = open(EmptyNodeStore, owner, EMPTY_ROOT_HASH);
    for (k, v) in model {
        trie.insert(k, v.clone()).unwrap();
    }
    let updates = trie.commit();
    assert!(updates.removed.is_empty());
    let map: PathMap = updates
        .nodes
        .into_iter()
        .map(|(path, _, rlp)| (path, rlp))
        .collect();
    (updates.root, map)
}

fn open<S: NodeStore>(store: S, owner: Option<B256>, root: B256) -> Trie<S> {
    match owner {
        None => Trie::new(store, root),
        Some(owner) => Trie::new_storage(store, owner, root),
    }
}

/// The store holds exactly the stored nodes of `model`'s trie, and a trie
/// reopened from it reads every value.
fn check_store(store: &PathStore, owner: Option<B256>, root: B256, model: &Model) {
    let (expected_root, expected) = scratch(owner, model);
    assert_eq!(root, expected_root);
    assert_eq!(root, reference_root(model));
    let stored = store.trie(owner);
    let extra: Vec<_> = stored
        .keys()
        .filter(|p| !expected.contains_key(p))
        .collect();
    let missing: Vec<_> = expected
        .keys()
        .filter(|p| !stored.contains_key(p))
        .collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "garbage {extra:?}, missing {missing:?}"
    );
    assert_eq!(stored, expected);
    let mut reopened = open(store, owner, root);
    for (k, v) in model {
        assert_eq!(reopened.get(k).unwrap().as_ref(), Some(v));
    }
}

/// Applies `batches` with a commit after each, written to a path store and
/// checked against a trie built from scratch every time. With `reopen`, each
/// batch runs on a trie freshly opened from the store (as per block);
/// otherwise one trie lives across all commits.
fn run_batches(owner: Option<B256>, keys: &[Vec<u8>], batches: &[Vec<Op>], reopen: &[bool]) {
    let store = Shared::default();
    let mut model = Model::new();
    let mut root = EMPTY_ROOT_HASH;
    let mut long_lived = open(store.clone(), owner, root);
    for (i, batch) in batches.iter().enumerate() {
        let fresh = reopen.get(i).copied().unwrap_or(true);
        let updates = if fresh {
            let mut trie = open(store.clone(), owner, root);
            apply(&mut trie, &mut model, keys, batch).unwrap();
            trie.commit()
        } else {
            apply(&mut long_lived, &mut model, keys, batch).unwrap();
            long_lived.commit()
        };
        store.0.borrow_mut().apply(owner, &updates);
        root = updates.root;
        check_store(&store.0.borrow(), owner, root, &model);
        if fresh {
            // The long-lived trie's view is now stale: start it over.
            long_lived = open(store.clone(), owner, root);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// After every commit the path store equals the stored-node set of the
    /// same keys built from scratch: nothing missing, no garbage.
    #[test]
    fn path_store_tracks_stored_nodes(
        keys in prop_oneof![fixed_keys(), short_keys()],
        batches in prop::collection::vec(ops(), 1..6),
        reopen in prop::collection::vec(any::<bool>(), 6),
        storage in any::<bool>(),
    ) {
        let owner = storage.then(|| keccak256(&keys[0]));
        run_batches(owner, &keys, &batches, &reopen);
    }
}

/// Runs `steps` of (key, value) writes (empty value removes), one commit
/// each, checking the store after every commit; returns each commit.
fn steps(keys: &[(Vec<u8>, Vec<u8>)], steps: &[&[(Vec<u8>, Vec<u8>)]]) -> Vec<TrieUpdates> {
    let mut store = PathStore::default();
    let mut model = Model::new();
    let mut root = EMPTY_ROOT_HASH;
    let mut out = Vec::new();
    for step in std::iter::once(keys).chain(steps.iter().copied()) {
        let mut trie = Trie::new(&store, root);
        for (k, v) in step {
            trie.insert(k, v.clone()).unwrap();
            if v.is_empty() {
                model.remove(k);
            } else {
                model.insert(k.clone(), v.clone());
            }
        }
        let updates = trie.commit();
        drop(trie);
        store.apply(None, &updates);
        root = updates.root;
        check_store(&store, None, root, &model);
        out.push(updates);
    }
    out
}

/// A 32-byte key from leading nibbles, padded with `fill`.
fn key(nibbles: &[u8], fill: u8) -> Vec<u8> {
    let mut all = nibbles.to_vec();
    all.resize(64, fill);
    Nibbles::from_nibbles(all).pack().to_vec()
}

fn nib(n: &[u8]) -> Nibbles {
    Nibbles::from_nibbles(n)
}

const LONG: [u8; 40] = [7; 40];

#[test]
fn branch_collapses_to_leaf() {
    let (a, b) = (key(&[1], 3), key(&[2], 4));
    let commits = steps(
        &[(a.clone(), LONG.to_vec()), (b.clone(), LONG.to_vec())],
        &[&[(b, Vec::new())]],
    );
    // The root branch becomes a leaf at []; both old leaves' paths go.
    assert_eq!(commits[1].removed, vec![nib(&[1]), nib(&[2])]);
    assert_eq!(commits[1].nodes.len(), 1);
}

#[test]
fn collapse_absorbs_into_extension() {
    let a = key(&[1, 1, 1, 1], 5);
    let b = key(&[1, 1, 1, 2], 6);
    let c = key(&[2], 7);
    let commits = steps(
        &[
            (a.clone(), LONG.to_vec()),
            (b.clone(), LONG.to_vec()),
            (c.clone(), LONG.to_vec()),
        ],
        &[&[(c, Vec::new())]],
    );
    // Root branch + extension at [1] merge into an extension at []; the
    // branch below keeps its path [1,1,1].
    assert_eq!(commits[1].removed, vec![nib(&[1]), nib(&[2])]);
    let paths: Vec<_> = commits[1].nodes.iter().map(|(p, _, _)| *p).collect();
    assert_eq!(paths, vec![Nibbles::new()]);
}

#[test]
fn extension_splits() {
    let a = key(&[1, 1, 1, 1], 5);
    let b = key(&[1, 1, 1, 2], 6);
    let c = key(&[2], 7);
    let d = key(&[1, 2], 8);
    let commits = steps(
        &[
            (a.clone(), LONG.to_vec()),
            (b.clone(), LONG.to_vec()),
            (c.clone(), LONG.to_vec()),
        ],
        &[&[(d.clone(), LONG.to_vec())], &[(d, Vec::new())]],
    );
    // The extension at [1] becomes a branch in place; nothing is removed.
    assert!(commits[1].removed.is_empty());
    // Removing the new key merges the split back: [1,1] and [1,2] go.
    assert_eq!(commits[2].removed, vec![nib(&[1, 1]), nib(&[1, 2])]);
}

#[test]
fn value_shrinks_to_inline_and_grows_back() {
    let (a, b) = (vec![0x10], vec![0x20]);
    let commits = steps(
        &[(a.clone(), LONG.to_vec()), (b.clone(), LONG.to_vec())],
        &[&[(a.clone(), vec![1])], &[(a, LONG.to_vec())]],
    );
    assert_eq!(commits[1].removed, vec![nib(&[1])]);
    assert!(commits[2].removed.is_empty());
    assert!(commits[2].nodes.iter().any(|(p, _, _)| *p == nib(&[1])));
}

#[test]
fn emptying_the_trie_removes_everything() {
    let keys: Vec<_> = (0u8..40).map(|i| keccak256([i]).to_vec()).collect();
    let fill: Vec<_> = keys.iter().map(|k| (k.clone(), LONG.to_vec())).collect();
    let empty: Vec<_> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    let commits = steps(&fill, &[&empty]);
    let stored = commits[0].nodes.len();
    assert_eq!(commits[1].root, EMPTY_ROOT_HASH);
    assert!(commits[1].nodes.is_empty());
    assert_eq!(commits[1].removed.len(), stored);
    assert_eq!(commits[1].removed[0], Nibbles::new());
}

#[test]
fn small_root_lives_at_the_empty_path() {
    let commits = steps(
        &[(vec![1], vec![2])],
        &[&[(vec![1], vec![3])], &[(vec![1], Vec::new())]],
    );
    for updates in &commits[..2] {
        let [(path, hash, rlp)] = &updates.nodes[..] else {
            panic!("one node expected: {updates:?}")
        };
        assert!(path.is_empty() && rlp.len() < 32 && *hash == updates.root);
        assert!(updates.removed.is_empty());
    }
    assert_eq!(commits[2].removed, vec![Nibbles::new()]);
}

#[test]
fn read_only_use_writes_and_removes_nothing_new() {
    let keys: Vec<_> = (0u8..30).map(|i| keccak256([i]).to_vec()).collect();
    let fill: Vec<_> = keys.iter().map(|k| (k.clone(), LONG.to_vec())).collect();
    let commits = steps(&fill, &[]);
    let mut store = PathStore::default();
    store.apply(None, &commits[0]);
    let mut trie = Trie::new(&store, commits[0].root);
    for k in &keys {
        trie.get(k).unwrap();
        trie.proof(k).unwrap();
    }
    // Setting a value it already has dirties nothing.
    trie.insert(&keys[0], LONG.to_vec()).unwrap();
    let updates = trie.commit();
    assert!(updates.removed.is_empty());
    // Only the loaded root is re-emitted, unchanged.
    assert_eq!(updates.nodes.len(), 1);
    assert_eq!(
        store.trie(None).get(&Nibbles::new()),
        Some(&updates.nodes[0].2)
    );
}

#[test]
fn storage_tries_load_under_their_owner() {
    let owner = keccak256([0xaa; 20]);
    let mut trie = Trie::new_storage(EmptyNodeStore, owner, EMPTY_ROOT_HASH);
    assert_eq!(trie.owner(), Some(&owner));
    for i in 0u8..20 {
        trie.insert(keccak256([i]).as_slice(), LONG.to_vec())
            .unwrap();
    }
    let updates = trie.commit();
    let mut store = PathStore::default();
    store.apply(Some(owner), &updates);
    // Another owner (or the account trie) sees nothing there.
    assert!(matches!(
        Trie::new(&store, updates.root).get(keccak256([0u8]).as_slice()),
        Err(TrieError::MissingNode(_))
    ));
    let mut trie = Trie::new_storage(&store, owner, updates.root);
    assert_eq!(
        trie.get(keccak256([0u8]).as_slice()).unwrap(),
        Some(LONG.to_vec())
    );
}

/// Opening an old root over a path store that moved on is an error naming
/// the path, never a wrong answer.
#[test]
fn stale_path_is_an_error() {
    let keys: Vec<_> = (0u8..30).map(|i| keccak256([i]).to_vec()).collect();
    let fill: Vec<_> = keys.iter().map(|k| (k.clone(), LONG.to_vec())).collect();
    let commits = steps(&fill, &[&[(keys[0].clone(), vec![9; 40])]]);
    let mut store = PathStore::default();
    store.apply(None, &commits[0]);
    store.apply(None, &commits[1]);
    let old_root = commits[0].root;
    let err = Trie::new(&store, old_root).get(&keys[0]).unwrap_err();
    let TrieError::StaleNode(stale) = err else {
        panic!("expected StaleNode, got {err:?}")
    };
    assert_eq!(
        *stale,
        StaleNode {
            owner: None,
            path: Nibbles::new(),
            hash: old_root
        }
    );
    assert!(err_text(&store, old_root, &keys[0]).contains("stale trie node"));

    // A stale node below the root is caught too: rewrite the root back.
    let root_rlp = commits[0]
        .nodes
        .iter()
        .find(|(p, _, _)| p.is_empty())
        .map(|(_, _, rlp)| rlp.clone())
        .unwrap();
    store
        .tries
        .get_mut(&None)
        .unwrap()
        .insert(Nibbles::new(), root_rlp);
    let err = Trie::new(&store, old_root).get(&keys[0]).unwrap_err();
    assert!(
        matches!(&err, TrieError::StaleNode(s) if !s.path.is_empty()),
        "{err:?}"
    );
}

fn err_text(store: &PathStore, root: B256, key: &[u8]) -> String {
    Trie::new(store, root).get(key).unwrap_err().to_string()
}

/// One step of the compose test: ops on the account trie and on one storage
/// trie, which may first be wiped (as a self-destruct does).
#[derive(Debug, Clone)]
struct Step {
    account: Vec<Op>,
    storage: Vec<Op>,
    wipe: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (ops(), ops(), prop::bool::weighted(0.2)).prop_map(|(account, storage, wipe)| Step {
        account,
        storage,
        wipe,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Composing the writes of consecutive blocks and applying the result
    /// once leaves the store exactly as applying them one by one; every
    /// intermediate store is the stored-node set of its tries.
    #[test]
    fn composed_writes_equal_sequential(
        keys in prop_oneof![fixed_keys(), short_keys()],
        steps in prop::collection::vec(step(), 1..6),
        split in any::<prop::sample::Index>(),
    ) {
        let owner = keccak256(b"contract");
        let mut store = PathStore::default();
        let (mut account_model, mut storage_model) = (Model::new(), Model::new());
        let (mut account_root, mut storage_root) = (EMPTY_ROOT_HASH, EMPTY_ROOT_HASH);
        let split = split.index(steps.len());
        let mut snapshot = None;
        let mut composed = TrieWrites::default();
        for (i, step) in steps.iter().enumerate() {
            if i == split {
                snapshot = Some(store.tries.clone());
            }
            let mut account = Trie::new(&store, account_root);
            apply(&mut account, &mut account_model, &keys, &step.account).unwrap();
            if step.wipe {
                storage_model.clear();
                storage_root = EMPTY_ROOT_HASH;
            }
            let mut storage = Trie::new_storage(&store, owner, storage_root);
            apply(&mut storage, &mut storage_model, &keys, &step.storage).unwrap();
            let (account, storage) = (account.commit(), storage.commit());
            account_root = account.root;
            storage_root = storage.root;
            let writes = TrieWrites::new(
                account.into(),
                [(owner, TrieDiff::from(storage))],
                step.wipe.then_some(owner),
            );
            store.apply_writes(&writes);
            check_store(&store, None, account_root, &account_model);
            check_store(&store, Some(owner), storage_root, &storage_model);
            if i >= split {
                composed = composed.compose(writes);
            }
        }
        let mut replay = PathStore { tries: snapshot.unwrap_or_default() };
        replay.apply_writes(&composed);
        prop_assert_eq!(replay.tries, store.tries);
    }
}

#[test]
fn compose_rules() {
    let (a, b) = (keccak256("a"), keccak256("b"));
    let node = |p: &[u8], byte: u8| (nib(p), keccak256([byte]), vec![byte]);
    let diff =
        |nodes: Vec<(Nibbles, B256, Vec<u8>)>, removed: Vec<Nibbles>| TrieDiff { nodes, removed };
    let first = TrieWrites::new(
        diff(vec![node(&[1], 1), node(&[2], 2)], vec![nib(&[3])]),
        [
            (a, diff(vec![node(&[], 3)], vec![])),
            (b, diff(vec![node(&[], 4)], vec![])),
        ],
        [b],
    );
    let second = TrieWrites::new(
        diff(vec![node(&[3], 5)], vec![nib(&[1])]),
        [(b, diff(vec![node(&[5], 6)], vec![]))],
        [a],
    );
    let hashes: Vec<_> = first.hashes().map(|(h, _)| h).collect();
    assert_eq!(hashes.len(), 4);
    let both = first.compose(second);
    // Later entries win per path; a later wipe drops the owner's earlier entries.
    assert_eq!(
        both.account,
        diff(vec![node(&[2], 2), node(&[3], 5)], vec![nib(&[1])])
    );
    assert_eq!(
        both.storage,
        vec![(b, diff(vec![node(&[], 4), node(&[5], 6)], vec![]))]
    );
    let mut wiped = vec![a, b];
    wiped.sort();
    assert_eq!(both.wiped, wiped);
    assert!(!both.is_empty() && TrieWrites::default().is_empty());
}
