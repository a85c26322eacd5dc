//! keel-evm: runs blocks on revm. It owns the adapter that lets revm read keel's state
//! ([`StoreDb`]), the mapping from keel's [`ChainSpec`] to revm's fork rules ([`EvmSpec`]), and the
//! block executor ([`execute_block`]) built on alloy-evm's Ethereum executor: system calls
//! (EIP-4788, EIP-2935), transactions, withdrawals and EIP-7685 requests.
//!
//! It also owns the rules every executor of keel blocks applies the same way, the node importing
//! a block and the stateless prover re-executing a batch: the consensus checks of a header
//! against its parent and of an outcome against its header ([`validate_header`],
//! [`validate_outcome`]), and the new state root from a block's changes
//! ([`compute_state_update`], over any [`keel_trie::NodeStore`]).
//!
//! It must not write to the store: it returns what happened (receipts, gas, the state changes as
//! a revm `BundleState`, the new trie nodes) and the caller decides.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod batch_diff;
mod call;
mod db;
pub mod diff_budget;
mod executor;
mod fees;
mod spec;
mod state_update;
mod trace;
mod validation;

pub use call::{
    AccessListInspector, AccessListOutcome, CallResult, EstimateError, call_env,
    create_access_list, estimate_gas, next_block_call_env, transact,
};
pub use db::{StoreDb, StoreDbError};
pub use diff_budget::DiffSizeBound;
pub use executor::{
    BlockReplay, BuiltBlock, ExecutionError, ExecutionOutcome, MAX_PRIVILEGED_TX_DIFF_BYTES,
    PRIVILEGED_DIFF_ROOM, SkipReason, TraceError, TracedTx, TxSource, build_block, execute_block,
    trace_block,
};
pub use fees::block_fee_params;
pub use spec::{EvmSpec, intrinsic_gas, spec_id_at};
pub use state_update::{StateUpdate, compute_state_update};
pub use trace::{Deadline, inspect_call};
// Defined in keel-trie so the storage crate can apply it without depending on execution.
pub use keel_trie::{TrieDiff, TrieWrites};
pub use validation::{BlockError, logs_bloom, validate_body, validate_header, validate_outcome};

pub use revm::database::{BundleAccount, BundleState};
pub use revm::state::EvmState;
