// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Bridgeable} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC20Bridgeable.sol";
import {IERC20L2} from "./IERC20L2.sol";

/// @title BridgedERC20
/// @notice Example L2 representation of an L1 ERC20, bridged by `CommonBridgeL2` (0x…ffff).
/// @dev OpenZeppelin's ERC20 with the ERC-7802 `crosschainMint`/`crosschainBurn` (emitting
/// `CrosschainMint`/`CrosschainBurn`), restricted to the L2 bridge, plus `l1Address()`. Deployed
/// normally (not a predeploy): one per L1 token, e.g. by the token's issuer. The bridge burns
/// without an allowance, since it only ever burns the tokens of the caller of `withdrawERC20`.
contract BridgedERC20 is ERC20Bridgeable, IERC20L2 {
    /// @notice The L2 bridge, the only address allowed to mint and burn.
    address public constant L2_BRIDGE = 0x000000000000000000000000000000000000FFff;

    address private immutable L1_TOKEN;
    uint8 private immutable DECIMALS;

    /// @notice The caller of a mint or burn is not the L2 bridge.
    /// @param caller The rejected `msg.sender`.
    error CallerNotBridge(address caller);

    /// @notice The L1 token address given to the constructor is zero.
    error ZeroL1Token();

    /// @param name_ The token name.
    /// @param symbol_ The token symbol.
    /// @param decimals_ The decimals, which should equal the L1 token's.
    /// @param l1Token The L1 token this token represents (never changes).
    constructor(string memory name_, string memory symbol_, uint8 decimals_, address l1Token)
        ERC20(name_, symbol_)
    {
        if (l1Token == address(0)) revert ZeroL1Token();
        L1_TOKEN = l1Token;
        DECIMALS = decimals_;
    }

    /// @notice The L1 token this token represents.
    /// @return The L1 token address.
    function l1Address() external view returns (address) {
        return L1_TOKEN;
    }

    /// @notice The token's decimals (set at deployment to match the L1 token).
    /// @return The number of decimals.
    function decimals() public view override returns (uint8) {
        return DECIMALS;
    }

    /// @notice Mints `amount` to `to` for a deposit from L1. Only the L2 bridge may call it.
    /// @param to The recipient.
    /// @param amount The amount to mint.
    function crosschainMint(address to, uint256 amount) public override(ERC20Bridgeable, IERC20L2) {
        super.crosschainMint(to, amount);
    }

    /// @notice Burns `amount` of `from` for a withdrawal to L1. Only the L2 bridge may call it.
    /// @param from The holder whose tokens are burned.
    /// @param amount The amount to burn.
    function crosschainBurn(address from, uint256 amount) public override(ERC20Bridgeable, IERC20L2) {
        super.crosschainBurn(from, amount);
    }

    /// Reverts unless `caller` is the L2 bridge.
    function _checkTokenBridge(address caller) internal pure override {
        if (caller != L2_BRIDGE) revert CallerNotBridge(caller);
    }
}
