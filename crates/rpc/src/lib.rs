//! keel-rpc: the JSON-RPC server users and their tools talk to. HTTP and WebSocket on one port
//! (jsonrpsee), JSON-RPC batches, the `eth_` (with `eth_simulateV1`), `net_`, `web3_`,
//! `txpool_`, `debug_` (raw data, execution witnesses, geth's tracers) and `keel_` namespaces with
//! geth's output shapes, filters and subscriptions, and Otterscan's `ots_` namespace (its address
//! searches served from the store's address index when the node keeps one).
//!
//! It reads the chain through [`keel_chain::Blockchain`] and its store, and writes only by
//! handing transactions to the [`keel_chain::Mempool`]: it never builds or stores blocks.

#![cfg_attr(not(test), deny(unused_crate_dependencies))]

pub mod admin;
mod block_id;
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
mod filters;
mod health;
mod keel;
mod logs;
mod metrics;
mod net_web3;
mod otterscan;
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
