//! `eth_simulateV1(payload, block?)`: calls run in a sequence of simulated blocks on the state
//! after `block`, each block seeing what the ones before it changed; nothing is stored. The rules
//! follow geth's:
//!
//! - A block's number is the one before + 1 unless overridden; an override must be higher, and
//!   the blocks it skips are simulated empty and returned too. At most [`MAX_BLOCKS`] blocks in
//!   all. Its timestamp is the one before + [`TIMESTAMP_STEP`] unless overridden (an override may
//!   not go back). Gas limit, fee recipient and randomness are the base block's unless
//!   overridden; the base fee is the next base fee of the block before with `validation`, else 0
//!   (unless overridden).
//! - A call's `from` defaults to the zero address, its nonce to the sender's in the simulation,
//!   its gas to what is left of the block's gas limit. No fee fields mean a gas price of 0.
//! - Without `validation` calls are checked as `eth_call`'s (no nonce or base-fee check); with
//!   it as transactions are, but for the sender being a contract and the signature. A call that
//!   is invalid fails the whole request with the spec's code (-38010 nonce too low, -38011 too
//!   high, -38012 fee under the base fee, -38013 intrinsic gas, -38014 funds, -38015 block gas
//!   limit, -38020/-38021 block order, -38026 a limit of this node).
//! - A call that reverts or halts is a result with `status: 0x0` and an `error` (3 with the
//!   revert data; -32015 for a halt), and the next call runs on.
//! - `traceTransfers` adds each ETH transfer as an ERC-20 `Transfer` log from
//!   `0xeeee…eeee`, in order with the call's logs.
//! - Each block is returned with its header computed over the simulated calls: transactions
//!   (unsigned: signature zero; their hashes are of that encoding), receipts, logs bloom and
//!   state root (the base block's state with every change so far, overrides included), so that
//!   logs carry the simulated block's hash and a later block's `BLOCKHASH` sees it.
//! - keel's L1 and operator fees are not charged, as in `eth_call`; the system calls of a real
//!   block (EIP-4788, EIP-2935) are not made. All of it must finish within [`crate::trace`]'s
//!   default deadline, else -32016.

use std::{
    collections::{HashMap, HashSet},
    time::Instant,
};

use alloy_consensus::{
    Eip658Value, ReceiptEnvelope,
    proofs::{calculate_receipt_root, calculate_transaction_root},
};
use alloy_evm::{EvmEnv, rpc::TryIntoTxEnv};
use alloy_primitives::{Address, B256, Bytes, Signature, U256};
use alloy_rpc_types_eth::{
    BlockId, BlockNumberOrTag, BlockOverrides, TransactionRequest,
    simulate::{MAX_SIMULATE_BLOCKS, SimBlock, SimCallResult, SimulateError, SimulatePayload},
    state::StateOverride,
};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_evm::{StoreDb, compute_state_update, inspect_call, logs_bloom};
use keel_storage::{ChainReader, StateReader, StoreError};
use keel_types::{Block, BlockBody, Header, Receipt, Transaction};
use revm::{
    DatabaseCommit, DatabaseRef,
    context_interface::result::{EVMError, ExecutionResult, InvalidTransaction},
    database::{
        AccountStatus, BundleAccount, BundleState, CacheDB,
        states::{StorageSlot, StorageWithOriginalValues},
    },
    database_interface::DBErrorMarker,
    state::AccountInfo,
};
use revm_inspectors::transfer::TransferInspector;

use crate::{
    RpcContext,
    block_id::require_header,
    convert::{TxPosition, rpc_block, rpc_log},
    dispatch::register_evm,
    error::{RpcError, RpcResult},
    eth_call::{apply_overrides, halt_message, revert_reason},
    eth_state::state_after,
    trace::DEFAULT_TIMEOUT,
};

/// Most blocks one request may simulate, skipped ones included (geth's, the `BLOCKHASH` window).
pub const MAX_BLOCKS: u64 = MAX_SIMULATE_BLOCKS;
/// Most calls one request may make, over all its blocks.
pub const MAX_CALLS: usize = 1_000;
/// Seconds between a simulated block and the one before when its time is not overridden
/// (geth's).
pub const TIMESTAMP_STEP: u64 = 12;

