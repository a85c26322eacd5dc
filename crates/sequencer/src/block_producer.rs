//! The [`BlockProducer`]: every `block_time` it builds a block from the mempool, stores it as the
//! new head, and prunes the pool. With [`BlockProducerConfig::slice_time`] it preconfirms
//! instead: each block is built over its block time, transactions executed as they arrive and
//! published in slices ([`keel_chain::preconf`], docs/preconfirmations.md).
//!
//! **Privileged transactions** (L1 deposits and other L1→L2 calls, from the mempool's privileged
//! lane) go first in each block, in id order, none skipped or reordered, within a per-block
//! budget ([`BlockProducerConfig::max_privileged_gas_per_block`] and
//! [`BlockProducerConfig::max_privileged_txs_per_block`]); the ordinary transactions follow, best
//! first. One that doesn't fit waits, with every later one, for the next block (see
//! [`BlockCandidates`]); none waits for good: one whose gas limit exceeds the block gas limit
//! opens a block and is included as failed, and one whose own state diff is too large for a
//! blob fails without its changes (chain rules of `keel_evm::build_block`'s executor; the node
//! also refuses to start with a block gas limit below the L1 bridge's `maxPrivilegedGasLimit`).
//!
//! **State diff budget**: a block's own state diff must fit one blob (a batch is sealed before
//! the block that would overflow it), so blocks are filled by gas and by an upper bound of their
//! state diff v1 size, at most [`BlockProducerConfig::max_state_diff_bytes`] (by default a
//! blob's payload less the codec byte). A transaction that doesn't fit what is left waits for
//! the next block; one whose diff could not fit even an empty block is dropped as invalid.
//!
//! After a block is stored, the lane drops what it included, then the producer advances the
//! store's privileged *included* marker ([`Store::set_privileged_included_up_to`]) to the last
//! id the chain includes. That is a second write, not part of the block's: a crash between the
//! two leaves the marker behind the chain, so at restart the L1Watcher hands the lane again
//! deposits the chain already has. The lane ignores them: it finds them in the chain's
//! transaction index by hash (see [`keel_chain::mempool::privileged`]), and the producer
//! brings the marker up to date after its next block. The marker only ever bounds what is
//! re-pushed; the chain itself decides what is included.
//!
//! [`Store::set_privileged_included_up_to`]: keel_storage::Store::set_privileged_included_up_to
//! [`BlockCandidates`]: keel_chain::BlockCandidates

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, Bytes, keccak256};
use keel_chain::{
    BlockAttributes, Blockchain, BuiltBlock, ChainError, Mempool, MempoolError, PendingBlock,
    PrivilegedLimits, SliceSource, SliceTiming, next_block_timestamp,
};
use keel_types::PrivilegedTx;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::{ComponentSwitch, PrivilegedTxSink, l1_watcher::L1WatcherStatus};

/// Default [`BlockProducerConfig::max_privileged_txs_per_block`].
pub const DEFAULT_MAX_PRIVILEGED_TXS_PER_BLOCK: usize = 1000;

/// Default [`BlockProducerConfig::max_state_diff_bytes`]: a blob's payload less its codec byte,
/// so that a block's raw (uncompressed) state diff v1 always fits a blob on its own.
pub const DEFAULT_MAX_STATE_DIFF_BYTES: usize = keel_types::blob::MAX_BLOB_PAYLOAD - 1;

/// How and when blocks are made.
#[derive(Debug, Clone)]
pub struct BlockProducerConfig {
    /// Time between blocks.
    pub block_time: Duration,
    /// Receives the priority fees.
    pub coinbase: Address,
    /// Don't make a block when the mempool has nothing to include.
    pub skip_empty: bool,
    /// The gas limit of new blocks; `None` keeps the parent's.
    pub gas_limit: Option<u64>,
    pub extra_data: Bytes,
    /// Most gas, summed over their gas limits, the privileged transactions of one block may
    /// reserve; `None` for a quarter of the block's gas limit. The first privileged transaction
    /// of a block goes in whatever its gas limit (if it fits the block).
    pub max_privileged_gas_per_block: Option<u64>,
    /// Most privileged transactions in one block (0 would stop their inclusion).
    pub max_privileged_txs_per_block: usize,
    /// Most bytes a block's own state diff v1 may take (an upper bound of it is kept as the
    /// block is built; see [`keel_chain::BlockAttributes::max_state_diff_bytes`]); `None` for no
    /// limit but gas. A batch is sealed before a block that would overflow its blob, so a block
    /// whose diff alone exceeds a blob could never be committed.
    pub max_state_diff_bytes: Option<usize>,
    /// Preconfirmations: `Some(slice_time)` executes transactions as they arrive on top of the
    /// block being built and publishes them at least every `slice_time` (sooner when the pool
    /// runs dry), so receipts don't wait for the block (see [`keel_chain::preconf`]). `None`
    /// builds each block at once from what the pool holds at block time (the default, here
    /// and in `keel l2`).
    pub slice_time: Option<Duration>,
}

