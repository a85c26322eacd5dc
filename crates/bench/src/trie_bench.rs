//! The state-root pattern of block import, on the trie alone: a trie of N accounts in a node
//! store, then blocks of random account updates, each on a fresh trie opened at the last root
//! (cold: nodes load from the store) — update, root, commit, and for an on-disk store the write.
//!
//! The node store is one of three ([`NodeTable`]): in memory by hash, or a redb table keyed by
//! nibble path (the node's `account_trie` layout: overwritten in place, unreachable nodes
//! deleted) or by hash (the layout before it: every node kept).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use alloy_primitives::{B256, keccak256};
use keel_storage::NodeCache;
use keel_trie::{
    EMPTY_ROOT_HASH, EmptyNodeStore, MemoryNodeStore, Nibbles, NodeStore, Trie, TrieError,
    TrieUpdates, check_node,
};
use redb::{Database, ReadTransaction, ReadableDatabase, TableDefinition};

/// Where the bench keeps the trie's nodes between blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NodeTable {
    /// A hash map in memory (no I/O: the trie's own cost).
    Memory,
    /// redb, nibble path → node, overwritten in place, removed nodes deleted (schema 5).
    RedbPath,
    /// redb, keccak256(node) → node, never deleted (schema 4 and before).
    RedbHash,
}

const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nodes");

/// Timings of one run.
#[derive(Debug, Default)]
pub struct TrieBenchReport {
    pub build: Duration,
    pub nodes: usize,
    /// Per block: (update, root, commit, write). `write` is zero for the in-memory table.
    pub blocks: Vec<BlockTimes>,
    /// The database file's size at the end (redb tables).
    pub file_bytes: Option<u64>,
}

/// The phases of one block.
#[derive(Debug, Default, Clone, Copy)]
pub struct BlockTimes {
    pub update: Duration,
    pub root: Duration,
    pub commit: Duration,
    pub write: Duration,
}

/// A redb node table read through one read transaction, by path with the node's upper-level
/// cache when one is given.
struct RedbNodes<'c> {
    txn: ReadTransaction,
    by_path: bool,
    cache: Option<&'c NodeCache>,
}

impl NodeStore for RedbNodes<'_> {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, TrieError> {
        let err = |e: String| TrieError::Store(e);
        let table = self.txn.open_table(NODES).map_err(|e| err(e.to_string()))?;
        if self.by_path {
            if let Some(rlp) = self.cache.and_then(|c| c.get(path, hash)) {
                return Ok(Some(rlp));
            }
            let v = table
                .get(path.to_vec().as_slice())
                .map_err(|e| err(e.to_string()))?;
            let Some(v) = v else { return Ok(None) };
            let rlp = check_node(owner, path, hash, v.value().to_vec())?;
            if let Some(cache) = self.cache {
                cache.insert(path, *hash, &rlp);
            }
            Ok(Some(rlp))
        } else {
            let v = table.get(hash.as_slice()).map_err(|e| err(e.to_string()))?;
            Ok(v.map(|v| v.value().to_vec()))
        }
    }
}

/// Write one commit's nodes to the redb table in one durable transaction.
fn write_redb(db: &Database, by_path: bool, updates: &TrieUpdates) -> eyre::Result<()> {
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(NODES)?;
        if by_path {
            for path in &updates.removed {
                table.remove(path.to_vec().as_slice())?;
            }
            for (path, _, rlp) in &updates.nodes {
                table.insert(path.to_vec().as_slice(), rlp.as_slice())?;
            }
        } else {
            for (_, hash, rlp) in &updates.nodes {
                table.insert(hash.as_slice(), rlp.as_slice())?;
            }
        }
    }
    txn.commit()?;
    Ok(())
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

/// The leaves block `block` updates (spread over the whole trie).
fn block_batch(accounts: u32, updates: u32, block: u32) -> Vec<(B256, Vec<u8>)> {
    (0..updates)
        .map(|j| {
            (j.wrapping_mul(7919)
                .wrapping_add(block.wrapping_mul(104_729)))
                % accounts
        })
        .map(|i| (key(i), value(i, block)))
        .collect()
}

/// Update, root and commit one block on `trie`.
fn run_block<S: NodeStore>(
    mut trie: Trie<S>,
    batch: Vec<(B256, Vec<u8>)>,
    started: Instant,
) -> Result<(TrieUpdates, BlockTimes), TrieError> {
    for (k, v) in batch {
        trie.insert(k.as_slice(), v)?;
    }
    let t_update = started.elapsed();
    trie.root();
    let t_root = started.elapsed();
    let committed = trie.commit();
    let t_commit = started.elapsed();
    let times = BlockTimes {
        update: t_update,
        root: t_root - t_update,
        commit: t_commit - t_root,
        write: Duration::ZERO,
    };
    Ok((committed, times))
}

/// Build a trie of `accounts` leaves into `table` (a redb file in `dir` for the redb tables),
/// then run `blocks` blocks of `updates` updates each. `cache_depth` gives the by-path table the
/// node's [`NodeCache`] of that depth (as `Store` has), `None` none.
pub fn run(
    accounts: u32,
    updates: u32,
    blocks: u32,
    table: NodeTable,
    cache_depth: Option<usize>,
    dir: &Path,
) -> eyre::Result<TrieBenchReport> {
    let mut report = TrieBenchReport::default();
    let start = Instant::now();
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    for i in 0..accounts {
        trie.insert(key(i).as_slice(), value(i, 0))?;
    }
    let mut initial = trie.commit();
    drop(trie);
    report.nodes = initial.nodes.len();
    let mut root = initial.root;

    if table == NodeTable::Memory {
        report.build = start.elapsed();
        let mut store = MemoryNodeStore::default();
        store.insert_nodes(initial.hashed_nodes());
        for block in 1..=blocks {
            let batch = block_batch(accounts, updates, block);
            let started = Instant::now();
            let (committed, times) = run_block(Trie::new(&store, root), batch, started)?;
            report.blocks.push(times);
            root = committed.root;
            store.insert_nodes(committed.hashed_nodes());
        }
        return Ok(report);
    }

    let by_path = table == NodeTable::RedbPath;
    let file = dir.join("trie.redb");
    let db = Database::builder()
        .set_cache_size(512 << 20)
        .create(&file)?;
    // Loaded in key order, as a bulk load would be (not timed per block).
    if by_path {
        initial.nodes.sort_unstable_by_key(|a| a.0);
    } else {
        initial.nodes.sort_unstable_by_key(|a| a.1);
    }
    write_redb(&db, by_path, &initial)?;
    drop(initial);
    report.build = start.elapsed();
    let cache = cache_depth.filter(|_| by_path).map(NodeCache::new);
    for block in 1..=blocks {
        let batch = block_batch(accounts, updates, block);
        let started = Instant::now();
        let nodes = RedbNodes {
            txn: db.begin_read()?,
            by_path,
            cache: cache.as_ref(),
        };
        let (committed, mut times) = run_block(Trie::new(nodes, root), batch, started)?;
        let written = Instant::now();
        write_redb(&db, by_path, &committed)?;
        if let Some(cache) = &cache {
            cache.apply(&committed.nodes, &committed.removed);
        }
        times.write = written.elapsed();
        report.blocks.push(times);
        root = committed.root;
    }
    drop(db);
    report.file_bytes = Some(std::fs::metadata(&file)?.len());
    Ok(report)
}
