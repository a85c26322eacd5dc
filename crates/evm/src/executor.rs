//! Execute one block's transactions on top of a state: a block someone else built
//! ([`execute_block`]), or a new block filled from a source of candidate transactions
//! ([`build_block`]).

use std::{borrow::Cow, sync::Arc};

use alloy_consensus::{Header, transaction::Recovered};
use alloy_eips::{eip4895::Withdrawal, eip7685::Requests};
use alloy_evm::{
    EvmEnv, EvmFactory,
    block::{
        BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockExecutorFactory,
        BlockValidationError,
    },
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmFactory,
        receipt_builder::AlloyReceiptBuilder,
    },
};
use alloy_primitives::{Address, B256};
use keel_types::{Block, ChainSpec, Receipt, Transaction};
use revm::{
    database::{
        BundleState, DatabaseRef, State, WrapDatabaseRef, states::bundle_state::BundleRetention,
    },
    database_interface::DatabaseCommitExt,
    inspector::NoOpInspector,
};

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

type Factory = EthBlockExecutorFactory<AlloyReceiptBuilder, EvmSpec, EthEvmFactory>;
type Executor<'a, DB> = <Factory as BlockExecutorFactory>::Executor<
    'a,
    &'a mut State<WrapDatabaseRef<DB>>,
    NoOpInspector,
>;

/// One block's execution: the state it runs on and the executor factory.
struct BlockRun<DB: DatabaseRef> {
    spec: Arc<ChainSpec>,
    state: State<WrapDatabaseRef<DB>>,
    factory: Factory,
    env: EvmEnv,
}

impl<DB> BlockRun<DB>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Send + Sync + 'static,
{
    /// Prepare to run a block with `header` over `db`, the parent's state.
    fn new(spec: &Arc<ChainSpec>, db: DB, header: &Header) -> Self {
        let evm_spec = EvmSpec(spec.clone());
        let env = EvmEnv::for_eth_block(
            header,
            &evm_spec,
            spec.chain_id,
            spec.blob_params_at(header.timestamp),
        );
        Self {
            spec: spec.clone(),
            state: State::builder()
                .with_database_ref(db)
                .with_bundle_update()
                .build(),
            factory: Factory::new(
                AlloyReceiptBuilder::default(),
                evm_spec,
                EthEvmFactory::default(),
            ),
            env,
        }
    }

    /// The executor for the block, its pre-block system calls already applied.
    fn executor<'a>(
        &'a mut self,
        header: &Header,
        withdrawals: Option<&'a [Withdrawal]>,
        tx_count_hint: usize,
    ) -> Result<Executor<'a, DB>, ExecutionError> {
        let evm = self
            .factory
            .evm_factory()
            .create_evm(&mut self.state, self.env.clone());
        let ctx = EthBlockExecutionCtx {
            parent_hash: header.parent_hash,
            parent_beacon_block_root: header.parent_beacon_block_root,
            ommers: &[],
            withdrawals: withdrawals.map(Cow::Borrowed),
            extra_data: header.extra_data.clone(),
            tx_count_hint: Some(tx_count_hint),
            slot_number: None,
        };
        let mut executor = self.factory.create_executor(evm, ctx);
        executor.apply_pre_execution_changes()?;
        Ok(executor)
    }

    /// After the executor finished: credit the base-fee vault and collect what the block changed.
    fn finish(
        mut self,
        header: &Header,
        result: BlockExecutionResult<Receipt>,
    ) -> Result<ExecutionOutcome, ExecutionError> {
        // An L2 keeps the base fee in a vault instead of burning it (DESIGN.md section 4).
        if let (Some(vault), Some(base_fee)) = (self.spec.base_fee_vault, header.base_fee_per_gas) {
            let amount = u128::from(base_fee) * u128::from(result.gas_used);
            if amount > 0 {
                self.state
                    .increment_balances([(vault, amount)])
                    .map_err(|_| {
                        BlockExecutionError::from(BlockValidationError::IncrementBalanceFailed)
                    })?;
            }
        }
        self.state.merge_transitions(BundleRetention::PlainState);
        Ok(ExecutionOutcome {
            receipts: result.receipts,
            gas_used: result.gas_used,
            blob_gas_used: result.blob_gas_used,
            requests: result.requests,
            bundle: self.state.take_bundle(),
        })
    }
}

