//! keel's blocks, transactions, receipts and logs in the shapes of `alloy-rpc-types-eth`, which
//! serialize as geth does.
//!
//! A privileged transaction (type `0x7e`, docs/architecture.md, Chain rules) has no alloy shape: it
//! shows as [`PrivilegedRpcTransaction`], geth-like — `type: "0x7e"`, `hash` (its privileged hash),
//! `from`, `to`, `value`, `gas`, `input`, `nonce` (the L1 bridge's transaction id), `chainId`, the
//! block fields, `gasPrice`, `maxFeePerGas` and `maxPriorityFeePerGas` all 0, and no signature
//! fields. Its receipt is an ordinary receipt with `type: "0x7e"` and `effectiveGasPrice: "0x0"`
//! (receipts of every type serialize through [`AnyReceiptEnvelope`], which shows the same fields as
//! alloy's Ethereum receipt envelope).

use alloy_consensus::{Sealed, Transaction as _, transaction::Recovered};
use alloy_eips::{Encodable2718 as _, Typed2718 as _};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::Encodable;
use alloy_rpc_types_eth::{
    AnyReceiptEnvelope, BlockTransactions, Header as RpcHeader, Log, TransactionInfo,
    TransactionReceipt,
};
use alloy_serde::{OtherFields, WithOtherFields};
use keel_types::{Block, FeeParams, Header, Receipt, Transaction, privileged::PRIVILEGED_TX_TYPE};
use serde::Serialize;

/// A header as `eth_getBlockBy*` and `newHeads` show it. `size` is the encoded block's size when
/// known (block responses carry it; `newHeads` does not).
pub(crate) fn rpc_header(header: Header, hash: B256, size: Option<usize>) -> RpcHeader {
    RpcHeader::from_consensus(
        Sealed::new_unchecked(header, hash),
        None,
        size.map(U256::from),
    )
}

/// Where a transaction sits, for the fields every log of its receipt repeats.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxPosition {
    pub block_hash: B256,
    pub block_number: u64,
    pub block_timestamp: u64,
    pub tx_hash: B256,
    pub tx_index: u64,
}

/// One log of a mined transaction, `log_index` counted over the whole block.
pub(crate) fn rpc_log(pos: TxPosition, log_index: u64, inner: alloy_primitives::Log) -> Log {
    Log {
        inner,
        block_hash: Some(pos.block_hash),
        block_number: Some(pos.block_number),
        block_timestamp: Some(pos.block_timestamp),
        transaction_hash: Some(pos.tx_hash),
        transaction_index: Some(pos.tx_index),
        log_index: Some(log_index),
        removed: false,
    }
}

/// The block context of a mined transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MinedAt {
    pub block_hash: B256,
    pub block_number: u64,
    pub block_timestamp: u64,
    pub index: u64,
    pub base_fee: Option<u64>,
}

impl MinedAt {
    pub fn of(header: &Header, block_hash: B256, index: u64) -> Self {
        Self {
            block_hash,
            block_number: header.number,
            block_timestamp: header.timestamp,
            index,
            base_fee: header.base_fee_per_gas,
        }
    }
}

/// A transaction in RPC output: an Ethereum one in alloy's shape, or a privileged one.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum RpcTransaction {
    Ethereum(Box<alloy_rpc_types_eth::Transaction>),
    Privileged(Box<PrivilegedRpcTransaction>),
}

/// A privileged transaction (type `0x7e`) as the RPC shows it (see the module docs).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PrivilegedRpcTransaction {
    #[serde(rename = "type", with = "alloy_serde::quantity")]
    pub tx_type: u8,
    pub hash: B256,
    #[serde(with = "alloy_serde::quantity")]
    pub chain_id: u64,
    #[serde(with = "alloy_serde::quantity")]
    pub nonce: u64,
    pub from: Address,
    pub to: Address,
    pub value: U256,
    #[serde(with = "alloy_serde::quantity")]
    pub gas: u64,
    #[serde(with = "alloy_serde::quantity")]
    pub gas_price: u128,
    #[serde(with = "alloy_serde::quantity")]
    pub max_fee_per_gas: u128,
    #[serde(with = "alloy_serde::quantity")]
    pub max_priority_fee_per_gas: u128,
    pub input: Bytes,
    pub block_hash: Option<B256>,
    #[serde(with = "alloy_serde::quantity::opt")]
    pub block_number: Option<u64>,
    #[serde(
        with = "alloy_serde::quantity::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_timestamp: Option<u64>,
    #[serde(with = "alloy_serde::quantity::opt")]
    pub transaction_index: Option<u64>,
}

