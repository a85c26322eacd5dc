//! Runs the load generator against a real anvil (tools/node_modules/.bin/anvil, installed by
//! `scripts/test.sh`; the tests fail if it is missing) with small workloads and checks the
//! counts of the report and the state the load left on chain. No timing assertions.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use keel_loadgen::{
    Endpoint, LoadConfig, RunReport, Target, TargetReport, Workload,
    accounts::derive_accounts,
    anvil::spawn_anvil as start_anvil,
    cli::Args,
    rpc::Rpc,
    workload::{TOKENS_PER_ACCOUNT, storage_count, token_balance_of},
};
use serde_json::json;

async fn spawn_anvil() -> keel_l1::Anvil {
    start_anvil(None)
        .await
        .expect("anvil is required: run `npm ci --prefix tools`")
}

fn small(workload: Workload) -> LoadConfig {
    LoadConfig {
        workload,
        accounts: 20,
        txs_per_account: 5,
        progress: Duration::ZERO,
        timeout: Duration::from_secs(120),
        ..LoadConfig::default()
    }
}

fn target(name: &str, url: &str) -> Target {
    Target {
        name: name.into(),
        endpoint: Endpoint::Url(url.into()),
    }
}

fn only(report: &RunReport) -> &TargetReport {
    assert!(
        report.failures.is_empty(),
        "failures: {:?}",
        report.failures
    );
    assert_eq!(report.targets.len(), 1);
    &report.targets[0]
}

fn assert_all_included(t: &TargetReport, n: u64) {
    assert_eq!(t.planned, n, "{t:#?}");
    assert_eq!(t.sent, n, "{t:#?}");
    assert_eq!(t.rejected, 0, "errors: {:?}", t.errors);
    assert_eq!(t.skipped, 0);
    assert_eq!(t.included, n, "{t:#?}");
    assert_eq!(t.missing, 0);
    assert!(!t.timed_out && !t.stalled);
    assert_eq!(t.reverted, 0);
    assert_eq!(t.receipts_checked, n.min(200));
    assert_eq!(t.other_txs, 0);
    let (first, last) = (t.first_block.unwrap(), t.last_block.unwrap());
    assert_eq!(t.blocks, last - first + 1);
    assert!(t.max_block_txs >= 1 && t.max_block_txs <= n);
    assert!(t.span_secs > 0.0 && t.included_tps > 0.0 && t.gas_per_sec > 0.0);
    assert!(t.latency_p50_ms <= t.latency_p99_ms && t.latency_p99_ms <= t.latency_max_ms);
    assert!(t.requests >= 1);
}

