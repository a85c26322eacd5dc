//! Rough timing of the block-import pattern; run with
//! `cargo test -p keel-trie --release --test perf -- --ignored --nocapture`.

use std::time::Instant;

use alloy_primitives::keccak256;
use keel_trie::{EMPTY_ROOT_HASH, EmptyNodeStore, MemoryNodeStore, Trie};

#[test]
#[ignore = "timing only"]
fn block_import_timing() {
    let accounts = 100_000u32;
    let key = |i: u32| keccak256(i.to_be_bytes());
    let value = |i: u32, block: u32| {
        let mut v = vec![0xf8, 0x44];
        v.extend(keccak256([i.to_be_bytes(), block.to_be_bytes()].concat()).as_slice());
        v.extend([0u8; 36]);
        v
    };

    let start = Instant::now();
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    for i in 0..accounts {
        trie.insert(key(i).as_slice(), value(i, 0)).unwrap();
    }
    let updates = trie.commit();
    println!(
        "build {accounts} + commit: {:?} ({} nodes)",
        start.elapsed(),
        updates.nodes.len()
    );
    let mut store = MemoryNodeStore::default();
    store.insert_nodes(updates.nodes);
    let mut root = updates.root;

    // Fresh trie per block (cold), 1000 updates, root, commit.
    for block in 1..=5u32 {
        let batch: Vec<_> = (0..1000u32)
            .map(|j| (j * 7919 + block * 104_729) % accounts)
            .map(|i| (key(i), value(i, block)))
            .collect();
        let start = Instant::now();
        let mut trie = Trie::new(&store, root);
        for (k, v) in batch {
            trie.insert(k.as_slice(), v).unwrap();
        }
        let t_update = start.elapsed();
        let new_root = trie.root();
        let t_root = start.elapsed();
        let updates = trie.commit();
        let t_commit = start.elapsed();
        println!(
            "cold block {block}: updates {t_update:?}, +root {:?}, +commit {:?} ({} nodes)",
            t_root - t_update,
            t_commit - t_root,
            updates.nodes.len()
        );
        assert_eq!(updates.root, new_root);
        store.insert_nodes(updates.nodes);
        root = new_root;
    }

    // Long-lived warm trie across blocks.
    let mut trie = Trie::new(&store, root);
    for block in 6..=10u32 {
        let batch: Vec<_> = (0..1000u32)
            .map(|j| (j * 7919 + block * 104_729) % accounts)
            .map(|i| (key(i), value(i, block)))
            .collect();
        let start = Instant::now();
        for (k, v) in batch {
            trie.insert(k.as_slice(), v).unwrap();
        }
        let t_update = start.elapsed();
        trie.root();
        let t_root = start.elapsed();
        let updates = trie.commit();
        println!(
            "warm block {block}: updates {t_update:?}, +root {:?}, +commit {:?}",
            t_root - t_update,
            start.elapsed() - t_root
        );
        // Everything the warm trie needs is already in memory.
        drop(updates);
    }
}
