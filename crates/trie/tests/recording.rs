//! Witness recording, lazy loading and error handling on bad stores.

mod common;

use std::cell::Cell;

use alloy_primitives::{B256, keccak256};
use common::*;
use keel_trie::{
    EMPTY_ROOT_HASH, EmptyNodeStore, MemoryNodeStore, Nibbles, NodeStore, Trie, TrieError,
};
use proptest::prelude::*;

fn build(keys: &[Vec<u8>], ops: &[Op]) -> (MemoryNodeStore, B256, Model) {
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    let mut model = Model::new();
    apply(&mut trie, &mut model, keys, ops).unwrap();
    let updates = trie.commit();
    let root = updates.root;
    let mut store = MemoryNodeStore::default();
    store.insert_nodes(updates.clone().hashed_nodes());
    (store, root, model)
}

fn account_keys(n: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| keccak256(i.to_be_bytes()).to_vec())
        .collect()
}

/// Counts store reads, to check laziness.
struct Counting<S> {
    inner: S,
    reads: Cell<usize>,
}

impl<S: NodeStore> NodeStore for Counting<S> {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        self.reads.set(self.reads.get() + 1);
        self.inner.node(owner, path, hash)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The recorded nodes alone replay the same reads and writes.
    #[test]
    fn recorded_witness_replays(
        keys in prop_oneof![fixed_keys(), short_keys()],
        setup in ops(),
        block in ops(),
        warm in any::<bool>(),
    ) {
        let (store, root, model) = build(&keys, &setup);
        let mut trie = Trie::new(&store, root);
        if warm {
            // Nodes loaded before recording starts must still be recorded.
            for key in &keys {
                trie.get(key).unwrap();
            }
        }
        trie.start_recording();
        let mut model_a = model.clone();
        apply(&mut trie, &mut model_a, &keys, &block).unwrap();
        let root_a = trie.root();
        let witness = trie.take_recorded();

        let mut witness_store = MemoryNodeStore::default();
        witness_store.insert_rlps(witness);
        let mut replay = Trie::new(&witness_store, root);
        let mut model_b = model.clone();
        apply(&mut replay, &mut model_b, &keys, &block).unwrap();
        prop_assert_eq!(replay.root(), root_a);
    }
}

#[test]
fn deletion_records_collapsed_sibling() {
    // Two large leaves under a branch: deleting one must load the other.
    let keys = [vec![0x00; 32], vec![0x10; 32]];
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    for key in &keys {
        trie.insert(key, vec![0xaa; 40]).unwrap();
    }
    let updates = trie.commit();
    let mut store = MemoryNodeStore::default();
    store.insert_nodes(updates.clone().hashed_nodes());

    let mut trie = Trie::new(&store, updates.root);
    trie.start_recording();
    trie.remove(&keys[0]).unwrap();
    let root = trie.root();
    let witness = trie.take_recorded();
    assert_eq!(witness.len(), 3, "root, deleted leaf and sibling");

    let mut witness_store = MemoryNodeStore::default();
    witness_store.insert_rlps(witness);
    let mut replay = Trie::new(&witness_store, updates.root);
    replay.remove(&keys[0]).unwrap();
    assert_eq!(replay.root(), root);
    assert!(trie.take_recorded().is_empty(), "take drains");
}

#[test]
fn loads_only_the_touched_path() {
    let keys = account_keys(2000);
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    for key in &keys {
        trie.insert(key, vec![1; 70]).unwrap();
    }
    let updates = trie.commit();
    let mut inner = MemoryNodeStore::default();
    inner.insert_nodes(updates.clone().hashed_nodes());
    let store = Counting {
        inner,
        reads: Cell::new(0),
    };

    let mut trie = Trie::new(&store, updates.root);
    assert_eq!(store.reads.get(), 0, "new() is lazy");
    assert_eq!(trie.root(), updates.root);
    assert_eq!(
        store.reads.get(),
        0,
        "root of an untouched trie needs no loads"
    );
    trie.insert(&keys[5], vec![2; 70]).unwrap();
    let after_insert = store.reads.get();
    assert!((1..=6).contains(&after_insert), "{after_insert} loads");
    let new_root = trie.root();
    assert_ne!(new_root, updates.root);
    assert_eq!(store.reads.get(), after_insert, "hashing loads nothing");
    // The commit holds exactly the re-hashed path.
    assert!(trie.commit().nodes.len() <= after_insert);
}

