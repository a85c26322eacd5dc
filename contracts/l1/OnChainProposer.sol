// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {Governed} from "./Governed.sol";
import {IBatchVerifier} from "./IBatchVerifier.sol";
import {ICommonBridge} from "./ICommonBridge.sol";
import {IOnChainProposer} from "./IOnChainProposer.sol";

/// @title OnChainProposer
/// @notice Batch commitments and their verification (DESIGN.md section 6). The sequencer commits
/// each batch (state root, withdrawals root, privileged rolling hash, blob hash, last block hash
/// and timestamp);
/// anyone can then verify consecutive batches with proofs that every required verifier accepts.
/// Deployed behind an ERC-1967 proxy (UUPS).
/// @dev Batch 0 is the genesis: its state root is set at initialization and it counts as
/// committed and verified. Privileged txs are consumed in id order: `nextPrivilegedId` is the id
/// of the first one not in any committed batch; the bridge's pending queue starts at the first one
/// not in a verified batch.
contract OnChainProposer is IOnChainProposer, Governed, ReentrancyGuardTransient {
    /// @notice What is stored for a committed batch.
    struct BatchCommitment {
        bytes32 newStateRoot;
        bytes32 withdrawalsRoot;
        bytes32 privilegedRollingHash;
        bytes32 blobVersionedHash;
        bytes32 lastBlockHash;
        uint128 nonPrivilegedTxCount;
        uint64 lastBlockTimestamp;
    }

    /// @notice The length of the public inputs (docs/contracts.md, "Public inputs and attestations").
    uint256 public constant PUBLIC_INPUTS_LENGTH = 352;

    /// @notice The L1 bridge holding the privileged-tx queue and withdrawal roots.
    ICommonBridge public bridge;

    /// @notice The L2 chain id, part of the public inputs.
    uint256 public l2ChainId;

    /// @notice Validium mode: commits carry no blob and store a zero blob hash.
    bool public validium;

    /// @notice The number of the last committed batch (0: only the genesis).
    uint256 public lastCommittedBatch;

    /// @inheritdoc IOnChainProposer
    uint256 public lastVerifiedBatch;

    /// @notice The id of the first privileged tx not in any committed batch.
    uint256 public nextPrivilegedId;

    /// @notice Whether an address may commit batches.
    mapping(address => bool) public isSequencer;

    /// @notice The commitments, by batch number (0 = genesis, state root only).
    mapping(uint256 batchNumber => BatchCommitment) private _batches;

    /// @notice The verifiers that must all accept a batch's proof, in proof order.
    address[] private _verifiers;

    /// @notice A batch was committed.
    event BatchCommitted(uint256 indexed batchNumber, bytes32 newStateRoot);
    /// @notice A batch was verified.
    event BatchVerified(uint256 indexed batchNumber);
    /// @notice Batches from this number on were dropped.
    event BatchesReverted(uint256 indexed fromBatch, uint256 toBatch);
    /// @notice A sequencer was added or removed.
    event SequencerSet(address indexed sequencer, bool allowed);
    /// @notice The set of required verifiers changed.
    event VerifiersSet(address[] verifiers);

    /// @notice The caller is not a registered sequencer.
    error CallerNotSequencer(address caller);
    /// @notice A zero address where one is required.
    error ZeroAddress();
    /// @notice The batch is not the next one to commit.
    error BatchNotNext(uint256 expected, uint256 got);
    /// @notice Rollup mode: the commit tx carries no blob.
    error MissingBlob();
    /// @notice Validium mode: the commit tx carries a blob.
    error UnexpectedBlob();
    /// @notice The privileged rolling hash is not the bridge's for the next pending privileged txs.
    error PrivilegedRollingHashMismatch(bytes32 expected, bytes32 got);
    /// @notice The batch has ordinary txs but leaves out the privileged tx `id`, whose deadline is
    /// before the batch's last block timestamp.
    error ExpiredPrivilegedTxNotIncluded(uint256 id);
    /// @notice The batch's last block timestamp is before the previous batch's.
    error TimestampBeforePrevious(uint256 lastBlockTimestamp, uint256 previous);
    /// @notice The first batch to verify is not the one after the last verified.
    error BatchNotNextToVerify(uint256 expected, uint256 got);
    /// @notice The batch is not committed.
    error BatchNotCommitted(uint256 batchNumber);
    /// @notice No proofs were given.
    error NoProofs();
    /// @notice A batch's proofs don't match the verifiers one to one.
    error WrongProofCount(uint256 batchNumber, uint256 expected, uint256 got);
    /// @notice A verifier rejected the batch's proof.
    error ProofRejected(uint256 batchNumber, address verifier);
    /// @notice The batch can't be reverted (verified, or not committed).
    error CannotRevert(uint256 batchNumber);
    /// @notice At least one verifier is required.
    error NoVerifiers();

    modifier onlySequencer() {
        if (!isSequencer[msg.sender]) revert CallerNotSequencer(msg.sender);
        _;
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initialization parameters (a struct: too many for the stack as arguments).
    struct InitParams {
        /// The owner: upgrades, unpauses, reverts batches, manages sequencers and verifiers.
        address owner;
        /// May pause (zero: only the owner).
        address securityCouncil;
        /// The CommonBridge proxy.
        address bridge;
        /// The L2 genesis state root (batch 0).
        bytes32 genesisStateRoot;
        /// The L2 genesis block hash (batch 0's last block).
        bytes32 genesisBlockHash;
        /// The L2 chain id.
        uint256 l2ChainId;
        /// True for validium (no blobs).
        bool validium;
    }

    /// @notice Initializes the proxy's storage (once).
    /// @param params Owner, council, bridge, genesis, chain id, mode.
    /// @param sequencers The addresses allowed to commit.
    /// @param verifiers_ The required verifiers (`IBatchVerifier`), at least one.
    function initialize(InitParams calldata params, address[] calldata sequencers, address[] calldata verifiers_)
        external
        initializer
    {
        if (params.bridge == address(0)) revert ZeroAddress();
        __Governed_init(params.owner, params.securityCouncil);
        bridge = ICommonBridge(params.bridge);
        l2ChainId = params.l2ChainId;
        validium = params.validium;
        _batches[0].newStateRoot = params.genesisStateRoot;
        _batches[0].lastBlockHash = params.genesisBlockHash;
        for (uint256 i = 0; i < sequencers.length; ++i) {
            _setSequencer(sequencers[i], true);
        }
        _setVerifiers(verifiers_);
    }

    /// @notice Commits batch `batchNumber`.
    /// @dev Sequencer only; `batchNumber == lastCommittedBatch + 1`. Rollup mode: the tx carries a
    /// blob and `blobhash(0)` is stored; validium: no blob, zero stored. The first two bytes of
    /// `privilegedRollingHash` give how many privileged txs the batch includes; the hash must equal
    /// the bridge's over that many txs from `nextPrivilegedId`. A batch with ordinary txs must not
    /// leave out a privileged tx whose deadline is before `lastBlockTimestamp` (forced inclusion,
    /// judged against what the batch commits to, so a batch never expires while it waits to be
    /// committed). `lastBlockTimestamp` may not be before the previous batch's; it may be ahead of
    /// L1's clock (an L2 that makes blocks faster than one a second runs ahead), which only makes
    /// the rule stricter for the sequencer. The proof binds it to the last block's header.
    /// Publishes the withdrawals root.
    /// @param batchNumber The batch.
    /// @param newStateRoot The state root after its last block.
    /// @param withdrawalsRoot The root of its L1 messages (zero if none).
    /// @param privilegedRollingHash The rolling hash of its privileged txs (zero if none).
    /// @param lastBlockHash The hash of its last block.
    /// @param nonPrivilegedTxCount How many ordinary (non-privileged) txs it has.
    /// @param lastBlockTimestamp The timestamp of its last block.
    function commitBatch(
        uint256 batchNumber,
        bytes32 newStateRoot,
        bytes32 withdrawalsRoot,
        bytes32 privilegedRollingHash,
        bytes32 lastBlockHash,
        uint256 nonPrivilegedTxCount,
        uint64 lastBlockTimestamp
    ) external onlySequencer whenNotPaused {
        if (batchNumber != lastCommittedBatch + 1) revert BatchNotNext(lastCommittedBatch + 1, batchNumber);
        bytes32 blob = blobhash(0);
        if (validium) {
            if (blob != bytes32(0)) revert UnexpectedBlob();
        } else if (blob == bytes32(0)) {
            revert MissingBlob();
        }
        uint64 previousTimestamp = _batches[batchNumber - 1].lastBlockTimestamp;
        if (lastBlockTimestamp < previousTimestamp) revert TimestampBeforePrevious(lastBlockTimestamp, previousTimestamp);
        uint16 count = uint16(bytes2(privilegedRollingHash));
        bytes32 expected = bridge.getPrivilegedRollingHash(nextPrivilegedId, count);
        if (expected != privilegedRollingHash) revert PrivilegedRollingHashMismatch(expected, privilegedRollingHash);
        uint256 next = nextPrivilegedId + count;
        if (nonPrivilegedTxCount > 0 && bridge.isExpiredAt(next, lastBlockTimestamp)) {
            revert ExpiredPrivilegedTxNotIncluded(next);
        }

        _batches[batchNumber] = BatchCommitment({
            newStateRoot: newStateRoot,
            withdrawalsRoot: withdrawalsRoot,
            privilegedRollingHash: privilegedRollingHash,
            blobVersionedHash: blob,
            lastBlockHash: lastBlockHash,
            nonPrivilegedTxCount: SafeCast.toUint128(nonPrivilegedTxCount),
            lastBlockTimestamp: lastBlockTimestamp
        });
        lastCommittedBatch = batchNumber;
        nextPrivilegedId = next;
        bridge.publishWithdrawals(batchNumber, withdrawalsRoot);
        emit BatchCommitted(batchNumber, newStateRoot);
    }

    /// @notice Verifies the batches `firstBatch .. firstBatch + proofs.length - 1`.
    /// @dev Anyone may call. `firstBatch` must be `lastVerifiedBatch + 1`. `proofs[i][j]` is the
    /// proof of batch `firstBatch + i` for verifier `j`; every verifier must accept. Each verified
    /// batch's privileged txs leave the bridge's pending queue.
    /// @param firstBatch The first batch to verify.
    /// @param proofs Per batch, one proof per required verifier.
    function verifyBatches(uint256 firstBatch, bytes[][] calldata proofs) external whenNotPaused nonReentrant {
        if (proofs.length == 0) revert NoProofs();
        if (firstBatch != lastVerifiedBatch + 1) revert BatchNotNextToVerify(lastVerifiedBatch + 1, firstBatch);
        uint256 verifierCount = _verifiers.length;
        for (uint256 i = 0; i < proofs.length; ++i) {
            uint256 batchNumber = firstBatch + i;
            if (batchNumber > lastCommittedBatch) revert BatchNotCommitted(batchNumber);
            if (proofs[i].length != verifierCount) {
                revert WrongProofCount(batchNumber, verifierCount, proofs[i].length);
            }
            bytes memory inputs = publicInputs(batchNumber);
            for (uint256 j = 0; j < verifierCount; ++j) {
                address verifier = _verifiers[j];
                if (!IBatchVerifier(verifier).verify(inputs, proofs[i][j])) revert ProofRejected(batchNumber, verifier);
            }
            bridge.removePendingTransactionsHashes(uint16(bytes2(_batches[batchNumber].privilegedRollingHash)));
            lastVerifiedBatch = batchNumber;
            emit BatchVerified(batchNumber);
        }
    }

    /// @notice Drops the unverified batches from `batchNumber` on (e.g. after a bad commit).
    /// @dev Owner only, and only while paused, so no commit or verification races it.
    /// @param batchNumber The first batch to drop.
    function revertBatch(uint256 batchNumber) external onlyOwner whenPaused {
        if (batchNumber <= lastVerifiedBatch || batchNumber > lastCommittedBatch) revert CannotRevert(batchNumber);
        uint256 last = lastCommittedBatch;
        uint256 next = nextPrivilegedId;
        for (uint256 b = last; b >= batchNumber; --b) {
            next -= uint16(bytes2(_batches[b].privilegedRollingHash));
            delete _batches[b];
            bridge.publishWithdrawals(b, bytes32(0));
        }
        nextPrivilegedId = next;
        lastCommittedBatch = batchNumber - 1;
        emit BatchesReverted(batchNumber, last);
    }

    /// @notice The 352-byte public inputs of a committed batch's proof (docs/contracts.md).
    /// @param batchNumber A committed batch (≥ 1).
    /// @return `initialStateRoot ‖ finalStateRoot ‖ withdrawalsRoot ‖ privilegedRollingHash ‖
    /// blobVersionedHash ‖ lastBlockHash ‖ uint256(l2ChainId) ‖ uint256(nonPrivilegedTxCount) ‖
    /// previousLastBlockHash ‖ uint256(batchNumber) ‖ uint256(lastBlockTimestamp)`.
    function publicInputs(uint256 batchNumber) public view returns (bytes memory) {
        if (batchNumber == 0 || batchNumber > lastCommittedBatch) revert BatchNotCommitted(batchNumber);
        BatchCommitment storage previous = _batches[batchNumber - 1];
        BatchCommitment storage c = _batches[batchNumber];
        return bytes.concat(
            abi.encodePacked(
                previous.newStateRoot,
                c.newStateRoot,
                c.withdrawalsRoot,
                c.privilegedRollingHash,
                c.blobVersionedHash,
                c.lastBlockHash,
                l2ChainId,
                uint256(c.nonPrivilegedTxCount)
            ),
            abi.encodePacked(previous.lastBlockHash, batchNumber, uint256(c.lastBlockTimestamp))
        );
    }

    /// @notice A batch's commitment (batch 0: the genesis state root only).
    /// @param batchNumber The batch.
    /// @return The stored commitment (zeroes if not committed).
    function getBatch(uint256 batchNumber) external view returns (BatchCommitment memory) {
        return _batches[batchNumber];
    }

    /// @notice The required verifiers, in proof order.
    /// @return The verifier addresses.
    function getVerifiers() external view returns (address[] memory) {
        return _verifiers;
    }

    // ------------------------------------------------------------------ owner

    /// @notice Allows or disallows an address to commit batches.
    /// @param sequencer The address.
    /// @param allowed Whether it may commit.
    function setSequencer(address sequencer, bool allowed) external onlyOwner {
        _setSequencer(sequencer, allowed);
    }

    /// @notice Replaces the set of required verifiers.
    /// @param verifiers_ The verifiers, in the order proofs will be given.
    function setVerifiers(address[] calldata verifiers_) external onlyOwner {
        _setVerifiers(verifiers_);
    }

    // ------------------------------------------------------------------ internals

    function _setSequencer(address sequencer, bool allowed) private {
        if (sequencer == address(0)) revert ZeroAddress();
        isSequencer[sequencer] = allowed;
        emit SequencerSet(sequencer, allowed);
    }

    function _setVerifiers(address[] calldata verifiers_) private {
        if (verifiers_.length == 0) revert NoVerifiers();
        for (uint256 i = 0; i < verifiers_.length; ++i) {
            if (verifiers_[i] == address(0)) revert ZeroAddress();
        }
        _verifiers = verifiers_;
        emit VerifiersSet(verifiers_);
    }
}
