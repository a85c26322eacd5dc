//! Execute one block's transactions on top of a state: a block someone else built
//! ([`execute_block`]), or a new block filled from a source of candidate transactions
//! ([`build_block`]).
//!
//! Ethereum transactions run through alloy-evm's Ethereum block executor. Privileged transactions
//! (type `0x7e`, docs/architecture.md, Chain rules) run on the same executor and state, by the
//! rules of [`execute_privileged`]: no signature, no nonce check or bump, no fee (gas price 0:
//! nothing to the coinbase, nothing to the base-fee vault), their gas counted against the block gas
//! limit and in the receipts' cumulative gas; the value is minted when `from` is the L2 bridge,
//! else debited from `from`; a `from` that cannot pay makes a failed receipt and no state change.

use std::{borrow::Cow, sync::Arc};

use alloy_consensus::{Header, ReceiptEnvelope, TxType, transaction::Recovered};
use alloy_eips::{eip4895::Withdrawal, eip7685::Requests};
use alloy_evm::{
    Evm, EvmEnv, EvmFactory,
    block::{
        BlockExecutionError, BlockExecutionResult, BlockExecutor, BlockExecutorFactory,
        BlockValidationError,
    },
    eth::{
        EthBlockExecutionCtx, EthBlockExecutorFactory, EthEvmContext, EthEvmFactory, EthTxResult,
        receipt_builder::AlloyReceiptBuilder,
    },
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{Address, B256, Sealed, TxKind};
use keel_types::{
    Block, ChainSpec, FeeParams, PrivilegedTx, Receipt, Transaction, rules::L2_BRIDGE_ADDRESS,
};
use revm::{
    context::{BlockEnv, TxEnv},
    context_interface::{
        Cfg as _,
        result::{
            ExecutionResult, HaltReason, InvalidTransaction, OutOfGasError, ResultAndState,
            ResultGas,
        },
    },
    database::{
        BundleState, DatabaseRef, State, WrapDatabaseRef, states::bundle_state::BundleRetention,
    },
    database_interface::{Database, DatabaseCommit, DatabaseCommitExt},
    inspector::{Inspector, NoOpInspector},
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
    state::{Account, EvmState, TransactionId},
};

use crate::{
    EvmSpec,
    diff_budget::{
        ACCOUNT_BYTES, DIFF_FIXED_BYTES, DiffSizeBound, PRIVILEGED_LOG_BYTES, SLOT_BYTES,
        STORAGE_COUNT_BYTES,
    },
    fees::{self, BlockFees},
    intrinsic_gas,
};

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
    /// What the block's ordinary transactions were charged at beyond gas (docs/fees.md), on a
    /// chain with the L1 fee rule.
    pub fees: Option<FeeParams>,
}

type Factory = EthBlockExecutorFactory<AlloyReceiptBuilder, EvmSpec, EthEvmFactory>;
type Executor<'a, DB, I = NoOpInspector> =
    <Factory as BlockExecutorFactory>::Executor<'a, &'a mut State<WrapDatabaseRef<DB>>, I>;

/// The EVM context of a block's executor over `DB`: what its inspector sees.
pub type BlockEvmContext<'a, DB> = EthEvmContext<&'a mut State<WrapDatabaseRef<DB>>>;

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

    /// The executor for the block, its pre-block system calls already applied, and on a chain
    /// with the L1 fee rule the block's L1 prices written into the `GasPriceOracle` (see
    /// [`fees::start_block`]) and what the block charges at.
    /// `inspector` is attached but disabled (the executor runs as without one) until enabled
    /// (see [`trace_block`]).
    fn executor<'a, I>(
        &'a mut self,
        header: &Header,
        withdrawals: Option<&'a [Withdrawal]>,
        tx_count_hint: usize,
        inspector: I,
    ) -> Result<(Executor<'a, DB, I>, Option<BlockFees>), ExecutionError>
    where
        I: Inspector<BlockEvmContext<'a, DB>>,
    {
        let mut evm = self.factory.evm_factory().create_evm_with_inspector(
            &mut self.state,
            self.env.clone(),
            inspector,
        );
        evm.disable_inspector();
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
        let fees = match self.spec.fees {
            Some(config) if header.number > 0 => {
                Some(fees::start_block(executor.evm.db_mut(), config, header)?)
            }
            _ => None,
        };
        Ok((executor, fees))
    }

    /// After the executor finished: credit the base-fee vault and collect what the block changed.
    fn finish(
        mut self,
        header: &Header,
        result: BlockExecutionResult<ReceiptEnvelope>,
        privileged: Privileged,
        fees: Option<BlockFees>,
    ) -> Result<ExecutionOutcome, ExecutionError> {
        // An L2 keeps the base fee in a vault instead of burning it (docs/architecture.md, Chain
        // rules). Privileged transactions pay no fee.
        if let (Some(vault), Some(base_fee)) = (self.spec.base_fee_vault, header.base_fee_per_gas) {
            let fee_gas = result.gas_used.saturating_sub(privileged.gas_used);
            let amount = u128::from(base_fee) * u128::from(fee_gas);
            if amount > 0 {
                self.state
                    .increment_balances([(vault, amount)])
                    .map_err(|_| {
                        BlockExecutionError::from(BlockValidationError::IncrementBalanceFailed)
                    })?;
            }
        }
        self.state.merge_transitions(BundleRetention::PlainState);
        let receipts = result
            .receipts
            .into_iter()
            .enumerate()
            .map(|(index, receipt)| privileged.receipt(index, receipt))
            .collect();
        Ok(ExecutionOutcome {
            receipts,
            gas_used: result.gas_used,
            blob_gas_used: result.blob_gas_used,
            requests: result.requests,
            bundle: self.state.take_bundle(),
            fees: fees.map(|fees| fees.params),
        })
    }
}

