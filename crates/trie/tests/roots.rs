//! Root hashes: known vectors and equivalence with alloy's HashBuilder /
//! a naive reference, including across commit + reopen.

mod common;

use alloy_primitives::{b256, keccak256};
use common::*;
use keel_trie::{EMPTY_ROOT_HASH, EmptyNodeStore, MemoryNodeStore, Trie};
use proptest::prelude::*;

#[test]
fn empty_root() {
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    assert_eq!(trie.root(), EMPTY_ROOT_HASH);
    assert_eq!(trie.get(b"anything").unwrap(), None);
    let updates = trie.commit();
    assert_eq!(updates.root, EMPTY_ROOT_HASH);
    assert!(updates.nodes.is_empty());
}

#[test]
fn dog_vector() {
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    trie.insert(b"doe", b"reindeer".to_vec()).unwrap();
    trie.insert(b"dog", b"puppy".to_vec()).unwrap();
    trie.insert(b"dogglesworth", b"cat".to_vec()).unwrap();
    let expected = b256!("0x8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3");
    assert_eq!(trie.root(), expected);
    assert_eq!(trie.get(b"dog").unwrap().as_deref(), Some(&b"puppy"[..]));
    assert_eq!(trie.get(b"do").unwrap(), None);

    // Reopened from the commit, then emptied again.
    let updates = trie.commit();
    assert_eq!(updates.root, expected);
    let mut store = MemoryNodeStore::default();
    store.insert_nodes(updates.hashed_nodes());
    let mut trie = Trie::new(&store, expected);
    assert_eq!(
        trie.get(b"dogglesworth").unwrap().as_deref(),
        Some(&b"cat"[..])
    );
    for key in [&b"dog"[..], b"doe", b"dogglesworth"] {
        trie.remove(key).unwrap();
    }
    assert_eq!(trie.root(), EMPTY_ROOT_HASH);
}

#[test]
fn small_root_is_committed() {
    // A root under 32 bytes is still stored under keccak(rlp).
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    trie.insert(&[1], vec![2]).unwrap();
    let updates = trie.commit();
    assert_eq!(updates.nodes.len(), 1);
    let (path, hash, rlp) = &updates.nodes[0];
    assert!(path.is_empty());
    assert!(rlp.len() < 32);
    assert_eq!(*hash, keccak256(rlp));
    assert_eq!(*hash, updates.root);

    // An unchanged, loaded root is emitted again; nothing else is.
    let mut store = MemoryNodeStore::default();
    store.insert_nodes(updates.clone().hashed_nodes());
    let mut trie = Trie::new(&store, updates.root);
    assert_eq!(trie.get(&[1]).unwrap(), Some(vec![2]));
    assert_eq!(trie.commit(), updates);
}

#[test]
fn rewriting_same_value_keeps_commit_empty() {
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    for i in 0..100u8 {
        trie.insert(keccak256([i]).as_slice(), vec![i; 40]).unwrap();
    }
    let first = trie.commit();
    trie.insert(keccak256([7u8]).as_slice(), vec![7; 40])
        .unwrap();
    let second = trie.commit();
    assert_eq!(second.root, first.root);
    // Only the root is re-emitted.
    assert_eq!(second.nodes.len(), 1);
}

fn check_commit(updates: &keel_trie::TrieUpdates) {
    for (_, hash, rlp) in &updates.nodes {
        assert_eq!(*hash, keccak256(rlp));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fixed_keys_match_hash_builder(keys in fixed_keys(), ops in ops()) {
        let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        let mut model = Model::new();
        // Hash midway too, so caching across root() calls is exercised.
        let (a, b) = ops.split_at(ops.len() / 2);
        apply(&mut trie, &mut model, &keys, a).unwrap();
        prop_assert_eq!(trie.root(), hash_builder_root(&model));
        apply(&mut trie, &mut model, &keys, b).unwrap();
        prop_assert_eq!(trie.root(), hash_builder_root(&model));
        for key in &keys {
            prop_assert_eq!(trie.get(key).unwrap(), model.get(key).cloned());
        }
    }

    #[test]
    fn short_keys_match_reference(keys in short_keys(), ops in ops()) {
        let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        let mut model = Model::new();
        apply(&mut trie, &mut model, &keys, &ops).unwrap();
        prop_assert_eq!(trie.root(), reference_root(&model));
        for key in &keys {
            prop_assert_eq!(trie.get(key).unwrap(), model.get(key).cloned());
        }
    }

    /// Commit in rounds, reopening a fresh trie from the accumulated store
    /// each time: commits must carry everything a reopened trie needs.
    #[test]
    fn commit_reopen_rounds(
        keys in prop_oneof![fixed_keys(), short_keys()],
        rounds in prop::collection::vec(ops(), 1..5),
    ) {
        let fixed = keys.iter().all(|k| k.len() == 32);
        let mut store = MemoryNodeStore::default();
        let mut model = Model::new();
        let mut root = EMPTY_ROOT_HASH;
        // A long-lived trie committing each round, next to fresh reopened ones.
        let mut long_lived = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        for ops in &rounds {
            let mut long_model = model.clone();
            apply(&mut long_lived, &mut long_model, &keys, ops).unwrap();
            let long_updates = long_lived.commit();
            check_commit(&long_updates);

            let mut trie = Trie::new(&store, root);
            apply(&mut trie, &mut model, &keys, ops).unwrap();
            let expected = if fixed { hash_builder_root(&model) } else { reference_root(&model) };
            prop_assert_eq!(trie.root(), expected);
            let updates = trie.commit();
            check_commit(&updates);
            prop_assert_eq!(updates.root, expected);
            prop_assert_eq!(long_updates.root, expected);
            // A second commit with no changes adds nothing but the root.
            let again = trie.commit();
            prop_assert_eq!(again.root, expected);
            prop_assert!(again.nodes.len() <= 1);
            store.insert_nodes(updates.hashed_nodes());
            root = expected;
        }
        // Everything is reachable from the final store alone.
        let mut trie = Trie::new(&store, root);
        for key in &keys {
            prop_assert_eq!(trie.get(key).unwrap(), model.get(key).cloned());
        }
    }
}
