//! Errors as JSON-RPC error objects, with the codes geth uses.

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
    /// A failure with a method-specific code (e.g. `eth_simulateV1`'s -38010..-38026).
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
            RpcError::Mempool(_)
            | RpcError::Server(_)
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
