//! Fee suggestions and history: `eth_gasPrice`, `eth_maxPriorityFeePerGas`, `eth_feeHistory`,
//! `eth_baseFee` and `eth_blobBaseFee`.
//!
//! `eth_baseFee` is the base fee of the next block (the one built on the head), as the spec
//! says; it is exactly what that block's header then carries. `eth_blobBaseFee` is geth's: the
//! blob base fee of the head, from its `excessBlobGas` and the blob parameters in force at its
//! timestamp. keel's L2 carries no blobs, so its headers' `excessBlobGas` stays 0 and the answer
//! is the minimum, 1 wei; a chain whose head is before Cancun (no blob fields) answers 0, as
//! `eth_feeHistory` reports zeroes for pre-EIP-4844 blocks.
//!
//! The suggested tip follows geth's gas price oracle: from each of the last
//! [`TIP_BLOCKS`] blocks take the [`TIP_SAMPLES`] lowest effective tips of its transactions;
//! the suggestion is the [`TIP_PERCENTILE`]th percentile of those samples. It is at least
//! 1 wei and at least the mempool's minimum tip (which it also is when the recent blocks hold
//! no transactions, e.g. on a fresh chain), and at most [`MAX_TIP`]. `eth_gasPrice` is the
//! next block's base fee plus that tip.

use alloy_consensus::Transaction as _;
use alloy_primitives::{B256, U64, U256};
use alloy_rpc_types_eth::BlockNumberOrTag;
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};
use keel_storage::{ChainReader, StoreReader};
use keel_types::Header;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use crate::{
    RpcContext,
    error::{RpcError, RpcResult},
};

/// Recent blocks the tip suggestion looks at (geth: 20).
const TIP_BLOCKS: u64 = 20;
/// Lowest tips sampled per block (geth: 3).
const TIP_SAMPLES: usize = 3;
/// Percentile of the samples suggested (geth: 60).
const TIP_PERCENTILE: usize = 60;
/// Highest tip suggested: 500 gwei (geth's default `MaxPrice`).
const MAX_TIP: u128 = 500_000_000_000;
/// Most reward percentiles in one `eth_feeHistory` request (geth: 100).
const MAX_PERCENTILES: usize = 100;

/// The last suggestion, by the head it was computed at: a block hash fixes its whole history,
/// so the entry is valid for any node that has that head.
static TIP_CACHE: Mutex<Option<(B256, Option<u128>)>> = Mutex::new(None);

/// The percentile of the recent blocks' lowest tips, or `None` if they hold no transactions.
fn sampled_tip(reader: &StoreReader) -> RpcResult<Option<u128>> {
    let (head_hash, head) = reader
        .head()?
        .ok_or_else(|| RpcError::Internal("no head block".into()))?;
    if let Some((hash, tip)) = *TIP_CACHE.lock()
        && hash == head_hash
    {
        return Ok(tip);
    }
    let mut samples = Vec::new();
    let (mut hash, mut header) = (head_hash, head);
    for _ in 0..TIP_BLOCKS {
        let body = reader
            .body(&hash)?
            .ok_or_else(|| RpcError::Internal(format!("body of block {hash} missing")))?;
        let base_fee = header.base_fee_per_gas.unwrap_or_default();
        let mut tips: Vec<u128> = body
            .transactions
            .iter()
            .filter_map(|tx| tx.effective_tip_per_gas(base_fee))
            .collect();
        tips.sort_unstable();
        samples.extend(tips.into_iter().take(TIP_SAMPLES));
        if header.number == 0 {
            break;
        }
        let parent = header.parent_hash;
        header = reader
            .header(&parent)?
            .ok_or_else(|| RpcError::Internal(format!("header of {parent} missing")))?;
        hash = parent;
    }
    samples.sort_unstable();
    let tip = (!samples.is_empty()).then(|| samples[(samples.len() - 1) * TIP_PERCENTILE / 100]);
    *TIP_CACHE.lock() = Some((head_hash, tip));
    Ok(tip)
}

