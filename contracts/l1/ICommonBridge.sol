// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ICommonBridge
/// @notice What the OnChainProposer needs from the L1 bridge: the pending privileged-transaction
/// queue and the publication of each batch's withdrawals root.
interface ICommonBridge {
    /// @notice The privileged rolling hash of the `count` privileged txs with ids
    /// `firstId .. firstId + count - 1`: `bytes2(count) ‖ low 30 bytes of keccak256(h1 ‖ … ‖ hn)`,
    /// zero when `count` is 0.
    /// @param firstId The transaction id of the first privileged tx.
    /// @param count How many consecutive privileged txs.
    /// @return The rolling hash.
    function getPrivilegedRollingHash(uint256 firstId, uint16 count) external view returns (bytes32);

    /// @notice True iff privileged tx `id` exists and its inclusion deadline is before `timestamp`.
    /// @param id A transaction id.
    /// @param timestamp The time to judge at (a batch's last block timestamp).
    /// @return Whether it is expired at `timestamp`.
    function isExpiredAt(uint256 id, uint256 timestamp) external view returns (bool);

    /// @notice Drops the first `count` pending privileged txs (their batch was verified).
    /// @param count How many to drop.
    function removePendingTransactionsHashes(uint16 count) external;

    /// @notice Records the withdrawals root of a committed batch.
    /// @param batchNumber The batch.
    /// @param withdrawalsRoot The root of its L1 messages (zero if none).
    function publishWithdrawals(uint256 batchNumber, bytes32 withdrawalsRoot) external;
}
