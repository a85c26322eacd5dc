//! `eth_getLogs` and the polled filters (`eth_new*Filter`, `eth_getFilterChanges`,
//! `eth_getFilterLogs`, `eth_uninstallFilter`) against blocks with events of the `LogEmitter`
//! test contract.

mod common;

use std::{collections::HashSet, time::Duration};

use alloy::{
    primitives::{Address, B256, Bytes, keccak256},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolCall,
};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use keel_storage::ChainReader;
use serde_json::{Value, json};

use common::{
    Fee, LogEmitter, PING, PONG, TestNode, address_topic, call_tx, canonical, deploy_emitter_tx,
    ping, pongs, produce, quantity, rpc, rpc_error, send, transfer, wait_mined, word,
};

fn both(id: u64) -> Vec<u8> {
    LogEmitter::bothCall {
        id: alloy::primitives::U256::from(id),
    }
    .abi_encode()
}

/// The ABI encoding of a Ping's unindexed `bytes data`: offset, length, padded bytes.
fn ping_data(data: &[u8]) -> Bytes {
    let mut out = word(32).to_vec();
    out.extend_from_slice(word(data.len() as u64).as_slice());
    let mut padded = data.to_vec();
    padded.resize(data.len().div_ceil(32) * 32, 0);
    out.extend_from_slice(&padded);
    out.into()
}

fn logs_of(value: &Value) -> Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list of logs: {value}"))
        .clone()
}

async fn get_logs(node: &TestNode, filter: Value) -> Vec<Value> {
    logs_of(&rpc(node, "eth_getLogs", json!([filter])).await)
}

fn topic(log: &Value, i: usize) -> B256 {
    serde_json::from_value(log["topics"][i].clone()).expect("a topic")
}

