//! Consensus checks: the header against its parent, the body against the header, and what
//! execution produced against what the header claims.

use alloy_consensus::{
    EMPTY_OMMER_ROOT_HASH, Header, TxReceipt,
    proofs::{calculate_receipt_root, calculate_transaction_root, calculate_withdrawals_root},
};
use alloy_hardforks::EthereumHardforks;
use alloy_primitives::{B256, Bloom, U256};
use keel_types::{Block, ChainSpec};

use crate::ExecutionOutcome;

/// Smallest gas limit a block may have.
const MIN_GAS_LIMIT: u64 = 5000;
/// Largest gas limit a block may have (geth: 2^63 - 1).
const MAX_GAS_LIMIT: u64 = 0x7fff_ffff_ffff_ffff;
/// The gas limit moves by less than parent/1024 per block.
const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;
/// Maximum extra data size.
const MAX_EXTRA_DATA: usize = 32;

/// Check `header` against its `parent`: everything that doesn't need the body or execution.
pub fn validate_header(
    spec: &ChainSpec,
    header: &Header,
    parent: &Header,
) -> Result<(), BlockError> {
    let expected = parent.number + 1;
    if header.number != expected {
        return Err(BlockError::Number {
            expected,
            got: header.number,
        });
    }
    if header.timestamp <= parent.timestamp {
        return Err(BlockError::Timestamp {
            parent: parent.timestamp,
            got: header.timestamp,
        });
    }
    if header.extra_data.len() > MAX_EXTRA_DATA {
        return Err(BlockError::ExtraDataTooLong(header.extra_data.len()));
    }
    let limit_ok = header.gas_limit >= MIN_GAS_LIMIT
        && header.gas_limit <= MAX_GAS_LIMIT
        && header.gas_limit.abs_diff(parent.gas_limit) < parent.gas_limit / GAS_LIMIT_BOUND_DIVISOR;
    if !limit_ok {
        return Err(BlockError::GasLimit {
            parent: parent.gas_limit,
            got: header.gas_limit,
        });
    }
    if header.gas_used > header.gas_limit {
        return Err(BlockError::GasUsedOverLimit {
            used: header.gas_used,
            limit: header.gas_limit,
        });
    }
    // Post-merge: no proof of work.
    if header.difficulty != U256::ZERO {
        return Err(BlockError::Difficulty(header.difficulty));
    }
    if !header.nonce.is_zero() {
        return Err(BlockError::Nonce);
    }
    if header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
        return Err(BlockError::Ommers);
    }

    let expected_base_fee = if spec.is_london_active_at_block(parent.number) {
        parent.next_block_base_fee(spec.base_fee_params)
    } else {
        Some(alloy_eips::eip1559::INITIAL_BASE_FEE)
    };
    if header.base_fee_per_gas != expected_base_fee {
        return Err(BlockError::BaseFee {
            expected: expected_base_fee,
            got: header.base_fee_per_gas,
        });
    }

    let ts = header.timestamp;
    fork_field(
        "withdrawalsRoot",
        spec.is_shanghai_active_at_timestamp(ts),
        header.withdrawals_root.is_some(),
    )?;
    let cancun = spec.is_cancun_active_at_timestamp(ts);
    fork_field("blobGasUsed", cancun, header.blob_gas_used.is_some())?;
    fork_field("excessBlobGas", cancun, header.excess_blob_gas.is_some())?;
    fork_field(
        "parentBeaconBlockRoot",
        cancun,
        header.parent_beacon_block_root.is_some(),
    )?;
    fork_field(
        "requestsHash",
        spec.is_prague_active_at_timestamp(ts),
        header.requests_hash.is_some(),
    )?;

    if let Some(params) = spec.blob_params_at(ts) {
        // At the Cancun transition the parent has no blob fields: excess starts at zero.
        let expected = Some(parent.next_block_excess_blob_gas(params).unwrap_or(0));
        if header.excess_blob_gas != expected {
            return Err(BlockError::ExcessBlobGas {
                expected,
                got: header.excess_blob_gas,
            });
        }
        let max = params.max_blob_gas_per_block();
        if header.blob_gas_used.is_some_and(|used| used > max) {
            return Err(BlockError::BlobGasUsed {
                expected: Some(max),
                got: header.blob_gas_used,
            });
        }
    }
    Ok(())
}

fn fork_field(field: &'static str, active: bool, present: bool) -> Result<(), BlockError> {
    let word = |b: bool| if b { "present" } else { "absent" };
    if active != present {
        return Err(BlockError::ForkField {
            field,
            expected: word(active),
            got: word(present),
        });
    }
    Ok(())
}