/// The tip `eth_maxPriorityFeePerGas` suggests (see the module documentation).
pub(crate) fn suggested_tip(ctx: &RpcContext, reader: &StoreReader) -> RpcResult<u128> {
    let floor = ctx.mempool.config().min_tip.max(1);
    let tip = sampled_tip(reader)?.unwrap_or(floor);
    Ok(tip.clamp(floor, MAX_TIP.max(floor)))
}

fn gas_price(ctx: &RpcContext) -> RpcResult<U256> {
    let reader = ctx.reader()?;
    let (_, head) = reader
        .head()?
        .ok_or_else(|| RpcError::Internal("no head block".into()))?;
    let base_fee = ctx.chain.spec().next_base_fee(&head);
    let tip = suggested_tip(ctx, &reader)?;
    Ok(U256::from(base_fee) + U256::from(tip))
}

/// The head block's header.
fn head_header(reader: &StoreReader) -> RpcResult<Header> {
    let (_, head) = reader
        .head()?
        .ok_or_else(|| RpcError::Internal("no head block".into()))?;
    Ok(head)
}

/// `eth_baseFee`: the base fee per gas of the block that follows the head.
fn next_base_fee(ctx: &RpcContext) -> RpcResult<U256> {
    let head = head_header(&*ctx.reader()?)?;
    Ok(U256::from(ctx.chain.spec().next_base_fee(&head)))
}

/// `eth_blobBaseFee`: the head's blob base fee (geth's `CalcBlobFee` of the current header), 0
/// when the head has no blob fields (before Cancun).
fn blob_base_fee(ctx: &RpcContext) -> RpcResult<U256> {
    let head = head_header(&*ctx.reader()?)?;
    let fee = ctx
        .chain
        .spec()
        .blob_params_at(head.timestamp)
        .and_then(|params| head.blob_fee(params))
        .unwrap_or_default();
    Ok(U256::from(fee))
}

/// `eth_feeHistory`'s result, with geth's field names, order and omissions.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct FeeHistory {
    oldest_block: U64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reward: Option<Vec<Vec<U256>>>,
    #[serde(rename = "baseFeePerGas", skip_serializing_if = "Vec::is_empty")]
    base_fee_per_gas: Vec<U256>,
    /// `null` when no block is covered, as geth returns it.
    gas_used_ratio: Option<Vec<f64>>,
    #[serde(rename = "baseFeePerBlobGas", skip_serializing_if = "Vec::is_empty")]
    base_fee_per_blob_gas: Vec<U256>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    blob_gas_used_ratio: Vec<f64>,
}

/// `blockCount` as geth reads it (`HexOrDecimal64`): a JSON number, a hex or a decimal string.
fn parse_block_count(value: &Value) -> RpcResult<u64> {
    let parsed = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => s.parse().ok(),
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        RpcError::invalid_params(format!("invalid argument 0: invalid block count {value}"))
    })
}

fn check_percentiles(percentiles: &[f64]) -> RpcResult<()> {
    let invalid = |detail: String| RpcError::server(format!("invalid reward percentile: {detail}"));
    if percentiles.len() > MAX_PERCENTILES {
        return Err(invalid(format!("over the query limit {MAX_PERCENTILES}")));
    }
    for (i, &p) in percentiles.iter().enumerate() {
        if !(0.0..=100.0).contains(&p) {
            return Err(invalid(format!("{p:.6}")));
        }
        if i > 0 && p <= percentiles[i - 1] {
            return Err(invalid(format!(
                "#{}:{:.6} >= #{}:{:.6}",
                i - 1,
                percentiles[i - 1],
                i,
                p
            )));
        }
    }
    Ok(())
}

