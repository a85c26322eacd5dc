//! Chain data: `eth_chainId`, `eth_blockNumber`, `eth_syncing`, `eth_accounts`, blocks by number
//! or hash, block receipts, transaction counts, uncles (always none), transactions by hash or
//! position (mined, or pending in the mempool), and receipts.
//!
//! Senders are read from the store, where they were put with their block (recovered once, at
//! import or block building), and a transaction's receipt is one stored row: no signature is
//! recovered and no other receipt is decoded to answer for one transaction.

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, U64};
use alloy_rpc_types_eth::{BlockId, BlockNumberOrTag, Index};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_storage::{ChainReader, StateReader as _, StoreReader, StoredReceipt};
use keel_types::{Block, FeeParams, Header, Receipt, Transaction, fees::GAS_PRICE_ORACLE_ADDRESS};

use crate::{
    RpcContext,
    block_id::{resolve_header, resolve_number},
    convert::{
        MinedAt, ReceiptContext, RpcBlock, RpcReceipt, RpcTransaction, TxPosition, block_receipts,
        pending_transaction_json, rpc_block, rpc_receipt, rpc_transaction,
    },
    dispatch::{always, hashes_only, register_read},
    error::{RpcError, RpcResult},
};

/// A stored block with its hash.
pub(crate) struct FoundBlock {
    pub hash: B256,
    pub block: Block,
}

/// The block with `hash`, if the store has it.
pub(crate) fn block_by_hash(reader: &StoreReader, hash: B256) -> RpcResult<Option<FoundBlock>> {
    let Some(header) = reader.header(&hash)? else {
        return Ok(None);
    };
    let body = reader
        .body(&hash)?
        .ok_or_else(|| RpcError::Internal(format!("body of block {hash} missing")))?;
    Ok(Some(FoundBlock {
        hash,
        block: Block { header, body },
    }))
}

/// The block a block id names, if any.
pub(crate) fn block_by_id(reader: &StoreReader, id: BlockId) -> RpcResult<Option<FoundBlock>> {
    match resolve_header(reader, id)? {
        Some((hash, _)) => block_by_hash(reader, hash),
        None => Ok(None),
    }
}

/// The block a number or tag names, if any.
fn block_by_number(reader: &StoreReader, tag: BlockNumberOrTag) -> RpcResult<Option<FoundBlock>> {
    match resolve_number(reader, tag)? {
        Some((_, hash)) => block_by_hash(reader, hash),
        None => Ok(None),
    }
}

/// The stored sender of every transaction of a block (`txs` of them).
fn senders(reader: &StoreReader, hash: B256, txs: usize) -> RpcResult<Vec<Address>> {
    reader
        .senders(&hash)?
        .filter(|senders| senders.len() == txs)
        .ok_or_else(|| RpcError::Internal(format!("senders of block {hash} missing")))
}

/// The stored sender of transaction `index` of a block.
fn sender(reader: &StoreReader, hash: B256, index: u64) -> RpcResult<Address> {
    reader
        .sender(&hash, index)?
        .ok_or_else(|| RpcError::Internal(format!("sender of {hash}[{index}] missing")))
}

/// The receipts stored for a block.
fn stored_receipts(reader: &StoreReader, hash: B256) -> RpcResult<Vec<Receipt>> {
    reader
        .receipts(&hash)?
        .ok_or_else(|| RpcError::Internal(format!("receipts of block {hash} missing")))
}

/// The blob gas price of a block, for the receipts of blob transactions.
fn blob_gas_price(ctx: &RpcContext, header: &Header) -> Option<u128> {
    let params = ctx.chain.spec().blob_params_at(header.timestamp)?;
    header.blob_fee(params)
}

fn rpc_block_of(reader: &StoreReader, found: FoundBlock, full: bool) -> RpcResult<RpcBlock> {
    if full {
        let senders = senders(reader, found.hash, found.block.body.transactions.len())?;
        Ok(rpc_block(found.hash, found.block, Some(&senders)))
    } else {
        Ok(rpc_block(found.hash, found.block, None))
    }
}

