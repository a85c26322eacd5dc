//! `eth_call`, `eth_estimateGas` and `eth_createAccessList`: a transaction request executed on
//! revm over the state after a block, with optional state and block overrides, nothing
//! committed. The rules follow geth:
//!
//! - The block environment is the chosen block's (number, timestamp, base fee, gas limit,
//!   coinbase). `pending` runs on the head state in the environment of the block that would
//!   follow: number + 1, timestamp `max(now, head + 1)`, the next base fee.
//! - `gas` defaults to the configured gas cap and is capped by it; the block gas limit does not
//!   bound it. No nonce check, no EIP-3607 check, `from` defaults to the zero address.
//! - With no fee fields (or all zero) the gas price is 0 and the block's base fee is taken as 0
//!   so the fee check passes (geth's `NoBaseFee`); with fees, they are checked as for a real
//!   transaction.
//! - A revert is error code 3, message `execution reverted: <reason>` (Error(string) and Panic
//!   decoded), data = the revert bytes; a revert without data is -32000 `execution reverted`;
//!   a halt is -32000 with geth's VM error message.

use alloy_eips::eip2930::AccessListResult;
use alloy_evm::{
    EvmEnv,
    overrides::{StateOverrideError, apply_block_overrides, apply_state_overrides},
    rpc::TryIntoTxEnv,
};
use alloy_primitives::{Address, Bytes, U64, U256};
use alloy_rpc_types_eth::{
    BlockId, BlockNumberOrTag, BlockOverrides, TransactionRequest, state::StateOverride,
};
use alloy_sol_types::{Panic, Revert, SolError};
use jsonrpsee::{
    RpcModule,
    core::RegisterMethodError,
    types::{ErrorObjectOwned, Params},
};
use keel_evm::{
    CallResult, EstimateError, StoreDb, StoreDbError, call_env, create_access_list, estimate_gas,
    next_block_call_env, transact,
};
use keel_storage::{ChainReader, StoreError, StoreReader};
use revm::{
    context::TxEnv,
    context_interface::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction},
    database::CacheDB,
};

use crate::{
    RpcContext,
    block_id::require_header,
    dispatch::register_evm,
    error::{RpcError, RpcResult},
    eth_state::{BlockState, state_after},
};

/// geth's `estimateGasErrorRatio`: an estimate may be this much (relatively) above the minimum.
const ESTIMATE_ERROR_RATIO: f64 = 0.015;

/// The database a call runs on: the block's state under a cache that takes the overrides.
pub(crate) type CallDb<'a> = CacheDB<StoreDb<'a, BlockState<'a>, StoreReader>>;

/// The parameters `eth_call`, `eth_estimateGas` and `eth_createAccessList` share:
/// `[request, block?, stateOverrides?, blockOverrides?]`.
pub(crate) struct CallParams {
    pub(crate) request: TransactionRequest,
    pub(crate) block: BlockId,
    pub(crate) state: Option<StateOverride>,
    pub(crate) block_overrides: Option<Box<BlockOverrides>>,
}

impl CallParams {
    fn parse(params: Params<'_>) -> Result<Self, ErrorObjectOwned> {
        let mut seq = params.sequence();
        let request: TransactionRequest = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        let state: Option<StateOverride> = seq.optional_next()?;
        let block_overrides: Option<Box<BlockOverrides>> = seq.optional_next()?;
        Ok(Self {
            request,
            block: block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)),
            state,
            block_overrides,
        })
    }
}

