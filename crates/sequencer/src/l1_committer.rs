//! The L1Committer: commits every sealed batch to the OnChainProposer, in order, through the
//! node's nonce-safe L1 sender (`keel_l1::sender`), with the batch's blob (or none in validium
//! mode), and records the commit once it has its confirmations (docs/committer.md).
//!
//! - **Resumes from the store.** The next batch to commit is the one after the last recorded
//!   commit. At start the committer first reconciles with L1: batches L1 has committed (e.g. the
//!   node died between the receipt and the store write) are recorded from their `BatchCommitted`
//!   events, after checking that L1's state root is this node's; the sender's journal then
//!   resumes a commit that was in flight instead of sending a second one.
//! - **Never loops blindly.** A commit that L1 refuses (its simulation or its receipt reverts)
//!   stops the committer with the decoded error, which stops the node: something is wrong that an
//!   operator must look at. An L1 outage only delays it (the sender retries and logs).
//! - **Forced inclusion.** A batch that leaves out a deposit past its deadline while carrying
//!   ordinary transactions would be refused by `commitBatch`; the simulation catches it before
//!   anything is sent, and the committer stops on it with `ExpiredPrivilegedTxNotIncluded`.

use std::{sync::Arc, time::Duration};

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    sol_types::SolCall,
};
use keel_l1::{
    L1Client, L1ClientError,
    batch_history::{BatchHistoryError, committed_batches},
    contracts::OnChainProposer,
    fault,
    sender::{L1Sender, L1TxRequest, SendError, blob_sidecar},
};
use keel_storage::{
    ChainReader, Store, StoreError,
    batches::{BatchCommit, BatchWriteError},
};
use keel_types::blob::{BlobError, pack_blob};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ComponentSwitch;

/// The journal kind of commit transactions.
pub const COMMIT_JOB: &str = "commit";

/// How the committer runs.
#[derive(Debug, Clone)]
pub struct L1CommitterConfig {
    /// The OnChainProposer proxy.
    pub on_chain_proposer: Address,
    /// Commit without blobs (the contracts must be deployed as validium).
    pub validium: bool,
    /// The first L1 block to read commit events from (the deployment's).
    pub deploy_block: u64,
    /// How often to look for a newly sealed batch.
    pub poll_interval: Duration,
}

/// Why the committer stopped.
#[derive(Debug, thiserror::Error)]
pub enum CommitterError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Recording a commit failed.
    #[error(transparent)]
    Write(#[from] BatchWriteError),
    /// L1 could not be read.
    #[error(transparent)]
    L1(#[from] L1ClientError),
    /// The commit history on L1 could not be read.
    #[error(transparent)]
    History(#[from] BatchHistoryError),
    /// The node's mode is not the contracts'.
    #[error(
        "the node runs with validium={node} but the OnChainProposer was deployed with \
         validium={l1}"
    )]
    ModeMismatch {
        /// --validium.
        node: bool,
        /// The contract's.
        l1: bool,
    },
    /// L1 holds a commit this node did not make (another sequencer, or another chain's store).
    #[error(
        "L1 committed batch {batch} with state root {l1_root}, but this node's batch {batch} has \
         {local_root}"
    )]
    RootMismatch {
        /// The batch.
        batch: u64,
        /// L1's root.
        l1_root: alloy::primitives::B256,
        /// This node's.
        local_root: alloy::primitives::B256,
    },
    /// L1 has fewer batches than this node recorded as committed (a revertBatch, or an L1 reorg
    /// deeper than the confirmations).
    #[error(
        "this node recorded batch {local} as committed but L1's lastCommittedBatch is {l1}; \
         an operator must look (revertBatch, or an L1 reorg deeper than --committer.confirmations)"
    )]
    L1Behind {
        /// What the store says.
        local: u64,
        /// What L1 says.
        l1: u64,
    },
    /// L1 has committed batches this node never sealed.
    #[error("L1 has committed batch {0}, which this node has not sealed")]
    UnknownBatch(u64),
    /// The batch's last block is not in the store.
    #[error("batch {batch}: its last block {hash} is not in the store")]
    MissingLastBlock {
        /// The batch.
        batch: u64,
        /// The block hash the batch records.
        hash: alloy::primitives::B256,
    },
    /// A rollup-mode batch has no blob stored.
    #[error("batch {0} has no blob stored (was it sealed in validium mode?)")]
    MissingBlob(u64),
    /// Its blob could not be built.
    #[error("batch {batch}: {source}")]
    Blob {
        /// The batch.
        batch: u64,
        /// Why.
        source: BlobError,
    },
    /// The KZG sidecar of its blob could not be built.
    #[error("batch {batch}: building the blob sidecar: {reason}")]
    Sidecar {
        /// The batch.
        batch: u64,
        /// Why.
        reason: String,
    },
    /// Sending failed for good (a revert, a nonce taken by someone else).
    #[error("committing batch {batch}: {source}")]
    Send {
        /// The batch.
        batch: u64,
        /// Why.
        source: SendError,
    },
}

