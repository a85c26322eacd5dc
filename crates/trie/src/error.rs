//! The crate's error type.

use alloy_primitives::B256;
use alloy_trie::Nibbles;

/// Everything that can go wrong while reading, updating or proving the trie.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A node referenced by hash is not in the [`NodeStore`](crate::NodeStore).
    #[error("missing trie node {0}")]
    MissingNode(B256),
    /// A path-addressed store holds, at the node's path, a node with another
    /// hash: the store does not hold the state the trie was opened at.
    /// Boxed to keep the error (returned on every trie call) small.
    #[error("{0}")]
    StaleNode(Box<StaleNode>),
    /// Node bytes (from the store or from a proof) are not a valid trie node.
    #[error("malformed trie node: {0}")]
    Decode(String),
    /// The backing store failed.
    #[error("node store error: {0}")]
    Store(String),
    /// Keys are limited to 32 bytes (64 nibbles), the width of a hashed Ethereum key.
    #[error("trie key is {0} bytes, the maximum is 32")]
    KeyTooLong(usize),
    /// A proof does not connect the key to the claimed root.
    #[error("invalid proof: {0}")]
    InvalidProof(String),
}

/// Where a [`TrieError::StaleNode`] was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stale trie node at path {path:?} of {} (expected {hash})", owner.map_or_else(|| "the account trie".to_string(), |o| format!("storage trie {o}")))]
pub struct StaleNode {
    /// `None` for the account trie, else keccak256 of the address.
    pub owner: Option<B256>,
    pub path: Nibbles,
    /// The hash the parent references.
    pub hash: B256,
}

impl TrieError {
    pub(crate) fn decode(msg: impl Into<String>) -> Self {
        Self::Decode(msg.into())
    }
}

impl From<alloy_rlp::Error> for TrieError {
    fn from(err: alloy_rlp::Error) -> Self {
        Self::Decode(err.to_string())
    }
}