// The spec's error codes (execution-apis, eth_simulateV1).
const NONCE_TOO_LOW: i32 = -38010;
const NONCE_TOO_HIGH: i32 = -38011;
const FEE_BELOW_BASE_FEE: i32 = -38012;
const INTRINSIC_GAS: i32 = -38013;
const INSUFFICIENT_FUNDS: i32 = -38014;
const BLOCK_GAS_LIMIT: i32 = -38015;
const BLOCK_NUMBER_ORDER: i32 = -38020;
const BLOCK_TIME_ORDER: i32 = -38021;
const CLIENT_LIMIT: i32 = -38026;
const TIMEOUT: i32 = -32016;
const VM_ERROR: i32 = SimulateError::VM_EXECUTION_ERROR_CODE;

/// A simulated block as returned: the block in `eth_getBlockBy*`'s shape and its calls' results.
type SimulatedBlock = alloy_rpc_types_eth::simulate::SimulatedBlock<crate::convert::RpcBlock>;

fn coded(code: i32, message: impl Into<String>) -> RpcError {
    RpcError::Coded {
        code,
        message: message.into(),
    }
}

/// What the simulation changed since its base block: the accounts (and of those the slots) to
/// write into the base state for a simulated block's state root.
#[derive(Default)]
struct Changes {
    accounts: HashSet<Address>,
    /// Accounts whose storage was replaced whole (created, self-destructed, or a `state`
    /// override): their slots are all in the cache.
    wiped: HashSet<Address>,
    slots: HashMap<Address, HashSet<U256>>,
}

impl Changes {
    fn record_overrides(&mut self, overrides: &StateOverride) {
        for (address, account) in overrides {
            self.accounts.insert(*address);
            if account.state.is_some() {
                self.wiped.insert(*address);
            }
            if let Some(diff) = &account.state_diff {
                self.slots
                    .entry(*address)
                    .or_default()
                    .extend(diff.keys().map(|slot| U256::from_be_bytes(slot.0)));
            }
        }
    }

    fn record_call(&mut self, state: &revm::state::EvmState) {
        for (address, account) in state {
            if !account.is_touched() {
                continue;
            }
            self.accounts.insert(*address);
            if account.is_created() || account.is_selfdestructed() {
                self.wiped.insert(*address);
            }
            let changed = account
                .storage
                .iter()
                .filter(|(_, slot)| slot.is_changed())
                .map(|(key, _)| *key);
            self.slots.entry(*address).or_default().extend(changed);
        }
    }

    /// The changes as one block's bundle over the base state, read through `base`.
    fn bundle<DB>(
        &self,
        db: &CacheDB<DB>,
        base: &impl StateReader<Error = StoreError>,
    ) -> RpcResult<BundleState> {
        let mut bundle = BundleState::default();
        for address in &self.accounts {
            let original = base.account(address)?;
            let original_info = original.map(|a| AccountInfo {
                balance: a.balance,
                nonce: a.nonce,
                code_hash: a.code_hash,
                ..Default::default()
            });
            let cached = db.cache.accounts.get(address);
            // An account left empty is deleted (EIP-161), as a block would.
            let info = cached
                .and_then(|a| a.info())
                .filter(|info| !info.is_empty());
            if info.is_none() && original_info.is_none() {
                continue;
            }
            let wiped = self.wiped.contains(address)
                || cached.is_some_and(|a| a.account_state.is_storage_cleared());
            let mut storage = StorageWithOriginalValues::default();
            if wiped {
                for (slot, value) in cached.map(|a| &a.storage).into_iter().flatten() {
                    storage.insert(
                        *slot,
                        StorageSlot {
                            previous_or_original_value: U256::ZERO,
                            present_value: *value,
                        },
                    );
                }
            } else if let Some(slots) = self.slots.get(address) {
                for slot in slots {
                    let original = base.storage(address, &B256::from(*slot))?;
                    let present = cached
                        .and_then(|a| a.storage.get(slot))
                        .copied()
                        .unwrap_or(original);
                    storage.insert(
                        *slot,
                        StorageSlot {
                            previous_or_original_value: original,
                            present_value: present,
                        },
                    );
                }
            }
            let status = if wiped {
                AccountStatus::DestroyedChanged
            } else {
                AccountStatus::Changed
            };
            bundle.state.insert(
                *address,
                BundleAccount::new(original_info, info, storage, status),
            );
        }
        Ok(bundle)
    }
}

