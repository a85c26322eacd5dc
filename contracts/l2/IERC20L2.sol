// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IERC20L2
/// @notice What the L2 bridge (`CommonBridgeL2` at 0x…ffff) needs from a token it bridges.
/// @dev The mint and burn functions have the same selectors as ERC-7802's, so an ERC-7802 token whose
/// only allowed token bridge is 0x…ffff and that also exposes `l1Address()` is an `IERC20L2`.
/// A token MUST let only the L2 bridge call `crosschainMint` and `crosschainBurn`. The bridge calls
/// `crosschainBurn(msg.sender, amount)` only for the caller of `withdrawERC20`, so no allowance is
/// needed for the bridge's burn.
interface IERC20L2 {
    /// @notice The L1 token this L2 token represents.
    /// @dev Must never change: the L1 bridge's provenance (`deposits[tokenL1][tokenL2]`) is keyed on
    /// the pair, and a deposit is only minted when this equals the deposit's `tokenL1`.
    /// @return The L1 token address.
    function l1Address() external view returns (address);

    /// @notice Mints `amount` tokens to `to` for a deposit from L1. Only the L2 bridge may call it.
    /// @param to The L2 recipient.
    /// @param amount The amount to mint.
    function crosschainMint(address to, uint256 amount) external;

    /// @notice Burns `amount` tokens of `from` for a withdrawal to L1. Only the L2 bridge may call it.
    /// @param from The L2 holder whose tokens are burned.
    /// @param amount The amount to burn.
    function crosschainBurn(address from, uint256 amount) external;
}
