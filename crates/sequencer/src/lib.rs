//! keel-sequencer: the sequencer's components, each one loop with its own config. For now the
//! [`BlockProducer`], which turns the mempool into blocks on a schedule; the L1 components
//! (watcher, committer, proof sender) join it in later issues.
//!
//! It drives the chain and the mempool through their public APIs and must not reach into the
//! store or the RPC server.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod batch_metrics;
pub mod batch_sealer;
mod block_producer;
pub mod l1_committer;
pub mod l1_proof_sender;
pub mod l1_watcher;
pub mod proof_coordinator;
pub mod prover_input;
pub mod settlement_tracker;
pub mod store_journal;
pub mod supervisor;
mod switch;

pub use batch_sealer::{BatchSealer, BatchSealerConfig, SealError};
pub use block_producer::{
    BlockProducer, BlockProducerConfig, BlockProducerError, DEFAULT_MAX_PRIVILEGED_TXS_PER_BLOCK,
    DEFAULT_MAX_STATE_DIFF_BYTES, DEFAULT_SLICE_TIME,
};
pub use l1_committer::{CommitterError, L1Committer, L1CommitterConfig};
pub use l1_proof_sender::{L1ProofSender, L1ProofSenderConfig, ProofSenderError};
pub use l1_watcher::{L1Watcher, L1WatcherConfig, MemorySink, PrivilegedTxSink};
pub use proof_coordinator::{
    CoordinatorError, ProofCoordinator, ProofCoordinatorConfig, ProverSigners, SignerSourceError,
};
pub use prover_input::{ProverInputContext, ProverInputError, build_prover_input};
pub use settlement_tracker::{SettlementError, SettlementTracker, SettlementTrackerConfig};
pub use store_journal::StoreJournal;
pub use supervisor::{Supervisor, SupervisorError};
pub use switch::ComponentSwitch;