/// Execute `block` with the given recovered `senders` over `db` (the parent's state). System calls,
/// withdrawals and requests follow the forks active at the block's timestamp. Any invalid
/// transaction makes the block invalid. A privileged transaction's sender is its `from` (its entry
/// in `senders` is not used).
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
    let (mut executor, fees) =
        run.executor(&block.header, withdrawals, txs.len(), NoOpInspector)?;
    let mut privileged = Privileged::default();
    for (tx, sender) in txs.iter().zip(senders) {
        execute_transaction(&mut executor, tx, *sender, &mut privileged, fees.as_ref())?;
    }
    let (_evm, result) = executor.finish()?;
    run.finish(&block.header, result, privileged, fees)
}

/// Where [`build_block`] gets its candidate transactions, best first, and tells what became of
/// each. Privileged transactions are ordinary candidates; their sender is their `from`.
pub trait TxSource {
    /// The next candidate and its sender, or `None` to end the block.
    fn next_tx(&mut self) -> Option<(Transaction, Address)>;
    /// The candidate could not go into this block; the source should not offer that sender's
    /// later transactions in this block either (their nonces would no longer follow). For a
    /// privileged transaction, no later privileged transaction should be offered either: they
    /// are included in `nonce` order, none skipped.
    fn skipped(&mut self, tx_hash: B256, sender: Address, reason: SkipReason);
    /// State a candidate changed, before it is committed (called once or, for a privileged
    /// transaction that mints, twice per included candidate). For sources that publish the
    /// block as it is built (preconfirmations); the default ignores it.
    fn state_changed(&mut self, _changes: &EvmState) {}
    /// The candidate went into the block, with its receipt as the sealed block will hold it
    /// (typed, cumulative gas). Called right after it is committed; the default ignores it.
    fn included(&mut self, _tx: &Transaction, _sender: Address, _receipt: Receipt) {}
}

/// Why [`build_block`] left a candidate out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The transaction is not valid on this state (nonce, balance, fee below the base fee, ...):
    /// it should leave the pool.
    Invalid(String),
    /// Its gas limit exceeds the gas left in the block, or its state changes the state diff
    /// budget left (see [`build_block`]): it may fit the next one.
    DoesNotFit,
}

/// A block filled by [`build_block`]: the transactions it took, their senders, and the outcome.
#[derive(Debug)]
pub struct BuiltBlock {
    pub transactions: Vec<Transaction>,
    pub senders: Vec<Address>,
    pub outcome: ExecutionOutcome,
    /// An upper bound of the block's own state diff v1 size, in bytes (see [`DiffSizeBound`]),
    /// including the space kept for the changes made after the last transaction. Above the
    /// budget only if the privileged transactions alone went over it.
    pub state_diff_bound: usize,
}

/// Below this much gas left, no transaction can fit (21,000 is the cheapest), so stop asking.
const MIN_TX_GAS: u64 = 21_000;

/// After this many candidates in a row left out for the state diff budget, the block is taken
/// as full: each was executed for nothing, and a pool of storage-heavy transactions would
/// otherwise be executed whole for every block.
const MAX_DIFF_SKIPS_IN_A_ROW: usize = 16;

/// A privileged transaction other than a block's first goes in only with this much of the
/// state diff budget left; otherwise it waits for the next block, with the ones after it (it can
/// only be counted once executed, and then it can't be taken out). It is the most one can add
/// to a block's bound ([`MAX_PRIVILEGED_TX_DIFF_BYTES`] and its privileged log, plus one account
/// of margin), so privileged transactions never take a block over its budget when that budget
/// holds an empty block and this room. A deposit takes about 200 bytes (its recipient, the
/// privileged log, the bridge's accounts the first time).
pub const PRIVILEGED_DIFF_ROOM: usize =
    ACCOUNT_BYTES + MAX_PRIVILEGED_TX_DIFF_BYTES + PRIVILEGED_LOG_BYTES;

