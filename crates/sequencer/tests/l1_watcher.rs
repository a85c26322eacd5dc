//! The L1Watcher against a real anvil with keel's contracts deployed: deposits and `sendToL2`
//! calls reach the sink in id order with the bridge's hashes, none twice; many deposits in one L1
//! block; the read bound (`latest`, a block delay, anvil's `safe` and `finalized`, an L1 without
//! the tags); a restart on the same datadir; an L1 outage; refusals (a hash that
//! doesn't match, an id gap); the watcher's metric series and the L1 timestamps it passes on.

#[path = "common/recorder.rs"]
mod recorder;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionReceipt,
};
use keel_l1::{
    Anvil, AnvilConfig, DeployConfig, Deployment, L1Client, L1ClientConfig, L1ClientError,
    L1ReadBound,
    contracts::{CommonBridge::CommonBridgeInstance, test::L1Caller},
    deploy,
};
use keel_sequencer::{
    L1Watcher, L1WatcherConfig, MemorySink,
    l1_watcher::{L1WatcherStatus, Refusal},
};
use keel_storage::Store;
use keel_types::{PrivilegedTx, apply_l1_alias, dev};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

const USER: usize = 5;
const WAIT: Duration = Duration::from_secs(20);

fn addr(i: usize) -> Address {
    dev::DEV_ACCOUNTS[i].0
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// A URL where nothing listens.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Anvil with keel's L1 contracts deployed (by dev account 0) and a client that signs with
/// every dev key.
struct L1 {
    anvil: Anvil,
    provider: DynProvider,
    deployment: Deployment,
    _dir: tempfile::TempDir,
}

impl L1 {
    async fn start() -> Self {
        let anvil = Anvil::spawn(&AnvilConfig::default())
            .await
            .expect("anvil starts");
        let provider = keel_l1::dev_wallet_provider(anvil.url.parse().expect("url"));
        let dir = tempfile::tempdir().expect("tempdir");
        let config = DeployConfig {
            owner: addr(0),
            sequencers: vec![addr(1)],
            verifier_signers: vec![addr(2)],
            verifier_threshold: 1,
            inclusion_max_wait: 3600,
            max_privileged_gas_limit: 10_000_000,
            validium: false,
            receipt_timeout: Duration::from_secs(30),
            ..DeployConfig::for_genesis(&dev::dev_genesis(), addr(0)).expect("deploy config")
        };
        let outcome = deploy(
            &provider,
            addr(0),
            &config,
            &dir.path().join("deployment.json"),
        )
        .await
        .expect("deploys");
        Self {
            anvil,
            provider,
            deployment: outcome.deployment,
            _dir: dir,
        }
    }

    fn bridge(&self) -> CommonBridgeInstance<&DynProvider> {
        CommonBridgeInstance::new(
            self.deployment.contracts.common_bridge.proxy,
            &self.provider,
        )
    }

    /// A watcher config for this deployment: reading up to the head, fast ticks.
    fn watcher_config(&self) -> L1WatcherConfig {
        let mut config = L1WatcherConfig::new(
            self.deployment.contracts.common_bridge.proxy,
            dev::DEFAULT_L2_CHAIN_ID,
            self.deployment.deploy_block.unwrap_or(0),
        );
        config.watch_interval = Duration::from_millis(50);
        config.read_bound = L1ReadBound::Latest;
        config
    }

    async fn deposit(&self, recipient: Address, wei: U256) -> TransactionReceipt {
        let receipt = self
            .bridge()
            .deposit(recipient)
            .value(wei)
            .from(addr(USER))
            .send()
            .await
            .expect("deposit sent")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status());
        receipt
    }

    async fn send_to_l2(&self, to: Address, data: Vec<u8>) -> TransactionReceipt {
        let receipt = self
            .bridge()
            .sendToL2(to, U256::from(100_000), U256::from(7), Bytes::from(data))
            .from(addr(USER))
            .send()
            .await
            .expect("sendToL2 sent")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status());
        receipt
    }

    async fn rpc(&self, method: &'static str, params: serde_json::Value) {
        let _: serde_json::Value = self
            .provider
            .raw_request(method.into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"));
    }

    async fn mine(&self, blocks: u64) {
        for _ in 0..blocks {
            self.rpc("evm_mine", serde_json::json!([])).await;
        }
    }

    async fn head(&self) -> u64 {
        self.provider.get_block_number().await.expect("head")
    }

    async fn queued_hash(&self, id: u64) -> B256 {
        self.bridge()
            .privilegedTxHashes(U256::from(id))
            .call()
            .await
            .expect("privilegedTxHashes")
    }

    async fn transaction_id(&self) -> u64 {
        self.bridge()
            .transactionId()
            .call()
            .await
            .expect("transactionId")
            .to()
    }
}