/// Set up the state, environment and transaction of a call, then run `f` on them.
pub(crate) fn with_call<T>(
    ctx: &RpcContext,
    params: CallParams,
    f: impl FnOnce(&mut CallDb<'_>, &EvmEnv, TxEnv) -> RpcResult<T>,
) -> RpcResult<T> {
    let CallParams {
        mut request,
        block,
        state: state_overrides,
        block_overrides,
    } = params;
    let reader = ctx.reader()?;
    let (hash, header) = require_header(&reader, block)?;
    let pending = matches!(block, BlockId::Number(BlockNumberOrTag::Pending));
    let state = state_after(ctx, &reader, hash, &header, pending)?;
    let spec = ctx.chain.spec_arc();
    let mut env = if pending {
        let timestamp = keel_chain::next_block_timestamp(&header);
        let base_fee = spec.next_base_fee(&header);
        next_block_call_env(spec, &header, timestamp, base_fee)
    } else {
        call_env(spec, &header)
    };
    let mut store_db = StoreDb::new(&state, &*reader);
    if !pending && reader.canonical_hash(header.number)? != Some(hash) {
        // A block off the canonical chain: BLOCKHASH follows its own ancestry.
        store_db = store_db.with_parent(header.number, hash);
    }
    let mut db = CacheDB::new(store_db);
    if let Some(overrides) = block_overrides {
        apply_block_overrides(*overrides, &mut db, &mut env.block_env);
    }
    if let Some(overrides) = &state_overrides {
        apply_overrides(&mut db, overrides)?;
    }

    let cap = if ctx.config.gas_cap == 0 {
        u64::MAX / 2
    } else {
        ctx.config.gas_cap
    };
    request.gas = Some(request.gas.map_or(cap, |gas| gas.min(cap)));
    let no_fees = [
        request.gas_price,
        request.max_fee_per_gas,
        request.max_priority_fee_per_gas,
    ]
    .iter()
    .all(|fee| fee.is_none_or(|fee| fee == 0));
    if no_fees {
        // geth's NoBaseFee: a call that names no price pays none, and BASEFEE reads 0.
        env.block_env.basefee = 0;
    }
    if let Some(chain_id) = request.chain_id
        && chain_id != spec.chain_id
    {
        return Err(RpcError::server(format!(
            "chainId does not match node's (have={chain_id}, want={})",
            spec.chain_id
        )));
    }
    let tx: TxEnv = request.try_into_tx_env(&env).map_err(fee_error)?;
    f(&mut db, &env, tx)
}

/// Apply a request's state overrides to `db`, refusing what keel does not support
/// (`movePrecompileToAddress`) and naming the account at fault.
pub(crate) fn apply_overrides<DB>(db: &mut CacheDB<DB>, overrides: &StateOverride) -> RpcResult<()>
where
    DB: revm::DatabaseRef,
    DB::Error: std::fmt::Display,
{
    if let Some((address, _)) = overrides
        .iter()
        .find(|(_, account)| account.move_precompile_to.is_some())
    {
        return Err(RpcError::invalid_params(format!(
            "account {address}: movePrecompileToAddress is not supported"
        )));
    }
    apply_state_overrides(overrides.clone(), db).map_err(|e| match e {
        StateOverrideError::Database(e) => RpcError::Internal(e.to_string()),
        StateOverrideError::BothStateAndStateDiff(address) => RpcError::invalid_params(format!(
            "account {address} has both 'state' and 'stateDiff'"
        )),
        other => RpcError::invalid_params(other.to_string()),
    })
}

/// A request whose fees can't make a transaction: the spec's gas error where it names one.
fn fee_error(error: alloy_evm::rpc::EthTxEnvError) -> RpcError {
    use alloy_evm::rpc::{CallFeesError, EthTxEnvError};
    let code = match &error {
        EthTxEnvError::CallFees(CallFeesError::FeeCapTooLow) => {
            crate::error::FEE_CAP_BELOW_BASE_FEE
        }
        EthTxEnvError::CallFees(CallFeesError::TipAboveFeeCap) => crate::error::TIP_ABOVE_FEE_CAP,
        _ => return RpcError::server(error.to_string()),
    };
    RpcError::coded(code, error.to_string())
}

/// Run `f` with the parsed parameters (on a blocking thread holding an EVM slot:
/// [`register_evm`]).
fn call_method<T: serde::Serialize>(
    params: Params<'_>,
    ctx: &RpcContext,
    f: impl FnOnce(&mut CallDb<'_>, &EvmEnv, TxEnv) -> RpcResult<T>,
) -> Result<T, ErrorObjectOwned> {
    let params = CallParams::parse(params)?;
    Ok(with_call(ctx, params, f)?)
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    register_evm(module, "eth_call", |params, ctx| {
        call_method(params, ctx, |db, env, tx| {
            let caller = tx.caller;
            let result = transact(db, env, tx).map_err(|e| evm_error(e, caller))?;
            call_output(result)
        })
    })?;
    register_evm(module, "eth_estimateGas", |params, ctx| {
        let params = CallParams::parse(params)?;
        Ok::<_, ErrorObjectOwned>(U64::from(estimate(ctx, params)?))
    })?;
    register_evm(module, "eth_createAccessList", |params, ctx| {
        call_method(params, ctx, |db, env, tx| {
            let caller = tx.caller;
            let outcome = create_access_list(db, env, tx).map_err(|e| evm_error(e, caller))?;
            let error = match &outcome.result {
                ExecutionResult::Success { .. } => None,
                ExecutionResult::Revert { .. } => Some("execution reverted".to_string()),
                ExecutionResult::Halt { reason, .. } => Some(halt_message(reason)),
            };
            Ok(AccessListResult {
                access_list: outcome.access_list,
                gas_used: U256::from(outcome.gas_used),
                error,
            })
        })
    })?;
    Ok(())
}

/// `eth_estimateGas`: the lowest gas limit (within geth's error ratio) at which the request
/// succeeds; also how `eth_fillTransaction` fills `gas`.
pub(crate) fn estimate(ctx: &RpcContext, params: CallParams) -> RpcResult<u64> {
    let cap = ctx.config.gas_cap;
    with_call(ctx, params, |db, env, tx| {
        let caller = tx.caller;
        estimate_gas(db, env, tx, cap, ESTIMATE_ERROR_RATIO).map_err(|e| match e {
            EstimateError::Evm(e) => evm_error(e, caller),
            EstimateError::Reverted(data) => revert_error(data),
            EstimateError::Halted(reason) => halt_error(&reason),
            EstimateError::GasRequiredExceedsAllowance(gas) => {
                RpcError::server(format!("gas required exceeds allowance ({gas})"))
            }
            EstimateError::InsufficientFundsForTransfer => RpcError::coded(
                crate::error::INSUFFICIENT_FUNDS,
                "insufficient funds for transfer",
            ),
        })
    })
}

/// What `eth_call` returns for an outcome: the output, or the revert/halt as an error.
fn call_output(result: CallResult) -> RpcResult<Bytes> {
    match result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => Err(revert_error(output)),
        ExecutionResult::Halt { reason, .. } => Err(halt_error(&reason)),
    }
}

/// A revert as the spec reports it: code 3 with the data (`0x` for none) and, as geth gives it,
/// the decoded reason. (geth answers a revert without data -32000 "execution reverted".)
fn revert_error(data: Bytes) -> RpcError {
    RpcError::Reverted {
        reason: revert_reason(&data),
        data,
    }
}

/// The reason of a Solidity `Error(string)` or `Panic(uint256)` revert, as geth's
/// `abi.UnpackRevert` gives it.
pub(crate) fn revert_reason(data: &[u8]) -> Option<String> {
    if let Ok(revert) = Revert::abi_decode(data) {
        return Some(revert.reason);
    }
    let panic = Panic::abi_decode(data).ok()?;
    let reason = match u64::try_from(panic.code) {
        Ok(0x00) => "generic panic",
        Ok(0x01) => "assert(false)",
        Ok(0x11) => "arithmetic underflow or overflow",
        Ok(0x12) => "division or modulo by zero",
        Ok(0x21) => "enum overflow",
        Ok(0x22) => "invalid encoded storage byte array accessed",
        Ok(0x31) => "out-of-bounds array access; popping on an empty array",
        Ok(0x32) => "out-of-bounds access of an array or bytesN",
        Ok(0x41) => "out of memory",
        Ok(0x51) => "uninitialized function",
        _ => return Some(format!("unknown panic code: {:#x}", panic.code)),
    };
    Some(reason.to_string())
}

/// geth's VM error message for a halt.
pub(crate) fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(_) => "out of gas",
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode | HaltReason::NotActivated => {
            "invalid opcode"
        }
        HaltReason::InvalidJump => "invalid jump destination",
        HaltReason::StackUnderflow => "stack underflow",
        HaltReason::StackOverflow => "stack limit reached 1024",
        HaltReason::OutOfOffset => "return data out of bounds",
        HaltReason::CreateCollision => "contract address collision",
        HaltReason::NonceOverflow => "nonce uint64 overflow",
        HaltReason::CreateContractSizeLimit => "max code size exceeded",
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef",
        HaltReason::CreateInitCodeSizeLimit => "max initcode size exceeded",
        HaltReason::StateChangeDuringStaticCall | HaltReason::CallNotAllowedInsideStatic => {
            "write protection"
        }
        HaltReason::OutOfFunds => "insufficient balance for transfer",
        HaltReason::CallTooDeep => "max call depth exceeded",
        HaltReason::OverflowPayment => "gas uint64 overflow",
        other => return other.to_string(),
    }
    .to_string()
}

