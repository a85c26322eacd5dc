// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Test-only contract for keel-rpc's tests: storage, events, every kind of revert, and reads of
/// other accounts (for access lists). Also the delegation target of the EIP-7702 test.
contract RpcProbe {
    uint256 public number; // slot 0
    mapping(address => uint256) public credits; // slot 1

    event Incremented(address indexed by, uint256 newValue);

    function increment() external returns (uint256) {
        number += 1;
        emit Incremented(msg.sender, number);
        return number;
    }

    function setNumber(uint256 value) external {
        number = value;
    }

    function credit(address who, uint256 amount) external {
        credits[who] += amount;
    }

    function requireAbove(uint256 value) external pure returns (uint256) {
        require(value > 10, "value too small");
        return value;
    }

    function failAssert(uint256 value) external pure returns (uint256) {
        assert(value == 0);
        return value;
    }

    function failEmpty() external pure {
        revert();
    }

    function selfAddress() external view returns (address) {
        return address(this);
    }

    function caller() external view returns (address) {
        return msg.sender;
    }

    function balanceOf(address who) external view returns (uint256) {
        return who.balance;
    }

    function numberOf(address other) external view returns (uint256) {
        return RpcProbe(other).number();
    }

    function env() external view returns (uint256 blockNumber, uint256 timestamp, uint256 baseFee) {
        return (block.number, block.timestamp, block.basefee);
    }

    /// Hashes and stores once per round: a call whose gas grows with its input.
    function burn(uint256 rounds) external returns (uint256 acc) {
        for (uint256 i = 0; i < rounds; i++) {
            acc ^= uint256(keccak256(abi.encode(acc, i)));
            credits[address(uint160(i))] = acc;
        }
    }
}
