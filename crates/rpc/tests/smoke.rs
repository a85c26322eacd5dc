//! The harness starts, serves a request and produces blocks.

mod common;

use std::time::Duration;

use alloy::providers::Provider;

#[tokio::test(flavor = "multi_thread")]
async fn node_starts_and_produces_blocks() {
    let node = common::TestNode::start(Duration::from_millis(200)).await;
    let provider = node.client();
    // Blocks appear on schedule even with an empty mempool.
    let produced = async {
        loop {
            if node.chain.head().expect("head").0 >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), produced)
        .await
        .expect("two blocks within 10 s");
    // eth_chainId is not served yet by this scaffold; an unknown method must be -32601.
    let err = provider
        .raw_request::<_, serde_json::Value>("no_such_method".into(), ())
        .await
        .expect_err("unknown method");
    assert!(
        err.to_string().contains("-32601") || err.to_string().contains("not found"),
        "{err}"
    );
    node.stop().await;
}