/// An EVM failure before execution (an invalid transaction) with geth's message, or a store
/// failure.
pub(crate) fn evm_error(error: EVMError<StoreDbError<StoreError>>, from: Address) -> RpcError {
    use crate::error::{
        FEE_CAP_BELOW_BASE_FEE, GAS_LIMIT_ABOVE_BLOCK, INSUFFICIENT_FUNDS, INTRINSIC_GAS_TOO_LOW,
        NONCE_TOO_HIGH, NONCE_TOO_LOW, SERVER_ERROR, TIP_ABOVE_FEE_CAP,
    };
    let EVMError::Transaction(invalid) = error else {
        return match error {
            EVMError::Database(e) => RpcError::Internal(e.to_string()),
            other => RpcError::server(other.to_string()),
        };
    };
    // The spec's code for each rejection it names (docs/rpc.md, "Error codes"), geth's
    // message.
    let (code, message) = match invalid {
        InvalidTransaction::LackOfFundForMaxFee { fee, balance } => (
            INSUFFICIENT_FUNDS,
            format!(
                "insufficient funds for gas * price + value: address {from} have {balance} want {fee}"
            ),
        ),
        InvalidTransaction::GasPriceLessThanBasefee => (
            FEE_CAP_BELOW_BASE_FEE,
            format!("max fee per gas less than block base fee: address {from}"),
        ),
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => (
            TIP_ABOVE_FEE_CAP,
            format!("max priority fee per gas higher than max fee per gas: address {from}"),
        ),
        InvalidTransaction::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit,
        } => (
            INTRINSIC_GAS_TOO_LOW,
            format!("intrinsic gas too low: have {gas_limit}, want {initial_gas}"),
        ),
        InvalidTransaction::GasFloorMoreThanGasLimit {
            gas_floor,
            gas_limit,
        } => (
            INTRINSIC_GAS_TOO_LOW,
            format!("insufficient gas for floor data gas cost: have {gas_limit}, want {gas_floor}"),
        ),
        InvalidTransaction::CallerGasLimitMoreThanBlock => {
            (GAS_LIMIT_ABOVE_BLOCK, "exceeds block gas limit".to_string())
        }
        InvalidTransaction::NonceTooLow { tx, state } => (
            NONCE_TOO_LOW,
            format!("nonce too low: address {from}, tx: {tx} state: {state}"),
        ),
        InvalidTransaction::NonceTooHigh { tx, state } => (
            NONCE_TOO_HIGH,
            format!("nonce too high: address {from}, tx: {tx} state: {state}"),
        ),
        InvalidTransaction::CreateInitCodeSizeLimit => {
            (SERVER_ERROR, "max initcode size exceeded".into())
        }
        InvalidTransaction::TxGasLimitGreaterThanCap { gas_limit, cap } => (
            SERVER_ERROR,
            format!("transaction gas limit too high (cap: {cap}, tx: {gas_limit})"),
        ),
        InvalidTransaction::EmptyAuthorizationList => (
            SERVER_ERROR,
            "EIP-7702 transaction with empty auth list".into(),
        ),
        other => (SERVER_ERROR, other.to_string()),
    };
    if code == SERVER_ERROR {
        RpcError::server(message)
    } else {
        RpcError::coded(code, message)
    }
}

