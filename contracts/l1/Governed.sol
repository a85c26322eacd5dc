// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {Ownable2StepUpgradeable} from "@openzeppelin/contracts-upgradeable/access/Ownable2StepUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";

/// @title Governed
/// @notice What the three L1 contracts share about who may do what (docs/contracts.md,
/// "Governance"): a UUPS implementation behind an ERC-1967 proxy, owned (two-step) by a
/// `TimelockController` in a real deployment, pausable by the owner or by a security council, and
/// never without an owner.
/// @dev The security council can only pause: unpausing, upgrading and every parameter change stay
/// with the owner, so a compromised council can stop the chain for a while but change nothing.
/// `pausedAt` records when the current pause began, for the bridge's `maxPause`.
abstract contract Governed is Initializable, UUPSUpgradeable, Ownable2StepUpgradeable, PausableUpgradeable {
    /// @notice The address allowed to pause (besides the owner); zero if none.
    address public securityCouncil;

    /// @notice When the current pause began (unix seconds); zero while not paused.
    uint256 public pausedAt;

    /// @notice The security council changed.
    event SecurityCouncilSet(address indexed securityCouncil);

    /// @notice The caller is neither the owner nor the security council.
    error CallerCannotPause(address caller);
    /// @notice Ownership can't be renounced: a contract without an owner could never be unpaused,
    /// upgraded or fixed.
    error RenounceOwnershipDisabled();

    /// Sets the owner and the security council.
    function __Governed_init(address owner_, address securityCouncil_) internal onlyInitializing {
        __Ownable_init(owner_);
        __Pausable_init();
        securityCouncil = securityCouncil_;
        emit SecurityCouncilSet(securityCouncil_);
    }

    /// @notice Stops the contract's user-facing functions (see each contract) until the owner
    /// unpauses.
    /// @dev The owner or the security council.
    function pause() external {
        if (msg.sender != owner() && msg.sender != securityCouncil) revert CallerCannotPause(msg.sender);
        _pause();
        pausedAt = block.timestamp;
    }

    /// @notice Resumes the contract. Owner only.
    function unpause() external onlyOwner {
        _unpause();
        pausedAt = 0;
    }

    /// @notice Sets the address that may pause (zero for none). Owner only.
    /// @param securityCouncil_ The new security council.
    function setSecurityCouncil(address securityCouncil_) external onlyOwner {
        securityCouncil = securityCouncil_;
        emit SecurityCouncilSet(securityCouncil_);
    }

    /// @notice Always reverts: the contracts must keep an owner.
    function renounceOwnership() public pure override {
        revert RenounceOwnershipDisabled();
    }

    /// Only the owner may upgrade.
    function _authorizeUpgrade(address) internal override onlyOwner {}
}
