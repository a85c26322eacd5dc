//! The `keel_` namespace: sealed batches and withdrawal proofs (docs/node.md, JSON-RPC).
//!
//! - `keel_batchNumber` → the last sealed batch number (0 before the first).
//! - `keel_getBatchByNumber(n)` / `keel_getBatchByBlock(blockNumber)` → the batch, or `null` if
//!   it is not sealed. `status` is `"sealed"`, `"committed"` (then `commitTxHash` and
//!   `commitL1Block` say where on L1, counted once the committer's confirmations have passed) or
//!   `"verified"` (its proofs were accepted by the OnChainProposer's `verifyBatches`:
//!   `verifyTxHash` and `verifyL1Block` say where, counted once the L1ProofSender's
//!   confirmations have passed; a verified batch still carries its commit fields). Its
//!   withdrawals can be claimed on L1 once it is verified. `blobVersionedHash` is the versioned
//!   hash of its blob (`null` in validium mode). `safe` and `finalized` say whether the batch's
//!   last block is at or below the `safe` / `finalized` block tags (docs/rpc.md, Block tags):
//!   `status` is this node's record of its own L1 transactions, the two flags what L1 says now
//!   (they go back to `false` if an L1 reorg drops the commit or the verification).
//! - `keel_getWithdrawalProof(txHash)` → for each `L1Message` of that transaction,
//!   `{batchNumber, messageId, messageHash, leaf, proof}`: `messageHash` is the message data (for
//!   a withdrawal, the hash of what is withdrawn), `leaf` its leaf in the batch's withdrawals tree
//!   and `proof` the sibling path that OpenZeppelin's `MerkleProof.verify` checks against the
//!   batch's `withdrawalsRoot`. It returns `null` while the transaction's block is not yet in a
//!   sealed batch (batches are sealed every `--committer.commit-time`; the root, and so the proof,
//!   only exists once the batch's last block is known), and also for an unknown transaction. A
//!   claim on L1 additionally needs the batch to be verified there.
//! - `keel_getL1Contracts` → `{bridge, onChainProposer, l1ChainId, deployBlock, l1RpcUrl}`, the
//!   node's L1 contracts (`null` for a node without L1), so that clients such as `keel bridge`
//!   need no addresses. `l1ChainId` and `deployBlock` are `null` when the node does not know
//!   them; `l1RpcUrl` is set only when the node started that L1 itself (`keel l2 --dev`): a node
//!   never reveals the L1 endpoint it was given.

use alloy_primitives::{B256, U64, U256};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_storage::ChainReader;
use keel_types::{Batch, withdrawal_proof};
use serde::Serialize;

use crate::{RpcContext, error::RpcError};

/// A batch as JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchJson {
    number: U64,
    first_block: U64,
    last_block: U64,
    state_root: B256,
    last_block_hash: B256,
    privileged_rolling_hash: B256,
    withdrawals_root: B256,
    non_privileged_tx_count: U64,
    /// Data hashes of the batch's L1 messages, in message order.
    l1_messages: Vec<B256>,
    /// `sealed`, `committed` or `verified`.
    status: &'static str,
    /// The versioned hash of the batch's blob (none in validium mode).
    blob_versioned_hash: Option<B256>,
    /// The L1 `commitBatch` transaction, once committed.
    commit_tx_hash: Option<B256>,
    /// The L1 block of that transaction.
    commit_l1_block: Option<U64>,
    /// The L1 `verifyBatches` transaction, once verified.
    verify_tx_hash: Option<B256>,
    /// The L1 block of that transaction.
    verify_l1_block: Option<U64>,
    /// Whether its last block is at or below the `safe` tag (docs/rpc.md, Block tags).
    safe: bool,
    /// Whether its last block is at or below the `finalized` tag.
    finalized: bool,
}

/// One entry of `keel_getWithdrawalProof`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct WithdrawalProof {
    batch_number: U64,
    message_id: U256,
    message_hash: B256,
    leaf: B256,
    proof: Vec<B256>,
}