/// A good [`BlockProducerConfig::slice_time`] (`--block-producer.slice-time 5`).
pub const DEFAULT_SLICE_TIME: Duration = Duration::from_millis(5);

impl Default for BlockProducerConfig {
    fn default() -> Self {
        Self {
            block_time: Duration::from_millis(1000),
            coinbase: Address::ZERO,
            skip_empty: false,
            gas_limit: None,
            extra_data: Bytes::new(),
            max_privileged_gas_per_block: None,
            max_privileged_txs_per_block: DEFAULT_MAX_PRIVILEGED_TXS_PER_BLOCK,
            max_state_diff_bytes: Some(DEFAULT_MAX_STATE_DIFF_BYTES),
            slice_time: None,
        }
    }
}

impl BlockProducerConfig {
    /// The privileged budget of a block with gas limit `gas_limit`.
    pub fn privileged_limits(&self, gas_limit: u64) -> PrivilegedLimits {
        PrivilegedLimits {
            max_gas: self.max_privileged_gas_per_block.unwrap_or(gas_limit / 4),
            max_txs: self.max_privileged_txs_per_block,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlockProducerError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Mempool(#[from] MempoolError),
    #[error("the block producer task stopped: {0}")]
    Task(String),
}

/// Builds blocks from the mempool on a fixed schedule.
#[derive(Debug, Clone)]
pub struct BlockProducer {
    config: BlockProducerConfig,
    chain: Blockchain,
    mempool: Arc<Mempool>,
    /// While paused, [`BlockProducer::run`] makes no blocks.
    switch: ComponentSwitch,
    /// What L1 charges now, from the L1 watcher: on a chain with the L1 fee rule each block's
    /// prices move one step toward it (docs/fees.md). `None` keeps the parent's prices.
    l1_prices: Option<watch::Receiver<L1WatcherStatus>>,
}

impl BlockProducer {
    pub fn new(config: BlockProducerConfig, chain: Blockchain, mempool: Arc<Mempool>) -> Self {
        Self {
            config,
            chain,
            mempool,
            switch: ComponentSwitch::new("block_producer"),
            l1_prices: None,
        }
    }

    /// Take the L1 prices each block moves toward from the L1 watcher's status.
    pub fn with_l1_prices(mut self, status: watch::Receiver<L1WatcherStatus>) -> Self {
        self.l1_prices = Some(status);
        self
    }

    /// Makes [`BlockProducer::run`] honour `switch`: while it is paused, no block is made.
    pub fn with_switch(mut self, switch: ComponentSwitch) -> Self {
        self.switch = switch;
        self
    }

    /// Build, execute and store one block now: the privileged transactions ready in the lane
    /// first (within the budget), then the best pending ones; then prune the pool and advance
    /// the store's privileged included marker. Returns `None` if the pool had nothing and empty
    /// blocks are skipped.
    pub fn produce_block(&self) -> Result<Option<BuiltBlock>, BlockProducerError> {
        let started = Instant::now();
        let next = self.next_block()?;
        let mut candidates = self
            .mempool
            .block_candidates(next.base_fee, next.privileged_limits);
        if self.config.skip_empty && candidates.is_empty() {
            self.advance_included_marker();
            return Ok(None);
        }
        let attributes = self.attributes(&next);
        let built = self.chain.build_block(&attributes, &mut candidates)?;
        self.finish_block(built, &candidates.invalid(), started)
    }

    /// The head the next block builds on, and what follows from it.
    fn next_block(&self) -> Result<NextBlock, BlockProducerError> {
        let reader = self.chain.store().reader().map_err(ChainError::from)?;
        let (parent_hash, parent) = keel_storage::ChainReader::head(&reader)
            .map_err(ChainError::from)?
            .ok_or(ChainError::NoHead)?;
        let gas_limit = self.config.gas_limit.unwrap_or(parent.gas_limit);
        Ok(NextBlock {
            base_fee: self.chain.spec().next_base_fee(&parent),
            privileged_limits: self.config.privileged_limits(gas_limit),
            gas_limit,
            parent_hash,
            parent,
        })
    }

    /// The next block's attributes, its timestamp taken now.
    fn attributes(&self, next: &NextBlock) -> BlockAttributes {
        let timestamp = next_block_timestamp(&next.parent);
        warn_if_clock_ahead(timestamp);
        BlockAttributes {
            timestamp,
            coinbase: self.config.coinbase,
            gas_limit: next.gas_limit,
            prev_randao: keccak256(next.parent_hash),
            extra_data: self.config.extra_data.clone(),
            l1_prices: self
                .l1_prices
                .as_ref()
                .and_then(|status| status.borrow().l1_prices),
            max_state_diff_bytes: self.config.max_state_diff_bytes,
        }
    }

    /// Build one block over the block time, preconfirming: transactions are executed as they
    /// arrive on top of it and published in slices of at most `slice_time` (see
    /// [`keel_chain::preconf`]); at `deadline` (or when `stop` says so, or the block is full) it
    /// is sealed and stored, holding exactly the published transactions in their order. Returns
    /// `None` if empty blocks are skipped and nothing arrived by the deadline.
    pub fn produce_preconfirmed_block(
        &self,
        deadline: Instant,
        slice_time: Duration,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<BuiltBlock>, BlockProducerError> {
        let next = self.next_block()?;
        let (base_fee, limits) = (next.base_fee, next.privileged_limits);
        // Read before taking the candidates: whatever arrives after them wakes the builder,
        // and is taken from the pool's arrivals.
        let mut seen = self.mempool.arrivals();
        let mut next_arrival = self.mempool.next_arrival();
        let mut candidates = self.mempool.block_candidates(base_fee, limits);
        if self.config.skip_empty {
            // No block until something arrives; then the block gets its whole time.
            while candidates.is_empty() {
                let now = Instant::now();
                if now >= deadline || stop() {
                    self.advance_included_marker();
                    return Ok(None);
                }
                seen = self
                    .mempool
                    .wait_for_arrivals(seen, (deadline - now).min(Duration::from_millis(50)));
                next_arrival = self.mempool.next_arrival();
                candidates = self.mempool.block_candidates(base_fee, limits);
            }
        }
        let started = Instant::now();
        let attributes = self.attributes(&next);
        let hub = self.chain.preconfirmations();
        let mut pending = PendingBlock::new(
            next.parent.number + 1,
            next.parent_hash,
            attributes.timestamp,
            base_fee,
            next.gas_limit,
            self.config.coinbase,
        );
        if self.chain.spec().fees.is_some() {
            let reader = self.chain.store().reader().map_err(ChainError::from)?;
            pending.fees = Some(keel_chain::next_fee_params(&reader, attributes.l1_prices)?);
        }
        let timing = SliceTiming {
            deadline,
            slice_time,
        };
        let mut source = SliceSource::new(
            &self.mempool,
            hub,
            pending,
            candidates,
            seen,
            next_arrival,
            timing,
            stop,
        );
        let built = self.chain.build_block(&attributes, &mut source);
        // Stored or failed: either way the pending block no longer applies.
        hub.clear();
        let built = match built {
            Ok(built) => built,
            Err(e) => {
                let dropped = source.published();
                if dropped > 0 {
                    metrics::counter!("keel_preconfirmations_dropped_total")
                        .increment(dropped as u64);
                    error!(
                        number = next.parent.number + 1,
                        dropped,
                        error = %e,
                        "the block failed after its transactions were preconfirmed: they are \
                         dropped from it (still in the pool, they go into a later block)"
                    );
                }
                return Err(e.into());
            }
        };
        let invalid = source.invalid();
        self.finish_block(built, &invalid, started)
    }

    /// After a block is stored: prune the pool, advance the privileged marker, log and record.
    fn finish_block(
        &self,
        built: BuiltBlock,
        invalid: &[(alloy_primitives::B256, Address, String)],
        started: Instant,
    ) -> Result<Option<BuiltBlock>, BlockProducerError> {
        let build_time = started.elapsed();
        // Drops from the lane what the block included before anything can fail.
        let pruned = self
            .mempool
            .on_new_block(&built.block, &built.senders, invalid);
        self.advance_included_marker();
        pruned?;
        let header = &built.block.header;
        let privileged = built
            .block
            .body
            .transactions
            .iter()
            .filter(|tx| tx.is_privileged())
            .count();
        info!(
            number = header.number,
            hash = %built.hash,
            txs = built.block.body.transactions.len(),
            privileged,
            gas = header.gas_used,
            diff_bound = built.state_diff_bound,
            base_fee = header.base_fee_per_gas.unwrap_or_default(),
            dropped = invalid.len(),
            pool = self.mempool.len(),
            exec_ms = built.timings.execution.as_millis() as u64,
            root_ms = built.timings.state_root.as_millis() as u64,
            store_ms = built.timings.commit.as_millis() as u64,
            "produced block"
        );
        self.record(&built, build_time, privileged);
        Ok(Some(built))
    }

    /// The block's metrics; the deposit inclusion lag where the L1Watcher noted the deposit's L1
    /// block timestamp.
    fn record(&self, built: &BuiltBlock, build_time: Duration, privileged: usize) {
        let header = &built.block.header;
        metrics::counter!("keel_blocks_produced_total").increment(1);
        metrics::counter!("keel_block_transactions_total")
            .increment(built.block.body.transactions.len() as u64);
        metrics::counter!("keel_block_gas_used_total").increment(header.gas_used);
        metrics::gauge!("keel_l2_head_block").set(header.number as f64);
        metrics::histogram!("keel_block_build_duration_seconds").record(build_time.as_secs_f64());
        if privileged == 0 {
            return;
        }
        metrics::counter!("keel_deposits_included_total").increment(privileged as u64);
        let ids = built
            .block
            .body
            .transactions
            .iter()
            .filter_map(|tx| tx.as_privileged().map(|p| p.nonce));
        if let Some(last) = ids.clone().max() {
            let times = self.mempool.take_privileged_l1_timestamps(last);
            for id in ids {
                if let Some(l1_time) = times.get(&id) {
                    metrics::histogram!("keel_deposit_inclusion_lag_seconds")
                        .record(header.timestamp.saturating_sub(*l1_time) as f64);
                }
            }
        }
    }

    /// Bring the store's privileged included marker up to what the lane knows the chain includes.
    /// A failure is logged, not returned: the block is stored either way, and a lagging marker
    /// only makes the L1Watcher re-push at restart deposits the lane then ignores.
    fn advance_included_marker(&self) {
        let Some(included) = self.mempool.privileged_included_up_to() else {
            return;
        };
        let store = self.chain.store();
        match store.l1_watcher_progress() {
            Ok(progress) if progress.included_up_to.is_some_and(|m| m >= included) => {}
            Ok(_) => match store.set_privileged_included_up_to(included) {
                Ok(()) => debug!(included, "privileged included marker advanced"),
                Err(e) => warn!(
                    included,
                    error = %e,
                    "can't advance the privileged included marker"
                ),
            },
            Err(e) => warn!(error = %e, "can't read the privileged included marker"),
        }
    }

    /// Produce a block every `block_time` until `shutdown` is cancelled. A failed block is logged
    /// and retried at the next tick; the loop never dies on one. A panic while building is a bug:
    /// it ends the loop with an error, so that the node stops instead of serving a chain that no
    /// longer grows.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BlockProducerError> {
        if let Some(slice_time) = self.config.slice_time {
            return self.run_preconfirming(slice_time, shutdown).await;
        }
        let mut ticker = tokio::time::interval(self.config.block_time);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if let Ok((head, _)) = self.chain.head() {
            metrics::gauge!("keel_l2_head_block").set(head as f64);
        }
        info!(
            block_time_ms = self.config.block_time.as_millis() as u64,
            coinbase = %self.config.coinbase,
            skip_empty = self.config.skip_empty,
            "block producer started"
        );
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.cancelled() => break,
            }
            if !self.switch.is_running() {
                info!("block producer paused: no blocks until it is resumed");
                tokio::select! {
                    _ = self.switch.wait_running() => {}
                    _ = shutdown.cancelled() => break,
                }
                info!("block producer resumed");
                ticker.reset();
                continue;
            }
            let producer = self.clone();
            let build = move || {
                keel_l1::fault::panic_point("block-producer.panic");
                producer.produce_block()
            };
            match tokio::task::spawn_blocking(build).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => error!(error = %e, "failed to produce a block"),
                Err(e) => return Err(BlockProducerError::Task(e.to_string())),
            }
        }
        debug!("block producer stopped");
        Ok(())
    }
}