/// Check the body against the header's commitments.
pub fn validate_body(block: &Block) -> Result<(), BlockError> {
    let header = &block.header;
    if !block.body.ommers.is_empty() {
        return Err(BlockError::Ommers);
    }
    let ommers_hash = block.body.calculate_ommers_root();
    if ommers_hash != header.ommers_hash {
        return Err(BlockError::OmmersHash {
            expected: ommers_hash,
            got: header.ommers_hash,
        });
    }
    let tx_root = calculate_transaction_root(&block.body.transactions);
    if tx_root != header.transactions_root {
        return Err(BlockError::TransactionsRoot {
            expected: tx_root,
            got: header.transactions_root,
        });
    }
    let withdrawals_root = block
        .body
        .withdrawals
        .as_ref()
        .map(|w| calculate_withdrawals_root(w));
    if withdrawals_root != header.withdrawals_root {
        return Err(BlockError::WithdrawalsRoot {
            expected: withdrawals_root,
            got: header.withdrawals_root,
        });
    }
    Ok(())
}

/// Check what execution produced against the header (everything but the state root).
pub fn validate_outcome(header: &Header, outcome: &ExecutionOutcome) -> Result<(), BlockError> {
    if outcome.gas_used != header.gas_used {
        return Err(BlockError::GasUsed {
            expected: outcome.gas_used,
            got: header.gas_used,
        });
    }
    if let Some(got) = header.blob_gas_used
        && got != outcome.blob_gas_used
    {
        return Err(BlockError::BlobGasUsed {
            expected: Some(outcome.blob_gas_used),
            got: Some(got),
        });
    }
    let receipts_root = calculate_receipt_root(&outcome.receipts);
    if receipts_root != header.receipts_root {
        return Err(BlockError::ReceiptsRoot {
            expected: receipts_root,
            got: header.receipts_root,
        });
    }
    let bloom = logs_bloom(&outcome.receipts);
    if bloom != header.logs_bloom {
        return Err(BlockError::LogsBloom {
            expected: Box::new(bloom),
            got: Box::new(header.logs_bloom),
        });
    }
    if let Some(got) = header.requests_hash {
        let expected = outcome.requests.requests_hash();
        if expected != got {
            return Err(BlockError::RequestsHash {
                expected: Some(expected),
                got: Some(got),
            });
        }
    }
    Ok(())
}

/// The block's logs bloom: the union of its receipts' blooms.
pub fn logs_bloom(receipts: &[keel_types::Receipt]) -> Bloom {
    receipts.iter().fold(Bloom::ZERO, |acc, r| acc | r.bloom())
}

/// A rule the block broke. The message names the check, the expected and the found value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BlockError {
    #[error("unknown parent {0}")]
    UnknownParent(B256),
    #[error("parent {parent} is not the head {head}: side chains and reorgs are not supported")]
    NotOnHead { parent: B256, head: B256 },
    #[error("block number {got}, expected {expected}")]
    Number { expected: u64, got: u64 },
    #[error("timestamp {got} not after parent's {parent}")]
    Timestamp { parent: u64, got: u64 },
    #[error("gas limit {got} out of bounds (parent {parent})")]
    GasLimit { parent: u64, got: u64 },
    #[error("gas used {used} exceeds gas limit {limit}")]
    GasUsedOverLimit { used: u64, limit: u64 },
    #[error("extra data is {0} bytes, at most 32 allowed")]
    ExtraDataTooLong(usize),
    #[error("difficulty must be zero after the merge, got {0}")]
    Difficulty(alloy_primitives::U256),
    #[error("nonce must be zero after the merge")]
    Nonce,
    #[error("ommers are not allowed after the merge")]
    Ommers,
    #[error("base fee {got:?}, expected {expected:?}")]
    BaseFee {
        expected: Option<u64>,
        got: Option<u64>,
    },
    #[error("{field}: expected {expected}, got {got}")]
    ForkField {
        field: &'static str,
        expected: &'static str,
        got: &'static str,
    },
    #[error("excess blob gas {got:?}, expected {expected:?}")]
    ExcessBlobGas {
        expected: Option<u64>,
        got: Option<u64>,
    },
    #[error("blob gas used {got:?}, execution used {expected:?}")]
    BlobGasUsed {
        expected: Option<u64>,
        got: Option<u64>,
    },
    #[error("transactions root {got}, computed {expected}")]
    TransactionsRoot { expected: B256, got: B256 },
    #[error("ommers hash {got}, computed {expected}")]
    OmmersHash { expected: B256, got: B256 },
    #[error("withdrawals root {got:?}, computed {expected:?}")]
    WithdrawalsRoot {
        expected: Option<B256>,
        got: Option<B256>,
    },
    #[error("transaction {index}: invalid signature")]
    Signature { index: usize },
    #[error("execution failed: {0}")]
    Execution(String),
    #[error("gas used {got}, execution used {expected}")]
    GasUsed { expected: u64, got: u64 },
    #[error("receipts root {got}, computed {expected}")]
    ReceiptsRoot { expected: B256, got: B256 },
    #[error("logs bloom {got}, computed {expected}")]
    LogsBloom {
        expected: Box<Bloom>,
        got: Box<Bloom>,
    },
    #[error("requests hash {got:?}, computed {expected:?}")]
    RequestsHash {
        expected: Option<B256>,
        got: Option<B256>,
    },
    #[error("state root {got}, computed {expected}")]
    StateRoot { expected: B256, got: B256 },
}