/// Most bytes a privileged transaction's own state changes may add to a state diff v1 (an upper
/// bound, [`DiffSizeBound`], of its changes alone, the mint included, the fixed header not): a
/// chain rule of `execute_privileged` (see [`build_block`]). One whose changes would take more is
/// included as failed with none of them, so that no privileged transaction can make a block
/// whose diff can't fit a blob (32 KiB: a quarter of a blob; a deposit takes about 200 bytes).
pub const MAX_PRIVILEGED_TX_DIFF_BYTES: usize = 32 * 1024;

/// Fill a block with `header` (its commitments not yet set) from `source` over `db`, the
/// parent's state: each candidate is executed in turn; one that is invalid on the state built so
/// far, or does not fit the gas left, is left out and reported to the source. Errors are failures
/// of the node (the database), not of a transaction. A privileged candidate whose `from` cannot
/// pay its value is not left out: it goes in with a failed receipt (see [`execute_privileged`]).
///
/// With `max_state_diff_bytes`, the block's own state diff is kept within that many bytes: an
/// upper bound of it ([`DiffSizeBound`]) grows with each transaction, counting the system calls
/// before the first one and keeping room for the changes after the last one (the base-fee vault's
/// credit, the EIP-7002/7251 request contracts when deployed).
///
/// - An ordinary transaction whose changes would take the bound over the budget is not committed
///   and is reported [`SkipReason::DoesNotFit`] (it may fit the next block); building goes on
///   with the other candidates, so that small transactions still fill the room left, until
///   [`MAX_DIFF_SKIPS_IN_A_ROW`] candidates in a row were left out or the room left is below one
///   account. One whose changes would not fit even an otherwise empty block is reported
///   [`SkipReason::Invalid`]: it could never be included.
/// - A privileged transaction can't be taken back once executed, so it is counted after the
///   fact. One that is not the block's first waits for the next block (reported
///   [`SkipReason::DoesNotFit`], which ends the block's privileged part) when less than
///   [`PRIVILEGED_DIFF_ROOM`] bytes are left. Since the chain rule caps what one privileged
///   transaction may change ([`MAX_PRIVILEGED_TX_DIFF_BYTES`], see `execute_privileged`), the
///   privileged transactions only take the bound over the budget when the budget is smaller
///   than an empty block's bound plus [`PRIVILEGED_DIFF_ROOM`] (the first one always goes in):
///   the block then ends after them and [`BuiltBlock::state_diff_bound`] exceeds the budget,
///   for the caller to report.
///
/// A privileged transaction is never left out for good (the lane behind it would stall): its
/// gas limit above the block gas limit, it waits to be the block's first and goes in as failed
/// (see `execute_privileged`); above the gas left in the block, it waits for the next block,
/// where it is first and fits. Only one for another chain is reported [`SkipReason::Invalid`].
pub fn build_block<DB: DatabaseRef + std::fmt::Debug>(
    spec: &Arc<ChainSpec>,
    db: DB,
    header: &Header,
    source: &mut impl TxSource,
    max_state_diff_bytes: Option<usize>,
) -> Result<BuiltBlock, ExecutionError>
where
    DB::Error: Send + Sync + 'static,
{
    let withdrawals = header.withdrawals_root.map(|_| Vec::new());
    let gas_limit = header.gas_limit;
    let mut run = BlockRun::new(spec, db, header);
    let (mut executor, fees) = run.executor(header, withdrawals.as_deref(), 0, NoOpInspector)?;
    let mut bound = DiffSizeBound::new();
    if let Some(transitions) = &executor.evm.db().transition_state {
        bound.record_transitions(transitions);
    }
    bound.reserve(post_block_reserve(&mut executor, spec, header)?);
    let empty_block_bound = bound.bytes();
    let budget = max_state_diff_bytes.unwrap_or(usize::MAX);
    let mut diff_skips = 0;
    let mut transactions = Vec::new();
    let mut senders = Vec::new();
    let mut gas_used = 0u64;
    let mut privileged = Privileged::default();
    while gas_limit - gas_used >= MIN_TX_GAS
        && budget.saturating_sub(bound.bytes()) >= ACCOUNT_BYTES
        && diff_skips < MAX_DIFF_SKIPS_IN_A_ROW
    {
        let Some((tx, sender)) = source.next_tx() else {
            break;
        };
        let sender = tx.as_privileged().map_or(sender, |p| p.from);
        let hash = *tx.tx_hash();
        let executed = match &tx {
            Transaction::Ethereum(eth) => {
                match execute_ethereum_without_commit(&mut executor, eth, sender, fees.as_ref()) {
                    Ok(output) => {
                        let ResultAndState { result, state } = &output.result;
                        let cost = bound.cost(state, result.logs());
                        if bound.bytes() + cost > budget {
                            diff_skips += 1;
                            let reason = if empty_block_bound + cost > budget {
                                SkipReason::Invalid(format!(
                                    "its state diff ({} bytes) exceeds a blob (block budget {budget} bytes)",
                                    empty_block_bound + cost
                                ))
                            } else {
                                SkipReason::DoesNotFit
                            };
                            source.skipped(hash, sender, reason);
                            continue;
                        }
                        bound.record(state, result.logs());
                        source.state_changed(state);
                        Ok(executor.commit_transaction(output).tx_gas_used())
                    }
                    Err(error) => Err(error),
                }
            }
            Transaction::Privileged(sealed) => {
                // Not the block's first: one that can never fit a block's gas waits to be the
                // first of the next (where it is included as failed), and any waits when the
                // room left might not hold its changes.
                if !transactions.is_empty()
                    && (sealed.gas_limit > gas_limit
                        || budget.saturating_sub(bound.bytes()) < PRIVILEGED_DIFF_ROOM)
                {
                    source.skipped(hash, sender, SkipReason::DoesNotFit);
                    continue;
                }
                let index = executor.receipts.len();
                execute_privileged(
                    &mut executor,
                    sealed,
                    Some(&mut bound),
                    &mut |changes| source.state_changed(changes),
                    None,
                )
                .inspect(|gas| {
                    bound.add_privileged();
                    privileged.indices.push(index);
                    privileged.gas_used += gas;
                })
            }
        };
        match executed {
            Ok(gas) => {
                diff_skips = 0;
                gas_used += gas;
                if let Some(envelope) = executor.receipts.last() {
                    let receipt = if tx.is_privileged() {
                        Receipt::Privileged(privileged_receipt(envelope))
                    } else {
                        Receipt::Ethereum(envelope.clone())
                    };
                    source.included(&tx, sender, receipt);
                }
                transactions.push(tx);
                senders.push(sender);
            }
            Err(BlockExecutionError::Validation(
                BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas { .. },
            )) => source.skipped(hash, sender, SkipReason::DoesNotFit),
            Err(BlockExecutionError::Validation(BlockValidationError::InvalidTx {
                error, ..
            })) => source.skipped(hash, sender, SkipReason::Invalid(error.to_string())),
            Err(other) => return Err(other.into()),
        }
    }
    let (_evm, result) = executor.finish()?;
    let outcome = run.finish(header, result, privileged, fees)?;
    Ok(BuiltBlock {
        transactions,
        senders,
        outcome,
        state_diff_bound: bound.bytes(),
    })
}

