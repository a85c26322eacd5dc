//! Deposits and withdrawals through a running node, end to end: `keel l2 --dev` starts its own
//! anvil and deploys the contracts, the L1Watcher brings deposits to L2 as privileged txs, and
//! withdrawals get a proof from `keel_getWithdrawalProof` once their batch is sealed.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256, U256},
    providers::{Provider, ProviderBuilder},
};
use common::{Node, ether, field, keel, key, stdout_of};
use keel_types::{L1Message, verify_withdrawal_proof};
use serde_json::{Value, json};

const VAULT: &str = "0x000000000000000000000000000000000000fee5";
const COINBASE: &str = "0x000000000000000000000000000000000000c0de";

/// A dev node with its own L1; returns it with the bridge address and the L1 URL.
fn dev_node() -> (Node, String, String) {
    let node = Node::start(&[
        "--dev",
        "--watcher.watch-interval",
        "100",
        "--committer.commit-time",
        "500",
        "--block-producer.base-fee-vault-address",
        VAULT,
        "--block-producer.coinbase-address",
        COINBASE,
    ]);
    // The banner shows the L1 URL (with a note that keel started it) before the bridge.
    let l1_url = node.wait_for_l1_url();
    let bridge = node.wait_for_line("L1 bridge:");
    (node, bridge, l1_url)
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_deposit_arrives_and_a_withdrawal_gets_a_proof() {
    let (node, bridge, l1_url) = dev_node();
    let l1 = ProviderBuilder::new().connect_http(l1_url.parse().expect("url"));
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let bridge_address: Address = bridge.parse().expect("bridge address");
    let recipient = Address::repeat_byte(0xd1);
    let vault: Address = VAULT.parse().expect("vault");
    let coinbase: Address = COINBASE.parse().expect("coinbase");

    let out = keel(&[
        "bridge",
        "deposit",
        "--amount",
        "3ether",
        "--to",
        &recipient.to_string(),
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
    let l2_tx: B256 = field(&stdout, "L2 tx:").parse().expect("hash");

    assert_eq!(l2.get_balance(recipient).await.expect("balance"), ether(3));
    assert_eq!(
        l1.get_balance(bridge_address).await.expect("balance"),
        ether(3)
    );
    let receipt: Value = l2
        .raw_request("eth_getTransactionReceipt".into(), (l2_tx,))
        .await
        .expect("receipt");
    assert_eq!(receipt["type"], json!("0x7e"));
    assert_eq!(receipt["status"], json!("0x1"));
    let tx: Value = l2
        .raw_request("eth_getTransactionByHash".into(), (l2_tx,))
        .await
        .expect("tx");
    assert_eq!(
        tx["from"].as_str().map(str::to_lowercase),
        Some(
            keel_types::rules::L2_BRIDGE_ADDRESS
                .to_string()
                .to_lowercase()
        )
    );
    assert_eq!(
        l2.get_balance(keel_types::rules::L2_BRIDGE_ADDRESS)
            .await
            .expect("balance"),
        U256::ZERO,
        "the bridge keeps nothing"
    );
    // The deposit paid no fee: the coinbase and the base-fee vault got nothing (no other L2 tx
    // has been sent yet).
    assert_eq!(l2.get_balance(coinbase).await.expect("balance"), U256::ZERO);
    assert_eq!(l2.get_balance(vault).await.expect("balance"), U256::ZERO);

    // Withdraw 1 ETH from a funded dev account and wait for the batch.
    let receiver = Address::repeat_byte(0xe1);
    let out = keel(&[
        "bridge",
        "withdraw",
        "--amount",
        "1ether",
        "--to",
        &receiver.to_string(),
        "--private-key",
        &key(6),
        "--l2.rpc-url",
        &node.url,
    ]);
    let stdout = stdout_of(&out);
    let withdrawal: B256 = field(&stdout, "L2 tx:").parse().expect("hash");
    // An ordinary tx does pay the vault, so the zero above is the deposit paying no fee.
    assert!(l2.get_balance(vault).await.expect("balance") > U256::ZERO);
    let deadline = Instant::now() + Duration::from_secs(30);
    let proofs = loop {
        let proofs: Value = l2
            .raw_request("keel_getWithdrawalProof".into(), (withdrawal,))
            .await
            .expect("keel_getWithdrawalProof");
        if !proofs.is_null() {
            break proofs;
        }
        assert!(Instant::now() < deadline, "no proof within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let p = &proofs[0];
    let batch: Value = l2
        .raw_request("keel_getBatchByNumber".into(), (p["batchNumber"].clone(),))
        .await
        .expect("batch");
    let root: B256 = serde_json::from_value(batch["withdrawalsRoot"].clone()).expect("root");
    let leaf = L1Message {
        sender_on_l2: keel_types::rules::L2_BRIDGE_ADDRESS,
        data: serde_json::from_value(p["messageHash"].clone()).expect("hash"),
        message_id: serde_json::from_value(p["messageId"].clone()).expect("id"),
    }
    .leaf();
    let proof: Vec<B256> = serde_json::from_value(p["proof"].clone()).expect("proof");
    assert!(verify_withdrawal_proof(&proof, root, leaf));
}