#[test]
fn missing_node_is_an_error() {
    let mut trie = Trie::new(EmptyNodeStore, B256::repeat_byte(9));
    assert!(matches!(trie.get(b"k"), Err(TrieError::MissingNode(h)) if h == B256::repeat_byte(9)));
    assert!(matches!(
        trie.insert(b"k", vec![1]),
        Err(TrieError::MissingNode(_))
    ));
    assert!(matches!(trie.proof(b"k"), Err(TrieError::MissingNode(_))));

    // Drop a node below the root: reads through it fail, others still work.
    let keys = account_keys(300);
    let ops: Vec<Op> = (0..keys.len()).map(|i| Op::Set(i, vec![7; 50])).collect();
    let (mut store, root, _) = build(&keys, &ops);
    let victim = *store.nodes.keys().find(|h| **h != root).unwrap();
    store.nodes.remove(&victim);
    let mut trie = Trie::new(&store, root);
    let mut missing = 0;
    for key in &keys {
        match trie.get(key) {
            Ok(value) => assert_eq!(value, Some(vec![7; 50])),
            Err(TrieError::MissingNode(h)) => {
                assert_eq!(h, victim);
                missing += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(missing > 0);
}

#[test]
fn key_too_long() {
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    assert!(matches!(
        trie.insert(&[0; 33], vec![1]),
        Err(TrieError::KeyTooLong(33))
    ));
    assert!(matches!(trie.get(&[0; 40]), Err(TrieError::KeyTooLong(40))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes as the root node never panic.
    #[test]
    fn garbage_root_never_panics(node in prop::collection::vec(any::<u8>(), 0..80), key in prop::collection::vec(any::<u8>(), 0..33)) {
        let mut store = MemoryNodeStore::default();
        let root = keccak256(&node);
        store.insert_nodes([(root, node)]);
        let mut trie = Trie::new(&store, root);
        let _ = trie.get(&key);
        let _ = trie.proof(&key);
        let _ = trie.insert(&key, vec![1]);
        let _ = trie.remove(&key);
        let _ = trie.root();
        let _ = trie.commit();
    }

    /// Corrupting one byte of one stored node (kept under its old hash, as a
    /// lying store would) never panics, whatever operations follow.
    #[test]
    fn corrupt_store_never_panics(
        keys in prop_oneof![fixed_keys(), short_keys()],
        setup in ops(),
        block in ops(),
        corrupt in (any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()),
    ) {
        let (mut store, root, _) = build(&keys, &setup);
        if !store.nodes.is_empty() {
            let mut hashes: Vec<B256> = store.nodes.keys().copied().collect();
            hashes.sort();
            let node = store.nodes.get_mut(corrupt.0.get(&hashes)).unwrap();
            let i = corrupt.1.index(node.len());
            node[i] = corrupt.2;
        }
        let mut trie = Trie::new(&store, root);
        for op in &block {
            let _ = match op {
                Op::Set(i, v) => trie.insert(&keys[i % keys.len()], v.clone()),
                Op::Get(i) => trie.get(&keys[i % keys.len()]).map(drop),
            };
            let _ = trie.proof(&keys[0]);
        }
        let _ = trie.root();
        let _ = trie.commit();
    }
}

/// A stored leaf whose path runs past 64 nibbles (impossible in a valid
/// trie) is rejected before any path arithmetic could overflow.
#[test]
fn overlong_path_is_a_decode_error() {
    use alloy_rlp::Encodable;
    use alloy_trie::nodes::LeafNodeRef;

    let mut long_leaf = Vec::new();
    LeafNodeRef::new(&Nibbles::unpack([0xab; 32]), &[1; 40]).encode(&mut long_leaf);
    let mut short_leaf = Vec::new();
    // Nibbles 0xc, then (0xd, 0xc) x 31: with branch nibble 1, key 0x1c dc..dc.
    let mut nibbles = vec![0xc];
    for _ in 0..31 {
        nibbles.extend([0xd, 0xc]);
    }
    LeafNodeRef::new(&Nibbles::from_nibbles(&nibbles), &[2; 40]).encode(&mut short_leaf);
    // Branch with child 0 -> long leaf, child 1 -> short leaf (short leaf is
    // 64 nibbles deep: fine; long leaf would be 65).
    let mut payload = Vec::new();
    keccak256(&long_leaf).encode(&mut payload);
    keccak256(&short_leaf).encode(&mut payload);
    payload.extend([0x80; 15]);
    let mut branch = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut branch);
    branch.extend(payload);

    let mut store = MemoryNodeStore::default();
    store.insert_rlps([long_leaf, short_leaf, branch.clone()]);
    let root = keccak256(&branch);

    let mut short_key = vec![0x1c];
    short_key.extend([0xdc; 31]);
    let mut trie = Trie::new(&store, root);
    assert_eq!(trie.get(&short_key).unwrap(), Some(vec![2; 40]));
    assert!(matches!(trie.get(&[0x0a; 32]), Err(TrieError::Decode(_))));
    // Removing the sibling would merge the long leaf upward: must error, not panic.
    let mut trie = Trie::new(&store, root);
    assert!(matches!(trie.remove(&short_key), Err(TrieError::Decode(_))));
}