/// Where a transaction is on the canonical chain: (block hash, index), or `None`.
fn canonical_location(reader: &StoreReader, hash: &B256) -> RpcResult<Option<(B256, u64)>> {
    let Some((block_hash, index)) = reader.tx_location(hash)? else {
        return Ok(None);
    };
    let canonical = match reader.block_number(&block_hash)? {
        Some(number) => reader.canonical_hash(number)? == Some(block_hash),
        None => false,
    };
    Ok(canonical.then_some((block_hash, index)))
}

/// The receipt of a canonical transaction, `None` if it isn't in a block (yet).
pub(crate) fn transaction_receipt(ctx: &RpcContext, hash: B256) -> RpcResult<Option<RpcReceipt>> {
    let reader = ctx.reader()?;
    if let Some((block, index)) = reader.recent_transaction(&hash)? {
        let (Some(tx), Some(stored), Some(sender)) = (
            block.transactions.get(index),
            block.receipts.get(index),
            block.senders.get(index),
        ) else {
            return Err(RpcError::Internal(format!(
                "recent block {} lacks transaction {index}",
                block.hash
            )));
        };
        let fees = block_fee_params(ctx, &reader, &block.header)?;
        let receipt_ctx = mined_receipt_context(
            ctx,
            block.hash,
            &block.header,
            hash,
            index as u64,
            tx,
            stored,
            *sender,
            fees,
        );
        return Ok(Some(rpc_receipt(&stored.receipt, tx, receipt_ctx)));
    }
    let Some((block_hash, index)) = canonical_location(&reader, &hash)? else {
        return Ok(preconfirmed_receipt(ctx, &reader, &hash));
    };
    let Some(header) = reader.header(&block_hash)? else {
        return Ok(None);
    };
    let (Some(tx), Some(stored)) = (
        reader.transaction(&block_hash, index)?,
        reader.receipt(&block_hash, index)?,
    ) else {
        return Err(RpcError::Internal(format!(
            "transaction {hash} indexed at {block_hash}[{index}] but not there"
        )));
    };
    let sender = sender(&reader, block_hash, index)?;
    let fees = block_fee_params(ctx, &reader, &header)?;
    let receipt_ctx = mined_receipt_context(
        ctx, block_hash, &header, hash, index, &tx, &stored, sender, fees,
    );
    Ok(Some(rpc_receipt(&stored.receipt, &tx, receipt_ctx)))
}

/// What a block charged beyond gas (docs/fees.md): the L1 prices of its header and the scalars
/// the `GasPriceOracle` held after its parent. `None` on a chain without the L1 fee rule.
pub(crate) fn block_fee_params(
    ctx: &RpcContext,
    reader: &StoreReader,
    header: &Header,
) -> RpcResult<Option<FeeParams>> {
    if ctx.chain.spec().fees.is_none() || header.number == 0 {
        return Ok(None);
    }
    let canonical = reader.canonical_hash(header.number - 1)? == Some(header.parent_hash);
    let max_depth = (!canonical).then_some(ctx.chain.state_history());
    let parent_state = reader.state_after(header.parent_hash, max_depth)?;
    Ok(keel_evm::block_fee_params(header, |slot| {
        parent_state.storage(&GAS_PRICE_ORACLE_ADDRESS, &B256::from(slot))
    })?)
}

/// What a mined transaction's receipt shows besides the receipt itself.
#[allow(clippy::too_many_arguments)]
fn mined_receipt_context(
    ctx: &RpcContext,
    block_hash: B256,
    header: &Header,
    tx_hash: B256,
    index: u64,
    tx: &Transaction,
    stored: &StoredReceipt,
    sender: Address,
    fees: Option<FeeParams>,
) -> ReceiptContext {
    ReceiptContext {
        fees,
        pos: TxPosition {
            block_hash,
            block_number: header.number,
            block_timestamp: header.timestamp,
            tx_hash,
            tx_index: index,
        },
        sender,
        gas_used: stored.gas_used,
        first_log_index: stored.first_log_index,
        base_fee: header.base_fee_per_gas,
        blob_gas_price: tx
            .blob_versioned_hashes()
            .and_then(|_| blob_gas_price(ctx, header)),
    }
}

