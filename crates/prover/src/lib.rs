//! keel-prover: the stateless batch program and the prover side of proving (docs/prover.md).
//!
//! - [`ProverInput`]: what a prover gets for one batch (the blocks, the execution witness, the
//!   blob, the chain config), in a compact binary encoding.
//! - [`prove_batch`]: the **pure** program. It rebuilds partial tries from the witness, checks
//!   them against the batch's initial state root, executes every block with the executor the
//!   sequencer uses, checks every header, recomputes the withdrawals root, the privileged rolling
//!   hash and the state diff, checks the blob against that diff and the committed versioned hash,
//!   and outputs the batch's [`PublicInputs`]. No I/O.
//! - [`ProverBackend`]: how a proof is made from the program's result; [`ExecBackend`] runs the
//!   program and signs the EIP-712 attestation digest that the L1 AttestationVerifier checks.
//!
//! - [`protocol`] and [`client`]: the coordinator ⇄ prover protocol over TCP and the loop of
//!   `keel l2 prover`. These two modules do I/O (tokio); the program never uses them.
//!
//! It depends on types, trie, state and evm only: never on the store, the RPC or the sequencer.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

mod backend;
pub mod client;
mod input;
mod program;
pub mod protocol;
mod witness_state;

pub use backend::{BackendError, BackendKind, ExecBackend, Proof, ProverBackend};
pub use client::{ClientError, ClientStats, ProverClient, ProverClientConfig, SessionError};
pub use input::{InputError, ProverInput};
pub use program::{ProgramError, prove_batch, warm_up};
pub use witness_state::{WitnessReadError, WitnessState};

pub use keel_types::PublicInputs;
