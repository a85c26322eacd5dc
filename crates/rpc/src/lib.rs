//! keel-rpc: the JSON-RPC server users and their tools talk to. HTTP and WebSocket on one port
//! (jsonrpsee), JSON-RPC batches, the `eth_` (with `eth_simulateV1`), `net_`, `web3_`,
//! `txpool_` and `debug_` (raw data, tracing, execution witnesses, bad blocks) namespaces with
//! geth's output shapes, filters and subscriptions, keel's own `keel_` methods, and Otterscan's
//! `ots_` namespace (its address searches served from the store's address index when the node
//! keeps one). Every method the Ethereum JSON-RPC specification defines is served (`eth_config`,
//! `eth_capabilities`, `eth_fillTransaction`, `eth_getStorageValues` included) except the
//! EIP-7928 block-access-list methods, which are not in keel's fork; those that need keys
//! (`eth_sign`, `eth_signTransaction`, `eth_sendTransaction`) answer that the node holds none.
//! `tests/conformance.rs` checks the answers against the vendored specification (`tests/spec/`).
//!
//! It reads the chain through [`keel_chain::Blockchain`] and its store, and writes only by
//! handing transactions to the [`keel_chain::Mempool`]: it never builds or stores blocks.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod admin;
mod block_id;
mod client;
mod config;
mod context;
mod convert;
mod debug;
mod dispatch;
mod error;
mod eth_blocks;
mod eth_call;
mod eth_fees;
mod eth_state;
mod fill;
mod filters;
mod health;
mod keel;
mod logs;
mod metrics;
mod net_web3;
mod otterscan;
pub mod params;
mod pubsub;
pub mod readiness;
mod send;
mod server;
mod simulate;
mod trace;
mod txpool;

pub use config::{L1Contracts, RpcConfig, default_max_concurrent_calls};
pub use context::RpcContext;
pub use error::RpcError;
pub use health::{HEALTH_PATH, READY_PATH};
pub use server::{RpcServer, methods, start};
