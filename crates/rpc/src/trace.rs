//! geth's tracing API: `debug_traceTransaction(hash, opts?)`, `debug_traceBlockByNumber(block,
//! opts?)`, `debug_traceBlockByHash(hash, opts?)` and `debug_traceCall(call, block?, opts?)`.
//!
//! The tracers are revm-inspectors' ([`DebugInspector`]): the struct logger (no `tracer`;
//! `disableStack`, `disableStorage`, `enableMemory`, `enableReturnData`, `limit`), `callTracer`
//! (`onlyTopCall`, `withLog`), `prestateTracer` (`diffMode`, `disableCode`, `disableStorage`),
//! `4byteTracer` and `noopTracer` (its `muxTracer`, `flatCallTracer` and `erc7562Tracer` are
//! served as they come). JavaScript tracers are not supported.
//!
//! A transaction is traced by replaying its block up to it on the state before the block, in the
//! block's environment, by the sequencer's executor ([`keel_evm::trace_block`]: privileged
//! transactions and the L1 fee rule included); `debug_traceCall` runs on `eth_call`'s path.
//! Each trace has a deadline: the `timeout` option (a Go duration, e.g. `"10s"`, `"500ms"`),
//! [`DEFAULT_TIMEOUT`] without one, at most [`MAX_TIMEOUT`]; past it the request fails with
//! "execution timeout". Tracing methods take an EVM slot as `eth_call` does
//! ([`crate::dispatch::register_evm`]).

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use alloy_rpc_types_eth::{BlockId, BlockNumberOrTag, TransactionRequest};
use alloy_rpc_types_trace::geth::{
    GethDebugTracerType, GethDebugTracingCallOptions, GethDebugTracingOptions, GethTrace,
    TraceResult,
};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_evm::{BlockReplay, StoreDb, TraceError, TracedTx, inspect_call, trace_block};
use keel_storage::{ChainReader, StoreReader};
use keel_types::Block;
use revm_inspectors::tracing::{DebugInspector, DebugInspectorError, TransactionContext};

use crate::{
    RpcContext,
    block_id::require_header,
    dispatch::register_evm,
    error::{RpcError, RpcResult},
    eth_blocks::{FoundBlock, block_by_hash},
    eth_call::{CallParams, evm_error, with_call},
    eth_state::{BlockState, state_after},
};

/// A trace's deadline without a `timeout` option (geth's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `timeout` a request may ask for; a longer one is cut to this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// The tracers geth has built in that keel serves, for the error on an unknown one.
const TRACERS: &str = "callTracer, prestateTracer, 4byteTracer, noopTracer, muxTracer, \
                       flatCallTracer, erc7562Tracer, or none for the struct logger";

/// One block's traces, as geth lists them.
type BlockTraces = Vec<TraceResult>;

/// The inspector for `opts`, or an error naming what is wrong with them.
fn inspector(opts: &GethDebugTracingOptions) -> RpcResult<DebugInspector> {
    DebugInspector::new(opts.clone()).map_err(|e| match (e, &opts.tracer) {
        (
            DebugInspectorError::UnsupportedTracer | DebugInspectorError::JsTracerNotEnabled,
            Some(GethDebugTracerType::JsTracer(name)),
        ) if !name.contains('{') => {
            RpcError::invalid_params(format!("tracer not found: {name} (supported: {TRACERS})"))
        }
        (DebugInspectorError::JsTracerNotEnabled, _) => {
            RpcError::invalid_params("JavaScript tracers are not supported")
        }
        (DebugInspectorError::InvalidTracerConfig, _) => {
            RpcError::invalid_params("invalid tracerConfig for this tracer")
        }
        (other, _) => RpcError::invalid_params(other.to_string()),
    })
}

/// When a trace with `opts` must be done by.
fn deadline(opts: &GethDebugTracingOptions) -> RpcResult<Instant> {
    let timeout = match &opts.timeout {
        Some(text) => parse_go_duration(text)
            .ok_or_else(|| RpcError::invalid_params(format!("invalid timeout: {text:?}")))?,
        None => DEFAULT_TIMEOUT,
    };
    Ok(Instant::now() + timeout.min(MAX_TIMEOUT))
}

/// A Go `time.ParseDuration` string: a sequence of decimal numbers with a unit each (`ns`,
/// `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `"1m30s"`, `"1.5s"`, `"300ms"`; `"0"` alone. Negative
/// durations are not deadlines: `None`.
fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// A stored transaction's block and its index in it; `None` for a transaction the node has not
/// included.
pub(crate) fn locate_transaction(
    reader: &StoreReader,
    tx_hash: B256,
) -> RpcResult<Option<(FoundBlock, usize)>> {
    let Some((block_hash, index)) = reader.tx_location(&tx_hash)? else {
        return Ok(None);
    };
    let Some(found) = block_by_hash(reader, block_hash)? else {
        return Ok(None);
    };
    let index = usize::try_from(index)
        .map_err(|_| RpcError::Internal(format!("transaction index {index}")))?;
    Ok(Some((found, index)))
}

