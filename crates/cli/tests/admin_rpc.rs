//! Issue 14, item 5, through the real `keel l2 --dev` binary: the admin namespace is off by
//! default (its methods don't exist), refuses a non-loopback listen address at start, and when
//! on stops and starts the block producer (the head stops, then moves again) and the L1
//! committer (no commit while stopped, though batches are still sealed; commits resume after).

mod common;

use std::time::{Duration, Instant};

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use common::{Node, keel, proxy::http_get, text};
use serde_json::{Value, json};

/// JSON-RPC "method not found".
const METHOD_NOT_FOUND: i64 = -32601;

fn provider(url: &str) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(url.parse().expect("url"))
        .erased()
}

/// Calls `method` (no params) on `url`; returns its result or its JSON-RPC error object.
async fn call(url: &str, method: &'static str) -> Result<Value, Value> {
    let p = provider(url);
    match p.raw_request::<_, Value>(method.into(), ()).await {
        Ok(result) => Ok(result),
        Err(e) => {
            let payload = e
                .as_error_resp()
                .unwrap_or_else(|| panic!("{method}: not a JSON-RPC error: {e}"));
            Err(json!({"code": payload.code, "message": payload.message}))
        }
    }
}

/// An address of this machine other than loopback: the source address of a route to a
/// documentation address (a UDP "connect" sends nothing).
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// The admin URL from the banner's `Admin RPC: http://ADDR (loopback only)` line.
fn admin_url(node: &Node) -> String {
    let line = node.wait_for_line("Admin RPC:");
    let url = line
        .split_whitespace()
        .next()
        .expect("an address")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    url
}

async fn head(url: &str) -> u64 {
    provider(url).get_block_number().await.expect("head")
}