/// The EIP-7002 and EIP-7251 request contracts' post-block calls write at most their first four
/// slots (excess, count, queue head, queue tail).
const REQUEST_CONTRACT_DIFF: usize = ACCOUNT_BYTES + STORAGE_COUNT_BYTES + 4 * SLOT_BYTES;

/// The state diff room kept for what changes after a block's last transaction: the base-fee
/// vault's credit, and the Prague request contracts' post-block calls if they are deployed (the
/// L2 genesis has none).
fn post_block_reserve<DB>(
    executor: &mut Executor<'_, DB>,
    spec: &ChainSpec,
    header: &Header,
) -> Result<usize, BlockExecutionError>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Send + Sync + 'static,
{
    let mut reserve = 0;
    if spec.base_fee_vault.is_some() && header.base_fee_per_gas.unwrap_or_default() > 0 {
        reserve += ACCOUNT_BYTES;
    }
    if spec.is_prague_active_at_timestamp(header.timestamp) {
        for contract in [
            alloy_eips::eip7002::WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS,
            alloy_eips::eip7251::CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS,
        ] {
            let info = executor.evm.db_mut().basic(contract).map_err(|e| {
                BlockExecutionError::msg(format!("reading request contract {contract}: {e}"))
            })?;
            if info.is_some_and(|info| info.code_hash != KECCAK_EMPTY) {
                reserve += REQUEST_CONTRACT_DIFF;
            }
        }
    }
    Ok(reserve)
}

/// The privileged transactions of a block being executed: which receipts are theirs, and the gas
/// they used (which pays no base fee).
#[derive(Debug, Default)]
struct Privileged {
    /// Indices of their receipts, ascending.
    indices: Vec<usize>,
    gas_used: u64,
}

impl Privileged {
    /// The block's `index`-th receipt as the executor built it, typed `0x7e` if it is a privileged
    /// transaction's.
    fn receipt(&self, index: usize, receipt: ReceiptEnvelope) -> Receipt {
        if self.indices.binary_search(&index).is_err() {
            return Receipt::Ethereum(receipt);
        }
        match receipt {
            ReceiptEnvelope::Eip1559(receipt) => Receipt::Privileged(receipt),
            other => Receipt::Privileged(privileged_receipt(&other)),
        }
    }
}

