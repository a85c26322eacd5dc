//! Attestations for the AttestationVerifier: 65-byte `r ‖ s ‖ v` signatures over
//! `keccak256(publicInputs)` (no EIP-191 prefix), concatenated. The `exec` prover backend signs
//! them; tests and benchmarks sign with dev keys.

use alloy::{
    primitives::Bytes,
    signers::{SignerSync, local::PrivateKeySigner},
};
use keel_types::PublicInputs;

/// The proof `AttestationVerifier.verify` accepts from `signers` for `public_inputs`.
pub fn attest(
    public_inputs: &PublicInputs,
    signers: &[&PrivateKeySigner],
) -> Result<Bytes, alloy::signers::Error> {
    let digest = public_inputs.digest();
    let mut proof = Vec::with_capacity(65 * signers.len());
    for signer in signers {
        proof.extend_from_slice(&signer.sign_hash_sync(&digest)?.as_bytes());
    }
    Ok(proof.into())
}
