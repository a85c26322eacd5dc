// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title RevertingReceiver
/// @notice A contract that refuses ETH, to test failed deposit delivery.
contract RevertingReceiver {
    /// @notice Always reverts.
    error Refused();

    receive() external payable {
        revert Refused();
    }
}