/// Execute `block` with the given recovered `senders` over `db` (the parent's state). System calls,
/// withdrawals and requests follow the forks active at the block's timestamp. Any invalid
/// transaction makes the block invalid.
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
    let withdrawals = block.body.withdrawals.as_ref().map(|w| w.as_slice());
    let mut run = BlockRun::new(spec, db, &block.header);
    let mut executor = run.executor(&block.header, withdrawals, txs.len())?;
    for (tx, sender) in txs.iter().zip(senders) {
        executor.execute_transaction(Recovered::new_unchecked(tx, *sender))?;
    }
    let (_evm, result) = executor.finish()?;
    run.finish(&block.header, result)
}

/// Where [`build_block`] gets its candidate transactions, best first, and tells what became of
/// each.
pub trait TxSource {
    /// The next candidate and its sender, or `None` to end the block.
    fn next_tx(&mut self) -> Option<(Transaction, Address)>;
    /// The candidate could not go into this block; the source should not offer that sender's
    /// later transactions in this block either (their nonces would no longer follow).
    fn skipped(&mut self, tx_hash: B256, sender: Address, reason: SkipReason);
}

/// Why [`build_block`] left a candidate out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The transaction is not valid on this state (nonce, balance, fee below the base fee, ...):
    /// it should leave the pool.
    Invalid(String),
    /// Its gas limit exceeds the gas left in the block: it may fit the next one.
    DoesNotFit,
}

/// A block filled by [`build_block`]: the transactions it took, their senders, and the outcome.
#[derive(Debug)]
pub struct BuiltBlock {
    pub transactions: Vec<Transaction>,
    pub senders: Vec<Address>,
    pub outcome: ExecutionOutcome,
}

/// Below this much gas left, no transaction can fit (21,000 is the cheapest), so stop asking.
const MIN_TX_GAS: u64 = 21_000;

/// Fill a block with `header` (its commitments not yet set) from `source` over `db`, the
/// parent's state: each candidate is executed in turn; one that is invalid on the state built so
/// far, or does not fit the gas left, is left out and reported to the source. Errors are failures
/// of the node (the database), not of a transaction.
pub fn build_block<DB: DatabaseRef + std::fmt::Debug>(
    spec: &Arc<ChainSpec>,
    db: DB,
    header: &Header,
    source: &mut impl TxSource,
) -> Result<BuiltBlock, ExecutionError>
where
    DB::Error: Send + Sync + 'static,
{
    let withdrawals = header.withdrawals_root.map(|_| Vec::new());
    let gas_limit = header.gas_limit;
    let mut run = BlockRun::new(spec, db, header);
    let mut executor = run.executor(header, withdrawals.as_deref(), 0)?;
    let mut transactions = Vec::new();
    let mut senders = Vec::new();
    let mut gas_used = 0u64;
    while gas_limit - gas_used >= MIN_TX_GAS {
        let Some((tx, sender)) = source.next_tx() else {
            break;
        };
        match executor.execute_transaction(Recovered::new_unchecked(&tx, sender)) {
            Ok(gas) => {
                gas_used += gas.tx_gas_used();
                transactions.push(tx);
                senders.push(sender);
            }
            Err(BlockExecutionError::Validation(
                BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. },
            )) => source.skipped(*tx.tx_hash(), sender, SkipReason::DoesNotFit),
            Err(BlockExecutionError::Validation(BlockValidationError::InvalidTx {
                error, ..
            })) => source.skipped(
                *tx.tx_hash(),
                sender,
                SkipReason::Invalid(error.to_string()),
            ),
            Err(other) => return Err(other.into()),
        }
    }
    let (_evm, result) = executor.finish()?;
    let outcome = run.finish(header, result)?;
    Ok(BuiltBlock {
        transactions,
        senders,
        outcome,
    })
}
