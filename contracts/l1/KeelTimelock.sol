// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title KeelTimelock
/// @notice OpenZeppelin's `TimelockController`, unchanged, compiled here so that the deployer has
/// its bytecode. It owns the L1 contracts: every owner action (upgrade, sequencer, verifier,
/// signer, threshold or parameter change, unpause) is scheduled by a proposer, waits `minDelay`
/// seconds, then is executed by an executor (docs/contracts.md, "Governance").
contract KeelTimelock is TimelockController {
    /// @param minDelay Seconds between scheduling and execution.
    /// @param proposers Who may schedule (and cancel) operations.
    /// @param executors Who may execute ready operations (`address(0)`: anyone).
    /// @param admin An optional admin of the roles (`address(0)`: none, the timelock administers
    /// itself, so role changes also wait `minDelay`).
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
