// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title GasPriceOracle
/// @notice The L1 fee rule of a keel L2, for wallets: predeployed in the L2 genesis at
/// 0x420000000000000000000000000000000000000F (the OP Stack's address, with the OP Stack's function
/// names and return types, so viem's and ethers' OP Stack extensions work unchanged) on chains whose
/// genesis `config` has `keelFees` (docs/contracts.md, "GasPriceOracle"; docs/fees.md).
/// @dev The node, not this contract, charges the fees: every node, the importer and the prover run
/// `crates/types/src/fees.rs`, which is the source of truth. This contract computes the same numbers
/// from the same storage (a test, crates/evm/tests/gas_price_oracle.rs, checks it does, exactly).
///
/// Storage: one full slot per value, in this order, and no base contract (nothing before them).
/// The node reads them slot by slot (`FeeParams::from_storage`) and writes slots 0 and 1 itself at
/// the start of every block (the L1 prices that block charges at, from its `extraData`): there is
/// no setter for the prices. Only the owner changes the scalars; the owner is the L2 alias of the L1
/// governor, so only an L1 message (`CommonBridge.sendToL2` from the governor) can.
///
/// No constructor, no immutables: the runtime code is placed in the genesis with this storage.
contract GasPriceOracle {
    // Slot 0: the L1 base fee of the current block, in wei (written by the node).
    uint256 internal _l1BaseFee;
    // Slot 1: the L1 blob base fee of the current block, in wei (written by the node).
    uint256 internal _blobBaseFee;
    // Slot 2: the base fee scalar, in millionths.
    uint256 internal _baseFeeScalar;
    // Slot 3: the blob base fee scalar, in millionths.
    uint256 internal _blobBaseFeeScalar;
    // Slot 4: the operator fee per gas used, in wei.
    uint256 internal _operatorFeeScalar;
    // Slot 5: the operator fee per transaction, in wei.
    uint256 internal _operatorFeeConstant;
    /// @notice Slot 6: the only address that may change the scalars and the operator fee (the L2
    /// alias of the L1 governor).
    address public owner;

    // The constants of the rule. Source of truth: crates/types/src/fees.rs (same names); change
    // them there and here together.

    /// @notice Fixed point of the size estimate and the scalars: 6 decimals.
    uint256 public constant DECIMALS = 6;
    /// @notice Millionths of a byte of estimated size per byte of signed transaction.
    int256 public constant SIZE_COEFFICIENT = 764_421;
    /// @notice Estimated size of an empty transaction, in millionths of a byte (before the minimum).
    int256 public constant SIZE_INTERCEPT = -54_415_723;
    /// @notice Least estimated size, in bytes.
    int256 public constant MIN_TX_SIZE = 20;
    /// @notice What `getL1Fee` adds to the length of the unsigned transaction for its signature.
    uint256 public constant SIGNATURE_BYTES = 68;

    /// @notice The owner set new scalars.
    event ScalarsUpdated(uint32 baseFeeScalar, uint32 blobBaseFeeScalar);
    /// @notice The owner set a new operator fee.
    event OperatorFeeUpdated(uint64 operatorFeeScalar, uint64 operatorFeeConstant);
    /// @notice The owner handed ownership to `newOwner`.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice The caller is not the owner.
    /// @param caller The rejected `msg.sender`.
    error CallerNotOwner(address caller);
    /// @notice Ownership can't go to the zero address (the scalars could never change again).
    error ZeroOwner();
    /// @notice A transaction size too large to price.
    error SizeTooLarge(uint256 size);

    /// @dev Reverts `CallerNotOwner` unless the caller is the owner (slot 6).
    modifier onlyOwner() {
        if (msg.sender != owner) revert CallerNotOwner(msg.sender);
        _;
    }

    /// @notice The version of this contract.
    function version() external pure returns (string memory) {
        return "1.0.0";
    }

    /// @notice The number of decimals of the scalars (and of the size estimate): 6.
    function decimals() external pure returns (uint256) {
        return DECIMALS;
    }

    /// @notice The L1 base fee the current block charges at, in wei.
    function l1BaseFee() public view returns (uint256) {
        return _u64(_l1BaseFee);
    }

    /// @notice The L1 blob base fee the current block charges at, in wei.
    function blobBaseFee() public view returns (uint256) {
        return _u64(_blobBaseFee);
    }

    /// @notice The weight of the L1 base fee, in millionths (× 16 per estimated byte).
    function baseFeeScalar() public view returns (uint32) {
        return _u32(_baseFeeScalar);
    }

    /// @notice The weight of the L1 blob base fee per estimated byte, in millionths.
    function blobBaseFeeScalar() public view returns (uint32) {
        return _u32(_blobBaseFeeScalar);
    }

    /// @notice The operator fee per gas used, in wei (no decimals, unlike the OP Stack's).
    function operatorFeeScalar() public view returns (uint64) {
        return uint64(_u64(_operatorFeeScalar));
    }

    /// @notice The operator fee per transaction, in wei.
    function operatorFeeConstant() public view returns (uint64) {
        return uint64(_u64(_operatorFeeConstant));
    }

    /// @notice The L2 gas price of the current block: its base fee (the priority fee goes to the
    /// coinbase and is the sender's choice).
    function gasPrice() external view returns (uint256) {
        return block.basefee;
    }

    /// @notice The L2 base fee of the current block.
    function baseFee() external view returns (uint256) {
        return block.basefee;
    }

    /// @notice Always true: the OP Stack's fork flags that viem and ethers check.
    function isEcotone() external pure returns (bool) {
        return true;
    }

    /// @notice Always true (see `isEcotone`).
    function isFjord() external pure returns (bool) {
        return true;
    }

    /// @notice Always true (see `isEcotone`).
    function isIsthmus() external pure returns (bool) {
        return true;
    }

    /// @notice The L1 fee of a transaction, given its unsigned EIP-2718 encoding: the fee of a
    /// signed transaction of `unsignedTx.length + 68` bytes.
    /// @param unsignedTx The transaction without its signature.
    /// @return The L1 fee in wei.
    function getL1Fee(bytes calldata unsignedTx) external view returns (uint256) {
        return _l1Fee(unsignedTx.length + SIGNATURE_BYTES);
    }

    /// @notice The L1 fee of a transaction whose unsigned encoding has `unsignedTxSize` bytes. The
    /// fee depends only on the size, so this is the fee itself, not only a bound.
    /// @param unsignedTxSize The length of the transaction without its signature.
    /// @return The L1 fee in wei.
    function getL1FeeUpperBound(uint256 unsignedTxSize) external view returns (uint256) {
        return _l1Fee(unsignedTxSize + SIGNATURE_BYTES);
    }

    /// @notice The L1 gas a transaction stands for (its receipt's `l1GasUsed`): 16 per estimated
    /// byte of the signed transaction (`unsignedTx.length + 68` bytes).
    /// @param unsignedTx The transaction without its signature.
    /// @return The L1 gas.
    function getL1GasUsed(bytes calldata unsignedTx) external pure returns (uint256) {
        return (_estimatedSize(unsignedTx.length + SIGNATURE_BYTES) * 16) / 1e6;
    }

    /// @notice The operator fee of a transaction that used `gasUsed` gas:
    /// `operatorFeeConstant + operatorFeeScalar × gasUsed`, in wei.
    /// @param gasUsed The L2 gas the transaction used.
    /// @return The operator fee in wei.
    function getOperatorFee(uint256 gasUsed) external view returns (uint256) {
        return uint256(operatorFeeConstant()) + uint256(operatorFeeScalar()) * gasUsed;
    }

    /// @notice Sets the scalars of the L1 fee (owner only).
    /// @param newBaseFeeScalar The weight of the L1 base fee, in millionths.
    /// @param newBlobBaseFeeScalar The weight of the L1 blob base fee, in millionths.
    function setScalars(uint32 newBaseFeeScalar, uint32 newBlobBaseFeeScalar) external onlyOwner {
        _baseFeeScalar = newBaseFeeScalar;
        _blobBaseFeeScalar = newBlobBaseFeeScalar;
        emit ScalarsUpdated(newBaseFeeScalar, newBlobBaseFeeScalar);
    }

    /// @notice Sets the operator fee (owner only).
    /// @param newScalar The operator fee per gas used, in wei.
    /// @param newConstant The operator fee per transaction, in wei.
    function setOperatorFee(uint64 newScalar, uint64 newConstant) external onlyOwner {
        _operatorFeeScalar = newScalar;
        _operatorFeeConstant = newConstant;
        emit OperatorFeeUpdated(newScalar, newConstant);
    }

    /// @notice Hands ownership to `newOwner` (owner only; one step: give the L2 alias of the new L1
    /// governor).
    /// @param newOwner The new owner, not zero.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroOwner();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @dev `FeeParams::l1_fee`: size × (16 × baseFeeScalar × l1BaseFee + blobBaseFeeScalar ×
    /// blobBaseFee) / 1e12, rounded down.
    function _l1Fee(uint256 txSize) internal view returns (uint256) {
        uint256 scaled =
            16 * uint256(baseFeeScalar()) * l1BaseFee() + uint256(blobBaseFeeScalar()) * blobBaseFee();
        return (_estimatedSize(txSize) * scaled) / 1e12;
    }

    /// @dev `fees::estimated_size`: max(MIN_TX_SIZE × 1e6, SIZE_INTERCEPT + SIZE_COEFFICIENT ×
    /// txSize), in millionths of a byte, in signed arithmetic.
    function _estimatedSize(uint256 txSize) internal pure returns (uint256) {
        if (txSize > uint256(type(int256).max) / uint256(SIZE_COEFFICIENT)) {
            revert SizeTooLarge(txSize);
        }
        int256 linear = SIZE_INTERCEPT + SIZE_COEFFICIENT * int256(txSize);
        int256 least = MIN_TX_SIZE * 1e6;
        return uint256(linear > least ? linear : least);
    }

    /// @dev A slot read as `FeeParams::from_storage` reads it: values above 2^64-1 saturate.
    function _u64(uint256 value) internal pure returns (uint256) {
        return value > type(uint64).max ? type(uint64).max : value;
    }

    /// @dev A scalar read as `FeeParams::from_storage` reads it: values above 2^32-1 saturate.
    function _u32(uint256 value) internal pure returns (uint32) {
        return value > type(uint32).max ? type(uint32).max : uint32(value);
    }
}