/// The receipt of a transaction of the pending block: block hash zero (not sealed yet).
pub(crate) fn preconfirmed_receipt(
    block: &keel_chain::PendingBlock,
    tx: &keel_chain::preconf::PreconfirmedTx,
) -> RpcReceipt {
    let ctx = ReceiptContext {
        pos: TxPosition {
            block_hash: B256::ZERO,
            block_number: block.number,
            block_timestamp: block.timestamp,
            tx_hash: tx.hash,
            tx_index: tx.index,
        },
        sender: tx.sender,
        gas_used: tx.gas_used,
        first_log_index: tx.first_log_index,
        base_fee: Some(block.base_fee),
        // Blob transactions never enter the pool.
        blob_gas_price: None,
        fees: block.fees,
    };
    rpc_receipt(&tx.receipt, &tx.tx, ctx)
}

/// A receipt as `eth_getTransactionReceipt` shows it.
pub(crate) type RpcReceipt = WithOtherFields<TransactionReceipt<AnyReceiptEnvelope<Log>>>;

/// A block as `eth_getBlockBy*` shows it.
pub(crate) type RpcBlock = alloy_rpc_types_eth::Block<RpcTransaction>;

/// A transaction as `eth_getTransactionBy*` shows it: with its block context when mined
/// (`gasPrice` is then the effective price), with null block fields when pending (`gasPrice`
/// is then the fee cap, as geth shows it).
pub(crate) fn rpc_transaction(
    tx: Transaction,
    sender: Address,
    at: Option<MinedAt>,
) -> RpcTransaction {
    let tx = match tx {
        Transaction::Ethereum(tx) => tx,
        Transaction::Privileged(tx) => {
            let hash = tx.hash();
            let tx = tx.into_inner();
            return RpcTransaction::Privileged(Box::new(PrivilegedRpcTransaction {
                tx_type: PRIVILEGED_TX_TYPE,
                hash,
                chain_id: tx.chain_id,
                nonce: tx.nonce,
                from: tx.from,
                to: tx.to,
                value: tx.value,
                gas: tx.gas_limit,
                gas_price: 0,
                max_fee_per_gas: 0,
                max_priority_fee_per_gas: 0,
                input: tx.data,
                block_hash: at.map(|at| at.block_hash),
                block_number: at.map(|at| at.block_number),
                block_timestamp: at.map(|at| at.block_timestamp),
                transaction_index: at.map(|at| at.index),
            }));
        }
    };
    let hash = *tx.tx_hash();
    let info = match at {
        Some(at) => TransactionInfo {
            hash: Some(hash),
            index: Some(at.index),
            block_hash: Some(at.block_hash),
            block_number: Some(at.block_number),
            base_fee: at.base_fee,
            block_timestamp: Some(at.block_timestamp),
        },
        None => TransactionInfo {
            hash: Some(hash),
            ..Default::default()
        },
    };
    RpcTransaction::Ethereum(Box::new(
        alloy_rpc_types_eth::Transaction::from_transaction(
            Recovered::new_unchecked(tx, sender),
            info,
        ),
    ))
}

/// A pending transaction as JSON: geth shows `blockTimestamp: null` beside the other null block
/// fields (alloy's type leaves it out).
pub(crate) fn pending_transaction_json(tx: Transaction, sender: Address) -> serde_json::Value {
    let mut value =
        serde_json::to_value(rpc_transaction(tx, sender, None)).unwrap_or(serde_json::Value::Null);
    if let Some(object) = value.as_object_mut() {
        object
            .entry("blockTimestamp")
            .or_insert(serde_json::Value::Null);
    }
    value
}

/// Everything a receipt needs beyond the stored consensus receipt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReceiptContext {
    pub pos: TxPosition,
    pub sender: Address,
    /// Gas this transaction alone used (the difference of cumulative gas used).
    pub gas_used: u64,
    /// Logs in the block's earlier receipts.
    pub first_log_index: u64,
    pub base_fee: Option<u64>,
    /// The block's blob gas price, for blob transactions.
    pub blob_gas_price: Option<u128>,
    /// What the block charged beyond gas, on a chain with the L1 fee rule (docs/fees.md).
    pub fees: Option<FeeParams>,
}

