//! Otterscan's `ots_` namespace (API level 8), in the shapes erigon, reth and anvil serve
//! (`alloy_rpc_types_trace::otterscan`):
//!
//! - `ots_getApiLevel`, `ots_hasCode(address, block)`, `ots_getHeaderByNumber(number)` (also as
//!   `erigon_getHeaderByNumber`, which Otterscan calls);
//! - `ots_getBlockDetails(number)`, `ots_getBlockDetailsByHash(hash)`: the header, uncles,
//!   withdrawals and transaction count, `totalFees` (Σ gas used × effective gas price; keel's L1
//!   fees are not in it) and `issuance` (always zero: an L2 mints no block reward);
//! - `ots_getBlockTransactions(number, page, pageSize)`: one page of a block's transactions (in
//!   block order, inputs cut to their 4-byte selector) with their receipts (logs and bloom null);
//! - `ots_getTransactionError(hash)`: the revert data of a failed transaction, `"0x"` for one
//!   that did not revert;
//! - `ots_traceTransaction(hash)`: every call frame (`CALL`, `STATICCALL`, `DELEGATECALL`,
//!   `CALLCODE`, `CREATE`, `CREATE2`, `SELFDESTRUCT`) with its depth, as reth builds it from
//!   revm-inspectors' call arena;
//! - `ots_getInternalOperations(hash)`: value transfers of inner calls, inner creations and
//!   self-destructs (revm-inspectors' `InternalOperationsInspector`: the top-level call is not
//!   one, as in erigon);
//! - `ots_searchTransactionsBefore/After(address, block, pageSize)`,
//!   `ots_getTransactionBySenderAndNonce(address, nonce)`: by the store's address index
//!   (`--rpc.address-index`, `keel_storage::address_index`); without it they answer an error
//!   saying how to turn it on. Pages hold whole blocks: at least `pageSize` transactions unless
//!   the history ends, newest first in both directions;
//! - `ots_getContractCreator(address)`: `{hash, creator}` of the transaction that created a
//!   contract: by the index for a top-level creation, else by a binary search for the block where
//!   the code appeared and a trace of that block.
//!
//! The traced methods replay the transaction's block as `debug_traceTransaction` does (the
//! sequencer's executor on the parent's state) and take an EVM slot.

use std::time::Instant;

use alloy_consensus::Transaction as _;
use alloy_eips::eip1898::LenientBlockNumberOrTag;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{AnyReceiptEnvelope, BlockId, BlockNumberOrTag, Log, TransactionReceipt};
use alloy_rpc_types_trace::otterscan::{
    BlockDetails, ContractCreator, InternalIssuance, InternalOperation, OtsBlock,
    OtsBlockTransactions, OtsReceipt, OtsTransactionReceipt, TraceEntry, TransactionsWithReceipts,
};
use jsonrpsee::{
    RpcModule,
    core::RegisterMethodError,
    types::{ErrorObjectOwned, Params},
};
use keel_evm::{TracedTx, trace_block};
use keel_storage::{ChainReader, Direction, StateReader as _, StoreReader};
use keel_types::Block;
use revm::context_interface::result::ExecutionResult;
use revm_inspectors::{
    otterscan::InternalOperationsInspector,
    tracing::{TracingInspector, TracingInspectorConfig, types::CallTraceNode},
};
use serde_json::Value;

use crate::{
    RpcContext,
    block_id::resolve_number,
    convert::{RpcBlock, RpcReceipt, RpcTransaction, block_receipts, rpc_block, rpc_header},
    dispatch::{always, head_at, register_evm, register_read},
    error::{RpcError, RpcResult},
    eth_blocks::{FoundBlock, block_by_hash, block_fee_params},
    eth_state::state_after,
    trace::{DEFAULT_TIMEOUT, ReplayBase, locate_transaction, replay_error},
};

/// The Otterscan API level served (what Otterscan 2.x requires).
pub const API_LEVEL: u64 = 8;

