//! keel-bench: a deterministic chain generator (funded accounts, signed ETH and ERC20 transfers,
//! blocks built by keel's own payload builder) and the benchmarks that import such chains.
//!
//! Test and benchmark tooling only: nothing in the node depends on it.

pub mod chaingen;
pub mod produce_bench;
pub mod trie_bench;