/// One block to simulate: its header fields and its calls (none for a skipped block).
struct PlannedBlock {
    header: Header,
    state_overrides: Option<StateOverride>,
    block_hashes: Option<std::collections::BTreeMap<u64, B256>>,
    calls: Vec<TransactionRequest>,
}

/// The blocks to simulate, skipped numbers filled with empty blocks, each header's fields but
/// the computed ones set.
fn plan(
    ctx: &RpcContext,
    base: &Header,
    blocks: Vec<SimBlock>,
    validation: bool,
) -> RpcResult<Vec<PlannedBlock>> {
    let calls: usize = blocks.iter().map(|b| b.calls.len()).sum();
    if calls > MAX_CALLS {
        return Err(coded(
            CLIENT_LIMIT,
            format!("too many calls: {calls} (at most {MAX_CALLS})"),
        ));
    }
    let spec = ctx.chain.spec_arc();
    let mut planned: Vec<PlannedBlock> = Vec::new();
    let mut prev = base.clone();
    for block in blocks {
        let SimBlock {
            block_overrides,
            state_overrides,
            calls,
        } = block;
        let BlockOverrides {
            number,
            difficulty: _,
            time,
            gas_limit,
            coinbase,
            random,
            base_fee,
            blob_base_fee: _,
            block_hash,
            beacon_root,
        } = block_overrides.unwrap_or_default();
        let number = match number {
            Some(n) => u64::try_from(n)
                .map_err(|_| coded(BLOCK_NUMBER_ORDER, format!("block number {n} too large")))?,
            None => prev.number + 1,
        };
        if number <= prev.number {
            return Err(coded(
                BLOCK_NUMBER_ORDER,
                format!(
                    "block numbers must be in order: {number} <= {}",
                    prev.number
                ),
            ));
        }
        if number - base.number > MAX_BLOCKS {
            return Err(coded(
                CLIENT_LIMIT,
                format!(
                    "too many blocks: {} after block {} (at most {MAX_BLOCKS})",
                    number - base.number,
                    base.number
                ),
            ));
        }
        // Skipped numbers: empty blocks, TIMESTAMP_STEP apart.
        while prev.number + 1 < number {
            let header = next_header(spec, base, &prev, validation, &HeaderOverrides::default());
            planned.push(PlannedBlock {
                header: header.clone(),
                state_overrides: None,
                block_hashes: None,
                calls: Vec::new(),
            });
            prev = header;
        }
        if let Some(time) = time
            && time < prev.timestamp
        {
            return Err(coded(
                BLOCK_TIME_ORDER,
                format!(
                    "block timestamps must be in order: {time} < {}",
                    prev.timestamp
                ),
            ));
        }
        let base_fee = base_fee
            .map(|fee| {
                u64::try_from(fee)
                    .map_err(|_| RpcError::invalid_params(format!("baseFeePerGas {fee} too large")))
            })
            .transpose()?;
        let header = next_header(
            spec,
            base,
            &prev,
            validation,
            &HeaderOverrides {
                time,
                gas_limit,
                coinbase,
                random,
                base_fee,
            },
        );
        let header = Header {
            parent_beacon_block_root: beacon_root.or(header.parent_beacon_block_root),
            ..header
        };
        planned.push(PlannedBlock {
            header: header.clone(),
            state_overrides,
            block_hashes: block_hash,
            calls,
        });
        prev = header;
    }
    Ok(planned)
}

/// A block's header fields a request may set.
#[derive(Default, Clone, Copy)]
struct HeaderOverrides {
    time: Option<u64>,
    gas_limit: Option<u64>,
    coinbase: Option<Address>,
    random: Option<B256>,
    base_fee: Option<u64>,
}

/// The header fields of the block after `prev` that do not depend on its calls.
fn next_header(
    spec: &keel_types::ChainSpec,
    base: &Header,
    prev: &Header,
    validation: bool,
    overrides: &HeaderOverrides,
) -> Header {
    let HeaderOverrides {
        time,
        gas_limit,
        coinbase,
        random,
        base_fee,
    } = *overrides;
    let base_fee = base_fee.unwrap_or(if validation {
        spec.next_base_fee(prev)
    } else {
        0
    });
    Header {
        number: prev.number + 1,
        timestamp: time.unwrap_or(prev.timestamp + TIMESTAMP_STEP),
        gas_limit: gas_limit.unwrap_or(base.gas_limit),
        beneficiary: coinbase.unwrap_or(base.beneficiary),
        mix_hash: random.unwrap_or(base.mix_hash),
        base_fee_per_gas: Some(base_fee),
        gas_used: 0,
        ..base.clone()
    }
}

