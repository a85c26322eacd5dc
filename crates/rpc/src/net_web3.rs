//! The `net_` and `web3_` namespaces. keel's L2 node has no peers (the sequencer is the only
//! block source), so `net_peerCount` is 0 and `net_listening` is true while the server runs.

use alloy_primitives::{B256, Bytes, U64, keccak256};
use jsonrpsee::{RpcModule, core::RegisterMethodError, types::ErrorObjectOwned};

use crate::RpcContext;

/// `keel/v<version>/<os>-<arch>/rust`, in the layout of geth's `Geth/v1.x/linux-amd64/go1.x`.
pub(crate) fn client_version() -> String {
    format!(
        "keel/v{}/{}-{}/rust",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

pub(crate) fn register(module: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    module.register_method("net_version", |_, ctx, _| {
        Ok::<_, ErrorObjectOwned>(ctx.chain.spec().chain_id.to_string())
    })?;
    module.register_method("net_listening", |_, _, _| Ok::<_, ErrorObjectOwned>(true))?;
    module.register_method("net_peerCount", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(U64::ZERO)
    })?;
    module.register_method("web3_clientVersion", |_, _, _| {
        Ok::<_, ErrorObjectOwned>(client_version())
    })?;
    module.register_method("web3_sha3", |params, _, _| {
        let data: Bytes = params.one()?;
        Ok::<_, ErrorObjectOwned>(B256::from(keccak256(&data)))
    })?;
    Ok(())
}
