//! A batch's blob (docs/architecture.md, State diffs and blobs): the blob payload `codec (1 byte) ‖
//! body` and its packing into one EIP-4844 blob.
//!
//! **Payload.** The body encodes the diff as v1 or v2 (its own first byte says which; see
//! [`DiffVersion`]). Codec [`Codec::Raw`] (0): the body is the [`StateDiff`] encoding itself. Codec
//! [`Codec::Brotli`] (1): the body is that encoding compressed with brotli (RFC 7932) — the
//! `brotli` crate, Dropbox's pure-Rust, all-safe-code implementation, picked over zstd because it
//! needs no C toolchain or bindings (this crate is also built into the stateless prover program) and
//! does well on the many small zero-padded integers of a state diff. Compression uses quality
//! [`BROTLI_QUALITY`] (11, the densest: a blob is the batch's dominant L1 cost and a payload is at
//! most a few hundred KiB, so the extra CPU is worth it) and window [`BROTLI_LGWIN`] (22, 4 MiB:
//! larger than any diff that could compress into one blob). Decompression accepts any standard
//! brotli stream (no large-window extension), must consume the whole body, and stops with an error
//! as soon as the output would exceed [`MAX_DECOMPRESSED_LEN`] (16 MiB), so a malicious blob cannot
//! blow up memory. Compressed bytes are not canonical (another encoder may produce other bytes);
//! the decoded state diff is. [`smallest_state_diff_payload`] picks the smallest of the four
//! version × codec payloads (brotli runs twice); [`fits_one_blob`] answers whether a diff fits,
//! compressing only when the raw v2 payload does not.
//!
//! **Packing.** A blob is 4096 field elements of 32 bytes. Each 32-byte chunk is a `0x00` byte
//! followed by 31 data bytes (so every element is below the BLS12-381 modulus), giving a data
//! stream of 4096 × 31 = 126 976 bytes. The packing does not say how the payload length is
//! recovered; keel puts it first in that stream: **`len u32 (big-endian) ‖ payload ‖ zero
//! padding`**. So the largest payload is [`MAX_BLOB_PAYLOAD`] = 126 976 − 4 = 126 972 bytes.
//! Unpacking rejects a chunk whose first byte is not zero, a length above that maximum, and a
//! nonzero byte in the padding after the payload, so one payload has exactly one blob.

use crate::state_diff::{DiffVersion, StateDiff, StateDiffError};
use brotli::enc::BrotliEncoderParams;
use brotli::{BrotliDecompressStream, BrotliResult, BrotliState, HeapAlloc, HuffmanCode};

/// Field elements in a blob.
pub const FIELD_ELEMENTS_PER_BLOB: usize = 4096;
/// Bytes in a field element.
pub const BYTES_PER_FIELD_ELEMENT: usize = 32;
/// Bytes in a blob.
pub const BYTES_PER_BLOB: usize = FIELD_ELEMENTS_PER_BLOB * BYTES_PER_FIELD_ELEMENT;
/// Data bytes per field element: all but the leading `0x00`.
pub const DATA_BYTES_PER_FIELD_ELEMENT: usize = BYTES_PER_FIELD_ELEMENT - 1;
/// Data bytes in a blob.
pub const DATA_BYTES_PER_BLOB: usize = FIELD_ELEMENTS_PER_BLOB * DATA_BYTES_PER_FIELD_ELEMENT;
/// Bytes of the big-endian `u32` payload length at the start of the data stream.
pub const PAYLOAD_LEN_PREFIX: usize = 4;
/// Bytes of the codec byte that starts a payload.
pub const CODEC_LEN: usize = 1;
/// The largest payload one blob holds.
pub const MAX_BLOB_PAYLOAD: usize = DATA_BYTES_PER_BLOB - PAYLOAD_LEN_PREFIX;
/// The largest state diff encoding a compressed payload may decompress to.
pub const MAX_DECOMPRESSED_LEN: usize = 16 << 20;
/// Brotli quality for codec 1 (0–11). 9, not 11: on a full blob of transfers 11 takes seconds
/// per encoding (the sealer compresses twice per batch, and when a batch nears a blob, once per
/// block) where 9 takes tens of milliseconds, for payloads within 0.1% (docs/committer.md).
/// Decoders accept any quality.
pub const BROTLI_QUALITY: i32 = 9;
/// Brotli window for codec 1, as log2 of its size in bytes (22 = 4 MiB).
pub const BROTLI_LGWIN: i32 = 22;

/// A packed blob.
pub type BlobBytes = Box<[u8; BYTES_PER_BLOB]>;

/// How a blob payload's body encodes the state diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// The state diff encoding as is.
    Raw = 0,
    /// The state diff encoding compressed with brotli.
    Brotli = 1,
}

impl TryFrom<u8> for Codec {
    type Error = BlobError;

    fn try_from(byte: u8) -> Result<Self, BlobError> {
        match byte {
            0 => Ok(Self::Raw),
            1 => Ok(Self::Brotli),
            other => Err(BlobError::UnknownCodec(other)),
        }
    }
}

