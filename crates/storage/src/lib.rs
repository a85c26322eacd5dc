//! keel-storage: the node's one database. It owns the on-disk layout (redb tables for chain data,
//! flat state, trie nodes and, later, the rollup tables) and the guarantee that a block and
//! everything it changes land in **one** write transaction, so a crash leaves the store at the last
//! whole block.
//!
//! It must not interpret blocks (no execution, no validation): callers hand it a finished
//! [`BlockWrite`]. The same [`Store`] runs on a file (`Store::open`) or fully in memory
//! (`Store::in_memory`, redb's in-memory backend) for tests and `--datadir memory`; both go through
//! the same code, so tests exercise what production runs.
//!
//! Optionally it keeps an index of transactions by address ([`address_index`], for Otterscan's
//! `ots_` methods), written with the blocks and rebuilt from the stored blocks on demand.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod address_index;
pub mod batches;
pub mod checkpoint;
mod chunked;
mod codec;
mod compact;
mod error;
mod node_cache;
pub mod proofs;
mod reader;
mod recent_blocks;
pub mod rollup;
mod send_journal;
pub mod settlement;
mod sizes;
mod state_diff;
mod store;
mod tables;
mod trie_store;
pub mod verify;
mod view;

pub use address_index::{AddressIndexProgress, AddressPage, Direction};
pub use checkpoint::{CheckpointError, CheckpointWrite};
pub use compact::{Compaction, compact_file};
pub use error::StoreError;
pub use keel_state::{ChainReader, StateChanges, StateError, StateReader, StoredReceipt};
pub use node_cache::NodeCache;
pub use reader::{StoreReader, StoredTrieNode};
pub use recent_blocks::RecentBlock;
pub use sizes::TableSize;
pub use store::{BlockWrite, ReorgWrite, Store};
pub use trie_store::NodeLayer;
pub use verify::{Mismatch, StateReport, VerifyError, verify_state};
pub use view::StateView;

/// How many blocks back from the head a state is kept openable whole (trie included) by default:
/// side chains, reorgs and proofs reach this deep (`--state.history`).
pub const DEFAULT_STATE_HISTORY: u64 = 128;

pub use alloy_trie::TrieAccount;
