//! keel-l1: everything that talks to the L1 — the bindings of keel's L1 contracts (from the
//! committed artifacts in `contracts/artifacts`), the deployer behind `keel l2 deploy` and its
//! deployment file, and a launcher for a local anvil (tests and `keel l2 --dev`).
//!
//! It owns no L2 state: the sequencer components use it to read and write L1.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod anvil;
pub mod attestation;
pub mod batch_history;
pub mod beacon;
pub mod client;
pub mod contracts;
pub mod deploy;
pub mod dev_wallet;
pub mod fault;
pub mod sender;
pub mod timelock;

pub use anvil::{Anvil, AnvilConfig, AnvilError, find_anvil};
pub use attestation::attest;
pub use batch_history::{BatchHistoryError, CommittedBatch, committed_batches};
pub use beacon::{BeaconError, BlobFetcher};
pub use client::{L1Client, L1ClientConfig, L1ClientError, L1ReadBound, L1ReadPosition};
pub use deploy::{DeployConfig, DeployError, DeployOutcome, Deployment, deploy};
pub use dev_wallet::{dev_committer_signer, dev_signer, dev_wallet_provider};
pub use timelock::{OperationState, OperationStatus, TimelockCall, TimelockError};