/// The whole simulation.
fn simulate(
    ctx: &RpcContext,
    payload: SimulatePayload,
    block: BlockId,
) -> RpcResult<Vec<SimulatedBlock>> {
    let SimulatePayload {
        block_state_calls,
        trace_transfers,
        validation,
        return_full_transactions,
    } = payload;
    if block_state_calls.len() as u64 > MAX_BLOCKS {
        return Err(coded(
            CLIENT_LIMIT,
            format!(
                "too many blocks: {} (at most {MAX_BLOCKS})",
                block_state_calls.len()
            ),
        ));
    }
    let deadline = Instant::now() + DEFAULT_TIMEOUT;
    let reader = ctx.reader()?;
    // The pending block is not sealed: simulate on the head, as geth does.
    let block = match block {
        BlockId::Number(BlockNumberOrTag::Pending) => BlockId::Number(BlockNumberOrTag::Latest),
        other => other,
    };
    let (base_hash, base) = require_header(&reader, block)?;
    let planned = plan(ctx, &base, block_state_calls, validation)?;
    let state = state_after(ctx, &reader, base_hash, &base, false)?;
    let mut store_db = StoreDb::new(&state, &*reader);
    if reader.canonical_hash(base.number)? != Some(base_hash) {
        store_db = store_db.with_parent(base.number, base_hash);
    }
    let mut db = CacheDB::new(store_db);
    let spec = ctx.chain.spec_arc();
    let mut gas_budget = if ctx.config.gas_cap == 0 {
        u64::MAX
    } else {
        ctx.config.gas_cap
    };
    let mut changes = Changes::default();
    let mut parent_hash = base_hash;
    let mut out = Vec::with_capacity(planned.len());
    for PlannedBlock {
        mut header,
        state_overrides,
        block_hashes,
        calls,
    } in planned
    {
        if let Some(hashes) = block_hashes {
            for (number, hash) in hashes {
                db.cache.block_hashes.insert(U256::from(number), hash);
            }
        }
        if let Some(overrides) = state_overrides {
            apply_overrides(&mut db, &overrides)?;
            changes.record_overrides(&overrides);
        }
        header.parent_hash = parent_hash;
        let mut env = keel_evm::call_env(spec, &header);
        env.cfg_env.disable_nonce_check = !validation;
        let mut txs = Vec::with_capacity(calls.len());
        let mut senders = Vec::with_capacity(calls.len());
        let mut receipts: Vec<Receipt> = Vec::with_capacity(calls.len());
        let mut results = Vec::with_capacity(calls.len());
        let mut gas_used = 0u64;
        for (index, request) in calls.into_iter().enumerate() {
            let call = run_call(
                &mut db,
                &env,
                spec,
                request,
                header.gas_limit.saturating_sub(gas_used),
                gas_budget,
                validation,
                trace_transfers,
                deadline,
            )
            .map_err(|e| match e {
                RpcError::Coded { code, message } => RpcError::Coded {
                    code,
                    message: format!("block {}, call {index}: {message}", header.number),
                },
                other => other,
            })?;
            changes.record_call(&call.state);
            db.commit(call.state);
            gas_used += call.gas_used;
            gas_budget = gas_budget.saturating_sub(call.gas_used);
            let tx_type = call.tx.tx_type();
            receipts.push(Receipt::Ethereum(ReceiptEnvelope::from_typed(
                tx_type,
                alloy_consensus::Receipt {
                    status: Eip658Value::Eip658(call.result.status),
                    cumulative_gas_used: gas_used,
                    logs: call.logs.clone(),
                }
                .with_bloom(),
            )));
            senders.push(call.from);
            txs.push(Transaction::Ethereum(call.tx));
            results.push((call.result, call.logs));
        }
        let bundle = changes.bundle(&db, &state)?;
        let update = compute_state_update(state.view(), base.state_root, &bundle)
            .map_err(|e| RpcError::Internal(format!("simulated state root: {e}")))?;
        header.state_root = update.state_root;
        header.gas_used = gas_used;
        header.transactions_root = calculate_transaction_root(&txs);
        header.receipts_root = calculate_receipt_root(&receipts);
        header.logs_bloom = logs_bloom(&receipts);
        let hash = header.hash_slow();
        db.cache
            .block_hashes
            .insert(U256::from(header.number), hash);

        // Now that the block has a hash, its logs can name it.
        let mut log_index = 0u64;
        let calls: Vec<SimCallResult> = results
            .into_iter()
            .zip(&txs)
            .enumerate()
            .map(|(index, ((mut result, logs), tx))| {
                let pos = TxPosition {
                    block_hash: hash,
                    block_number: header.number,
                    block_timestamp: header.timestamp,
                    tx_hash: *tx.tx_hash(),
                    tx_index: index as u64,
                };
                result.logs = logs
                    .into_iter()
                    .map(|log| {
                        let log = rpc_log(pos, log_index, log);
                        log_index += 1;
                        log
                    })
                    .collect();
                result
            })
            .collect();
        let block = Block {
            header,
            body: BlockBody {
                transactions: txs,
                ommers: Vec::new(),
                withdrawals: base.withdrawals_root.map(|_| Default::default()),
            },
        };
        let inner = rpc_block(hash, block, return_full_transactions.then_some(&senders));
        out.push(SimulatedBlock { inner, calls });
        parent_hash = hash;
    }
    Ok(out)
}

