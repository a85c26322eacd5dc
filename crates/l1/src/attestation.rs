//! Attestations for the AttestationVerifier: 65-byte `r ‖ s ‖ v` signatures over the EIP-712
//! attestation digest of a batch's public inputs ([`PublicInputs::attestation_digest`]: bound to
//! the L1 chain id, the OnChainProposer and the batch number), concatenated. The `exec` prover
//! backend signs them; tests and benchmarks sign with dev keys.

use alloy::{
    primitives::{Address, Bytes},
    signers::{SignerSync, local::PrivateKeySigner},
};
use keel_types::PublicInputs;

/// The proof `AttestationVerifier.verify` accepts from `signers` for `public_inputs` when called by
/// the OnChainProposer `on_chain_proposer` on L1 chain `l1_chain_id`.
pub fn attest(
    public_inputs: &PublicInputs,
    l1_chain_id: u64,
    on_chain_proposer: Address,
    signers: &[&PrivateKeySigner],
) -> Result<Bytes, alloy::signers::Error> {
    let digest = public_inputs.attestation_digest(l1_chain_id, on_chain_proposer);
    let mut proof = Vec::with_capacity(65 * signers.len());
    for signer in signers {
        proof.extend_from_slice(&signer.sign_hash_sync(&digest)?.as_bytes());
    }
    Ok(proof.into())
}
