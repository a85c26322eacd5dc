//! Foundry's `cast run TX_HASH` against `keel l2 --dev`: cast fetches the transaction's block and
//! the state before it from the node, replays the block's transactions before it and the
//! transaction itself with its own EVM, and prints the call trace. That must work on keel's
//! blocks and RPC as on any Ethereum node's.

mod common;

use std::path::Path;

use common::{Node, address, key};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn cast_run_replays_a_keel_transaction() {
    let node = Node::start(&["--dev"]);
    let artifact =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/artifacts/BenchToken.json");
    let artifact: serde_json::Value =
        json(&std::fs::read_to_string(artifact).expect("BenchToken artifact"));
    let bytecode = artifact["bytecode"].as_str().expect("bytecode");

    let deployed = json(&node.cast(&[
        "send",
        "--json",
        "--private-key",
        &key(1),
        "--create",
        bytecode,
        "constructor(uint256)",
        "1000",
    ]));
    assert_eq!(deployed["status"], "0x1", "{deployed}");
    let token = deployed["contractAddress"]
        .as_str()
        .expect("contract address")
        .to_string();
    let sent = json(&node.cast(&[
        "send",
        "--json",
        "--private-key",
        &key(1),
        &token,
        "transfer(address,uint256)",
        &address(2),
        "7",
    ]));
    assert_eq!(sent["status"], "0x1", "{sent}");
    let hash = sent["transactionHash"].as_str().expect("tx hash");
    let gas_used = u64::from_str_radix(
        sent["gasUsed"]
            .as_str()
            .expect("gasUsed")
            .trim_start_matches("0x"),
        16,
    )
    .expect("hex gas");

    let out = node.cast(&["run", hash]);
    assert!(out.contains("Transaction successfully executed."), "{out}");
    // The trace: the call into the token with its arguments, the event it emitted.
    let lower = out.to_lowercase();
    assert!(lower.contains(&token.to_lowercase()), "{out}");
    assert!(out.contains("transfer("), "{out}");
    assert!(
        out.contains("emit Transfer") || out.contains("ddf252ad"),
        "{out}"
    );
    // cast's replay used the gas keel's receipt says.
    assert!(out.contains(&format!("Gas used: {gas_used}")), "{out}");
}