/// Most transactions a search page or a block page may ask for.
pub const MAX_PAGE_SIZE: u64 = 1_000;

/// `u64` parameters Otterscan sends as JSON numbers; hex and decimal strings are taken too.
fn lenient_u64(value: &Value, what: &str) -> RpcResult<u64> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        RpcError::invalid_params(format!("invalid {what}: {value} (expected a number)"))
    })
}

fn page_size(value: &Value) -> RpcResult<usize> {
    let size = lenient_u64(value, "pageSize")?;
    if size == 0 || size > MAX_PAGE_SIZE {
        return Err(RpcError::invalid_params(format!(
            "pageSize must be 1 to {MAX_PAGE_SIZE}, got {size}"
        )));
    }
    usize::try_from(size).map_err(|_| RpcError::invalid_params("pageSize too large"))
}

/// A receipt as Otterscan's lists show it: logs and bloom null, the block's timestamp added.
fn ots_receipt(receipt: RpcReceipt, timestamp: u64) -> OtsTransactionReceipt {
    let receipt: TransactionReceipt<OtsReceipt> =
        receipt
            .inner
            .map_inner(|envelope: AnyReceiptEnvelope<Log>| OtsReceipt {
                status: envelope.inner.receipt.status.coerce_status(),
                cumulative_gas_used: envelope.inner.receipt.cumulative_gas_used,
                logs: None,
                logs_bloom: None,
                r#type: envelope.r#type,
            });
    OtsTransactionReceipt {
        receipt,
        timestamp: Some(timestamp),
    }
}

/// A canonical block with its transactions (full) and receipts in RPC shapes.
struct FullBlock {
    block: RpcBlock,
    receipts: Vec<RpcReceipt>,
    timestamp: u64,
}

fn full_block(ctx: &RpcContext, reader: &StoreReader, found: FoundBlock) -> RpcResult<FullBlock> {
    let hash = found.hash;
    let txs = found.block.body.transactions.len();
    let senders = reader
        .senders(&hash)?
        .filter(|s| s.len() == txs)
        .ok_or_else(|| RpcError::Internal(format!("senders of block {hash} missing")))?;
    let stored = reader
        .receipts(&hash)?
        .ok_or_else(|| RpcError::Internal(format!("receipts of block {hash} missing")))?;
    let header = &found.block.header;
    let blob_gas_price = ctx
        .chain
        .spec()
        .blob_params_at(header.timestamp)
        .and_then(|params| header.blob_fee(params));
    let fees = block_fee_params(ctx, reader, header)?;
    let receipts = block_receipts(&found.block, hash, &stored, &senders, blob_gas_price, fees);
    let timestamp = header.timestamp;
    Ok(FullBlock {
        block: rpc_block(hash, found.block, Some(&senders)),
        receipts,
        timestamp,
    })
}

fn canonical_block(reader: &StoreReader, tag: BlockNumberOrTag) -> RpcResult<FoundBlock> {
    let (_, hash) =
        resolve_number(reader, tag)?.ok_or_else(|| RpcError::server("block not found"))?;
    block_by_hash(reader, hash)?.ok_or_else(|| RpcError::server("block not found"))
}

fn block_details(
    ctx: &RpcContext,
    reader: &StoreReader,
    found: FoundBlock,
) -> RpcResult<BlockDetails> {
    let full = full_block(ctx, reader, found)?;
    let total_fees = full
        .receipts
        .iter()
        .map(|r| U256::from(r.inner.gas_used) * U256::from(r.inner.effective_gas_price))
        .fold(U256::ZERO, |sum, fee| sum.saturating_add(fee));
    Ok(BlockDetails::new(
        full.block,
        InternalIssuance::default(),
        total_fees,
    ))
}

