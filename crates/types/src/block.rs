//! Block, transaction and receipt types of a keel chain.

use alloy_primitives::{B256, Sealable};

pub use crate::envelope::{Receipt, Transaction};

/// A full block: header plus body.
pub type Block = alloy_consensus::Block<Transaction>;
/// A block body: transactions, ommers (always empty post-merge) and withdrawals.
pub type BlockBody = alloy_consensus::BlockBody<Transaction>;

/// A header together with its hash, computed once.
pub type SealedHeader = alloy_consensus::Sealed<alloy_consensus::Header>;

/// Hash a header and keep the hash next to it.
pub fn seal_header(header: alloy_consensus::Header) -> SealedHeader {
    header.seal_slow()
}

/// Hash of a header (keccak256 of its RLP).
pub fn header_hash(header: &alloy_consensus::Header) -> B256 {
    header.hash_slow()
}
