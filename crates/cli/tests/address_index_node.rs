//! `--rpc.address-index` on a datadir written without it: `keel l2` indexes the stored blocks at
//! startup as a supervised component (progress and the catch-up in its logs), then the Otterscan
//! searches list the transactions sent before the flag was on, and new ones as they are stored.

mod common;

use std::time::Duration;

use common::{Node, address, key};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The hashes `ots_searchTransactionsBefore(address, 0, 25)` lists.
fn searched(node: &Node, who: &str) -> Vec<String> {
    let page = json(&node.cast(&["rpc", "ots_searchTransactionsBefore", who, "0", "25"]));
    page["txs"]
        .as_array()
        .expect("txs")
        .iter()
        .map(|tx| tx["hash"].as_str().expect("hash").to_string())
        .collect()
}

#[test]
fn an_existing_datadir_is_indexed_at_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let datadir = dir.path().join("data");
    let datadir = datadir.to_str().expect("utf-8 path");
    let genesis = common::write_dev_genesis(dir.path());
    let genesis = genesis.to_str().expect("utf-8 path");
    let recipient = "0x00000000000000000000000000000000000000cc";
    let send = |node: &Node| -> String {
        let sent = json(&node.cast(&[
            "send",
            "--json",
            "--private-key",
            &key(3),
            recipient,
            "--value",
            "5",
        ]));
        assert_eq!(sent["status"], "0x1", "{sent}");
        sent["transactionHash"].as_str().expect("hash").to_string()
    };

    // Without the flag (the default outside --dev): no index, the searches say how to get one.
    let node = Node::start(&["--network", genesis, "--datadir", datadir]);
    let first = send(&node);
    let second = send(&node);
    let out = std::process::Command::new(common::tools_bin("cast"))
        .args([
            "rpc",
            "--rpc-url",
            &node.url,
            "ots_searchTransactionsBefore",
        ])
        .args([&address(3), "0", "25"])
        .output()
        .expect("run cast");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--rpc.address-index"), "{stderr}");
    node.terminate();

    // With it: the stored blocks are indexed by the supervised indexer, then searched.
    let node = Node::start(&[
        "--network",
        genesis,
        "--datadir",
        datadir,
        "--rpc.address-index",
    ]);
    node.wait_for_log(
        &["address index: caught up with the head"],
        Duration::from_secs(60),
    );
    let mut found = searched(&node, &address(3));
    found.sort();
    let mut expected = vec![first.to_lowercase(), second.to_lowercase()];
    expected.sort();
    assert_eq!(
        found, expected,
        "both earlier transactions, found by sender"
    );
    assert_eq!(searched(&node, recipient).len(), 2, "and by recipient");

    // A block stored from now on is indexed with it.
    let third = send(&node);
    assert!(searched(&node, recipient).contains(&third.to_lowercase()));
    node.terminate();
}
