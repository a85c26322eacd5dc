//! Issue 17, part 5, "RPC under abuse", through the real `keel l2` binary (no L1): with small
//! limits set by flags, connections past `--rpc.max-connections`, subscriptions past
//! `--rpc.max-subscriptions-per-connection`, an oversized body, deeply nested JSON, a too-long
//! batch and a too-wide `eth_getLogs` are refused with clear errors while the node carries on; and
//! a flood of `eth_call`s that loop to the gas cap, from many concurrent clients, neither stops the
//! block producer nor keeps a well-behaved client's cheap reads waiting more than 2 s.
//!
//! Run with `cargo nextest run -p keel --test rpc_abuse --no-capture` to see the measured figures.

mod common;

use std::{
    io::{Read, Write},
    net::TcpStream,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    providers::{Provider, ProviderBuilder, WsConnect},
    transports::http::reqwest,
};
use common::{Node, address, keel, stdout_of, write_dev_genesis};
use serde_json::{Value, json};

/// A node with its own in-memory chain and no L1, blocks every 200 ms, and `extra` flags.
fn start_node(dir: &std::path::Path, extra: &[&str]) -> Node {
    let genesis = write_dev_genesis(dir);
    let mut args = vec![
        "--network",
        genesis.to_str().expect("utf-8 path"),
        "--datadir",
        "memory",
        "--no-monitor",
    ];
    args.extend_from_slice(extra);
    Node::start(&args)
}

/// POST `body`; the HTTP status, the answer's text and how long it took.
async fn post(client: &reqwest::Client, url: &str, body: String) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST to {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, text, started.elapsed())
}

fn request(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
}

/// Call `method`; its JSON answer (with `result` or `error`), failing on any other HTTP status.
async fn call(client: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    let (status, text, _) = post(client, url, request(method, params)).await;
    assert_eq!(status, 200, "{method}: HTTP {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: not JSON ({e}): {text}"))
}

fn quantity(value: &Value) -> u64 {
    let hex = value
        .as_str()
        .unwrap_or_else(|| panic!("not a quantity: {value}"));
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex quantity")
}

async fn block_number(client: &reqwest::Client, url: &str) -> u64 {
    let answer = call(client, url, "eth_blockNumber", json!([])).await;
    quantity(&answer["result"])
}

/// The error code of a JSON-RPC answer (`None`: it has a result).
fn error_code(answer: &Value) -> Option<i64> {
    answer
        .get("error")
        .map(|e| e["code"].as_i64().expect("code"))
}

/// A WebSocket upgrade by hand; the status line of the answer ("HTTP/1.1 101 ..." or 429). The
/// socket is returned open: an accepted one holds a connection until dropped.
fn raw_upgrade(url: &str) -> (String, TcpStream) {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut socket = TcpStream::connect(host).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        socket,
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .expect("write the upgrade");
    let mut answer = Vec::new();
    let mut byte = [0u8];
    while !answer.ends_with(b"\r\n") {
        match socket.read(&mut byte) {
            Ok(1) => answer.push(byte[0]),
            other => panic!("reading the upgrade answer: {other:?} after {answer:?}"),
        }
    }
    (String::from_utf8_lossy(&answer).trim().to_string(), socket)
}

fn ws_url(url: &str) -> String {
    url.replacen("http://", "ws://", 1)
}

