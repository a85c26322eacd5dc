//! keel-chain: the [`Blockchain`] — validate a block against its parent, execute it, check what
//! execution produced against the header, compute the new state root on the persistent trie, and
//! store the block with all its effects in one write. Also the import/export of RLP block files.
//!
//! It must not know about RPC, L1 or the sequencer's schedule: they drive it through this API.
//! The [`Mempool`] lives here too: it checks transactions against the head state and offers the
//! block builder the best ones first. A batch's state diff is computed here from the stored
//! blocks ([`batch_diff`]) and applied back onto a store ([`diff_apply`], for rebuilding the state
//! from L1).

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod batch_diff;
mod blockchain;
pub mod diff_apply;
mod error;
mod genesis;
pub mod importer;
pub mod mempool;
mod overlay;
pub mod preconf;
pub mod rlp_file;
mod senders;
mod tx_source;
pub mod witness;

pub use batch_diff::{BatchDiffBuilder, BatchDiffError};
pub use blockchain::{
    BlockAttributes, Blockchain, BuiltBlock, EVENT_CAPACITY, ExecutedBlock, HeadExecution,
    ImportOutcome, ImportTimings, NewBlock, PreparedBlock, next_block_timestamp, next_fee_params,
    next_l1_prices,
};
pub use diff_apply::{
    AppliedCheckpoint, BatchCheckpoint, DiffApplier, DiffApplyError, genesis_code_hashes,
};
pub use error::ChainError;
pub use keel_evm::{BlockError, validate_body, validate_header, validate_outcome};
pub use keel_evm::{SkipReason, TxSource};
pub use keel_evm::{StateUpdate, compute_state_update};
pub use mempool::{BlockCandidates, Mempool, MempoolConfig, MempoolError, PrivilegedLimits};
pub use overlay::PendingOverlay;
pub use preconf::{PendingBlock, Preconfirmations, SliceSource, SliceTiming};
pub use senders::{recover_senders, recover_senders_on_this_thread};
pub use tx_source::ListTxSource;
pub use witness::{RecordedWitness, WitnessError, record_witness};
