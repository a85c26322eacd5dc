//! The pool's bookkeeping: transactions by hash and, per sender, by nonce. A sender's
//! transactions from its on-chain nonce up to the first gap are *pending* (ready for the next
//! block); the rest are *queued* until the gap is filled.

use std::{
    cmp::Ordering,
    collections::{BTreeMap, BinaryHeap, HashMap, HashSet},
    sync::Arc,
};

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, U256};
use keel_evm::{SkipReason, TxSource};
use keel_types::Transaction;

/// A transaction in the pool, with what admission worked out about it.
#[derive(Debug)]
pub struct PooledTx {
    pub hash: B256,
    pub sender: Address,
    pub tx: Transaction,
    pub nonce: u64,
    /// Max fee per gas (the gas price for legacy and EIP-2930 txs).
    pub max_fee: u128,
    /// Max priority fee per gas (the gas price for legacy and EIP-2930 txs).
    pub max_tip: u128,
    /// Encoded size in bytes.
    pub size: usize,
    /// Arrival order, to break ties between equally paying transactions (first come first served).
    pub(crate) seq: u64,
}

impl PooledTx {
    /// The tip per gas this transaction pays at `base_fee`, or `None` if it can't pay the base fee.
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        let base_fee = u128::from(base_fee);
        (self.max_fee >= base_fee).then(|| self.max_tip.min(self.max_fee - base_fee))
    }
}

/// One sender's transactions and the nonce its account has on chain. Change them through
/// [`SenderTxs::insert`], [`SenderTxs::remove`] and [`SenderTxs::spend_below`], which keep the
/// length of the pending run.
#[derive(Debug, Default)]
pub(crate) struct SenderTxs {
    pub state_nonce: u64,
    pub txs: BTreeMap<u64, Arc<PooledTx>>,
    /// Length of the pending run (from `state_nonce` up to the first gap).
    pending: usize,
}

impl SenderTxs {
    /// The pending run: transactions from the state nonce up to the first gap.
    pub fn pending(&self) -> impl Iterator<Item = &Arc<PooledTx>> {
        let mut expected = self.state_nonce;
        self.txs
            .range(self.state_nonce..)
            .map_while(move |(nonce, tx)| {
                (*nonce == expected).then(|| {
                    expected += 1;
                    tx
                })
            })
    }

    /// Length of the pending run (kept, not counted).
    pub fn pending_len(&self) -> usize {
        self.pending
    }

    /// The first nonce after the pending run.
    fn pending_end(&self) -> u64 {
        self.state_nonce + self.pending as u64
    }

    /// Add `tx` (replacing the one at its nonce, returned).
    pub fn insert(&mut self, tx: Arc<PooledTx>) -> Option<Arc<PooledTx>> {
        let nonce = tx.nonce;
        let old = self.txs.insert(nonce, tx);
        if old.is_none() && nonce == self.pending_end() {
            // Fills the gap: the run grows over the queued transactions that follow.
            self.pending += 1;
            while self.txs.contains_key(&self.pending_end()) {
                self.pending += 1;
            }
        }
        old
    }

    /// Take out the transaction at `nonce`.
    pub fn remove(&mut self, nonce: u64) -> Option<Arc<PooledTx>> {
        let removed = self.txs.remove(&nonce)?;
        if nonce >= self.state_nonce && nonce < self.pending_end() {
            // Opens a gap: the run ends before it.
            self.pending = (nonce - self.state_nonce) as usize;
        }
        Some(removed)
    }

    /// Set the account nonce without dropping anything (the run is counted again if it moved).
    pub fn set_state_nonce(&mut self, nonce: u64) {
        if nonce != self.state_nonce {
            self.state_nonce = nonce;
            self.pending = self.pending().count();
        }
    }

    /// The account nonce is now `nonce`: returns the transactions below it (spent).
    pub fn spend_below(&mut self, nonce: u64) -> BTreeMap<u64, Arc<PooledTx>> {
        let keep = self.txs.split_off(&nonce);
        let stale = std::mem::replace(&mut self.txs, keep);
        let end = self.pending_end();
        if nonce >= self.state_nonce && nonce <= end {
            self.pending = (end - nonce) as usize;
            self.state_nonce = nonce;
        } else {
            self.state_nonce = nonce;
            self.pending = self.pending().count();
        }
        stale
    }
}

