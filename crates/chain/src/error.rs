//! Errors of the blockchain: a block that breaks a rule, or a store that failed.

use alloy_primitives::B256;
use keel_evm::BlockError;
use keel_storage::StoreError;

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
    /// A block on a side chain that forks from the canonical chain further below the head than
    /// the recent-state window: its parent's state can't be opened, so it is refused and nothing
    /// is written.
    #[error(
        "block {number} ({hash}) is on a side chain forking more than {window} blocks below the \
         head; reorgs that deep are refused (--state.history)"
    )]
    ReorgTooDeep {
        number: u64,
        hash: B256,
        window: u64,
    },
}