#[test]
fn help_lists_the_rpc_limits() {
    let help = stdout_of(&keel(&["l2", "--help"]));
    for flag in [
        "--rpc.max-connections",
        "--rpc.max-subscriptions-per-connection",
        "--rpc.max-request-size",
        "--rpc.max-response-size",
        "--rpc.max-batch-len",
        "--rpc.max-logs-range",
        "--rpc.max-logs",
        "--rpc.gas-cap",
        "--rpc.max-concurrent-calls",
    ] {
        assert!(
            help.contains(flag),
            "`keel l2 --help` lacks {flag}:\n{help}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_refuse_abuse_with_errors_and_the_node_carries_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = start_node(
        dir.path(),
        &[
            "--rpc.max-connections",
            "4",
            "--rpc.max-subscriptions-per-connection",
            "3",
            "--rpc.max-request-size",
            "1048576",
            "--rpc.max-batch-len",
            "5",
            "--rpc.max-logs-range",
            "5",
        ],
    );
    let url = node.url.clone();
    let http = reqwest::Client::new();

    // Connections: four WebSockets take the four slots, and each of them works.
    let mut sockets = Vec::new();
    for _ in 0..4 {
        let ws = ProviderBuilder::new()
            .connect_ws(WsConnect::new(ws_url(&url)).with_max_retries(0))
            .await
            .expect("a WebSocket within the limit");
        ws.get_block_number().await.expect("eth_blockNumber on WS");
        sockets.push(ws);
    }
    // A fifth is refused with HTTP 429, and so is an HTTP request: both would be a fifth
    // connection served at once.
    let (status_line, _) = raw_upgrade(&url);
    assert!(
        status_line.contains(" 429"),
        "fifth WebSocket: {status_line}"
    );
    let (status, text, _) = post(&http, &url, request("eth_blockNumber", json!([]))).await;
    assert_eq!(status, 429, "HTTP request past the limit: {text}");
    assert!(text.contains("Too many connections"), "{text}");
    // The four still work.
    for ws in &sockets {
        ws.get_block_number().await.expect("eth_blockNumber on WS");
    }

    // Subscriptions: three on one connection, the fourth refused with -32006; the three still
    // deliver heads.
    let ws = &sockets[0];
    let mut subscriptions = Vec::new();
    for _ in 0..3 {
        subscriptions.push(ws.subscribe_blocks().await.expect("a subscription"));
    }
    let refused = ws
        .subscribe_blocks()
        .await
        .expect_err("a fourth subscription on the connection");
    let refused = refused.as_error_resp().expect("a JSON-RPC error");
    assert_eq!(refused.code, -32006, "{refused:?}");
    assert!(
        refused.message.contains("Too many subscriptions"),
        "{refused:?}"
    );
    for subscription in &mut subscriptions {
        let head = tokio::time::timeout(Duration::from_secs(10), subscription.recv())
            .await
            .expect("a head within 10 s")
            .expect("a head");
        assert!(head.number > 0);
    }
    // Another connection has its own three.
    let _other = sockets[1]
        .subscribe_blocks()
        .await
        .expect("a subscription on another connection");

    // Closing a connection frees its slot: HTTP is served again.
    drop(subscriptions);
    sockets.truncate(3);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, text, _) = post(&http, &url, request("eth_blockNumber", json!([]))).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "{text}");
        assert!(
            Instant::now() < deadline,
            "the closed WebSocket's slot was not freed within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(sockets);

    // An oversized body: HTTP 413 with error -32007.
    let big = request(
        "eth_sendRawTransaction",
        json!([format!("0x{}", "ab".repeat(1 << 20))]),
    );
    // The server answers as soon as it has read the headers and closes the connection, so the
    // client may still be writing the body and see the connection reset instead of the answer:
    // such a send is tried again (a fresh connection each time).
    let mut attempts = 0;
    let (status, text) = loop {
        attempts += 1;
        let sent = http
            .post(&url)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                break (status, response.text().await.unwrap_or_default());
            }
            Err(e) if attempts < 10 => eprintln!("oversized POST {attempts}: {e}; again"),
            Err(e) => panic!("oversized POST: no answer in {attempts} attempts: {e}"),
        }
    };
    assert_eq!(status, 413, "oversized body: {text}");
    assert!(text.contains("-32007"), "{text}");

    // Deeply nested JSON: an error answer, no crash (serde_json skips unknown nesting with a heap
    // stack and stops typed parsing at depth 128).
    let depth = 100_000;
    let open = "[".repeat(depth);
    let close = "]".repeat(depth);
    let nested = [
        // Unbalanced: a parse error.
        open.clone(),
        // Balanced, as a batch of one deep array.
        format!("{open}{close}"),
        // Balanced, as the parameters of a call.
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"eth_call","params":{open}{close}}}"#),
        // Nested objects as a parameter.
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":[{}1{}]}}"#,
            r#"{"a":"#.repeat(depth),
            "}".repeat(depth)
        ),
    ];
    for body in nested {
        let size = body.len();
        let (status, text, _) = post(&http, &url, body).await;
        assert!(
            status < 500,
            "nested JSON ({size} bytes): HTTP {status}: {text}"
        );
        let answer: Value = serde_json::from_str(&text).expect("JSON answer");
        // One error, or a batch's answer of errors.
        let codes: Vec<_> = match &answer {
            Value::Array(answers) => answers.iter().map(error_code).collect(),
            one => vec![error_code(one)],
        };
        println!("rpc_abuse nested JSON ({size} bytes): HTTP {status}, error codes {codes:?}");
        assert!(
            !codes.is_empty()
                && codes
                    .iter()
                    .all(|c| matches!(c, Some(-32700 | -32600 | -32602))),
            "nested JSON ({size} bytes) got no parse/request/params error: HTTP {status}: {text}"
        );
    }
    // Nested objects as the id: not a valid id, so jsonrpsee takes the message for a
    // notification, which gets no answer; what matters is that the node is still up.
    let nested_id = format!(
        r#"{{"jsonrpc":"2.0","id":{}1{},"method":"eth_chainId","params":[]}}"#,
        r#"{"a":"#.repeat(depth),
        "}".repeat(depth)
    );
    let (status, text, _) = post(&http, &url, nested_id).await;
    assert_eq!(status, 200, "nested id: {text}");
    assert!(!text.contains("result"), "nested id answered: {text}");
    assert!(block_number(&http, &url).await > 0);

    // A batch one call too long: an error, not six answers.
    let batch = format!("[{}]", vec![request("eth_chainId", json!([])); 6].join(","));
    let (_, text, _) = post(&http, &url, batch).await;
    let answer: Value = serde_json::from_str(&text).expect("JSON answer");
    assert_eq!(error_code(&answer), Some(-32010), "{text}");

    // eth_getLogs: six blocks is one too many, five are fine.
    while block_number(&http, &url).await < 6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wide = call(
        &http,
        &url,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": "0x5"}]),
    )
    .await;
    assert_eq!(error_code(&wide), Some(-32005), "{wide}");
    assert!(
        wide["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("exceed maximum block range: 5")),
        "{wide}"
    );
    let narrow = call(
        &http,
        &url,
        "eth_getLogs",
        json!([{"fromBlock": "0x1", "toBlock": "0x5"}]),
    )
    .await;
    assert_eq!(narrow["result"], json!([]), "{narrow}");

    // After all that the node still produces blocks and answers.
    let before = block_number(&http, &url).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while block_number(&http, &url).await <= before {
        assert!(Instant::now() < deadline, "no block after the abuse");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    node.terminate();
}

/// Runtime code that jumps back to its start forever: JUMPDEST PUSH1 0 JUMP. Called with the gas
/// cap, it runs until its gas runs out.
const LOOP_CODE: &str = "0x5b600056";
const LOOPER: &str = "0x000000000000000000000000000000000000100b";

fn looping_call() -> String {
    request(
        "eth_call",
        json!([{"to": LOOPER}, "latest", {LOOPER: {"code": LOOP_CODE}}]),
    )
}

/// p50 and max of `samples`.
fn p50_max(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() - 1])
}

