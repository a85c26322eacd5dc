//! What every RPC handler shares: the chain, the mempool, the settings, the filter registry and
//! the transaction intake.

use std::sync::Arc;

use keel_chain::{Blockchain, Mempool};
use keel_storage::StoreReader;
use tokio::sync::Semaphore;

use crate::{
    RpcConfig, error::RpcResult, filters::Filters, readiness::ReadinessSource, send::TxIngest,
};

/// Shared state of the RPC server; cheap to clone.
#[derive(Clone)]
pub struct RpcContext {
    pub chain: Blockchain,
    pub mempool: Arc<Mempool>,
    pub config: Arc<RpcConfig>,
    pub(crate) filters: Arc<Filters>,
    pub(crate) ingest: TxIngest,
    /// What `GET /ready` reports on; `None`: it answers 503.
    pub(crate) readiness: Option<Arc<dyn ReadinessSource>>,
    /// One permit per EVM execution allowed at once (`RpcConfig::max_concurrent_calls`; see
    /// [`crate::dispatch::register_evm`]).
    pub(crate) evm_slots: Arc<Semaphore>,
}

impl RpcContext {
    /// Must be called within a tokio runtime (it starts the transaction intake task).
    pub fn new(config: RpcConfig, chain: Blockchain, mempool: Arc<Mempool>) -> Self {
        let ingest = TxIngest::spawn(mempool.clone());
        let slots = usize::try_from(config.max_concurrent_calls)
            .unwrap_or(usize::MAX)
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            evm_slots: Arc::new(Semaphore::new(slots)),
            filters: Arc::new(Filters::new(config.filter_timeout)),
            chain,
            mempool,
            config: Arc::new(config),
            ingest,
            readiness: None,
        }
    }

    /// Sets what `GET /ready` on the server's port reports on (see [`crate::readiness`]).
    pub fn with_readiness(mut self, source: Arc<dyn ReadinessSource>) -> Self {
        self.readiness = Some(source);
        self
    }

    /// A consistent read view of the store: the snapshot of its last write, shared with every
    /// other request until the next block (see [`keel_storage::Store::snapshot`]).
    pub fn reader(&self) -> RpcResult<Arc<StoreReader>> {
        Ok(self.chain.store().snapshot()?)
    }
}

impl std::fmt::Debug for RpcContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcContext")
            .field("config", &self.config)
            .field("readiness", &self.readiness.is_some())
            .finish_non_exhaustive()
    }
}
