//! Targets for the binary codecs: transactions (every type, `0x7e` included), blocks, the RLP
//! block file, state diffs (every version), blobs and blob payloads.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_rlp::{Decodable, Encodable};
use keel_chain::rlp_file::{RlpBlocks, decode_block, encode_block};
use keel_types::{
    StateDiff, Transaction,
    blob::{BYTES_PER_BLOB, decode_state_diff_payload, pack_blob, unpack_blob},
    state_diff::DiffVersion,
};

/// The most blocks one `block_file` input is read for (a file of empty blocks is tiny).
const MAX_FILE_BLOCKS: usize = 64;

/// A transaction in both forms the node receives it: the EIP-2718 form of
/// `eth_sendRawTransaction` and the RLP item of a block body. Whatever decodes must re-encode to
/// exactly the bytes it came from (both codecs are canonical), and its sender must be
/// recoverable or refused without a panic.
pub fn tx(data: &[u8]) {
    let mut buf = data;
    if let Ok(tx) = Transaction::decode_2718(&mut buf) {
        let used = &data[..data.len() - buf.len()];
        assert_eq!(tx.encoded_2718(), used, "2718 round trip");
        let again = Transaction::decode_2718(&mut tx.encoded_2718().as_slice());
        assert_eq!(again.ok().as_ref(), Some(&tx), "2718 re-decode");
        let _ = tx.recover_signer();
    }
    let mut buf = data;
    if let Ok(tx) = Transaction::decode(&mut buf) {
        let used = &data[..data.len() - buf.len()];
        let mut out = Vec::with_capacity(tx.length());
        tx.encode(&mut out);
        assert_eq!(out, used, "network-form round trip");
    }
}

/// A block as `keel import` and the prover read it (`decode_block`: one block spanning the
/// input); what decodes re-encodes to the same bytes, and its header hashes.
pub fn block(data: &[u8]) {
    if let Ok(block) = decode_block(data) {
        let mut out = Vec::with_capacity(data.len());
        encode_block(&block, &mut out);
        assert_eq!(out, data, "block round trip");
        let _ = block.header.hash_slow();
        for tx in &block.body.transactions {
            let _ = tx.recover_signer();
        }
    }
}

/// A file of concatenated blocks, read the way `keel import` reads it: every block the reader
/// yields before its first error re-encodes to the bytes it was read from, in order.
pub fn block_file(data: &[u8]) {
    let mut offset = 0;
    for item in RlpBlocks::new(data).take(MAX_FILE_BLOCKS) {
        let Ok(block) = item else { break };
        let mut out = Vec::new();
        encode_block(&block, &mut out);
        let end = offset + out.len();
        assert!(end <= data.len(), "block {offset}..{end} past the input");
        assert_eq!(out, &data[offset..end], "block at {offset} round trip");
        offset = end;
    }
}

/// A state diff of any version (what a blob carries and `keel reconstruct` reads from L1): what
/// decodes re-encodes in its version to exactly the input, and passes its own order check.
pub fn state_diff(data: &[u8]) {
    if let Ok((diff, version)) = StateDiff::decode_versioned(data) {
        let encoded = diff.encode_as(version);
        assert_eq!(
            encoded.ok().as_deref(),
            Some(data),
            "state diff {version:?} round trip"
        );
        assert_eq!(diff.encoded_len_as(version), data.len(), "encoded length");
        for other in DiffVersion::ALL {
            if let Ok(bytes) = diff.encode_as(other) {
                assert_eq!(
                    StateDiff::decode_versioned(&bytes).ok(),
                    Some((diff.clone(), other)),
                    "state diff re-decoded from {other:?}"
                );
            }
        }
    }
}

/// A blob fetched from L1 (the input is its first bytes, the rest zeros): unpacking either fails
/// or gives a payload that packs back to the same blob; the payload then goes to the diff
/// decoder as `keel reconstruct` does.
pub fn blob(data: &[u8]) {
    let mut blob = vec![0u8; BYTES_PER_BLOB];
    let n = data.len().min(BYTES_PER_BLOB);
    blob[..n].copy_from_slice(&data[..n]);
    let Ok(blob) = <[u8; BYTES_PER_BLOB]>::try_from(blob.as_slice()) else {
        return;
    };
    if let Ok(payload) = unpack_blob(&blob) {
        let packed = pack_blob(&payload);
        assert_eq!(
            packed.ok().as_deref().map(|b| b.as_slice()),
            Some(blob.as_slice()),
            "blob round trip"
        );
        let _ = decode_state_diff_payload(&payload);
    }
}

/// A blob payload (`codec ‖ body`, raw or brotli): decompression is bounded and whatever decodes
/// is a well-ordered diff.
pub fn blob_payload(data: &[u8]) {
    if let Ok(diff) = decode_state_diff_payload(data) {
        assert!(diff.check_order().is_ok(), "decoded diff out of order");
    }
}