/// A privileged transaction's receipt from the envelope the executor built for it.
fn privileged_receipt(envelope: &ReceiptEnvelope) -> alloy_consensus::ReceiptWithBloom {
    envelope
        .as_receipt_with_bloom()
        .expect("every receipt envelope holds a receipt with bloom")
        .clone()
}

/// Execute the next transaction of the block: an Ethereum one through alloy-evm, a privileged one
/// by [`execute_privileged`]. Returns the gas it used.
fn execute_transaction<DB>(
    executor: &mut Executor<'_, DB>,
    tx: &Transaction,
    sender: Address,
    privileged: &mut Privileged,
    fees: Option<&BlockFees>,
) -> Result<u64, BlockExecutionError>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Send + Sync + 'static,
{
    match tx {
        Transaction::Ethereum(eth) => {
            let output = execute_ethereum_without_commit(executor, eth, sender, fees)?;
            Ok(executor.commit_transaction(output).tx_gas_used())
        }
        Transaction::Privileged(sealed) => {
            let index = executor.receipts.len();
            let gas = execute_privileged(executor, sealed, None, &mut |_| {}, None)?;
            privileged.indices.push(index);
            privileged.gas_used += gas;
            Ok(gas)
        }
    }
}

/// Run an ordinary transaction without committing it. With the L1 fee rule (docs/fees.md), its
/// sender must first be able to pay its L1 fee and most operator fee on top of Ethereum's
/// `gas limit × max fee + value` ([`fees::check_funds`]), and both fees are then taken from it
/// within the transaction's changes ([`fees::charge`]).
fn execute_ethereum_without_commit<'a, DB, I>(
    executor: &mut Executor<'a, DB, I>,
    eth: &alloy_consensus::TxEnvelope,
    sender: Address,
    fees: Option<&BlockFees>,
) -> Result<EthTxResult<HaltReason, TxType>, BlockExecutionError>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Send + Sync + 'static,
    I: Inspector<BlockEvmContext<'a, DB>>,
{
    if let Some(fees) = fees {
        fees::check_funds(executor.evm.db_mut(), fees, eth, sender)?;
    }
    let mut output =
        executor.execute_transaction_without_commit(Recovered::new_unchecked(eth, sender))?;
    if let Some(fees) = fees {
        let gas_used = output.result.result.tx_gas_used();
        fees::charge(
            executor.evm.db_mut(),
            fees,
            eth,
            sender,
            gas_used,
            &mut output.result.state,
        )?;
    }
    Ok(output)
}