/// One call's outcome, before its logs know their block.
struct CallOutcome {
    from: Address,
    tx: alloy_consensus::TxEnvelope,
    gas_used: u64,
    state: revm::state::EvmState,
    logs: Vec<alloy_primitives::Log>,
    result: SimCallResult,
}

/// Fill the call's defaults, run it on `db` (nothing committed) and describe its outcome.
#[allow(clippy::too_many_arguments)]
fn run_call<DB>(
    db: &mut CacheDB<DB>,
    env: &EvmEnv,
    spec: &keel_types::ChainSpec,
    mut request: TransactionRequest,
    block_gas_left: u64,
    gas_budget: u64,
    validation: bool,
    trace_transfers: bool,
    deadline: Instant,
) -> RpcResult<CallOutcome>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: std::error::Error + DBErrorMarker + Send + Sync + 'static,
{
    let from = request.from.unwrap_or_default();
    request.from = Some(from);
    if let Some(chain_id) = request.chain_id
        && chain_id != spec.chain_id
    {
        return Err(RpcError::invalid_params(format!(
            "chainId does not match node's (have={chain_id}, want={})",
            spec.chain_id
        )));
    }
    request.chain_id = Some(spec.chain_id);
    if request.nonce.is_none() {
        let nonce = db
            .basic_ref(from)
            .map_err(|e| RpcError::Internal(e.to_string()))?
            .map_or(0, |info| info.nonce);
        request.nonce = Some(nonce);
    }
    let gas = match request.gas {
        Some(gas) if gas > block_gas_left => {
            return Err(coded(
                BLOCK_GAS_LIMIT,
                format!("block gas limit reached: the call asks {gas}, {block_gas_left} left"),
            ));
        }
        Some(gas) if gas > gas_budget => {
            return Err(coded(
                CLIENT_LIMIT,
                format!(
                    "the simulation's gas budget is spent: the call asks {gas}, {gas_budget} left"
                ),
            ));
        }
        Some(gas) => gas,
        None => block_gas_left.min(gas_budget),
    };
    request.gas = Some(gas);
    let no_fees = request.gas_price.is_none()
        && request.max_fee_per_gas.is_none()
        && request.max_priority_fee_per_gas.is_none();
    if no_fees {
        if matches!(request.transaction_type, Some(0 | 1)) {
            request.gas_price = Some(0);
        } else {
            request.max_fee_per_gas = Some(0);
            request.max_priority_fee_per_gas = Some(0);
        }
    } else if request.gas_price.is_none() {
        // One of the EIP-1559 fees: the other as geth fills it (no tip; a cap of the tip).
        let tip = request.max_priority_fee_per_gas.unwrap_or(0);
        request.max_priority_fee_per_gas = Some(tip);
        request.max_fee_per_gas.get_or_insert(tip);
    }
    if request.to.is_none() && request.input.input().is_none() {
        return Err(RpcError::invalid_params(
            "a call needs `to`, or `input` to create a contract",
        ));
    }
    // geth's NoBaseFee without validation: a call that names no price pays none, whatever the
    // block's base fee (which BASEFEE then reads as 0, as in eth_call).
    let zero_base_fee;
    let env = if no_fees && !validation && env.block_env.basefee != 0 {
        let mut relaxed = env.clone();
        relaxed.block_env.basefee = 0;
        zero_base_fee = relaxed;
        &zero_base_fee
    } else {
        env
    };
    let tx_env = request
        .clone()
        .try_into_tx_env(env)
        .map_err(|e| RpcError::invalid_params(e.to_string()))?;
    let typed = request.build_consensus_tx().map_err(|e| {
        RpcError::invalid_params(format!("call cannot be a transaction: {:?}", e.error))
    })?;
    let tx = typed.into_envelope(Signature::new(U256::ZERO, U256::ZERO, false));

    let mut inspector = TransferInspector::new(false).with_logs(trace_transfers);
    let outcome = inspect_call(db, env, tx_env, &mut inspector, Some(deadline))
        .map_err(|e| invalid_call(e, from))?
        .ok_or_else(|| coded(TIMEOUT, "execution timeout"))?;
    let gas_used = outcome.result.tx_gas_used();
    let (result, logs) = match outcome.result {
        ExecutionResult::Success { output, logs, .. } => (
            SimCallResult {
                return_data: output.into_data(),
                logs: Vec::new(),
                gas_used,
                max_used_gas: None,
                status: true,
                error: None,
            },
            logs,
        ),
        ExecutionResult::Revert { output, .. } => {
            let message = match revert_reason(&output) {
                Some(reason) => format!("execution reverted: {reason}"),
                None => "execution reverted".to_string(),
            };
            (
                SimCallResult {
                    return_data: output.clone(),
                    logs: Vec::new(),
                    gas_used,
                    max_used_gas: None,
                    status: false,
                    error: Some(SimulateError {
                        code: SimulateError::EXECUTION_REVERTED_CODE,
                        message,
                        data: Some(output),
                    }),
                },
                Vec::new(),
            )
        }
        ExecutionResult::Halt { reason, .. } => (
            SimCallResult {
                return_data: Bytes::new(),
                logs: Vec::new(),
                gas_used,
                max_used_gas: None,
                status: false,
                error: Some(SimulateError {
                    code: VM_ERROR,
                    message: format!("vm execution error: {}", halt_message(&reason)),
                    data: None,
                }),
            },
            Vec::new(),
        ),
    };
    Ok(CallOutcome {
        from,
        tx,
        gas_used,
        state: outcome.state,
        logs,
        result,
    })
}

