// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBatchVerifier} from "../l1/IBatchVerifier.sol";

/// @title H1FalseVerifier
/// @notice A batch verifier that rejects every proof by returning false (not by reverting), to
/// test that the OnChainProposer refuses a batch when any required verifier says no.
contract H1FalseVerifier is IBatchVerifier {
    /// @inheritdoc IBatchVerifier
    function verify(bytes calldata, bytes calldata) external pure returns (bool) {
        return false;
    }
}
