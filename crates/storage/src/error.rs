//! Store errors.

/// Anything that can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file couldn't be created or opened (locked by another process, corrupt, ...).
    #[error("database: {0}")]
    Database(#[from] redb::DatabaseError),
    #[error("transaction: {0}")]
    Transaction(#[from] redb::TransactionError),
    #[error("table: {0}")]
    Table(#[from] redb::TableError),
    #[error("storage: {0}")]
    Storage(#[from] redb::StorageError),
    #[error("commit: {0}")]
    Commit(#[from] redb::CommitError),
    /// Bytes in the store didn't decode: the store is corrupt or was written by another version.
    #[error("corrupt {what} entry: {reason}")]
    Corrupt { what: &'static str, reason: String },
    /// The datadir was written by a keel with another table layout.
    #[error(
        "the datadir has schema version {found}, this keel reads version {expected}: it was \
         written by another keel version. To keep the chain, export it with the keel that wrote \
         it (`keel export`) and `keel import` the file into a fresh datadir with this one, or \
         rebuild the datadir from L1 with `keel l2 reconstruct`"
    )]
    SchemaMismatch { found: String, expected: u32 },
    /// A reader found an entry missing or undecodable (see [`keel_state::StateError`]).
    #[error(transparent)]
    State(#[from] keel_state::StateError),
    /// A trie lookup failed (a missing or malformed node).
    #[error("trie: {0}")]
    Trie(#[from] keel_trie::TrieError),
    /// The stored account trie's root is not the head's state root (a write that would leave it
    /// so is refused; found at open, the datadir is corrupt).
    #[error("the stored account trie has root {found}, the head's state root is {expected}")]
    TrieRoot {
        expected: alloy_primitives::B256,
        found: alloy_primitives::B256,
    },
    /// Compacting the database file failed (see [`crate::compact_file`]).
    #[error("compaction: {0}")]
    Compaction(String),
    /// A historical state outside the recent-state window was asked for.
    #[error(
        "the state of block {block} is older than the last {window} blocks kept for it \
         (--state.history)"
    )]
    StateUnavailable { block: u64, window: u64 },
    /// The state of a block the store keeps no history for (below a checkpoint).
    #[error("the state of block {block} is not kept (no state history below a checkpoint)")]
    StateNotKept { block: u64 },
    /// A block that is not in the store.
    #[error("unknown block {0}")]
    UnknownBlock(alloy_primitives::B256),
    /// A block's parent is not in the store.
    #[error("block {hash} has unknown parent {parent}")]
    UnknownParent {
        hash: alloy_primitives::B256,
        parent: alloy_primitives::B256,
    },
    /// A block write whose senders or receipts don't match its transactions one to one (a
    /// caller's bug; nothing is written).
    #[error("block {hash} has {txs} transactions but {senders} senders and {receipts} receipts")]
    Mismatched {
        hash: alloy_primitives::B256,
        txs: usize,
        senders: usize,
        receipts: usize,
    },
    /// A write didn't extend the current head.
    #[error("block {number} ({hash}) does not extend head {head}")]
    NotOnHead {
        number: u64,
        hash: alloy_primitives::B256,
        head: alloy_primitives::B256,
    },
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what,
            reason: reason.to_string(),
        }
    }
}

impl From<StoreError> for keel_trie::TrieError {
    fn from(e: StoreError) -> Self {
        keel_trie::TrieError::Store(e.to_string())
    }
}

/// `From` the redb transaction, table, storage and commit errors for an error enum with a
/// `Store(StoreError)` variant, so `?` works on redb calls in write paths that refuse with their
/// own errors.
macro_rules! store_error_from_redb {
    ($error:ty) => {
        impl From<redb::TransactionError> for $error {
            fn from(e: redb::TransactionError) -> Self {
                Self::Store(e.into())
            }
        }
        impl From<redb::TableError> for $error {
            fn from(e: redb::TableError) -> Self {
                Self::Store(e.into())
            }
        }
        impl From<redb::StorageError> for $error {
            fn from(e: redb::StorageError) -> Self {
                Self::Store(e.into())
            }
        }
        impl From<redb::CommitError> for $error {
            fn from(e: redb::CommitError) -> Self {
                Self::Store(e.into())
            }
        }
    };
}
pub(crate) use store_error_from_redb;
