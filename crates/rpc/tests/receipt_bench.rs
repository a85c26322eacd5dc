//! A micro-benchmark, not a check (ignored by default): time `eth_getTransactionReceipt` and
//! `eth_getBlockByNumber(full)` over HTTP on a block of 500 transfers, the reads issue 15 made
//! cheaper (one receipt row and stored senders instead of the whole block and signature
//! recovery). Run with
//! `cargo nextest run -p keel-rpc --release --run-ignored only -E 'test(receipt_reads)' --no-capture`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use serde_json::json;

const ACCOUNTS: usize = 10;
const PER_ACCOUNT: u64 = 50;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run on demand"]
async fn receipt_reads() {
    let pool = MempoolConfig {
        max_per_sender: PER_ACCOUNT as usize,
        ..Default::default()
    };
    let node = TestNode::start_manual(pool, RpcConfig::default()).await;
    let mut hashes = Vec::new();
    for account in 0..ACCOUNTS {
        for nonce in 0..PER_ACCOUNT {
            hashes.push(send(&node, &transfer(account, nonce, Fee::tip(TIP)).await).await);
        }
    }
    let (number, _) = produce(&node).await;
    let block = rpc(
        &node,
        "eth_getBlockByNumber",
        json!([format!("{number:#x}"), false]),
    )
    .await;
    let txs = block["transactions"].as_array().map_or(0, Vec::len);
    assert_eq!(txs, hashes.len(), "every transfer in one block");

    // One client (one kept-alive connection) for all timed calls: a client per call costs
    // milliseconds of its own and would hide the server's time.
    let client = Client::new(&node);
    for hash in hashes.iter().take(50) {
        client
            .call("eth_getTransactionReceipt", json!([hash]))
            .await;
    }
    let rounds = 10;
    let started = Instant::now();
    for _ in 0..rounds {
        for hash in &hashes {
            let receipt = client
                .call("eth_getTransactionReceipt", json!([hash]))
                .await;
            assert_eq!(receipt["status"], "0x1");
        }
    }
    report(
        "eth_getTransactionReceipt",
        started.elapsed(),
        rounds * hashes.len(),
    );

    let calls = 500;
    let started = Instant::now();
    for _ in 0..calls {
        let block = client
            .call(
                "eth_getBlockByNumber",
                json!([format!("{number:#x}"), true]),
            )
            .await;
        assert_eq!(block["transactions"].as_array().map_or(0, Vec::len), txs);
    }
    report(
        "eth_getBlockByNumber(full, 500 txs)",
        started.elapsed(),
        calls,
    );

    let started = Instant::now();
    for _ in 0..calls {
        let receipts = client
            .call("eth_getBlockReceipts", json!([format!("{number:#x}")]))
            .await;
        assert_eq!(receipts.as_array().map_or(0, Vec::len), txs);
    }
    report("eth_getBlockReceipts(500 txs)", started.elapsed(), calls);
    node.stop().await;
}

struct Client {
    http: alloy::transports::http::reqwest::Client,
    url: String,
}

impl Client {
    fn new(node: &TestNode) -> Self {
        Self {
            http: alloy::transports::http::reqwest::Client::new(),
            url: node.http_url.clone(),
        }
    }

    async fn call(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("HTTP request")
            .text()
            .await
            .expect("answer");
        let response: serde_json::Value = serde_json::from_str(&response).expect("JSON answer");
        response["result"].clone()
    }
}

fn report(what: &str, elapsed: Duration, calls: usize) {
    println!(
        "{what}: {calls} calls in {:.3} s = {:.1} µs/call",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / calls as f64
    );
}