/// Errors packing, unpacking, encoding or decoding a blob payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("payload of {len} bytes does not fit a blob (at most {MAX_BLOB_PAYLOAD})")]
    PayloadTooLarge { len: usize },
    #[error("field element {index} does not start with a zero byte")]
    NonZeroHighByte { index: usize },
    #[error("blob declares a payload of {len} bytes (at most {MAX_BLOB_PAYLOAD})")]
    BadLength { len: u32 },
    #[error("nonzero byte in the blob's padding at data offset {offset}")]
    NonZeroPadding { offset: usize },
    #[error("empty blob payload (no codec byte)")]
    EmptyPayload,
    #[error("unknown blob payload codec {0}")]
    UnknownCodec(u8),
    #[error("brotli compression failed: {0}")]
    Compression(String),
    #[error("invalid brotli stream")]
    InvalidCompressed,
    #[error("truncated brotli stream")]
    TruncatedCompressed,
    #[error("{0} bytes after the end of the brotli stream")]
    TrailingCompressed(usize),
    #[error("compressed state diff decompresses to more than {MAX_DECOMPRESSED_LEN} bytes")]
    DecompressedTooLarge,
    #[error(transparent)]
    StateDiff(#[from] StateDiffError),
}

/// Packs `payload` into one blob: `len u32 ‖ payload ‖ zeros` spread 31 bytes per field element
/// after a `0x00` byte.
pub fn pack_blob(payload: &[u8]) -> Result<BlobBytes, BlobError> {
    if payload.len() > MAX_BLOB_PAYLOAD {
        return Err(BlobError::PayloadTooLarge { len: payload.len() });
    }
    let len = u32::try_from(payload.len())
        .map_err(|_| BlobError::PayloadTooLarge { len: payload.len() })?;
    let mut stream = Vec::with_capacity(PAYLOAD_LEN_PREFIX + payload.len());
    stream.extend_from_slice(&len.to_be_bytes());
    stream.extend_from_slice(payload);

    let mut blob: BlobBytes = vec![0u8; BYTES_PER_BLOB]
        .into_boxed_slice()
        .try_into()
        .expect("a vector of BYTES_PER_BLOB bytes");
    for (element, data) in blob
        .chunks_exact_mut(BYTES_PER_FIELD_ELEMENT)
        .zip(stream.chunks(DATA_BYTES_PER_FIELD_ELEMENT))
    {
        element[1..1 + data.len()].copy_from_slice(data);
    }
    Ok(blob)
}

/// Recovers the payload [`pack_blob`] packed, rejecting any blob it could not have produced.
pub fn unpack_blob(blob: &[u8; BYTES_PER_BLOB]) -> Result<Vec<u8>, BlobError> {
    let mut stream = Vec::with_capacity(DATA_BYTES_PER_BLOB);
    for (index, element) in blob.chunks_exact(BYTES_PER_FIELD_ELEMENT).enumerate() {
        if element[0] != 0 {
            return Err(BlobError::NonZeroHighByte { index });
        }
        stream.extend_from_slice(&element[1..]);
    }
    let (prefix, rest) = stream.split_at(PAYLOAD_LEN_PREFIX);
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let Some(payload_len) = usize::try_from(len).ok().filter(|&l| l <= MAX_BLOB_PAYLOAD) else {
        return Err(BlobError::BadLength { len });
    };
    let (payload, padding) = rest.split_at(payload_len);
    if let Some(i) = padding.iter().position(|&b| b != 0) {
        return Err(BlobError::NonZeroPadding {
            offset: PAYLOAD_LEN_PREFIX + payload_len + i,
        });
    }
    Ok(payload.to_vec())
}

/// The blob payload of `diff` encoded as v1: `codec ‖ body`. Fails only if the diff does not
/// encode (see [`StateDiff::encode`]).
pub fn encode_state_diff_payload(diff: &StateDiff, codec: Codec) -> Result<Vec<u8>, BlobError> {
    encode_state_diff_payload_as(diff, DiffVersion::V1, codec)
}

/// The blob payload of `diff` encoded as `version`: `codec ‖ body`. Fails only if the diff does
/// not encode in that version (see [`StateDiff::encode_as`]).
pub fn encode_state_diff_payload_as(
    diff: &StateDiff,
    version: DiffVersion,
    codec: Codec,
) -> Result<Vec<u8>, BlobError> {
    payload_of(&diff.encode_as(version)?, codec)
}

/// `codec ‖ body` for an encoded diff.
fn payload_of(encoded: &[u8], codec: Codec) -> Result<Vec<u8>, BlobError> {
    match codec {
        Codec::Raw => {
            let mut out = Vec::with_capacity(1 + encoded.len());
            out.push(Codec::Raw as u8);
            out.extend_from_slice(encoded);
            Ok(out)
        }
        Codec::Brotli => {
            let mut out = vec![Codec::Brotli as u8];
            let params = BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: BROTLI_LGWIN,
                size_hint: encoded.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &encoded[..], &mut out, &params)
                .map_err(|e| BlobError::Compression(e.to_string()))?;
            Ok(out)
        }
    }
}

