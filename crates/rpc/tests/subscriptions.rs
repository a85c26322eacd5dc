//! WebSocket subscriptions (`newHeads`, `logs`, `newPendingTransactions`), removed logs after a
//! reorg (subscriptions and polled filters), and the JSON-RPC transport: batches and unknown
//! methods.

mod common;

use std::{sync::Arc, time::Duration};

use alloy::{
    eips::eip2718::Encodable2718,
    primitives::{B256, U256},
    providers::Provider,
    rpc::types::{Filter, Header, Log, Transaction},
};
use futures::StreamExt;
use keel_chain::{Blockchain, ImportOutcome, Mempool, MempoolConfig};
use keel_rpc::RpcConfig;
use keel_sequencer::{BlockProducer, BlockProducerConfig};
use keel_storage::{ChainReader, Store};
use keel_types::{ChainSpec, dev};
use serde_json::{Value, json};

use common::{
    Fee, PING, PONG, TestNode, call_tx, deploy_emitter_tx, ping, pongs, post, produce, quantity,
    rpc, rpc_error, send, transfer, wait_mined,
};

const WAIT: Duration = Duration::from_secs(30);

/// The next item of a subscription stream, within [`WAIT`].
async fn next<T>(stream: &mut (impl futures::Stream<Item = T> + Unpin)) -> T {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("a notification within 30 s")
        .expect("the subscription is open")
}

