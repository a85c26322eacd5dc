//! Turning block tags, numbers and hashes from requests into blocks of the store.

use alloy_primitives::B256;
use alloy_rpc_types_eth::{BlockId, BlockNumberOrTag};
use keel_storage::{ChainReader, StoreError};
use keel_types::Header;

use crate::error::{RpcError, RpcResult};

/// Number and hash of the canonical block a tag or number names, or `None` if there is none
/// (a number past the head). `latest`, `pending`, `safe` and `finalized` are the head: the
/// pending block is not sealed (state reads at `pending` lay its preconfirmed transactions over
/// the head, see `eth_state`), and L1 finality of L2 blocks is not tracked yet.
pub fn resolve_number(
    reader: &impl ChainReader<Error = StoreError>,
    tag: BlockNumberOrTag,
) -> RpcResult<Option<(u64, B256)>> {
    let number = match tag {
        BlockNumberOrTag::Number(n) => n,
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Latest
        | BlockNumberOrTag::Pending
        | BlockNumberOrTag::Safe
        | BlockNumberOrTag::Finalized => {
            let (hash, header) = reader
                .head()?
                .ok_or_else(|| RpcError::Internal("no head block".into()))?;
            return Ok(Some((header.number, hash)));
        }
    };
    Ok(reader.canonical_hash(number)?.map(|hash| (number, hash)))
}

/// The header a block id names, with its hash, or `None` if unknown. A hash with
/// `requireCanonical` must be on the canonical chain.
pub fn resolve_header(
    reader: &impl ChainReader<Error = StoreError>,
    id: BlockId,
) -> RpcResult<Option<(B256, Header)>> {
    let hash = match id {
        // The head's header is read once per snapshot.
        BlockId::Number(
            BlockNumberOrTag::Latest
            | BlockNumberOrTag::Pending
            | BlockNumberOrTag::Safe
            | BlockNumberOrTag::Finalized,
        ) => return reader.head().map_err(Into::into),
        BlockId::Number(tag) => match resolve_number(reader, tag)? {
            Some((_, hash)) => hash,
            None => return Ok(None),
        },
        BlockId::Hash(h) => {
            if h.require_canonical == Some(true) {
                let number = reader.block_number(&h.block_hash)?;
                let canonical = match number {
                    Some(n) => reader.canonical_hash(n)?,
                    None => None,
                };
                if canonical != Some(h.block_hash) {
                    return Err(RpcError::server(format!(
                        "block {} is not canonical",
                        h.block_hash
                    )));
                }
            }
            h.block_hash
        }
    };
    Ok(reader.header(&hash)?.map(|header| (hash, header)))
}

/// Like [`resolve_header`], but a missing block is geth's "header not found" error.
pub fn require_header(
    reader: &impl ChainReader<Error = StoreError>,
    id: BlockId,
) -> RpcResult<(B256, Header)> {
    resolve_header(reader, id)?.ok_or_else(|| RpcError::server("header not found"))
}