/// Execute a privileged transaction (docs/architecture.md, Chain rules) on the block's executor and
/// append its receipt. Returns the gas it used. Its state changes are recorded in `bound`, if
/// given.
///
/// - Like any transaction, it must be for this chain and its gas limit must fit the gas left in
///   the block (else the error makes the block invalid, or the builder leave it out), with one
///   exception: a gas limit above the block gas limit, which no block could ever hold, makes it
///   fail (below), so that it can't hold up the privileged transactions after it.
/// - No signature, no nonce check and no nonce bump: revm bumps the caller's nonce for a call,
///   so the bump is taken back out of the state changes before they are committed.
/// - No fee: it runs at gas price 0 (the caller pays no gas, the coinbase gets no tip) and its gas
///   is left out of the base-fee vault's credit; its gas still counts in the block's gas used and
///   in the receipts' cumulative gas.
/// - From the L2 bridge, its `value` is minted to the bridge before the call; the mint stands even
///   if the call then reverts (the L1 side has locked the funds either way).
/// - From anyone else, `value` moves from `from` as in a normal call.
/// - It cannot be left out, so what would make an ordinary transaction invalid on the state makes
///   it fail instead: if `from` (not the bridge) has less than `value`, or the gas limit is below
///   the intrinsic gas (with the EIP-7623 floor) or above the per-transaction cap, it is included
///   with a failed receipt (status 0, no logs) and no state change at all (no mint either). It
///   then uses its intrinsic gas, capped at its gas limit: 21,000 for a plain transfer.
/// - The same goes for a gas limit above the block's gas limit (the L1 bridge's
///   `maxPrivilegedGasLimit` is meant to prevent it; the node refuses to start with a block gas
///   limit below that cap): failed receipt, no state change, no mint; it uses its intrinsic gas
///   capped at the gas left in the block (the block builder puts it first, so that is the whole
///   block gas limit).
/// - Its own state changes (the mint included) may take at most
///   [`MAX_PRIVILEGED_TX_DIFF_BYTES`] of a state diff, counted by [`DiffSizeBound`] as if it were
///   alone in a block. Past that it fails: status 0, no logs, none of its call's changes, the
///   gas it used still counted; a mint stands (the funds are locked on L1), as for a reverted
///   call. Without this rule one privileged transaction could write more state than a blob
///   holds, and the block carrying it could never be committed.
fn execute_privileged<'a, DB, I>(
    executor: &mut Executor<'a, DB, I>,
    sealed: &Sealed<PrivilegedTx>,
    mut bound: Option<&mut DiffSizeBound>,
    observe: &mut dyn FnMut(&EvmState),
    traced: Option<PrivilegedHook<'_, DB, I>>,
) -> Result<u64, BlockExecutionError>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Send + Sync + 'static,
    I: Inspector<BlockEvmContext<'a, DB>>,
{
    let tx = sealed.inner();
    let hash = sealed.hash();
    let invalid = |error: InvalidTransaction| {
        BlockExecutionError::from(BlockValidationError::InvalidTx {
            hash,
            error: Box::new(error),
        })
    };
    let fatal = |error: &dyn std::fmt::Display| {
        BlockExecutionError::msg(format!("privileged transaction {hash}: {error}"))
    };

    if tx.chain_id != executor.evm.chain_id() {
        return Err(invalid(InvalidTransaction::InvalidChainId));
    }
    let block_gas_used = if executor.evm.cfg_env().enable_amsterdam_eip8037 {
        executor.block_regular_gas_used
    } else {
        executor.cumulative_tx_gas_used
    };
    let block_gas_limit = executor.evm.block().gas_limit;
    let block_available_gas = block_gas_limit.saturating_sub(block_gas_used);
    let spec_id: SpecId = executor.evm.cfg_env().spec;
    let intrinsic = intrinsic_gas(spec_id, &Transaction::Privileged(sealed.clone()));
    if tx.gas_limit > block_gas_limit {
        // It could never fit any block of this gas limit: rather than an unincludable deposit
        // holding up every later one, it is included as failed.
        let gas = intrinsic.min(block_available_gas);
        return Ok(commit_failed(
            executor,
            gas,
            HaltReason::OutOfGas(OutOfGasError::Basic),
        ));
    }
    if tx.gas_limit > block_available_gas {
        return Err(
            BlockValidationError::TransactionGasLimitMoreThanAvailableBlockGas {
                transaction_gas_limit: tx.gas_limit,
                block_available_gas,
            }
            .into(),
        );
    }

    if intrinsic > tx.gas_limit || tx.gas_limit > executor.evm.cfg_env().tx_gas_limit_cap() {
        let gas = intrinsic.min(tx.gas_limit);
        return Ok(commit_failed(
            executor,
            gas,
            HaltReason::OutOfGas(OutOfGasError::Basic),
        ));
    }

    let caller_info = executor
        .evm
        .db_mut()
        .basic(tx.from)
        .map_err(|e| fatal(&e))?;
    let caller = caller_info.clone().unwrap_or_default();
    let mint = tx.from == L2_BRIDGE_ADDRESS;
    // The transaction's own changes, as if alone in a block (the same on every node).
    let mut own_diff = DiffSizeBound::new();
    if !mint && caller.balance < tx.value {
        return Ok(commit_failed(executor, intrinsic, HaltReason::OutOfFunds));
    }
    if mint && !tx.value.is_zero() {
        let balance = caller
            .balance
            .checked_add(tx.value)
            .ok_or_else(|| invalid(InvalidTransaction::OverflowPaymentInTransaction))?;
        // As `increment_balances` does, with the full 256-bit value.
        let mut account = match caller_info {
            Some(info) => Account::from(info),
            None => Account::new_not_existing(TransactionId::ZERO),
        };
        account.info.balance = balance;
        account.mark_touch();
        let minted = EvmState::from_iter([(tx.from, account)]);
        if let Some(bound) = bound.as_deref_mut() {
            bound.record(&minted, &[]);
        }
        own_diff.record(&minted, &[]);
        observe(&minted);
        executor.evm.db_mut().commit(minted);
    }

    let tx_env = TxEnv {
        tx_type: keel_types::privileged::PRIVILEGED_TX_TYPE,
        caller: tx.from,
        gas_limit: tx.gas_limit,
        gas_price: 0,
        kind: TxKind::Call(tx.to),
        value: tx.value,
        data: tx.data.clone(),
        nonce: caller.nonce,
        chain_id: Some(tx.chain_id),
        gas_priority_fee: None,
        ..TxEnv::default()
    };
    // No nonce rule, and the L2 bridge (a contract) may be the caller (EIP-3607 off). The type
    // 0x7e is a custom type to revm: it skips the fee checks, and gas price 0 charges nothing.
    let cfg = &mut executor.evm.ctx_mut().cfg;
    let saved = (cfg.disable_nonce_check, cfg.disable_eip3607);
    cfg.disable_nonce_check = true;
    cfg.disable_eip3607 = true;
    let result = executor.evm.transact(tx_env.clone());
    let cfg = &mut executor.evm.ctx_mut().cfg;
    (cfg.disable_nonce_check, cfg.disable_eip3607) = saved;
    let mut result = match result {
        Ok(result) => result,
        // The checks above leave nothing for revm to reject; after a mint it is too late to
        // leave the transaction out, so anything else is a failure of the node.
        Err(error) if mint => return Err(fatal(&error)),
        Err(error) => return Err(BlockExecutionError::evm(error, hash)),
    };
    // Take back the nonce bump revm gives the caller of a call.
    if let Some(account) = result.state.get_mut(&tx.from)
        && account.info.nonce > caller.nonce
    {
        account.info.nonce -= 1;
    }
    own_diff.record(&result.state, result.result.logs());
    if own_diff.bytes() - DIFF_FIXED_BYTES > MAX_PRIVILEGED_TX_DIFF_BYTES {
        // Too much state for the blob of any block: it fails, its changes dropped (a mint
        // stands, as for a reverted call), its gas still used.
        result.result = ExecutionResult::Revert {
            gas: *result.result.gas(),
            logs: Vec::new(),
            output: Default::default(),
        };
        result.state = EvmState::default();
    }
    if let Some(bound) = bound {
        bound.record(&result.state, result.result.logs());
    }
    observe(&result.state);
    if let Some(traced) = traced {
        let (db, inspector, _) = executor.evm.components_mut();
        traced(&tx_env, &result, inspector, db);
    }
    Ok(executor
        .commit_transaction(EthTxResult {
            result,
            blob_gas_used: 0,
            tx_type: TxType::Eip1559,
        })
        .tx_gas_used())
}