impl BlockProducer {
    /// [`BlockProducer::run`] with preconfirmations: one block after the other, each built over
    /// its block time (the deadlines keep the cadence: a block that took long to seal leaves
    /// the next one less time). On shutdown the block being built is sealed first, so nothing
    /// preconfirmed is lost.
    async fn run_preconfirming(
        self,
        slice_time: Duration,
        shutdown: CancellationToken,
    ) -> Result<(), BlockProducerError> {
        if let Ok((head, _)) = self.chain.head() {
            metrics::gauge!("keel_l2_head_block").set(head as f64);
        }
        info!(
            block_time_ms = self.config.block_time.as_millis() as u64,
            slice_time_ms = slice_time.as_millis() as u64,
            coinbase = %self.config.coinbase,
            skip_empty = self.config.skip_empty,
            "block producer started (preconfirming)"
        );
        let mut deadline = Instant::now() + self.config.block_time;
        while !shutdown.is_cancelled() {
            if !self.switch.is_running() {
                info!("block producer paused: no blocks until it is resumed");
                tokio::select! {
                    _ = self.switch.wait_running() => {}
                    _ = shutdown.cancelled() => break,
                }
                info!("block producer resumed");
                deadline = Instant::now() + self.config.block_time;
                continue;
            }
            let producer = self.clone();
            let token = shutdown.clone();
            let build = move || {
                keel_l1::fault::panic_point("block-producer.panic");
                let stop = move || token.is_cancelled();
                producer.produce_preconfirmed_block(deadline, slice_time, &stop)
            };
            match tokio::task::spawn_blocking(build).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    error!(error = %e, "failed to produce a block");
                    // Don't spin on a persistent failure: wait out the block's time.
                    tokio::select! {
                        _ = tokio::time::sleep_until(deadline.into()) => {}
                        _ = shutdown.cancelled() => break,
                    }
                }
                Err(e) => return Err(BlockProducerError::Task(e.to_string())),
            }
            let now = Instant::now();
            deadline = (deadline + self.config.block_time).max(now);
            if deadline == now {
                deadline = now + self.config.block_time;
            }
        }
        debug!("block producer stopped");
        Ok(())
    }
}