#[derive(Debug, Default)]
pub(crate) struct Pool {
    pub by_hash: HashMap<B256, Arc<PooledTx>>,
    pub senders: HashMap<Address, SenderTxs>,
    pub next_seq: u64,
    /// Pending transactions (sum of every sender's pending run), kept as senders change so that
    /// [`Pool::counts`] costs nothing: each change re-walks only the changed sender's run.
    pending: usize,
    /// The sender of each transaction admitted since the last block, by arrival `seq`: a block
    /// being built takes what arrived after its candidates from the senders here
    /// ([`BestTransactions::arrived_since`]), not from the whole pool.
    pub arrivals: Vec<(u64, Address)>,
}

impl Pool {
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Change `sender`'s transactions with `f` (the entry is made with `state_nonce` if the sender
    /// has none), keeping the pending count right. An entry left empty is dropped. `by_hash` is
    /// the caller's to update.
    pub fn with_sender<R>(
        &mut self,
        sender: Address,
        state_nonce: u64,
        f: impl FnOnce(&mut SenderTxs) -> R,
    ) -> R {
        let entry = self.senders.entry(sender).or_insert_with(|| SenderTxs {
            state_nonce,
            ..Default::default()
        });
        let before = entry.pending_len();
        let result = f(entry);
        let after = entry.pending_len();
        if entry.txs.is_empty() {
            self.senders.remove(&sender);
        }
        self.pending = self.pending - before + after;
        result
    }

    /// Take `tx` out of the pool.
    pub fn remove(&mut self, hash: &B256) -> Option<Arc<PooledTx>> {
        let tx = self.by_hash.remove(hash)?;
        if self.senders.contains_key(&tx.sender) {
            self.with_sender(tx.sender, 0, |sender| {
                if sender.txs.get(&tx.nonce).is_some_and(|t| t.hash == *hash) {
                    sender.remove(tx.nonce);
                }
            });
        }
        Some(tx)
    }

    /// Record that `sender`'s account nonce is now `nonce`: its transactions below it are spent
    /// (included, or replaced by another at that nonce) and leave the pool. Returns how many left.
    pub fn set_state_nonce(&mut self, sender: Address, nonce: u64) -> usize {
        if !self.senders.contains_key(&sender) {
            return 0;
        }
        let stale = self.with_sender(sender, nonce, |entry| entry.spend_below(nonce));
        for tx in stale.values() {
            self.by_hash.remove(&tx.hash);
        }
        stale.len()
    }

    /// The cheapest transaction that could be evicted without opening a nonce gap: the
    /// highest-nonce transaction of some sender, lowest max fee first, newest first on ties.
    pub fn cheapest_evictable(&self) -> Option<&Arc<PooledTx>> {
        self.senders
            .values()
            .filter_map(|s| s.txs.values().next_back())
            .min_by(|a, b| a.max_fee.cmp(&b.max_fee).then(b.seq.cmp(&a.seq)))
    }

    /// Pending and queued transactions.
    pub fn counts(&self) -> (usize, usize) {
        (self.pending, self.len() - self.pending)
    }

    /// [`Pool::counts`] recounted from every sender, for tests of the kept count.
    #[cfg(test)]
    pub fn recount(&self) -> (usize, usize) {
        let pending: usize = self.senders.values().map(|s| s.pending().count()).sum();
        (pending, self.len() - pending)
    }
}

/// The pending transactions at one moment, offered best first: by effective tip at the block's
/// base fee, each sender's in nonce order (the best sender's next transaction competes with the
/// other senders' heads). Used by the block producer as the block's [`TxSource`].
#[derive(Debug)]
pub struct BestTransactions {
    base_fee: u64,
    /// Each sender's pending run, in nonce order.
    runs: Vec<Vec<Arc<PooledTx>>>,
    /// Heads of the runs still offered: (tip, seq, run index, position in the run).
    heap: BinaryHeap<Head>,
    /// Senders whose later transactions must not be offered in this block.
    stopped: HashSet<Address>,
    /// Transactions the builder found invalid: the pool drops them after the block.
    pub invalid: Vec<(B256, Address, String)>,
}

