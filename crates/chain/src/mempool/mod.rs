//! The mempool: admission checks for transactions that arrive over RPC, per-sender pending and
//! queued lists, replacement by fee bump, limits with eviction of the cheapest, and the
//! best-first view the block producer builds from. Privileged (L1→L2) transactions wait apart, in
//! the privileged lane (see [`privileged`] for its rules), and go first in a block.

mod error;
pub mod journal;
mod pool;
pub mod privileged;

use std::sync::Arc;

use alloy_consensus::{Transaction as _, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Sealable};
use keel_evm::{intrinsic_gas, spec_id_at};
use keel_storage::{ChainReader, StateReader, StoreError};
use keel_types::{Block, PrivilegedTx, Transaction, fees::GAS_PRICE_ORACLE_ADDRESS};
use parking_lot::{Condvar, Mutex};
use rayon::prelude::*;
use tokio::sync::broadcast;
use tracing::{debug, error, info, warn};

pub use error::{FeeShortfall, MempoolError};
use journal::Journal;
pub use journal::JournalError;
pub use pool::{BestTransactions, PooledTx};
use pool::{Pool, max_cost};
use privileged::PrivilegedLane;
pub use privileged::{BlockCandidates, PrivilegedLimits};

use crate::Blockchain;

/// Limits and price rules of the pool.
#[derive(Debug, Clone)]
pub struct MempoolConfig {
    /// Transactions in the pool, pending and queued together; past it the cheapest is evicted.
    pub max_txs: usize,
    /// Transactions one sender may have in the pool.
    pub max_per_sender: usize,
    /// A replacement (same sender and nonce) must raise both fee caps by at least this much.
    pub price_bump_percent: u128,
    /// Lowest priority fee per gas accepted.
    pub min_tip: u128,
    /// Largest encoded transaction accepted, in bytes.
    pub max_tx_bytes: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_txs: 200_000,
            max_per_sender: 1_000,
            price_bump_percent: 10,
            min_tip: 0,
            max_tx_bytes: 128 * 1024,
        }
    }
}

/// Pending and queued counts, as `txpool_status` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub pending: usize,
    pub queued: usize,
}

/// Every transaction in the pool, split as `txpool_content` reports it.
#[derive(Debug, Default)]
pub struct PoolContent {
    pub pending: Vec<Arc<PooledTx>>,
    pub queued: Vec<Arc<PooledTx>>,
}

/// How many new-transaction events a slow subscriber may fall behind before it misses some.
const NEW_TX_CAPACITY: usize = 16_384;

const PENDING: &str = "keel_mempool_pending_transactions";
const QUEUED: &str = "keel_mempool_queued_transactions";
const PRIVILEGED: &str = "keel_mempool_privileged_transactions";
const REJECTED: &str = "keel_mempool_rejected_transactions_total";

/// Set the pending and queued gauges.
fn record_counts((pending, queued): (usize, usize)) {
    metrics::gauge!(PENDING).set(pending as f64);
    metrics::gauge!(QUEUED).set(queued as f64);
}

/// Below this many transactions, recovering senders on the rayon pool costs more than it saves.
const PARALLEL_RECOVERY: usize = 4;

/// The L2 mempool. Shared by the RPC server (which adds ordinary transactions), the L1Watcher
/// (which adds privileged ones) and the block producer (which takes both).
#[derive(Debug)]
pub struct Mempool {
    config: MempoolConfig,
    chain: Blockchain,
    pool: Mutex<Pool>,
    privileged: Mutex<PrivilegedLane>,
    /// The L1 block timestamp of privileged transactions by id, as the L1Watcher saw it, until
    /// the block producer takes it for the deposit inclusion lag (a metric only).
    privileged_l1_times: Mutex<std::collections::BTreeMap<u64, u64>>,
    new_txs: broadcast::Sender<B256>,
    /// Admission batches that added something, counted, and a wake-up for the block producer
    /// waiting for new transactions on a blocking thread ([`Mempool::wait_for_arrivals`]).
    arrivals: Mutex<u64>,
    arrived: Condvar,
    /// The write-ahead journal of admitted transactions, once [`Mempool::open_journal`] opened
    /// it. Its lock is never taken while holding the pool's.
    journal: Mutex<Option<Journal>>,
}

