//! Proof generation and verification, cross-checked with alloy-trie.

mod common;

use alloy_primitives::{B256, Bytes};
use alloy_trie::Nibbles;
use common::*;
use keel_trie::{EMPTY_ROOT_HASH, EmptyNodeStore, MemoryNodeStore, Trie, TrieError, verify_proof};
use proptest::prelude::*;

fn dog_trie() -> Trie<EmptyNodeStore> {
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    trie.insert(b"doe", b"reindeer".to_vec()).unwrap();
    trie.insert(b"dog", b"puppy".to_vec()).unwrap();
    trie.insert(b"dogglesworth", b"cat".to_vec()).unwrap();
    trie
}

#[test]
fn branch_value_proofs() {
    let mut trie = dog_trie();
    let root = trie.root();
    for (key, value) in [
        (&b"dog"[..], Some(&b"puppy"[..])),
        (b"doe", Some(b"reindeer")),
        (b"dogglesworth", Some(b"cat")),
        (b"do", None),
        (b"dogg", None),
        (b"cat", None),
        (b"", None),
    ] {
        let proof = trie.proof(key).unwrap();
        assert_eq!(
            verify_proof(root, key, &proof).unwrap().as_deref(),
            value,
            "{key:?}"
        );
    }
}

#[test]
fn empty_trie_proof() {
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    let proof = trie.proof(b"x").unwrap();
    assert!(proof.is_empty());
    assert_eq!(verify_proof(EMPTY_ROOT_HASH, b"x", &proof).unwrap(), None);
    assert!(verify_proof(B256::repeat_byte(1), b"x", &proof).is_err());
    // The explicit empty node also proves exclusion from the empty root.
    assert_eq!(
        verify_proof(EMPTY_ROOT_HASH, b"x", &[Bytes::from_static(&[0x80])]).unwrap(),
        None
    );
}

#[test]
fn malformed_proofs_error() {
    let mut trie = dog_trie();
    let root = trie.root();
    let proof = trie.proof(b"dog").unwrap();
    let mut extra = proof.clone();
    extra.push(proof[0].clone());
    assert!(verify_proof(root, b"dog", &extra).is_err());
    assert!(verify_proof(root, b"dog", &proof[..proof.len() - 1]).is_err());
    assert!(verify_proof(root, b"dog", &[Bytes::from_static(&[0xff, 0x00])]).is_err());
    assert!(matches!(
        verify_proof(root, &[0; 33], &proof),
        Err(TrieError::KeyTooLong(33))
    ));
}

fn tamper(proof: &[Bytes], which: usize, byte: usize, bit: u8) -> Vec<Bytes> {
    let mut proof = proof.to_vec();
    let i = which % proof.len();
    let mut node = proof[i].to_vec();
    let b = byte % node.len();
    node[b] ^= 1 << (bit % 8);
    proof[i] = node.into();
    proof
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn proofs_verify_and_match_alloy(
        keys in fixed_keys(),
        ops in ops(),
        absent in prop::collection::vec(prop::collection::vec(any::<u8>(), 32), 0..4),
        tweak in (any::<usize>(), any::<usize>(), any::<u8>()),
    ) {
        let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        let mut model = Model::new();
        apply(&mut trie, &mut model, &keys, &ops).unwrap();
        let root = trie.root();

        // Proofs from a trie reopened from the store must be identical.
        let updates = trie.commit();
        let mut store = MemoryNodeStore::default();
        store.insert_nodes(updates.hashed_nodes());
        let mut reopened = Trie::new(&store, root);

        for key in keys.iter().chain(&absent) {
            let expected = model.get(key).cloned();
            let proof = trie.proof(key).unwrap();
            prop_assert_eq!(&reopened.proof(key).unwrap(), &proof);
            prop_assert_eq!(verify_proof(root, key, &proof).unwrap(), expected.clone());
            prop_assert!(
                alloy_trie::proof::verify_proof(root, Nibbles::unpack(key), expected, &proof).is_ok()
            );

            if !proof.is_empty() {
                let (which, byte, bit) = tweak;
                prop_assert!(verify_proof(root, key, &tamper(&proof, which, byte, bit)).is_err());
                prop_assert!(verify_proof(B256::repeat_byte(0x42), key, &proof).is_err());
            }
        }
    }

    #[test]
    fn short_key_proofs_verify(keys in short_keys(), ops in ops()) {
        let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        let mut model = Model::new();
        apply(&mut trie, &mut model, &keys, &ops).unwrap();
        let root = trie.root();
        for key in &keys {
            let proof = trie.proof(key).unwrap();
            prop_assert_eq!(verify_proof(root, key, &proof).unwrap(), model.get(key).cloned());
        }
    }
}
