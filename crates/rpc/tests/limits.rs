//! Request limits: an oversized body or batch is refused with an error and the node carries on.

mod common;

use std::time::Duration;

use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;

use common::{TestNode, post_text};

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