#[tokio::test(flavor = "multi_thread")]
async fn new_heads_are_delivered_in_order_with_geth_fields() {
    let node = TestNode::start(Duration::from_millis(100)).await;
    let ws = node.ws_client().await;
    let mut heads = ws
        .subscribe_blocks()
        .await
        .expect("subscribe newHeads")
        .into_stream();
    let mut raw = ws
        .subscribe::<_, Value>(("newHeads",))
        .await
        .expect("subscribe newHeads (raw)")
        .into_stream();

    let mut received: Vec<Header> = Vec::new();
    for _ in 0..4 {
        received.push(next(&mut heads).await);
    }
    let reader = node.chain.store().reader().expect("reader");
    for pair in received.windows(2) {
        assert_eq!(pair[1].number, pair[0].number + 1, "consecutive heads");
        assert_eq!(pair[1].parent_hash, pair[0].hash);
    }
    for header in &received {
        let hash = reader.canonical_hash(header.number).expect("lookup");
        assert_eq!(hash, Some(header.hash), "a canonical block");
        let stored = reader
            .header(&header.hash)
            .expect("lookup")
            .expect("stored");
        assert_eq!(header.inner, stored);
    }
    drop(reader);

    // The JSON object is geth's header: every header field and the hash, nothing of a block.
    let header = next(&mut raw).await;
    let object = header.as_object().expect("a header object");
    for key in [
        "hash",
        "parentHash",
        "sha3Uncles",
        "miner",
        "stateRoot",
        "transactionsRoot",
        "receiptsRoot",
        "logsBloom",
        "difficulty",
        "number",
        "gasLimit",
        "gasUsed",
        "timestamp",
        "extraData",
        "mixHash",
        "nonce",
        "baseFeePerGas",
        "withdrawalsRoot",
        "blobGasUsed",
        "excessBlobGas",
        "parentBeaconBlockRoot",
        "requestsHash",
    ] {
        assert!(object.contains_key(key), "{key} missing from {header}");
    }
    for key in ["transactions", "uncles", "size", "totalDifficulty"] {
        assert!(!object.contains_key(key), "{key} in {header}");
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_subscriptions_deliver_each_matching_log() {
    let node = TestNode::start(Duration::from_millis(200)).await;
    let (deploy, a) = deploy_emitter_tx(0, 0).await;
    wait_mined(&node, send(&node, &deploy).await).await;

    let ws = node.ws_client().await;
    let mut pong_logs = ws
        .subscribe_logs(&Filter::new().address(a).event_signature(PONG))
        .await
        .expect("subscribe logs")
        .into_stream();
    let mut ping_logs = ws
        .subscribe_logs(&Filter::new().event_signature(PING))
        .await
        .expect("subscribe logs")
        .into_stream();

    send(&node, &call_tx(1, 0, a, ping(1, &[])).await).await;
    let pongs_tx = send(&node, &call_tx(1, 1, a, pongs(100, 3)).await).await;
    let (block, block_hash) = wait_mined(&node, pongs_tx).await;
    let last_ping = send(&node, &call_tx(2, 0, a, ping(2, &[])).await).await;

    // One notification per log, the Ping skipped.
    let mut received: Vec<Log> = Vec::new();
    for _ in 0..3 {
        received.push(next(&mut pong_logs).await);
    }
    let ids: Vec<U256> = received.iter().map(|l| l.topics()[1].into()).collect();
    assert_eq!(ids, [100, 101, 102].map(U256::from).to_vec());
    for log in &received {
        assert_eq!(log.address(), a);
        assert_eq!(log.block_number, Some(block));
        assert_eq!(log.block_hash, Some(block_hash));
        assert_eq!(log.transaction_hash, Some(pongs_tx));
        assert!(!log.removed);
    }
    let indexes: Vec<u64> = received.iter().filter_map(|l| l.log_index).collect();
    assert_eq!(indexes.len(), 3);
    assert!(indexes.windows(2).all(|w| w[1] == w[0] + 1), "{indexes:?}");

    // The Ping subscription saw both Pings and none of the Pongs.
    let first = next(&mut ping_logs).await;
    let second = next(&mut ping_logs).await;
    assert_eq!(first.topics()[0], PING);
    assert_eq!(first.topics()[2], B256::from(U256::from(1)));
    assert_eq!(second.topics()[2], B256::from(U256::from(2)));
    assert_eq!(second.transaction_hash, Some(last_ping));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_transaction_subscriptions_deliver_hashes_and_transactions() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let ws = node.ws_client().await;
    let mut hashes = ws
        .subscribe_pending_transactions()
        .await
        .expect("subscribe newPendingTransactions")
        .into_stream();
    let mut full = ws
        .subscribe_full_pending_transactions()
        .await
        .expect("subscribe newPendingTransactions (full)")
        .into_stream();

    let first = send(&node, &transfer(1, 0, Fee::tip(1_000)).await).await;
    let second = send(&node, &transfer(2, 0, Fee::tip(2_000)).await).await;
    assert_eq!(next(&mut hashes).await, first);
    assert_eq!(next(&mut hashes).await, second);
    let tx: Transaction = next(&mut full).await;
    assert_eq!(*tx.inner.tx_hash(), first);
    assert_eq!(tx.inner.signer(), TestNode::dev_signer(1).address());
    assert_eq!(tx.block_hash, None);
    let tx: Transaction = next(&mut full).await;
    assert_eq!(*tx.inner.tx_hash(), second);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_subscriptions_are_rejected() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let ws = node.ws_client().await;
    let unknown = ws
        .client()
        .request::<_, Value>("eth_subscribe", ("nope",))
        .await
        .expect_err("unknown subscription");
    let unknown = unknown.as_error_resp().expect("an error response");
    assert_eq!(unknown.code, -32601);
    assert_eq!(unknown.message, "no \"nope\" subscription in eth namespace");
    let pending = ws
        .client()
        .request::<_, Value>("eth_subscribe", ("logs", json!({ "toBlock": "pending" })))
        .await
        .expect_err("pending logs");
    assert_eq!(
        pending.as_error_resp().expect("an error response").message,
        "pending logs are not supported"
    );
    let bad_filter = ws
        .client()
        .request::<_, Value>("eth_subscribe", ("logs", json!({ "address": "0x12" })))
        .await
        .expect_err("bad address");
    assert_eq!(
        bad_filter.as_error_resp().expect("an error response").code,
        -32602
    );
    // Subscriptions need a connection to notify on: over HTTP, an error (`rpc_error` checks that
    // it has an integer code).
    rpc_error(&node, "eth_subscribe", json!(["newHeads"])).await;
    node.stop().await;
}

/// A second chain from the same genesis, to build a competing fork.
struct Fork {
    mempool: Arc<Mempool>,
    producer: BlockProducer,
}

impl Fork {
    fn new() -> Fork {
        let genesis = dev::dev_genesis();
        let spec = ChainSpec::from_genesis(&genesis).expect("dev genesis");
        let store = Store::in_memory().expect("store");
        let chain = Blockchain::open(store, &genesis, spec).expect("chain");
        let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
        let producer = BlockProducer::new(BlockProducerConfig::default(), chain, mempool.clone());
        Fork { mempool, producer }
    }

    fn block(&self, txs: &[&alloy::consensus::TxEnvelope]) -> keel_types::Block {
        for tx in txs {
            self.mempool
                .add_raw(&tx.encoded_2718())
                .expect("admitted on the fork");
        }
        let built = self
            .producer
            .produce_block()
            .expect("fork block")
            .expect("a block");
        assert_eq!(built.block.body.transactions.len(), txs.len());
        built.block
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reorg_reports_removed_logs_to_filters_and_subscriptions() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let (deploy, a) = deploy_emitter_tx(0, 0).await;
    send(&node, &deploy).await;
    assert_eq!(produce(&node).await.0, 2);

    let filter = rpc(&node, "eth_newFilter", json!([{ "topics": [PING] }])).await;
    let ws = node.ws_client().await;
    let mut logs = ws
        .subscribe_logs(&Filter::new().event_signature(PING))
        .await
        .expect("subscribe logs")
        .into_stream();
    let mut heads = ws
        .subscribe_blocks()
        .await
        .expect("subscribe newHeads")
        .into_stream();

    // The node's chain: block 3 with Ping(1).
    let ping1 = call_tx(1, 0, a, ping(1, &[])).await;
    send(&node, &ping1).await;
    let (_, old_block3) = produce(&node).await;
    let seen = next(&mut logs).await;
    assert_eq!(seen.transaction_hash, Some(*ping1.tx_hash()));
    assert!(!seen.removed);
    assert_eq!(next(&mut heads).await.hash, old_block3);
    let changes = rpc(&node, "eth_getFilterChanges", json!([filter])).await;
    assert_eq!(changes.as_array().map(Vec::len), Some(1));

    // A longer fork from genesis: the same deployment, then Ping(2) and Ping(3).
    let fork = Fork::new();
    let ping2 = call_tx(2, 0, a, ping(2, &[])).await;
    let ping3 = call_tx(2, 1, a, ping(3, &[])).await;
    let fork_blocks = [
        fork.block(&[]),
        fork.block(&[&deploy]),
        fork.block(&[&ping2]),
        fork.block(&[&ping3]),
    ];
    let mut reorged = false;
    for block in &fork_blocks {
        let outcome = node.chain.import_block(block).expect("import a fork block");
        reorged |= matches!(outcome, ImportOutcome::Reorged { .. });
    }
    assert!(reorged, "the longer fork became canonical");
    let new_head = fork_blocks[3].header.hash_slow();
    assert_eq!(node.chain.head().expect("head"), (4, new_head));

    // The subscription: Ping(1) removed, then the fork's Pings.
    let removed = next(&mut logs).await;
    assert!(removed.removed, "{removed:?}");
    assert_eq!(removed.transaction_hash, Some(*ping1.tx_hash()));
    assert_eq!(removed.block_hash, Some(old_block3));
    let added: Vec<Log> = vec![next(&mut logs).await, next(&mut logs).await];
    assert_eq!(
        added.iter().map(|l| l.transaction_hash).collect::<Vec<_>>(),
        vec![Some(*ping2.tx_hash()), Some(*ping3.tx_hash())]
    );
    assert!(added.iter().all(|l| !l.removed));
    // newHeads ends at the fork's head.
    let mut last = next(&mut heads).await;
    while last.hash != new_head {
        last = next(&mut heads).await;
    }
    assert_eq!(last.number, 4);

    // The polled filter: the same, once.
    let changes = rpc(&node, "eth_getFilterChanges", json!([filter])).await;
    let changes = changes.as_array().expect("logs");
    let summary: Vec<(bool, B256)> = changes
        .iter()
        .map(|l| {
            (
                l["removed"].as_bool().expect("removed"),
                serde_json::from_value(l["transactionHash"].clone()).expect("hash"),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (true, *ping1.tx_hash()),
            (false, *ping2.tx_hash()),
            (false, *ping3.tx_hash()),
        ]
    );
    assert_eq!(
        rpc(&node, "eth_getFilterChanges", json!([filter])).await,
        json!([])
    );
    // eth_getLogs sees only the canonical chain.
    let logs_now = rpc(
        &node,
        "eth_getLogs",
        json!([{ "fromBlock": "0x0", "topics": [PING] }]),
    )
    .await;
    let hashes: Vec<Value> = logs_now
        .as_array()
        .expect("logs")
        .iter()
        .map(|l| l["transactionHash"].clone())
        .collect();
    assert_eq!(hashes, vec![json!(ping2.tx_hash()), json!(ping3.tx_hash())]);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_mix_results_and_errors_and_respect_the_limit() {
    let node = TestNode::start_manual(
        MempoolConfig::default(),
        RpcConfig {
            max_batch_len: 4,
            ..RpcConfig::default()
        },
    )
    .await;
    let call = |id: u64, method: &str, params: Value| json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
    let batch = json!([
        call(1, "eth_maxPriorityFeePerGas", json!([])),
        call(2, "no_such_method", json!([])),
        call(
            3,
            "eth_getLogs",
            json!([{ "fromBlock": "0x5", "toBlock": "0x1" }])
        ),
        call(4, "eth_feeHistory", json!(["0x1", "latest", []])),
    ]);
    let responses = post(&node, &batch).await;
    let responses = responses.as_array().expect("a batch answer is an array");
    assert_eq!(responses.len(), 4);
    let by_id = |id: u64| {
        responses
            .iter()
            .find(|r| r["id"] == json!(id))
            .unwrap_or_else(|| panic!("no response {id}"))
    };
    assert_eq!(quantity(&by_id(1)["result"]), 1);
    assert_eq!(by_id(2)["error"]["code"], -32601);
    assert_eq!(by_id(3)["error"]["code"], -32602);
    assert_eq!(by_id(3)["error"]["message"], "invalid block range params");
    assert_eq!(by_id(4)["result"]["oldestBlock"], "0x1");

    // A malformed entry gets its own error; the others still run.
    let mixed = post(
        &node,
        &json!([call(1, "eth_gasPrice", json!([])), { "jsonrpc": "2.0", "id": 2 }]),
    )
    .await;
    let mixed = mixed.as_array().expect("an array");
    assert_eq!(mixed.len(), 2);
    assert!(
        mixed
            .iter()
            .any(|r| r["id"] == json!(1) && r["result"].is_string())
    );
    assert!(
        mixed.iter().any(|r| r["error"]["code"] == json!(-32600)),
        "{mixed:?}"
    );

    // Over the configured limit: one error, nothing executed.
    let too_big: Vec<Value> = (1..=5)
        .map(|i| call(i, "eth_gasPrice", json!([])))
        .collect();
    let rejected = post(&node, &Value::Array(too_big)).await;
    assert!(!rejected.is_array(), "{rejected}");
    assert_eq!(rejected["error"]["code"], -32010, "{rejected}");

    // A single unknown method: -32601.
    let unknown = rpc_error(&node, "eth_noSuchThing", json!([])).await;
    assert_eq!(unknown.code, -32601);
    node.stop().await;
}
