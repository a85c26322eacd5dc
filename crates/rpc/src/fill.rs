//! `eth_fillTransaction`: a transaction request completed as geth's `setDefaults` does, returned
//! unsigned for the caller to sign and send with `eth_sendRawTransaction`.
//!
//! - `chainId`: the chain's (a different one is refused, as `eth_call` refuses it);
//! - `nonce`: the sender's next one, past its pool transactions (`eth_getTransactionCount(from,
//!   "pending")`); `from` defaults to the zero address;
//! - fees: with `gasPrice` given, a legacy (or, with `accessList`, EIP-2930) transaction keeps
//!   it; otherwise EIP-1559 (EIP-7702 with `authorizationList`): `maxPriorityFeePerGas`
//!   defaults to `eth_maxPriorityFeePerGas`'s suggestion and `maxFeePerGas` to that tip plus
//!   twice the head's base fee (geth's rule). `gasPrice` with either 1559 fee is refused;
//! - `value` 0, `input` empty (`to` absent with no input: refused, a creation needs code);
//! - `gas`: `eth_estimateGas` of the request so filled, at the latest block.
//!
//! The answer is `{raw, tx}` as geth's: `raw` is the EIP-2718 encoding of the transaction with a
//! zero signature (`v`/`yParity`, `r`, `s` all 0: geth's unsigned transaction), `tx` its JSON
//! (with `gasPrice` equal to `maxFeePerGas` for fee-market transactions, as the spec's unsigned
//! transaction objects have it).
//! Blob transactions (type 3) are refused: keel's L2 does not accept them.

use alloy_consensus::{Signed, TxEnvelope, TypedTransaction, transaction::RlpEcdsaEncodableTx};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, Bytes, Signature, TxKind, U256};
use alloy_rpc_types_eth::{BlockId, BlockNumberOrTag, TransactionRequest};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_storage::ChainReader;
use serde::Serialize;
use serde_json::Value;

use crate::{
    RpcContext,
    dispatch::register_evm,
    error::{RpcError, RpcResult},
    eth_call::{CallParams, estimate},
    eth_fees::suggested_tip,
    eth_state::pending_nonce,
};

/// `eth_fillTransaction`'s answer (the spec's `FillTransactionResult`, geth's fields).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FilledTransaction {
    raw: Bytes,
    tx: Value,
}

/// Complete `request` (see the module documentation).
pub(crate) fn fill(
    ctx: &RpcContext,
    mut request: TransactionRequest,
) -> RpcResult<TransactionRequest> {
    if request.has_eip4844_blob_data() || request.transaction_type == Some(3) {
        return Err(RpcError::invalid_params(
            "blob transactions (type 3) are not accepted on this chain",
        ));
    }
    let chain_id = ctx.chain.spec().chain_id;
    if let Some(asked) = request.chain_id
        && asked != chain_id
    {
        return Err(RpcError::server(format!(
            "chainId does not match node's (have={asked}, want={chain_id})"
        )));
    }
    request.chain_id = Some(chain_id);
    let input = request
        .input
        .clone()
        .try_into_unique_input()
        .map_err(|_| RpcError::invalid_params(r#"both "data" and "input" are set and not equal"#))?
        .unwrap_or_default();
    if request.to.is_none() && input.is_empty() {
        return Err(RpcError::server(
            "contract creation without any data provided",
        ));
    }
    request.input = input.into();
    request.to.get_or_insert(TxKind::Create);
    request.value.get_or_insert(U256::ZERO);
    let from = *request.from.get_or_insert(Address::ZERO);
    if request.nonce.is_none() {
        request.nonce = Some(pending_nonce(ctx, from)?);
    }

    let has_1559_fee =
        request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some();
    if request.gas_price.is_some() && has_1559_fee {
        return Err(RpcError::invalid_params(
            "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified",
        ));
    }
    if request.gas_price.is_none() {
        let reader = ctx.reader()?;
        let tip = match request.max_priority_fee_per_gas {
            Some(tip) => tip,
            None => suggested_tip(ctx, &reader)?,
        };
        let max_fee = match request.max_fee_per_gas {
            Some(max_fee) => max_fee,
            None => {
                let (_, head) = reader
                    .head()?
                    .ok_or_else(|| RpcError::Internal("no head block".into()))?;
                let base_fee = u128::from(head.base_fee_per_gas.unwrap_or_default());
                tip.saturating_add(base_fee.saturating_mul(2))
            }
        };
        if max_fee < tip {
            return Err(RpcError::invalid_params(format!(
                "maxFeePerGas ({max_fee}) < maxPriorityFeePerGas ({tip})"
            )));
        }
        request.max_priority_fee_per_gas = Some(tip);
        request.max_fee_per_gas = Some(max_fee);
        request.access_list.get_or_insert_default();
    }
    if request.gas.is_none() {
        let gas = estimate(
            ctx,
            CallParams {
                request: request.clone(),
                block: BlockId::Number(BlockNumberOrTag::Latest),
                state: None,
                block_overrides: None,
            },
        )?;
        request.gas = Some(gas);
    }
    Ok(request)
}

/// The unsigned transaction `request` describes, as geth returns it from
/// `eth_fillTransaction`.
fn unsigned(request: TransactionRequest) -> RpcResult<FilledTransaction> {
    let typed = request
        .build_consensus_tx()
        .map_err(|e| RpcError::invalid_params(e.error))?;
    let zero = Signature::new(U256::ZERO, U256::ZERO, false);
    let (raw, tx) = match typed {
        TypedTransaction::Legacy(tx) => {
            // geth's unsigned legacy transaction: `v`, `r` and `s` all 0 (no EIP-155 `v`).
            let fields = tx.rlp_encoded_fields_length();
            let mut raw = Vec::with_capacity(fields + 8);
            alloy_rlp::Header {
                list: true,
                payload_length: fields + 3,
            }
            .encode(&mut raw);
            tx.rlp_encode_fields(&mut raw);
            raw.extend_from_slice(&[alloy_rlp::EMPTY_STRING_CODE; 3]);
            let mut json = serde_json::to_value(TxEnvelope::Legacy(Signed::new_unhashed(tx, zero)))
                .map_err(|e| RpcError::Internal(e.to_string()))?;
            if let Some(object) = json.as_object_mut() {
                object.insert("v".into(), Value::String("0x0".into()));
                object.remove("yParity");
            }
            (raw, json)
        }
        typed => {
            let envelope: TxEnvelope = typed.into_envelope(zero);
            let mut json =
                serde_json::to_value(&envelope).map_err(|e| RpcError::Internal(e.to_string()))?;
            // The spec's unsigned EIP-1559 transaction carries `gasPrice`, "equal to the max fee
            // per gas" while the transaction is not in a block.
            if let Some(object) = json.as_object_mut()
                && let Some(max_fee) = object.get("maxFeePerGas").cloned()
            {
                object.insert("gasPrice".into(), max_fee);
            }
            (envelope.encoded_2718(), json)
        }
    };
    Ok(FilledTransaction {
        raw: raw.into(),
        tx,
    })
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    // The gas estimate is an EVM execution: it takes an EVM slot like eth_estimateGas.
    register_evm(module, "eth_fillTransaction", |params, ctx| {
        let request: TransactionRequest = params.one()?;
        let filled = fill(ctx, request).and_then(unsigned)?;
        Ok::<_, ErrorObjectOwned>(filled)
    })?;
    Ok(())
}
