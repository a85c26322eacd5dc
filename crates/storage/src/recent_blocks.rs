//! The blocks written last, kept in memory with what reads of one transaction need: header,
//! transactions and their hashes, senders, receipts with their gas and first log index. A
//! receipt lookup of a recent transaction then costs one read of the store (is its block still
//! canonical?) instead of a dozen, and a log query hashes no transactions. Entries are keyed by
//! block hash, whose content never changes, so none can be stale; canonicality is always read
//! from the snapshot asked.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use alloy_primitives::{Address, B256};
use keel_types::{Header, Transaction};
use parking_lot::Mutex;

use crate::StoredReceipt;

/// A block as [`RecentBlocks`] keeps it.
#[derive(Debug)]
pub struct RecentBlock {
    pub hash: B256,
    pub header: Header,
    pub transactions: Vec<Transaction>,
    pub tx_hashes: Arc<[B256]>,
    pub senders: Vec<Address>,
    pub receipts: Vec<StoredReceipt>,
}

impl RecentBlock {
    /// Its size for the cache's budget: one per block and per transaction.
    fn weight(&self) -> usize {
        1 + self.tx_hashes.len()
    }
}

/// The newest blocks, the oldest dropped past [`RecentBlocks::capacity`] (blocks plus
/// transactions); also blocks' transaction hashes on their own, for log queries over older
/// blocks, within the same budget.
#[derive(Debug)]
pub(crate) struct RecentBlocks {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    blocks: HashMap<B256, Arc<RecentBlock>>,
    /// Transaction hash → (block, index) for the blocks held.
    txs: HashMap<B256, (B256, usize)>,
    /// Transaction hashes of other blocks (read for log queries).
    hashes: HashMap<B256, Arc<[B256]>>,
    /// Insertion order of both maps' blocks, for eviction.
    order: VecDeque<B256>,
    weight: usize,
}

impl Inner {
    fn evict(&mut self, capacity: usize) {
        while self.weight > capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(block) = self.blocks.remove(&oldest) {
                self.weight -= block.weight();
                for hash in block.tx_hashes.iter() {
                    if self.txs.get(hash).is_some_and(|(b, _)| *b == oldest) {
                        self.txs.remove(hash);
                    }
                }
            } else if let Some(hashes) = self.hashes.remove(&oldest) {
                self.weight -= 1 + hashes.len();
            }
        }
    }
}

impl RecentBlocks {
    /// About 50,000 transactions with their receipts (tens of MiB).
    pub(crate) const DEFAULT_CAPACITY: usize = 50_000;

    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// Keep a block just written.
    pub(crate) fn insert(&self, block: RecentBlock) {
        let weight = block.weight();
        if weight > self.capacity {
            return;
        }
        let mut inner = self.inner.lock();
        if inner.blocks.contains_key(&block.hash) {
            return;
        }
        let hash = block.hash;
        for (index, tx) in block.tx_hashes.iter().enumerate() {
            inner.txs.insert(*tx, (hash, index));
        }
        inner.blocks.insert(hash, Arc::new(block));
        inner.order.push_back(hash);
        inner.weight += weight;
        inner.evict(self.capacity);
    }

    pub(crate) fn block(&self, hash: &B256) -> Option<Arc<RecentBlock>> {
        self.inner.lock().blocks.get(hash).cloned()
    }

    /// The block holding transaction `tx`, and its index, if that block is held.
    pub(crate) fn transaction(&self, tx: &B256) -> Option<(Arc<RecentBlock>, usize)> {
        let inner = self.inner.lock();
        let (block, index) = inner.txs.get(tx)?;
        Some((inner.blocks.get(block)?.clone(), *index))
    }

    /// Block `hash`'s transaction hashes, if known.
    pub(crate) fn tx_hashes(&self, hash: &B256) -> Option<Arc<[B256]>> {
        let inner = self.inner.lock();
        if let Some(block) = inner.blocks.get(hash) {
            return Some(block.tx_hashes.clone());
        }
        inner.hashes.get(hash).cloned()
    }

    /// Remember the transaction hashes of a block read from the store.
    pub(crate) fn insert_tx_hashes(&self, hash: B256, hashes: Arc<[B256]>) {
        let weight = 1 + hashes.len();
        if weight > self.capacity {
            return;
        }
        let mut inner = self.inner.lock();
        if inner.blocks.contains_key(&hash) || inner.hashes.contains_key(&hash) {
            return;
        }
        inner.hashes.insert(hash, hashes);
        inner.order.push_back(hash);
        inner.weight += weight;
        inner.evict(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(i: u8, txs: usize) -> RecentBlock {
        RecentBlock {
            hash: B256::repeat_byte(i),
            header: Header::default(),
            transactions: Vec::new(),
            tx_hashes: (0..txs)
                .map(|t| B256::with_last_byte(i.wrapping_mul(16).wrapping_add(t as u8)))
                .collect(),
            senders: vec![Address::ZERO; txs],
            receipts: Vec::new(),
        }
    }

    #[test]
    fn keeps_the_newest_blocks_and_their_transactions_within_capacity() {
        let cache = RecentBlocks::new(6);
        cache.insert(block(1, 2));
        cache.insert(block(2, 2));
        let tx = B256::with_last_byte(16);
        assert_eq!(
            cache.transaction(&tx).map(|(b, i)| (b.hash, i)),
            Some((B256::repeat_byte(1), 0))
        );
        cache.insert(block(3, 1));
        assert!(
            cache.block(&B256::repeat_byte(1)).is_none(),
            "oldest evicted"
        );
        assert!(cache.transaction(&tx).is_none(), "with its transactions");
        assert!(cache.block(&B256::repeat_byte(2)).is_some());
        assert_eq!(
            cache.tx_hashes(&B256::repeat_byte(3)).map(|h| h.len()),
            Some(1)
        );
        cache.insert_tx_hashes(B256::repeat_byte(9), vec![B256::ZERO; 2].into());
        assert!(
            cache.block(&B256::repeat_byte(2)).is_none(),
            "a block of hashes evicts too"
        );
        assert_eq!(
            cache.tx_hashes(&B256::repeat_byte(9)).map(|h| h.len()),
            Some(2)
        );
        cache.insert(block(4, 9));
        assert!(
            cache.block(&B256::repeat_byte(4)).is_none(),
            "larger than the cache"
        );
    }
}
