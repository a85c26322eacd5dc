// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CommonBridge} from "../l1/CommonBridge.sol";

/// @title H4BridgeV2
/// @notice A second CommonBridge implementation for the governance tests: the same contract (same
/// storage layout) plus a `version()` view, so a test can see that an upgrade through the timelock
/// took effect.
contract H4BridgeV2 is CommonBridge {
    /// @notice The implementation's version: 2.
    function version() external pure returns (uint256) {
        return 2;
    }
}
