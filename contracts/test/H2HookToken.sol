// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title H2HookToken
/// @notice An ERC777-style ERC20: once armed, the next transfer between two accounts first calls
/// `hookTarget` with `hookData` (like ERC777's `tokensToSend` hook, which runs before the balances
/// move) and passes on its revert. Used to re-enter the bridge from inside `transfer` /
/// `transferFrom`. Anyone can mint and arm.
contract H2HookToken is ERC20 {
    /// @notice The contract the hook calls (zero: disarmed).
    address public hookTarget;

    /// @notice The calldata of the hook's call.
    bytes public hookData;

    constructor() ERC20("Hook Token", "HOOK") {}

    /// @notice Mints `amount` to `to` (no hook).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the hook (or disarms it with a zero target).
    /// @param target The contract to call from the next transfer.
    /// @param data The calldata.
    function arm(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
    }

    /// Calls the armed hook (once) before a transfer moves the balances.
    function _update(address from, address to, uint256 value) internal override {
        address target = hookTarget;
        if (target != address(0) && from != address(0) && to != address(0)) {
            hookTarget = address(0);
            (bool ok, bytes memory reason) = target.call(hookData);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
        super._update(from, to, value);
    }
}