/// A transaction that passed the checks that need no state, with its sender.
struct Decoded {
    tx: Transaction,
    sender: Address,
    hash: B256,
    size: usize,
}

/// Most arrivals remembered between two blocks (see `Pool::arrivals`).
const MAX_ARRIVALS: usize = 1 << 20;

impl Mempool {
    /// An empty pool on `chain`. The privileged lane starts at the id after the store's
    /// included marker (if the store can't be read now, at the first privileged push).
    pub fn new(config: MempoolConfig, chain: Blockchain) -> Self {
        let pool = Self {
            config,
            chain,
            pool: Mutex::new(Pool::default()),
            privileged: Mutex::new(PrivilegedLane::default()),
            privileged_l1_times: Mutex::default(),
            new_txs: broadcast::channel(NEW_TX_CAPACITY).0,
            arrivals: Mutex::new(0),
            arrived: Condvar::new(),
            journal: Mutex::new(None),
        };
        pool.init_privileged_lane(&mut pool.privileged.lock());
        pool
    }

    pub fn config(&self) -> &MempoolConfig {
        &self.config
    }

    /// Admit one EIP-2718 encoded signed transaction. Returns its hash.
    pub fn add_raw(&self, raw: &[u8]) -> Result<B256, MempoolError> {
        self.add_raw_batch(&[raw]).pop().unwrap_or_else(|| {
            Err(MempoolError::Internal(
                "no result for the transaction".into(),
            ))
        })
    }

    /// Admit many encoded transactions at once: decoding and signature recovery run in parallel
    /// on the rayon pool, then all are checked against the head state and inserted under one
    /// lock. One result per input, in order. CPU-bound: call it off async executor threads.
    pub fn add_raw_batch<B: AsRef<[u8]> + Sync>(
        &self,
        raws: &[B],
    ) -> Vec<Result<B256, MempoolError>> {
        let decode = |raw: &B| self.decode(raw.as_ref());
        let decoded: Vec<Result<Decoded, MempoolError>> = if raws.len() < PARALLEL_RECOVERY {
            raws.iter().map(decode).collect()
        } else {
            raws.par_iter().map(decode).collect()
        };
        let results = match self.insert_decoded(decoded) {
            Ok(results) => results,
            Err(e) => vec![Err(e); raws.len()],
        };
        for result in &results {
            if let Err(e) = result {
                metrics::counter!(REJECTED, "reason" => e.reason()).increment(1);
            }
        }
        results
    }

    /// The checks that need no state: size, type, encoding, chain id, gas and fee fields, and the
    /// signature.
    fn decode(&self, raw: &[u8]) -> Result<Decoded, MempoolError> {
        let limit = self.config.max_tx_bytes;
        if raw.len() > limit {
            return Err(MempoolError::Oversized {
                size: raw.len(),
                limit,
            });
        }
        match raw.first() {
            Some(0x7e) => return Err(MempoolError::PrivilegedTx),
            Some(0x03) => return Err(MempoolError::BlobTx),
            None => return Err(MempoolError::Decode("empty input".into())),
            _ => {}
        }
        let mut buf = raw;
        // Only Ethereum types: a privileged transaction never enters the pool.
        let tx =
            TxEnvelope::decode_2718(&mut buf).map_err(|e| MempoolError::Decode(e.to_string()))?;
        if !buf.is_empty() {
            return Err(MempoolError::Decode(format!(
                "{} trailing bytes after the transaction",
                buf.len()
            )));
        }
        if tx.is_eip4844() {
            return Err(MempoolError::BlobTx);
        }
        let want = self.chain.spec().chain_id;
        match tx.chain_id() {
            None => return Err(MempoolError::Unprotected),
            Some(got) if got != want => return Err(MempoolError::ChainId { got, want }),
            Some(_) => {}
        }
        if let Some(tip) = tx.max_priority_fee_per_gas()
            && tip > tx.max_fee_per_gas()
        {
            return Err(MempoolError::TipAboveFeeCap);
        }
        let sender = tx.recover_signer().map_err(|_| MempoolError::Signature)?;
        let hash = *tx.tx_hash();
        Ok(Decoded {
            size: tx.encode_2718_len(),
            tx: tx.into(),
            sender,
            hash,
        })
    }

