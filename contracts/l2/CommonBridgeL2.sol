// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20L2} from "./IERC20L2.sol";
import {Messenger} from "./Messenger.sol";

/// @title CommonBridgeL2
/// @notice The L2 side of the native bridge, predeployed in the L2 genesis at
/// 0x000000000000000000000000000000000000FFff (DESIGN.md section 7): withdrawals of ETH and ERC20
/// to L1, and delivery of deposits from L1.
/// @dev Stateless: no storage, no constructor, no immutables, so the runtime code works as placed in
/// the genesis. No reentrancy guard is needed: the contract has no state to protect, and each
/// function does its checks first, then its external calls, and records nothing afterwards that a
/// reentrant call could observe.
///
/// ETH is **burned** by sending it to `address(0)` rather than kept in this contract. Reasons:
/// (1) after every transaction this contract's balance is back to zero (deposits are minted to it
/// and forwarded in the same call, withdrawals leave it in the same call), an invariant that tests
/// and monitoring can check and that makes a node bug such as debiting instead of minting a
/// privileged tx's value visible at once instead of silently spending a pot;
/// (2) this contract never holds a pot that a future bug could hand out.
/// The spendable L2 supply shrinks by the amount; `address(0)` has no key and no code, so nothing can
/// move what it holds. Its balance counts the ETH withdrawn through the bridge (plus whatever users
/// send there by mistake).
///
/// Deposits arrive as privileged transactions from L1 with `from` = `to` = this contract, so
/// `msg.sender == address(this)` identifies them; for ETH the node mints the value to this contract
/// before the call. If a deposit can't be delivered it is turned into a withdrawal back to L1 for the
/// same amount, **to the L1 depositor**: the L1 bridge appends the depositor's address (20 bytes)
/// after the ABI-encoded arguments of `mintETH` / `mintERC20` (the selector and arguments stay those
/// of DESIGN.md; the ABI decoder ignores trailing bytes). A call without the suffix refunds to the
/// deposit's L2 recipient address instead.
contract CommonBridgeL2 {
    /// @notice The pseudo-address that stands for ETH in withdrawal messages.
    address public constant ETH = 0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE;

    /// @notice The L2 → L1 Messenger predeploy.
    Messenger public constant MESSENGER = Messenger(0x000000000000000000000000000000000000FFFE);

    /// @notice Gas kept back from a deposit's delivery call so that a failed delivery can always
    /// be turned into a withdrawal (burn, message, events), even if the callee spends all it gets.
    /// @dev It pays for the delivery CALL itself and for everything after it. Measured on Prague
    /// (keel-chain tests `h3_a_first_ever_deposit_to_*`, 200,000-gas deposits on a fresh chain):
    /// the send-back after the call costs at most 64.8k (first-ever message: a zero-to-nonzero
    /// SSTORE in the Messenger; first burn: value to an empty `address(0)`, +25k; the cold
    /// Messenger call; the events), and the CALL at most 34.1k (value 9k + new account 25k + warm
    /// access 0.1k, when the recipient is an empty precompile that fails, e.g. 0x0a; 11.6k for a
    /// cold contract that burns its gas). Worst case 98.9k (the former 60k and 90k reserves lose
    /// the refund: the ETH stayed at this contract); 110k leaves about 11k of margin. A deposit's
    /// L2 gas limit must cover intrinsic gas, this reserve and the recipient's own needs; below
    /// that the recipient gets no gas (an EOA still receives ETH through the 2300 stipend; a
    /// contract recipient's deposit is sent back to L1).
    uint256 public constant DELIVERY_GAS_RESERVE = 110_000;

    /// Where the ABI-encoded arguments of `mintETH(address)` end: selector + one word.
    uint256 private constant MINT_ETH_ARGS_END = 4 + 32;

    /// Where the ABI-encoded arguments of `mintERC20(address,address,address,uint256)` end.
    uint256 private constant MINT_ERC20_ARGS_END = 4 + 4 * 32;

    /// @notice An ETH withdrawal was started (by a user, or by a failed ETH deposit).
    /// @param senderOnL2 Who withdrew; `address(this)` when a failed deposit is sent back.
    /// @param receiverOnL1 Who can claim the ETH on L1.
    /// @param amount The amount of ETH burned on L2.
    /// @param messageId The id of the `L1Message` carrying the withdrawal.
    event WithdrawalInitiated(
        address indexed senderOnL2, address indexed receiverOnL1, uint256 amount, uint256 messageId
    );

    /// @notice An ERC20 withdrawal was started (by a user, or by a failed ERC20 deposit).
    /// @param tokenL1 The L1 token to be released.
    /// @param tokenL2 The L2 token burned (or, for a failed deposit, not minted).
    /// @param receiverOnL1 Who can claim the tokens on L1.
    /// @param senderOnL2 Who withdrew; `address(this)` when a failed deposit is sent back.
    /// @param amount The token amount.
    /// @param messageId The id of the `L1Message` carrying the withdrawal.
    event ERC20WithdrawalInitiated(
        address indexed tokenL1,
        address indexed tokenL2,
        address indexed receiverOnL1,
        address senderOnL2,
        uint256 amount,
        uint256 messageId
    );

    /// @notice An ETH deposit was delivered to its recipient.
    /// @param receiverOnL2 The recipient.
    /// @param amount The amount of ETH.
    event DepositProcessed(address indexed receiverOnL2, uint256 amount);

    /// @notice An ERC20 deposit was minted to its recipient.
    /// @param tokenL1 The L1 token locked in the L1 bridge.
    /// @param tokenL2 The L2 token minted.
    /// @param receiverOnL2 The recipient.
    /// @param amount The token amount.
    event ERC20DepositProcessed(
        address indexed tokenL1, address indexed tokenL2, address indexed receiverOnL2, uint256 amount
    );

    /// @notice A deposit-only function was called by someone other than this contract.
    /// @param caller The rejected `msg.sender`.
    error CallerNotSelf(address caller);

    /// @notice A withdrawal of zero.
    error ZeroAmount();

    /// @notice A withdrawal to the zero address, which could never be claimed on L1.
    error ZeroReceiver();

    /// @notice The L2 token's `l1Address()` is not the given L1 token.
    /// @param tokenL2 The L2 token.
    /// @param expected The L1 token given by the caller.
    /// @param actual What `tokenL2.l1Address()` returned.
    error TokenL1Mismatch(address tokenL2, address expected, address actual);

    /// @notice Sending ETH to `address(0)` failed (cannot happen unless code is ever placed there).
    error BurnFailed();

    /// @notice Withdraws `msg.value` ETH to `receiverOnL1`.
    /// @dev Burns the value (sends it to `address(0)`) and sends the message
    /// `keccak256(abi.encodePacked(ETH, ETH, receiverOnL1, msg.value))` through the Messenger. The
    /// receiver claims it on L1 with the batch number, message id and Merkle proof once the batch is
    /// verified.
    /// @param receiverOnL1 The L1 address that can claim the ETH.
    function withdraw(address receiverOnL1) external payable {
        if (receiverOnL1 == address(0)) revert ZeroReceiver();
        if (msg.value == 0) revert ZeroAmount();
        _withdrawETH(msg.sender, receiverOnL1, msg.value);
    }

    /// @notice Withdraws `amount` of `tokenL2` to L1 as `tokenL1`, to `receiverOnL1`.
    /// @dev Checks `IERC20L2(tokenL2).l1Address() == tokenL1`, burns with
    /// `crosschainBurn(msg.sender, amount)` (no allowance needed: the bridge only ever burns the
    /// caller's own tokens), then sends `keccak256(abi.encodePacked(tokenL1, tokenL2, receiverOnL1,
    /// amount))`. The L1 bridge releases at most what was deposited for the (tokenL1, tokenL2) pair,
    /// so a misbehaving L2 token can only hurt holders of that same pair.
    /// @param tokenL1 The L1 token to receive.
    /// @param tokenL2 The L2 token to burn.
    /// @param receiverOnL1 The L1 address that can claim the tokens.
    /// @param amount The amount to withdraw.
    function withdrawERC20(address tokenL1, address tokenL2, address receiverOnL1, uint256 amount) external {
        if (receiverOnL1 == address(0)) revert ZeroReceiver();
        if (amount == 0) revert ZeroAmount();
        address actual = IERC20L2(tokenL2).l1Address();
        if (actual != tokenL1) revert TokenL1Mismatch(tokenL2, tokenL1, actual);
        IERC20L2(tokenL2).crosschainBurn(msg.sender, amount);
        _sendERC20Withdrawal(msg.sender, tokenL1, tokenL2, receiverOnL1, amount);
    }

    /// @notice Delivers an ETH deposit from L1: sends `msg.value` to `to`.
    /// @dev Only callable by this contract itself, i.e. by a privileged transaction from the L1
    /// bridge (whose value the node mints to this contract first). Never reverts on a failed
    /// delivery: if `to` reverts (or runs out of the gas it is given, which is everything above
    /// `DELIVERY_GAS_RESERVE`), the value is burned and withdrawn back to L1 to the depositor (the
    /// 20 bytes the L1 bridge appends after the arguments; `to` if absent). The recipient's return
    /// data is not copied.
    /// @param to The L2 recipient.
    function mintETH(address to) external payable {
        _onlySelf();
        uint256 amount = msg.value;
        if (_call(to, amount, "")) {
            emit DepositProcessed(to, amount);
        } else {
            _withdrawETH(address(this), _refundReceiver(MINT_ETH_ARGS_END, to), amount);
        }
    }

    /// @notice Delivers an ERC20 deposit from L1: mints `amount` of `tokenL2` to `destination`.
    /// @dev Only callable by this contract itself (a privileged transaction from the L1 bridge). Mints
    /// only if `tokenL2.l1Address()` returns exactly `tokenL1`; if that check fails (wrong address,
    /// no code, malformed answer, revert) or `crosschainMint` reverts, it never reverts but starts an
    /// ERC20 withdrawal of the same amount for the same (tokenL1, tokenL2) pair back to L1, to the
    /// depositor (the 20 bytes appended after the arguments; `destination` if absent); the L1
    /// bridge recorded that pair's provenance, so the withdrawal is claimable.
    /// @param tokenL1 The L1 token locked in the L1 bridge.
    /// @param tokenL2 The L2 token to mint.
    /// @param destination The L2 recipient.
    /// @param amount The amount.
    function mintERC20(address tokenL1, address tokenL2, address destination, uint256 amount) external {
        _onlySelf();
        bool delivered = _l1AddressIs(tokenL2, tokenL1)
            && _call(tokenL2, 0, abi.encodeCall(IERC20L2.crosschainMint, (destination, amount)));
        if (delivered) {
            emit ERC20DepositProcessed(tokenL1, tokenL2, destination, amount);
        } else {
            _sendERC20Withdrawal(
                address(this), tokenL1, tokenL2, _refundReceiver(MINT_ERC20_ARGS_END, destination), amount
            );
        }
    }

    /// The L1 depositor appended by the L1 bridge at `argsEnd` (the end of the ABI-encoded
    /// arguments), or `fallbackReceiver` if the calldata carries no such suffix.
    function _refundReceiver(uint256 argsEnd, address fallbackReceiver) private pure returns (address) {
        if (msg.data.length < argsEnd + 20) return fallbackReceiver;
        return address(bytes20(msg.data[argsEnd:argsEnd + 20]));
    }

    /// Reverts unless the caller is this contract (a privileged transaction from the L1 bridge).
    function _onlySelf() private view {
        if (msg.sender != address(this)) revert CallerNotSelf(msg.sender);
    }

    /// Burns `amount` ETH and sends the ETH withdrawal message.
    function _withdrawETH(address senderOnL2, address receiverOnL1, uint256 amount) private {
        (bool burned,) = address(0).call{value: amount}("");
        if (!burned) revert BurnFailed();
        uint256 messageId = MESSENGER.sendMessageToL1(keccak256(abi.encodePacked(ETH, ETH, receiverOnL1, amount)));
        emit WithdrawalInitiated(senderOnL2, receiverOnL1, amount, messageId);
    }

    /// Sends the ERC20 withdrawal message (the tokens are already burned, or were never minted).
    function _sendERC20Withdrawal(
        address senderOnL2,
        address tokenL1,
        address tokenL2,
        address receiverOnL1,
        uint256 amount
    ) private {
        uint256 messageId =
            MESSENGER.sendMessageToL1(keccak256(abi.encodePacked(tokenL1, tokenL2, receiverOnL1, amount)));
        emit ERC20WithdrawalInitiated(tokenL1, tokenL2, receiverOnL1, senderOnL2, amount, messageId);
    }

    /// Gas for a deposit's delivery call: all but `DELIVERY_GAS_RESERVE` (zero if less is left; a
    /// value transfer still carries the 2300 stipend, enough for an EOA).
    function _deliveryGas() private view returns (uint256) {
        uint256 left = gasleft();
        return left > DELIVERY_GAS_RESERVE ? left - DELIVERY_GAS_RESERVE : 0;
    }

    /// Calls `target` with `value` and `data` under `_deliveryGas()`, without copying return data
    /// (so a callee can't make the bridge spend its reserve on a huge return). True on success.
    function _call(address target, uint256 value, bytes memory data) private returns (bool success) {
        uint256 gasLimit = _deliveryGas();
        assembly ("memory-safe") {
            success := call(gasLimit, target, value, add(data, 0x20), mload(data), 0, 0)
        }
    }

    /// True iff `token.l1Address()` succeeds under `_deliveryGas()` and returns exactly one
    /// ABI-encoded address equal to `expected`. Never reverts (no code, a revert, or a malformed
    /// answer give false).
    function _l1AddressIs(address token, address expected) private view returns (bool matches) {
        uint256 gasLimit = _deliveryGas();
        bytes4 selector = IERC20L2.l1Address.selector;
        assembly ("memory-safe") {
            mstore(0x00, selector)
            let ok := staticcall(gasLimit, token, 0x00, 0x04, 0x00, 0x20)
            matches := and(ok, and(eq(returndatasize(), 0x20), eq(mload(0x00), expected)))
        }
    }
}
