//! (to be written)

use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionReceipt;
use jsonrpsee::{RpcModule, core::RegisterMethodError};

use crate::{RpcContext, error::RpcResult};

pub(crate) fn register(_module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    Ok(())
}

/// The receipt of a canonical transaction, `None` if it isn't in a block (yet).
pub(crate) fn transaction_receipt(
    _ctx: &RpcContext,
    _hash: B256,
) -> RpcResult<Option<TransactionReceipt>> {
    Ok(None)
}
