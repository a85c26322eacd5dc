//! Turning block tags, numbers and hashes from requests into blocks of the store: the one
//! resolver every method that takes a block tag goes through (docs/rpc.md, Block tags).

use alloy_primitives::B256;
use alloy_rpc_types_eth::{BlockId, BlockNumberOrTag};
use keel_storage::{ChainReader, StoreReader, settlement::SettlementTag};
use keel_types::Header;

use crate::error::{RpcError, RpcResult};

/// The block number `safe` or `finalized` names in this snapshot, or geth's error before there is
/// one ("safe block not found" / "finalized block not found", -32000, as geth answers before the
/// consensus layer has told it a safe or finalized block). `None` for any other tag or number.
///
/// `safe` is the last block of the newest batch committed on L1 with the committer's
/// confirmations, `finalized` the last block of the newest batch verified on L1 in an L1 block
/// that is final (both kept by the SettlementTracker, `keel_storage::settlement`).
pub fn settled_number(reader: &StoreReader, tag: BlockNumberOrTag) -> RpcResult<Option<u64>> {
    let tag = match tag {
        BlockNumberOrTag::Safe => SettlementTag::Safe,
        BlockNumberOrTag::Finalized => SettlementTag::Finalized,
        _ => return Ok(None),
    };
    match reader.settlement()?.get(tag) {
        Some(settled) => Ok(Some(settled.block)),
        None => Err(not_found(tag)),
    }
}

fn not_found(tag: SettlementTag) -> RpcError {
    RpcError::server(format!("{} block not found", tag.name()))
}

/// Number and hash of the canonical block a tag or number names, or `None` if there is none
/// (a number past the head). `latest` and `pending` are the head (the pending block is not
/// sealed: state reads at `pending` lay its preconfirmed transactions over the head, see
/// `eth_state`); `safe` and `finalized` follow L1 ([`settled_number`]).
pub fn resolve_number(
    reader: &StoreReader,
    tag: BlockNumberOrTag,
) -> RpcResult<Option<(u64, B256)>> {
    let number = match tag {
        BlockNumberOrTag::Number(n) => n,
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized => {
            let number = settled_number(reader, tag)?.unwrap_or_default();
            return match reader.canonical_hash(number)? {
                Some(hash) => Ok(Some((number, hash))),
                // The tag's block is always sealed before L1 hears of it; a store without it
                // (a datadir copied mid-way) has no such block to give.
                None => Err(RpcError::server(format!(
                    "{} block {number} is not in the store",
                    if tag == BlockNumberOrTag::Safe {
                        "safe"
                    } else {
                        "finalized"
                    }
                ))),
            };
        }
        BlockNumberOrTag::Latest | BlockNumberOrTag::Pending => {
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
pub fn resolve_header(reader: &StoreReader, id: BlockId) -> RpcResult<Option<(B256, Header)>> {
    let hash = match id {
        // The head's header is read once per snapshot.
        BlockId::Number(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending) => {
            return reader.head().map_err(Into::into);
        }
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
pub fn require_header(reader: &StoreReader, id: BlockId) -> RpcResult<(B256, Header)> {
    resolve_header(reader, id)?.ok_or_else(|| RpcError::server("header not found"))
}