/// The sizes of the four candidate payloads of a diff, codec byte included (for logs and
/// benchmarks). v1's are `None` when v1 cannot hold the diff (a count, length or nonce increase
/// above its u16 fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadSizes {
    pub v1_raw: Option<usize>,
    pub v1_brotli: Option<usize>,
    pub v2_raw: usize,
    pub v2_brotli: usize,
}

impl PayloadSizes {
    /// The size of one candidate (`None` if v1 cannot hold the diff).
    pub fn get(&self, version: DiffVersion, codec: Codec) -> Option<usize> {
        match (version, codec) {
            (DiffVersion::V1, Codec::Raw) => self.v1_raw,
            (DiffVersion::V1, Codec::Brotli) => self.v1_brotli,
            (DiffVersion::V2, Codec::Raw) => Some(self.v2_raw),
            (DiffVersion::V2, Codec::Brotli) => Some(self.v2_brotli),
        }
    }
}

/// The payload [`smallest_state_diff_payload`] chose, with what it was chosen from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenPayload {
    /// `codec ‖ body`, ready for [`pack_blob`].
    pub payload: Vec<u8>,
    pub version: DiffVersion,
    pub codec: Codec,
    /// All four candidates' sizes; `payload.len()` is the smallest of them.
    pub sizes: PayloadSizes,
}

/// The smallest blob payload of `diff` among v1 and v2, each raw and brotli-compressed (brotli
/// runs exactly twice, once per version; once if v1 cannot hold the diff). On equal sizes raw
/// beats brotli (cheaper to decode) and v2 beats v1. Fails only if the diff is not in canonical
/// order (see [`StateDiff::check_order`]); the payload may still be too large for one blob.
pub fn smallest_state_diff_payload(diff: &StateDiff) -> Result<ChosenPayload, BlobError> {
    let v2 = diff.encode_v2()?;
    // v2 encoded, so the order is right and a v1 failure can only be one of its u16 limits.
    let v1 = diff.encode().ok();
    let v2_brotli = payload_of(&v2, Codec::Brotli)?;
    let v1_brotli = v1
        .as_deref()
        .map(|v1| payload_of(v1, Codec::Brotli))
        .transpose()?;
    let sizes = PayloadSizes {
        v1_raw: v1.as_ref().map(|v1| 1 + v1.len()),
        v1_brotli: v1_brotli.as_ref().map(Vec::len),
        v2_raw: 1 + v2.len(),
        v2_brotli: v2_brotli.len(),
    };
    // Candidates in order of preference on equal size (`min_by_key` keeps the first minimum).
    let preference = [
        (DiffVersion::V2, Codec::Raw),
        (DiffVersion::V1, Codec::Raw),
        (DiffVersion::V2, Codec::Brotli),
        (DiffVersion::V1, Codec::Brotli),
    ];
    let (version, codec, _) = preference
        .into_iter()
        .filter_map(|(version, codec)| Some((version, codec, sizes.get(version, codec)?)))
        .min_by_key(|&(_, _, size)| size)
        .unwrap_or((DiffVersion::V2, Codec::Raw, sizes.v2_raw));
    let payload = match (version, codec) {
        (DiffVersion::V2, Codec::Brotli) => v2_brotli,
        (DiffVersion::V1, Codec::Brotli) => v1_brotli.unwrap_or_default(),
        (DiffVersion::V2, Codec::Raw) => payload_of(&v2, Codec::Raw)?,
        (DiffVersion::V1, Codec::Raw) => payload_of(v1.as_deref().unwrap_or_default(), Codec::Raw)?,
    };
    Ok(ChosenPayload {
        payload,
        version,
        codec,
        sizes,
    })
}

/// Whether [`smallest_state_diff_payload`] of `diff` fits one blob (at most
/// [`MAX_BLOB_PAYLOAD`] bytes), for the batch sealer. Cheap when the raw v2 payload fits (its
/// length is computed without encoding); otherwise compresses, v2 first, and v1 only if v2 does
/// not fit compressed either. Fails only if the diff is not in canonical order.
pub fn fits_one_blob(diff: &StateDiff) -> Result<bool, BlobError> {
    diff.check_order()?;
    if raw_payload_fits(diff.encoded_len_v2()) {
        return Ok(true);
    }
    // Raw v1 rarely beats raw v2, but it can (full-width slots, huge header integers).
    if raw_payload_fits(diff.encoded_len()) && diff.encode().is_ok() {
        return Ok(true);
    }
    if payload_of(&diff.encode_v2()?, Codec::Brotli)?.len() <= MAX_BLOB_PAYLOAD {
        return Ok(true);
    }
    match diff.encode() {
        Ok(v1) => Ok(payload_of(&v1, Codec::Brotli)?.len() <= MAX_BLOB_PAYLOAD),
        // v1 cannot hold the diff (a u16 limit): v2 was the only candidate.
        Err(_) => Ok(false),
    }
}

/// Whether a raw payload (codec byte and a diff encoding of `encoded_len` bytes) fits a blob.
fn raw_payload_fits(encoded_len: usize) -> bool {
    encoded_len + CODEC_LEN <= MAX_BLOB_PAYLOAD
}

