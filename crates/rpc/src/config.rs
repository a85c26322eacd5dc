//! The server's settings.

use std::{net::SocketAddr, time::Duration};

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
    /// Most simultaneous connections.
    pub max_connections: u32,
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
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 1729)),
            max_request_bytes: 16 * 1024 * 1024,
            max_response_bytes: 64 * 1024 * 1024,
            max_batch_len: 2_000,
            max_connections: 1_000,
            filter_timeout: Duration::from_secs(300),
            gas_cap: 50_000_000,
            max_logs_block_range: 10_000,
            max_logs: 20_000,
            send_sync_timeout: Duration::from_secs(10),
            max_fee_history: 1_024,
        }
    }
}
