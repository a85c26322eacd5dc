// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title MerkleProofCheck
/// @notice Exposes OpenZeppelin's `MerkleProof` (what `CommonBridge` checks claims with), so tests
/// can check on L1 that the node's withdrawal proofs verify.
contract MerkleProofCheck {
    /// @notice Whether `proof` shows `leaf` under `root`, by `MerkleProof.verifyCalldata`.
    /// @param proof The sibling path from the leaf up.
    /// @param root The withdrawals root.
    /// @param leaf The message leaf.
    /// @return True iff the proof is valid.
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