/// The receipt of a preconfirmed transaction of the pending block built on `reader`'s head.
/// Its block hash is zero: the block isn't sealed yet (its number, index, gas and logs are
/// final).
pub(crate) fn preconfirmed_receipt(
    ctx: &RpcContext,
    reader: &StoreReader,
    hash: &B256,
) -> Option<RpcReceipt> {
    let pending = crate::eth_state::pending_block(ctx, reader)?;
    let preconfirmed = pending.transaction(hash)?;
    Some(crate::convert::preconfirmed_receipt(&pending, preconfirmed))
}

/// A transaction by hash: mined (canonical chain) or pending in the mempool.
fn transaction_by_hash(ctx: &RpcContext, hash: B256) -> RpcResult<Option<serde_json::Value>> {
    let reader = ctx.reader()?;
    if let Some((block_hash, index)) = canonical_location(&reader, &hash)?
        && let Some(tx) = mined_transaction(&reader, block_hash, index)?
    {
        return to_json(tx).map(Some);
    }
    Ok(ctx
        .mempool
        .get(&hash)
        .map(|pooled| pending_transaction_json(pooled.tx.clone(), pooled.sender)))
}

fn to_json<T: serde::Serialize>(value: T) -> RpcResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| RpcError::Internal(e.to_string()))
}

/// The transaction at `index` of block `hash`, with its block context: the header, that one
/// transaction and its stored sender are read, not the whole block.
fn mined_transaction(
    reader: &StoreReader,
    hash: B256,
    index: u64,
) -> RpcResult<Option<RpcTransaction>> {
    let Some(header) = reader.header(&hash)? else {
        return Ok(None);
    };
    let Some(tx) = reader.transaction(&hash, index)? else {
        return Ok(None);
    };
    let sender = sender(reader, hash, index)?;
    Ok(Some(rpc_transaction(
        tx,
        sender,
        Some(MinedAt::of(&header, hash, index)),
    )))
}