/// What replaying a stored block needs besides the block: the state before it (its parent's) and
/// its transactions' senders. Shared by the `debug_trace*` and `ots_` replays.
pub(crate) struct ReplayBase<'a> {
    state: BlockState<'a>,
    parent_number: u64,
    pub(crate) senders: Vec<Address>,
}

impl<'a> ReplayBase<'a> {
    /// For block `block` with hash `hash`; the genesis (never executed) is refused.
    pub(crate) fn new(
        ctx: &RpcContext,
        reader: &'a StoreReader,
        hash: B256,
        block: &Block,
    ) -> RpcResult<Self> {
        if block.header.number == 0 {
            return Err(RpcError::invalid_params(
                "the genesis block is not executed: it has nothing to trace",
            ));
        }
        let parent_hash = block.header.parent_hash;
        let parent = reader
            .header(&parent_hash)?
            .ok_or_else(|| RpcError::server(format!("parent {parent_hash} of block not found")))?;
        let state = state_after(ctx, reader, parent_hash, &parent, false)?;
        let senders = reader
            .senders(&hash)?
            .filter(|s| s.len() == block.body.transactions.len())
            .ok_or_else(|| RpcError::Internal(format!("senders of block {hash} missing")))?;
        Ok(Self {
            state,
            parent_number: parent.number,
            senders,
        })
    }

    /// The replay of `block` over the parent's state (`BLOCKHASH` along the block's ancestry).
    pub(crate) fn replay<'s>(
        &'s self,
        ctx: &RpcContext,
        reader: &'s StoreReader,
        block: &Block,
    ) -> BlockReplay<StoreDb<'s, BlockState<'a>, StoreReader>> {
        let db = StoreDb::new(&self.state, reader)
            .with_parent(self.parent_number, block.header.parent_hash);
        BlockReplay::new(ctx.chain.spec_arc(), db, &block.header)
    }
}

/// A failed block replay as the RPC reports it.
pub(crate) fn replay_error(hash: B256, error: TraceError) -> RpcError {
    match error {
        TraceError::Timeout => timeout_error(),
        TraceError::NoSuchTransaction { .. } => {
            RpcError::server("transaction not found in its block")
        }
        other => RpcError::Internal(format!("replaying block {hash}: {other}")),
    }
}

/// Trace the transactions `range` of `block` (stored, with hash `hash`) with `opts`: replay the
/// block up to `range.end()` on its parent's state. The traces in block order, with the
/// transactions' hashes.
fn trace_range(
    ctx: &RpcContext,
    reader: &StoreReader,
    hash: B256,
    block: &Block,
    range: std::ops::RangeInclusive<usize>,
    opts: &GethDebugTracingOptions,
) -> RpcResult<Vec<(B256, GethTrace)>> {
    let inspector = inspector(opts)?;
    let deadline = deadline(opts)?;
    let base = ReplayBase::new(ctx, reader, hash, block)?;
    let mut traces = Vec::with_capacity(range.end() + 1 - range.start());
    let mut replay = base.replay(ctx, reader, block);
    let traced = trace_block(
        &mut replay,
        block,
        &base.senders,
        range,
        inspector,
        Some(deadline),
        |tx: TracedTx<'_, _, DebugInspector>| {
            let tx_hash = block
                .body
                .transactions
                .get(tx.index)
                .map(|t| *t.tx_hash())
                .unwrap_or_default();
            let context = TransactionContext {
                block_hash: Some(hash),
                tx_index: Some(tx.index),
                tx_hash: Some(tx_hash),
            };
            let mut state = tx.state;
            let trace = tx
                .inspector
                .get_result(
                    Some(context),
                    tx.tx_env,
                    tx.block_env,
                    tx.result,
                    &mut state,
                )
                .map_err(|e| e.to_string())?;
            tx.inspector.fuse().map_err(|e| e.to_string())?;
            traces.push((tx_hash, trace));
            Ok(())
        },
    );
    traced.map_err(|e| replay_error(hash, e))?;
    Ok(traces)
}

pub(crate) fn timeout_error() -> RpcError {
    RpcError::server("execution timeout")
}

/// `debug_traceTransaction`: `None` (null) for a transaction the node has not included.
fn trace_transaction(
    ctx: &RpcContext,
    tx_hash: B256,
    opts: &GethDebugTracingOptions,
) -> RpcResult<Option<GethTrace>> {
    let reader = ctx.reader()?;
    let Some((found, index)) = locate_transaction(&reader, tx_hash)? else {
        return Ok(None);
    };
    let traces = trace_range(ctx, &reader, found.hash, &found.block, index..=index, opts)?;
    Ok(traces.into_iter().next().map(|(_, trace)| trace))
}

