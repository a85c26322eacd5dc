//! The public inputs of a batch proof (DESIGN.md section 6): what the prover attests to and what
//! the L1 `OnChainProposer` rebuilds from the committed batch to check it.

use alloy_primitives::{B256, U256, keccak256};

/// Size of the encoded public inputs.
pub const PUBLIC_INPUTS_LEN: usize = 256;

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
    pub chain_id: u64,
    pub non_privileged_tx_count: u64,
}

impl PublicInputs {
    /// `initialStateRoot ‖ finalStateRoot ‖ withdrawalsRoot ‖ privilegedRollingHash ‖
    /// blobVersionedHash ‖ lastBlockHash ‖ uint256(chainId) ‖ uint256(nonPrivilegedTxCount)`.
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
        ];
        let mut out = [0u8; PUBLIC_INPUTS_LEN];
        for (chunk, word) in out.chunks_exact_mut(32).zip(words) {
            chunk.copy_from_slice(word.as_slice());
        }
        out
    }

    /// What attestation signers sign: `keccak256(publicInputs)`.
    pub fn digest(&self) -> B256 {
        keccak256(self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_words_in_order() {
        let inputs = PublicInputs {
            initial_state_root: B256::repeat_byte(1),
            final_state_root: B256::repeat_byte(2),
            withdrawals_root: B256::repeat_byte(3),
            privileged_rolling_hash: B256::repeat_byte(4),
            blob_versioned_hash: B256::repeat_byte(5),
            last_block_hash: B256::repeat_byte(6),
            chain_id: 1_729_001,
            non_privileged_tx_count: 42,
        };
        let bytes = inputs.encode();
        for i in 0..6 {
            assert!(
                bytes[i * 32..(i + 1) * 32]
                    .iter()
                    .all(|b| *b == i as u8 + 1)
            );
        }
        assert_eq!(
            U256::from_be_slice(&bytes[192..224]),
            U256::from(1_729_001u64)
        );
        assert_eq!(U256::from_be_slice(&bytes[224..]), U256::from(42u64));
        assert_eq!(inputs.digest(), keccak256(bytes));
    }
}