async fn wait_head_above(url: &str, n: u64, timeout: Duration) -> u64 {
    let deadline = Instant::now() + timeout;
    loop {
        let h = head(url).await;
        if h > n {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "head still {h} after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_methods_do_not_exist_when_disabled() {
    let node = Node::start(&["--dev", "--dev.no-prover"]);
    for method in [
        "admin_stopBlockProducer",
        "admin_startBlockProducer",
        "admin_stopCommitter",
        "admin_startCommitter",
        "admin_status",
    ] {
        let err = call(&node.url, method)
            .await
            .expect_err("admin methods are refused when --admin is off");
        assert_eq!(err["code"], METHOD_NOT_FOUND, "{method}: {err}");
    }
    // The refused stop did nothing: blocks keep coming.
    let h = head(&node.url).await;
    wait_head_above(&node.url, h + 2, Duration::from_secs(30)).await;
    node.terminate();
}

#[test]
fn non_loopback_admin_addr_is_refused_at_start() {
    for addr in ["0.0.0.0", "::", "192.0.2.1"] {
        let out = keel(&[
            "l2",
            "--dev",
            "--admin",
            "--admin.addr",
            addr,
            "--http.port",
            "0",
        ]);
        let all = text(&out);
        assert!(
            !out.status.success(),
            "--admin.addr {addr} was accepted: {all}"
        );
        assert!(
            all.contains(&format!("--admin.addr {addr} is not a loopback address")),
            "unclear error for {addr}: {all}"
        );
        // Refused before anything is started (no anvil, no deployment).
        assert!(
            !all.contains("deploy") && !all.contains("anvil"),
            "the node started things before refusing: {all}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_stops_and_starts_the_block_producer() {
    let node = Node::start(&["--dev", "--dev.no-prover", "--admin", "--admin.port", "0"]);
    let admin = admin_url(&node);
    assert_eq!(
        call(&admin, "admin_status").await.expect("status"),
        json!({"blockProducer": "running", "committer": "running"})
    );
    // From another address of this machine, the admin port does not even accept a connection.
    let port: u16 = admin
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("admin port");
    match non_loopback_ip() {
        Some(ip) => {
            let refused = std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::new(ip, port),
                Duration::from_secs(2),
            );
            assert!(refused.is_err(), "the admin port answered on {ip}");
        }
        None => eprintln!(
            "this machine has no non-loopback address: the connection from one is not tried"
        ),
    }
    // The public port never has them, even with --admin.
    let err = call(&node.url, "admin_stopBlockProducer")
        .await
        .expect_err("not on the public port");
    assert_eq!(err["code"], METHOD_NOT_FOUND, "{err}");

    let h = head(&node.url).await;
    wait_head_above(&node.url, h + 1, Duration::from_secs(30)).await;
    assert_eq!(
        call(&admin, "admin_stopBlockProducer").await.expect("stop"),
        json!(true)
    );
    assert_eq!(
        call(&admin, "admin_stopBlockProducer").await.expect("stop"),
        json!(false),
        "already stopped"
    );
    assert_eq!(
        call(&admin, "admin_status").await.expect("status")["blockProducer"],
        "paused"
    );
    // A block being built when the switch flipped still lands; then the loop says it is paused.
    node.wait_for_log(
        &["block producer paused: no blocks until it is resumed"],
        Duration::from_secs(30),
    );
    let stopped_at = head(&node.url).await;
    // Ten block times (200 ms) later, the head has not moved.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(head(&node.url).await, stopped_at, "blocks while stopped");
    let (status, body) = http_get(&node.url, "/ready");
    // A paused producer is never "producing": not ready.
    assert_eq!(status, 503, "{body}");
    let ready: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(ready["producing"], false, "{body}");

    assert_eq!(
        call(&admin, "admin_startBlockProducer")
            .await
            .expect("start"),
        json!(true)
    );
    wait_head_above(&node.url, stopped_at + 2, Duration::from_secs(30)).await;
    assert_eq!(
        call(&admin, "admin_status").await.expect("status")["blockProducer"],
        "running"
    );
    node.terminate();
}

/// The batch's status (`sealed`, `committed`, ...) or `None` if there is no such batch yet.
async fn batch_status(url: &str, n: u64) -> Option<String> {
    let batch: Value = provider(url)
        .raw_request("keel_getBatchByNumber".into(), (format!("{n:#x}"),))
        .await
        .expect("keel_getBatchByNumber");
    batch["status"].as_str().map(str::to_string)
}

/// The highest batch recorded as committed (or verified), scanning from 1.
async fn last_committed(url: &str) -> u64 {
    let mut n = 0;
    while let Some(status) = batch_status(url, n + 1).await {
        if status == "sealed" {
            break;
        }
        n += 1;
    }
    n
}

/// `lastCommittedBatch()` of the OnChainProposer, read on L1 with cast.
fn l1_last_committed(l1_url: &str, proposer: &str) -> u64 {
    let out = common::cast(l1_url, &["call", proposer, "lastCommittedBatch()(uint256)"]);
    out.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("lastCommittedBatch: {out}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_stops_and_starts_the_committer() {
    let node = Node::start(&[
        "--dev",
        "--dev.no-prover",
        "--admin",
        "--admin.port",
        "0",
        "--committer.commit-time",
        "1000",
    ]);
    // In the banner's order.
    let admin = admin_url(&node);
    let l1_url = node.wait_for_l1_url();
    let proposer = node.wait_for_line("L1 OnChainProposer:");

    node.wait_committed(1, Duration::from_secs(60)).await;
    assert_eq!(
        call(&admin, "admin_stopCommitter").await.expect("stop"),
        json!(true)
    );
    assert_eq!(
        call(&admin, "admin_status").await.expect("status")["committer"],
        "paused"
    );
    // A commit in flight when it was stopped is followed to its confirmation and recorded; then
    // the committer's loop says it is paused.
    node.wait_for_log(
        &["L1 committer paused: no commit is sent until it is resumed"],
        Duration::from_secs(60),
    );
    let committed = last_committed(&node.url).await;
    assert!(committed >= 1);
    assert_eq!(
        l1_last_committed(&l1_url, &proposer),
        committed,
        "L1 and the node agree on the last commit"
    );
    // The sealer keeps sealing: wait for two more batches, then some more commit times.
    let deadline = Instant::now() + Duration::from_secs(60);
    while batch_status(&node.url, committed + 2).await.is_none() {
        assert!(
            Instant::now() < deadline,
            "no batch sealed while the committer is stopped"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        batch_status(&node.url, committed + 1).await.as_deref(),
        Some("sealed"),
        "a batch was committed while the committer was stopped"
    );
    assert_eq!(
        l1_last_committed(&l1_url, &proposer),
        committed,
        "L1 got a commit while the committer was stopped"
    );

    assert_eq!(
        call(&admin, "admin_startCommitter").await.expect("start"),
        json!(true)
    );
    node.wait_committed(committed + 2, Duration::from_secs(60))
        .await;
    assert!(l1_last_committed(&l1_url, &proposer) >= committed + 2);
    node.terminate();
}
