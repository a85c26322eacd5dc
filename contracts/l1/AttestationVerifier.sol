// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {Ownable2StepUpgradeable} from "@openzeppelin/contracts-upgradeable/access/Ownable2StepUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IBatchVerifier} from "./IBatchVerifier.sol";

/// @title AttestationVerifier
/// @notice Accepts a batch when at least `threshold` distinct registered prover signers signed
/// `keccak256(publicInputs)` (DESIGN.md sections 6 and 9: the `exec` backend attests). Deployed
/// behind an ERC-1967 proxy (UUPS).
/// @dev The proof is the concatenation of 65-byte signatures `r ‖ s ‖ v` over the raw digest (no
/// EIP-191 prefix), in any order. Invalid proofs revert with a named error rather than return
/// false, so that the reason reaches the sender of `verifyBatches`.
contract AttestationVerifier is IBatchVerifier, Initializable, UUPSUpgradeable, Ownable2StepUpgradeable, PausableUpgradeable {
    /// @notice The length of the public inputs this verifier accepts.
    uint256 public constant PUBLIC_INPUTS_LENGTH = 256;

    /// @notice Whether an address is a registered prover signer.
    mapping(address => bool) public isSigner;

    /// @notice How many registered signers must sign a batch.
    uint256 public threshold;

    /// @notice How many signers are registered.
    uint256 public signerCount;

    /// @notice A signer was registered or removed.
    event SignerSet(address indexed signer, bool registered);
    /// @notice The threshold changed.
    event ThresholdSet(uint256 threshold);

    /// @notice The public inputs are not 256 bytes.
    error InvalidPublicInputsLength(uint256 length);
    /// @notice The proof is not a whole number of 65-byte signatures.
    error InvalidProofLength(uint256 length);
    /// @notice Fewer signatures than the threshold.
    error NotEnoughSignatures(uint256 given, uint256 threshold);
    /// @notice A signature is malformed or does not recover to an address.
    error InvalidSignature(uint256 index);
    /// @notice A signature recovers to an address that is not a registered signer.
    error UnknownSigner(address signer);
    /// @notice Two signatures from the same signer.
    error DuplicateSigner(address signer);
    /// @notice The threshold is zero or above the number of signers.
    error InvalidThreshold(uint256 threshold, uint256 signerCount);
    /// @notice A zero address where one is required.
    error ZeroAddress();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy's storage (once).
    /// @param owner_ The owner: upgrades, pauses, manages signers and the threshold.
    /// @param signers The registered prover signers.
    /// @param threshold_ How many of them must sign (1 ≤ threshold ≤ signers).
    function initialize(address owner_, address[] calldata signers, uint256 threshold_) external initializer {
        __Ownable_init(owner_);
        __Pausable_init();
        for (uint256 i = 0; i < signers.length; ++i) {
            _setSigner(signers[i], true);
        }
        _setThreshold(threshold_);
    }

    /// @inheritdoc IBatchVerifier
    function verify(bytes calldata publicInputs, bytes calldata proof) external view whenNotPaused returns (bool) {
        if (publicInputs.length != PUBLIC_INPUTS_LENGTH) revert InvalidPublicInputsLength(publicInputs.length);
        if (proof.length % 65 != 0) revert InvalidProofLength(proof.length);
        uint256 count = proof.length / 65;
        if (count < threshold) revert NotEnoughSignatures(count, threshold);
        bytes32 digest = keccak256(publicInputs);
        address[] memory seen = new address[](count);
        for (uint256 i = 0; i < count; ++i) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, proof[i * 65:(i + 1) * 65]);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (!isSigner[signer]) revert UnknownSigner(signer);
            for (uint256 j = 0; j < i; ++j) {
                if (seen[j] == signer) revert DuplicateSigner(signer);
            }
            seen[i] = signer;
        }
        return true;
    }

    /// @notice Registers or removes a prover signer.
    /// @dev Removing a signer must leave at least `threshold` signers.
    /// @param signer The signer.
    /// @param registered Whether it is registered.
    function setSigner(address signer, bool registered) external onlyOwner {
        _setSigner(signer, registered);
        if (threshold > signerCount) revert InvalidThreshold(threshold, signerCount);
    }

    /// @notice Sets how many signers must sign.
    /// @param threshold_ 1 ≤ threshold ≤ signerCount.
    function setThreshold(uint256 threshold_) external onlyOwner {
        _setThreshold(threshold_);
    }

    /// @notice Makes every verification fail until unpaused.
    function pause() external onlyOwner {
        _pause();
    }

    /// @notice Lets verifications through again.
    function unpause() external onlyOwner {
        _unpause();
    }

    /// Only the owner may upgrade.
    function _authorizeUpgrade(address) internal override onlyOwner {}

    function _setSigner(address signer, bool registered) private {
        if (signer == address(0)) revert ZeroAddress();
        if (isSigner[signer] == registered) return;
        isSigner[signer] = registered;
        if (registered) {
            ++signerCount;
        } else {
            --signerCount;
        }
        emit SignerSet(signer, registered);
    }

    function _setThreshold(uint256 threshold_) private {
        if (threshold_ == 0 || threshold_ > signerCount) revert InvalidThreshold(threshold_, signerCount);
        threshold = threshold_;
        emit ThresholdSet(threshold_);
    }
}