fn block_transactions(
    ctx: &RpcContext,
    tag: BlockNumberOrTag,
    page: u64,
    size: usize,
) -> RpcResult<OtsBlockTransactions<RpcTransaction>> {
    let reader = ctx.reader()?;
    let found = canonical_block(&reader, tag)?;
    let FullBlock {
        mut block,
        receipts,
        timestamp,
    } = full_block(ctx, &reader, found)?;
    let count = block.transactions.len();
    let start = usize::try_from(page)
        .unwrap_or(usize::MAX)
        .saturating_mul(size)
        .min(count);
    let end = start.saturating_add(size).min(count);
    let txs = std::mem::take(&mut block.transactions)
        .into_transactions_vec()
        .into_iter()
        .skip(start)
        .take(end - start)
        .collect();
    block.transactions = alloy_rpc_types_eth::BlockTransactions::Full(txs);
    let receipts = receipts
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|r| ots_receipt(r, timestamp))
        .collect();
    Ok(OtsBlockTransactions {
        fullblock: OtsBlock {
            block,
            // The whole block's count, for Otterscan's page links.
            transaction_count: count,
        },
        receipts,
    })
}

/// Fails unless the address index is on and covers the head of `reader`'s snapshot.
fn require_index(ctx: &RpcContext, reader: &StoreReader, method: &str) -> RpcResult<()> {
    if !ctx.chain.store().address_index_enabled() {
        return Err(RpcError::server(format!(
            "{method} needs the address index, which is off: start the node with \
             --rpc.address-index (on by default with --dev; an existing datadir is indexed in \
             the background at startup)"
        )));
    }
    let progress = reader.address_index_progress()?;
    if !progress.caught_up() {
        return Err(RpcError::server(format!(
            "{method}: the address index is still being built ({} of {} blocks indexed); try \
             again shortly",
            progress.next,
            progress.head.map_or(0, |head| head + 1)
        )));
    }
    Ok(())
}

fn head_number(reader: &StoreReader) -> RpcResult<u64> {
    Ok(reader
        .head()?
        .ok_or_else(|| RpcError::Internal("no head block".into()))?
        .1
        .number)
}

/// The transactions and receipts at `entries` (block number, index), in that order.
fn search_results(
    ctx: &RpcContext,
    reader: &StoreReader,
    entries: &[(u64, u32)],
) -> RpcResult<(Vec<RpcTransaction>, Vec<OtsTransactionReceipt>)> {
    let mut txs = Vec::with_capacity(entries.len());
    let mut receipts = Vec::with_capacity(entries.len());
    let mut at = 0;
    while at < entries.len() {
        let number = entries[at].0;
        let in_block = entries[at..]
            .iter()
            .take_while(|(n, _)| *n == number)
            .count();
        let hash = reader
            .canonical_hash(number)?
            .ok_or_else(|| RpcError::Internal(format!("indexed block {number} not canonical")))?;
        let found = block_by_hash(reader, hash)?
            .ok_or_else(|| RpcError::Internal(format!("indexed block {number} missing")))?;
        let full = full_block(ctx, reader, found)?;
        let mut block_txs: Vec<Option<RpcTransaction>> = full
            .block
            .transactions
            .into_transactions_vec()
            .into_iter()
            .map(Some)
            .collect();
        let mut block_receipts: Vec<Option<RpcReceipt>> =
            full.receipts.into_iter().map(Some).collect();
        for &(_, index) in &entries[at..at + in_block] {
            let i = index as usize;
            let (Some(tx), Some(receipt)) = (
                block_txs.get_mut(i).and_then(Option::take),
                block_receipts.get_mut(i).and_then(Option::take),
            ) else {
                return Err(RpcError::Internal(format!(
                    "indexed transaction {number}[{index}] missing"
                )));
            };
            txs.push(tx);
            receipts.push(ots_receipt(receipt, full.timestamp));
        }
        at += in_block;
    }
    Ok((txs, receipts))
}

