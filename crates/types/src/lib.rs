//! keel-types: the data that every other keel crate agrees on — the chain specification built from a
//! geth-style genesis, the genesis block itself, the block/transaction/receipt types of the chain,
//! the dev genesis, and the rollup formats L1 and L2 must agree on byte for byte: privileged
//! transactions and their rolling hash, L1 messages and the withdrawals tree, batch public inputs.
//!
//! This crate does no I/O and holds no state: it only defines types, codecs and pure functions over
//! them, so the sequencer, the prover and the contracts' tooling can all depend on it.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod batch;
pub mod blob;
pub mod block;
pub mod chain_spec;
pub mod dev;
pub mod envelope;
pub mod fees;
pub mod genesis;
pub mod l1_message;
pub mod l2_genesis;
pub mod privileged;
pub mod public_inputs;
pub mod rules;
pub mod state_diff;
pub mod witness;

pub use batch::{Batch, BatchMessage};
pub use blob::{
    BlobError, ChosenPayload, Codec, PayloadSizes, decode_state_diff_payload,
    encode_state_diff_payload, encode_state_diff_payload_as, fits_one_blob, pack_blob,
    smallest_state_diff_payload, unpack_blob,
};
pub use block::{Block, BlockBody, Receipt, SealedHeader, Transaction};
pub use chain_spec::{ChainSpec, ChainSpecError};
pub use fees::{FeeCharge, FeeConfig, FeeParams, FeeScalars, L1Prices};
pub use genesis::{genesis_header, genesis_state_root};
pub use l1_message::{
    L1Message, l1_message_topic, verify_withdrawal_proof, withdrawal_proof, withdrawals_root,
};
pub use l2_genesis::{L2GenesisConfig, L2GenesisError, l2_genesis};
pub use privileged::{PrivilegedTx, apply_l1_alias, privileged_rolling_hash};
pub use public_inputs::{PUBLIC_INPUTS_LEN, PublicInputs};
pub use state_diff::{
    AccountDiff, CodeChange, DiffHeader, DiffVersion, PrivilegedLog, StateDiff, StateDiffError,
    WithdrawalLog,
};

pub use witness::ExecutionWitness;

pub use alloy_consensus::Header;
pub use alloy_genesis::Genesis;