    /// The checks against the head state (nonce, balance, base fee, block gas limit), then
    /// insertion with replacement and eviction rules.
    fn insert_decoded(
        &self,
        decoded: Vec<Result<Decoded, MempoolError>>,
    ) -> Result<Vec<Result<B256, MempoolError>>, MempoolError> {
        let internal = |e: &dyn std::fmt::Display| MempoolError::Internal(e.to_string());
        let reader = self.chain.store().reader().map_err(|e| internal(&e))?;
        let (_, head) = reader
            .head()
            .map_err(|e| internal(&e))?
            .ok_or_else(|| MempoolError::Internal("no head block".into()))?;
        let base_fee = self.chain.spec().next_base_fee(&head);
        let spec_id = spec_id_at(self.chain.spec_arc(), head.timestamp + 1, head.number + 1);
        // On a chain with the L1 fee rule, the fees at the head's prices and scalars (the next
        // block's prices are at most a step away).
        let fee_params = match self.chain.spec().fees {
            Some(_) => Some(
                keel_types::FeeParams::from_storage(|slot| {
                    reader.storage(&GAS_PRICE_ORACLE_ADDRESS, &B256::from(slot))
                })
                .map_err(|e| internal(&e))?,
            ),
            None => None,
        };

        let mut added = Vec::new();
        let mut pool = self.pool.lock();
        let mut results: Vec<Result<B256, MempoolError>> = decoded
            .into_iter()
            .map(|d| {
                let d = d?;
                let hash = d.hash;
                if pool.by_hash.contains_key(&hash) {
                    return Err(MempoolError::AlreadyKnown);
                }
                let gas = d.tx.gas_limit();
                if gas > head.gas_limit {
                    return Err(MempoolError::GasLimit {
                        gas,
                        limit: head.gas_limit,
                    });
                }
                let want = intrinsic_gas(spec_id, &d.tx);
                if gas < want {
                    return Err(MempoolError::IntrinsicGas { have: gas, want });
                }
                let max_fee = d.tx.max_fee_per_gas();
                if max_fee < u128::from(base_fee) {
                    return Err(MempoolError::FeeCapBelowBaseFee {
                        sender: d.sender,
                        max_fee,
                        base_fee,
                    });
                }
                let max_tip = d.tx.max_priority_fee_per_gas().unwrap_or(max_fee);
                let tip = max_tip.min(max_fee - u128::from(base_fee));
                if tip < self.config.min_tip {
                    return Err(MempoolError::Underpriced {
                        needed: self.config.min_tip,
                        permitted: tip,
                    });
                }
                let account = reader
                    .account(&d.sender)
                    .map_err(|e| internal(&e))?
                    .unwrap_or_default();
                let nonce = d.tx.nonce();
                if nonce < account.nonce {
                    return Err(MempoolError::NonceTooLow {
                        sender: d.sender,
                        tx_nonce: nonce,
                        state_nonce: account.nonce,
                    });
                }
                let max_gap = self.config.max_per_sender as u64;
                if nonce - account.nonce >= max_gap {
                    return Err(MempoolError::NonceTooHigh {
                        sender: d.sender,
                        tx_nonce: nonce,
                        state_nonce: account.nonce,
                        max_gap,
                    });
                }
                let cost = max_cost(&d.tx);
                if let Some(params) = &fee_params {
                    let fees = params.charge(d.size, gas);
                    let want = cost.saturating_add(fees.total());
                    if want > account.balance {
                        return Err(MempoolError::InsufficientFundsForFees(Box::new(
                            FeeShortfall {
                                sender: d.sender,
                                have: account.balance,
                                want,
                                missing: want - account.balance,
                                l1_fee: fees.l1_fee,
                                operator_fee: fees.operator_fee,
                            },
                        )));
                    }
                }
                if cost > account.balance {
                    return Err(MempoolError::InsufficientFunds {
                        sender: d.sender,
                        have: account.balance,
                        want: cost,
                    });
                }
                let seq = pool.next_seq;
                let pooled = Arc::new(PooledTx {
                    hash,
                    sender: d.sender,
                    nonce,
                    max_fee,
                    max_tip,
                    size: d.size,
                    seq,
                    tx: d.tx,
                });
                self.insert(&mut pool, pooled.clone(), account.nonce)?;
                if pool.arrivals.len() >= MAX_ARRIVALS {
                    // No block for a long while (a paused producer): forget the oldest half.
                    // A block being built then takes those senders' later transactions in the
                    // next block instead.
                    pool.arrivals.drain(..MAX_ARRIVALS / 2);
                }
                pool.arrivals.push((seq, d.sender));
                pool.next_seq += 1;
                added.push(pooled);
                Ok(hash)
            })
            .collect();
        drop(pool);
        if let Err(e) = self.journal_admitted(&added) {
            // Not journaled, so not acknowledged: out of the pool again, and refused. (A
            // replacement leaves neither transaction then: the disk is failing anyway.)
            error!(error = %e, txs = added.len(), "refused transactions: the mempool journal could not be written");
            let mut pool = self.pool.lock();
            for tx in &added {
                pool.remove(&tx.hash);
            }
            drop(pool);
            let refused: std::collections::HashSet<B256> = added.iter().map(|tx| tx.hash).collect();
            for result in &mut results {
                if result.as_ref().is_ok_and(|hash| refused.contains(hash)) {
                    *result = Err(MempoolError::Internal(format!(
                        "the mempool journal could not be written: {e}"
                    )));
                }
            }
            added.clear();
        }
        record_counts(self.pool.lock().counts());
        if !added.is_empty() {
            *self.arrivals.lock() += 1;
            self.arrived.notify_all();
        }
        if self.new_txs.receiver_count() > 0 {
            for tx in added {
                let _ = self.new_txs.send(tx.hash);
            }
        }
        Ok(results)
    }