/// The head a block builds on, and what follows from it.
struct NextBlock {
    parent_hash: alloy_primitives::B256,
    parent: keel_types::Header,
    base_fee: u64,
    gas_limit: u64,
    privileged_limits: PrivilegedLimits,
}

/// The L1Watcher hands its privileged transactions to the mempool's privileged lane
/// ([`Mempool::add_privileged`]): ids already held or already in the chain are ignored, a
/// transaction for another chain id is refused (logged).
impl PrivilegedTxSink for Mempool {
    fn push(&self, txs: Vec<PrivilegedTx>) {
        self.add_privileged(txs);
    }

    fn l1_timestamps(&self, times: &[(u64, u64)]) {
        self.note_privileged_l1_timestamps(times.iter().copied());
    }
}

/// How far ahead of the wall clock L2 block timestamps may run before the producer warns.
const CLOCK_AHEAD_WARNING_SECS: u64 = 300;

/// Warns when L2 time runs ahead of the wall clock: timestamps go up by at least one second per
/// block, so sub-second block times under a steady load push them ahead. Forced inclusion is
/// judged against a batch's last block timestamp (docs/contracts.md), so a lead approaching the
/// bridge's `inclusionMaxWait` could make a batch that left out a just-arrived deposit
/// uncommittable.
fn warn_if_clock_ahead(timestamp: u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let ahead = timestamp.saturating_sub(now);
    if ahead > CLOCK_AHEAD_WARNING_SECS {
        warn!(
            ahead_secs = ahead,
            "L2 block timestamps are ahead of the wall clock (block time below 1 s under load); \
             keep the lead well below the bridge's inclusionMaxWait"
        );
    }
}
