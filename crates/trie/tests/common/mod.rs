//! Shared test helpers: reference roots and op strategies.
#![allow(dead_code)]

use std::collections::BTreeMap;

use alloy_primitives::{B256, keccak256};
use alloy_rlp::{BufMut, EMPTY_STRING_CODE, Encodable, Header};
use alloy_trie::{
    HashBuilder, Nibbles,
    nodes::{ExtensionNodeRef, LeafNodeRef},
};
use keel_trie::{NodeStore, Trie, TrieError};
use proptest::prelude::*;

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Root via alloy's HashBuilder; keys must be prefix-free (fixed length).
pub fn hash_builder_root(model: &Model) -> B256 {
    let mut hb = HashBuilder::default();
    for (k, v) in model {
        hb.add_leaf(Nibbles::unpack(k), v);
    }
    hb.root()
}

/// Naive recursive MPT root supporting keys that are prefixes of others.
pub fn reference_root(model: &Model) -> B256 {
    if model.is_empty() {
        return alloy_trie::EMPTY_ROOT_HASH;
    }
    let items: Vec<(Vec<u8>, &[u8])> = model
        .iter()
        .map(|(k, v)| (Nibbles::unpack(k).to_vec(), v.as_slice()))
        .collect();
    keccak256(encode(&items, 0))
}

fn encode(items: &[(Vec<u8>, &[u8])], depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    if let [(key, value)] = items {
        let key = Nibbles::from_nibbles(&key[depth..]);
        LeafNodeRef::new(&key, value).encode(&mut out);
        return out;
    }
    // Longest prefix shared by all keys below `depth`.
    let first = &items[0].0;
    let common = items
        .iter()
        .map(|(k, _)| {
            first[depth..]
                .iter()
                .zip(&k[depth..])
                .take_while(|(a, b)| a == b)
                .count()
        })
        .min()
        .unwrap();
    if common > 0 {
        let key = Nibbles::from_nibbles(&first[depth..depth + common]);
        let child = reference(encode(items, depth + common));
        ExtensionNodeRef::new(&key, &child).encode(&mut out);
        return out;
    }
    let mut value: Option<&[u8]> = None;
    let mut children: Vec<Vec<u8>> = vec![vec![EMPTY_STRING_CODE]; 16];
    for nibble in 0..16u8 {
        let group: Vec<_> = items
            .iter()
            .filter(|(k, _)| k.get(depth) == Some(&nibble))
            .cloned()
            .collect();
        if !group.is_empty() {
            children[nibble as usize] = reference(encode(&group, depth + 1));
        }
    }
    for (k, v) in items {
        if k.len() == depth {
            value = Some(v);
        }
    }
    let mut payload = Vec::new();
    for c in &children {
        payload.put_slice(c);
    }
    match value {
        Some(v) => v.encode(&mut payload),
        None => payload.put_u8(EMPTY_STRING_CODE),
    }
    Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend(payload);
    out
}

fn reference(rlp: Vec<u8>) -> Vec<u8> {
    if rlp.len() < 32 {
        rlp
    } else {
        let mut out = Vec::new();
        keccak256(&rlp).encode(&mut out);
        out
    }
}

/// One trie operation: key index into a pool, and a value (empty = remove).
#[derive(Debug, Clone)]
pub enum Op {
    Set(usize, Vec<u8>),
    Get(usize),
}

/// Key bytes from a tiny alphabet, so keys share long prefixes (extensions,
/// deep branches, short leaves that get inlined).
pub fn clustered_byte() -> impl Strategy<Value = u8> {
    prop::sample::select(vec![0x00u8, 0x01, 0x10, 0xff])
}

pub fn fixed_keys() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let random = prop::collection::vec(any::<u8>(), 32);
    let clustered = prop::collection::vec(clustered_byte(), 32);
    prop::collection::vec(prop_oneof![random, clustered], 1..48)
}

pub fn short_keys() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(clustered_byte(), 0..4), 1..32)
}

/// Values: empty (removal), tiny (inline nodes) or long (hashed nodes).
pub fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(Vec::new()),
        3 => prop::collection::vec(any::<u8>(), 1..4),
        2 => prop::collection::vec(any::<u8>(), 20..70),
    ]
}

pub fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (any::<prop::sample::Index>(), value()).prop_map(|(i, v)| Op::Set(i.index(1 << 20), v)),
        1 => any::<prop::sample::Index>().prop_map(|i| Op::Get(i.index(1 << 20))),
    ];
    prop::collection::vec(op, 0..120)
}

/// Applies ops to trie and model, checking every get against the model.
pub fn apply<S: NodeStore>(
    trie: &mut Trie<S>,
    model: &mut Model,
    keys: &[Vec<u8>],
    ops: &[Op],
) -> Result<(), TrieError> {
    for op in ops {
        match op {
            Op::Set(i, v) => {
                let key = &keys[i % keys.len()];
                trie.insert(key, v.clone())?;
                if v.is_empty() {
                    model.remove(key);
                } else {
                    model.insert(key.clone(), v.clone());
                }
            }
            Op::Get(i) => {
                let key = &keys[i % keys.len()];
                assert_eq!(trie.get(key)?, model.get(key).cloned(), "get {key:02x?}");
            }
        }
    }
    Ok(())
}
