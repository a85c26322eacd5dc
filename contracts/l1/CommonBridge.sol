// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {Governed} from "./Governed.sol";
import {ICommonBridge} from "./ICommonBridge.sol";
import {ICommonBridgeL2} from "./ICommonBridgeL2.sol";
import {IOnChainProposer} from "./IOnChainProposer.sol";

/// @title CommonBridge
/// @notice The L1 side of the native bridge (DESIGN.md section 6): ETH and ERC20 deposits, generic
/// L1 → L2 calls (`sendToL2`), the queue of pending privileged transactions, and claims of
/// withdrawals from verified batches. Deployed behind an ERC-1967 proxy (UUPS).
/// @dev Every L1 → L2 message is a privileged transaction. Its hash
/// `keccak256(u256(l2ChainId) ‖ from ‖ to ‖ u256(id) ‖ u256(value) ‖ u256(gasLimit) ‖ keccak256(data))`
/// is queued with a deadline under its transaction id; ids are consecutive from 0, so the pending
/// queue is the id range `[pendingHead, transactionId)`. The OnChainProposer checks each committed
/// batch's rolling hash against a range of it and drops the range once the batch is verified.
///
/// Paying for L2 gas: the L2 gas limit of every privileged tx is capped at `maxPrivilegedGasLimit`,
/// and the sender burns `gasLimit / L2_GAS_PER_BURNED_L1_GAS` L1 gas (an empty loop), so flooding
/// the L2 with deposits costs L1 gas in proportion to the L2 gas it asks for (docs/contracts.md).
///
/// Failed deposits: the L1 depositor is appended (20 bytes) after the ABI-encoded `mintETH` /
/// `mintERC20` arguments. The L2 bridge ignores it on success and sends a failed deposit back to
/// L1 to that address.
contract CommonBridge is ICommonBridge, Governed, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The L2 bridge predeploy: `from` and `to` of deposits, `senderOnL2` of withdrawals.
    address public constant L2_BRIDGE = 0x000000000000000000000000000000000000FFff;

    /// @notice The pseudo-address that stands for ETH in withdrawal messages.
    address public constant ETH = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;

    /// @notice The offset added (mod 2^160) to a contract caller's address to get its L2 sender.
    uint160 public constant L1_ALIAS_OFFSET = uint160(0x4b65000000000000000000000000000000004b65);

    /// @notice L2 gas of an ETH deposit (`deposit` and `receive`).
    uint256 public constant ETH_DEPOSIT_GAS_LIMIT = 200_000;

    /// @notice L2 gas of an ERC20 deposit.
    uint256 public constant ERC20_DEPOSIT_GAS_LIMIT = 300_000;

    /// @notice One L1 gas is burned per this much L2 gas a privileged tx asks for.
    uint256 public constant L2_GAS_PER_BURNED_L1_GAS = 16;

    /// @notice The least `inclusionMaxWait`: longer than the L1 watcher's lag behind L1's head
    /// (it reads up to the `safe` block, up to about 13 minutes behind on Ethereum), so that a
    /// batch sealed before the sequencer could see a privileged tx is never refused for leaving
    /// it out, and so that a stream of deposits can't shut ordinary transactions out.
    uint256 public constant MIN_INCLUSION_MAX_WAIT = 30 minutes;

    /// @notice The least `maxPrivilegedGasLimit`: an ERC20 deposit must always be allowed.
    uint256 public constant MIN_PRIVILEGED_GAS_LIMIT = 300_000;

    /// @notice The L2 chain id, part of every privileged tx hash.
    uint256 public l2ChainId;

    /// @notice The OnChainProposer, the only caller of the queue and withdrawal-root functions.
    address public onChainProposer;

    /// @notice Seconds a privileged tx may stay pending before batches must include it.
    uint256 public inclusionMaxWait;

    /// @notice The largest L2 gas limit a privileged tx may ask for.
    uint256 public maxPrivilegedGasLimit;

    /// @notice The id of the next privileged tx (also the number sent so far).
    uint256 public transactionId;

    /// @notice The id of the first privileged tx whose batch is not verified yet.
    uint256 public pendingHead;

    /// @notice The hash of each privileged tx, by transaction id.
    mapping(uint256 id => bytes32) public privilegedTxHashes;

    /// @notice The inclusion deadline (unix seconds) of each privileged tx, by transaction id.
    mapping(uint256 id => uint256) public privilegedTxDeadlines;

    /// @notice Token provenance: how much of `tokenL1` was deposited into `tokenL2` and not yet
    /// withdrawn. Withdrawals of the pair are capped by it.
    mapping(address tokenL1 => mapping(address tokenL2 => uint256)) public deposits;

    /// @notice The withdrawals root of each committed batch.
    mapping(uint256 batchNumber => bytes32) public withdrawalsRoots;

    /// @notice Whether the L2 → L1 message with this id has been claimed.
    mapping(uint256 messageId => bool) public claimedMessages;

    /// @notice The L2 block gas limit; `maxPrivilegedGasLimit` may not exceed it, so every
    /// privileged tx fits an L2 block.
    uint256 public l2BlockGasLimit;

    /// @notice Seconds a pause may block claims: once a pause is older, claims go through again
    /// (deposits and messages stay stopped), so a pause can't hold users' funds for good.
    uint256 public maxPause;

    /// @notice A privileged transaction was queued for the L2.
    /// @param l1From The L1 account that caused it (`msg.sender`).
    /// @param from The L2 sender (the L2 bridge for deposits; the caller, aliased if a contract,
    /// for `sendToL2`).
    /// @param to The L2 recipient of the call.
    /// @param transactionId Its id (the privileged tx's nonce).
    /// @param value The L2 value (minted for deposits, else taken from `from`).
    /// @param gasLimit The L2 gas limit.
    /// @param data The L2 calldata.
    event PrivilegedTxSent(
        address indexed l1From,
        address from,
        address to,
        uint256 transactionId,
        uint256 value,
        uint256 gasLimit,
        bytes data
    );

    /// @notice An ETH withdrawal was paid out.
    event WithdrawalClaimed(address indexed receiver, uint256 indexed batchNumber, uint256 indexed messageId, uint256 amount);

    /// @notice An ERC20 withdrawal was paid out.
    event ERC20WithdrawalClaimed(
        address indexed tokenL1,
        address indexed receiver,
        uint256 indexed messageId,
        address tokenL2,
        uint256 batchNumber,
        uint256 amount
    );

    /// @notice The inclusion deadline changed (applies to privileged txs sent afterwards).
    event InclusionMaxWaitChanged(uint256 inclusionMaxWait);

    /// @notice The deadlines of the pending privileged txs `firstId .. firstId + count - 1` were
    /// moved to at least `deadline`.
    event DeadlinesExtended(uint256 firstId, uint256 count, uint256 deadline);

    /// @notice The longest pause that blocks claims changed.
    event MaxPauseChanged(uint256 maxPause);

    /// @notice The cap on privileged txs' L2 gas changed.
    event MaxPrivilegedGasLimitChanged(uint256 maxPrivilegedGasLimit);

    /// @notice The caller is not the OnChainProposer.
    error CallerNotOnChainProposer(address caller);
    /// @notice A zero address where one is required.
    error ZeroAddress();
    /// @notice A zero amount where value must move.
    error ZeroAmount();
    /// @notice The L2 gas limit is zero or above `maxPrivilegedGasLimit`.
    error InvalidGasLimit(uint256 gasLimit, uint256 max);
    /// @notice `inclusionMaxWait` below `MIN_INCLUSION_MAX_WAIT`.
    error InclusionMaxWaitTooShort(uint256 inclusionMaxWait, uint256 min);
    /// @notice `maxPrivilegedGasLimit` outside `[MIN_PRIVILEGED_GAS_LIMIT, l2BlockGasLimit]`.
    error InvalidMaxPrivilegedGasLimit(uint256 maxPrivilegedGasLimit, uint256 min, uint256 max);
    /// @notice `maxPause` is zero.
    error InvalidMaxPause();
    /// @notice Claims are stopped by a pause younger than `maxPause`.
    error ClaimsPaused(uint256 pausedAt, uint256 maxPause);
    /// @notice The token moved a different amount than asked (fee-on-transfer tokens are not supported).
    error TransferAmountMismatch(uint256 expected, uint256 received);
    /// @notice A privileged-tx range reaches past the last one sent or starts before the pending head.
    error PrivilegedRangeOutOfBounds(uint256 firstId, uint256 count);
    /// @notice More privileged txs to drop than are pending.
    error NotEnoughPending(uint256 count, uint256 pending);
    /// @notice The batch is not verified yet.
    error BatchNotVerified(uint256 batchNumber);
    /// @notice The batch has no withdrawals root.
    error NoWithdrawals(uint256 batchNumber);
    /// @notice The message was claimed before.
    error AlreadyClaimed(uint256 messageId);
    /// @notice The Merkle proof does not lead to the batch's withdrawals root.
    error InvalidProof();
    /// @notice The pair's provenance is smaller than the amount.
    error InsufficientProvenance(address tokenL1, address tokenL2, uint256 available, uint256 amount);
    /// @notice Sending ETH to the receiver failed.
    error EthTransferFailed(address receiver, uint256 amount);

    modifier onlyOnChainProposer() {
        if (msg.sender != onChainProposer) revert CallerNotOnChainProposer(msg.sender);
        _;
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Initializes the proxy's storage (once).
    /// @param owner_ The owner: upgrades, unpauses, changes parameters.
    /// @param securityCouncil_ May pause (zero: only the owner).
    /// @param onChainProposer_ The OnChainProposer proxy.
    /// @param l2ChainId_ The L2 chain id.
    /// @param inclusionMaxWait_ Seconds before a pending privileged tx must be included
    /// (at least `MIN_INCLUSION_MAX_WAIT`).
    /// @param maxPrivilegedGasLimit_ The cap on a privileged tx's L2 gas limit
    /// (`MIN_PRIVILEGED_GAS_LIMIT` up to `l2BlockGasLimit_`).
    /// @param l2BlockGasLimit_ The L2 block gas limit.
    /// @param maxPause_ Seconds a pause may block claims (non-zero).
    function initialize(
        address owner_,
        address securityCouncil_,
        address onChainProposer_,
        uint256 l2ChainId_,
        uint256 inclusionMaxWait_,
        uint256 maxPrivilegedGasLimit_,
        uint256 l2BlockGasLimit_,
        uint256 maxPause_
    ) external initializer {
        if (onChainProposer_ == address(0)) revert ZeroAddress();
        __Governed_init(owner_, securityCouncil_);
        onChainProposer = onChainProposer_;
        l2ChainId = l2ChainId_;
        l2BlockGasLimit = l2BlockGasLimit_;
        _setInclusionMaxWait(inclusionMaxWait_);
        _setMaxPrivilegedGasLimit(maxPrivilegedGasLimit_);
        _setMaxPause(maxPause_);
    }

    // ------------------------------------------------------------------ deposits and messages

    /// @notice Deposits `msg.value` ETH to the caller's L2 address: `msg.sender` for an EOA (or an
    /// EIP-7702-delegated EOA), the aliased address for a contract (see `l2SenderOf`).
    receive() external payable whenNotPaused nonReentrant {
        _depositETH(l2SenderOf(msg.sender));
    }

    /// @notice Deposits `msg.value` ETH to `l2Recipient` on L2.
    /// @dev Queues a privileged tx from the L2 bridge to the L2 bridge calling
    /// `mintETH(l2Recipient)` (with the depositor appended) with `value = msg.value`.
    /// @param l2Recipient Who receives the ETH on L2.
    function deposit(address l2Recipient) external payable whenNotPaused nonReentrant {
        _depositETH(l2Recipient);
    }

    /// @notice Deposits `amount` of `tokenL1` to `destination` on L2, minted as `tokenL2`.
    /// @dev Takes the tokens (the caller must have approved the bridge), adds `amount` to
    /// `deposits[tokenL1][tokenL2]`, and queues a privileged tx calling
    /// `mintERC20(tokenL1, tokenL2, destination, amount)` on the L2 bridge. If the L2 token does not
    /// belong to `tokenL1`, the L2 bridge sends the amount back to the depositor on L1.
    /// @param tokenL1 The L1 token.
    /// @param tokenL2 The L2 token (its `l1Address()` must be `tokenL1`).
    /// @param destination Who receives the tokens on L2.
    /// @param amount How much.
    function depositERC20(address tokenL1, address tokenL2, address destination, uint256 amount)
        external
        whenNotPaused
        nonReentrant
    {
        if (tokenL1 == address(0) || tokenL2 == address(0) || destination == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 before = IERC20(tokenL1).balanceOf(address(this));
        IERC20(tokenL1).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(tokenL1).balanceOf(address(this)) - before;
        if (received != amount) revert TransferAmountMismatch(amount, received);
        deposits[tokenL1][tokenL2] += amount;
        bytes memory data = abi.encodePacked(
            abi.encodeCall(ICommonBridgeL2.mintERC20, (tokenL1, tokenL2, destination, amount)), msg.sender
        );
        _sendPrivilegedTx(L2_BRIDGE, L2_BRIDGE, 0, ERC20_DEPOSIT_GAS_LIMIT, data);
    }

    /// @notice Sends a call to the L2: `to.call{value, gas: gasLimit}(data)` from the caller.
    /// @dev The L2 sender is `l2SenderOf(msg.sender)`, so an L1 contract can't pose as the L2
    /// account with the same address. `value` is taken from the sender's L2 balance, not sent here;
    /// if the sender can't pay, the L2 tx fails without effect. Burns L1 gas for the L2 gas.
    /// @param to The L2 callee.
    /// @param gasLimit The L2 gas limit (at most `maxPrivilegedGasLimit`).
    /// @param value The L2 value.
    /// @param data The L2 calldata.
    function sendToL2(address to, uint256 gasLimit, uint256 value, bytes calldata data) external whenNotPaused {
        _sendPrivilegedTx(l2SenderOf(msg.sender), to, value, gasLimit, data);
    }

    /// @notice The L2 address that stands for the L1 caller `l1Caller`: itself when it is the
    /// transaction's signer (`tx.origin`) or an EIP-7702-delegated EOA (its code is the 23-byte
    /// delegation designator `0xef0100 ‖ address`; its key controls the same address on L2),
    /// `applyL1Alias(l1Caller)` for any other caller (a contract, or a contract under construction).
    /// @param l1Caller The L1 caller.
    /// @return The L2 address.
    function l2SenderOf(address l1Caller) public view returns (address) {
        if (l1Caller == tx.origin || _isDelegatedEoa(l1Caller)) return l1Caller;
        return applyL1Alias(l1Caller);
    }

    /// @notice The L2 sender of an L1 contract: `l1Address + L1_ALIAS_OFFSET` mod 2^160.
    /// @param l1Address The L1 contract.
    /// @return The aliased L2 address.
    function applyL1Alias(address l1Address) public pure returns (address) {
        unchecked {
            return address(uint160(l1Address) + L1_ALIAS_OFFSET);
        }
    }

    /// @notice The number of privileged txs not yet in a verified batch.
    /// @return The count.
    function pendingTxCount() external view returns (uint256) {
        return transactionId - pendingHead;
    }

    /// @notice The privileged rolling hash over the first `n` pending privileged txs.
    /// @param n How many (from the oldest pending one).
    /// @return `bytes2(n) ‖ low 30 bytes of keccak256(h1 ‖ … ‖ hn)`, zero for n = 0.
    function getPendingTransactionsVersionedHash(uint16 n) external view returns (bytes32) {
        return getPrivilegedRollingHash(pendingHead, n);
    }

    /// @inheritdoc ICommonBridge
    function getPrivilegedRollingHash(uint256 firstId, uint16 count) public view returns (bytes32) {
        if (count == 0) return bytes32(0);
        if (firstId < pendingHead || firstId + count > transactionId) {
            revert PrivilegedRangeOutOfBounds(firstId, count);
        }
        bytes memory hashes = new bytes(uint256(count) * 32);
        for (uint256 i = 0; i < count; ++i) {
            bytes32 h = privilegedTxHashes[firstId + i];
            assembly ("memory-safe") {
                mstore(add(add(hashes, 0x20), mul(i, 0x20)), h)
            }
        }
        bytes32 digest = keccak256(hashes);
        return bytes32(uint256(count) << 240) | (digest & bytes32(uint256(type(uint240).max)));
    }

    /// @inheritdoc ICommonBridge
    function isExpiredAt(uint256 id, uint256 timestamp) external view returns (bool) {
        return id < transactionId && privilegedTxDeadlines[id] < timestamp;
    }

    /// @inheritdoc ICommonBridge
    function removePendingTransactionsHashes(uint16 count) external onlyOnChainProposer {
        uint256 pending = transactionId - pendingHead;
        if (count > pending) revert NotEnoughPending(count, pending);
        pendingHead += count;
    }

    // ------------------------------------------------------------------ withdrawals

    /// @inheritdoc ICommonBridge
    function publishWithdrawals(uint256 batchNumber, bytes32 withdrawalsRoot) external onlyOnChainProposer {
        withdrawalsRoots[batchNumber] = withdrawalsRoot;
    }

    /// @notice Claims an ETH withdrawal to `msg.sender` from a verified batch.
    /// @dev The leaf is `keccak256(L2_BRIDGE ‖ keccak256(ETH ‖ ETH ‖ msg.sender ‖ amount) ‖ messageId)`.
    /// Claims stay open during a pause older than `maxPause`.
    /// @param amount The withdrawn amount.
    /// @param batchNumber The batch whose withdrawals root holds the message.
    /// @param messageId The message's id on L2.
    /// @param proof The Merkle proof of the leaf (DESIGN.md section 7 tree).
    function claimWithdrawal(uint256 amount, uint256 batchNumber, uint256 messageId, bytes32[] calldata proof)
        external
        whenClaimsOpen
        nonReentrant
    {
        _claimETH(msg.sender, amount, batchNumber, messageId, proof);
    }

    /// @notice Claims an ETH withdrawal on behalf of `receiver`, the receiver named in the message:
    /// the ETH goes to `receiver`, never to the caller. For routers, relayers and contracts that
    /// can't call `claimWithdrawal` themselves (e.g. the L1 depositor of a failed deposit).
    /// @param receiver The message's receiver, who is paid.
    /// @param amount The withdrawn amount.
    /// @param batchNumber The batch whose withdrawals root holds the message.
    /// @param messageId The message's id on L2.
    /// @param proof The Merkle proof of the leaf.
    function claimWithdrawalFor(
        address receiver,
        uint256 amount,
        uint256 batchNumber,
        uint256 messageId,
        bytes32[] calldata proof
    ) external whenClaimsOpen nonReentrant {
        _claimETH(receiver, amount, batchNumber, messageId, proof);
    }

    /// @notice Claims an ERC20 withdrawal to `msg.sender` from a verified batch.
    /// @dev The amount must not exceed the pair's provenance, which it then reduces.
    /// @param tokenL1 The L1 token paid out.
    /// @param tokenL2 The L2 token that was burned.
    /// @param amount The amount.
    /// @param batchNumber The batch whose withdrawals root holds the message.
    /// @param messageId The message's id on L2.
    /// @param proof The Merkle proof of the leaf.
    function claimWithdrawalERC20(
        address tokenL1,
        address tokenL2,
        uint256 amount,
        uint256 batchNumber,
        uint256 messageId,
        bytes32[] calldata proof
    ) external whenClaimsOpen nonReentrant {
        _claimERC20(tokenL1, tokenL2, msg.sender, amount, batchNumber, messageId, proof);
    }

    /// @notice Claims an ERC20 withdrawal on behalf of `receiver`, the receiver named in the
    /// message: the tokens go to `receiver`, never to the caller.
    /// @param tokenL1 The L1 token paid out.
    /// @param tokenL2 The L2 token that was burned.
    /// @param receiver The message's receiver, who is paid.
    /// @param amount The amount.
    /// @param batchNumber The batch whose withdrawals root holds the message.
    /// @param messageId The message's id on L2.
    /// @param proof The Merkle proof of the leaf.
    function claimWithdrawalERC20For(
        address tokenL1,
        address tokenL2,
        address receiver,
        uint256 amount,
        uint256 batchNumber,
        uint256 messageId,
        bytes32[] calldata proof
    ) external whenClaimsOpen nonReentrant {
        _claimERC20(tokenL1, tokenL2, receiver, amount, batchNumber, messageId, proof);
    }

    /// @notice The L1 message leaf of a withdrawal, as the L2 Messenger's `L1Message` defines it.
    /// @param data The message data (the withdrawal hash).
    /// @param messageId The message id.
    /// @return `keccak256(L2_BRIDGE ‖ data ‖ messageId)`.
    function messageLeaf(bytes32 data, uint256 messageId) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(L2_BRIDGE, data, messageId));
    }

    // ------------------------------------------------------------------ owner

    /// @notice Sets the inclusion deadline for privileged txs sent from now on.
    /// @param inclusionMaxWait_ Seconds, at least `MIN_INCLUSION_MAX_WAIT`.
    function setInclusionMaxWait(uint256 inclusionMaxWait_) external onlyOwner {
        _setInclusionMaxWait(inclusionMaxWait_);
    }

    /// @notice Moves the deadlines of pending privileged txs later (never earlier), e.g. to give
    /// the sequencer time after an L1 outage or a `revertBatch`.
    /// @param firstId The first transaction id (not before the pending head).
    /// @param count How many consecutive ids (all already sent).
    /// @param deadline The new deadline (unix seconds); a later existing deadline is kept.
    function extendDeadlines(uint256 firstId, uint256 count, uint256 deadline) external onlyOwner {
        if (firstId < pendingHead || firstId + count > transactionId) revert PrivilegedRangeOutOfBounds(firstId, count);
        for (uint256 id = firstId; id < firstId + count; ++id) {
            if (privilegedTxDeadlines[id] < deadline) privilegedTxDeadlines[id] = deadline;
        }
        emit DeadlinesExtended(firstId, count, deadline);
    }

    /// @notice Sets the cap on a privileged tx's L2 gas limit.
    /// @param maxPrivilegedGasLimit_ The cap, from `MIN_PRIVILEGED_GAS_LIMIT` to `l2BlockGasLimit`.
    function setMaxPrivilegedGasLimit(uint256 maxPrivilegedGasLimit_) external onlyOwner {
        _setMaxPrivilegedGasLimit(maxPrivilegedGasLimit_);
    }

    /// @notice Sets how long a pause may block claims.
    /// @param maxPause_ Seconds (non-zero).
    function setMaxPause(uint256 maxPause_) external onlyOwner {
        _setMaxPause(maxPause_);
    }

    /// @notice True when claims are open: not paused, or paused for at least `maxPause`.
    /// @return Whether claims go through now.
    function claimsOpen() public view returns (bool) {
        return !paused() || block.timestamp >= pausedAt + maxPause;
    }

    // ------------------------------------------------------------------ internals

    modifier whenClaimsOpen() {
        if (!claimsOpen()) revert ClaimsPaused(pausedAt, maxPause);
        _;
    }

    function _setInclusionMaxWait(uint256 inclusionMaxWait_) private {
        if (inclusionMaxWait_ < MIN_INCLUSION_MAX_WAIT) {
            revert InclusionMaxWaitTooShort(inclusionMaxWait_, MIN_INCLUSION_MAX_WAIT);
        }
        inclusionMaxWait = inclusionMaxWait_;
        emit InclusionMaxWaitChanged(inclusionMaxWait_);
    }

    function _setMaxPrivilegedGasLimit(uint256 maxPrivilegedGasLimit_) private {
        if (maxPrivilegedGasLimit_ < MIN_PRIVILEGED_GAS_LIMIT || maxPrivilegedGasLimit_ > l2BlockGasLimit) {
            revert InvalidMaxPrivilegedGasLimit(maxPrivilegedGasLimit_, MIN_PRIVILEGED_GAS_LIMIT, l2BlockGasLimit);
        }
        maxPrivilegedGasLimit = maxPrivilegedGasLimit_;
        emit MaxPrivilegedGasLimitChanged(maxPrivilegedGasLimit_);
    }

    function _setMaxPause(uint256 maxPause_) private {
        if (maxPause_ == 0) revert InvalidMaxPause();
        maxPause = maxPause_;
        emit MaxPauseChanged(maxPause_);
    }

    /// True iff `account`'s code is an EIP-7702 delegation designator (`0xef0100 ‖ address`).
    function _isDelegatedEoa(address account) private view returns (bool) {
        if (account.code.length != 23) return false;
        bytes memory code = account.code;
        return code[0] == 0xef && code[1] == 0x01 && code[2] == 0x00;
    }

    /// Pays an ETH withdrawal to `receiver` after checking its claim.
    function _claimETH(address receiver, uint256 amount, uint256 batchNumber, uint256 messageId, bytes32[] calldata proof)
        private
    {
        bytes32 data = keccak256(abi.encodePacked(ETH, ETH, receiver, amount));
        _claim(batchNumber, messageId, data, proof);
        (bool ok,) = receiver.call{value: amount}("");
        if (!ok) revert EthTransferFailed(receiver, amount);
        emit WithdrawalClaimed(receiver, batchNumber, messageId, amount);
    }

    /// Pays an ERC20 withdrawal to `receiver` after checking its claim and the pair's provenance.
    function _claimERC20(
        address tokenL1,
        address tokenL2,
        address receiver,
        uint256 amount,
        uint256 batchNumber,
        uint256 messageId,
        bytes32[] calldata proof
    ) private {
        bytes32 data = keccak256(abi.encodePacked(tokenL1, tokenL2, receiver, amount));
        _claim(batchNumber, messageId, data, proof);
        uint256 available = deposits[tokenL1][tokenL2];
        if (available < amount) revert InsufficientProvenance(tokenL1, tokenL2, available, amount);
        deposits[tokenL1][tokenL2] = available - amount;
        IERC20(tokenL1).safeTransfer(receiver, amount);
        emit ERC20WithdrawalClaimed(tokenL1, receiver, messageId, tokenL2, batchNumber, amount);
    }

    function _depositETH(address l2Recipient) private {
        if (l2Recipient == address(0)) revert ZeroAddress();
        if (msg.value == 0) revert ZeroAmount();
        bytes memory data = abi.encodePacked(abi.encodeCall(ICommonBridgeL2.mintETH, (l2Recipient)), msg.sender);
        _sendPrivilegedTx(L2_BRIDGE, L2_BRIDGE, msg.value, ETH_DEPOSIT_GAS_LIMIT, data);
    }

    /// Checks the claim, marks the message claimed.
    function _claim(uint256 batchNumber, uint256 messageId, bytes32 data, bytes32[] calldata proof) private {
        if (batchNumber > IOnChainProposer(onChainProposer).lastVerifiedBatch()) revert BatchNotVerified(batchNumber);
        bytes32 root = withdrawalsRoots[batchNumber];
        if (root == bytes32(0)) revert NoWithdrawals(batchNumber);
        if (claimedMessages[messageId]) revert AlreadyClaimed(messageId);
        if (!MerkleProof.verifyCalldata(proof, root, messageLeaf(data, messageId))) revert InvalidProof();
        claimedMessages[messageId] = true;
    }

    /// Queues a privileged tx (hash and deadline under the next id), emits it, burns L1 gas for it.
    function _sendPrivilegedTx(address from, address to, uint256 value, uint256 gasLimit, bytes memory data) private {
        if (gasLimit == 0 || gasLimit > maxPrivilegedGasLimit) revert InvalidGasLimit(gasLimit, maxPrivilegedGasLimit);
        uint256 id = transactionId;
        privilegedTxHashes[id] =
            keccak256(abi.encodePacked(l2ChainId, from, to, id, value, gasLimit, keccak256(data)));
        privilegedTxDeadlines[id] = block.timestamp + inclusionMaxWait;
        transactionId = id + 1;
        emit PrivilegedTxSent(msg.sender, from, to, id, value, gasLimit, data);
        _burnGas(gasLimit / L2_GAS_PER_BURNED_L1_GAS);
    }

    /// Spends `amount` gas in an empty loop.
    function _burnGas(uint256 amount) private view {
        uint256 stop = gasleft() - amount;
        while (gasleft() > stop) {}
    }
}
