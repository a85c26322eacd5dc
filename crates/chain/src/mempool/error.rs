//! Why the mempool refused a transaction. Messages follow geth's, so wallets and tools that match
//! on them (and the humans reading them) see what they expect.

use alloy_primitives::{Address, U256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized { size: usize, limit: usize },
    #[error("failed to decode signed transaction: {0}")]
    Decode(String),
    #[error(
        "transaction type not supported: blob transactions (type 3) are not accepted on this L2"
    )]
    BlobTx,
    #[error(
        "transaction type not supported: privileged transactions (type 0x7e) only come from L1 deposits"
    )]
    PrivilegedTx,
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    #[error("invalid chain id for signer: have {got}, want {want}")]
    ChainId { got: u64, want: u64 },
    #[error("invalid sender: invalid signature")]
    Signature,
    #[error("already known")]
    AlreadyKnown,
    #[error("exceeds block gas limit: tx gas {gas}, block gas limit {limit}")]
    GasLimit { gas: u64, limit: u64 },
    #[error("intrinsic gas too low: have {have}, want {want}")]
    IntrinsicGas { have: u64, want: u64 },
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    #[error(
        "max fee per gas less than block base fee: address {sender}, maxFeePerGas: {max_fee}, baseFee: {base_fee}"
    )]
    FeeCapBelowBaseFee {
        sender: Address,
        max_fee: u128,
        base_fee: u64,
    },
    #[error("transaction underpriced: tip needed {needed}, tip permitted {permitted}")]
    Underpriced { needed: u128, permitted: u128 },
    #[error(
        "transaction underpriced: the pool is full and the transaction pays less than any in it"
    )]
    PoolFullUnderpriced,
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    #[error("nonce too low: address {sender}, tx: {tx_nonce} state: {state_nonce}")]
    NonceTooLow {
        sender: Address,
        tx_nonce: u64,
        state_nonce: u64,
    },
    #[error(
        "nonce too high: address {sender}, tx: {tx_nonce} state: {state_nonce}, max gap {max_gap}"
    )]
    NonceTooHigh {
        sender: Address,
        tx_nonce: u64,
        state_nonce: u64,
        max_gap: u64,
    },
    #[error("insufficient funds for gas * price + value: address {sender} have {have} want {want}")]
    InsufficientFunds {
        sender: Address,
        have: U256,
        want: U256,
    },
    /// geth's message, with the L1 fee rule's part (docs/fees.md) and what is missing.
    #[error(
        "insufficient funds for gas * price + value + L1 fee + operator fee: address {} have {} want {} (missing {} wei; L1 fee {} wei, operator fee at most {} wei)",
        .0.sender, .0.have, .0.want, .0.missing, .0.l1_fee, .0.operator_fee
    )]
    InsufficientFundsForFees(Box<FeeShortfall>),
    #[error("account limit exceeded: address {sender} has {count} transactions in the pool")]
    AccountLimit { sender: Address, count: usize },
    #[error("internal error: {0}")]
    Internal(String),
}

impl MempoolError {
    /// A short fixed name of the rejection kind, the `reason` label of
    /// `keel_mempool_rejected_transactions_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            MempoolError::Oversized { .. } => "oversized",
            MempoolError::Decode(_) => "decode",
            MempoolError::BlobTx => "blob_tx",
            MempoolError::PrivilegedTx => "privileged_tx",
            MempoolError::Unprotected => "unprotected",
            MempoolError::ChainId { .. } => "wrong_chain_id",
            MempoolError::Signature => "invalid_signature",
            MempoolError::AlreadyKnown => "already_known",
            MempoolError::GasLimit { .. } => "exceeds_block_gas_limit",
            MempoolError::IntrinsicGas { .. } => "intrinsic_gas_too_low",
            MempoolError::TipAboveFeeCap => "tip_above_fee_cap",
            MempoolError::FeeCapBelowBaseFee { .. } => "fee_cap_below_base_fee",
            MempoolError::Underpriced { .. } => "underpriced",
            MempoolError::PoolFullUnderpriced => "pool_full",
            MempoolError::ReplacementUnderpriced => "replacement_underpriced",
            MempoolError::NonceTooLow { .. } => "nonce_too_low",
            MempoolError::NonceTooHigh { .. } => "nonce_too_high",
            MempoolError::InsufficientFunds { .. } | MempoolError::InsufficientFundsForFees(_) => {
                "insufficient_funds"
            }
            MempoolError::AccountLimit { .. } => "account_limit",
            MempoolError::Internal(_) => "internal",
        }
    }
}

/// What a sender lacks to pay a transaction's gas, value, L1 fee and operator fee (boxed: the
/// error stays small).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeShortfall {
    pub sender: Address,
    pub have: U256,
    pub want: U256,
    pub missing: U256,
    pub l1_fee: U256,
    pub operator_fee: U256,
}