/// `ots_searchTransactionsBefore`: `address`'s transactions in blocks before `block` (0: from
/// the head down), newest first.
/// The searches' parameters: `[address, block, pageSize]`.
fn search_params(params: &Params<'_>) -> Result<(Address, u64, usize), ErrorObjectOwned> {
    let mut seq = params.sequence();
    let address: Address = seq.next()?;
    let block = lenient_u64(&param_value(&mut seq)?, "block number")?;
    let size = page_size(&param_value(&mut seq)?)?;
    Ok((address, block, size))
}

fn search_before(
    ctx: &RpcContext,
    address: Address,
    block: u64,
    size: usize,
) -> RpcResult<TransactionsWithReceipts<RpcTransaction>> {
    let reader = ctx.reader()?;
    require_index(ctx, &reader, "ots_searchTransactionsBefore")?;
    let head = head_number(&reader)?;
    let first_page = block == 0 || block > head;
    let from = if first_page { head } else { block - 1 };
    let page = reader.address_page(&address, from, Direction::Back, size)?;
    let (txs, receipts) = search_results(ctx, &reader, &page.entries)?;
    Ok(TransactionsWithReceipts {
        txs,
        receipts,
        first_page,
        last_page: !page.more,
    })
}

/// `ots_searchTransactionsAfter`: `address`'s transactions in blocks after `block` (0: from the
/// genesis up), newest first.
fn search_after(
    ctx: &RpcContext,
    address: Address,
    block: u64,
    size: usize,
) -> RpcResult<TransactionsWithReceipts<RpcTransaction>> {
    let reader = ctx.reader()?;
    require_index(ctx, &reader, "ots_searchTransactionsAfter")?;
    let head = head_number(&reader)?;
    let from = block.saturating_add(1);
    let mut page = if from > head {
        keel_storage::AddressPage::default()
    } else {
        reader.address_page(&address, from, Direction::Forward, size)?
    };
    page.entries.reverse();
    let (txs, receipts) = search_results(ctx, &reader, &page.entries)?;
    Ok(TransactionsWithReceipts {
        txs,
        receipts,
        first_page: !page.more,
        last_page: block == 0,
    })
}

fn transaction_by_sender_and_nonce(
    ctx: &RpcContext,
    sender: Address,
    nonce: u64,
) -> RpcResult<Option<B256>> {
    let reader = ctx.reader()?;
    require_index(ctx, &reader, "ots_getTransactionBySenderAndNonce")?;
    let Some((number, index)) = reader.address_sent_nonce(&sender, nonce)? else {
        return Ok(None);
    };
    let hash = reader
        .canonical_hash(number)?
        .ok_or_else(|| RpcError::Internal(format!("indexed block {number} not canonical")))?;
    let tx = reader
        .transaction(&hash, u64::from(index))?
        .ok_or_else(|| RpcError::Internal(format!("indexed transaction {number}[{index}]")))?;
    Ok(Some(*tx.tx_hash()))
}

/// What one replayed transaction left: its call frames, its internal operations, its outcome.
struct Replayed {
    tx_hash: B256,
    nodes: Vec<CallTraceNode>,
    operations: Vec<InternalOperation>,
    result: ExecutionResult,
}

type OtsInspector = (TracingInspector, InternalOperationsInspector);

fn ots_inspector() -> OtsInspector {
    (
        TracingInspector::new(TracingInspectorConfig::default_parity()),
        InternalOperationsInspector::default(),
    )
}

/// Replay transactions `range` of canonical block `hash` as `debug_traceTransaction` does.
fn replay(
    ctx: &RpcContext,
    reader: &StoreReader,
    hash: B256,
    block: &Block,
    range: std::ops::RangeInclusive<usize>,
) -> RpcResult<Vec<Replayed>> {
    let base = ReplayBase::new(ctx, reader, hash, block)?;
    let mut out = Vec::new();
    let mut replay = base.replay(ctx, reader, block);
    let traced = trace_block(
        &mut replay,
        block,
        &base.senders,
        range,
        ots_inspector(),
        Some(Instant::now() + DEFAULT_TIMEOUT),
        |tx: TracedTx<'_, _, OtsInspector>| {
            let (tracer, operations) = std::mem::replace(tx.inspector, ots_inspector());
            out.push(Replayed {
                tx_hash: block
                    .body
                    .transactions
                    .get(tx.index)
                    .map(|t| *t.tx_hash())
                    .unwrap_or_default(),
                nodes: tracer.into_traces().into_nodes(),
                operations: operations.into_operations(),
                result: tx.result.result.clone(),
            });
            Ok(())
        },
    );
    traced.map_err(|e| replay_error(hash, e))?;
    Ok(out)
}

