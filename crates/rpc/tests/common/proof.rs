//! Checking `eth_getProof` answers (EIP-1186) with alloy-trie's verifier.

use alloy::{
    primitives::{B256, keccak256},
    rpc::types::EIP1186AccountProofResponse,
};
use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};

/// Check every proof of an `eth_getProof` answer against `state_root`: the account (or its
/// absence) and each storage slot (a zero slot is proven absent).
pub fn verify_account_proof(state_root: B256, proof: &EIP1186AccountProofResponse) {
    let account = TrieAccount {
        nonce: proof.nonce,
        balance: proof.balance,
        storage_root: proof.storage_hash,
        code_hash: proof.code_hash,
    };
    let exists =
        proof.nonce != 0 || !proof.balance.is_zero() || proof.code_hash != alloy_trie::KECCAK_EMPTY;
    let expected = exists.then(|| alloy_rlp::encode(account));
    verify_proof(
        state_root,
        Nibbles::unpack(keccak256(proof.address)),
        expected,
        &proof.account_proof,
    )
    .unwrap_or_else(|e| panic!("account proof of {}: {e}", proof.address));
    for slot in &proof.storage_proof {
        let expected = (!slot.value.is_zero()).then(|| alloy_rlp::encode(slot.value));
        verify_proof(
            proof.storage_hash,
            Nibbles::unpack(keccak256(slot.key.as_b256())),
            expected,
            &slot.proof,
        )
        .unwrap_or_else(|e| panic!("storage proof of {}: {e}", slot.key));
    }
}
