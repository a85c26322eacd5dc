// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Messenger
/// @notice L2 → L1 message emitter, predeployed in the L2 genesis at
/// 0x000000000000000000000000000000000000FFFE (DESIGN.md section 7).
/// @dev Each `L1Message` becomes one leaf `keccak256(senderOnL2 ‖ data ‖ uint256(messageId))` of its
/// batch's withdrawals tree, which the L1 `CommonBridge` checks claims against.
///
/// Decisions:
/// - `messageId` starts at **1**: `lastMessageId` starts at 0 (empty genesis storage) and is
///   incremented *before* the event, as DESIGN.md says ("increments `lastMessageId` and emits"). So
///   `lastMessageId` is both the id of the last message and the number of messages sent so far,
///   and id 0 never names a message. Ids are global (not per batch) and never reused.
/// - `senderOnL2` is `msg.sender`, which the access check makes always the L2 bridge (0x…ffff);
///   the L1 bridge therefore builds withdrawal leaves with `senderOnL2 = 0x…ffff`.
///
/// No constructor, no immutables: the runtime code is placed in the genesis and storage starts empty.
contract Messenger {
    /// @notice The L2 bridge, the only allowed sender.
    address public constant L2_BRIDGE = 0x000000000000000000000000000000000000FFff;

    /// @notice Id of the last message sent (0 before the first); also the number of messages sent.
    uint256 public lastMessageId;

    /// @notice One L2 → L1 message.
    /// @param senderOnL2 The L2 contract that sent it (always the L2 bridge).
    /// @param data The 32-byte payload (for the bridge: the withdrawal's hash).
    /// @param messageId The message's id, from 1, unique on this chain.
    event L1Message(address indexed senderOnL2, bytes32 indexed data, uint256 indexed messageId);

    /// @notice The caller is not the L2 bridge.
    /// @param caller The rejected `msg.sender`.
    error CallerNotBridge(address caller);

    /// @notice Sends `data` to L1: increments `lastMessageId` and emits `L1Message(msg.sender, data,
    /// lastMessageId)`.
    /// @dev Only the L2 bridge (0x…ffff) may call it. The return value is an addition to DESIGN.md's
    /// signature (the selector is unchanged) so the bridge can put the id in its own events.
    /// @param data The payload, e.g. `keccak256(abi.encodePacked(tokenL1, tokenL2, receiver, amount))`.
    /// @return messageId The id of this message (the first is 1).
    function sendMessageToL1(bytes32 data) external returns (uint256 messageId) {
        if (msg.sender != L2_BRIDGE) revert CallerNotBridge(msg.sender);
        messageId = ++lastMessageId;
        emit L1Message(msg.sender, data, messageId);
    }
}