fn receipts_of_block(ctx: &RpcContext, id: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>> {
    let reader = ctx.reader()?;
    let Some(found) = block_by_id(&reader, id)? else {
        return Ok(None);
    };
    let receipts = stored_receipts(&reader, found.hash)?;
    let senders = senders(&reader, found.hash, found.block.body.transactions.len())?;
    let blob_gas_price = blob_gas_price(ctx, &found.block.header);
    let fees = block_fee_params(ctx, &reader, &found.block.header)?;
    Ok(Some(block_receipts(
        &found.block,
        found.hash,
        &receipts,
        &senders,
        blob_gas_price,
        fees,
    )))
}

/// `true` unless the caller passed `false` for "full transactions" (absent means hashes).
fn full_flag(flag: Option<bool>) -> bool {
    flag.unwrap_or(false)
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_method("eth_chainId", |_, ctx, _| {
        Ok::<_, ErrorObjectOwned>(U64::from(ctx.chain.spec().chain_id))
    })?;
    module.register_method("eth_blockNumber", |_, ctx, _| {
        let (_, header) = ctx
            .reader()?
            .head()
            .map_err(RpcError::from)?
            .ok_or_else(|| RpcError::Internal("no head block".into()))?;
        Ok::<_, ErrorObjectOwned>(U64::from(header.number))
    })?;
    module.register_method("eth_syncing", |_, _, _| Ok::<_, ErrorObjectOwned>(false))?;
    module.register_method("eth_accounts", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(Vec::<Address>::new())
    })?;

    // With transaction hashes only, a block is a header and a body read; with full
    // transactions it is as large as the block, so it goes to the blocking pool.
    register_read(
        module,
        "eth_getBlockByNumber",
        hashes_only,
        |params, ctx| {
            let mut seq = params.sequence();
            let tag: BlockNumberOrTag = seq.next()?;
            let full = full_flag(seq.optional_next()?);
            let reader = ctx.reader()?;
            let block = block_by_number(&reader, tag)?
                .map(|found| rpc_block_of(&reader, found, full))
                .transpose()?;
            Ok(block)
        },
    )?;
    register_read(module, "eth_getBlockByHash", hashes_only, |params, ctx| {
        let mut seq = params.sequence();
        let hash: B256 = seq.next()?;
        let full = full_flag(seq.optional_next()?);
        let reader = ctx.reader()?;
        let block = block_by_hash(&reader, hash)?
            .map(|found| rpc_block_of(&reader, found, full))
            .transpose()?;
        Ok(block)
    })?;
    module.register_blocking_method("eth_getBlockReceipts", |params, ctx, _| {
        let id: BlockId = params.one()?;
        Ok::<_, ErrorObjectOwned>(receipts_of_block(&ctx, id)?)
    })?;

    module.register_blocking_method("eth_getBlockTransactionCountByNumber", |params, ctx, _| {
        let tag: BlockNumberOrTag = params.one()?;
        let reader = ctx.reader()?;
        let count = block_by_number(&reader, tag)?
            .map(|found| U64::from(found.block.body.transactions.len()));
        Ok::<_, ErrorObjectOwned>(count)
    })?;
    module.register_blocking_method("eth_getBlockTransactionCountByHash", |params, ctx, _| {
        let hash: B256 = params.one()?;
        let reader = ctx.reader()?;
        let count = block_by_hash(&reader, hash)?
            .map(|found| U64::from(found.block.body.transactions.len()));
        Ok::<_, ErrorObjectOwned>(count)
    })?;
    module.register_blocking_method("eth_getUncleCountByBlockNumber", |params, ctx, _| {
        let tag: BlockNumberOrTag = params.one()?;
        let reader = ctx.reader()?;
        let count =
            block_by_number(&reader, tag)?.map(|found| U64::from(found.block.body.ommers.len()));
        Ok::<_, ErrorObjectOwned>(count)
    })?;
    module.register_blocking_method("eth_getUncleCountByBlockHash", |params, ctx, _| {
        let hash: B256 = params.one()?;
        let reader = ctx.reader()?;
        let count =
            block_by_hash(&reader, hash)?.map(|found| U64::from(found.block.body.ommers.len()));
        Ok::<_, ErrorObjectOwned>(count)
    })?;
    // keel only has post-merge blocks: there is never an uncle to return.
    module.register_method("eth_getUncleByBlockHashAndIndex", |params, _, _| {
        let _: (B256, Index) = params.parse()?;
        Ok::<_, ErrorObjectOwned>(Option::<RpcBlock>::None)
    })?;
    module.register_method("eth_getUncleByBlockNumberAndIndex", |params, _, _| {
        let _: (BlockNumberOrTag, Index) = params.parse()?;
        Ok::<_, ErrorObjectOwned>(Option::<RpcBlock>::None)
    })?;

    register_read(module, "eth_getTransactionByHash", always, |params, ctx| {
        let hash: B256 = params.one()?;
        Ok(transaction_by_hash(ctx, hash)?)
    })?;
    module.register_blocking_method(
        "eth_getTransactionByBlockHashAndIndex",
        |params, ctx, _| {
            let (hash, index): (B256, Index) = params.parse()?;
            let reader = ctx.reader()?;
            let tx = mined_transaction(&reader, hash, index.0 as u64)?;
            Ok::<_, ErrorObjectOwned>(tx)
        },
    )?;
    module.register_blocking_method(
        "eth_getTransactionByBlockNumberAndIndex",
        |params, ctx, _| {
            let (tag, index): (BlockNumberOrTag, Index) = params.parse()?;
            let reader = ctx.reader()?;
            let tx = match resolve_number(&reader, tag)? {
                Some((_, hash)) => mined_transaction(&reader, hash, index.0 as u64)?,
                None => None,
            };
            Ok::<_, ErrorObjectOwned>(tx)
        },
    )?;
    register_read(
        module,
        "eth_getTransactionReceipt",
        always,
        |params, ctx| {
            let hash: B256 = params.one()?;
            Ok(transaction_receipt(ctx, hash)?)
        },
    )?;
    Ok(())
}