#[tokio::test(flavor = "multi_thread")]
async fn get_logs_filters_by_address_topics_and_blocks() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let sender1 = TestNode::dev_signer(1).address();

    // Block 2: two emitters. Block 3: a Ping from each. Block 4: three Pongs from A.
    // Block 5: nothing. Block 6: Ping, Pong and an anonymous log from A.
    let (deploy_a, a) = deploy_emitter_tx(0, 0).await;
    let (deploy_b, b) = deploy_emitter_tx(0, 1).await;
    send(&node, &deploy_a).await;
    send(&node, &deploy_b).await;
    assert_eq!(produce(&node).await.0, 2);
    let ping_a = send(&node, &call_tx(1, 0, a, ping(1, &[0xab])).await).await;
    let ping_b = send(&node, &call_tx(2, 0, b, ping(2, &[])).await).await;
    assert_eq!(produce(&node).await.0, 3);
    let pongs_a = send(&node, &call_tx(3, 0, a, pongs(10, 3)).await).await;
    assert_eq!(produce(&node).await.0, 4);
    assert_eq!(produce(&node).await.0, 5);
    let both_a = send(&node, &call_tx(1, 1, a, both(7)).await).await;
    assert_eq!(produce(&node).await.0, 6);
    for (hash, block) in [(ping_a, 3), (ping_b, 3), (pongs_a, 4), (both_a, 6)] {
        assert_eq!(wait_mined(&node, hash).await.0, block);
    }

    // Everything from A, in chain order, with every field geth returns.
    let from_a = get_logs(&node, json!({ "fromBlock": "earliest", "address": a })).await;
    assert_eq!(from_a.len(), 7, "{from_a:?}");
    let (hash3, header3) = canonical(&node, 3);
    let first = &from_a[0];
    assert_eq!(
        first,
        &json!({
            "address": a,
            "topics": [PING, address_topic(sender1), word(1)],
            "data": ping_data(&[0xab]),
            "blockNumber": "0x3",
            "blockHash": hash3,
            "blockTimestamp": format!("{:#x}", header3.timestamp),
            "transactionHash": ping_a,
            "transactionIndex": "0x0",
            "logIndex": "0x0",
            "removed": false,
        })
    );
    let pong_ids: Vec<u64> = from_a[1..4]
        .iter()
        .map(|log| {
            assert_eq!(log["blockNumber"], "0x4");
            assert_eq!(log["transactionHash"], json!(pongs_a));
            quantity(&log["topics"][1]) as u64
        })
        .collect();
    assert_eq!(pong_ids, vec![10, 11, 12]);
    let indexes: Vec<u128> = from_a[1..4]
        .iter()
        .map(|l| quantity(&l["logIndex"]))
        .collect();
    assert_eq!(indexes, vec![0, 1, 2]);
    // The anonymous log has no topics.
    assert_eq!(from_a[6]["topics"], json!([]));
    assert_eq!(from_a[6]["logIndex"], "0x2");

    // B's Ping is the block's second transaction and second log.
    let from_b = get_logs(&node, json!({ "fromBlock": "0x0", "address": [b] })).await;
    assert_eq!(from_b.len(), 1);
    assert_eq!(from_b[0]["transactionIndex"], "0x1");
    assert_eq!(from_b[0]["logIndex"], "0x1");
    assert_eq!(from_b[0]["transactionHash"], json!(ping_b));

    let count = |filter: Value| {
        let node = &node;
        async move { get_logs(node, filter).await.len() }
    };
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "address": [a, b] })).await,
        8
    );
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "topics": [PING] })).await,
        3
    );
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "topics": [PING, address_topic(sender1)] })).await,
        2
    );
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "topics": [null, null, word(2)] })).await,
        1
    );
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "address": a, "topics": [[PONG, PING]] })).await,
        6
    );
    // A wildcard position still needs a topic there: the anonymous log does not match.
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "topics": [null] })).await,
        7
    );
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "topics": [PONG, [word(11), word(99)]] })).await,
        1
    );
    // Negative: an address or a topic nobody logs.
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "address": Address::with_last_byte(0x42) })).await,
        0
    );
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "topics": [keccak256("Nope()")] })).await,
        0
    );
    assert_eq!(
        count(json!({ "fromBlock": "0x0", "address": b, "topics": [PONG] })).await,
        0
    );

    // Block ranges and tags.
    assert_eq!(
        count(json!({ "fromBlock": "0x4", "toBlock": "0x4" })).await,
        3
    );
    assert_eq!(
        count(json!({ "fromBlock": "0x5", "toBlock": "0x5" })).await,
        0
    );
    assert_eq!(count(json!({ "fromBlock": "0x6" })).await, 3);
    let from_beyond = rpc_error(&node, "eth_getLogs", json!([{ "fromBlock": "0x7" }])).await;
    assert_eq!(
        from_beyond.code, -32602,
        "from past the head: {from_beyond:?}"
    );
    assert_eq!(count(json!({})).await, 3, "default range: the latest block");
    assert_eq!(
        count(json!({ "fromBlock": "earliest", "toBlock": "0x3" })).await,
        2
    );
    // A range past the head is refused (geth, the spec's test), not clamped.
    let beyond = rpc_error(
        &node,
        "eth_getLogs",
        json!([{ "fromBlock": "0x3", "toBlock": "0x100" }]),
    )
    .await;
    assert_eq!(
        (beyond.code, beyond.message.as_str()),
        (-32602, "block range extends beyond current head block")
    );
    assert_eq!(
        count(json!({ "fromBlock": "latest", "toBlock": "0x3" })).await,
        0
    );
    // By block hash (EIP-234).
    assert_eq!(count(json!({ "blockHash": hash3 })).await, 2);
    assert_eq!(count(json!({ "blockHash": hash3, "address": b })).await, 1);

    // Errors, with geth's messages.
    let both_given = rpc_error(
        &node,
        "eth_getLogs",
        json!([{ "blockHash": hash3, "fromBlock": "0x1" }]),
    )
    .await;
    assert_eq!(both_given.code, -32602);
    assert!(
        both_given
            .message
            .contains("cannot specify both BlockHash and FromBlock/ToBlock"),
        "{both_given:?}"
    );
    let unknown = rpc_error(
        &node,
        "eth_getLogs",
        json!([{ "blockHash": B256::repeat_byte(7) }]),
    )
    .await;
    assert_eq!(unknown.message, "unknown block");
    let inverted = rpc_error(
        &node,
        "eth_getLogs",
        json!([{ "fromBlock": "0x5", "toBlock": "0x4" }]),
    )
    .await;
    assert_eq!(inverted.message, "invalid block range params");
    let pending = rpc_error(&node, "eth_getLogs", json!([{ "toBlock": "pending" }])).await;
    assert_eq!(pending.message, "pending logs are not supported");
    let bad_topic = rpc_error(&node, "eth_getLogs", json!([{ "topics": ["0x1234"] }])).await;
    assert_eq!(bad_topic.code, -32602, "{bad_topic:?}");
    let missing = rpc_error(&node, "eth_getLogs", json!([])).await;
    assert_eq!(missing.code, -32602, "{missing:?}");

    // alloy parses the logs.
    let provider = node.client();
    let typed: Vec<Log> = provider
        .get_logs(&Filter::new().address(a).event_signature(PONG).from_block(0))
        .await
        .expect("alloy getLogs");
    assert_eq!(typed.len(), 4);
    assert!(
        typed
            .iter()
            .all(|log| log.address() == a && log.topics()[0] == PONG)
    );
    assert_eq!(typed[3].block_number, Some(6));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_logs_enforces_the_range_and_result_limits() {
    let node = TestNode::start_manual(
        MempoolConfig::default(),
        RpcConfig {
            max_logs_block_range: 3,
            max_logs: 2,
            ..RpcConfig::default()
        },
    )
    .await;
    let (deploy, a) = deploy_emitter_tx(0, 0).await;
    send(&node, &deploy).await;
    produce(&node).await; // 2
    send(&node, &call_tx(1, 0, a, pongs(0, 3)).await).await;
    produce(&node).await; // 3: three logs
    produce(&node).await; // 4
    produce(&node).await; // 5

    let range = rpc_error(&node, "eth_getLogs", json!([{ "fromBlock": "0x0" }])).await;
    assert_eq!(range.code, -32005);
    assert_eq!(range.message, "exceed maximum block range: 3");
    // Three blocks are allowed, but block 3 alone has more logs than allowed.
    let results = rpc_error(
        &node,
        "eth_getLogs",
        json!([{ "fromBlock": "0x3", "toBlock": "0x5" }]),
    )
    .await;
    assert_eq!(results.code, -32005);
    assert_eq!(results.message, "query exceeds max results 2");
    // The part of the range that fits is suggested.
    let retry = rpc_error(
        &node,
        "eth_getLogs",
        json!([{ "fromBlock": "0x2", "toBlock": "0x4" }]),
    )
    .await;
    assert_eq!(
        retry.message,
        "query exceeds max results 2, retry with the range 2-2"
    );
    let fits = get_logs(
        &node,
        json!({ "fromBlock": "0x3", "toBlock": "0x5", "topics": [null, word(1)] }),
    )
    .await;
    assert_eq!(fits.len(), 1);
    let by_hash = rpc_error(
        &node,
        "eth_getLogs",
        json!([{ "blockHash": canonical(&node, 3).0 }]),
    )
    .await;
    assert_eq!(by_hash.code, -32005);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn block_filter_reports_each_new_block_once() {
    let node = TestNode::start(Duration::from_millis(100)).await;
    let id = rpc(&node, "eth_newBlockFilter", json!([])).await;
    let id_str = id.as_str().expect("string id");
    assert!(id_str.starts_with("0x") && id_str.len() <= 34, "{id_str}");
    assert!(
        !id_str.starts_with("0x0") || id_str == "0x0",
        "geth ids have no leading zero"
    );

    let mut seen: Vec<B256> = Vec::new();
    let collect = async {
        while seen.len() < 5 {
            let changes = rpc(&node, "eth_getFilterChanges", json!([id])).await;
            seen.extend(serde_json::from_value::<Vec<B256>>(changes).expect("block hashes"));
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), collect)
        .await
        .expect("five blocks within 30 s");
    let unique: HashSet<B256> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a hash reported twice: {seen:?}");
    let reader = node.chain.store().reader().expect("reader");
    let numbers: Vec<u64> = seen
        .iter()
        .map(|hash| {
            let number = reader
                .block_number(hash)
                .expect("lookup")
                .expect("known block");
            assert_eq!(reader.canonical_hash(number).expect("lookup"), Some(*hash));
            number
        })
        .collect();
    drop(reader);
    for pair in numbers.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "no block skipped: {numbers:?}");
    }

    // alloy reads the ids and changes as quantities and hashes.
    let provider = node.client();
    let typed = provider
        .new_block_filter()
        .await
        .expect("alloy newBlockFilter");
    let more = async {
        loop {
            let hashes: Vec<B256> = provider.get_filter_changes(typed).await.expect("changes");
            if !hashes.is_empty() {
                return hashes;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let hashes = tokio::time::timeout(Duration::from_secs(30), more)
        .await
        .expect("a block within 30 s");
    assert!(!hashes.is_empty());
    assert!(provider.uninstall_filter(typed).await.expect("uninstall"));

    assert_eq!(
        rpc(&node, "eth_uninstallFilter", json!([id])).await,
        json!(true)
    );
    assert_eq!(
        rpc(&node, "eth_uninstallFilter", json!([id])).await,
        json!(false)
    );
    let gone = rpc_error(&node, "eth_getFilterChanges", json!([id])).await;
    assert_eq!(gone.code, -32000);
    assert_eq!(gone.message, "filter not found");
    let never = rpc_error(&node, "eth_getFilterChanges", json!(["0x1234"])).await;
    assert_eq!(never.message, "filter not found");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn log_filters_report_new_matching_logs_once() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let (deploy, a) = deploy_emitter_tx(0, 0).await;
    send(&node, &deploy).await;
    produce(&node).await; // 2

    let pong_filter = rpc(
        &node,
        "eth_newFilter",
        json!([{ "address": a, "topics": [PONG] }]),
    )
    .await;
    let history_filter = rpc(
        &node,
        "eth_newFilter",
        json!([{ "fromBlock": "0x0", "topics": [PONG] }]),
    )
    .await;
    let bounded = rpc(
        &node,
        "eth_newFilter",
        json!([{ "fromBlock": "0x4", "toBlock": "0x4" }]),
    )
    .await;
    assert_eq!(
        rpc(&node, "eth_getFilterChanges", json!([pong_filter])).await,
        json!([])
    );

    send(&node, &call_tx(1, 0, a, pongs(1, 2)).await).await;
    produce(&node).await; // 3: Pong 1, Pong 2
    send(&node, &call_tx(1, 1, a, ping(5, &[])).await).await;
    produce(&node).await; // 4: a Ping (other topic)
    send(&node, &call_tx(1, 2, a, pongs(3, 1)).await).await;
    produce(&node).await; // 5: Pong 3

    // Three blocks since the last poll, none lost; each log once.
    let changes = logs_of(&rpc(&node, "eth_getFilterChanges", json!([pong_filter])).await);
    let ids: Vec<u128> = changes.iter().map(|l| quantity(&l["topics"][1])).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    let blocks: Vec<u128> = changes
        .iter()
        .map(|l| quantity(&l["blockNumber"]))
        .collect();
    assert_eq!(blocks, vec![3, 3, 5]);
    assert!(changes.iter().all(|l| l["removed"] == json!(false)));
    assert_eq!(
        rpc(&node, "eth_getFilterChanges", json!([pong_filter])).await,
        json!([])
    );
    // Numeric bounds limit the changes: only block 4's Ping.
    let in_block_4 = logs_of(&rpc(&node, "eth_getFilterChanges", json!([bounded])).await);
    assert_eq!(in_block_4.len(), 1);
    assert_eq!(topic(&in_block_4[0], 0), PING);

    // eth_getFilterLogs runs the filter's query: `latest` by default, or the given range.
    let latest_logs = logs_of(&rpc(&node, "eth_getFilterLogs", json!([pong_filter])).await);
    assert_eq!(latest_logs.len(), 1);
    assert_eq!(latest_logs[0]["blockNumber"], "0x5");
    let all_logs = logs_of(&rpc(&node, "eth_getFilterLogs", json!([history_filter])).await);
    assert_eq!(all_logs.len(), 3);
    assert_eq!(all_logs, changes, "same logs as the changes");

    // Bad filters, and a block filter's id is no log filter.
    let inverted = rpc_error(
        &node,
        "eth_newFilter",
        json!([{ "fromBlock": "0x5", "toBlock": "0x3" }]),
    )
    .await;
    assert_eq!(inverted.message, "invalid block range params");
    let pending = rpc_error(&node, "eth_newFilter", json!([{ "fromBlock": "pending" }])).await;
    assert_eq!(pending.message, "pending logs are not supported");
    let blocks_id = rpc(&node, "eth_newBlockFilter", json!([])).await;
    let not_logs = rpc_error(&node, "eth_getFilterLogs", json!([blocks_id])).await;
    assert_eq!(not_logs.message, "filter not found");

    // alloy: a log filter and typed changes.
    let provider = node.client();
    let typed = provider
        .new_filter(&Filter::new().address(a).event_signature(PING))
        .await
        .expect("alloy newFilter");
    send(&node, &call_tx(2, 0, a, ping(9, &[1, 2, 3])).await).await;
    produce(&node).await;
    let logs: Vec<Log> = provider.get_filter_changes(typed).await.expect("changes");
    assert_eq!(logs.len(), 1);
    let decoded = logs[0].log_decode::<LogEmitter::Ping>().expect("a Ping");
    assert_eq!(decoded.inner.data.id, alloy::primitives::U256::from(9));
    assert_eq!(decoded.inner.data.data, Bytes::from(vec![1, 2, 3]));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_transaction_filters_report_hashes_or_transactions() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let hashes_id = rpc(&node, "eth_newPendingTransactionFilter", json!([])).await;
    let full_id = rpc(&node, "eth_newPendingTransactionFilter", json!([true])).await;

    let txs = [
        transfer(1, 0, Fee::tip(1_000)).await,
        transfer(2, 0, Fee::tip(2_000)).await,
        transfer(1, 1, Fee::tip(3_000)).await,
    ];
    let mut sent = Vec::new();
    for tx in &txs {
        sent.push(send(&node, tx).await);
    }
    let hashes: Vec<B256> =
        serde_json::from_value(rpc(&node, "eth_getFilterChanges", json!([hashes_id])).await)
            .expect("hashes");
    assert_eq!(hashes, sent);
    assert_eq!(
        rpc(&node, "eth_getFilterChanges", json!([hashes_id])).await,
        json!([])
    );

    // Mined before the full filter is polled: still reported, in the pending shape, as geth
    // reports what entered the pool.
    produce(&node).await;
    let full = rpc(&node, "eth_getFilterChanges", json!([full_id])).await;
    let full = full.as_array().expect("transactions");
    assert_eq!(full.len(), 3);
    for (tx, hash) in full.iter().zip(&sent) {
        assert_eq!(tx["hash"], json!(hash));
        assert_eq!(tx["blockHash"], Value::Null);
        assert_eq!(tx["blockNumber"], Value::Null);
        assert_eq!(tx["transactionIndex"], Value::Null);
        // geth shows a pending 1559 transaction's fee cap as its gas price.
        assert_eq!(tx["gasPrice"], tx["maxFeePerGas"]);
        assert_eq!(tx["type"], "0x2");
    }
    assert_eq!(full[0]["from"], json!(TestNode::dev_signer(1).address()));
    assert_eq!(full[1]["from"], json!(TestNode::dev_signer(2).address()));

    // After a block, only new arrivals; a pool transaction in full.
    let later = send(&node, &transfer(3, 0, Fee::tip(1)).await).await;
    let hashes: Vec<B256> =
        serde_json::from_value(rpc(&node, "eth_getFilterChanges", json!([hashes_id])).await)
            .expect("hashes");
    assert_eq!(hashes, vec![later]);
    let full = rpc(&node, "eth_getFilterChanges", json!([full_id])).await;
    assert_eq!(full.as_array().map(Vec::len), Some(1));
    assert_eq!(full[0]["hash"], json!(later));
    assert_eq!(full[0]["from"], json!(TestNode::dev_signer(3).address()));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_expire_when_not_polled() {
    let node = TestNode::start_with(
        Duration::from_millis(200),
        MempoolConfig::default(),
        RpcConfig {
            filter_timeout: Duration::from_secs(2),
            ..RpcConfig::default()
        },
    )
    .await;
    let polled = rpc(&node, "eth_newBlockFilter", json!([])).await;
    let idle = rpc(&node, "eth_newPendingTransactionFilter", json!([])).await;
    // Polled more often than the timeout, for longer than the timeout: alive.
    for _ in 0..8 {
        rpc(&node, "eth_getFilterChanges", json!([polled])).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let gone = rpc_error(&node, "eth_getFilterChanges", json!([idle])).await;
    assert_eq!(gone.message, "filter not found");
    assert_eq!(
        rpc(&node, "eth_uninstallFilter", json!([idle])).await,
        json!(false)
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let gone = rpc_error(&node, "eth_getFilterChanges", json!([polled])).await;
    assert_eq!(gone.message, "filter not found");
    node.stop().await;
}