/// geth's rewards of one block: its transactions sorted by effective tip, each percentile the
/// tip of the transaction at which the cumulative gas used reaches that share of the block's.
fn block_rewards(
    header: &Header,
    transactions: &[keel_types::Transaction],
    receipts: &[keel_types::Receipt],
    percentiles: &[f64],
) -> Vec<U256> {
    if transactions.is_empty() {
        return vec![U256::ZERO; percentiles.len()];
    }
    let base_fee = header.base_fee_per_gas.unwrap_or_default();
    let mut previous = 0u64;
    let mut sorted: Vec<(u128, u64)> = transactions
        .iter()
        .enumerate()
        .map(|(i, tx)| {
            let cumulative = receipts
                .get(i)
                .map_or(previous, |r| r.cumulative_gas_used());
            let gas_used = cumulative.saturating_sub(previous);
            previous = cumulative;
            (
                tx.effective_tip_per_gas(base_fee).unwrap_or_default(),
                gas_used,
            )
        })
        .collect();
    sorted.sort_by_key(|&(tip, _)| tip);
    let mut index = 0;
    let mut cumulative = sorted[0].1;
    percentiles
        .iter()
        .map(|p| {
            let threshold = (header.gas_used as f64 * p / 100.0) as u64;
            while cumulative < threshold && index < sorted.len() - 1 {
                index += 1;
                cumulative += sorted[index].1;
            }
            U256::from(sorted[index].0)
        })
        .collect()
}

fn ratio(used: u64, limit: u64) -> f64 {
    if limit == 0 {
        0.0
    } else {
        used as f64 / limit as f64
    }
}

