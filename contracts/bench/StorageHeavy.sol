// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// State-growth workload for `keel-loadgen --workload storage`: every `touch(n)` writes `n` storage
/// slots that were never written before, keyed by (caller, per-caller counter), so each call adds
/// `n` fresh slots (zero → non-zero SSTOREs) to the contract's storage trie.
contract StorageHeavy {
    /// How many slots each caller has written so far; the next call starts at this index.
    mapping(address => uint256) public count;
    /// slot value for keccak256(caller, index); index + 1, so never zero.
    mapping(bytes32 => uint256) public data;

    event Touched(address indexed caller, uint256 from, uint256 n);

    function touch(uint256 n) external {
        uint256 c = count[msg.sender];
        for (uint256 i = 0; i < n; ++i) {
            data[keccak256(abi.encode(msg.sender, c + i))] = c + i + 1;
        }
        count[msg.sender] = c + n;
        emit Touched(msg.sender, c, n);
    }

    /// The value `touch` wrote for (caller, index), or zero.
    function slot(address caller, uint256 index) external view returns (uint256) {
        return data[keccak256(abi.encode(caller, index))];
    }
}
