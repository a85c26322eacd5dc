//! keel-trie: the persistent, incremental Ethereum Merkle Patricia Trie.
//!
//! Owns the state/storage trie logic of keel: lazy loading of nodes along
//! accessed paths, incremental root hashing (only modified paths are
//! re-hashed), commit diffs for persistence, `eth_getProof`-style proofs and
//! their verification, and recording of the nodes read (the execution
//! witness for the stateless prover).
//!
//! It does no I/O of its own: all persistent storage is behind [`NodeStore`],
//! and writing a [`TrieUpdates`] back is the caller's job.
//!
//! Keys are byte strings of at most 32 bytes (hashed Ethereum keys are
//! exactly 32); keys may be prefixes of one another (branch values).

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod error;
mod leaves;
mod node;
mod proof;
mod resolver;
mod store;
mod trie;
mod update;
mod writes;

pub use error::{StaleNode, TrieError};
pub use leaves::TrieLeaves;
pub use proof::verify_proof;
pub use store::{EmptyNodeStore, MemoryNodeStore, NodeStore, check_node};
pub use trie::{Trie, TrieUpdates};
pub use writes::{TrieDiff, TrieWrites};

pub use alloy_trie::{EMPTY_ROOT_HASH, Nibbles};
