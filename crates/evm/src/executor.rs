//! Execute one block's transactions on top of a state.

use std::{borrow::Cow, sync::Arc};

use alloy_consensus::transaction::Recovered;
use alloy_eips::eip7685::Requests;
use alloy_evm::{
    EvmEnv, EvmFactory,
    block::{BlockExecutionError, BlockExecutor, BlockExecutorFactory},
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder,
    },
};
use alloy_primitives::Address;
use keel_types::{Block, ChainSpec, Receipt};
use revm::database::{BundleState, DatabaseRef, State, states::bundle_state::BundleRetention};

use crate::EvmSpec;

/// Why a block could not be executed.
#[derive(Debug, thiserror::Error)]
pub enum ExecutionError {
    /// The block is invalid (a transaction failed validation, gas over the limit, a system call failed).
    #[error("{0}")]
    Block(#[from] BlockExecutionError),
    /// One sender per transaction is required.
    #[error("{senders} senders given for {txs} transactions")]
    SenderCount { senders: usize, txs: usize },
}

/// What executing a block produced.
#[derive(Debug)]
pub struct ExecutionOutcome {
    pub receipts: Vec<Receipt>,
    pub gas_used: u64,
    pub blob_gas_used: u64,
    pub requests: Requests,
    /// Every account, slot and code the block changed, with original and new values.
    pub bundle: BundleState,
}

/// Execute `block` with the given recovered `senders` over `db` (the parent's state). System calls,
/// withdrawals and requests follow the forks active at the block's timestamp.
pub fn execute_block<DB: DatabaseRef + std::fmt::Debug>(
    spec: &Arc<ChainSpec>,
    db: DB,
    block: &Block,
    senders: &[Address],
) -> Result<ExecutionOutcome, ExecutionError>
where
    DB::Error: Send + Sync + 'static,
{
    let txs = &block.body.transactions;
    if senders.len() != txs.len() {
        return Err(ExecutionError::SenderCount {
            senders: senders.len(),
            txs: txs.len(),
        });
    }
    let header = &block.header;
    let evm_spec = EvmSpec(spec.clone());
    let mut state = State::builder()
        .with_database_ref(db)
        .with_bundle_update()
        .build();

    let evm_env = EvmEnv::for_eth_block(
        header,
        &evm_spec,
        spec.chain_id,
        spec.blob_params_at(header.timestamp),
    );
    let factory = EthBlockExecutorFactory::new(
        AlloyReceiptBuilder::default(),
        evm_spec,
        EthEvmFactory::default(),
    );
    let evm = factory.evm_factory().create_evm(&mut state, evm_env);
    let ctx = EthBlockExecutionCtx {
        parent_hash: header.parent_hash,
        parent_beacon_block_root: header.parent_beacon_block_root,
        ommers: &[],
        withdrawals: block
            .body
            .withdrawals
            .as_ref()
            .map(|w| Cow::Borrowed(w.as_slice())),
        extra_data: header.extra_data.clone(),
        tx_count_hint: Some(txs.len()),
        slot_number: None,
    };
    let mut executor = factory.create_executor(evm, ctx);
    executor.apply_pre_execution_changes()?;
    for (tx, sender) in txs.iter().zip(senders) {
        executor.execute_transaction(Recovered::new_unchecked(tx, *sender))?;
    }
    let (_evm, result) = executor.finish()?;

    state.merge_transitions(BundleRetention::PlainState);
    Ok(ExecutionOutcome {
        receipts: result.receipts,
        gas_used: result.gas_used,
        blob_gas_used: result.blob_gas_used,
        requests: result.requests,
        bundle: state.take_bundle(),
    })
}