/// Fast retries, so an outage is reported in milliseconds.
fn client(urls: Vec<String>) -> L1Client {
    L1Client::new(L1ClientConfig {
        urls,
        request_timeout: Duration::from_secs(2),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_attempts: 2,
        max_elapsed: Duration::from_secs(2),
        max_log_range: 1_000,
    })
    .expect("client")
}

/// A watcher running in a task.
struct Running {
    shutdown: tokio_util::sync::CancellationToken,
    status: watch::Receiver<L1WatcherStatus>,
    task: JoinHandle<()>,
}

fn spawn(watcher: L1Watcher) -> Running {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let status = watcher.status();
    let task = tokio::spawn(watcher.run(shutdown.clone()));
    Running {
        shutdown,
        status,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the watcher stops on shutdown")
            .expect("the watcher task did not panic");
    }
}

/// Ids are 0..n in order, each once, and every hash is the one the bridge queued.
async fn assert_delivered_as_queued(l1: &L1, txs: &[PrivilegedTx]) {
    let ids: Vec<u64> = txs.iter().map(|tx| tx.nonce).collect();
    assert_eq!(ids, (0..txs.len() as u64).collect::<Vec<_>>());
    for tx in txs {
        assert_eq!(tx.chain_id, dev::DEFAULT_L2_CHAIN_ID);
        assert_eq!(tx.hash(), l1.queued_hash(tx.nonce).await, "tx {}", tx.nonce);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_and_l2_calls_reach_the_sink_in_order_once() {
    let l1 = L1::start().await;
    let store = Store::in_memory().expect("store");
    let sink = Arc::new(MemorySink::new());
    // The first URL is dead: the client fails over to anvil.
    let watcher = L1Watcher::new(
        l1.watcher_config(),
        client(vec![dead_url(), l1.anvil.url.clone()]),
        store.clone(),
        sink.clone(),
    );
    let running = spawn(watcher);

    let recipient = Address::repeat_byte(0x42);
    l1.deposit(recipient, ether(1)).await;
    l1.send_to_l2(Address::repeat_byte(0x77), vec![1, 2, 3])
        .await;
    let caller = L1Caller::deploy(&l1.provider).await.expect("L1Caller");
    caller
        .send(
            l1.deployment.contracts.common_bridge.proxy,
            Address::repeat_byte(0x78),
            U256::from(50_000),
            U256::ZERO,
            Bytes::from_static(b"via contract"),
        )
        .from(addr(USER))
        .send()
        .await
        .expect("send via contract")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(sink.wait_for(3, WAIT).await, "got {:?}", sink.txs());

    let txs = sink.txs();
    assert_delivered_as_queued(&l1, &txs).await;
    assert_eq!(txs[0].from, keel_types::rules::L2_BRIDGE_ADDRESS);
    assert_eq!(txs[0].to, keel_types::rules::L2_BRIDGE_ADDRESS);
    assert_eq!(txs[0].value, ether(1));
    assert_eq!(txs[0].gas_limit, 200_000);
    assert_eq!(txs[1].from, addr(USER));
    assert_eq!(txs[1].to, Address::repeat_byte(0x77));
    assert_eq!(txs[1].value, U256::from(7));
    assert_eq!(txs[1].gas_limit, 100_000);
    assert_eq!(txs[1].data.as_ref(), &[1, 2, 3]);
    assert_eq!(txs[2].from, apply_l1_alias(*caller.address()));
    assert_eq!(txs[2].data.as_ref(), b"via contract");

    // More, while it runs: still in order, none twice.
    for i in 0..4u8 {
        l1.deposit(Address::repeat_byte(i + 1), ether(2)).await;
    }
    assert!(sink.wait_for(7, WAIT).await, "got {:?}", sink.txs());
    // A few more ticks deliver nothing new.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let txs = sink.txs();
    assert_eq!(txs.len(), 7);
    assert_eq!(l1.transaction_id().await, 7);
    assert_delivered_as_queued(&l1, &txs).await;

    // The store holds them all and a cursor at (or near) the head.
    let progress = store.l1_watcher_progress().expect("progress");
    assert_eq!(progress.last_privileged_id, Some(6));
    assert!(progress.l1_cursor.expect("cursor") + 1 >= l1.head().await);
    assert_eq!(store.pending_privileged_txs().expect("pending"), txs);
    let status = running.status.borrow().clone();
    assert_eq!(status.last_error, None);
    assert_eq!(status.last_privileged_id, Some(6));
    running.stop().await;
}

#[tokio::test]
async fn fifty_deposits_in_one_l1_block_arrive_in_order() {
    let l1 = L1::start().await;
    let store = Store::in_memory().expect("store");
    let sink = Arc::new(MemorySink::new());
    let mut watcher = L1Watcher::new(
        l1.watcher_config(),
        client(vec![l1.anvil.url.clone()]),
        store.clone(),
        sink.clone(),
    );
    let before = watcher.poll().await.expect("poll");
    assert!(before.delivered.is_empty());

    l1.rpc("evm_setAutomine", serde_json::json!([false])).await;
    let mut pending = Vec::new();
    for i in 0..50u64 {
        let recipient = Address::with_last_byte(i as u8 + 1);
        let sent = l1
            .bridge()
            .deposit(recipient)
            .value(U256::from(1_000 + i))
            .from(addr(USER))
            .gas(300_000)
            .send()
            .await
            .expect("deposit sent");
        pending.push(*sent.tx_hash());
    }
    l1.rpc("evm_mine", serde_json::json!([])).await;
    l1.rpc("evm_setAutomine", serde_json::json!([true])).await;
    let head = l1.head().await;
    for hash in &pending {
        let receipt = l1
            .provider
            .get_transaction_receipt(*hash)
            .await
            .expect("receipt")
            .expect("mined");
        assert!(receipt.status());
        assert_eq!(receipt.block_number, Some(head), "all in one block");
    }

    let outcome = watcher.poll().await.expect("poll");
    assert_eq!(outcome.refused, None);
    assert_eq!(outcome.delivered.len(), 50);
    assert!(outcome.caught_up);
    let txs = sink.txs();
    assert_delivered_as_queued(&l1, &txs).await;
    for (i, tx) in txs.iter().enumerate() {
        assert_eq!(tx.value, U256::from(1_000 + i as u64));
    }
    // Nothing new: nothing delivered again.
    let again = watcher.poll().await.expect("poll");
    assert!(again.delivered.is_empty());
    assert_eq!(sink.len(), 50);
}

#[tokio::test]
async fn block_delay_holds_deposits_back_until_enough_blocks_follow() {
    let l1 = L1::start().await;
    let store = Store::in_memory().expect("store");
    let sink = Arc::new(MemorySink::new());
    let mut config = l1.watcher_config();
    config.read_bound = L1ReadBound::Delay(2);
    let mut watcher = L1Watcher::new(
        config,
        client(vec![l1.anvil.url.clone()]),
        store.clone(),
        sink.clone(),
    );
    // Let the deployment blocks pass the delay first.
    l1.mine(2).await;
    watcher.poll().await.expect("poll");

    let receipt = l1.deposit(Address::repeat_byte(9), ether(1)).await;
    let block = receipt.block_number.expect("mined");
    assert_eq!(l1.head().await, block);
    let outcome = watcher.poll().await.expect("poll");
    assert!(outcome.delivered.is_empty(), "0 blocks on top");
    assert!(outcome.l1_cursor < Some(block));
    l1.mine(1).await;
    let outcome = watcher.poll().await.expect("poll");
    assert!(outcome.delivered.is_empty(), "1 block on top");
    assert_eq!(outcome.l1_cursor, Some(block - 1));
    assert!(sink.is_empty());

    l1.mine(1).await;
    let outcome = watcher.poll().await.expect("poll");
    assert_eq!(outcome.delivered.len(), 1, "2 blocks on top");
    assert_eq!(outcome.scanned, Some((block, block)));
    assert_eq!(outcome.l1_cursor, Some(block));
    assert_delivered_as_queued(&l1, &sink.txs()).await;
}

#[tokio::test]
async fn a_restart_on_the_same_datadir_resumes_without_duplicates() {
    let l1 = L1::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keel.redb");

    let first_sink = Arc::new(MemorySink::new());
    let cursor = {
        let store = Store::open(&path).expect("store");
        let mut watcher = L1Watcher::new(
            l1.watcher_config(),
            client(vec![l1.anvil.url.clone()]),
            store.clone(),
            first_sink.clone(),
        );
        for i in 0..3u8 {
            l1.deposit(Address::repeat_byte(i + 1), ether(1)).await;
        }
        let outcome = watcher.poll().await.expect("poll");
        assert_eq!(outcome.delivered.len(), 3);
        // The block producer included ids 0 and 1.
        store
            .set_privileged_included_up_to(1)
            .expect("mark included");
        outcome.l1_cursor.expect("cursor")
    };
    assert_delivered_as_queued(&l1, &first_sink.txs()).await;

    // While the node is down: two more deposits.
    for i in 3..5u8 {
        l1.deposit(Address::repeat_byte(i + 1), ether(1)).await;
    }

    let store = Store::open(&path).expect("store reopens");
    let sink = Arc::new(MemorySink::new());
    let mut watcher = L1Watcher::new(
        l1.watcher_config(),
        client(vec![l1.anvil.url.clone()]),
        store.clone(),
        sink.clone(),
    );
    let outcome = watcher.poll().await.expect("poll");
    // It scans from its cursor on, and hands over the stored but not included id 2 first.
    assert_eq!(outcome.scanned.map(|(from, _)| from), Some(cursor + 1));
    let ids: Vec<u64> = outcome.delivered.iter().map(|tx| tx.nonce).collect();
    assert_eq!(ids, vec![3, 4]);
    let ids: Vec<u64> = sink.txs().iter().map(|tx| tx.nonce).collect();
    assert_eq!(ids, vec![2, 3, 4]);
    let again = watcher.poll().await.expect("poll");
    assert!(again.delivered.is_empty());
    assert_eq!(sink.len(), 3);

    // Across both runs every id was stored once, with the bridge's hashes.
    let all = store.privileged_txs_from(0, 100).expect("stored");
    assert_delivered_as_queued(&l1, &all).await;
    assert_eq!(all.len(), 5);
    assert_eq!(&all[..3], first_sink.txs().as_slice());
}

/// A TCP proxy to anvil that can be switched off (it then drops every connection).
struct Proxy {
    url: String,
    up: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (up, up_rx) = watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut up = up_rx.clone();
                if !*up.borrow() {
                    continue; // dropped: the client sees the connection close
                }
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = up.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { url, up, task }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_outage_is_reported_and_survived() {
    let l1 = L1::start().await;
    let proxy = Proxy::start(([127, 0, 0, 1], l1.anvil.port).into()).await;
    let store = Store::in_memory().expect("store");
    let sink = Arc::new(MemorySink::new());
    let watcher = L1Watcher::new(
        l1.watcher_config(),
        client(vec![proxy.url.clone()]),
        store,
        sink.clone(),
    );
    let mut running = spawn(watcher);

    l1.deposit(Address::repeat_byte(1), ether(1)).await;
    assert!(sink.wait_for(1, WAIT).await, "delivered while L1 is up");

    // L1 goes away: the watcher reports it and keeps running.
    proxy.set_up(false);
    l1.deposit(Address::repeat_byte(2), ether(1)).await;
    tokio::time::timeout(
        WAIT,
        running
            .status
            .wait_for(|s| s.l1_unreachable && s.consecutive_failures >= 2),
    )
    .await
    .expect("the outage is reported")
    .expect("status channel open");
    let status = running.status.borrow().clone();
    let error = status.last_error.expect("an error");
    assert!(error.contains("L1 unreachable"), "{error}");
    assert!(
        !running.task.is_finished(),
        "the watcher survives the outage"
    );
    assert_eq!(sink.len(), 1);

    // L1 is back: the deposit made meanwhile arrives, once.
    proxy.set_up(true);
    assert!(sink.wait_for(2, WAIT).await, "delivered after the outage");
    tokio::time::timeout(WAIT, running.status.wait_for(|s| s.last_error.is_none()))
        .await
        .expect("the error clears")
        .expect("status channel open");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let txs = sink.txs();
    assert_eq!(txs.len(), 2);
    assert_delivered_as_queued(&l1, &txs).await;
    running.stop().await;
}

#[tokio::test]
async fn an_l1_down_at_start_is_an_error_not_a_crash() {
    let store = Store::in_memory().expect("store");
    let sink = Arc::new(MemorySink::new());
    let config = L1WatcherConfig::new(Address::repeat_byte(1), dev::DEFAULT_L2_CHAIN_ID, 0);
    let mut watcher = L1Watcher::new(config, client(vec![dead_url()]), store.clone(), sink);
    let status = watcher.status();
    let err = watcher.poll().await.expect_err("no L1");
    assert!(err.is_unreachable(), "{err}");
    assert!(status.borrow().l1_unreachable);
    assert_eq!(
        store.l1_watcher_progress().expect("progress"),
        Default::default(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_hash_mismatch_is_refused_and_not_skipped() {
    let l1 = L1::start().await;
    let store = Store::in_memory().expect("store");
    let sink = Arc::new(MemorySink::new());
    // The wrong L2 chain id: every hash built here differs from the bridge's.
    let mut config = l1.watcher_config();
    config.l2_chain_id = 1;
    let mut watcher = L1Watcher::new(
        config,
        client(vec![l1.anvil.url.clone()]),
        store.clone(),
        sink.clone(),
    );
    let receipt = l1.deposit(Address::repeat_byte(3), ether(1)).await;
    let block = receipt.block_number.expect("mined");
    l1.mine(3).await;
    for _ in 0..2 {
        let outcome = watcher.poll().await.expect("poll");
        match outcome.refused {
            Some(Refusal::HashMismatch { id, l1_block, .. }) => {
                assert_eq!((id, l1_block), (0, block));
            }
            other => panic!("expected a hash mismatch, got {other:?}"),
        }
        assert!(outcome.delivered.is_empty());
        assert_eq!(outcome.l1_cursor, Some(block - 1), "not past the bad event");
    }
    assert!(sink.is_empty());
    assert!(watcher.status().borrow().last_error.is_some());
    let progress = store.l1_watcher_progress().expect("progress");
    assert_eq!(progress.last_privileged_id, None);
    assert_eq!(progress.l1_cursor, Some(block - 1));
}

#[tokio::test]
async fn a_missed_log_is_a_gap_the_watcher_does_not_cross() {
    let l1 = L1::start().await;
    let first = l1.deposit(Address::repeat_byte(1), ether(1)).await;
    let second = l1.deposit(Address::repeat_byte(2), ether(1)).await;
    let (b0, b1) = (
        first.block_number.expect("mined"),
        second.block_number.expect("mined"),
    );
    // Starting after the first deposit misses id 0.
    let store = Store::in_memory().expect("store");
    let sink = Arc::new(MemorySink::new());
    let mut config = l1.watcher_config();
    config.start_block = b0 + 1;
    let mut watcher = L1Watcher::new(
        config,
        client(vec![l1.anvil.url.clone()]),
        store.clone(),
        sink.clone(),
    );
    let outcome = watcher.poll().await.expect("poll");
    assert_eq!(
        outcome.refused,
        Some(Refusal::Gap {
            expected: 0,
            found: 1,
            l1_block: b1
        })
    );
    assert!(sink.is_empty());
    assert_eq!(outcome.l1_cursor, Some(b1 - 1));
    assert_eq!(
        store
            .l1_watcher_progress()
            .expect("progress")
            .last_privileged_id,
        None
    );
}

/// anvil's block number for `tag` (`safe` or `finalized`).
async fn tagged_block(l1: &L1, tag: alloy::eips::BlockNumberOrTag) -> u64 {
    l1.provider
        .get_block_by_number(tag)
        .await
        .expect("eth_getBlockByNumber")
        .expect("anvil has the tag")
        .header
        .number
}

#[tokio::test]
async fn each_read_bound_hands_a_deposit_over_only_once_its_block_is_at_or_below_it() {
    use alloy::eips::BlockNumberOrTag;
    let l1 = L1::start().await;
    // The default is `safe`.
    assert_eq!(
        L1WatcherConfig::new(Address::ZERO, 1, 0).read_bound,
        L1ReadBound::Safe
    );
    let bounds = [
        L1ReadBound::Latest,
        L1ReadBound::Delay(3),
        L1ReadBound::Safe,
        L1ReadBound::Finalized,
    ];
    let mut watchers: Vec<(L1ReadBound, L1Watcher, Arc<MemorySink>)> = bounds
        .iter()
        .map(|bound| {
            let sink = Arc::new(MemorySink::new());
            let mut config = l1.watcher_config();
            config.read_bound = *bound;
            let watcher = L1Watcher::new(
                config,
                client(vec![l1.anvil.url.clone()]),
                Store::in_memory().expect("store"),
                sink.clone(),
            );
            (*bound, watcher, sink)
        })
        .collect();

    let receipt = l1.deposit(Address::repeat_byte(7), ether(1)).await;
    let block = receipt.block_number.expect("mined");
    // Polls every watcher; returns which ones have the deposit. Checks that none read past its
    // bound.
    async fn poll_all(
        l1: &L1,
        watchers: &mut [(L1ReadBound, L1Watcher, Arc<MemorySink>)],
    ) -> Vec<L1ReadBound> {
        let head = l1.head().await;
        let safe = tagged_block(l1, BlockNumberOrTag::Safe).await;
        let finalized = tagged_block(l1, BlockNumberOrTag::Finalized).await;
        let mut have = Vec::new();
        for (bound, watcher, sink) in watchers.iter_mut() {
            let outcome = watcher.poll().await.expect("poll");
            let expected = match bound {
                L1ReadBound::Latest => Some(head),
                L1ReadBound::Delay(n) => head.checked_sub(*n),
                L1ReadBound::Safe => Some(safe),
                L1ReadBound::Finalized => Some(finalized),
            };
            assert_eq!(outcome.l1_read_bound, expected, "{bound}");
            if let Some((_, to)) = outcome.scanned {
                assert!(Some(to) <= expected, "{bound}: scanned up to {to}");
            }
            assert!(
                outcome.l1_cursor <= expected,
                "{bound}: cursor past the bound"
            );
            if !sink.is_empty() {
                have.push(*bound);
            }
        }
        have
    }

    // At once: only `latest`.
    assert_eq!(l1.head().await, block);
    assert_eq!(
        poll_all(&l1, &mut watchers).await,
        vec![L1ReadBound::Latest]
    );
    // 2 blocks on top: still only `latest`; 3: the block delay too.
    l1.mine(2).await;
    assert_eq!(
        poll_all(&l1, &mut watchers).await,
        vec![L1ReadBound::Latest]
    );
    l1.mine(1).await;
    assert_eq!(
        poll_all(&l1, &mut watchers).await,
        vec![L1ReadBound::Latest, L1ReadBound::Delay(3)]
    );
    // anvil's `safe` is 32 blocks behind its head, `finalized` 64.
    while tagged_block(&l1, BlockNumberOrTag::Safe).await + 1 < block {
        l1.mine(1).await;
    }
    assert_eq!(
        poll_all(&l1, &mut watchers).await,
        vec![L1ReadBound::Latest, L1ReadBound::Delay(3)],
        "safe is one block short"
    );
    l1.mine(1).await;
    assert_eq!(
        poll_all(&l1, &mut watchers).await,
        vec![
            L1ReadBound::Latest,
            L1ReadBound::Delay(3),
            L1ReadBound::Safe
        ]
    );
    assert!(tagged_block(&l1, BlockNumberOrTag::Finalized).await < block);
    l1.rpc("anvil_mine", serde_json::json!([40])).await;
    assert!(tagged_block(&l1, BlockNumberOrTag::Finalized).await >= block);
    assert_eq!(poll_all(&l1, &mut watchers).await, bounds.to_vec());
    for (bound, _, sink) in &watchers {
        assert_eq!(sink.len(), 1, "{bound}: once");
        assert_delivered_as_queued(&l1, &sink.txs()).await;
    }
}

/// A JSON-RPC server that says the head is block 100 and answers `eth_getBlockByNumber` with
/// `block_answer` (the `result` or `error` member, as JSON): an L1 without the `safe` tag.
async fn l1_without_tags(block_answer: &'static str) -> (String, JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                let body = loop {
                    let Ok(n) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break buf[end + 4..end + 4 + length].to_vec();
                    }
                };
                let request: serde_json::Value =
                    serde_json::from_slice(&body).expect("a JSON-RPC request");
                let id = request["id"].clone();
                let answer = match request["method"].as_str() {
                    Some("eth_blockNumber") => r#""result":"0x64""#.to_string(),
                    Some("eth_getBlockByNumber") => block_answer.to_string(),
                    _ => r#""error":{"code":-32601,"message":"not here"}"#.to_string(),
                };
                let body = format!(r#"{{"jsonrpc":"2.0","id":{id},{answer}}}"#);
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, task)
}

#[tokio::test]
async fn an_l1_without_the_safe_tag_is_a_clear_error() {
    for answer in [
        r#""error":{"code":-39001,"message":"unknown block"}"#,
        r#""result":null"#,
    ] {
        let (url, server) = l1_without_tags(answer).await;
        let store = Store::in_memory().expect("store");
        let sink = Arc::new(MemorySink::new());
        let config = L1WatcherConfig::new(Address::repeat_byte(1), dev::DEFAULT_L2_CHAIN_ID, 0);
        assert_eq!(config.read_bound, L1ReadBound::Safe);
        let mut watcher = L1Watcher::new(config, client(vec![url]), store.clone(), sink.clone());
        for _ in 0..2 {
            let err = watcher.poll().await.expect_err("no safe block");
            assert!(
                matches!(
                    &err,
                    keel_sequencer::l1_watcher::L1WatcherError::L1(L1ClientError::UnsupportedTag {
                        tag: "safe",
                        ..
                    })
                ),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(text.contains("`safe`") && text.contains("latest"), "{text}");
            assert!(!err.is_unreachable(), "not an outage");
            let status = watcher.status().borrow().clone();
            assert!(!status.l1_unreachable);
            assert_eq!(status.last_error.as_deref(), Some(text.as_str()));
        }
        assert!(sink.is_empty());
        assert_eq!(
            store.l1_watcher_progress().expect("progress"),
            Default::default(),
            "nothing written"
        );
        server.abort();
    }
}

/// A sink that keeps the L1 timestamps it is told, beside the txs.
#[derive(Default)]
struct TimedSink {
    txs: MemorySink,
    times: std::sync::Mutex<Vec<(u64, u64)>>,
}

impl keel_sequencer::PrivilegedTxSink for TimedSink {
    fn push(&self, txs: Vec<PrivilegedTx>) {
        self.txs.push(txs);
    }

    fn l1_timestamps(&self, times: &[(u64, u64)]) {
        self.times.lock().expect("lock").extend_from_slice(times);
    }
}

/// On a current-thread runtime, so the watcher records into this test's recorder.
#[tokio::test]
async fn the_watcher_records_the_l1_head_its_cursor_and_deposits_seen_and_passes_l1_times_on() {
    let (recorder, handle) = recorder::recorder();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let l1 = L1::start().await;
    let sink = Arc::new(TimedSink {
        txs: MemorySink::new(),
        times: Default::default(),
    });
    let mut watcher = L1Watcher::new(
        l1.watcher_config(),
        client(vec![l1.anvil.url.clone()]),
        Store::in_memory().expect("store"),
        sink.clone(),
    );
    watcher.poll().await.expect("poll");
    let first = l1.deposit(Address::repeat_byte(7), ether(1)).await;
    l1.deposit(Address::repeat_byte(8), ether(2)).await;
    let outcome = watcher.poll().await.expect("poll");
    assert_eq!(outcome.delivered.len(), 2);
    let head = l1.head().await;
    let v = |series: &str| recorder::series(&handle.render(), series);
    assert_eq!(v("keel_l1_head_block"), Some(head as f64));
    assert_eq!(v("keel_l1_watcher_cursor_block"), Some(head as f64));
    assert_eq!(v("keel_deposits_seen_total"), Some(2.0));

    // The L1 block timestamps come with the logs (anvil returns `blockTimestamp`).
    let block = first.block_number.expect("mined");
    let timestamp = l1
        .provider
        .get_block_by_number(block.into())
        .await
        .expect("block")
        .expect("exists")
        .header
        .timestamp;
    let times = sink.times.lock().expect("lock").clone();
    assert_eq!(times.len(), 2, "{times:?}");
    assert_eq!(times[0], (outcome.delivered[0].nonce, timestamp));
}