/// Replay one canonical transaction; `None` if the node has not included it.
fn replay_transaction(ctx: &RpcContext, tx_hash: B256) -> RpcResult<Option<Replayed>> {
    let reader = ctx.reader()?;
    let Some((found, index)) = locate_transaction(&reader, tx_hash)? else {
        return Ok(None);
    };
    let replayed = replay(ctx, &reader, found.hash, &found.block, index..=index)?;
    Ok(replayed.into_iter().next())
}

/// reth's `ots_traceTransaction` entries from the call arena.
fn trace_entries(nodes: Vec<CallTraceNode>) -> Vec<TraceEntry> {
    nodes
        .into_iter()
        .map(|CallTraceNode { trace, .. }| TraceEntry {
            r#type: if trace.is_selfdestruct() {
                "SELFDESTRUCT".to_string()
            } else {
                trace.kind.to_string()
            },
            depth: u32::try_from(trace.depth).unwrap_or(u32::MAX),
            from: trace.caller,
            to: trace.address,
            value: Some(trace.value),
            input: trace.data,
            output: trace.output,
        })
        .collect()
}

/// Whether `address` has code in the state after canonical block `number`.
fn has_code_at(
    ctx: &RpcContext,
    reader: &StoreReader,
    address: &Address,
    number: u64,
) -> RpcResult<bool> {
    let hash = reader
        .canonical_hash(number)?
        .ok_or_else(|| RpcError::Internal(format!("canonical block {number} missing")))?;
    let header = reader
        .header(&hash)?
        .ok_or_else(|| RpcError::Internal(format!("header of {hash} missing")))?;
    let state = state_after(ctx, reader, hash, &header, false)?;
    Ok(state
        .account(address)?
        .is_some_and(|a| a.code_hash != alloy_primitives::KECCAK256_EMPTY))
}

fn contract_creator(ctx: &RpcContext, address: Address) -> RpcResult<Option<ContractCreator>> {
    let reader = ctx.reader()?;
    let head = head_number(&reader)?;
    if !has_code_at(ctx, &reader, &address, head)? {
        return Ok(None);
    }
    // A top-level creation: the contract's first indexed transaction.
    if ctx.chain.store().address_index_enabled()
        && reader.address_index_progress()?.caught_up()
        && let Some((number, index)) = reader.address_first(&address)?
        && let Some(hash) = reader.canonical_hash(number)?
        && let Some(tx) = reader.transaction(&hash, u64::from(index))?
        && let Some(sender) = reader.sender(&hash, u64::from(index))?
        && tx.is_create()
        && sender.create(tx.nonce()) == address
    {
        return Ok(Some(ContractCreator {
            hash: *tx.tx_hash(),
            creator: sender,
        }));
    }
    // Otherwise: the first block after which it has code (a binary search over the canonical
    // states), then that block's trace.
    if has_code_at(ctx, &reader, &address, 0)? {
        // In the genesis: created by no transaction.
        return Ok(None);
    }
    let (mut low, mut high) = (0u64, head);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if has_code_at(ctx, &reader, &address, mid)? {
            high = mid;
        } else {
            low = mid;
        }
    }
    let hash = reader
        .canonical_hash(high)?
        .ok_or_else(|| RpcError::Internal(format!("canonical block {high} missing")))?;
    let found = block_by_hash(&reader, hash)?
        .ok_or_else(|| RpcError::Internal(format!("block {hash} missing")))?;
    let count = found.block.body.transactions.len();
    if count == 0 {
        return Ok(None);
    }
    let replayed = replay(ctx, &reader, hash, &found.block, 0..=count - 1)?;
    for tx in replayed {
        for node in &tx.nodes {
            if node.trace.kind.is_any_create()
                && node.trace.success
                && node.trace.address == address
            {
                return Ok(Some(ContractCreator {
                    hash: tx.tx_hash,
                    creator: node.trace.caller,
                }));
            }
        }
    }
    Ok(None)
}

