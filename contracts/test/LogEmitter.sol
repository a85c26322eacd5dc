// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Emits events on demand, for the RPC tests of logs, filters and subscriptions.
contract LogEmitter {
    event Ping(address indexed sender, uint256 indexed id, bytes data);
    event Pong(uint256 indexed id);
    event Anonymous(uint256 value) anonymous;

    /// One `Ping(msg.sender, id, data)`.
    function ping(uint256 id, bytes calldata data) external {
        emit Ping(msg.sender, id, data);
    }

    /// `Pong(first)`, `Pong(first + 1)`, ... `count` events in one transaction.
    function pongs(uint256 first, uint256 count) external {
        for (uint256 i = 0; i < count; i++) {
            emit Pong(first + i);
        }
    }

    /// A `Ping` then a `Pong` with the same id, then an anonymous log (no topics).
    function both(uint256 id) external {
        emit Ping(msg.sender, id, "");
        emit Pong(id);
        emit Anonymous(id);
    }
}
