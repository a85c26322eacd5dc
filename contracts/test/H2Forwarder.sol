// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The bridge's generic L1 → L2 call.
interface IH2Bridge {
    function sendToL2(address to, uint256 gasLimit, uint256 value, bytes calldata data) external;
}

/// @title H2Forwarder
/// @notice A contract (or, through EIP-7702, the code of a delegated EOA) that deposits into the
/// bridge with a plain ETH transfer (the bridge's `receive()`) or calls `sendToL2`, so the bridge
/// sees it, not the transaction's signer, as `msg.sender`. It also accepts ETH, so it can be the
/// receiver of a withdrawal it never claims itself.
contract H2Forwarder {
    /// @notice Sends `msg.value` to `bridge` with an empty call (its `receive()`); a revert of the
    /// bridge is passed on as is.
    /// @param bridge The CommonBridge.
    function depositViaReceive(address bridge) external payable {
        (bool ok, bytes memory reason) = bridge.call{value: msg.value}("");
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
    }

    /// @notice Calls `bridge.sendToL2(to, gasLimit, value, data)`.
    /// @param bridge The CommonBridge.
    /// @param to The L2 callee.
    /// @param gasLimit The L2 gas limit.
    /// @param value The L2 value.
    /// @param data The L2 calldata.
    function send(address bridge, address to, uint256 gasLimit, uint256 value, bytes calldata data) external {
        IH2Bridge(bridge).sendToL2(to, gasLimit, value, data);
    }

    /// @notice Accepts ETH (e.g. a withdrawal claimed for it).
    receive() external payable {}
}

/// @title H2ConstructorDepositor
/// @notice Deposits into the bridge's `receive()` from its constructor, while it has no code yet.
contract H2ConstructorDepositor {
    /// @notice The bridge refused the deposit.
    error DepositFailed();

    /// @param bridge The CommonBridge, sent `msg.value`.
    constructor(address bridge) payable {
        (bool ok,) = bridge.call{value: msg.value}("");
        if (!ok) revert DepositFailed();
    }
}
