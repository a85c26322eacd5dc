// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IOnChainProposer
/// @notice What the L1 bridge needs from the OnChainProposer: how far batches are verified.
interface IOnChainProposer {
    /// @notice The number of the last batch whose proof was verified (0 before the first).
    /// @return The batch number.
    function lastVerifiedBatch() external view returns (uint256);
}
