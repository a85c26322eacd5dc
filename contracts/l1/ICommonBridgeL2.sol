// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ICommonBridgeL2
/// @notice The deposit-delivery functions of the L2 bridge (predeployed at 0x…ffff) that the L1
/// bridge encodes into privileged transactions.
interface ICommonBridgeL2 {
    /// @notice Delivers an ETH deposit to `to`.
    /// @param to The L2 recipient.
    function mintETH(address to) external payable;

    /// @notice Delivers an ERC20 deposit: mints `amount` of `tokenL2` to `destination`.
    /// @param tokenL1 The locked L1 token.
    /// @param tokenL2 The L2 token to mint.
    /// @param destination The L2 recipient.
    /// @param amount The amount.
    function mintERC20(address tokenL1, address tokenL2, address destination, uint256 amount) external;
}