/// Append the failed receipt of a privileged transaction that could not run: `gas` used, no
/// logs, no state change.
fn commit_failed<'a, DB, I>(executor: &mut Executor<'a, DB, I>, gas: u64, reason: HaltReason) -> u64
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Send + Sync + 'static,
    I: Inspector<BlockEvmContext<'a, DB>>,
{
    let result = ExecutionResult::Halt {
        reason,
        gas: ResultGas::default().with_total_gas_spent(gas),
        logs: Vec::new(),
    };
    executor
        .commit_transaction(EthTxResult {
            result: ResultAndState::new(result, EvmState::default()),
            blob_gas_used: 0,
            tx_type: TxType::Eip1559,
        })
        .tx_gas_used()
}

/// What [`execute_privileged`] hands a tracer when it ran the call: the transaction's
/// environment, its outcome (not yet committed), the inspector and the state before it.
type PrivilegedHook<'h, DB, I> =
    &'h mut dyn FnMut(&TxEnv, &ResultAndState, &mut I, &State<WrapDatabaseRef<DB>>);

/// The state a block is replayed on by [`trace_block`].
pub struct BlockReplay<DB: DatabaseRef>(BlockRun<DB>);

impl<DB> BlockReplay<DB>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Send + Sync + 'static,
{
    /// Replay a block with `header` over `db`, its parent's state.
    pub fn new(spec: &Arc<ChainSpec>, db: DB, header: &Header) -> Self {
        Self(BlockRun::new(spec, db, header))
    }
}

/// One transaction of a block replayed by [`trace_block`], as executed and before it is
/// committed.
pub struct TracedTx<'t, DB: DatabaseRef, I> {
    /// Its index in the block.
    pub index: usize,
    /// What the EVM ran (for a privileged transaction: its call at gas price 0).
    pub tx_env: &'t TxEnv,
    /// The block's environment.
    pub block_env: &'t BlockEnv,
    /// Its outcome and the state it changed (with the L1 fee rule: its fees taken).
    pub result: &'t ResultAndState,
    /// The inspector, which saw this transaction only if it was not reset since.
    pub inspector: &'t mut I,
    /// The state just before the transaction.
    pub state: &'t State<WrapDatabaseRef<DB>>,
}

/// Why [`trace_block`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    /// The deadline passed.
    #[error("execution timeout")]
    Timeout,
    /// The block has no transaction at that index.
    #[error("transaction index {index} out of range (the block has {txs})")]
    NoSuchTransaction { index: usize, txs: usize },
    /// What the caller's `on_tx` returned.
    #[error("{0}")]
    Tracer(String),
}

impl From<BlockExecutionError> for TraceError {
    fn from(error: BlockExecutionError) -> Self {
        Self::Execution(error.into())
    }
}

