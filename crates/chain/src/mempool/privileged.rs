//! The privileged lane of the mempool: the L1→L2 transactions (type `0x7e`, docs/architecture.md,
//! Chain rules) the L1Watcher hands over, waiting for a block, and [`BlockCandidates`], the block
//! producer's [`TxSource`] that offers them first, then the ordinary best transactions.
//!
//! The lane keeps the privileged transactions by id (their `nonce`, the L1 bridge's
//! `transactionId`) and tracks the **next id** a block must include. It only offers the contiguous
//! run of ids that starts there: an id missing from the lane (a gap) makes the later ones wait,
//! because a chain includes its privileged transactions in id order, none skipped.
//!
//! **Already included.** The chain's canonical transaction index is the source of truth; the
//! store's *included* marker ([`keel_storage::Store::set_privileged_included_up_to`], advanced by
//! the block producer right after a block is stored, not in the block's own write) is a hint that
//! may lag behind it, e.g. by the head block after a crash between the two writes. So:
//!
//! - the lane starts with next id = the marker + 1 (0 without a marker);
//! - a pushed id below the next id, or already held, is ignored;
//! - a pushed id at or above the next id that the lane doesn't hold is looked up by its hash in
//!   the chain's transaction index: if a block has it, it is ignored and the next id moves past
//!   it (ids are included contiguously from 0, so every lower id is included too). The look-ups
//!   of one push stop at the first id not found, since no later one can be in the chain.
//!
//! The watcher's re-push at start (the stored txs above the marker) therefore never duplicates a
//! deposit, however far the marker lags. After a block, [`super::Mempool::on_new_block`] drops
//! the ids it included and moves the next id past them.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Sealed};
use keel_evm::{SkipReason, TxSource};
use keel_types::{PrivilegedTx, Transaction};
use tracing::{debug, error};

use super::pool::BestTransactions;

/// The privileged transactions waiting for a block, by id.
#[derive(Debug, Default)]
pub(crate) struct PrivilegedLane {
    /// The id the next block must include first; `None` until it could be read from the store.
    pub next_id: Option<u64>,
    pub txs: BTreeMap<u64, Sealed<PrivilegedTx>>,
}

impl PrivilegedLane {
    /// The contiguous run from the next id, at most `limit` long.
    pub fn ready(&self, limit: usize) -> Vec<Sealed<PrivilegedTx>> {
        let Some(next) = self.next_id else {
            return Vec::new();
        };
        let mut expected = next;
        self.txs
            .range(next..)
            .map_while(|(id, tx)| {
                (*id == expected).then(|| {
                    expected += 1;
                    tx.clone()
                })
            })
            .take(limit)
            .collect()
    }

    /// Record that the chain includes every id up to `id`: the lane drops them.
    pub fn included_up_to(&mut self, id: u64) {
        let next = id + 1;
        if self.next_id.is_none_or(|n| n < next) {
            self.next_id = Some(next);
        }
        self.txs = self.txs.split_off(&next);
    }
}

/// Limits on the privileged transactions of one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrivilegedLimits {
    /// Sum of the privileged transactions' gas limits. The first privileged transaction of a
    /// block is offered whatever its gas limit, so that one above the budget can't stall the lane.
    pub max_gas: u64,
    /// How many privileged transactions (0 stops their inclusion).
    pub max_txs: usize,
}

/// The candidates of one block, as the block producer's [`TxSource`]: first the privileged
/// transactions ready in the lane, in id order and within [`PrivilegedLimits`], then the ordinary
/// pending transactions best first ([`BestTransactions`]).
///
/// A privileged transaction the builder leaves out ends the privileged part of the block:
///
/// - [`SkipReason::DoesNotFit`] (the gas or state diff room left in the block, or a gas limit
///   above the block gas limit when it isn't the block's first): it and the later ones wait for
///   the next block, which it opens. As a block's first it always goes in: one whose gas limit
///   exceeds the block gas limit is included as failed ([`keel_evm::build_block`]), so no
///   privileged transaction can hold the lane up for good.
/// - [`SkipReason::Invalid`]: can't happen for what the lane admits (its chain id is checked on
///   entry; the executor turns every other problem of a privileged transaction into a failed
///   receipt). Should it happen anyway, it is logged as an error and reported in
///   [`BlockCandidates::invalid`]: [`super::Mempool::on_new_block`] then drops it from the lane
///   and moves the next id past it, since kept it would stall every later deposit forever. The
///   chain then lacks that id, so the batch that should carry it won't match the L1 bridge's
///   queue: an operator has to look at it either way, which the error log says.
#[derive(Debug)]
pub struct BlockCandidates {
    /// The privileged run, in id order (reversed, to pop the next one).
    privileged: Vec<Sealed<PrivilegedTx>>,
    limits: PrivilegedLimits,
    /// Gas limits and count of the privileged transactions offered so far.
    privileged_gas: u64,
    privileged_offered: usize,
    /// No more privileged transactions in this block.
    privileged_done: bool,
    /// The hash of the privileged transaction last offered, until the next offer.
    last_privileged: Option<B256>,
    invalid_privileged: Vec<(B256, Address, String)>,
    /// The ordinary candidates.
    pub best: BestTransactions,
}

