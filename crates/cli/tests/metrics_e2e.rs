//! `keel l2 --metrics` end to end: the real binary on its own anvil (`--dev`), scraped over HTTP
//! while transactions, a deposit and batches go through; and a real Prometheus (Debian's
//! `prometheus` package, which scripts/test.sh installs) scraping the node and answering a
//! `rate()` query through its HTTP API.

mod common;

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::transports::http::reqwest;
use common::{Node, address, keel, key, stdout_of};

/// `keel l2 --dev --metrics --metrics.port 0` sealing a batch every 2 s; its metrics URL.
fn metrics_node() -> (Node, String) {
    let node = Node::start(&[
        "--dev",
        "--metrics",
        "--metrics.port",
        "0",
        "--watcher.watch-interval",
        "100",
        "--committer.commit-time",
        "2000",
    ]);
    let url = node.wait_for_line("Metrics:");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"),
        "banner's metrics URL: {url}"
    );
    (node, url)
}

/// One scrape: the HTTP status, content type and body.
async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.expect("GET");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.text().await.expect("body"))
}

/// The samples of an exposition: `name{labels}` (as written) → value.
fn parse(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(url: &str) -> BTreeMap<String, f64> {
    let (status, content_type, body) = get(url).await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    parse(&body)
}

/// The value of the series `name` whose labels include every `label="value"` of `labels`
/// (summed if several match), 0 if none does.
fn value(samples: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
            series_name == name
                && labels
                    .iter()
                    .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
        .sum()
}

/// A series that must grow between the first scrape and a later one.
struct Moves {
    name: &'static str,
    labels: &'static [(&'static str, &'static str)],
}

const fn moves(name: &'static str, labels: &'static [(&'static str, &'static str)]) -> Moves {
    Moves { name, labels }
}

/// The series that must move while the node produces blocks with transactions, includes a
/// deposit, and commits and verifies batches (the contract of docs/metrics.md).
const MUST_MOVE: &[Moves] = &[
    // Block production.
    moves("keel_blocks_produced_total", &[]),
    moves("keel_block_transactions_total", &[]),
    moves("keel_block_gas_used_total", &[]),
    moves("keel_l2_head_block", &[]),
    moves("keel_block_build_duration_seconds_count", &[]),
    moves("keel_block_execute_duration_seconds_count", &[]),
    moves("keel_block_state_root_duration_seconds_count", &[]),
    moves("keel_block_store_duration_seconds_count", &[]),
    // Deposits.
    moves("keel_l1_head_block", &[]),
    moves("keel_l1_watcher_cursor_block", &[]),
    moves("keel_deposits_seen_total", &[]),
    moves("keel_deposits_included_total", &[]),
    moves("keel_deposit_inclusion_lag_seconds_count", &[]),
    // Batches.
    moves("keel_batches_sealed_total", &[]),
    moves("keel_batches_committed_total", &[]),
    moves("keel_batches_verified_total", &[]),
    moves("keel_batch_last", &[("status", "committed")]),
    moves("keel_batch_last", &[("status", "verified")]),
    moves("keel_l1_tx_gas_used_total", &[("kind", "commit")]),
    // Block tags (--dev reads L1 finality at `latest`, so `finalized` moves too).
    moves("keel_settled_block", &[("tag", "safe")]),
    moves("keel_settled_block", &[("tag", "finalized")]),
    moves("keel_l1_tx_fee_wei_total", &[("kind", "commit")]),
    // The committer's L1 account.
    moves("keel_l1_sender_nonce", &[("account", "committer")]),
    moves(
        "keel_l1_sender_transactions_sent_total",
        &[("account", "committer")],
    ),
    // Provers.
    moves("keel_prover_assignments_total", &[]),
    moves("keel_proofs_accepted_total", &[]),
    // RPC, by method; a batch's calls count one by one, an unregistered method as `unknown`.
    moves(
        "keel_rpc_requests_total",
        &[("method", "eth_sendRawTransaction"), ("outcome", "ok")],
    ),
    moves(
        "keel_rpc_requests_total",
        &[("method", "eth_chainId"), ("outcome", "ok")],
    ),
    moves(
        "keel_rpc_requests_total",
        &[("method", "unknown"), ("outcome", "error")],
    ),
    moves(
        "keel_rpc_request_duration_seconds_count",
        &[("method", "eth_sendRawTransaction")],
    ),
    // L1 client.
    moves("keel_l1_client_requests_total", &[]),
];

/// Series that must be present (gauges that need not move).
const MUST_EXIST: &[&str] = &[
    "keel_mempool_pending_transactions",
    "keel_mempool_queued_transactions",
    "keel_mempool_privileged_transactions",
    "keel_l1_sender_balance_ether",
    "keel_provers_connected",
];

/// What is wrong in `now` compared with `first`: series that did not move, or are missing.
fn problems(first: &BTreeMap<String, f64>, now: &BTreeMap<String, f64>) -> Vec<String> {
    let mut out = Vec::new();
    for m in MUST_MOVE {
        let (before, after) = (value(first, m.name, m.labels), value(now, m.name, m.labels));
        if after <= before {
            out.push(format!(
                "{}{:?} did not move: {before} then {after}",
                m.name, m.labels
            ));
        }
    }
    for name in MUST_EXIST {
        let present = now
            .keys()
            .any(|s| s.split_once('{').map_or(s.as_str(), |(n, _)| n) == *name);
        if !present {
            out.push(format!("{name} is missing"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn series_exist_and_move_with_transactions_deposits_and_batches() {
    let (node, metrics_url) = metrics_node();
    let l1_url = node.wait_for_l1_url();
    let bridge = node.wait_for_line("L1 bridge:");

    let (status, content_type, body) = get(&metrics_url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let first = parse(&body);
    // keel_info: the version and the chain id, value 1.
    let info = format!(
        "keel_info{{version=\"{}\",chain_id=\"{}\"}}",
        env!("CARGO_PKG_VERSION"),
        keel_types::dev::DEFAULT_L2_CHAIN_ID
    );
    assert_eq!(first.get(&info), Some(&1.0), "{info} in\n{body}");
    assert!(
        body.contains("# HELP keel_info "),
        "described series carry a HELP line:\n{body}"
    );
    // Other paths are not found.
    let root = metrics_url.trim_end_matches("/metrics");
    assert_eq!(get(&format!("{root}/")).await.0, 404);
    assert_eq!(get(&format!("{root}/nope")).await.0, 404);

    // L2 transactions through eth_sendRawTransaction.
    for i in 0..3 {
        node.cast(&[
            "send",
            "--private-key",
            &key(1),
            &address(2),
            "--value",
            &format!("{}", 1000 + i),
        ]);
    }
    // A JSON-RPC batch: two known methods and one the server does not have.
    let batch = serde_json::json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "no_suchMethod", "params": []},
    ]);
    let answer: serde_json::Value = reqwest::Client::new()
        .post(&node.url)
        .json(&batch)
        .send()
        .await
        .expect("batch")
        .json()
        .await
        .expect("batch answer");
    assert_eq!(answer.as_array().map(Vec::len), Some(3), "{answer}");
    // A deposit from L1, waited for on L2.
    let out = keel(&[
        "bridge",
        "deposit",
        "--amount",
        "1ether",
        "--to",
        &address(7),
        "--private-key",
        &key(5),
        "--eth.rpc-url",
        &l1_url,
        "--l1.bridge-address",
        &bridge,
        "--l2.rpc-url",
        &node.url,
        "--wait",
        "--timeout",
        "60",
    ]);
    let stdout = stdout_of(&out);
    assert!(stdout.contains("L2 receipt: status 1"), "{stdout}");

    // Batches are sealed every 2 s, committed, proven by the in-process prover and verified.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut now = scrape(&metrics_url).await;
    while !problems(&first, &now).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        now = scrape(&metrics_url).await;
    }
    // The batch's three calls, each counted once under its own method.
    let rpc = |method: &str, outcome: &str| {
        value(
            &now,
            "keel_rpc_requests_total",
            &[("method", method), ("outcome", outcome)],
        ) - value(
            &first,
            "keel_rpc_requests_total",
            &[("method", method), ("outcome", outcome)],
        )
    };
    assert!(rpc("eth_chainId", "ok") >= 1.0);
    assert_eq!(rpc("unknown", "error"), 1.0, "only the batch's bad call");
    assert!(
        !now.keys().any(|s| s.contains("no_suchMethod")),
        "an unregistered method is not a label"
    );
    let problems = problems(&first, &now);
    assert!(
        problems.is_empty(),
        "{} series wrong:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
    node.terminate();
}

/// Kills the Prometheus it holds when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `prometheus` binary (Debian's package); the test fails if it is missing.
fn prometheus_bin() -> String {
    let found = Command::new("sh")
        .args(["-c", "command -v prometheus"])
        .output()
        .expect("run sh");
    let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
    assert!(
        found.status.success() && !path.is_empty(),
        "the `prometheus` binary is not on PATH: install Debian's package \
         (`apt-get install -y prometheus`; scripts/test.sh does it when missing)"
    );
    path
}

/// `query` percent-encoded for a URL's query string.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of an instant query's first sample, `None` while it has none.
async fn query(prometheus: &str, q: &str) -> Option<f64> {
    let url = format!("{prometheus}/api/v1/query?query={}", encode(q));
    let answer: serde_json::Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
    assert_eq!(answer["status"], "success", "{q}: {answer}");
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_scrapes_the_node_and_computes_a_rate() {
    let prometheus = prometheus_bin();
    let (node, metrics_url) = metrics_node();
    let target = metrics_url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_string();

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: keel\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("write prometheus.yml");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
    let _prometheus = Prometheus(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus"),
    );
    let api = format!("http://{listen}");

    // RPC traffic for the rate, meanwhile.
    let l2 = node.url.clone();
    let traffic = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
        loop {
            let _ = client.post(&l2).json(&call).send().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    let rate = r#"sum(rate(keel_rpc_requests_total{job="keel",method="eth_blockNumber",outcome="ok"}[10s]))"#;
    let deadline = Instant::now() + Duration::from_secs(90);
    let (mut up, mut value) = (None, None);
    while Instant::now() < deadline {
        up = query(&api, r#"up{job="keel"}"#).await;
        value = query(&api, rate).await;
        if up == Some(1.0) && value.is_some_and(|v| v > 0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    traffic.abort();
    let log = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
    assert_eq!(
        up,
        Some(1.0),
        "Prometheus scraped the node (up == 1); its log:\n{log}"
    );
    let value = value.unwrap_or_else(|| panic!("no value for {rate}; Prometheus's log:\n{log}"));
    assert!(value > 0.0, "{rate} = {value}");
    // keel_info came through with its labels.
    let info = query(&api, r#"keel_info{job="keel"}"#).await;
    assert_eq!(info, Some(1.0));

    // Every query of the Grafana dashboard is valid PromQL that this Prometheus evaluates, and
    // the node-level ones have data.
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../../ops/grafana/keel.json"))
            .expect("dashboard JSON");
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("expr");
            exprs.push(expr.replace("$instance", ".*"));
        }
    }
    assert!(exprs.len() > 30, "{} queries", exprs.len());
    let client = reqwest::Client::new();
    for expr in &exprs {
        let url = format!("{api}/api/v1/query?query={}", encode(expr));
        let answer: serde_json::Value = client
            .get(&url)
            .send()
            .await
            .expect("query")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
    }
    for expr in [
        r#"keel_l2_head_block{instance=~".*"}"#,
        r#"keel_info{instance=~".*"}"#,
    ] {
        assert!(
            exprs.iter().any(|e| e == expr),
            "the dashboard shows {expr}"
        );
        assert!(query(&api, expr).await.is_some(), "{expr} has data");
    }
    node.terminate();
}