fn param_value(
    seq: &mut jsonrpsee::types::params::ParamsSequence<'_>,
) -> Result<Value, ErrorObjectOwned> {
    seq.next::<Value>()
}

/// A block parameter as `eth_getCode` takes it (a tag, a hex number, a block hash object), or a
/// JSON number as Otterscan may send it.
fn block_id_param(value: Option<Value>) -> RpcResult<Option<BlockId>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(|n| Some(BlockId::Number(BlockNumberOrTag::Number(n))))
            .ok_or_else(|| RpcError::invalid_params(format!("invalid block number {n}"))),
        Some(other) => serde_json::from_value(other)
            .map(Some)
            .map_err(|e| RpcError::invalid_params(format!("invalid block: {e}"))),
    }
}

/// For [`register_read`]: reads that may span many blocks (an address's page, its sent
/// transactions) run on the blocking pool.
fn never(_: &jsonrpsee::types::Params<'_>) -> bool {
    false
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_method("ots_getApiLevel", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(API_LEVEL)
    })?;
    // Otterscan asks for headers by number with erigon's method; reth serves both names.
    for name in ["ots_getHeaderByNumber", "erigon_getHeaderByNumber"] {
        register_read(module, name, always, |params, ctx| {
            let tag: LenientBlockNumberOrTag = params.one()?;
            let reader = ctx.reader()?;
            let Some((_, hash)) = resolve_number(&reader, tag.into())? else {
                return Ok(None);
            };
            let header = reader
                .header(&hash)
                .map_err(RpcError::from)?
                .ok_or_else(|| RpcError::Internal(format!("header of {hash} missing")))?;
            Ok::<_, ErrorObjectOwned>(Some(rpc_header(header, hash, None)))
        })?;
    }
    register_read(module, "ots_hasCode", head_at::<1>, |params, ctx| {
        let mut seq = params.sequence();
        let address: Address = seq.next()?;
        let id = block_id_param(seq.optional_next()?)?;
        let reader = ctx.reader()?;
        let (hash, header) = crate::block_id::require_header(
            &reader,
            id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)),
        )?;
        let state = state_after(ctx, &reader, hash, &header, false)?;
        let has = state
            .account(&address)
            .map_err(RpcError::from)?
            .is_some_and(|a| a.code_hash != alloy_primitives::KECCAK256_EMPTY);
        Ok::<_, ErrorObjectOwned>(has)
    })?;
    register_read(module, "ots_getBlockDetails", always, |params, ctx| {
        let mut seq = params.sequence();
        let tag: LenientBlockNumberOrTag = seq.next()?;
        let reader = ctx.reader()?;
        let found = canonical_block(&reader, tag.into())?;
        Ok::<_, ErrorObjectOwned>(block_details(ctx, &reader, found)?)
    })?;
    register_read(
        module,
        "ots_getBlockDetailsByHash",
        always,
        |params, ctx| {
            let mut seq = params.sequence();
            let hash: B256 = seq.next()?;
            let reader = ctx.reader()?;
            let found =
                block_by_hash(&reader, hash)?.ok_or_else(|| RpcError::server("block not found"))?;
            Ok::<_, ErrorObjectOwned>(block_details(ctx, &reader, found)?)
        },
    )?;
    register_read(module, "ots_getBlockTransactions", always, |params, ctx| {
        let mut seq = params.sequence();
        let tag: LenientBlockNumberOrTag = seq.next()?;
        let page = lenient_u64(&param_value(&mut seq)?, "page number")?;
        let size = page_size(&param_value(&mut seq)?)?;
        Ok::<_, ErrorObjectOwned>(block_transactions(ctx, tag.into(), page, size)?)
    })?;
    register_evm(module, "ots_getTransactionError", |params, ctx| {
        let hash: B256 = params.one()?;
        let error = replay_transaction(ctx, hash)?.map(|replayed| match replayed.result {
            ExecutionResult::Revert { output, .. } => output,
            _ => Bytes::new(),
        });
        Ok::<_, ErrorObjectOwned>(error)
    })?;
    register_evm(module, "ots_traceTransaction", |params, ctx| {
        let hash: B256 = params.one()?;
        let entries = replay_transaction(ctx, hash)?.map(|replayed| trace_entries(replayed.nodes));
        Ok::<_, ErrorObjectOwned>(entries)
    })?;
    register_evm(module, "ots_getInternalOperations", |params, ctx| {
        let hash: B256 = params.one()?;
        let operations = replay_transaction(ctx, hash)?.map(|replayed| replayed.operations);
        Ok::<_, ErrorObjectOwned>(operations)
    })?;
    register_read(
        module,
        "ots_searchTransactionsBefore",
        never,
        |params, ctx| {
            let (address, block, size) = search_params(&params)?;
            Ok::<_, ErrorObjectOwned>(search_before(ctx, address, block, size)?)
        },
    )?;
    register_read(
        module,
        "ots_searchTransactionsAfter",
        never,
        |params, ctx| {
            let (address, block, size) = search_params(&params)?;
            Ok::<_, ErrorObjectOwned>(search_after(ctx, address, block, size)?)
        },
    )?;
    register_read(
        module,
        "ots_getTransactionBySenderAndNonce",
        never,
        |params, ctx| {
            let mut seq = params.sequence();
            let sender: Address = seq.next()?;
            let nonce = lenient_u64(&param_value(&mut seq)?, "nonce")?;
            Ok::<_, ErrorObjectOwned>(transaction_by_sender_and_nonce(ctx, sender, nonce)?)
        },
    )?;
    register_evm(module, "ots_getContractCreator", |params, ctx| {
        let address: Address = params.one()?;
        Ok::<_, ErrorObjectOwned>(contract_creator(ctx, address)?)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_taken_as_json_numbers_hex_or_decimal_strings() {
        assert_eq!(lenient_u64(&serde_json::json!(25), "n").ok(), Some(25));
        assert_eq!(lenient_u64(&serde_json::json!("0x19"), "n").ok(), Some(25));
        assert_eq!(lenient_u64(&serde_json::json!("25"), "n").ok(), Some(25));
        assert!(lenient_u64(&serde_json::json!(-1), "n").is_err());
        assert!(lenient_u64(&serde_json::json!("0xzz"), "n").is_err());
        assert!(lenient_u64(&serde_json::json!(null), "n").is_err());
        assert!(page_size(&serde_json::json!(0)).is_err());
        assert!(page_size(&serde_json::json!(MAX_PAGE_SIZE + 1)).is_err());
        assert_eq!(page_size(&serde_json::json!(25)).ok(), Some(25));
        let block = |v: Value| block_id_param(Some(v)).ok().flatten();
        assert_eq!(
            block(serde_json::json!(7)),
            Some(BlockId::Number(BlockNumberOrTag::Number(7)))
        );
        assert_eq!(
            block(serde_json::json!("0x7")),
            Some(BlockId::Number(BlockNumberOrTag::Number(7)))
        );
        assert_eq!(
            block(serde_json::json!("latest")),
            Some(BlockId::Number(BlockNumberOrTag::Latest))
        );
        assert!(block_id_param(Some(serde_json::json!("nope"))).is_err());
        assert!(block_id_param(Some(serde_json::json!(-1))).is_err());
    }
}
