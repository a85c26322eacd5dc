// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title H2ReentrantClaimant
/// @notice A withdrawal receiver whose `receive()` hook, once armed, calls `hookTarget` with
/// `hookData` (e.g. the bridge's `claimWithdrawal` for another of its messages) and passes on its
/// revert. It claims by calling the bridge through `execute`.
contract H2ReentrantClaimant {
    /// @notice The contract the hook calls (zero: disarmed, ETH is simply accepted).
    address public hookTarget;

    /// @notice The calldata of the hook's call.
    bytes public hookData;

    /// @notice Arms the hook (or disarms it with a zero target).
    /// @param target The contract to call when ETH arrives.
    /// @param data The calldata.
    function arm(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
    }

    /// @notice Calls `target` with `data` as this contract (e.g. a claim); a revert is passed on.
    /// @param target The callee.
    /// @param data The calldata.
    function execute(address target, bytes calldata data) external {
        (bool ok, bytes memory reason) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 0x20), mload(reason))
            }
        }
    }

    /// @notice Accepts ETH; when armed, first calls the hook once.
    receive() external payable {
        address target = hookTarget;
        if (target != address(0)) {
            hookTarget = address(0);
            (bool ok, bytes memory reason) = target.call(hookData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
    }
}