/// Replay `block` (with its recovered `senders`) over `db`, the parent's state, in the block's
/// environment and by the executor's rules ([`execute_block`]: system calls, privileged
/// transactions, the L1 fee rule), up to and including its transaction `traced.end()`, with
/// `inspector` attached to the transactions in `traced` only. Each traced transaction is handed
/// to `on_tx` before it is committed (see [`TracedTx`]); the inspector is not reset between
/// transactions: `on_tx` does that. Past `deadline` (checked between transactions and, while
/// the inspector is attached, every few thousand steps) the replay stops with
/// [`TraceError::Timeout`].
///
/// A privileged transaction that could not run (see `execute_privileged`: failed receipt, no
/// state change) is handed over with a halt, no state change and nothing inspected. For one from
/// the L2 bridge, `state` already holds the mint of its value.
///
/// `replay` holds the state the block runs on ([`BlockReplay::new`]); it is only borrowed so
/// that the inspector's bound can name the executor's lifetime.
pub fn trace_block<'a, DB, I, F>(
    replay: &'a mut BlockReplay<DB>,
    block: &'a Block,
    senders: &[Address],
    traced: std::ops::RangeInclusive<usize>,
    inspector: I,
    deadline: Option<std::time::Instant>,
    mut on_tx: F,
) -> Result<(), TraceError>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Send + Sync + 'static,
    (crate::trace::Deadline, I): Inspector<BlockEvmContext<'a, DB>>,
    F: FnMut(TracedTx<'_, DB, I>) -> Result<(), String>,
{
    let txs = &block.body.transactions;
    if senders.len() != txs.len() {
        return Err(ExecutionError::SenderCount {
            senders: senders.len(),
            txs: txs.len(),
        }
        .into());
    }
    let last = *traced.end();
    if last >= txs.len() {
        return Err(TraceError::NoSuchTransaction {
            index: last,
            txs: txs.len(),
        });
    }
    let withdrawals = block.body.withdrawals.as_ref().map(|w| w.as_slice());
    let timer = crate::trace::Deadline::new(deadline);
    let (mut executor, fees) =
        replay
            .0
            .executor(&block.header, withdrawals, last + 1, (timer, inspector))?;
    let block_env = executor.evm.block().clone();
    for (index, (tx, sender)) in txs.iter().zip(senders).enumerate().take(last + 1) {
        if deadline.is_some_and(|deadline| std::time::Instant::now() >= deadline) {
            return Err(TraceError::Timeout);
        }
        let inspect = traced.contains(&index);
        executor.evm.set_inspector_enabled(inspect);
        match tx {
            Transaction::Ethereum(eth) => {
                let output =
                    execute_ethereum_without_commit(&mut executor, eth, *sender, fees.as_ref())?;
                if executor.evm.inspector().0.expired() {
                    return Err(TraceError::Timeout);
                }
                if inspect {
                    let tx_env =
                        <TxEnv as alloy_evm::FromRecoveredTx<_>>::from_recovered_tx(eth, *sender);
                    let (state, inspector, _) = executor.evm.components_mut();
                    on_tx(TracedTx {
                        index,
                        tx_env: &tx_env,
                        block_env: &block_env,
                        result: &output.result,
                        inspector: &mut inspector.1,
                        state,
                    })
                    .map_err(TraceError::Tracer)?;
                }
                executor.commit_transaction(output);
            }
            Transaction::Privileged(sealed) => {
                let mut handed = false;
                let mut failure = None;
                let mut hook = |tx_env: &TxEnv,
                                result: &ResultAndState,
                                inspector: &mut (crate::trace::Deadline, I),
                                state: &State<WrapDatabaseRef<DB>>| {
                    handed = true;
                    if inspector.0.expired() {
                        failure = Some(TraceError::Timeout);
                        return;
                    }
                    if let Err(e) = on_tx(TracedTx {
                        index,
                        tx_env,
                        block_env: &block_env,
                        result,
                        inspector: &mut inspector.1,
                        state,
                    }) {
                        failure = Some(TraceError::Tracer(e));
                    }
                };
                let gas = execute_privileged(
                    &mut executor,
                    sealed,
                    None,
                    &mut |_| {},
                    inspect.then_some(&mut hook as PrivilegedHook<'_, DB, _>),
                )?;
                if let Some(failure) = failure {
                    return Err(failure);
                }
                if inspect && !handed {
                    let tx_env = TxEnv {
                        tx_type: keel_types::privileged::PRIVILEGED_TX_TYPE,
                        caller: sealed.from,
                        gas_limit: sealed.gas_limit,
                        kind: TxKind::Call(sealed.to),
                        value: sealed.value,
                        data: sealed.data.clone(),
                        chain_id: Some(sealed.chain_id),
                        ..TxEnv::default()
                    };
                    let result = ResultAndState::new(
                        ExecutionResult::Halt {
                            reason: HaltReason::OutOfGas(OutOfGasError::Basic),
                            gas: ResultGas::default().with_total_gas_spent(gas),
                            logs: Vec::new(),
                        },
                        EvmState::default(),
                    );
                    let (state, inspector, _) = executor.evm.components_mut();
                    on_tx(TracedTx {
                        index,
                        tx_env: &tx_env,
                        block_env: &block_env,
                        result: &result,
                        inspector: &mut inspector.1,
                        state,
                    })
                    .map_err(TraceError::Tracer)?;
                }
            }
        }
    }
    Ok(())
}
