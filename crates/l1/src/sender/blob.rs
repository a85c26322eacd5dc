//! Building an EIP-4844 blob sidecar from a blob's bytes.

use alloy::{
    eips::eip4844::{BYTES_PER_BLOB, Blob, BlobTransactionSidecar, env_settings::EnvKzgSettings},
    primitives::B256,
};

/// The blob is not a valid blob (a 32-byte field element is not below the BLS modulus) or KZG
/// failed.
#[derive(Debug, thiserror::Error)]
#[error("building the blob sidecar: {0}")]
pub struct BlobError(String);

/// The EIP-4844 sidecar (blob, KZG commitment, KZG proof; the format Prague L1s take) of one
/// blob, computed with c-kzg and Ethereum's trusted setup.
pub fn blob_sidecar(blob: &[u8; BYTES_PER_BLOB]) -> Result<BlobTransactionSidecar, BlobError> {
    BlobTransactionSidecar::try_from_blobs_with_settings(
        vec![Blob::from(*blob)],
        EnvKzgSettings::Default.get(),
    )
    .map_err(|e| BlobError(e.to_string()))
}

/// The versioned hash of the first blob of `sidecar` (what `blobhash(0)` gives on L1), or
/// `None` for a sidecar without blobs.
pub fn versioned_hash(sidecar: &BlobTransactionSidecar) -> Option<B256> {
    sidecar.versioned_hash_for_blob(0)
}