async fn call_u256(rpc: &Rpc, to: Address, data: alloy::primitives::Bytes) -> U256 {
    let out: alloy::primitives::Bytes = rpc
        .call("eth_call", json!([{"to": to, "data": data}, "latest"]))
        .await
        .unwrap();
    U256::from_be_slice(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_transfers_all_included() {
    let anvil = spawn_anvil().await;
    let cfg = small(Workload::Eth);
    let report = keel_loadgen::run(&cfg, &[target("anvil", &anvil.url)])
        .await
        .unwrap();
    let t = only(&report);
    assert_all_included(t, 100);
    assert_eq!(t.gas_used, 100 * 21_000);
    assert_eq!(t.contract, None);
    assert_eq!(t.chain_id, 31337);

    // Every load account sent its 5 transactions.
    let rpc = Rpc::new("anvil", &anvil.url, 1, Duration::from_secs(10)).unwrap();
    for key in derive_accounts(&cfg.seed, cfg.accounts) {
        assert_eq!(rpc.nonce(key.address(), "latest").await.unwrap(), 5);
    }

    // A rerun on the same chain reads the new nonces and needs no funding.
    let report = keel_loadgen::run(&cfg, &[target("again", &anvil.url)])
        .await
        .unwrap();
    assert_all_included(only(&report), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erc20_and_storage_workloads_change_state() {
    let anvil = spawn_anvil().await;
    let rpc = Rpc::new("anvil", &anvil.url, 1, Duration::from_secs(10)).unwrap();
    let keys = derive_accounts("keel-loadgen", 20);

    let cfg = small(Workload::Erc20);
    let report = keel_loadgen::run(&cfg, &[target("anvil", &anvil.url)])
        .await
        .unwrap();
    let t = only(&report);
    assert_all_included(t, 100);
    let token = t.contract.expect("BenchToken address");
    // Each account sent 5 units to the next one and got 5 from the previous one.
    for key in &keys {
        let bal = call_u256(&rpc, token, token_balance_of(key.address())).await;
        assert_eq!(bal, U256::from(TOKENS_PER_ACCOUNT));
    }

    let cfg = LoadConfig {
        slots: 3,
        ..small(Workload::Storage)
    };
    let report = keel_loadgen::run(&cfg, &[target("anvil", &anvil.url)])
        .await
        .unwrap();
    let t = only(&report);
    assert_all_included(t, 100);
    let contract = t.contract.expect("StorageHeavy address");
    for key in &keys {
        let n = call_u256(&rpc, contract, storage_count(key.address())).await;
        assert_eq!(n, U256::from(5 * 3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_spawned_anvils_compared_from_the_cli() {
    let args: Args = clap::Parser::try_parse_from([
        "keel-loadgen",
        "--target",
        "first=spawn-anvil",
        "--spawn-anvil",
        "--accounts",
        "10",
        "--txs-per-account",
        "3",
        "--batch-size",
        "7",
        "--concurrency",
        "2",
        "--max-inflight-per-sender",
        "2",
        "--max-inflight",
        "15",
        "--progress-secs",
        "0",
    ])
    .unwrap();
    let (cfg, targets) = args.into_config().unwrap();
    let report = keel_loadgen::run(&cfg, &targets).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.targets.len(), 2);
    assert_eq!(report.targets[1].name, "anvil");
    for t in &report.targets {
        assert_all_included(t, 30);
        assert_eq!(t.requests, 5, "30 txs in batches of 7");
    }
    let ratios = report.ratios();
    assert_eq!(ratios[0], 1.0);
    assert!(ratios[1] > 0.0);
    let table = report.render();
    assert!(
        table.contains("first") && table.contains("anvil"),
        "{table}"
    );
    let json = report.to_json();
    assert_eq!(json["targets"][1]["included"], 30);
}

#[tokio::test]
async fn dead_endpoint_and_bad_url_are_reported() {
    let cfg = LoadConfig {
        setup_timeout: Duration::from_secs(5),
        ..small(Workload::Eth)
    };
    let report = keel_loadgen::run(
        &cfg,
        &[
            target("dead", "http://127.0.0.1:1"),
            target("bad", "not a url"),
            target("ws", "ws://x"),
        ],
    )
    .await
    .unwrap();
    assert!(report.targets.is_empty());
    assert_eq!(report.failures.len(), 3);
    let e = &report.failures[0].error;
    assert!(
        e.contains("dead") && e.contains("http://127.0.0.1:1"),
        "{e}"
    );
    assert!(e.contains("eth_chainId"), "{e}");
    assert!(
        report.failures[1].error.contains("invalid URL"),
        "{}",
        report.failures[1].error
    );
    assert!(
        report.failures[2].error.contains("http://"),
        "{}",
        report.failures[2].error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_mode_measures_every_call_without_errors() {
    use keel_loadgen::reads::{self, ReadCall, ReadsConfig};
    let cfg = ReadsConfig {
        clients: 2,
        duration: Duration::from_millis(700),
        warmup: Duration::from_millis(200),
        accounts: 10,
        log_blocks: 20,
        transfers: 40,
        variants: 64,
        progress: false,
        ..ReadsConfig::default()
    };
    let targets = [Target {
        name: "anvil".into(),
        endpoint: Endpoint::SpawnAnvil,
    }];
    let report = reads::run(&cfg, &targets).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let t = &report.targets[0];
    let s = &t.setup;
    assert_eq!(s.log_range.1 - s.log_range.0 + 1, 20, "{s:?}");
    assert!(s.end_block >= s.start_block + 20, "{s:?}");
    assert_eq!(s.transfers, 40);
    assert_eq!(
        s.logs_in_range, 40,
        "every transfer's log is in the range: {s:?}"
    );
    assert_eq!(s.blocks_with_logs, 4, "one chunk every 5 blocks: {s:?}");
    assert_eq!(s.blocks_from, "anvil_mine");
    assert_eq!(t.calls.len(), ReadCall::ALL.len());
    for c in &t.calls {
        assert_eq!(c.errors, 0, "{}: {:?}", c.call, c.error_messages);
        assert!(c.ok > 0 && c.req_per_sec > 0.0, "{c:?}");
        assert!(c.latency_us.p50 <= c.latency_us.p99, "{c:?}");
    }
    assert_eq!(report.errors(), 0);
    let table = report.render();
    assert!(
        table.contains("eth_getLogs") && table.contains("anvil req/s"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_latency_mode_against_anvil() {
    use keel_loadgen::sync_latency::{self, SyncConfig};
    let cfg = SyncConfig {
        rate: 40.0,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(250),
        accounts: 20,
        progress: false,
        ..SyncConfig::default()
    };
    let spawn = |name: &str| Target {
        name: name.into(),
        endpoint: Endpoint::SpawnAnvil,
    };
    let report = sync_latency::run(&cfg, &[spawn("anvil")]).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let t = &report.targets[0];
    assert_eq!(t.sent, 40, "{t:?}");
    assert_eq!((t.ok, t.errors), (40, 0), "{:?}", t.error_messages);
    // anvil mines every second: a receipt comes back within about a block time.
    assert!(t.latency_us.max < 3_000_000, "{t:?}");
    assert!(t.achieved_rate > 30.0, "{t:?}");

    // anvil 1.7.1 rejects EIP-7966's timeout parameter: the probe fails and the target stops
    // with the node's error.
    let cfg = SyncConfig {
        sync_timeout_ms: Some(5000),
        ..cfg
    };
    let report = sync_latency::run(&cfg, &[spawn("with-timeout")])
        .await
        .unwrap();
    assert!(report.targets.is_empty());
    let e = &report.failures[0].error;
    assert!(
        e.contains("eth_sendRawTransactionSync") && e.contains("code -32602"),
        "{e}"
    );
}