/// A call the EVM refused to run, with the spec's code.
fn invalid_call<E: std::fmt::Display>(error: EVMError<E>, from: Address) -> RpcError {
    let EVMError::Transaction(invalid) = error else {
        return match error {
            EVMError::Database(e) => RpcError::Internal(e.to_string()),
            other => RpcError::server(other.to_string()),
        };
    };
    match invalid {
        InvalidTransaction::NonceTooLow { tx, state } => coded(
            NONCE_TOO_LOW,
            format!("nonce too low: address {from}, tx: {tx} state: {state}"),
        ),
        InvalidTransaction::NonceTooHigh { tx, state } => coded(
            NONCE_TOO_HIGH,
            format!("nonce too high: address {from}, tx: {tx} state: {state}"),
        ),
        InvalidTransaction::GasPriceLessThanBasefee => coded(
            FEE_BELOW_BASE_FEE,
            format!("max fee per gas less than block base fee: address {from}"),
        ),
        InvalidTransaction::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => coded(
            INTRINSIC_GAS,
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}"),
        ),
        InvalidTransaction::GasFloorMoreThanGasLimit {
            gas_floor,
            gas_limit,
        } => coded(
            INTRINSIC_GAS,
            format!("insufficient gas for floor data gas cost: have {gas_limit}, want {gas_floor}"),
        ),
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => coded(
            INSUFFICIENT_FUNDS,
            format!(
                "insufficient funds for gas * price + value: address {from} have {balance} want {fee}"
            ),
        ),
        InvalidTransaction::CreateInitCodeSizeLimit => coded(-38025, "max initcode size exceeded"),
        other => RpcError::server(other.to_string()),
    }
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    register_evm(module, "eth_simulateV1", |params, ctx| {
        let mut seq = params.sequence();
        let payload: SimulatePayload = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        Ok::<_, ErrorObjectOwned>(simulate(
            ctx,
            payload,
            block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)),
        )?)
    })
}
