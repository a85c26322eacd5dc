//! Sealing batches: every `commit_time`, the canonical blocks after the last sealed batch up to the
//! head become the next batch (at most `max_blocks` of them, and never more than 65,535
//! privileged txs, the most a rolling hash can count). For each batch it records the state root and
//! hash of its last block, the rolling hash of its privileged txs, its count of ordinary txs, and
//! the `L1Message` events of the Messenger in its receipts with the withdrawals root over them
//! (DESIGN.md sections 7 and 8). The L1Committer commits sealed batches to L1; this module only
//! decides and stores what a batch is.

use std::time::Duration;

use alloy_primitives::{Address, B256, U256, keccak256};
use keel_chain::Blockchain;
use keel_storage::{ChainReader, StoreError, batches::BatchWriteError};
use keel_types::{Batch, BatchMessage, dev, privileged_rolling_hash, withdrawals_root};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// When batches are sealed.
#[derive(Debug, Clone)]
pub struct BatchSealerConfig {
    /// Time between seals (`--committer.commit-time`).
    pub commit_time: Duration,
    /// Most blocks in one batch.
    pub max_blocks: u64,
}

impl Default for BatchSealerConfig {
    fn default() -> Self {
        Self {
            commit_time: Duration::from_secs(60),
            max_blocks: 4096,
        }
    }
}

/// Why sealing failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Reading the chain failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the batch failed.
    #[error(transparent)]
    Write(#[from] BatchWriteError),
    /// The chain's head could not be read.
    #[error("reading the head: {0}")]
    Chain(String),
    /// The sealing thread panicked.
    #[error("the batch sealer thread failed: {0}")]
    Task(String),
    /// A canonical block's data is missing.
    #[error("block {0} is missing from the store")]
    MissingBlock(u64),
}

/// `keccak256("L1Message(address,bytes32,uint256)")`, the Messenger event's topic.
pub fn l1_message_topic() -> B256 {
    keccak256("L1Message(address,bytes32,uint256)")
}

/// Seals batches of the chain's blocks.
#[derive(Debug, Clone)]
pub struct BatchSealer {
    config: BatchSealerConfig,
    chain: Blockchain,
}

impl BatchSealer {
    /// A sealer over `chain`.
    pub fn new(config: BatchSealerConfig, chain: Blockchain) -> Self {
        Self { config, chain }
    }

    /// Seals the next batch if there are unsealed blocks; returns it.
    pub fn seal_next(&self) -> Result<Option<Batch>, SealError> {
        let store = self.chain.store();
        let last = store.last_batch()?;
        let (number, last_sealed) = last
            .as_ref()
            .map_or((1, 0), |b| (b.number + 1, b.last_block));
        let (head, _) = self
            .chain
            .head()
            .map_err(|e| SealError::Chain(e.to_string()))?;
        if head <= last_sealed {
            return Ok(None);
        }
        let end = head.min(last_sealed.saturating_add(self.config.max_blocks.max(1)));
        let reader = store.reader()?;
        let message_topic = l1_message_topic();
        let mut privileged = Vec::new();
        let mut non_privileged = 0u64;
        let mut messages = Vec::new();
        let mut last_block = None;
        for n in last_sealed + 1..=end {
            let hash = reader
                .canonical_hash(n)?
                .ok_or(SealError::MissingBlock(n))?;
            let header = reader.header(&hash)?.ok_or(SealError::MissingBlock(n))?;
            let body = reader.body(&hash)?.ok_or(SealError::MissingBlock(n))?;
            let receipts = reader.receipts(&hash)?.ok_or(SealError::MissingBlock(n))?;
            let block_privileged: Vec<B256> = body
                .transactions
                .iter()
                .filter(|tx| tx.is_privileged())
                .map(|tx| *tx.tx_hash())
                .collect();
            if privileged.len() + block_privileged.len() > usize::from(u16::MAX)
                && last_block.is_some()
            {
                break;
            }
            privileged.extend(block_privileged);
            for (tx, receipt) in body.transactions.iter().zip(&receipts) {
                if !tx.is_privileged() {
                    non_privileged += 1;
                }
                for log in receipt.logs() {
                    let topics = log.topics();
                    if log.address != dev::MESSENGER_ADDRESS
                        || topics.len() != 4
                        || topics[0] != message_topic
                    {
                        continue;
                    }
                    messages.push(BatchMessage {
                        tx_hash: *tx.tx_hash(),
                        sender_on_l2: Address::from_word(topics[1]),
                        data: topics[2],
                        message_id: U256::from_be_bytes(topics[3].0),
                    });
                }
            }
            last_block = Some((n, hash, header.state_root));
        }
        let Some((last_block, last_block_hash, state_root)) = last_block else {
            return Ok(None);
        };
        let leaves: Vec<B256> = messages.iter().map(|m| m.message().leaf()).collect();
        let batch = Batch {
            number,
            first_block: last_sealed + 1,
            last_block,
            state_root,
            last_block_hash,
            // At most u16::MAX hashes by the loop above, so the rolling hash exists.
            privileged_rolling_hash: privileged_rolling_hash(&privileged).unwrap_or_default(),
            withdrawals_root: withdrawals_root(&leaves),
            non_privileged_tx_count: non_privileged,
        };
        store.write_batch(&batch, &messages, None)?;
        info!(
            batch = batch.number,
            blocks = format!("{}..={}", batch.first_block, batch.last_block),
            privileged = privileged.len(),
            txs = non_privileged,
            messages = messages.len(),
            "sealed batch"
        );
        Ok(Some(batch))
    }

    /// Seals a batch every `commit_time` until `shutdown` is cancelled. A failed seal is logged
    /// and retried; a panic ends the loop with an error (the node stops).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), SealError> {
        let mut tick = tokio::time::interval(self.config.commit_time);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
            let sealer = self.clone();
            match tokio::task::spawn_blocking(move || sealer.seal_next()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => warn!(error = %e, "sealing a batch failed; retrying next tick"),
                Err(e) => return Err(SealError::Task(e.to_string())),
            }
        }
    }
}
