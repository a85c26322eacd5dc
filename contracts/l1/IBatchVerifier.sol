// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IBatchVerifier
/// @notice A proof system that the OnChainProposer asks whether a batch proof is valid
/// (DESIGN.md section 6). Shipped: `AttestationVerifier`; zkVM verifiers plug in through the same
/// interface.
interface IBatchVerifier {
    /// @notice Checks `proof` for the 352-byte `publicInputs` of one batch (docs/contracts.md).
    /// @dev Implementations may revert with a reason instead of returning false; the
    /// OnChainProposer treats both as a rejected proof.
    /// @param publicInputs `initialStateRoot ‖ finalStateRoot ‖ withdrawalsRoot ‖
    /// privilegedRollingHash ‖ blobVersionedHash ‖ lastBlockHash ‖ uint256(l2ChainId) ‖
    /// uint256(nonPrivilegedTxCount) ‖ previousLastBlockHash ‖ uint256(batchNumber) ‖
    /// uint256(lastBlockTimestamp)`; the caller is the OnChainProposer.
    /// @param proof The backend-specific proof bytes.
    /// @return True iff the proof is valid for these public inputs.
    function verify(bytes calldata publicInputs, bytes calldata proof) external view returns (bool);
}