    /// Appends newly admitted transactions to the journal, if the pool has one.
    fn journal_admitted(&self, added: &[Arc<PooledTx>]) -> Result<(), JournalError> {
        if added.is_empty() {
            return Ok(());
        }
        let mut journal = self.journal.lock();
        let Some(journal) = journal.as_mut() else {
            return Ok(());
        };
        let raws: Vec<Vec<u8>> = added.iter().map(|tx| tx.tx.encoded_2718()).collect();
        journal.append(&raws)
    }

    /// Starts journaling admitted transactions to `path` (see [`journal`]): first admits again
    /// the transactions a journal already there holds (what the pool held when the node stopped,
    /// cleanly or not), then rewrites the file with the pool's transactions. Returns how many
    /// journaled transactions were admitted again and how many were dropped (included meanwhile,
    /// or no longer valid).
    pub fn open_journal(&self, path: &std::path::Path) -> Result<(usize, usize), JournalError> {
        let raws = journal::read(path)?;
        let results = self.add_raw_batch(&raws);
        let restored = results.iter().filter(|r| r.is_ok()).count();
        let mut journal = self.journal.lock();
        *journal = Some(Journal::create(path, &self.export_raw())?);
        Ok((restored, raws.len() - restored))
    }

    /// Rewrites the journal with the pool's current transactions if it has grown past twice the
    /// pool (and [`journal::COMPACT_MIN_LINES`]), or always with `force`. Returns whether it did.
    /// Call it now and then (the node does every second, and with `force` at shutdown).
    pub fn compact_journal(&self, force: bool) -> Result<bool, JournalError> {
        let mut journal = self.journal.lock();
        let Some(journal) = journal.as_mut() else {
            return Ok(false);
        };
        let before = journal.lines();
        if !force && (before <= journal::COMPACT_MIN_LINES || before <= 2 * self.len()) {
            return Ok(false);
        }
        // Under the journal's lock: an admission that lands in the pool after this snapshot
        // appends to the new file (one before it may append too: a duplicate line, harmless).
        journal.rewrite(&self.export_raw())?;
        debug!(
            before,
            after = journal.lines(),
            "compacted the mempool journal"
        );
        Ok(true)
    }

