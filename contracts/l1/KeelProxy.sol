// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// @title KeelProxy
/// @notice OpenZeppelin's ERC-1967 proxy, unchanged, compiled here so that the deployer has its
/// bytecode. The L1 contracts are UUPS: upgrades go through the implementation's
/// `upgradeToAndCall`, which only the owner may call.
contract KeelProxy is ERC1967Proxy {
    /// @notice Points the proxy at `implementation` and runs `data` (the initializer) on it.
    /// @param implementation The first implementation.
    /// @param data The initializer call, run in the proxy's context in the same transaction, so no
    /// one can initialize the proxy in between.
    constructor(address implementation, bytes memory data) payable ERC1967Proxy(implementation, data) {}
}
