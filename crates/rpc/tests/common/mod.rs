//! An in-process L2 node for RPC tests: the dev genesis on an in-memory store, the mempool, a
//! block producer and the RPC server on a free 127.0.0.1 port.

#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_rpc::{RpcConfig, RpcContext, RpcServer};
use keel_sequencer::{BlockProducer, BlockProducerConfig};
use keel_storage::Store;
use keel_types::{ChainSpec, dev};
use tokio::sync::watch;

pub struct TestNode {
    pub chain: Blockchain,
    pub mempool: Arc<Mempool>,
    pub producer: BlockProducer,
    server: Option<RpcServer>,
    shutdown: watch::Sender<bool>,
    pub http_url: String,
    pub ws_url: String,
}

impl TestNode {
    /// A node that makes a block every `block_time`.
    pub async fn start(block_time: Duration) -> TestNode {
        Self::start_with(block_time, MempoolConfig::default(), RpcConfig::default()).await
    }

    pub async fn start_with(
        block_time: Duration,
        pool: MempoolConfig,
        mut rpc: RpcConfig,
    ) -> TestNode {
        let genesis = dev::dev_genesis();
        let spec = ChainSpec::from_genesis(&genesis).expect("dev genesis is valid");
        let store = Store::in_memory().expect("in-memory store");
        let chain = Blockchain::open(store, &genesis, spec).expect("open chain");
        let mempool = Arc::new(Mempool::new(pool, chain.clone()));
        rpc.addr = "127.0.0.1:0".parse().expect("address");
        let ctx = RpcContext::new(rpc, chain.clone(), mempool.clone());
        let server = keel_rpc::start(ctx).await.expect("start RPC server");
        let producer = BlockProducer::new(
            BlockProducerConfig {
                block_time,
                ..Default::default()
            },
            chain.clone(),
            mempool.clone(),
        );
        let (shutdown, stop) = watch::channel(false);
        tokio::spawn(producer.clone().run(stop));
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

    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}
