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
         written by another keel version; move it aside and start afresh, or rebuild it from L1 \
         with `keel l2 reconstruct`"
    )]
    SchemaMismatch { found: String, expected: u32 },
    /// A reader found an entry missing or undecodable (see [`keel_state::StateError`]).
    #[error(transparent)]
    State(#[from] keel_state::StateError),
    /// A trie lookup failed (a missing or malformed node).
    #[error("trie: {0}")]
    Trie(#[from] keel_trie::TrieError),
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
