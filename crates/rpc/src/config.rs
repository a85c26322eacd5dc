//! The server's settings.

use std::{net::SocketAddr, time::Duration};

use alloy_primitives::{Address, U64};
use serde::{Deserialize, Serialize};

/// Limits and defaults of the JSON-RPC server.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Where HTTP and WebSocket both listen.
    pub addr: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub max_request_bytes: u32,
    /// Largest response body, in bytes.
    pub max_response_bytes: u32,
    /// Most calls in one JSON-RPC batch array.
    pub max_batch_len: u32,
    /// Most connections served at once: open WebSocket connections plus HTTP requests in
    /// flight (jsonrpsee counts an HTTP request, not an idle keep-alive socket). One more is
    /// answered HTTP 429 "Too many connections".
    pub max_connections: u32,
    /// Most `eth_subscribe` subscriptions one WebSocket connection may hold; one more is refused
    /// with error -32006.
    pub max_subscriptions_per_connection: u32,
    /// Most EVM executions (`eth_call`, `eth_estimateGas`, `eth_createAccessList`,
    /// `eth_fillTransaction`, `debug_executionWitness`, `debug_trace*`) running at once; the
    /// others wait their turn, in order.
    pub max_concurrent_calls: u32,
    /// Longest a call waits for its turn among [`Self::max_concurrent_calls`] before it is
    /// refused with -32005 "server busy".
    pub call_queue_timeout: Duration,
    /// A filter not polled for this long is removed (geth: 5 minutes).
    pub filter_timeout: Duration,
    /// Gas limit of `eth_call` / `eth_estimateGas` when the request gives none, and their cap.
    pub gas_cap: u64,
    /// Most blocks one `eth_getLogs` may scan.
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return.
    pub max_logs: usize,
    /// Longest `eth_sendRawTransactionSync` waits for the receipt by default.
    pub send_sync_timeout: Duration,
    /// Most blocks one `eth_feeHistory` may cover.
    pub max_fee_history: u64,
    /// The node's L1 contracts, reported by `keel_getL1Contracts` (`null` when unset: a node
    /// without L1).
    pub l1_contracts: Option<L1Contracts>,
    /// Origins a browser may call the server from (CORS, `--http.corsdomain`): empty = none (no
    /// CORS headers: browsers refuse cross-origin calls), `["*"]` = any.
    pub cors_origins: Vec<String>,
    /// The fee recipient of the blocks this node produces, reported by `eth_coinbase`; `None`
    /// (a node that produces no blocks) answers geth's "etherbase must be explicitly specified".
    pub coinbase: Option<Address>,
}

/// Where the node's L1 contracts are: what `keel_getL1Contracts` returns, so that clients
/// (`keel bridge`) need no addresses from the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Contracts {
    /// The CommonBridge proxy.
    pub bridge: Address,
    /// The OnChainProposer proxy.
    pub on_chain_proposer: Address,
    /// The L1's chain id, when the node knows it (from its deployment file or its dev L1).
    pub l1_chain_id: Option<U64>,
    /// The L1 block the contracts were deployed in, when known.
    pub deploy_block: Option<U64>,
    /// The L1 JSON-RPC URL, only when the node started that L1 itself (`keel l2 --dev`): a
    /// node never reveals the L1 endpoint it was given.
    pub l1_rpc_url: Option<String>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 1729)),
            max_request_bytes: 16 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_batch_len: 2_000,
            max_connections: 1_000,
            max_subscriptions_per_connection: 1_024,
            max_concurrent_calls: default_max_concurrent_calls(),
            call_queue_timeout: Duration::from_secs(10),
            filter_timeout: Duration::from_secs(300),
            gas_cap: 50_000_000,
            max_logs_block_range: 10_000,
            max_logs: 20_000,
            send_sync_timeout: Duration::from_secs(10),
            max_fee_history: 1_024,
            l1_contracts: None,
            cors_origins: Vec::new(),
            coinbase: None,
        }
    }
}

/// The default of [`RpcConfig::max_concurrent_calls`]: one per core, so that EVM calls can take
/// every core but never queue more threads than cores in front of the block producer.
pub fn default_max_concurrent_calls() -> u32 {
    std::thread::available_parallelism().map_or(4, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}
