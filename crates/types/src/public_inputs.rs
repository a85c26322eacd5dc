//! The public inputs of a batch proof and the attestation digest that prover signers sign
//! (docs/contracts.md, "Public inputs and attestations"): what the prover attests to and what the
//! L1 `OnChainProposer` rebuilds from the committed batch to check it. This is the Rust half of one
//! definition; a test on anvil checks it against the contracts' `publicInputs` and
//! `attestationDigest`.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain, sol};

/// Size of the encoded public inputs: eleven 32-byte words.
pub const PUBLIC_INPUTS_LEN: usize = 11 * 32;

/// EIP-712 domain name of attestations.
pub const ATTESTATION_DOMAIN_NAME: &str = "keel";
/// EIP-712 domain version of attestations.
pub const ATTESTATION_DOMAIN_VERSION: &str = "1";

sol! {
    /// What prover signers sign (EIP-712 struct): the batch number and the hash of its public
    /// inputs.
    struct BatchAttestation {
        uint256 batchNumber;
        bytes32 publicInputsHash;
    }
}

/// A batch's public inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicInputs {
    pub initial_state_root: B256,
    pub final_state_root: B256,
    pub withdrawals_root: B256,
    pub privileged_rolling_hash: B256,
    /// Versioned hash of the batch's blob (zero in validium mode).
    pub blob_versioned_hash: B256,
    pub last_block_hash: B256,
    /// The L2 chain id.
    pub chain_id: u64,
    pub non_privileged_tx_count: u64,
    /// The last block hash of the previous batch (the genesis block hash for batch 1), so a proof
    /// binds where its blocks attach.
    pub previous_last_block_hash: B256,
    /// The batch number.
    pub batch_number: u64,
    /// The timestamp of the batch's last block, which forced inclusion is judged against.
    pub last_block_timestamp: u64,
}

impl PublicInputs {
    /// `initialStateRoot ‖ finalStateRoot ‖ withdrawalsRoot ‖ privilegedRollingHash ‖
    /// blobVersionedHash ‖ lastBlockHash ‖ uint256(l2ChainId) ‖ uint256(nonPrivilegedTxCount) ‖
    /// previousLastBlockHash ‖ uint256(batchNumber) ‖ uint256(lastBlockTimestamp)`.
    pub fn encode(&self) -> [u8; PUBLIC_INPUTS_LEN] {
        let words = [
            self.initial_state_root,
            self.final_state_root,
            self.withdrawals_root,
            self.privileged_rolling_hash,
            self.blob_versioned_hash,
            self.last_block_hash,
            B256::from(U256::from(self.chain_id)),
            B256::from(U256::from(self.non_privileged_tx_count)),
            self.previous_last_block_hash,
            B256::from(U256::from(self.batch_number)),
            B256::from(U256::from(self.last_block_timestamp)),
        ];
        let mut out = [0u8; PUBLIC_INPUTS_LEN];
        for (chunk, word) in out.chunks_exact_mut(32).zip(words) {
            chunk.copy_from_slice(word.as_slice());
        }
        out
    }

    /// The EIP-712 domain of attestations checked by `on_chain_proposer` on L1 chain
    /// `l1_chain_id`.
    pub fn attestation_domain(l1_chain_id: u64, on_chain_proposer: Address) -> Eip712Domain {
        eip712_domain! {
            name: ATTESTATION_DOMAIN_NAME,
            version: ATTESTATION_DOMAIN_VERSION,
            chain_id: l1_chain_id,
            verifying_contract: on_chain_proposer,
        }
    }

    /// What attestation signers sign: the EIP-712 hash of `BatchAttestation(batchNumber,
    /// keccak256(publicInputs))` in the domain of `on_chain_proposer` on L1 chain `l1_chain_id`.
    /// The same public inputs give another digest on another chain, deployment or batch.
    pub fn attestation_digest(&self, l1_chain_id: u64, on_chain_proposer: Address) -> B256 {
        BatchAttestation {
            batchNumber: U256::from(self.batch_number),
            publicInputsHash: keccak256(self.encode()),
        }
        .eip712_signing_hash(&Self::attestation_domain(l1_chain_id, on_chain_proposer))
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::address;

    use super::*;

    fn sample() -> PublicInputs {
        PublicInputs {
            initial_state_root: B256::repeat_byte(1),
            final_state_root: B256::repeat_byte(2),
            withdrawals_root: B256::repeat_byte(3),
            privileged_rolling_hash: B256::repeat_byte(4),
            blob_versioned_hash: B256::repeat_byte(5),
            last_block_hash: B256::repeat_byte(6),
            chain_id: 1_729_001,
            non_privileged_tx_count: 42,
            previous_last_block_hash: B256::repeat_byte(7),
            batch_number: 9,
            last_block_timestamp: 1_700_000_000,
        }
    }

    #[test]
    fn eleven_words_in_order() {
        let bytes = sample().encode();
        for i in 0..6 {
            assert!(
                bytes[i * 32..(i + 1) * 32]
                    .iter()
                    .all(|b| *b == i as u8 + 1)
            );
        }
        let word = |i: usize| U256::from_be_slice(&bytes[i * 32..(i + 1) * 32]);
        assert_eq!(word(6), U256::from(1_729_001u64));
        assert_eq!(word(7), U256::from(42u64));
        assert!(bytes[256..288].iter().all(|b| *b == 7));
        assert_eq!(word(9), U256::from(9u64));
        assert_eq!(word(10), U256::from(1_700_000_000u64));
    }

    #[test]
    fn digest_binds_chain_contract_and_batch() {
        let proposer = address!("0x1000000000000000000000000000000000000001");
        let inputs = sample();
        let digest = inputs.attestation_digest(1, proposer);
        assert_ne!(digest, inputs.attestation_digest(2, proposer));
        assert_ne!(
            digest,
            inputs.attestation_digest(1, address!("0x1000000000000000000000000000000000000002"))
        );
        let other_batch = PublicInputs {
            batch_number: 10,
            ..inputs
        };
        assert_ne!(digest, other_batch.attestation_digest(1, proposer));
        assert_ne!(digest, keccak256(inputs.encode()));
    }
}
