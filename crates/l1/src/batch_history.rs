//! The batches committed on L1, read back from the OnChainProposer's events and the commit
//! transactions themselves: what `keel l2 reconstruct` rebuilds the L2 from, and what a restarted
//! committer reconciles its store with.
//!
//! `BatchCommitted(n)` events give the order; `BatchesReverted(from, to)` events (the owner's
//! `revertBatch`) drop batches that a later commit may replace. Each surviving commit's
//! transaction is decoded for the arguments of `commitBatch` and its blob versioned hash.

use alloy::{
    consensus::Transaction as _,
    primitives::{Address, B256},
    providers::Provider,
    rpc::types::Log,
    sol_types::{SolCall, SolEvent},
};

use crate::{
    L1ClientError,
    client::L1Client,
    contracts::OnChainProposer::{BatchCommitted, BatchesReverted, commitBatchCall},
};

/// A batch as committed on L1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBatch {
    /// The batch number.
    pub number: u64,
    /// The state root after its last block.
    pub new_state_root: B256,
    /// The root of its L1 messages.
    pub withdrawals_root: B256,
    /// The rolling hash of its privileged txs (its first two bytes count them).
    pub privileged_rolling_hash: B256,
    /// The hash of its last L2 block.
    pub last_block_hash: B256,
    /// How many ordinary txs it has.
    pub non_privileged_tx_count: u64,
    /// The versioned hash of its blob (`None` for a validium commit).
    pub blob_versioned_hash: Option<B256>,
    /// The commit transaction.
    pub tx_hash: B256,
    /// The L1 block of the commit.
    pub l1_block: u64,
    /// That block's timestamp (to find the blob's beacon slot).
    pub l1_timestamp: u64,
}

impl CommittedBatch {
    /// How many privileged txs the batch includes (the rolling hash's first two bytes).
    pub fn privileged_count(&self) -> u64 {
        u64::from(u16::from_be_bytes([
            self.privileged_rolling_hash[0],
            self.privileged_rolling_hash[1],
        ]))
    }
}

/// Why the commit history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BatchHistoryError {
    /// The L1 could not be read.
    #[error(transparent)]
    L1(#[from] L1ClientError),
    /// The events don't describe a gap-free sequence of batches.
    #[error("L1 commit history is inconsistent: {0}")]
    Inconsistent(String),
    /// A commit transaction is missing or not a `commitBatch` call.
    #[error("commit of batch {batch} (tx {tx_hash}): {reason}")]
    BadCommitTx {
        /// The batch.
        batch: u64,
        /// The transaction.
        tx_hash: B256,
        /// What is wrong with it.
        reason: String,
    },
}

/// One event of the history, in L1 order.
enum HistoryEvent {
    Committed { number: u64, log: Box<Log> },
    Reverted { from: u64 },
}

/// The batches committed on L1 by `proposer` between L1 blocks `from_block` and `to_block`
/// (inclusive), in batch order, without those reverted since. Each commit transaction is
/// fetched and decoded.
pub async fn committed_batches(
    client: &L1Client,
    proposer: Address,
    from_block: u64,
    to_block: u64,
) -> Result<Vec<CommittedBatch>, BatchHistoryError> {
    let mut events = Vec::new();
    for log in client
        .get_logs(
            proposer,
            BatchCommitted::SIGNATURE_HASH,
            from_block,
            to_block,
        )
        .await?
    {
        let number = log
            .topics()
            .get(1)
            .map(|t| alloy::primitives::U256::from_be_bytes(t.0))
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                BatchHistoryError::Inconsistent("a BatchCommitted event without a number".into())
            })?;
        events.push((
            (log.block_number, log.log_index),
            HistoryEvent::Committed {
                number,
                log: Box::new(log),
            },
        ));
    }
    for log in client
        .get_logs(
            proposer,
            BatchesReverted::SIGNATURE_HASH,
            from_block,
            to_block,
        )
        .await?
    {
        let decoded = BatchesReverted::decode_log_data(log.data()).map_err(|e| {
            BatchHistoryError::Inconsistent(format!("undecodable BatchesReverted event: {e}"))
        })?;
        let from = u64::try_from(decoded.fromBatch).map_err(|_| {
            BatchHistoryError::Inconsistent("BatchesReverted from a batch past u64".into())
        })?;
        events.push((
            (log.block_number, log.log_index),
            HistoryEvent::Reverted { from },
        ));
    }
    events.sort_by_key(|(position, _)| *position);

    let mut commits: Vec<(u64, Box<Log>)> = Vec::new();
    for (_, event) in events {
        match event {
            HistoryEvent::Committed { number, log } => {
                let expected = commits.last().map_or(1, |(n, _)| n + 1);
                if number != expected {
                    return Err(BatchHistoryError::Inconsistent(format!(
                        "batch {number} committed after batch {}",
                        expected - 1
                    )));
                }
                commits.push((number, log));
            }
            HistoryEvent::Reverted { from } => {
                commits.retain(|(n, _)| *n < from);
            }
        }
    }

    let mut out = Vec::with_capacity(commits.len());
    for (number, log) in commits {
        out.push(commit_details(client, number, &log).await?);
    }
    Ok(out)
}

async fn commit_details(
    client: &L1Client,
    number: u64,
    log: &Log,
) -> Result<CommittedBatch, BatchHistoryError> {
    let bad = |tx_hash: B256, reason: String| BatchHistoryError::BadCommitTx {
        batch: number,
        tx_hash,
        reason,
    };
    let tx_hash = log
        .transaction_hash
        .ok_or_else(|| bad(B256::ZERO, "the event has no transaction hash".into()))?;
    let l1_block = log
        .block_number
        .ok_or_else(|| bad(tx_hash, "the event has no block number".into()))?;
    let tx = client
        .request("eth_getTransactionByHash", |p| async move {
            p.get_transaction_by_hash(tx_hash).await
        })
        .await?
        .ok_or_else(|| bad(tx_hash, "the L1 does not know the transaction".into()))?;
    let call = commitBatchCall::abi_decode(tx.input())
        .map_err(|e| bad(tx_hash, format!("not a commitBatch call: {e}")))?;
    if call.batchNumber != alloy::primitives::U256::from(number) {
        return Err(bad(
            tx_hash,
            format!("the call commits batch {}", call.batchNumber),
        ));
    }
    let non_privileged_tx_count = u64::try_from(call.nonPrivilegedTxCount)
        .map_err(|_| bad(tx_hash, "nonPrivilegedTxCount past u64".into()))?;
    let blob_versioned_hash = tx
        .blob_versioned_hashes()
        .and_then(|hashes| hashes.first().copied());
    let block = client
        .request("eth_getBlockByNumber", |p| async move {
            p.get_block_by_number(l1_block.into()).await
        })
        .await?
        .ok_or_else(|| bad(tx_hash, format!("L1 block {l1_block} not found")))?;
    Ok(CommittedBatch {
        number,
        new_state_root: call.newStateRoot,
        withdrawals_root: call.withdrawalsRoot,
        privileged_rolling_hash: call.privilegedRollingHash,
        last_block_hash: call.lastBlockHash,
        non_privileged_tx_count,
        blob_versioned_hash,
        tx_hash,
        l1_block,
        l1_timestamp: block.header.timestamp,
    })
}
