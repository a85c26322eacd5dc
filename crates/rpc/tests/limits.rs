//! Request limits: an oversized body or batch is refused with an error and the node carries on.

mod common;

use std::time::Duration;

use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;

use common::{TestNode, post_text, rpc, rpc_response};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn oversized_requests_and_batches_are_refused() {
    let node = TestNode::start_with(
        Duration::from_millis(200),
        MempoolConfig::default(),
        RpcConfig {
            max_request_bytes: 4_096,
            max_batch_len: 10,
            ..Default::default()
        },
    )
    .await;
    let call =
        |id: usize| format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId","params":[]}}"#);

    // A body over the size limit: refused, with a JSON-RPC "too big" error or HTTP 413.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "ab".repeat(8_192)
    );
    let (status, text) = post_text(&node, big).await;
    assert!(
        status == 413 || text.contains("too big") || text.contains("-32007"),
        "status {status}: {text}"
    );

    // A batch over the length limit: an error, not 11 answers.
    let batch = format!("[{}]", (0..11).map(call).collect::<Vec<_>>().join(","));
    let (_, text) = post_text(&node, batch).await;
    let value: serde_json::Value = serde_json::from_str(&text).expect("JSON answer");
    assert!(value.get("error").is_some(), "{text}");

    // Within the limits everything is answered, in order.
    let batch = format!("[{}]", (0..10).map(call).collect::<Vec<_>>().join(","));
    let (status, text) = post_text(&node, batch).await;
    assert_eq!(status, 200);
    let answers: Vec<serde_json::Value> = serde_json::from_str(&text).expect("batch answer");
    assert_eq!(answers.len(), 10);
    assert!(answers.iter().all(|a| a["result"] == "0x1a61e9"), "{text}");
    node.stop().await;
}

/// EVM calls past `max_concurrent_calls` wait for a slot; one that waited `call_queue_timeout`
/// gets -32005 "server busy", and the node answers everything else meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn eth_calls_past_the_slots_wait_then_are_refused_busy() {
    let node = TestNode::start_with(
        Duration::from_millis(200),
        MempoolConfig::default(),
        RpcConfig {
            max_concurrent_calls: 1,
            call_queue_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await;
    // JUMPDEST PUSH1 0 JUMP: loops until the gas cap (50M) runs out, far longer than 300 ms.
    let looper = "0x000000000000000000000000000000000000100b";
    let params = json!([{"to": looper}, "latest", {looper: {"code": "0x5b600056"}}]);
    let calls = (0..4).map(|_| rpc_response(&node, "eth_call", params.clone()));
    let (answers, chain_id) = tokio::join!(
        futures::future::join_all(calls),
        rpc(&node, "eth_chainId", json!([]))
    );
    assert_eq!(chain_id, "0x1a61e9");
    let message = |a: &serde_json::Value| a["error"]["message"].as_str().unwrap_or("").to_string();
    let ran = answers
        .iter()
        .filter(|a| message(a) == "out of gas")
        .count();
    let busy: Vec<_> = answers
        .iter()
        .filter(|a| a["error"]["code"] == -32005)
        .collect();
    assert_eq!(ran + busy.len(), 4, "{answers:?}");
    assert!(ran >= 1, "{answers:?}");
    assert!(!busy.is_empty(), "{answers:?}");
    assert!(
        message(busy[0]).starts_with("server busy: 1 EVM calls running"),
        "{answers:?}"
    );
    // With the slot free again, calls run.
    let answer = rpc_response(&node, "eth_call", params).await;
    assert_eq!(message(&answer), "out of gas", "{answer}");
    node.stop().await;
}