/// The L1 fee rule's fields of an ordinary transaction's receipt, under the OP Stack's names
/// (docs/fees.md), so that wallets' OP Stack extensions show them.
fn fee_fields(params: &FeeParams, tx: &Transaction, gas_used: u64) -> OtherFields {
    let Transaction::Ethereum(eth) = tx else {
        return OtherFields::default();
    };
    let len = eth.encode_2718_len();
    let charge = params.charge(len, gas_used);
    let quantity = |v: U256| serde_json::Value::String(format!("{v:#x}"));
    let fields = [
        ("l1Fee", charge.l1_fee),
        ("l1GasPrice", U256::from(params.prices.base_fee)),
        ("l1GasUsed", params.l1_gas_used(len)),
        ("l1BlobBaseFee", U256::from(params.prices.blob_base_fee)),
        (
            "l1BaseFeeScalar",
            U256::from(params.scalars.base_fee_scalar),
        ),
        (
            "l1BlobBaseFeeScalar",
            U256::from(params.scalars.blob_base_fee_scalar),
        ),
        (
            "operatorFeeScalar",
            U256::from(params.scalars.operator_fee_scalar),
        ),
        (
            "operatorFeeConstant",
            U256::from(params.scalars.operator_fee_constant),
        ),
    ];
    OtherFields::new(
        fields
            .into_iter()
            .map(|(name, value)| (name.to_string(), quantity(value)))
            .collect(),
    )
}

/// A receipt as `eth_getTransactionReceipt` shows it.
pub(crate) fn rpc_receipt(receipt: &Receipt, tx: &Transaction, ctx: ReceiptContext) -> RpcReceipt {
    let mut log_index = ctx.first_log_index;
    let inner = AnyReceiptEnvelope {
        inner: receipt.as_receipt_with_bloom().clone().map_logs(|log| {
            let log = rpc_log(ctx.pos, log_index, log);
            log_index += 1;
            log
        }),
        r#type: receipt.ty(),
    };
    let blob_gas_used = tx.blob_gas_used();
    let other = ctx
        .fees
        .as_ref()
        .map(|params| fee_fields(params, tx, ctx.gas_used))
        .unwrap_or_default();
    let receipt = TransactionReceipt {
        inner,
        transaction_hash: ctx.pos.tx_hash,
        transaction_index: Some(ctx.pos.tx_index),
        block_hash: Some(ctx.pos.block_hash),
        block_number: Some(ctx.pos.block_number),
        gas_used: ctx.gas_used,
        effective_gas_price: tx.effective_gas_price(ctx.base_fee),
        blob_gas_used,
        blob_gas_price: blob_gas_used.and(ctx.blob_gas_price),
        from: ctx.sender,
        to: tx.to(),
        contract_address: tx.is_create().then(|| ctx.sender.create(tx.nonce())),
    };
    WithOtherFields {
        inner: receipt,
        other,
    }
}

/// Receipts of a whole block, given the senders of its transactions.
pub(crate) fn block_receipts(
    block: &Block,
    hash: B256,
    receipts: &[Receipt],
    senders: &[Address],
    blob_gas_price: Option<u128>,
    fees: Option<FeeParams>,
) -> Vec<RpcReceipt> {
    let mut cumulative = 0u64;
    let mut first_log_index = 0u64;
    block
        .body
        .transactions
        .iter()
        .zip(receipts)
        .zip(senders)
        .enumerate()
        .map(|(index, ((tx, receipt), sender))| {
            let gas_used = receipt.cumulative_gas_used().saturating_sub(cumulative);
            cumulative = receipt.cumulative_gas_used();
            let ctx = ReceiptContext {
                pos: TxPosition {
                    block_hash: hash,
                    block_number: block.header.number,
                    block_timestamp: block.header.timestamp,
                    tx_hash: *tx.tx_hash(),
                    tx_index: index as u64,
                },
                sender: *sender,
                gas_used,
                first_log_index,
                base_fee: block.header.base_fee_per_gas,
                blob_gas_price,
                fees,
            };
            first_log_index += receipt.logs().len() as u64;
            rpc_receipt(receipt, tx, ctx)
        })
        .collect()
}

/// A block as `eth_getBlockBy*` shows it: transaction hashes, or full transactions when
/// `senders` (one per transaction) are given. `size` is the RLP size of the whole block;
/// `totalDifficulty` is absent as in geth after the merge.
pub(crate) fn rpc_block(hash: B256, block: Block, senders: Option<&[Address]>) -> RpcBlock {
    let size = block.length();
    let Block { header, body } = block;
    let transactions = match senders {
        Some(senders) => BlockTransactions::Full(
            body.transactions
                .into_iter()
                .zip(senders)
                .enumerate()
                .map(|(index, (tx, sender))| {
                    rpc_transaction(tx, *sender, Some(MinedAt::of(&header, hash, index as u64)))
                })
                .collect(),
        ),
        None => {
            BlockTransactions::Hashes(body.transactions.iter().map(|tx| *tx.tx_hash()).collect())
        }
    };
    let uncles = body.ommers.iter().map(|ommer| ommer.hash_slow()).collect();
    RpcBlock {
        header: rpc_header(header, hash, Some(size)),
        uncles,
        transactions,
        withdrawals: body.withdrawals,
    }
}