    /// Put a checked transaction in the pool: as a replacement if its sender already has one at
    /// that nonce, otherwise within the per-sender and global limits.
    fn insert(
        &self,
        pool: &mut Pool,
        tx: Arc<PooledTx>,
        state_nonce: u64,
    ) -> Result<(), MempoolError> {
        let (replaced, count, highest) = pool.with_sender(tx.sender, state_nonce, |sender| {
            sender.set_state_nonce(state_nonce);
            let replaced = sender
                .txs
                .get(&tx.nonce)
                .map(|old| (old.hash, old.max_fee, old.max_tip));
            let highest = sender.txs.last_key_value().map(|(n, t)| (*n, t.hash));
            (replaced, sender.txs.len(), highest)
        });
        if let Some((old_hash, old_fee, old_tip)) = replaced {
            let bump = |old: u128| old + old * self.config.price_bump_percent / 100;
            if tx.max_fee < bump(old_fee) || tx.max_tip < bump(old_tip) {
                return Err(MempoolError::ReplacementUnderpriced);
            }
            debug!(replaced = %old_hash, by = %tx.hash, "replaced transaction");
            pool.by_hash.remove(&old_hash);
            pool.with_sender(tx.sender, state_nonce, |sender| sender.insert(tx.clone()));
            pool.by_hash.insert(tx.hash, tx);
            return Ok(());
        }
        if count >= self.config.max_per_sender {
            // A lower nonce than the sender's highest is worth more: the highest makes room.
            match highest {
                Some((highest, evicted)) if highest > tx.nonce => {
                    pool.remove(&evicted);
                }
                _ => {
                    return Err(MempoolError::AccountLimit {
                        sender: tx.sender,
                        count,
                    });
                }
            }
        }
        if pool.len() >= self.config.max_txs {
            let cheapest = pool
                .cheapest_evictable()
                .filter(|c| c.max_fee < tx.max_fee)
                .map(|c| c.hash)
                .ok_or(MempoolError::PoolFullUnderpriced)?;
            pool.remove(&cheapest);
            debug!(evicted = %cheapest, "pool full: evicted the cheapest transaction");
        }
        pool.with_sender(tx.sender, state_nonce, |sender| sender.insert(tx.clone()));
        pool.by_hash.insert(tx.hash, tx);
        Ok(())
    }

    /// A transaction in the pool.
    pub fn get(&self, hash: &B256) -> Option<Arc<PooledTx>> {
        self.pool.lock().by_hash.get(hash).cloned()
    }

