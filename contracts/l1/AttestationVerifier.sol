// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {Governed} from "./Governed.sol";
import {IBatchVerifier} from "./IBatchVerifier.sol";

/// @title AttestationVerifier
/// @notice Accepts a batch when at least `threshold` distinct registered prover signers signed
/// its EIP-712 attestation (DESIGN.md sections 6 and 9: the `exec` backend attests). Deployed
/// behind an ERC-1967 proxy (UUPS).
/// @dev The signed digest is EIP-712: domain `EIP712Domain(name "keel", version "1", chainId =
/// the L1 chain id, verifyingContract = the OnChainProposer calling `verify`)`, struct
/// `BatchAttestation(uint256 batchNumber, bytes32 publicInputsHash)` with the batch number taken
/// from the public inputs. So an attestation is only good for one batch of one deployment on one
/// L1 chain (docs/contracts.md, "Public inputs and attestations"). The proof is the concatenation
/// of 65-byte signatures `r ‖ s ‖ v`, in any order. Invalid proofs revert with a named error
/// rather than return false, so that the reason reaches the sender of `verifyBatches`.
contract AttestationVerifier is IBatchVerifier, Governed {
    /// @notice The length of the public inputs this verifier accepts (docs/contracts.md).
    uint256 public constant PUBLIC_INPUTS_LENGTH = 352;

    /// @notice Where the batch number sits in the public inputs (word 9).
    uint256 private constant BATCH_NUMBER_OFFSET = 288;

    /// @notice EIP-712 domain type hash.
    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @notice EIP-712 type hash of what signers sign.
    bytes32 public constant BATCH_ATTESTATION_TYPEHASH =
        keccak256("BatchAttestation(uint256 batchNumber,bytes32 publicInputsHash)");

    /// @notice EIP-712 domain name.
    string public constant DOMAIN_NAME = "keel";

    /// @notice EIP-712 domain version.
    string public constant DOMAIN_VERSION = "1";

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

    /// @notice The public inputs are not `PUBLIC_INPUTS_LENGTH` (352) bytes.
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
    /// @param owner_ The owner: upgrades, unpauses, manages signers and the threshold.
    /// @param securityCouncil_ May pause (zero: only the owner).
    /// @param signers The registered prover signers.
    /// @param threshold_ How many of them must sign (1 ≤ threshold ≤ signers).
    function initialize(address owner_, address securityCouncil_, address[] calldata signers, uint256 threshold_)
        external
        initializer
    {
        __Governed_init(owner_, securityCouncil_);
        for (uint256 i = 0; i < signers.length; ++i) {
            _setSigner(signers[i], true);
        }
        _setThreshold(threshold_);
    }

    /// @inheritdoc IBatchVerifier
    /// @dev The attestation's verifying contract is `msg.sender`: only the OnChainProposer whose
    /// batch was signed gets `true` (called from elsewhere, a valid proof fails as `UnknownSigner`).
    function verify(bytes calldata publicInputs, bytes calldata proof) external view whenNotPaused returns (bool) {
        if (publicInputs.length != PUBLIC_INPUTS_LENGTH) revert InvalidPublicInputsLength(publicInputs.length);
        if (proof.length % 65 != 0) revert InvalidProofLength(proof.length);
        uint256 count = proof.length / 65;
        if (count < threshold) revert NotEnoughSignatures(count, threshold);
        bytes32 digest = attestationDigest(msg.sender, publicInputs);
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

    /// @notice The EIP-712 digest that signers sign for `publicInputs` checked by `onChainProposer`.
    /// @param onChainProposer The verifying contract of the domain.
    /// @param publicInputs The 352-byte public inputs (the batch number is word 9).
    /// @return The digest `keccak256(0x1901 ‖ domainSeparator ‖ structHash)`.
    function attestationDigest(address onChainProposer, bytes calldata publicInputs) public view returns (bytes32) {
        if (publicInputs.length != PUBLIC_INPUTS_LENGTH) revert InvalidPublicInputsLength(publicInputs.length);
        uint256 batchNumber = uint256(bytes32(publicInputs[BATCH_NUMBER_OFFSET:BATCH_NUMBER_OFFSET + 32]));
        bytes32 domainSeparator = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256(bytes(DOMAIN_NAME)),
                keccak256(bytes(DOMAIN_VERSION)),
                block.chainid,
                onChainProposer
            )
        );
        bytes32 structHash = keccak256(abi.encode(BATCH_ATTESTATION_TYPEHASH, batchNumber, keccak256(publicInputs)));
        return MessageHashUtils.toTypedDataHash(domainSeparator, structHash);
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
