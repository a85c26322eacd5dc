//! The state-root pattern of block import, on the trie alone: a trie of N accounts in a node
//! store, then blocks of random account updates, each on a fresh trie opened at the last root
//! (cold: nodes load from the store) — update, root, commit.

use std::time::{Duration, Instant};

use alloy_primitives::{B256, keccak256};
use keel_trie::{EMPTY_ROOT_HASH, EmptyNodeStore, MemoryNodeStore, Trie, TrieError};

/// Timings of one run.
#[derive(Debug, Default)]
pub struct TrieBenchReport {
    pub build: Duration,
    pub nodes: usize,
    /// Per block: (update, root, commit).
    pub blocks: Vec<(Duration, Duration, Duration)>,
}

fn key(i: u32) -> B256 {
    keccak256(i.to_be_bytes())
}

/// An account-sized value (an RLP list of 70 bytes) that differs per account and block.
fn value(i: u32, block: u32) -> Vec<u8> {
    let mut v = vec![0xf8, 0x44];
    v.extend(keccak256([i.to_be_bytes(), block.to_be_bytes()].concat()).as_slice());
    v.extend([0u8; 36]);
    v
}

/// Build a trie of `accounts` leaves, then run `blocks` blocks of `updates` updates each.
pub fn run(accounts: u32, updates: u32, blocks: u32) -> Result<TrieBenchReport, TrieError> {
    let mut report = TrieBenchReport::default();
    let start = Instant::now();
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    for i in 0..accounts {
        trie.insert(key(i).as_slice(), value(i, 0))?;
    }
    let initial = trie.commit();
    report.build = start.elapsed();
    report.nodes = initial.nodes.len();
    let mut root = initial.root;
    let mut store = MemoryNodeStore::default();
    store.insert_nodes(initial.hashed_nodes());

    for block in 1..=blocks {
        let batch: Vec<_> = (0..updates)
            .map(|j| {
                (j.wrapping_mul(7919)
                    .wrapping_add(block.wrapping_mul(104_729)))
                    % accounts
            })
            .map(|i| (key(i), value(i, block)))
            .collect();
        let start = Instant::now();
        let mut trie = Trie::new(&store, root);
        for (k, v) in batch {
            trie.insert(k.as_slice(), v)?;
        }
        let t_update = start.elapsed();
        trie.root();
        let t_root = start.elapsed();
        let committed = trie.commit();
        let t_commit = start.elapsed();
        report
            .blocks
            .push((t_update, t_root - t_update, t_commit - t_root));
        root = committed.root;
        store.insert_nodes(committed.hashed_nodes());
    }
    Ok(report)
}
