//! End-to-end tests of `keel l2`: the real binary, driven with foundry's `cast` (from
//! `tools/node_modules`) as a user would, and restarted on its datadir.

mod common;

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::{Node, address, key, tools_bin};
use keel_types::dev;

/// Creation bytecode of BenchToken (an ERC20 with approve/allowance and events; the constructor
/// takes the supply minted to the deployer).
fn bench_token_bytecode() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/artifacts/BenchToken.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("artifact")).expect("json");
    json["bytecode"].as_str().expect("bytecode").to_string()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn cast_works_against_the_dev_node() {
    let node = Node::start(&["--dev"]);
    assert_eq!(
        node.cast(&["chain-id"]),
        dev::DEFAULT_L2_CHAIN_ID.to_string()
    );

    // A plain transfer, then its receipt.
    let recipient = "0x00000000000000000000000000000000000000aa";
    let sent = json(&node.cast(&[
        "send",
        "--json",
        "--private-key",
        &key(0),
        recipient,
        "--value",
        "1ether",
    ]));
    assert_eq!(sent["status"], "0x1", "{sent}");
    let tx_hash = sent["transactionHash"]
        .as_str()
        .expect("tx hash")
        .to_string();
    let receipt = json(&node.cast(&["receipt", "--json", &tx_hash]));
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["gasUsed"], "0x5208");
    assert_eq!(
        receipt["from"].as_str().map(str::to_lowercase),
        Some(address(0).to_lowercase())
    );
    assert_eq!(
        node.cast(&["balance", recipient]),
        "1000000000000000000",
        "the recipient got exactly 1 ether"
    );

    // Deploy a contract, estimate and send a call that logs, read it back, find the log.
    let deployed = json(&node.cast(&[
        "send",
        "--json",
        "--private-key",
        &key(1),
        "--create",
        &bench_token_bytecode(),
        "constructor(uint256)",
        "0",
    ]));
    assert_eq!(deployed["status"], "0x1", "{deployed}");
    let token = deployed["contractAddress"]
        .as_str()
        .expect("contract address")
        .to_string();
    assert_ne!(node.cast(&["code", &token]), "0x");

    let estimate: u64 = node
        .cast(&[
            "estimate",
            "--from",
            &address(1),
            &token,
            "approve(address,uint256)",
            &address(2),
            "5",
        ])
        .parse()
        .expect("gas estimate");
    assert!((21_000..100_000).contains(&estimate), "estimate {estimate}");

    let approved = json(&node.cast(&[
        "send",
        "--json",
        "--private-key",
        &key(1),
        &token,
        "approve(address,uint256)",
        &address(2),
        "5",
    ]));
    assert_eq!(approved["status"], "0x1", "{approved}");
    assert_eq!(approved["logs"].as_array().map(Vec::len), Some(1));

    let allowance = node.cast(&[
        "call",
        &token,
        "allowance(address,address)(uint256)",
        &address(1),
        &address(2),
    ]);
    assert_eq!(allowance, "5");

    let logs = json(&node.cast(&[
        "logs",
        "--json",
        "--from-block",
        "0",
        "--address",
        &token,
        "Approval(address,address,uint256)",
    ]));
    let logs = logs.as_array().expect("log list");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["transactionHash"], approved["transactionHash"]);

    // A call that reverts is reported as such by cast estimate.
    let out = Command::new(tools_bin("cast"))
        .args([
            "estimate",
            "--from",
            &address(3),
            &token,
            "transfer(address,uint256)",
            &address(2),
            "1",
        ])
        .args(["--rpc-url", &node.url])
        .output()
        .expect("run cast");
    assert!(
        !out.status.success(),
        "a transfer without balance must not estimate"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("revert"), "{stderr}");
}

#[test]
fn a_persistent_node_resumes_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("data");
    let datadir = datadir.to_str().expect("utf-8 path");
    let genesis = common::write_dev_genesis(dir.path());
    let genesis = genesis.to_str().expect("utf-8 path");
    let args = ["--network", genesis, "--datadir", datadir];
    let recipient = "0x00000000000000000000000000000000000000bb";

    let node = Node::start(&args);
    let sent = json(&node.cast(&[
        "send",
        "--json",
        "--private-key",
        &key(0),
        recipient,
        "--value",
        "7",
    ]));
    assert_eq!(sent["status"], "0x1");
    let included_in = u64::from_str_radix(
        sent["blockNumber"]
            .as_str()
            .expect("block number")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex block number");
    node.wait_for_block(included_in + 2);
    let head_before = node.block_number();
    let block_before = node.cast(&["block", &head_before.to_string(), "--json"]);
    node.terminate();

    // Clean restart: same chain, same state, and it goes on from there.
    let node = Node::start(&args);
    assert!(node.block_number() >= head_before);
    assert_eq!(
        node.cast(&["block", &head_before.to_string(), "--json"]),
        block_before
    );
    assert_eq!(node.cast(&["balance", recipient]), "7");
    assert_eq!(node.cast(&["nonce", &address(0)]), "1");
    node.wait_for_block(head_before + 2);
    let head_killed = node.block_number();
    // Killed without warning: every stored block was whole.
    drop(node);

    let node = Node::start(&args);
    assert!(node.block_number() >= head_killed);
    assert_eq!(node.cast(&["balance", recipient]), "7");
    let receipt = json(&node.cast(&[
        "receipt",
        "--json",
        sent["transactionHash"].as_str().expect("hash"),
    ]));
    assert_eq!(receipt["status"], "0x1");
    node.wait_for_block(head_killed + 1);
}

#[test]
fn pending_transactions_survive_a_clean_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("data");
    let datadir = datadir.to_str().expect("utf-8 path");
    let recipient = "0x00000000000000000000000000000000000000dd";

    // No block for an hour: the transaction waits in the pool when the node stops.
    let node = Node::start(&[
        "--dev",
        "--datadir",
        datadir,
        "--block-producer.block-time",
        "3600000",
    ]);
    let hash = node.cast(&[
        "send",
        "--async",
        "--private-key",
        &key(4),
        recipient,
        "--value",
        "9",
    ]);
    let pending = json(&node.cast(&["tx", "--json", &hash]));
    assert!(pending["blockNumber"].is_null(), "{pending}");
    node.terminate();
    assert!(Path::new(datadir).join("txpool.journal").exists());

    let node = Node::start(&["--dev", "--datadir", datadir]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let tx = json(&node.cast(&["tx", "--json", &hash]));
        if !tx["blockNumber"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the journaled transaction was not included"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(node.cast(&["balance", recipient]), "9");
    // The pool is empty again: a clean stop leaves an empty journal.
    node.terminate();
    let journal =
        std::fs::read_to_string(Path::new(datadir).join("txpool.journal")).expect("the journal");
    assert!(journal.is_empty(), "{journal:?}");
}

#[test]
fn l2_without_a_genesis_explains_what_is_missing() {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["l2", "--datadir", "memory"])
        .output()
        .expect("run keel");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--network") && stderr.contains("--dev"),
        "{stderr}"
    );
}
