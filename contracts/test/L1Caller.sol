// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The bridge's generic L1 → L2 call.
interface IL2Sender {
    function sendToL2(address to, uint256 gasLimit, uint256 value, bytes calldata data) external;
}

/// @title L1Caller
/// @notice An L1 contract that sends L2 calls through the bridge, so its L2 sender is aliased.
contract L1Caller {
    /// @notice Calls `bridge.sendToL2(to, gasLimit, value, data)`.
    /// @param bridge The CommonBridge.
    /// @param to The L2 callee.
    /// @param gasLimit The L2 gas limit.
    /// @param value The L2 value (from this contract's aliased L2 balance).
    /// @param data The L2 calldata.
    function send(address bridge, address to, uint256 gasLimit, uint256 value, bytes calldata data) external {
        IL2Sender(bridge).sendToL2(to, gasLimit, value, data);
    }
}