/// Decodes a blob payload (`codec ‖ body`, the body a v1 or v2 diff) back to its state diff.
pub fn decode_state_diff_payload(payload: &[u8]) -> Result<StateDiff, BlobError> {
    let (&codec, body) = payload.split_first().ok_or(BlobError::EmptyPayload)?;
    match Codec::try_from(codec)? {
        Codec::Raw => Ok(StateDiff::decode(body)?),
        Codec::Brotli => Ok(StateDiff::decode(&brotli_decompress_bounded(
            body,
            MAX_DECOMPRESSED_LEN,
        )?)?),
    }
}

/// Decompresses one whole brotli stream (standard windows only), failing as soon as the output
/// would pass `max` bytes, and if the stream ends before the input does.
fn brotli_decompress_bounded(input: &[u8], max: usize) -> Result<Vec<u8>, BlobError> {
    let mut state = BrotliState::new_strict(
        HeapAlloc::<u8>::new(0),
        HeapAlloc::<u32>::new(0),
        HeapAlloc::<HuffmanCode>::new(HuffmanCode::default()),
    );
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut available_in = input.len();
    let mut input_offset = 0;
    let mut total_out = 0;
    loop {
        let mut available_out = chunk.len();
        let mut output_offset = 0;
        let result = BrotliDecompressStream(
            &mut available_in,
            &mut input_offset,
            input,
            &mut available_out,
            &mut output_offset,
            &mut chunk,
            &mut total_out,
            &mut state,
        );
        if out.len() + output_offset > max {
            return Err(BlobError::DecompressedTooLarge);
        }
        out.extend_from_slice(&chunk[..output_offset]);
        match result {
            BrotliResult::NeedsMoreOutput => continue,
            BrotliResult::ResultSuccess if available_in == 0 => return Ok(out),
            BrotliResult::ResultSuccess => return Err(BlobError::TrailingCompressed(available_in)),
            BrotliResult::NeedsMoreInput => return Err(BlobError::TruncatedCompressed),
            BrotliResult::ResultFailure => return Err(BlobError::InvalidCompressed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_diff::tests::{arb_state_diff, arb_state_diff_wide};
    use crate::state_diff::{AccountDiff, DiffHeader};
    use alloy_primitives::{Address, B256, U256};
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use std::collections::BTreeMap;

    const ALL_FORMATS: [(DiffVersion, Codec); 4] = [
        (DiffVersion::V1, Codec::Raw),
        (DiffVersion::V1, Codec::Brotli),
        (DiffVersion::V2, Codec::Raw),
        (DiffVersion::V2, Codec::Brotli),
    ];

    /// Deterministic filler (splitmix64), so large payloads cost nothing to generate or shrink.
    fn filler(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    }

    #[test]
    fn constants_match_eip4844() {
        use alloy_eips::eip4844;
        assert_eq!(BYTES_PER_BLOB, eip4844::BYTES_PER_BLOB);
        assert_eq!(
            FIELD_ELEMENTS_PER_BLOB as u64,
            eip4844::FIELD_ELEMENTS_PER_BLOB
        );
        assert_eq!(MAX_BLOB_PAYLOAD, 126_972);
    }

    #[test]
    fn golden_small_blob() {
        let payload: Vec<u8> = (1..=40).collect();
        let blob = pack_blob(&payload).unwrap();
        // Element 0: 0x00, the length 40 as u32, then payload bytes 1..=27.
        let mut first = vec![0x00, 0x00, 0x00, 0x00, 0x28];
        first.extend(1..=27u8);
        assert_eq!(&blob[..32], first.as_slice());
        // Element 1: 0x00, payload bytes 28..=40, then zeros.
        let mut second = vec![0x00];
        second.extend(28..=40u8);
        second.resize(32, 0);
        assert_eq!(&blob[32..64], second.as_slice());
        assert!(blob[64..].iter().all(|&b| b == 0));
        assert_eq!(unpack_blob(&blob).unwrap(), payload);
    }

    #[test]
    fn edge_lengths_round_trip() {
        for len in [
            0,
            1,
            26,
            27,
            28,
            58,
            59,
            1000,
            MAX_BLOB_PAYLOAD - 1,
            MAX_BLOB_PAYLOAD,
        ] {
            let payload = filler(len, len as u64);
            let blob = pack_blob(&payload).unwrap();
            assert_eq!(unpack_blob(&blob).unwrap(), payload, "length {len}");
        }
    }

    #[test]
    fn oversized_payload_is_refused() {
        let payload = vec![0xab; MAX_BLOB_PAYLOAD + 1];
        assert_eq!(
            pack_blob(&payload),
            Err(BlobError::PayloadTooLarge {
                len: MAX_BLOB_PAYLOAD + 1
            })
        );
        assert!(pack_blob(&vec![0; BYTES_PER_BLOB]).is_err());
    }

    #[test]
    fn unpack_rejects_malformed_blobs() {
        let payload = filler(100, 1);
        let good = pack_blob(&payload).unwrap();

        for index in [0, 1, 4, FIELD_ELEMENTS_PER_BLOB - 1] {
            let mut bad = good.clone();
            bad[index * BYTES_PER_FIELD_ELEMENT] = 0x01;
            assert_eq!(unpack_blob(&bad), Err(BlobError::NonZeroHighByte { index }));
        }

        let mut bad = good.clone();
        bad[1..5].copy_from_slice(&(MAX_BLOB_PAYLOAD as u32 + 1).to_be_bytes());
        assert_eq!(
            unpack_blob(&bad),
            Err(BlobError::BadLength {
                len: MAX_BLOB_PAYLOAD as u32 + 1
            })
        );
        bad[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            unpack_blob(&bad),
            Err(BlobError::BadLength { len: u32::MAX })
        );

        // The last data byte is padding for a 100-byte payload.
        let mut bad = good.clone();
        bad[BYTES_PER_BLOB - 1] = 0x01;
        assert_eq!(
            unpack_blob(&bad),
            Err(BlobError::NonZeroPadding {
                offset: DATA_BYTES_PER_BLOB - 1
            })
        );

        // A shorter declared length turns payload bytes into nonzero padding.
        let mut bad = good.clone();
        bad[1..5].copy_from_slice(&99u32.to_be_bytes());
        assert!(matches!(
            unpack_blob(&bad),
            Err(BlobError::NonZeroPadding { offset: 103 })
        ));
    }

    fn sample_diff() -> StateDiff {
        StateDiff {
            last_header: DiffHeader {
                block_number: 42,
                gas_limit: 30_000_000,
                ..Default::default()
            },
            accounts: (0..200u32)
                .map(|i| AccountDiff {
                    address: Address::left_padding_from(&i.to_be_bytes()),
                    balance: Some(U256::from(i) * U256::from(1_000_000_000u64)),
                    nonce_increase: Some(1),
                    storage: vec![(B256::with_last_byte(1), U256::from(i))],
                    code: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn payload_codecs() {
        let diff = sample_diff();
        let raw = encode_state_diff_payload(&diff, Codec::Raw).unwrap();
        assert_eq!(raw[0], 0);
        assert_eq!(&raw[1..], diff.encode().unwrap().as_slice());
        let compressed = encode_state_diff_payload(&diff, Codec::Brotli).unwrap();
        assert_eq!(compressed[0], 1);
        assert!(
            compressed.len() * 3 < raw.len(),
            "{} vs {}",
            compressed.len(),
            raw.len()
        );
        for payload in [&raw, &compressed] {
            let blob = pack_blob(payload).unwrap();
            let unpacked = unpack_blob(&blob).unwrap();
            assert_eq!(decode_state_diff_payload(&unpacked).unwrap(), diff);
        }
    }

    #[test]
    fn payloads_in_all_four_formats() {
        let diff = sample_diff();
        let mut lens = Vec::new();
        for (version, codec) in ALL_FORMATS {
            let payload = encode_state_diff_payload_as(&diff, version, codec).unwrap();
            assert_eq!(payload[0], codec as u8);
            if codec == Codec::Raw {
                assert_eq!(&payload[1..], diff.encode_as(version).unwrap().as_slice());
            }
            let unpacked = unpack_blob(&pack_blob(&payload).unwrap()).unwrap();
            assert_eq!(decode_state_diff_payload(&unpacked).unwrap(), diff);
            lens.push(payload.len());
        }
        // Raw v2 is well under raw v1 here (small balances and slots).
        assert!(lens[2] * 2 < lens[0], "{lens:?}");
        assert_eq!(
            encode_state_diff_payload(&diff, Codec::Brotli).unwrap(),
            encode_state_diff_payload_as(&diff, DiffVersion::V1, Codec::Brotli).unwrap()
        );
    }

    #[test]
    fn smallest_payload_is_the_smallest_of_four() {
        for diff in [
            sample_diff(),
            StateDiff::default(),
            transfer_workload(30, 1),
            full_width_slots(),
        ] {
            let chosen = smallest_state_diff_payload(&diff).unwrap();
            let mut sizes = Vec::new();
            for (version, codec) in ALL_FORMATS {
                let len = encode_state_diff_payload_as(&diff, version, codec)
                    .unwrap()
                    .len();
                assert_eq!(chosen.sizes.get(version, codec), Some(len));
                sizes.push(len);
            }
            assert_eq!(chosen.payload.len(), *sizes.iter().min().unwrap());
            assert_eq!(
                chosen.sizes.get(chosen.version, chosen.codec),
                Some(chosen.payload.len())
            );
            assert_eq!(chosen.payload[0], chosen.codec as u8);
            assert_eq!(decode_state_diff_payload(&chosen.payload).unwrap(), diff);
            assert_eq!(
                fits_one_blob(&diff),
                Ok(chosen.payload.len() <= MAX_BLOB_PAYLOAD)
            );
        }
        // One transfer (random hashes and addresses, little to compress): raw wins, and v2 is
        // the shorter raw one.
        let chosen = smallest_state_diff_payload(&transfer_workload(1, 3)).unwrap();
        assert_eq!(
            (chosen.version, chosen.codec),
            (DiffVersion::V2, Codec::Raw)
        );
        // Random full-width slots: v2's per-slot length byte makes raw v1 shorter than raw v2.
        let sizes = smallest_state_diff_payload(&full_width_slots())
            .unwrap()
            .sizes;
        assert!(sizes.v1_raw.unwrap() < sizes.v2_raw, "{sizes:?}");
    }

    /// One account writing 50 slots with random 32-byte keys and values.
    fn full_width_slots() -> StateDiff {
        let mut rng = StdRng::seed_from_u64(5);
        let mut storage: Vec<(B256, U256)> = (0..50)
            .map(|_| {
                let mut value = rng.random::<[u8; 32]>();
                value[0] |= 1;
                (
                    B256::from(rng.random::<[u8; 32]>()),
                    U256::from_be_bytes(value),
                )
            })
            .collect();
        storage.sort();
        StateDiff {
            accounts: vec![AccountDiff {
                address: Address::repeat_byte(1),
                storage,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn smallest_payload_without_v1() {
        // A nonce increase above v1's u16: only v2 can carry the diff.
        let mut diff = sample_diff();
        diff.accounts[0].nonce_increase = Some(70_000);
        let chosen = smallest_state_diff_payload(&diff).unwrap();
        assert_eq!(chosen.version, DiffVersion::V2);
        assert_eq!(chosen.sizes.v1_raw, None);
        assert_eq!(chosen.sizes.v1_brotli, None);
        assert_eq!(decode_state_diff_payload(&chosen.payload).unwrap(), diff);
        assert_eq!(fits_one_blob(&diff), Ok(true));

        // Out of order: neither version encodes.
        diff.accounts.swap(0, 1);
        assert!(matches!(
            smallest_state_diff_payload(&diff),
            Err(BlobError::StateDiff(StateDiffError::UnsortedAccounts(_)))
        ));
        assert!(matches!(
            fits_one_blob(&diff),
            Err(BlobError::StateDiff(StateDiffError::UnsortedAccounts(_)))
        ));
    }

    /// The density workload: `transfers` ETH transfers of 1 gwei to 1 ETH (uniform) to as many
    /// new random recipients, from `transfers / 3` (rounded up) random senders that each held
    /// 1,000,000 ETH and sent three of them (nonce +3, balance minus amounts and 21,000 gas at
    /// 1 gwei).
    fn transfer_workload(transfers: usize, seed: u64) -> StateDiff {
        let mut rng = StdRng::seed_from_u64(seed);
        let ether = U256::from(1_000_000_000_000_000_000u64);
        let fee = U256::from(21_000u64 * 1_000_000_000);
        let senders: Vec<Address> = (0..transfers.div_ceil(3))
            .map(|_| Address::from(rng.random::<[u8; 20]>()))
            .collect();
        let mut accounts: BTreeMap<Address, AccountDiff> = senders
            .iter()
            .map(|&address| {
                let account = AccountDiff {
                    address,
                    balance: Some(ether * U256::from(1_000_000)),
                    nonce_increase: Some(0),
                    ..Default::default()
                };
                (address, account)
            })
            .collect();
        for t in 0..transfers {
            let amount = U256::from(rng.random_range(1_000_000_000u64..=1_000_000_000_000_000_000));
            let to = Address::from(rng.random::<[u8; 20]>());
            let sender = accounts.get_mut(&senders[t % senders.len()]).unwrap();
            sender.balance = Some(sender.balance.unwrap() - amount - fee);
            sender.nonce_increase = Some(sender.nonce_increase.unwrap() + 1);
            let recipient = AccountDiff {
                address: to,
                balance: Some(amount),
                ..Default::default()
            };
            assert!(accounts.insert(to, recipient).is_none());
        }
        StateDiff {
            last_header: DiffHeader {
                tx_root: B256::from(rng.random::<[u8; 32]>()),
                receipts_root: B256::from(rng.random::<[u8; 32]>()),
                parent_hash: B256::from(rng.random::<[u8; 32]>()),
                gas_limit: 1_000_000_000,
                gas_used: 21_000 * transfers as u64,
                timestamp: 1_760_000_000,
                block_number: 123_456,
                base_fee_per_gas: 1_000_000_000,
            },
            accounts: accounts.into_values().collect(),
            ..Default::default()
        }
    }

    /// The density target (docs/committer.md, Density): 3,000 ETH transfers from 1,000 senders fit
    /// one blob; in fact raw v2 already does, so the sealer never needs to compress for them.
    #[test]
    fn three_thousand_transfers_fit_one_blob() {
        let diff = transfer_workload(3_000, 42);
        assert_eq!(diff.accounts.len(), 4_000);
        assert_eq!(
            diff.accounts
                .iter()
                .filter(|a| a.nonce_increase == Some(3))
                .count(),
            1_000
        );
        let chosen = smallest_state_diff_payload(&diff).unwrap();
        let sizes = chosen.sizes;
        assert!(chosen.payload.len() <= MAX_BLOB_PAYLOAD, "{sizes:?}");
        assert!(sizes.v2_raw <= MAX_BLOB_PAYLOAD, "{sizes:?}");
        assert!(sizes.v1_raw.unwrap() > MAX_BLOB_PAYLOAD, "{sizes:?}");
        assert_eq!(sizes.v2_raw, 1 + diff.encoded_len_v2());
        assert_eq!(fits_one_blob(&diff), Ok(true));
        let blob = pack_blob(&chosen.payload).unwrap();
        assert_eq!(
            decode_state_diff_payload(&unpack_blob(&blob).unwrap()).unwrap(),
            diff
        );
    }

    #[test]
    fn four_thousand_transfers_do_not_fit() {
        let diff = transfer_workload(4_000, 42);
        assert_eq!(fits_one_blob(&diff), Ok(false));
    }

    /// Prints what choosing a payload costs for the 3,000-transfer workload (brotli is an
    /// optimized dependency even in test builds). Run with
    /// `cargo nextest run -p keel-types --run-ignored only payload_choice_cost --no-capture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn payload_choice_cost() {
        let diff = transfer_workload(3_000, 42);
        let start = std::time::Instant::now();
        assert_eq!(fits_one_blob(&diff), Ok(true));
        println!("fits_one_blob: {:?}", start.elapsed());
        let start = std::time::Instant::now();
        let chosen = smallest_state_diff_payload(&diff).unwrap();
        println!(
            "smallest_state_diff_payload: {:?} ({} {:?}, {:?})",
            start.elapsed(),
            chosen.version,
            chosen.codec,
            chosen.sizes
        );
        let start = std::time::Instant::now();
        let v2 = diff.encode_v2().unwrap();
        println!("encode_v2: {:?}", start.elapsed());
        // Other qualities, for comparison with BROTLI_QUALITY.
        let v1 = diff.encode().unwrap();
        for quality in [5, 9, 10, 11] {
            for (name, encoded) in [("v1", &v1), ("v2", &v2)] {
                let params = BrotliEncoderParams {
                    quality,
                    lgwin: BROTLI_LGWIN,
                    size_hint: encoded.len(),
                    ..Default::default()
                };
                let mut out = Vec::new();
                let start = std::time::Instant::now();
                brotli::BrotliCompress(&mut &encoded[..], &mut out, &params).unwrap();
                println!(
                    "brotli quality {quality} of {name} ({} bytes): {} bytes in {:?}",
                    encoded.len(),
                    out.len(),
                    start.elapsed()
                );
            }
        }
    }

    /// Prints the most transfers of [`transfer_workload`] each of the four formats fits in one
    /// blob (for docs/committer.md). Run with
    /// `cargo nextest run -p keel-types --run-ignored only max_transfers_per_blob --no-capture`.
    #[test]
    #[ignore = "a measurement (about a minute), not a check"]
    fn max_transfers_per_blob() {
        let mut cache: BTreeMap<usize, PayloadSizes> = BTreeMap::new();
        let mut sizes_at = |n: usize| {
            *cache.entry(n).or_insert_with(|| {
                smallest_state_diff_payload(&transfer_workload(n, 42))
                    .unwrap()
                    .sizes
            })
        };
        for (version, codec) in ALL_FORMATS {
            // Largest n in [lo, hi) whose payload fits, by bisection (sizes grow with n).
            let (mut lo, mut hi) = (100, 8_000);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if sizes_at(mid).get(version, codec).unwrap() <= MAX_BLOB_PAYLOAD {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let size = sizes_at(lo).get(version, codec).unwrap();
            println!(
                "{version} {codec:?}: {lo} transfers ({size} bytes, {:.1} bytes/transfer)",
                size as f64 / lo as f64
            );
        }
        let sizes = sizes_at(3_000);
        println!("3000 transfers: {sizes:?}");
    }

    #[test]
    fn payload_decoding_rejects_bad_payloads() {
        assert_eq!(decode_state_diff_payload(&[]), Err(BlobError::EmptyPayload));
        assert_eq!(
            decode_state_diff_payload(&[2, 1, 2, 3]),
            Err(BlobError::UnknownCodec(2))
        );
        assert!(matches!(
            decode_state_diff_payload(&[0, 1]),
            Err(BlobError::StateDiff(StateDiffError::Truncated { .. }))
        ));

        let compressed = encode_state_diff_payload(&sample_diff(), Codec::Brotli).unwrap();
        let mut trailing = compressed.clone();
        trailing.push(0);
        assert_eq!(
            decode_state_diff_payload(&trailing),
            Err(BlobError::TrailingCompressed(1))
        );
        assert_eq!(
            decode_state_diff_payload(&compressed[..compressed.len() - 1]),
            Err(BlobError::TruncatedCompressed)
        );
        assert_eq!(
            decode_state_diff_payload(&[1, 0xff, 0xff, 0xff, 0xff]),
            Err(BlobError::InvalidCompressed)
        );

        // A compressed body that decodes to something that is not a state diff.
        let params = BrotliEncoderParams::default();
        let mut not_a_diff = vec![1];
        brotli::BrotliCompress(&mut &b"hello"[..], &mut not_a_diff, &params).unwrap();
        assert_eq!(
            decode_state_diff_payload(&not_a_diff),
            Err(BlobError::StateDiff(StateDiffError::BadVersion(b'h')))
        );
    }

    #[test]
    fn decompression_is_bounded() {
        // 17 MiB of zeros compress to a few bytes; decoding stops at the limit.
        let zeros = vec![0u8; MAX_DECOMPRESSED_LEN + (1 << 20)];
        let params = BrotliEncoderParams {
            quality: 5,
            ..Default::default()
        };
        let mut bomb = vec![1];
        brotli::BrotliCompress(&mut zeros.as_slice(), &mut bomb, &params).unwrap();
        assert!(bomb.len() < MAX_BLOB_PAYLOAD);
        assert_eq!(
            decode_state_diff_payload(&bomb),
            Err(BlobError::DecompressedTooLarge)
        );
        // Just at the limit is fine for the decompressor (it is then not a state diff).
        assert_eq!(
            brotli_decompress_bounded(&bomb[1..], zeros.len()).map(|v| v.len()),
            Ok(zeros.len())
        );
    }

    #[test]
    fn packed_blob_is_a_valid_kzg_blob() {
        use alloy_eips::eip4844::{Blob, BlobTransactionSidecar, env_settings::EnvKzgSettings};
        let settings = EnvKzgSettings::Default.get();
        let payload = encode_state_diff_payload(&sample_diff(), Codec::Brotli).unwrap();
        let full = filler(MAX_BLOB_PAYLOAD, 7);
        for payload in [payload, full] {
            let blob = pack_blob(&payload).unwrap();
            let sidecar = BlobTransactionSidecar::try_from_blobs_with_settings(
                vec![Blob::from(*blob)],
                settings,
            )
            .unwrap();
            let hashes: Vec<B256> = sidecar.versioned_hashes().collect();
            sidecar.validate(&hashes, settings).unwrap();
            assert_eq!(unpack_blob(&sidecar.blobs[0].0).unwrap(), payload);
        }
        // Control: a field element at or above the modulus is refused by c-kzg.
        let mut bad = pack_blob(&[]).unwrap();
        bad[0] = 0xff;
        assert!(
            BlobTransactionSidecar::try_from_blobs_with_settings(vec![Blob::from(*bad)], settings)
                .is_err()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn pack_unpack_round_trip(len in 0..=MAX_BLOB_PAYLOAD, seed in any::<u64>()) {
            let payload = filler(len, seed);
            let blob = pack_blob(&payload).unwrap();
            prop_assert!(
                blob.chunks_exact(BYTES_PER_FIELD_ELEMENT).all(|element| element[0] == 0)
            );
            prop_assert_eq!(unpack_blob(&blob).unwrap(), payload);
        }

        #[test]
        fn state_diff_payload_round_trip(diff in arb_state_diff()) {
            for (version, codec) in ALL_FORMATS {
                let payload = encode_state_diff_payload_as(&diff, version, codec).unwrap();
                prop_assert_eq!(payload[0], codec as u8);
                let blob = pack_blob(&payload).unwrap();
                prop_assert_eq!(decode_state_diff_payload(&unpack_blob(&blob).unwrap()).unwrap(), diff.clone());
            }
        }

        #[test]
        fn smallest_payload_round_trip(diff in arb_state_diff_wide()) {
            let chosen = smallest_state_diff_payload(&diff).unwrap();
            let smallest = [chosen.sizes.v1_raw, chosen.sizes.v1_brotli, Some(chosen.sizes.v2_raw), Some(chosen.sizes.v2_brotli)]
                .into_iter()
                .flatten()
                .min();
            prop_assert_eq!(Some(chosen.payload.len()), smallest);
            prop_assert_eq!(decode_state_diff_payload(&chosen.payload).unwrap(), diff);
        }

        /// Arbitrary payloads (either codec) never panic.
        #[test]
        fn decode_arbitrary_payloads(
            codec in 0u8..3,
            body in prop::collection::vec(any::<u8>(), 0..400),
        ) {
            let mut payload = vec![codec];
            payload.extend_from_slice(&body);
            let _ = decode_state_diff_payload(&payload);
        }

        /// Valid compressed payloads with a few bytes changed never panic either.
        #[test]
        fn decode_mutated_compressed_payloads(
            diff in arb_state_diff(),
            v2 in any::<bool>(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        ) {
            let version = if v2 { DiffVersion::V2 } else { DiffVersion::V1 };
            let mut payload = encode_state_diff_payload_as(&diff, version, Codec::Brotli).unwrap();
            for (at, byte) in edits {
                let i = 1 + at.index(payload.len() - 1);
                payload[i] = byte;
            }
            let _ = decode_state_diff_payload(&payload);
        }

        /// Arbitrary blobs: unpacking never panics, and what unpacks packs back to the same blob.
        #[test]
        fn unpack_arbitrary_blobs(
            head in prop::collection::vec(any::<u8>(), 0..200),
            seed in any::<u64>(),
            zero_high_bytes in any::<bool>(),
        ) {
            let mut blob: BlobBytes = vec![0u8; BYTES_PER_BLOB].into_boxed_slice().try_into().unwrap();
            blob[..head.len()].copy_from_slice(&head);
            if seed % 4 == 0 {
                let tail = filler(BYTES_PER_BLOB - 200, seed);
                blob[200..].copy_from_slice(&tail);
            }
            if zero_high_bytes {
                for element in blob.chunks_exact_mut(BYTES_PER_FIELD_ELEMENT) {
                    element[0] = 0;
                }
            }
            if let Ok(payload) = unpack_blob(&blob) {
                prop_assert_eq!(pack_blob(&payload).unwrap(), blob);
            }
        }
    }
}
