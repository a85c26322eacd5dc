//! (to be written)

use std::time::Duration;

use jsonrpsee::{RpcModule, core::RegisterMethodError};

use crate::RpcContext;

/// Installed filters (`eth_newFilter` and friends), removed when not polled for a while.
#[derive(Debug)]
pub(crate) struct Filters {
    _timeout: Duration,
}

impl Filters {
    pub fn new(timeout: Duration) -> Self {
        Self { _timeout: timeout }
    }
}

pub(crate) fn register(_module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    Ok(())
}
