//! Errors of the blockchain: a block that breaks a rule, or a store that failed.

use alloy_primitives::{B256, Bloom};
use keel_storage::StoreError;

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

/// Anything the blockchain can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("invalid block {number} ({hash}): {error}")]
    InvalidBlock {
        number: u64,
        hash: B256,
        error: BlockError,
    },
    /// A block being built could not be executed (a transaction the builder was given is invalid).
    #[error("building block {number}: {reason}")]
    Build { number: u64, reason: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("trie: {0}")]
    Trie(#[from] keel_trie::TrieError),
    #[error("the datadir holds genesis {stored}, but the given genesis is {given}")]
    GenesisMismatch { stored: B256, given: B256 },
    #[error("genesis state root {computed} does not match header {header}")]
    GenesisStateRoot { computed: B256, header: B256 },
    #[error("the store has no head block")]
    NoHead,
}
