//! The [`BlockProducer`]: every `block_time` it builds a block from the mempool's best
//! transactions, stores it as the new head, and prunes the pool.

use std::{sync::Arc, time::Duration};

use alloy_primitives::{Address, Bytes, keccak256};
use keel_chain::{
    BlockAttributes, Blockchain, BuiltBlock, ChainError, Mempool, MempoolError,
    next_block_timestamp,
};
use tokio::sync::watch;
use tracing::{debug, error, info};

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
}

impl Default for BlockProducerConfig {
    fn default() -> Self {
        Self {
            block_time: Duration::from_millis(1000),
            coinbase: Address::ZERO,
            skip_empty: false,
            gas_limit: None,
            extra_data: Bytes::new(),
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
}

impl BlockProducer {
    pub fn new(config: BlockProducerConfig, chain: Blockchain, mempool: Arc<Mempool>) -> Self {
        Self {
            config,
            chain,
            mempool,
        }
    }

    /// Build, execute and store one block now from the best pending transactions, then prune
    /// the pool. Returns `None` if the pool had nothing and empty blocks are skipped.
    pub fn produce_block(&self) -> Result<Option<BuiltBlock>, BlockProducerError> {
        let reader = self.chain.store().reader().map_err(ChainError::from)?;
        let (parent_hash, parent) = keel_storage::ChainReader::head(&reader)
            .map_err(ChainError::from)?
            .ok_or(ChainError::NoHead)?;
        drop(reader);
        let base_fee = self.chain.spec().next_base_fee(&parent);
        let mut best = self.mempool.best_transactions(base_fee);
        if self.config.skip_empty && best.remaining() == 0 {
            return Ok(None);
        }
        let attributes = BlockAttributes {
            timestamp: next_block_timestamp(&parent),
            coinbase: self.config.coinbase,
            gas_limit: self.config.gas_limit.unwrap_or(parent.gas_limit),
            prev_randao: keccak256(parent_hash),
            extra_data: self.config.extra_data.clone(),
        };
        let built = self.chain.build_block(&attributes, &mut best)?;
        self.mempool
            .on_new_block(&built.block, &built.senders, &best.invalid)?;
        let header = &built.block.header;
        info!(
            number = header.number,
            hash = %built.hash,
            txs = built.block.body.transactions.len(),
            gas = header.gas_used,
            base_fee = header.base_fee_per_gas.unwrap_or_default(),
            dropped = best.invalid.len(),
            pool = self.mempool.len(),
            exec_ms = built.timings.execution.as_millis() as u64,
            root_ms = built.timings.state_root.as_millis() as u64,
            store_ms = built.timings.commit.as_millis() as u64,
            "produced block"
        );
        Ok(Some(built))
    }

    /// Produce a block every `block_time` until `shutdown` turns true. A failed block is logged
    /// and retried at the next tick; the loop never dies on one.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.config.block_time);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        info!(
            block_time_ms = self.config.block_time.as_millis() as u64,
            coinbase = %self.config.coinbase,
            skip_empty = self.config.skip_empty,
            "block producer started"
        );
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
            let producer = self.clone();
            match tokio::task::spawn_blocking(move || producer.produce_block()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => error!(error = %e, "failed to produce a block"),
                Err(e) => error!(error = %e, "the block builder thread failed"),
            }
        }
        debug!("block producer stopped");
    }
}
