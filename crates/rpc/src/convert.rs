//! keel's blocks, transactions, receipts and logs in the shapes of `alloy-rpc-types-eth`, which
//! serialize as geth does.

use alloy_consensus::{Sealed, TxReceipt};
use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Header as RpcHeader, Log};
use keel_types::{Header, Receipt};

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

/// The logs of one receipt, numbered from `first_log_index` (the count of logs in the block's
/// earlier receipts), with `blockTimestamp` as geth returns it.
pub(crate) fn receipt_logs(pos: TxPosition, first_log_index: u64, receipt: &Receipt) -> Vec<Log> {
    receipt
        .logs()
        .iter()
        .enumerate()
        .map(|(i, log)| Log {
            inner: log.clone(),
            block_hash: Some(pos.block_hash),
            block_number: Some(pos.block_number),
            block_timestamp: Some(pos.block_timestamp),
            transaction_hash: Some(pos.tx_hash),
            transaction_index: Some(pos.tx_index),
            log_index: Some(first_log_index + i as u64),
            removed: false,
        })
        .collect()
}
