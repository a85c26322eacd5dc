// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title H3GasBurner
/// @notice A deposit recipient that burns all the gas it is given, to test that a failed ETH
/// deposit is still sent back when the recipient leaves the L2 bridge only its reserve.
contract H3GasBurner {
    /// @notice Loops until out of gas (every call fails, having used all its gas).
    receive() external payable {
        uint256 i;
        while (true) {
            unchecked {
                ++i;
            }
        }
    }
}