/// Commits sealed batches to L1. See the module docs.
pub struct L1Committer {
    config: L1CommitterConfig,
    store: Store,
    client: L1Client,
    sender: Arc<L1Sender>,
    /// While paused, no commit transaction is sent (one in flight is still followed).
    switch: ComponentSwitch,
}

impl std::fmt::Debug for L1Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L1Committer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl L1Committer {
    /// A committer of the batches in `store`, reading L1 through `client` and sending through
    /// `sender`.
    pub fn new(
        config: L1CommitterConfig,
        store: Store,
        client: L1Client,
        sender: Arc<L1Sender>,
    ) -> Self {
        Self {
            config,
            store,
            client,
            sender,
            switch: ComponentSwitch::new("l1_committer"),
        }
    }

    /// Makes [`L1Committer::run`] honour `switch`: while it is paused, no commit transaction is
    /// sent; a commit already in flight when it is paused is followed to its confirmation and
    /// recorded first (never sent twice).
    pub fn with_switch(mut self, switch: ComponentSwitch) -> Self {
        self.switch = switch;
        self
    }

    /// Commits batches until `shutdown` is cancelled; returns an error when it can't go on.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), CommitterError> {
        info!(
            proposer = %self.config.on_chain_proposer,
            validium = self.config.validium,
            sender = %self.sender.address(),
            "L1 committer started"
        );
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            checked = self.start() => checked?,
        }
        if let Ok(last) = self.store.last_committed_batch() {
            crate::batch_metrics::set_last("committed", last);
        }
        loop {
            if !self.switch.is_running() {
                info!("L1 committer paused: no commit is sent until it is resumed");
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = self.switch.wait_running() => {}
                }
                info!("L1 committer resumed");
            }
            let committed = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                committed = self.commit_next() => committed?,
            };
            if !committed {
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                }
            }
        }
    }

    /// Checks the mode and reconciles the store with L1 (module docs).
    pub async fn start(&self) -> Result<(), CommitterError> {
        self.sender.record_balance().await;
        let proposer = self.config.on_chain_proposer;
        let l1_validium = self
            .client
            .call_sol(
                proposer,
                &OnChainProposer::validiumCall {},
                BlockId::latest(),
            )
            .await?;
        if l1_validium != self.config.validium {
            return Err(CommitterError::ModeMismatch {
                node: self.config.validium,
                l1: l1_validium,
            });
        }
        let l1_last = self.l1_last_committed().await?;
        let local = self.store.last_committed_batch()?;
        if local > l1_last {
            return Err(CommitterError::L1Behind { local, l1: l1_last });
        }
        if l1_last > local {
            let head = self.client.block_number().await?;
            let history =
                committed_batches(&self.client, proposer, self.config.deploy_block, head).await?;
            for committed in history.iter().filter(|c| c.number > local) {
                let batch = self
                    .store
                    .batch(committed.number)?
                    .ok_or(CommitterError::UnknownBatch(committed.number))?;
                if batch.state_root != committed.new_state_root {
                    return Err(CommitterError::RootMismatch {
                        batch: committed.number,
                        l1_root: committed.new_state_root,
                        local_root: batch.state_root,
                    });
                }
                self.store.mark_batch_committed(
                    committed.number,
                    &BatchCommit {
                        tx_hash: committed.tx_hash,
                        l1_block: committed.l1_block,
                    },
                )?;
                self.sender
                    .finish(COMMIT_JOB, committed.number)
                    .map_err(|source| CommitterError::Send {
                        batch: committed.number,
                        source,
                    })?;
                info!(
                    batch = committed.number,
                    tx = %committed.tx_hash,
                    l1_block = committed.l1_block,
                    "found batch already committed on L1; recorded it"
                );
            }
        }
        Ok(())
    }

    async fn l1_last_committed(&self) -> Result<u64, CommitterError> {
        let last = self
            .client
            .call_sol(
                self.config.on_chain_proposer,
                &OnChainProposer::lastCommittedBatchCall {},
                BlockId::latest(),
            )
            .await?;
        Ok(u64::try_from(last).unwrap_or(u64::MAX))
    }

    /// Commits the next sealed batch if there is one; returns whether it did.
    pub async fn commit_next(&self) -> Result<bool, CommitterError> {
        let number = self.store.last_committed_batch()? + 1;
        let Some(batch) = self.store.batch(number)? else {
            return Ok(false);
        };
        // Forced inclusion is judged against the last block's timestamp (docs/contracts.md).
        let last_block_timestamp = self
            .store
            .reader()?
            .header(&batch.last_block_hash)?
            .ok_or(CommitterError::MissingLastBlock {
                batch: number,
                hash: batch.last_block_hash,
            })?
            .timestamp;
        let call = OnChainProposer::commitBatchCall {
            lastBlockTimestamp: last_block_timestamp,
            batchNumber: U256::from(batch.number),
            newStateRoot: batch.state_root,
            withdrawalsRoot: batch.withdrawals_root,
            privilegedRollingHash: batch.privileged_rolling_hash,
            lastBlockHash: batch.last_block_hash,
            nonPrivilegedTxCount: U256::from(batch.non_privileged_tx_count),
        };
        let blob = if self.config.validium {
            None
        } else {
            let stored = self
                .store
                .batch_blob(number)?
                .ok_or(CommitterError::MissingBlob(number))?;
            let packed = pack_blob(&stored.payload).map_err(|source| CommitterError::Blob {
                batch: number,
                source,
            })?;
            let sidecar = blob_sidecar(&packed).map_err(|e| CommitterError::Sidecar {
                batch: number,
                reason: e.to_string(),
            })?;
            Some(sidecar)
        };
        let mut request = L1TxRequest::call(self.config.on_chain_proposer, call.abi_encode());
        if let Some(sidecar) = blob {
            request = request.with_blob(sidecar);
        }
        let confirmed = self
            .sender
            .send(COMMIT_JOB, number, request)
            .await
            .map_err(|source| CommitterError::Send {
                batch: number,
                source,
            })?;
        // Crash tests stop the node here: confirmed on L1, not yet recorded.
        fault::point("committer.after-confirmation");
        self.store.mark_batch_committed(
            number,
            &BatchCommit {
                tx_hash: confirmed.tx_hash,
                l1_block: confirmed.block_number,
            },
        )?;
        metrics::counter!("keel_batches_committed_total").increment(1);
        crate::batch_metrics::set_last("committed", number);
        crate::batch_metrics::record_confirmed(crate::batch_metrics::COMMIT, &confirmed);
        if let Err(e) = self.sender.finish(COMMIT_JOB, number) {
            warn!(batch = number, error = %e, "can't clear the commit's journal entry");
        }
        info!(
            batch = number,
            blocks = format!("{}..={}", batch.first_block, batch.last_block),
            tx = %confirmed.tx_hash,
            l1_block = confirmed.block_number,
            gas_used = confirmed.gas_used,
            blob_gas_used = confirmed.blob_gas_used,
            "batch committed on L1"
        );
        Ok(true)
    }
}