#[derive(Debug, PartialEq, Eq)]
struct Head {
    tip: u128,
    seq: u64,
    run: usize,
    pos: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        // Higher tip first; on equal tips the earlier arrival.
        self.tip
            .cmp(&other.tip)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl BestTransactions {
    pub(crate) fn new(pool: &Pool, base_fee: u64) -> Self {
        let mut best = Self {
            base_fee,
            runs: Vec::with_capacity(pool.senders.len()),
            heap: BinaryHeap::with_capacity(pool.senders.len()),
            stopped: HashSet::new(),
            invalid: Vec::new(),
        };
        for sender in pool.senders.values() {
            let run: Vec<_> = sender.pending().cloned().collect();
            if !run.is_empty() {
                best.runs.push(run);
                best.push_head(best.runs.len() - 1, 0);
            }
        }
        best
    }

    /// The candidates among what arrived since arrival `since` (see [`Pool::arrivals`]): the
    /// runs, from `next_nonce` on, of the senders that sent something since, except `stopped`
    /// ones. For the rest of a block whose earlier candidates were all offered.
    pub(crate) fn arrived_since(
        pool: &Pool,
        base_fee: u64,
        since: u64,
        next_nonce: &HashMap<Address, u64>,
        stopped: &HashSet<Address>,
    ) -> Self {
        let first = pool.arrivals.partition_point(|(seq, _)| *seq < since);
        let senders: HashSet<Address> = pool.arrivals[first..].iter().map(|(_, a)| *a).collect();
        let mut best = Self {
            base_fee,
            runs: Vec::with_capacity(senders.len()),
            heap: BinaryHeap::with_capacity(senders.len()),
            stopped: HashSet::new(),
            invalid: Vec::new(),
        };
        for address in senders {
            if stopped.contains(&address) {
                continue;
            }
            let Some(sender) = pool.senders.get(&address) else {
                continue;
            };
            let from = next_nonce
                .get(&address)
                .copied()
                .unwrap_or(0)
                .max(sender.state_nonce);
            let mut expected = from;
            let run: Vec<_> = sender
                .txs
                .range(from..)
                .map_while(|(nonce, tx)| {
                    (*nonce == expected).then(|| {
                        expected += 1;
                        tx.clone()
                    })
                })
                .collect();
            if !run.is_empty() {
                best.runs.push(run);
                best.push_head(best.runs.len() - 1, 0);
            }
        }
        best
    }

    /// Queue the run's transaction at `pos` if it can pay the base fee; a sender whose next
    /// transaction can't pay has nothing more to offer in this block.
    fn push_head(&mut self, run: usize, pos: usize) {
        if let Some(tx) = self.runs[run].get(pos)
            && let Some(tip) = tx.effective_tip(self.base_fee)
        {
            self.heap.push(Head {
                tip,
                seq: tx.seq,
                run,
                pos,
            });
        }
    }

    /// Candidates still on offer.
    pub fn remaining(&self) -> usize {
        self.heap.len()
    }
}

impl Iterator for BestTransactions {
    type Item = Arc<PooledTx>;

    fn next(&mut self) -> Option<Arc<PooledTx>> {
        loop {
            let head = self.heap.pop()?;
            let tx = self.runs[head.run][head.pos].clone();
            if self.stopped.contains(&tx.sender) {
                continue;
            }
            self.push_head(head.run, head.pos + 1);
            return Some(tx);
        }
    }
}

impl TxSource for BestTransactions {
    fn next_tx(&mut self) -> Option<(Transaction, Address)> {
        self.next().map(|tx| (tx.tx.clone(), tx.sender))
    }

    fn skipped(&mut self, tx_hash: B256, sender: Address, reason: SkipReason) {
        self.stopped.insert(sender);
        if let SkipReason::Invalid(why) = reason {
            self.invalid.push((tx_hash, sender, why));
        }
    }
}

/// What a transaction costs its sender at most: gas limit × max fee + value.
pub(crate) fn max_cost(tx: &Transaction) -> U256 {
    U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas()) + tx.value()
}
