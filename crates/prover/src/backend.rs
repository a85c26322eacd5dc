//! Proving backends: how a proof is made for a batch. [`ExecBackend`] runs the stateless program
//! and attests to its result with the prover's key; a zkVM backend would implement the same
//! [`ProverBackend`] trait with a succinct proof of the same program.

use alloy_primitives::{Address, Bytes};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_types::PublicInputs;
use serde::{Deserialize, Serialize};

use crate::{ProgramError, ProverInput, prove_batch};

/// The kinds of backend, as named on the wire and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BackendKind {
    /// Re-execution plus an ECDSA attestation, checked on L1 by the AttestationVerifier.
    Exec,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Exec => "exec",
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "exec" => Ok(Self::Exec),
            other => Err(format!("unknown prover backend {other:?} (known: exec)")),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A proof of one batch: its public inputs and the backend's proof bytes (for `exec`, a 65-byte
/// `r ‖ s ‖ v` signature over the EIP-712 attestation digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub public_inputs: PublicInputs,
    pub proof: Bytes,
}

/// Why a backend made no proof.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The batch is not valid: the program rejected it.
    #[error("the batch does not prove: {0}")]
    Program(#[from] ProgramError),
    #[error("signing: {0}")]
    Signing(String),
}

/// Makes proofs of batches.
pub trait ProverBackend: Send + Sync {
    fn kind(&self) -> BackendKind;
    /// The proof of `input`'s batch.
    fn prove(&self, input: &ProverInput) -> Result<Proof, BackendError>;
}

/// Runs [`prove_batch`] and signs the attestation digest of its public inputs.
#[derive(Debug, Clone)]
pub struct ExecBackend {
    signer: PrivateKeySigner,
}

impl ExecBackend {
    pub fn new(signer: PrivateKeySigner) -> Self {
        Self { signer }
    }

    /// The address whose signatures this backend produces (it must be a registered signer of
    /// the AttestationVerifier for its proofs to count).
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Sign `public_inputs` for the OnChainProposer `proposer` on L1 chain `l1_chain_id`.
    pub fn attest(
        &self,
        public_inputs: &PublicInputs,
        l1_chain_id: u64,
        proposer: Address,
    ) -> Result<Bytes, BackendError> {
        let digest = public_inputs.attestation_digest(l1_chain_id, proposer);
        let signature = self
            .signer
            .sign_hash_sync(&digest)
            .map_err(|e| BackendError::Signing(e.to_string()))?;
        Ok(Bytes::copy_from_slice(&signature.as_bytes()))
    }
}

impl ProverBackend for ExecBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Exec
    }

    fn prove(&self, input: &ProverInput) -> Result<Proof, BackendError> {
        let public_inputs = prove_batch(input)?;
        let proof = self.attest(&public_inputs, input.l1_chain_id, input.on_chain_proposer)?;
        Ok(Proof {
            public_inputs,
            proof,
        })
    }
}
