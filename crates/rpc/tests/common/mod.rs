//! What the RPC tests share: an in-process L2 node (the dev genesis on an in-memory store, the
//! mempool, a block producer and the RPC server on a free 127.0.0.1 port), raw JSON-RPC calls
//! ([`json_rpc`]), and transactions signed locally and the test contracts ([`tx`]).

#![allow(dead_code)]

mod json_rpc;
mod proof;
mod tx;

// Not every test binary uses every part.
#[allow(unused_imports)]
pub use json_rpc::*;
#[allow(unused_imports)]
pub use proof::*;
#[allow(unused_imports)]
pub use tx::*;

use std::{sync::Arc, time::Duration};

use alloy::{
    primitives::B256,
    providers::{DynProvider, Provider, ProviderBuilder, WsConnect},
    signers::local::PrivateKeySigner,
};
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_rpc::{RpcConfig, RpcContext, RpcServer};
use keel_sequencer::{BlockProducer, BlockProducerConfig};
use keel_storage::{ChainReader, DEFAULT_STATE_HISTORY, Store};
use keel_types::{ChainSpec, dev};

pub struct TestNode {
    pub chain: Blockchain,
    pub mempool: Arc<Mempool>,
    pub producer: BlockProducer,
    server: Option<RpcServer>,
    shutdown: tokio_util::sync::CancellationToken,
    pub http_url: String,
    pub ws_url: String,
}

impl TestNode {
    /// A node that makes a block every `block_time`.
    pub async fn start(block_time: Duration) -> TestNode {
        Self::start_with(block_time, MempoolConfig::default(), RpcConfig::default()).await
    }

    /// A node that makes blocks only when the test asks with [`produce`]: the producer's first
    /// tick makes block 1 (awaited here), the next one is an hour away.
    pub async fn start_manual(pool: MempoolConfig, rpc: RpcConfig) -> TestNode {
        let node = Self::start_with(Duration::from_secs(3600), pool, rpc).await;
        wait_for_block(&node, 1).await;
        node
    }

    pub async fn start_with(block_time: Duration, pool: MempoolConfig, rpc: RpcConfig) -> TestNode {
        let store = Store::in_memory().expect("in-memory store");
        let producer = BlockProducerConfig {
            block_time,
            ..Default::default()
        };
        Self::start_on(store, DEFAULT_STATE_HISTORY, producer, pool, rpc).await
    }

    /// A node that preconfirms: blocks every `block_time`, transactions executed and published
    /// in slices of at most `slice_time` meanwhile.
    pub async fn start_preconfirming(block_time: Duration, slice_time: Duration) -> TestNode {
        let producer = BlockProducerConfig {
            block_time,
            slice_time: Some(slice_time),
            ..Default::default()
        };
        let store = Store::in_memory().expect("in-memory store");
        let pool = MempoolConfig::default();
        Self::start_on(
            store,
            DEFAULT_STATE_HISTORY,
            producer,
            pool,
            RpcConfig::default(),
        )
        .await
    }

    /// A node that makes blocks on demand (as [`start_manual`]) on `store`, keeping tries for
    /// the last `state_history` blocks.
    pub async fn start_manual_on(store: Store, state_history: u64) -> TestNode {
        let producer = BlockProducerConfig {
            block_time: Duration::from_secs(3600),
            ..Default::default()
        };
        let node = Self::start_on(
            store,
            state_history,
            producer,
            MempoolConfig::default(),
            RpcConfig::default(),
        )
        .await;
        wait_for_block(&node, 1).await;
        node
    }

    async fn start_on(
        store: Store,
        state_history: u64,
        producer: BlockProducerConfig,
        pool: MempoolConfig,
        mut rpc: RpcConfig,
    ) -> TestNode {
        let genesis = dev::dev_genesis();
        let spec = ChainSpec::from_genesis(&genesis).expect("dev genesis is valid");
        let chain = Blockchain::open(store, &genesis, spec)
            .expect("open chain")
            .with_state_history(state_history);
        let mempool = Arc::new(Mempool::new(pool, chain.clone()));
        rpc.addr = "127.0.0.1:0".parse().expect("address");
        let ctx = RpcContext::new(rpc, chain.clone(), mempool.clone());
        let server = keel_rpc::start(ctx).await.expect("start RPC server");
        let producer = BlockProducer::new(producer, chain.clone(), mempool.clone());
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(producer.clone().run(shutdown.clone()));
        let addr = server.local_addr;
        TestNode {
            chain,
            mempool,
            producer,
            server: Some(server),
            shutdown,
            http_url: format!("http://{addr}"),
            ws_url: format!("ws://{addr}"),
        }
    }

