//! The transaction hashes of recent blocks, kept in memory. A log query names each matching
//! log's transaction by hash, and hashing a block's transactions again (decode, then a keccak
//! each) was most of a log query's time. Keyed by block hash, so an entry can never be stale.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
};

use alloy_primitives::B256;
use parking_lot::Mutex;

/// Blocks' transaction hashes, the oldest dropped past [`TxHashCache::capacity`] hashes.
#[derive(Debug)]
pub(crate) struct TxHashCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    blocks: HashMap<B256, Arc<[B256]>>,
    /// Insertion order, for eviction.
    order: VecDeque<B256>,
    /// Hashes held.
    len: usize,
}

impl TxHashCache {
    /// 32 MiB of hashes.
    pub(crate) const DEFAULT_CAPACITY: usize = 1 << 20;

    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::default(),
        }
    }

    pub(crate) fn get(&self, block: &B256) -> Option<Arc<[B256]>> {
        self.inner.lock().blocks.get(block).cloned()
    }

    pub(crate) fn insert(&self, block: B256, hashes: Arc<[B256]>) {
        if hashes.len() > self.capacity {
            return;
        }
        let mut inner = self.inner.lock();
        let added = hashes.len();
        if inner.blocks.insert(block, hashes).is_some() {
            return;
        }
        inner.order.push_back(block);
        inner.len += added;
        while inner.len > self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            if let Some(evicted) = inner.blocks.remove(&oldest) {
                inner.len -= evicted.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_blocks_within_capacity() {
        let cache = TxHashCache::new(4);
        let block = |i: u8| B256::repeat_byte(i);
        let hashes = |n: usize| -> Arc<[B256]> { vec![B256::ZERO; n].into() };
        cache.insert(block(1), hashes(2));
        cache.insert(block(2), hashes(2));
        assert_eq!(cache.get(&block(1)).map(|h| h.len()), Some(2));
        cache.insert(block(3), hashes(1));
        assert!(cache.get(&block(1)).is_none(), "oldest evicted");
        assert_eq!(cache.get(&block(2)).map(|h| h.len()), Some(2));
        assert_eq!(cache.get(&block(3)).map(|h| h.len()), Some(1));
        cache.insert(block(4), hashes(5));
        assert!(
            cache.get(&block(4)).is_none(),
            "larger than the cache: not kept"
        );
    }
}