/// `debug_traceBlockBy*`: every transaction's trace, `[{txHash, result}]`.
fn trace_block_by_id(
    ctx: &RpcContext,
    id: BlockId,
    opts: &GethDebugTracingOptions,
) -> RpcResult<BlockTraces> {
    let reader = ctx.reader()?;
    let (hash, _) = require_header(&reader, id)?;
    let block = block_by_hash(&reader, hash)?
        .ok_or_else(|| RpcError::server("block not found"))?
        .block;
    // Checked like a trace, even for a block with nothing to trace.
    inspector(opts)?;
    let count = block.body.transactions.len();
    if count == 0 {
        return Ok(Vec::new());
    }
    let traces = trace_range(ctx, &reader, hash, &block, 0..=count - 1, opts)?;
    Ok(traces
        .into_iter()
        .map(|(tx_hash, result)| TraceResult::Success {
            result,
            tx_hash: Some(tx_hash),
        })
        .collect())
}

/// `debug_traceCall`: the call as `eth_call` runs it (state and block overrides included),
/// traced.
fn trace_call(
    ctx: &RpcContext,
    request: TransactionRequest,
    block: Option<BlockId>,
    opts: GethDebugTracingCallOptions,
) -> RpcResult<GethTrace> {
    let GethDebugTracingCallOptions {
        tracing_options,
        state_overrides,
        block_overrides,
        tx_index,
    } = opts;
    if tx_index.is_some() {
        return Err(RpcError::invalid_params(
            "txIndex is not supported: trace the call at a block",
        ));
    }
    let mut inspector = inspector(&tracing_options)?;
    let deadline = deadline(&tracing_options)?;
    let params = CallParams {
        request,
        block: block.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)),
        state: state_overrides,
        block_overrides: block_overrides.map(Box::new),
    };
    with_call(ctx, params, |db, env, tx| {
        let caller = tx.caller;
        let result = inspect_call(db, env, tx.clone(), &mut inspector, Some(deadline))
            .map_err(|e| evm_error(e, caller))?
            .ok_or_else(timeout_error)?;
        let mut state = &*db;
        inspector
            .get_result(None, &tx, &env.block_env, &result, &mut state)
            .map_err(|e| RpcError::Internal(e.to_string()))
    })
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    register_evm(module, "debug_traceTransaction", |params, ctx| {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let opts: Option<GethDebugTracingOptions> = seq.optional_next()?;
        Ok::<_, ErrorObjectOwned>(trace_transaction(ctx, hash, &opts.unwrap_or_default())?)
    })?;
    register_evm(module, "debug_traceBlockByNumber", |params, ctx| {
        let mut seq = params.sequence();
        let number: BlockNumberOrTag = seq.next()?;
        let opts: Option<GethDebugTracingOptions> = seq.optional_next()?;
        Ok::<_, ErrorObjectOwned>(trace_block_by_id(
            ctx,
            BlockId::Number(number),
            &opts.unwrap_or_default(),
        )?)
    })?;
    register_evm(module, "debug_traceBlockByHash", |params, ctx| {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let opts: Option<GethDebugTracingOptions> = seq.optional_next()?;
        Ok::<_, ErrorObjectOwned>(trace_block_by_id(
            ctx,
            BlockId::from(hash),
            &opts.unwrap_or_default(),
        )?)
    })?;
    register_evm(module, "debug_traceCall", |params, ctx| {
        let mut seq = params.sequence();
        let request: TransactionRequest = seq.next()?;
        let block: Option<BlockId> = seq.optional_next()?;
        let opts: Option<GethDebugTracingCallOptions> = seq.optional_next()?;
        Ok::<_, ErrorObjectOwned>(trace_call(ctx, request, block, opts.unwrap_or_default())?)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        let ms = Duration::from_millis;
        assert_eq!(parse_go_duration("5s"), Some(ms(5000)));
        assert_eq!(parse_go_duration("300ms"), Some(ms(300)));
        assert_eq!(parse_go_duration("1m30s"), Some(ms(90_000)));
        assert_eq!(parse_go_duration("1.5s"), Some(ms(1500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("1ns"), Some(Duration::from_nanos(1)));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("-1s"), None);
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn unknown_tracers_are_named_in_the_error() {
        let opts: GethDebugTracingOptions =
            serde_json::from_str(r#"{"tracer": "fooTracer"}"#).expect("options");
        let error = inspector(&opts).expect_err("unknown tracer");
        assert!(error.to_string().contains("tracer not found: fooTracer"));
        let opts: GethDebugTracingOptions = serde_json::from_str(
            r#"{"tracer": "callTracer", "tracerConfig": {"onlyTopCall": true}}"#,
        )
        .expect("options");
        assert!(inspector(&opts).is_ok());
    }
}
