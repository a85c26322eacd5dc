//! Issue 14, item 5, through the real `keel l2` binary: `GET /health` and `GET /ready` on the
//! JSON-RPC port while the node's L1 is cut and restored. The test starts anvil and deploys
//! keel's contracts itself; the node reaches its L1 through a TCP proxy the test switches off:
//! /ready turns 503 with `l1_reachable: false` while /health stays 200, and back.

mod common;

use std::time::{Duration, Instant};

use common::{
    Node,
    l1::TestL1,
    proxy::{Proxy, http_get},
};
use serde_json::Value;

/// Polls `GET /ready` until `want` holds of (status, body); returns the body.
fn wait_ready(node: &Node, what: &str, want: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = http_get(&node.url, "/ready");
        let json: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("/ready body is not JSON ({e}): {body:?}"));
        if want(status, &json) {
            return json;
        }
        assert!(
            Instant::now() < deadline,
            "/ready never became {what}: last {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_healthy(node: &Node) {
    let (status, body) = http_get(&node.url, "/health");
    assert_eq!(status, 200, "/health: {body}");
    assert_eq!(body, r#"{"healthy":true}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_follows_l1_reachability_and_health_stays_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let proxy = Proxy::start(([127, 0, 0, 1], l1.anvil.port).into());
    let node = Node::start(&[
        "--network",
        &l1.genesis_file,
        "--l1.deployment",
        &l1.deployment_file,
        "--eth.rpc-url",
        &proxy.url,
        "--watcher.watch-interval",
        "200",
        "--watcher.read-up-to",
        "latest",
        "--datadir",
        "memory",
    ]);

    assert_healthy(&node);
    let ready = wait_ready(&node, "ready", |status, _| status == 200);
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["l1_reachable"], true, "{ready}");
    assert_eq!(ready["synced"], true, "{ready}");
    assert_eq!(ready["producing"], true, "{ready}");

    // Cut the L1.
    proxy.set_up(false);
    let cut = wait_ready(&node, "503 with l1_reachable false", |status, body| {
        status == 503 && body["l1_reachable"] == false
    });
    assert_eq!(cut["ready"], false, "{cut}");
    assert_eq!(cut["producing"], true, "blocks go on without L1: {cut}");
    assert!(
        cut["failing"]
            .as_array()
            .is_some_and(|f| f.iter().any(|c| c == "l1_reachable")),
        "{cut}"
    );
    assert_healthy(&node);
    // Still unreachable a while later, and still alive.
    std::thread::sleep(Duration::from_secs(2));
    let (status, body) = http_get(&node.url, "/ready");
    assert_eq!(status, 503, "{body}");
    assert_healthy(&node);

    // Restore it.
    proxy.set_up(true);
    let back = wait_ready(&node, "ready again", |status, _| status == 200);
    assert_eq!(back["l1_reachable"], true, "{back}");
    assert_healthy(&node);
    node.terminate();
}