/// What the flood's clients got back.
#[derive(Default)]
struct FloodCounts {
    out_of_gas: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
}

/// Cheap reads (`eth_blockNumber`, then `eth_getBalance`) every 50 ms until `stop`: their
/// latencies, the head seen by each, and the longest the head was seen standing still.
async fn well_behaved(url: String, stop: Arc<AtomicBool>) -> (Vec<Duration>, Vec<u64>, Duration) {
    let client = reqwest::Client::new();
    let balance = request("eth_getBalance", json!([address(1), "latest"]));
    let (mut latencies, mut heads) = (Vec::new(), Vec::new());
    let (mut last_change, mut longest_still) = (Instant::now(), Duration::ZERO);
    while !stop.load(Ordering::Relaxed) {
        let (status, text, took) = post(&client, &url, request("eth_blockNumber", json!([]))).await;
        assert_eq!(status, 200, "eth_blockNumber: {text}");
        latencies.push(took);
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        let head = quantity(&answer["result"]);
        if heads.last() != Some(&head) {
            longest_still = longest_still.max(last_change.elapsed());
            last_change = Instant::now();
        }
        heads.push(head);
        let (status, text, took) = post(&client, &url, balance.clone()).await;
        assert_eq!(status, 200, "eth_getBalance: {text}");
        assert!(text.contains("\"result\":\"0x"), "eth_getBalance: {text}");
        latencies.push(took);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    longest_still = longest_still.max(last_change.elapsed());
    (latencies, heads, longest_still)
}

/// The highest `keel_rpc_evm_calls_running` and `keel_rpc_evm_calls_waiting` seen on the node's
/// `/metrics`, scraped every 100 ms until `stop`.
async fn evm_gauges(metrics_url: String, stop: Arc<AtomicBool>) -> (f64, f64) {
    let client = reqwest::Client::new();
    let (mut running, mut waiting) = (0f64, 0f64);
    while !stop.load(Ordering::Relaxed) {
        let body = client
            .get(&metrics_url)
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        for line in body.lines() {
            let Some((name, value)) = line.split_once(' ') else {
                continue;
            };
            let value: f64 = value.trim().parse().unwrap_or(0.0);
            match name {
                "keel_rpc_evm_calls_running" => running = running.max(value),
                "keel_rpc_evm_calls_waiting" => waiting = waiting.max(value),
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (running, waiting)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eth_call_flood_starves_neither_blocks_nor_cheap_reads() {
    const CLIENTS: usize = 32;
    const FLOOD: Duration = Duration::from_secs(8);
    // Blocks every 200 ms: a head that stands still for 2 s is ten blocks late.
    const WORST_LATENCY: Duration = Duration::from_secs(2);
    const LONGEST_STILL: Duration = Duration::from_secs(2);

    let dir = tempfile::tempdir().expect("tempdir");
    // KEEL_TEST_RPC_ABUSE_CALLS overrides the default slots (one per core), to compare.
    let slots = std::env::var("KEEL_TEST_RPC_ABUSE_CALLS").ok();
    let mut extra = vec!["--metrics", "--metrics.port", "0"];
    if let Some(slots) = &slots {
        extra.extend_from_slice(&["--rpc.max-concurrent-calls", slots.as_str()]);
    }
    let expected_slots: f64 = slots.as_deref().map_or_else(
        || keel_rpc::default_max_concurrent_calls().into(),
        |s| s.parse().expect("KEEL_TEST_RPC_ABUSE_CALLS is a number"),
    );
    let node = start_node(dir.path(), &extra);
    let metrics_url = node.wait_for_line("Metrics:");
    let url = node.url.clone();
    let http = reqwest::Client::new();

    // One looping call on an idle node: it runs out of gas at the cap.
    let (status, text, one_call) = post(&http, &url, looping_call()).await;
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(answer["error"]["message"], "out of gas", "{text}");

    // The well-behaved client's figures on the idle node, for comparison.
    let stop = Arc::new(AtomicBool::new(false));
    let idle = tokio::spawn(well_behaved(url.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut idle_latencies, _, _) = idle.await.expect("idle reads");

    // The flood: CLIENTS clients, each on its own connection, one looping call after another.
    let counts = Arc::new(FloodCounts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let head_before = block_number(&http, &url).await;
    let started = Instant::now();
    let mut flooders = Vec::new();
    for _ in 0..CLIENTS {
        let (url, counts, stop) = (url.clone(), counts.clone(), stop.clone());
        flooders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let (status, text, _) = post(&client, &url, looping_call()).await;
                let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let counter = match (status, error_code(&answer)) {
                    (200, Some(-32000)) if text.contains("out of gas") => &counts.out_of_gas,
                    (200, Some(-32005)) if text.contains("server busy") => &counts.busy,
                    _ => {
                        eprintln!("flood call: HTTP {status}: {text}");
                        &counts.other
                    }
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Let the flood fill the queue before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reads_stop = Arc::new(AtomicBool::new(false));
    let reads = tokio::spawn(well_behaved(url.clone(), reads_stop.clone()));
    let scrapes = tokio::spawn(evm_gauges(metrics_url, reads_stop.clone()));
    tokio::time::sleep(FLOOD).await;
    reads_stop.store(true, Ordering::Relaxed);
    let (most_running, most_waiting) = scrapes.await.expect("metrics scrapes");
    let (mut latencies, heads, longest_still) = reads.await.expect("reads during the flood");
    let head_after = block_number(&http, &url).await;
    let flood_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        flooder.await.expect("flood client");
    }

    let (idle_p50, idle_max) = p50_max(&mut idle_latencies);
    let reads_count = latencies.len();
    let (p50, max) = p50_max(&mut latencies);
    let blocks = head_after - head_before;
    let (out_of_gas, busy, other) = (
        counts.out_of_gas.load(Ordering::Relaxed),
        counts.busy.load(Ordering::Relaxed),
        counts.other.load(Ordering::Relaxed),
    );
    println!(
        "rpc_abuse flood: --rpc.max-concurrent-calls {}, one looping eth_call at the gas cap {:?}; \
         {CLIENTS} clients for {:.1} s: {out_of_gas} calls ran out of gas, {busy} refused busy, \
         {other} other; blocks {head_before} -> {head_after} ({blocks}, {:.1}/s at 5/s nominal), \
         head still at most {:?}; EVM calls running at most {most_running}, waiting at most \
         {most_waiting}; well-behaved reads: idle p50 {:?} max {:?}, during the flood \
         {reads_count} reads p50 {:?} max {:?}",
        slots.as_deref().unwrap_or("(default: cores)"),
        one_call,
        flood_time.as_secs_f64(),
        blocks as f64 / flood_time.as_secs_f64(),
        longest_still,
        idle_p50,
        idle_max,
        p50,
        max,
    );

    assert_eq!(other, 0, "flood calls got unexpected answers");
    // The bound held the flood: never more executions than slots, the rest queued.
    assert!(
        most_running >= 1.0 && most_running <= expected_slots,
        "{most_running} EVM calls ran at once, with {expected_slots} slots"
    );
    assert!(
        most_waiting >= 1.0,
        "no call waited for a slot: the flood was not held back"
    );
    assert!(out_of_gas > 0, "no flood call ran to the gas cap");
    assert!(
        heads.windows(2).all(|w| w[0] <= w[1]),
        "the head went backwards: {heads:?}"
    );
    assert!(
        max <= WORST_LATENCY,
        "a cheap read took {max:?} during the flood (p50 {p50:?})"
    );
    assert!(
        longest_still <= LONGEST_STILL,
        "no new block for {longest_still:?} during the flood ({head_before} -> {head_after})"
    );
    // At least a third of the nominal rate (5 blocks/s) over the whole flood.
    let expected = flood_time.as_millis() as u64 / 200 / 3;
    assert!(
        blocks >= expected,
        "only {blocks} blocks in {flood_time:?} of flood (want at least {expected})"
    );
    node.terminate();
}
