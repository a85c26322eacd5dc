//! keel-bench: a deterministic chain generator (funded accounts, signed ETH and ERC20 transfers,
//! blocks built by keel's own payload builder), the benchmarks that import such chains, the L1
//! gas of keel's L1 contracts (`l1_gas`), the stateless prover against the sequencer (`prove_bench`), the L1 → L2 deposit pipeline (`deposits`), and how many
//! transfers one blob holds (`da`).
//!
//! Test and benchmark tooling only: nothing in the node depends on it.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod chaingen;
pub mod da;
pub mod deposits;
pub mod grow_bench;
pub mod l1_gas;
pub mod produce_bench;
pub mod prove_bench;
pub mod trace_bench;
pub mod trie_bench;