    /// The nonce `sender`'s next transaction would take given its pending ones, or `None` if it
    /// has none pending (then the account nonce applies).
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        let pool = self.pool.lock();
        let txs = pool.senders.get(sender)?;
        let pending = txs.pending_len() as u64;
        (pending > 0).then_some(txs.state_nonce + pending)
    }

    pub fn status(&self) -> PoolStatus {
        let (pending, queued) = self.pool.lock().counts();
        PoolStatus { pending, queued }
    }

    pub fn len(&self) -> usize {
        self.pool.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn content(&self) -> PoolContent {
        let pool = self.pool.lock();
        let mut content = PoolContent::default();
        for sender in pool.senders.values() {
            let pending = sender.pending_len();
            for (i, tx) in sender.txs.range(sender.state_nonce..).enumerate() {
                if i < pending {
                    content.pending.push(tx.1.clone());
                } else {
                    content.queued.push(tx.1.clone());
                }
            }
        }
        content
    }

    /// Every transaction in the pool, EIP-2718 encoded, each sender's in nonce order: what a
    /// node saves on shutdown and admits again on start.
    pub fn export_raw(&self) -> Vec<Vec<u8>> {
        let pool = self.pool.lock();
        pool.senders
            .values()
            .flat_map(|sender| sender.txs.values().map(|tx| tx.tx.encoded_2718()))
            .collect()
    }

    /// Hashes of transactions as they are admitted.
    pub fn subscribe(&self) -> broadcast::Receiver<B256> {
        self.new_txs.subscribe()
    }

    /// How many admission batches added transactions so far: pass it to
    /// [`Mempool::wait_for_arrivals`]. Read it before taking candidates, so that nothing
    /// admitted after them goes unnoticed.
    pub fn arrivals(&self) -> u64 {
        *self.arrivals.lock()
    }

    /// Block this thread until transactions were admitted after the count `seen` (from
    /// [`Mempool::arrivals`]) or `timeout` passed; returns the count then.
    pub fn wait_for_arrivals(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let mut arrivals = self.arrivals.lock();
        if *arrivals == seen {
            let _ = self.arrived.wait_for(&mut arrivals, timeout);
        }
        *arrivals
    }

    /// The arrival number the next admitted transaction gets. Read it before taking a block's
    /// candidates; pass it to [`Mempool::arrived_since`] for what came after.
    pub fn next_arrival(&self) -> u64 {
        self.pool.lock().next_seq
    }

    /// The pending ordinary transactions that arrived from arrival `since` on, for the rest of a
    /// block being built, best first at `base_fee`: the runs of the senders that sent something
    /// since, each from `next_nonce` on (the block has those before it), none of `stopped`
    /// senders. Costs what arrived, not the pool's size. Moves `since` past what it saw.
    pub fn arrived_since(
        &self,
        base_fee: u64,
        since: &mut u64,
        next_nonce: &std::collections::HashMap<Address, u64>,
        stopped: &std::collections::HashSet<Address>,
    ) -> BestTransactions {
        let pool = self.pool.lock();
        let best = BestTransactions::arrived_since(&pool, base_fee, *since, next_nonce, stopped);
        *since = pool.next_seq;
        best
    }

    /// The pending transactions, best first at `base_fee`, for the next block.
    pub fn best_transactions(&self, base_fee: u64) -> BestTransactions {
        BestTransactions::new(&self.pool.lock(), base_fee)
    }

    /// Bring the pool up to a new head: drop what `block` included (and anything else its
    /// senders' new nonces made stale) and the transactions the builder found `invalid`
    /// ([`BlockCandidates::invalid`]). `senders` are the block's transaction senders.
    ///
    /// The privileged lane is updated first, whatever happens next: it drops the ids the block
    /// included and moves its next id past them, then drops an invalid privileged transaction
    /// and moves past it too (see [`BlockCandidates`]). Offering an included privileged
    /// transaction again would include it twice, as nothing in its execution stops that.
    pub fn on_new_block(
        &self,
        block: &Block,
        senders: &[Address],
        invalid: &[(B256, Address, String)],
    ) -> Result<(), MempoolError> {
        self.privileged_on_new_block(block, invalid);
        let reader = self
            .chain
            .store()
            .reader()
            .map_err(|e| MempoolError::Internal(e.to_string()))?;
        let mut touched: Vec<Address> = senders.to_vec();
        touched.extend(invalid.iter().map(|(_, sender, _)| *sender));
        touched.sort_unstable();
        touched.dedup();
        let nonces = touched
            .iter()
            .map(|sender| {
                let nonce = reader
                    .account(sender)
                    .map_err(|e| MempoolError::Internal(e.to_string()))?
                    .map_or(0, |a| a.nonce);
                Ok((*sender, nonce))
            })
            .collect::<Result<Vec<_>, MempoolError>>()?;
        let mut pool = self.pool.lock();
        for tx in block
            .body
            .transactions
            .iter()
            .filter(|tx| !tx.is_privileged())
        {
            pool.remove(tx.tx_hash());
        }
        for (hash, sender, reason) in invalid {
            if pool.remove(hash).is_some() {
                debug!(%hash, %sender, reason, "dropped a transaction the block builder found invalid");
            }
        }
        for (sender, nonce) in nonces {
            pool.set_state_nonce(sender, nonce);
        }
        // The next block takes its candidates from the whole pool.
        pool.arrivals.clear();
        let counts = pool.counts();
        drop(pool);
        record_counts(counts);
        Ok(())
    }

    /// The privileged part of [`Mempool::on_new_block`].
    fn privileged_on_new_block(&self, block: &Block, invalid: &[(B256, Address, String)]) {
        let mut lane = self.privileged.lock();
        if let Some(last) = block
            .body
            .transactions
            .iter()
            .filter_map(Transaction::as_privileged)
            .map(|tx| tx.nonce)
            .max()
        {
            lane.included_up_to(last);
        }
        for (hash, _, reason) in invalid {
            let Some(next) = lane.next_id else { break };
            if lane.txs.get(&next).is_some_and(|tx| tx.hash() == *hash) {
                error!(
                    id = next,
                    %hash,
                    reason,
                    "dropped a privileged transaction the block builder found invalid; its id is \
                     skipped"
                );
                lane.included_up_to(next);
            }
        }
        metrics::gauge!(PRIVILEGED).set(lane.txs.len() as f64);
    }

    /// Set the lane's next id from the store's included marker, if not done yet.
    fn init_privileged_lane(&self, lane: &mut PrivilegedLane) {
        if lane.next_id.is_some() {
            return;
        }
        match self.chain.store().l1_watcher_progress() {
            Ok(progress) => {
                let next = progress.included_up_to.map_or(0, |id| id + 1);
                lane.next_id = Some(next);
                lane.txs = lane.txs.split_off(&next);
            }
            Err(e) => error!(
                error = %e,
                "can't read the privileged included marker: privileged transactions wait until it \
                 can be read"
            ),
        }
    }

    /// Add privileged transactions (from the L1Watcher) to the privileged lane. Ignored: an id
    /// the lane already holds or that the chain already includes (see
    /// [`privileged`] for how that is found, so a re-push after a restart adds
    /// nothing), and, logged as an error, a transaction for another chain id. Returns how many
    /// were added.
    ///
    /// Looking up new ids in the chain's transaction index reads the store (one short read
    /// transaction per call).
    pub fn add_privileged(&self, txs: Vec<PrivilegedTx>) -> usize {
        let want = self.chain.spec().chain_id;
        let mut lane = self.privileged.lock();
        self.init_privileged_lane(&mut lane);
        let mut reader = None;
        // Once an id is found not in the chain, no later one can be.
        let mut may_be_included = true;
        let mut added = 0;
        let mut sorted = txs;
        sorted.sort_by_key(|tx| tx.nonce);
        for tx in sorted {
            let id = tx.nonce;
            if tx.chain_id != want {
                error!(
                    id,
                    chain_id = tx.chain_id,
                    want,
                    "refused a privileged transaction for another chain"
                );
                continue;
            }
            if lane.next_id.is_some_and(|next| id < next) {
                continue;
            }
            if let Some(held) = lane.txs.get(&id) {
                if *held.inner() != tx {
                    warn!(
                        id,
                        held = %held.hash(),
                        pushed = %tx.hash(),
                        "a privileged transaction differs from the one held under its id: kept the held one"
                    );
                }
                continue;
            }
            let tx = tx.seal_slow();
            if may_be_included && lane.next_id.is_some() {
                match self.is_included(&mut reader, &tx.hash()) {
                    Ok(true) => {
                        debug!(id, "privileged transaction already in the chain: ignored");
                        lane.included_up_to(id);
                        continue;
                    }
                    Ok(false) => may_be_included = false,
                    Err(e) => {
                        // Keep it: the next block's lane snapshot happens after this push, and a
                        // transaction the chain holds is below the marker unless the marker lags.
                        error!(
                            id,
                            error = %e,
                            "can't check whether a privileged transaction is in the chain: keeping it"
                        );
                        may_be_included = false;
                    }
                }
            }
            lane.txs.insert(id, tx);
            added += 1;
        }
        metrics::gauge!(PRIVILEGED).set(lane.txs.len() as f64);
        if added > 0 {
            info!(
                added,
                next_id = lane.next_id,
                held = lane.txs.len(),
                "privileged transactions added to the lane"
            );
        }
        added
    }

    /// Whether the canonical chain has the transaction `hash`.
    fn is_included(
        &self,
        reader: &mut Option<keel_storage::StoreReader>,
        hash: &B256,
    ) -> Result<bool, StoreError> {
        let reader = match reader {
            Some(reader) => reader,
            None => reader.insert(self.chain.store().reader()?),
        };
        Ok(reader.tx_location(hash)?.is_some())
    }

    /// Note the L1 block timestamps of privileged transactions (id, timestamp), for the deposit
    /// inclusion lag metric; [`Mempool::take_privileged_l1_timestamps`] takes them back.
    pub fn note_privileged_l1_timestamps(&self, times: impl IntoIterator<Item = (u64, u64)>) {
        self.privileged_l1_times.lock().extend(times);
    }

    /// Take the noted L1 timestamps of privileged ids up to `up_to` (those included or skipped).
    pub fn take_privileged_l1_timestamps(
        &self,
        up_to: u64,
    ) -> std::collections::BTreeMap<u64, u64> {
        let mut times = self.privileged_l1_times.lock();
        let later = times.split_off(&up_to.saturating_add(1));
        std::mem::replace(&mut *times, later)
    }

    /// The id the next block must include first (`None` while the store's marker is unreadable).
    pub fn privileged_next_id(&self) -> Option<u64> {
        self.privileged.lock().next_id
    }

    /// The highest privileged id the chain includes, as far as the lane knows (an id dropped as
    /// invalid counts: it will never be included). What the store's included marker should say.
    pub fn privileged_included_up_to(&self) -> Option<u64> {
        self.privileged
            .lock()
            .next_id
            .and_then(|next| next.checked_sub(1))
    }

    /// Privileged transactions held by the lane, ready or waiting behind a gap.
    pub fn privileged_len(&self) -> usize {
        self.privileged.lock().txs.len()
    }

    /// The privileged transactions ready for the next block: the contiguous run from the next id.
    pub fn privileged_ready(&self) -> Vec<PrivilegedTx> {
        self.privileged
            .lock()
            .ready(usize::MAX)
            .into_iter()
            .map(|tx| tx.into_inner())
            .collect()
    }

    /// The candidates of the next block at `base_fee`: the privileged transactions ready (within
    /// `limits`), then the pending ordinary ones best first.
    pub fn block_candidates(&self, base_fee: u64, limits: PrivilegedLimits) -> BlockCandidates {
        let privileged = {
            let mut lane = self.privileged.lock();
            self.init_privileged_lane(&mut lane);
            lane.ready(limits.max_txs)
        };
        BlockCandidates::new(privileged, limits, self.best_transactions(base_fee))
    }
}

#[cfg(test)]
mod tests;
