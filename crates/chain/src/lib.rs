//! keel-chain: the [`Blockchain`] — validate a block against its parent, execute it, check what
//! execution produced against the header, compute the new state root on the persistent trie, and
//! store the block with all its effects in one write. Also the import/export of RLP block files.
//!
//! It must not know about RPC, L1 or the sequencer's schedule: they drive it through this API.
//! (The mempool and payload builder join this crate with the L2 node.)

mod blockchain;
mod error;
mod genesis;
pub mod importer;
mod overlay;
pub mod rlp_file;
mod senders;
mod state_update;
mod validation;

pub use blockchain::{
    BlockAttributes, Blockchain, ExecutedBlock, HeadExecution, ImportOutcome, ImportTimings,
    PreparedBlock,
};
pub use error::{BlockError, ChainError};
pub use overlay::PendingOverlay;
pub use senders::{recover_senders, recover_senders_on_this_thread};
pub use state_update::{StateUpdate, compute_state_update};