fn fee_history(
    ctx: &RpcContext,
    block_count: u64,
    newest: BlockNumberOrTag,
    percentiles: &[f64],
) -> RpcResult<FeeHistory> {
    if block_count == 0 {
        return Ok(FeeHistory::default());
    }
    let mut blocks = block_count.min(ctx.config.max_fee_history.max(1));
    check_percentiles(percentiles)?;
    let reader = ctx.reader()?;
    let (_, head) = reader
        .head()?
        .ok_or_else(|| RpcError::Internal("no head block".into()))?;
    let newest = match newest {
        BlockNumberOrTag::Number(n) if n > head.number => {
            return Err(RpcError::server(format!(
                "request beyond head block: requested {n}, head {}",
                head.number
            )));
        }
        BlockNumberOrTag::Number(n) => n,
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Pending => {
            // keel has no pending block: like geth without one, stop at the head and cover
            // one block fewer.
            blocks -= 1;
            if blocks == 0 {
                return Ok(FeeHistory::default());
            }
            head.number
        }
        BlockNumberOrTag::Latest => head.number,
        BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized => {
            crate::block_id::settled_number(&reader, newest)?.unwrap_or(head.number)
        }
    };
    let blocks = blocks.min(newest + 1);
    let oldest = newest + 1 - blocks;
    let spec = ctx.chain.spec();
    let mut history = FeeHistory {
        oldest_block: U64::from(oldest),
        reward: (!percentiles.is_empty()).then(Vec::new),
        gas_used_ratio: Some(Vec::new()),
        ..Default::default()
    };
    let mut last = None;
    for number in oldest..=newest {
        let hash = reader
            .canonical_hash(number)?
            .ok_or_else(|| RpcError::Internal(format!("canonical block {number} missing")))?;
        let header = reader
            .header(&hash)?
            .ok_or_else(|| RpcError::Internal(format!("header of {hash} missing")))?;
        let blob_params = spec.blob_params_at(header.timestamp);
        history
            .base_fee_per_gas
            .push(U256::from(header.base_fee_per_gas.unwrap_or_default()));
        if let Some(ratios) = history.gas_used_ratio.as_mut() {
            ratios.push(ratio(header.gas_used, header.gas_limit));
        }
        let blob_fee = blob_params.and_then(|params| header.blob_fee(params));
        history
            .base_fee_per_blob_gas
            .push(U256::from(blob_fee.unwrap_or_default()));
        let max_blob_gas = blob_params.map_or(0, |params| params.max_blob_gas_per_block());
        history.blob_gas_used_ratio.push(ratio(
            header.blob_gas_used.unwrap_or_default(),
            max_blob_gas,
        ));
        if let Some(rewards) = history.reward.as_mut() {
            let body = reader
                .body(&hash)?
                .ok_or_else(|| RpcError::Internal(format!("body of block {hash} missing")))?;
            let receipts = reader
                .receipts(&hash)?
                .ok_or_else(|| RpcError::Internal(format!("receipts of block {hash} missing")))?;
            rewards.push(block_rewards(
                &header,
                &body.transactions,
                &receipts,
                percentiles,
            ));
        }
        last = Some((header, blob_params));
    }
    // The fees of the block after the newest one.
    if let Some((header, blob_params)) = last {
        let next_base_fee = spec.next_base_fee(&header);
        history.base_fee_per_gas.push(U256::from(next_base_fee));
        let next_blob_fee = blob_params
            .and_then(|params| header.next_block_blob_fee(params))
            .unwrap_or_default();
        history
            .base_fee_per_blob_gas
            .push(U256::from(next_blob_fee));
    }
    Ok(history)
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_blocking_method("eth_gasPrice", |_, ctx, _| {
        gas_price(&ctx).map_err(ErrorObjectOwned::from)
    })?;
    module.register_blocking_method("eth_maxPriorityFeePerGas", |_, ctx, _| {
        let tip = ctx
            .reader()
            .and_then(|reader| suggested_tip(&ctx, &reader))?;
        Ok::<_, ErrorObjectOwned>(U256::from(tip))
    })?;
    module.register_method("eth_baseFee", |_, ctx, _| {
        next_base_fee(ctx).map_err(ErrorObjectOwned::from)
    })?;
    module.register_method("eth_blobBaseFee", |_, ctx, _| {
        blob_base_fee(ctx).map_err(ErrorObjectOwned::from)
    })?;
    module.register_blocking_method("eth_feeHistory", |params, ctx, _| {
        let mut seq = params.sequence();
        let block_count: Value = seq.next()?;
        let newest: BlockNumberOrTag = seq.next()?;
        let percentiles: Option<Vec<f64>> = seq.optional_next()?;
        let block_count = parse_block_count(&block_count)?;
        fee_history(
            &ctx,
            block_count,
            newest,
            percentiles.as_deref().unwrap_or_default(),
        )
        .map_err(ErrorObjectOwned::from)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percentiles_are_checked_like_geth() {
        assert!(check_percentiles(&[]).is_ok());
        assert!(check_percentiles(&[0.0, 25.5, 100.0]).is_ok());
        assert_eq!(
            check_percentiles(&[101.0]).unwrap_err().to_string(),
            "invalid reward percentile: 101.000000"
        );
        assert_eq!(
            check_percentiles(&[-1.0]).unwrap_err().to_string(),
            "invalid reward percentile: -1.000000"
        );
        assert_eq!(
            check_percentiles(&[50.0, 50.0]).unwrap_err().to_string(),
            "invalid reward percentile: #0:50.000000 >= #1:50.000000"
        );
        assert!(check_percentiles(&[f64::NAN]).is_err());
        assert!(check_percentiles(&vec![1.0; 101]).is_err());
    }

    #[test]
    fn block_count_accepts_numbers_hex_and_decimal() {
        assert_eq!(parse_block_count(&json!(5)).unwrap(), 5);
        assert_eq!(parse_block_count(&json!("0x10")).unwrap(), 16);
        assert_eq!(parse_block_count(&json!("12")).unwrap(), 12);
        assert!(parse_block_count(&json!("0xzz")).is_err());
        assert!(parse_block_count(&json!(-1)).is_err());
        assert!(parse_block_count(&json!(null)).is_err());
    }

    #[test]
    fn empty_history_is_geth_shaped() {
        let json = serde_json::to_value(FeeHistory::default()).unwrap();
        assert_eq!(json, json!({ "oldestBlock": "0x0", "gasUsedRatio": null }));
    }
}