fn batch_json(ctx: &RpcContext, batch: Batch) -> Result<BatchJson, RpcError> {
    let store = ctx.chain.store();
    let messages = store.batch_messages(batch.number)?.unwrap_or_default();
    let blob = store.batch_blob(batch.number)?;
    let commit = store.batch_commit(batch.number)?;
    let verification = store.batch_verification(batch.number)?;
    // The tags as the block tag resolver reads them (`block_id`), so both answers agree.
    let settlement = ctx.reader()?.settlement()?;
    let at_or_below = |tag: Option<keel_storage::settlement::SettledBlock>| {
        tag.is_some_and(|t| t.batch >= batch.number)
    };
    Ok(BatchJson {
        number: U64::from(batch.number),
        first_block: U64::from(batch.first_block),
        last_block: U64::from(batch.last_block),
        state_root: batch.state_root,
        last_block_hash: batch.last_block_hash,
        privileged_rolling_hash: batch.privileged_rolling_hash,
        withdrawals_root: batch.withdrawals_root,
        non_privileged_tx_count: U64::from(batch.non_privileged_tx_count),
        l1_messages: messages.iter().map(|m| m.data).collect(),
        status: match (&commit, &verification) {
            (_, Some(_)) => "verified",
            (Some(_), None) => "committed",
            (None, None) => "sealed",
        },
        blob_versioned_hash: blob.map(|b| b.versioned_hash),
        commit_tx_hash: commit.map(|c| c.tx_hash),
        commit_l1_block: commit.map(|c| U64::from(c.l1_block)),
        verify_tx_hash: verification.map(|v| v.tx_hash),
        verify_l1_block: verification.map(|v| U64::from(v.l1_block)),
        safe: at_or_below(settlement.safe),
        finalized: at_or_below(settlement.finalized),
    })
}

fn batch_by_number(ctx: &RpcContext, number: u64) -> Result<Option<BatchJson>, RpcError> {
    match ctx.chain.store().batch(number)? {
        Some(batch) => Ok(Some(batch_json(ctx, batch)?)),
        None => Ok(None),
    }
}

fn withdrawal_proofs(
    ctx: &RpcContext,
    tx_hash: B256,
) -> Result<Option<Vec<WithdrawalProof>>, RpcError> {
    let store = ctx.chain.store();
    let reader = store.reader()?;
    let Some((block_hash, _)) = reader.tx_location(&tx_hash)? else {
        return Ok(None);
    };
    let Some(block) = reader.block_number(&block_hash)? else {
        return Ok(None);
    };
    let Some(batch_number) = store.batch_number_of_block(block)? else {
        return Ok(None);
    };
    let messages = store.batch_messages(batch_number)?.unwrap_or_default();
    let leaves: Vec<B256> = messages.iter().map(|m| m.message().leaf()).collect();
    let mut out = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        if message.tx_hash != tx_hash {
            continue;
        }
        let proof = withdrawal_proof(&leaves, index)
            .ok_or_else(|| RpcError::Internal(format!("no proof for leaf {index}")))?;
        out.push(WithdrawalProof {
            batch_number: U64::from(batch_number),
            message_id: message.message_id,
            message_hash: message.data,
            leaf: leaves[index],
            proof,
        });
    }
    Ok(Some(out))
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("keel_batchNumber", |_, ctx, _| {
        let last = ctx.chain.store().last_batch().map_err(RpcError::from)?;
        Ok::<_, ErrorObjectOwned>(U64::from(last.map_or(0, |b| b.number)))
    })?;
    module.register_blocking_method("keel_getBatchByNumber", |params, ctx, _| {
        let number: U64 = params.one()?;
        Ok::<_, ErrorObjectOwned>(batch_by_number(&ctx, number.to())?)
    })?;
    module.register_blocking_method("keel_getBatchByBlock", |params, ctx, _| {
        let block: U64 = params.one()?;
        let number = ctx
            .chain
            .store()
            .batch_number_of_block(block.to())
            .map_err(RpcError::from)?;
        let batch = match number {
            Some(n) if n > 0 => batch_by_number(&ctx, n)?,
            _ => None,
        };
        Ok::<_, ErrorObjectOwned>(batch)
    })?;
    module.register_blocking_method("keel_getWithdrawalProof", |params, ctx, _| {
        let tx_hash: B256 = params.one()?;
        Ok::<_, ErrorObjectOwned>(withdrawal_proofs(&ctx, tx_hash)?)
    })?;
    module.register_method("keel_getL1Contracts", |_, ctx, _| {
        ctx.config.l1_contracts.clone()
    })?;
    Ok(())
}