/// A halt as an error: the spec's code 4 for an invalid opcode, geth's -32000 (with its message)
/// for the others.
pub(crate) fn halt_error(reason: &HaltReason) -> RpcError {
    let message = halt_message(reason);
    match reason {
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode | HaltReason::NotActivated => {
            RpcError::coded(crate::error::INVALID_OPCODE, message)
        }
        _ => RpcError::server(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_reasons_decode_like_geth() {
        let error = Revert::from("not enough").abi_encode();
        assert_eq!(revert_reason(&error).as_deref(), Some("not enough"));
        let panic = Panic::from(U256::from(0x11)).abi_encode();
        assert_eq!(
            revert_reason(&panic).as_deref(),
            Some("arithmetic underflow or overflow")
        );
        let unknown = Panic::from(U256::from(0x99)).abi_encode();
        assert_eq!(
            revert_reason(&unknown).as_deref(),
            Some("unknown panic code: 0x99")
        );
        assert_eq!(revert_reason(&[0xde, 0xad, 0xbe, 0xef]), None);
    }

    #[test]
    fn reverts_are_code_3_with_their_data_even_without_data() {
        let error = ErrorObjectOwned::from(revert_error(Bytes::new()));
        assert_eq!(error.code(), 3);
        assert_eq!(error.message(), "execution reverted");
        assert_eq!(error.data().map(|d| d.get()), Some(r#""0x""#));
        let data = Bytes::from(Revert::from("nope").abi_encode());
        let error = ErrorObjectOwned::from(revert_error(data.clone()));
        assert_eq!(error.code(), 3);
        assert_eq!(error.message(), "execution reverted: nope");
        let shown: Bytes = serde_json::from_str(error.data().map_or("null", |d| d.get()))
            .expect("data is hex bytes");
        assert_eq!(shown, data);
    }
}
