//! The execution witness of a range of blocks (docs/prover.md, The execution witness): everything a
//! stateless executor needs besides the blocks themselves, in the shape geth's
//! `debug_executionWitness` returns.
//!
//! - `state`: the RLP of every trie node (account trie and storage tries) that executing the
//!   blocks and computing their state roots reads from the state before the first block. Nodes
//!   the blocks create themselves are left out: the executor derives them.
//! - `codes`: every bytecode the blocks execute or read that existed before the first block.
//! - `keys`: the preimages of the trie keys read (20-byte addresses, 32-byte slots); informative,
//!   for outside tools; keel's prover does not need them.
//! - `headers`: RLP headers, the parent of the first block first, then its ancestors as far back
//!   as the blocks' `BLOCKHASH` reads go.
//!
//! Every entry is authenticated by its hash (nodes and codes by keccak of their bytes, headers by
//! the parent chain from the first block), so a witness can only be incomplete, never wrong
//! without the executor noticing.

use alloy_primitives::Bytes;
use serde::{Deserialize, Serialize};

/// See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionWitness {
    pub state: Vec<Bytes>,
    pub codes: Vec<Bytes>,
    pub keys: Vec<Bytes>,
    pub headers: Vec<Bytes>,
}

impl ExecutionWitness {
    /// Total bytes of nodes, codes, keys and headers.
    pub fn byte_len(&self) -> usize {
        [&self.state, &self.codes, &self.keys, &self.headers]
            .iter()
            .flat_map(|list| list.iter())
            .map(|b| b.len())
            .sum()
    }
}
