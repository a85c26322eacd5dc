//! (to be written)

use jsonrpsee::{RpcModule, core::RegisterMethodError};

use crate::RpcContext;

pub(crate) fn register(_module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    Ok(())
}
