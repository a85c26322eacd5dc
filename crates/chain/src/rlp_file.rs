//! Files of concatenated RLP blocks, the format of `geth import`/`geth export`.

use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use keel_types::Block;

/// A block in a file couldn't be decoded.
#[derive(Debug, thiserror::Error)]
#[error("block #{index} at byte {offset}: malformed RLP: {reason}")]
pub struct RlpFileError {
    /// Position of the block in the file, from 0.
    pub index: usize,
    pub offset: usize,
    pub reason: alloy_rlp::Error,
}

/// Iterate the blocks of a concatenated-RLP byte string, decoding one at a time so a huge file
/// doesn't need all its blocks in memory at once.
pub struct RlpBlocks<'a> {
    data: &'a [u8],
    offset: usize,
    index: usize,
}

impl<'a> RlpBlocks<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            offset: 0,
            index: 0,
        }
    }
}

impl Iterator for RlpBlocks<'_> {
    type Item = Result<Block, RlpFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.data[self.offset..];
        if rest.is_empty() {
            return None;
        }
        let (index, offset) = (self.index, self.offset);
        let err = |reason| RlpFileError {
            index,
            offset,
            reason,
        };
        // Decode exactly one item: its header says how long it is.
        let mut probe = rest;
        let item_len = match RlpHeader::decode(&mut probe) {
            Ok(h) => (rest.len() - probe.len()) + h.payload_length,
            Err(e) => {
                self.offset = self.data.len();
                return Some(Err(err(e)));
            }
        };
        if item_len > rest.len() {
            self.offset = self.data.len();
            return Some(Err(err(alloy_rlp::Error::InputTooShort)));
        }
        let mut item = &rest[..item_len];
        let result = match Block::decode(&mut item) {
            Ok(_) if !item.is_empty() => Err(err(alloy_rlp::Error::UnexpectedLength)),
            Ok(block) => Ok(block),
            Err(e) => Err(err(e)),
        };
        self.offset += item_len;
        self.index += 1;
        Some(result)
    }
}

/// Decode a single block that must span the whole input.
pub fn decode_block(bytes: &[u8]) -> Result<Block, RlpFileError> {
    let mut blocks = RlpBlocks::new(bytes);
    let block = blocks.next().unwrap_or(Err(RlpFileError {
        index: 0,
        offset: 0,
        reason: alloy_rlp::Error::InputTooShort,
    }))?;
    if blocks.offset != bytes.len() {
        return Err(RlpFileError {
            index: 1,
            offset: blocks.offset,
            reason: alloy_rlp::Error::UnexpectedLength,
        });
    }
    Ok(block)
}

/// Append a block's RLP to `out`.
pub fn encode_block(block: &Block, out: &mut Vec<u8>) {
    block.encode(out);
}
