//! Files of concatenated RLP blocks, the format of `geth import`/`geth export`.

use std::io::{ErrorKind, Read};

use alloy_rlp::{Decodable, Encodable};
use keel_types::Block;

/// Largest block accepted from a file (a bound on what a corrupt length prefix can make us
/// allocate). Far above any block a 2^63 gas limit chain could carry in practice.
pub const MAX_BLOCK_BYTES: usize = 256 << 20;

/// A block in a file couldn't be read or decoded.
#[derive(Debug, thiserror::Error)]
#[error("block #{index} at byte {offset}: {kind}")]
pub struct RlpFileError {
    /// Position of the block in the file, from 0.
    pub index: usize,
    pub offset: u64,
    pub kind: RlpFileErrorKind,
}

/// What was wrong with a block in a file.
#[derive(Debug, thiserror::Error)]
pub enum RlpFileErrorKind {
    #[error("malformed RLP: {0}")]
    Rlp(alloy_rlp::Error),
    #[error("block of {0} bytes exceeds the limit of {MAX_BLOCK_BYTES} bytes")]
    TooLarge(u64),
    #[error("read failed: {0}")]
    Io(std::io::Error),
}

/// Iterate the blocks of a concatenated-RLP stream, reading and decoding one at a time, so a file
/// of any size is imported in constant memory. Stops after the first error.
pub struct RlpBlocks<R> {
    reader: R,
    offset: u64,
    index: usize,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> RlpBlocks<R> {
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            offset: 0,
            index: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    /// Read one RLP list item (header and payload) into `self.buf`; `Ok(false)` at a clean end.
    fn read_item(&mut self) -> Result<bool, RlpFileErrorKind> {
        self.buf.clear();
        let mut first = [0u8; 1];
        match self.reader.read_exact(&mut first) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(RlpFileErrorKind::Io(e)),
        }
        self.buf.push(first[0]);
        let payload_len = match first[0] {
            b @ 0xc0..=0xf7 => u64::from(b - 0xc0),
            b @ 0xf8..=0xff => {
                let len_of_len = usize::from(b - 0xf7);
                let mut len = [0u8; 8];
                self.read_exact_into(&mut len[8 - len_of_len..])?;
                self.buf.extend_from_slice(&len[8 - len_of_len..]);
                u64::from_be_bytes(len)
            }
            _ => return Err(RlpFileErrorKind::Rlp(alloy_rlp::Error::UnexpectedString)),
        };
        if payload_len > MAX_BLOCK_BYTES as u64 {
            return Err(RlpFileErrorKind::TooLarge(payload_len));
        }
        let start = self.buf.len();
        self.buf.resize(start + payload_len as usize, 0);
        let (_, payload) = self.buf.split_at_mut(start);
        read_exact(&mut self.reader, payload)?;
        Ok(true)
    }

    fn read_exact_into(&mut self, out: &mut [u8]) -> Result<(), RlpFileErrorKind> {
        read_exact(&mut self.reader, out)
    }
}

/// `read_exact` where a short read is malformed RLP (the item said it was longer).
fn read_exact(reader: &mut impl Read, out: &mut [u8]) -> Result<(), RlpFileErrorKind> {
    reader.read_exact(out).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => RlpFileErrorKind::Rlp(alloy_rlp::Error::InputTooShort),
        _ => RlpFileErrorKind::Io(e),
    })
}

impl<R: Read> Iterator for RlpBlocks<R> {
    type Item = Result<Block, RlpFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.read_item().and_then(|more| {
            if !more {
                return Ok(None);
            }
            let mut item = self.buf.as_slice();
            let block = Block::decode(&mut item).map_err(RlpFileErrorKind::Rlp)?;
            if !item.is_empty() {
                return Err(RlpFileErrorKind::Rlp(alloy_rlp::Error::UnexpectedLength));
            }
            Ok(Some(block))
        });
        match result {
            Ok(Some(block)) => {
                self.offset += self.buf.len() as u64;
                self.index += 1;
                Some(Ok(block))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(kind) => {
                self.done = true;
                Some(Err(RlpFileError {
                    index: self.index,
                    offset: self.offset,
                    kind,
                }))
            }
        }
    }
}

/// Decode a single block that must span the whole input.
pub fn decode_block(bytes: &[u8]) -> Result<Block, RlpFileError> {
    let mut blocks = RlpBlocks::new(bytes);
    let block = blocks.next().unwrap_or(Err(RlpFileError {
        index: 0,
        offset: 0,
        kind: RlpFileErrorKind::Rlp(alloy_rlp::Error::InputTooShort),
    }))?;
    if blocks.offset != bytes.len() as u64 {
        return Err(RlpFileError {
            index: 1,
            offset: blocks.offset,
            kind: RlpFileErrorKind::Rlp(alloy_rlp::Error::UnexpectedLength),
        });
    }
    Ok(block)
}

/// Append a block's RLP to `out`.
pub fn encode_block(block: &Block, out: &mut Vec<u8>) {
    block.encode(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64) -> Block {
        let mut b = Block::default();
        b.header.number = number;
        b
    }

    #[test]
    fn reads_blocks_back_in_order() {
        let mut data = Vec::new();
        for n in 0..5 {
            encode_block(&block(n), &mut data);
        }
        let numbers: Vec<u64> = RlpBlocks::new(data.as_slice())
            .map(|b| b.unwrap().header.number)
            .collect();
        assert_eq!(numbers, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn truncated_block_is_an_error_after_the_whole_ones() {
        let mut data = Vec::new();
        encode_block(&block(1), &mut data);
        let first_len = data.len() as u64;
        encode_block(&block(2), &mut data);
        data.pop();
        let results: Vec<_> = RlpBlocks::new(data.as_slice()).collect();
        assert_eq!(results.len(), 2);
        assert!(results[0].is_ok());
        let err = results[1].as_ref().unwrap_err();
        assert_eq!((err.index, err.offset), (1, first_len));
        assert!(matches!(
            err.kind,
            RlpFileErrorKind::Rlp(alloy_rlp::Error::InputTooShort)
        ));
    }

    #[test]
    fn absurd_length_prefix_is_refused_without_allocating() {
        // A list header claiming 2^56 bytes of payload.
        let data = [0xff, 1, 0, 0, 0, 0, 0, 0, 0];
        let err = RlpBlocks::new(&data[..]).next().unwrap().unwrap_err();
        assert!(matches!(err.kind, RlpFileErrorKind::TooLarge(_)));
    }

    #[test]
    fn a_string_is_not_a_block() {
        let err = RlpBlocks::new(&[0x83, b'a', b'b', b'c'][..])
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("malformed RLP"), "{err}");
    }
}
