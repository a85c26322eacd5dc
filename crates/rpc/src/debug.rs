//! `debug_getRawHeader`, `debug_getRawBlock`, `debug_getRawTransaction` and
//! `debug_getRawReceipts`: the consensus encodings (RLP, EIP-2718) of what the store holds.
//!
//! `debug_executionWitness(block)`: the execution witness of one block in geth's shape,
//! `{state, codes, keys, headers}` (trie nodes, bytecodes and key preimages as hex, headers as
//! header objects, the parent first), recorded by re-executing the block over the trie at its
//! parent's state root (`keel_chain::record_witness`). For outside provers and debugging.

use alloy_eips::Encodable2718;
use alloy_primitives::{B256, Bytes};
use alloy_rpc_types_eth::BlockId;
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_storage::ChainReader;
use serde_json::Value;

use keel_chain::record_witness;
use keel_types::Header;

use crate::{
    RpcContext,
    block_id::resolve_header,
    convert::rpc_header,
    error::{RpcError, RpcResult},
    eth_blocks::block_by_id,
};

fn raw_transaction(ctx: &RpcContext, hash: B256) -> RpcResult<Bytes> {
    let reader = ctx.reader()?;
    if let Some((block_hash, index)) = reader.tx_location(&hash)?
        && let Some(body) = reader.body(&block_hash)?
        && let Some(tx) = usize::try_from(index)
            .ok()
            .and_then(|i| body.transactions.get(i))
    {
        return Ok(tx.encoded_2718().into());
    }
    // geth answers "0x" for a transaction it doesn't know.
    Ok(ctx
        .mempool
        .get(&hash)
        .map(|pooled| pooled.tx.encoded_2718().into())
        .unwrap_or_default())
}

/// geth's `ExecutionWitness` JSON.
#[derive(Debug, Clone, serde::Serialize)]
struct ExecutionWitnessJson {
    state: Vec<Bytes>,
    codes: Vec<Bytes>,
    keys: Vec<Bytes>,
    headers: Vec<alloy_rpc_types_eth::Header>,
}

fn execution_witness(ctx: &RpcContext, id: BlockId) -> RpcResult<ExecutionWitnessJson> {
    let reader = ctx.reader()?;
    let (_, header) =
        resolve_header(&reader, id)?.ok_or_else(|| RpcError::server("block not found"))?;
    if header.number == 0 {
        return Err(RpcError::invalid_params(
            "the genesis block is not executed: it has no witness",
        ));
    }
    let recorded = record_witness(&reader, ctx.chain.spec_arc(), header.number, header.number)
        .map_err(|e| RpcError::server(format!("recording the witness: {e}")))?;
    let headers = recorded
        .witness
        .headers
        .iter()
        .map(|rlp| {
            let header: Header = alloy_rlp::decode_exact(rlp)
                .map_err(|e| RpcError::server(format!("witness header: {e}")))?;
            let hash = header.hash_slow();
            Ok(rpc_header(header, hash, Some(rlp.len())))
        })
        .collect::<RpcResult<Vec<_>>>()?;
    Ok(ExecutionWitnessJson {
        state: recorded.witness.state,
        codes: recorded.witness.codes,
        keys: recorded.witness.keys,
        headers,
    })
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    crate::dispatch::register_evm(module, "debug_executionWitness", |params, ctx| {
        let id: BlockId = params.one()?;
        Ok::<_, ErrorObjectOwned>(execution_witness(ctx, id)?)
    })?;
    // keel keeps no bad blocks: a block that fails import is refused and not stored (geth keeps
    // the last few it saw on the network).
    module.register_method("debug_getBadBlocks", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(Vec::<Value>::new())
    })?;
    module.register_blocking_method("debug_getRawHeader", |params, ctx, _| {
        let id: BlockId = params.one()?;
        let reader = ctx.reader()?;
        let (_, header) =
            resolve_header(&reader, id)?.ok_or_else(|| RpcError::server("header not found"))?;
        Ok::<_, ErrorObjectOwned>(Bytes::from(alloy_rlp::encode(&header)))
    })?;
    module.register_blocking_method("debug_getRawBlock", |params, ctx, _| {
        let id: BlockId = params.one()?;
        let reader = ctx.reader()?;
        let found = block_by_id(&reader, id)?.ok_or_else(|| RpcError::server("block not found"))?;
        Ok::<_, ErrorObjectOwned>(Bytes::from(alloy_rlp::encode(&found.block)))
    })?;
    module.register_blocking_method("debug_getRawTransaction", |params, ctx, _| {
        let hash: B256 = params.one()?;
        Ok::<_, ErrorObjectOwned>(raw_transaction(&ctx, hash)?)
    })?;
    module.register_blocking_method("debug_getRawReceipts", |params, ctx, _| {
        let id: BlockId = params.one()?;
        let reader = ctx.reader()?;
        let (hash, _) =
            resolve_header(&reader, id)?.ok_or_else(|| RpcError::server("block not found"))?;
        let receipts = reader
            .receipts(&hash)
            .map_err(RpcError::from)?
            .ok_or_else(|| RpcError::Internal(format!("receipts of block {hash} missing")))?;
        let raw: Vec<Bytes> = receipts
            .iter()
            .map(|receipt| receipt.encoded_2718().into())
            .collect();
        Ok::<_, ErrorObjectOwned>(raw)
    })?;
    Ok(())
}