impl BlockCandidates {
    pub(crate) fn new(
        mut privileged: Vec<Sealed<PrivilegedTx>>,
        limits: PrivilegedLimits,
        best: BestTransactions,
    ) -> Self {
        privileged.reverse();
        Self {
            privileged,
            limits,
            privileged_gas: 0,
            privileged_offered: 0,
            privileged_done: false,
            last_privileged: None,
            invalid_privileged: Vec::new(),
            best,
        }
    }

    /// True if there is nothing to offer: no privileged transaction ready, no ordinary one pending.
    pub fn is_empty(&self) -> bool {
        (self.privileged.is_empty() || self.limits.max_txs == 0) && self.best.remaining() == 0
    }

    /// Privileged transactions ready and not offered yet (the count limit not applied).
    pub fn privileged_remaining(&self) -> usize {
        self.privileged.len()
    }

    /// What the builder found invalid, ordinary and privileged: pass it to
    /// [`super::Mempool::on_new_block`].
    pub fn invalid(&self) -> Vec<(B256, Address, String)> {
        let mut all = self.invalid_privileged.clone();
        all.extend(self.best.invalid.iter().cloned());
        all
    }

    /// The next privileged transaction, if the budget lets it in.
    fn next_privileged(&mut self) -> Option<Sealed<PrivilegedTx>> {
        if self.privileged_done {
            return None;
        }
        let tx = self.privileged.last()?;
        let gas = self.privileged_gas.saturating_add(tx.gas_limit);
        if self.privileged_offered >= self.limits.max_txs
            || (self.privileged_offered > 0 && gas > self.limits.max_gas)
        {
            debug!(
                id = tx.nonce,
                offered = self.privileged_offered,
                "privileged budget of the block reached: the rest waits for the next block"
            );
            self.privileged_done = true;
            return None;
        }
        self.privileged_gas = gas;
        self.privileged_offered += 1;
        self.privileged.pop()
    }
}

impl TxSource for BlockCandidates {
    fn next_tx(&mut self) -> Option<(Transaction, Address)> {
        if let Some(tx) = self.next_privileged() {
            self.last_privileged = Some(tx.hash());
            let from = tx.from;
            return Some((Transaction::Privileged(tx), from));
        }
        self.last_privileged = None;
        self.best.next_tx()
    }

    fn skipped(&mut self, tx_hash: B256, sender: Address, reason: SkipReason) {
        if self.last_privileged != Some(tx_hash) {
            self.best.skipped(tx_hash, sender, reason);
            return;
        }
        self.privileged_done = true;
        // Privileged transactions come first: the first one offered opens the block.
        let first = self.privileged_offered == 1;
        match reason {
            // The executor includes as failed what can never fit a block, and the block's first
            // has the whole block: this is a bug, and the transaction is offered again next block.
            SkipReason::DoesNotFit if first => error!(
                %tx_hash,
                "the block builder left out the block's first privileged transaction for lack \
                 of room: it is offered again in the next block"
            ),
            SkipReason::DoesNotFit => debug!(
                %tx_hash,
                "privileged transaction doesn't fit the block: it waits for the next one"
            ),
            SkipReason::Invalid(why) => {
                error!(
                    %tx_hash,
                    reason = why,
                    "the block builder found a privileged transaction invalid: it is dropped \
                     from the lane and its id skipped; the batch carrying it won't match the L1 \
                     bridge's queue"
                );
                self.invalid_privileged.push((tx_hash, sender, why));
            }
        }
    }
}
