//! Errors as JSON-RPC error objects, with the codes geth uses, and the execution-apis spec's
//! codes for rejected transactions and failed calls (docs/rpc.md, "Error codes"): execution
//! errors 1-199, gas errors 800-999, txpool errors 1000-1199. The messages stay geth's.

use alloy_primitives::Bytes;
use jsonrpsee::types::ErrorObjectOwned;
use keel_chain::{ChainError, MempoolError};
use keel_storage::StoreError;

/// geth's code for most server-side failures, including rejected transactions.
pub const SERVER_ERROR: i32 = -32000;
pub const INVALID_PARAMS: i32 = -32602;
pub const INTERNAL_ERROR: i32 = -32603;
/// geth's code for a call that reverted; the revert data goes in `data`.
pub const EXECUTION_REVERTED: i32 = 3;
/// The limit on a request (block range, result size) was exceeded.
pub const LIMIT_EXCEEDED: i32 = -32005;

/// The spec's execution errors.
pub const NONCE_TOO_LOW: i32 = 1;
pub const NONCE_TOO_HIGH: i32 = 2;
pub const INVALID_OPCODE: i32 = 4;
/// The spec's gas errors.
pub const INTRINSIC_GAS_TOO_LOW: i32 = 800;
pub const GAS_PRICE_TOO_LOW: i32 = 802;
pub const GAS_LIMIT_ABOVE_BLOCK: i32 = 803;
pub const TIP_ABOVE_FEE_CAP: i32 = 804;
pub const FEE_CAP_BELOW_BASE_FEE: i32 = 806;
pub const INSUFFICIENT_FUNDS: i32 = 809;
/// The spec's txpool errors.
pub const ALREADY_KNOWN: i32 = 1000;
pub const INVALID_SENDER: i32 = 1001;

/// The spec's code for a mempool rejection, or geth's -32000 for those the spec names none
/// (a replacement or a full pool's price rule, size and type rules, an account's limit).
pub fn mempool_code(error: &MempoolError) -> i32 {
    match error {
        MempoolError::NonceTooLow { .. } => NONCE_TOO_LOW,
        MempoolError::NonceTooHigh { .. } => NONCE_TOO_HIGH,
        MempoolError::IntrinsicGas { .. } => INTRINSIC_GAS_TOO_LOW,
        // The tip below the pool's configured minimum.
        MempoolError::Underpriced { .. } => GAS_PRICE_TOO_LOW,
        MempoolError::GasLimit { .. } => GAS_LIMIT_ABOVE_BLOCK,
        MempoolError::TipAboveFeeCap => TIP_ABOVE_FEE_CAP,
        MempoolError::FeeCapBelowBaseFee { .. } => FEE_CAP_BELOW_BASE_FEE,
        MempoolError::InsufficientFunds { .. } | MempoolError::InsufficientFundsForFees(_) => {
            INSUFFICIENT_FUNDS
        }
        MempoolError::AlreadyKnown => ALREADY_KNOWN,
        // No sender recovers: a bad signature, or one for another chain.
        MempoolError::Signature | MempoolError::ChainId { .. } => INVALID_SENDER,
        MempoolError::Oversized { .. }
        | MempoolError::Decode(_)
        | MempoolError::BlobTx
        | MempoolError::PrivilegedTx
        | MempoolError::Unprotected
        | MempoolError::PoolFullUnderpriced
        | MempoolError::ReplacementUnderpriced
        | MempoolError::AccountLimit { .. }
        | MempoolError::Internal(_) => SERVER_ERROR,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Bad arguments: the caller can fix the request.
    #[error("{0}")]
    InvalidParams(String),
    /// The mempool refused a transaction (geth: code -32000 with its message).
    #[error(transparent)]
    Mempool(#[from] MempoolError),
    /// A call reverted; `data` is the revert output.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted { reason: Option<String>, data: Bytes },
    /// Anything else the server reports as -32000 with a message (e.g. "header not found").
    #[error("{0}")]
    Server(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    #[error("internal error: {0}")]
    Internal(String),
    /// A failure with a method-specific code (e.g. `eth_simulateV1`'s -38010..-38026, the
    /// spec's gas errors for an invalid call).
    #[error("{message}")]
    Coded { code: i32, message: String },
}

impl RpcError {
    pub fn server(message: impl Into<String>) -> Self {
        Self::Server(message.into())
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::InvalidParams(message.into())
    }

    pub fn coded(code: i32, message: impl Into<String>) -> Self {
        Self::Coded {
            code,
            message: message.into(),
        }
    }
}

impl From<RpcError> for ErrorObjectOwned {
    fn from(error: RpcError) -> Self {
        let message = error.to_string();
        match error {
            RpcError::InvalidParams(_) => {
                ErrorObjectOwned::owned(INVALID_PARAMS, message, None::<()>)
            }
            RpcError::Reverted { data, .. } => {
                ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(data))
            }
            RpcError::LimitExceeded(_) => {
                ErrorObjectOwned::owned(LIMIT_EXCEEDED, message, None::<()>)
            }
            // A state the node no longer keeps is the caller's request, not a fault.
            RpcError::Mempool(ref e) => {
                ErrorObjectOwned::owned(mempool_code(e), message, None::<()>)
            }
            RpcError::Server(_)
            | RpcError::Store(StoreError::StateUnavailable { .. })
            | RpcError::Store(StoreError::StateNotKept { .. }) => {
                ErrorObjectOwned::owned(SERVER_ERROR, message, None::<()>)
            }
            RpcError::Coded { code, .. } => ErrorObjectOwned::owned(code, message, None::<()>),
            RpcError::Store(_) | RpcError::Chain(_) | RpcError::Internal(_) => {
                tracing::warn!(%message, "internal error serving an RPC request");
                ErrorObjectOwned::owned(INTERNAL_ERROR, message, None::<()>)
            }
        }
    }
}

pub type RpcResult<T> = Result<T, RpcError>;

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};
    use keel_chain::mempool::FeeShortfall;

    fn code(error: MempoolError) -> i32 {
        ErrorObjectOwned::from(RpcError::from(error)).code()
    }

    #[test]
    fn mempool_rejections_get_the_spec_codes() {
        // keel's L1-fee shortfall is the spec's insufficient funds, as the plain one.
        let shortfall = FeeShortfall {
            sender: Address::ZERO,
            have: U256::from(1),
            want: U256::from(3),
            missing: U256::from(2),
            l1_fee: U256::from(2),
            operator_fee: U256::ZERO,
        };
        assert_eq!(
            code(MempoolError::InsufficientFundsForFees(Box::new(shortfall))),
            809
        );
        assert_eq!(code(MempoolError::TipAboveFeeCap), 804);
        assert_eq!(code(MempoolError::Signature), 1001);
        assert_eq!(code(MempoolError::AlreadyKnown), 1000);
        assert_eq!(
            code(MempoolError::Underpriced {
                needed: 2,
                permitted: 1
            }),
            802
        );
        // No spec code: geth's.
        assert_eq!(code(MempoolError::PoolFullUnderpriced), -32000);
        assert_eq!(code(MempoolError::ReplacementUnderpriced), -32000);
        assert_eq!(code(MempoolError::BlobTx), -32000);
    }
}