    /// The signer of dev account `i` (0..10), funded in the genesis.
    pub fn dev_signer(i: usize) -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("valid dev key")
    }

    /// An HTTP client that sends exactly what the test asks for (no fillers).
    pub fn client(&self) -> DynProvider {
        ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_http(self.http_url.parse().expect("url"))
            .erased()
    }

    /// A WebSocket client, for subscriptions.
    pub async fn ws_client(&self) -> DynProvider {
        ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_ws(WsConnect::new(self.ws_url.clone()))
            .await
            .expect("WebSocket connection")
            .erased()
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Stop the block producer only (a preconfirming one seals its block first); the RPC
    /// server keeps serving.
    pub fn stop_producer(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for TestNode {
    /// A test that fails mid-way still stops the producer: a preconfirming one waits on a
    /// blocking thread, which the test's runtime would otherwise wait for forever.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Produce one block now (for nodes started with [`TestNode::start_manual`]). Returns its number
/// and hash.
pub async fn produce(node: &TestNode) -> (u64, B256) {
    let producer = node.producer.clone();
    let built = tokio::task::spawn_blocking(move || producer.produce_block())
        .await
        .expect("producer task")
        .expect("produce a block")
        .expect("a block (empty blocks are not skipped)");
    (built.block.header.number, built.hash)
}

/// Wait until the head is at least block `number`.
pub async fn wait_for_block(node: &TestNode, number: u64) {
    let reached = async {
        loop {
            if node.chain.head().expect("head").0 >= number {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), reached)
        .await
        .unwrap_or_else(|_| panic!("block {number} within 30 s"));
}

/// Wait until `hash` is in a canonical block; returns the block's number and hash.
pub async fn wait_mined(node: &TestNode, hash: B256) -> (u64, B256) {
    let mined = async {
        loop {
            let reader = node.chain.store().reader().expect("reader");
            if let Some((block, _)) = reader.tx_location(&hash).expect("tx lookup") {
                let number = reader
                    .block_number(&block)
                    .expect("block number")
                    .expect("known block");
                return (number, block);
            }
            drop(reader);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), mined)
        .await
        .unwrap_or_else(|_| panic!("transaction {hash} mined within 30 s"))
}

/// The hash and header of canonical block `number`, read from the store.
pub fn canonical(node: &TestNode, number: u64) -> (B256, keel_types::Header) {
    let reader = node.chain.store().reader().expect("reader");
    let hash = reader
        .canonical_hash(number)
        .expect("lookup")
        .expect("canonical block");
    (hash, reader.header(&hash).expect("lookup").expect("header"))
}

/// Build and store, on the node's head, a block holding only the privileged transaction `tx` (as
/// the producer does with one the L1Watcher handed over); the block built.
pub async fn build_privileged_block(
    node: &TestNode,
    tx: keel_types::PrivilegedTx,
) -> keel_chain::BuiltBlock {
    let chain = node.chain.clone();
    tokio::task::spawn_blocking(move || {
        let (_, head) = chain
            .store()
            .reader()
            .expect("reader")
            .head()
            .expect("head")
            .expect("a head");
        let attributes = keel_chain::BlockAttributes {
            timestamp: keel_chain::next_block_timestamp(&head),
            gas_limit: head.gas_limit,
            ..Default::default()
        };
        let mut source = keel_chain::ListTxSource::new(
            vec![keel_types::Transaction::from(tx)],
            vec![keel_types::rules::L2_BRIDGE_ADDRESS],
        );
        chain.build_block(&attributes, &mut source).expect("build")
    })
    .await
    .expect("build task")
}

/// An anvil with keel's chain id (and the dev keys, which are anvil's), plus `extra` arguments,
/// for the differential tests. Needs anvil: `tools/node_modules/.bin/anvil` or on `PATH`.
pub async fn anvil_like_keel(extra: &[&str]) -> keel_l1::Anvil {
    let mut extra_args = vec!["--chain-id".to_string(), CHAIN_ID.to_string()];
    extra_args.extend(extra.iter().map(|a| a.to_string()));
    keel_l1::Anvil::spawn(&keel_l1::AnvilConfig {
        extra_args,
        ..keel_l1::AnvilConfig::default()
    })
    .await
    .expect("anvil starts (tools/node_modules/.bin/anvil or on PATH)")
}
