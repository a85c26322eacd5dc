//! `keel bridge status` and `keel bridge claim` end to end, with the real binary on a real L1
//! (anvil, 1 s blocks): an ETH and an ERC20 withdrawal go through every stage — in a block, in a
//! sealed batch, committed, verified (the batches proven with the `exec` backend from the
//! node's datadir, see `common::proofs`), claimed — and `status` says each one. `claim` refuses
//! before its batch is verified, `claim --wait` pays exactly the withdrawn amounts on L1, and a
//! second claim is refused by the CLI before sending and reverts on L1 when sent directly.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256, U256},
    providers::{Provider, ProviderBuilder},
};
use common::{
    Node, address, bridge, ether, field, key,
    l1::TestL1,
    proofs::{commit_batches, node_args, prove, start},
    provider_as, stdout_of, text,
};
use keel_l1::contracts::{CommonBridge, l2::BridgedERC20, test::TestToken};
use serde_json::Value;

fn status(l1: &TestL1, node: &Node, tx: B256) -> String {
    let out = bridge(l1, node, &["status", "--tx-hash", &tx.to_string()]);
    field(&stdout_of(&out), "status:").to_string()
}

/// A claim without --wait that must fail; returns its output.
fn refused_claim(l1: &TestL1, node: &Node, tx: B256, who: usize) -> String {
    let out = bridge(
        l1,
        node,
        &[
            "claim",
            "--tx-hash",
            &tx.to_string(),
            "--private-key",
            &key(who),
        ],
    );
    assert!(!out.status.success(), "the claim must fail: {}", text(&out));
    text(&out)
}

async fn wait_for_proof(node: &Node, tx: B256) -> u64 {
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let proofs: Value = l2
            .raw_request("keel_getWithdrawalProof".into(), (tx,))
            .await
            .expect("keel_getWithdrawalProof");
        if let Some(batch) = proofs[0]["batchNumber"].as_str() {
            return u64::from_str_radix(batch.trim_start_matches("0x"), 16).expect("batch");
        }
        assert!(Instant::now() < deadline, "{tx} not in a sealed batch");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_and_erc20_withdrawals_are_tracked_and_claimed_once_on_l1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let datadir = dir.path().join("data");
    let datadir_str = datadir.to_str().expect("utf-8").to_string();
    let user = 7;
    let user_address: Address = address(user).parse().expect("address");

    // 1. No batch is sealed (long commit time): an ERC20 reaches L2, and two withdrawals are
    //    made; they are in blocks only.
    let node = start(&node_args(&l1, &datadir_str, "600000"), &[]);
    // ETH on the L1 bridge for the ETH claim: a deposit.
    stdout_of(&bridge(
        &l1,
        &node,
        &["deposit", "--amount", "2ether", "--private-key", &key(5)],
    ));
    let l1_as_3 = provider_as(&l1.anvil.url, 3);
    let token = TestToken::deploy(&l1_as_3).await.expect("TestToken");
    assert!(
        token
            .mint(address(5).parse().expect("address"), ether(40))
            .send()
            .await
            .expect("mint")
            .get_receipt()
            .await
            .expect("receipt")
            .status()
    );
    let l2_as_1 = provider_as(&node.url, 1);
    let bridged = BridgedERC20::deploy(
        &l2_as_1,
        "Bridged Test Token".to_string(),
        "bTT".to_string(),
        18,
        *token.address(),
    )
    .await
    .expect("BridgedERC20 on L2");
    let (token_l1, token_l2) = (*token.address(), *bridged.address());
    stdout_of(&bridge(
        &l1,
        &node,
        &[
            "deposit-erc20",
            "--token-l1",
            &token_l1.to_string(),
            "--token-l2",
            &token_l2.to_string(),
            "--amount",
            "40ether",
            "--to",
            &address(user),
            "--private-key",
            &key(5),
        ],
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while bridged
        .balanceOf(user_address)
        .call()
        .await
        .expect("balance")
        != ether(40)
    {
        assert!(
            Instant::now() < deadline,
            "the ERC20 deposit did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let eth_tx: B256 = field(
        &stdout_of(&bridge(
            &l1,
            &node,
            &[
                "withdraw",
                "--amount",
                "1ether",
                "--private-key",
                &key(user),
            ],
        )),
        "L2 tx:",
    )
    .parse()
    .expect("hash");
    let erc20_tx: B256 = field(
        &stdout_of(&bridge(
            &l1,
            &node,
            &[
                "withdraw-erc20",
                "--token-l1",
                &token_l1.to_string(),
                "--token-l2",
                &token_l2.to_string(),
                "--amount",
                "15ether",
                "--private-key",
                &key(user),
            ],
        )),
        "L2 tx:",
    )
    .parse()
    .expect("hash");
    let s = status(&l1, &node, eth_tx);
    assert!(
        s.starts_with("in block ") && s.contains("not sealed"),
        "{s}"
    );
    let refused = refused_claim(&l1, &node, eth_tx, user);
    assert!(refused.contains("not claimable yet"), "{refused}");
    let unknown = bridge(
        &l1,
        &node,
        &["status", "--tx-hash", &B256::repeat_byte(9).to_string()],
    );
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("does not know"),
        "{}",
        text(&unknown)
    );
    node.terminate();

    // 2. Sealed, not committed (no committer key).
    let mut sealing: Vec<String> = node_args(&l1, &datadir_str, "1000");
    let at = sealing
        .iter()
        .position(|a| a == "--committer.l1-private-key")
        .expect("flag");
    sealing.drain(at..at + 2);
    let node = start(&sealing, &[]);
    let eth_batch = wait_for_proof(&node, eth_tx).await;
    let erc20_batch = wait_for_proof(&node, erc20_tx).await;
    let s = status(&l1, &node, eth_tx);
    assert!(
        s.contains(&format!(
            "batch {eth_batch}: sealed; waiting for its commit to L1"
        )),
        "{s}"
    );
    let out = stdout_of(&bridge(
        &l1,
        &node,
        &["status", "--tx-hash", &erc20_tx.to_string()],
    ));
    assert!(
        out.contains(&format!("15000000000000000000 of token {token_l1}"))
            && out.contains("(not claimed)"),
        "{out}"
    );
    node.terminate();

    // 3. Committed.
    let last = commit_batches(&l1, &datadir, eth_batch.max(erc20_batch)).await;
    let args = node_args(&l1, &datadir_str, "600000");
    let node = start(&args, &[]);
    let s = status(&l1, &node, eth_tx);
    assert!(
        s.contains(&format!("batch {eth_batch}: committed (L1 tx 0x")),
        "{s}"
    );
    let refused = refused_claim(&l1, &node, eth_tx, user);
    assert!(refused.contains("committed"), "{refused}");
    node.terminate();

    // 4. Proven and verified: claimed with --wait, paying exactly the amounts.
    prove(&l1, &datadir, &(1..=last).collect::<Vec<_>>(), &[0]);
    let node = start(&args, &[]);
    let eth_before = l1
        .provider
        .get_balance(user_address)
        .await
        .expect("balance");
    let out = stdout_of(&bridge(
        &l1,
        &node,
        &[
            "claim",
            "--tx-hash",
            &eth_tx.to_string(),
            "--wait",
            "--timeout",
            "120",
            "--private-key",
            &key(user),
        ],
    ));
    let claim_tx: B256 = field(&out, "L1 tx:").parse().expect("hash");
    let receipt = l1
        .provider
        .get_transaction_receipt(claim_tx)
        .await
        .expect("receipt")
        .expect("mined");
    assert!(receipt.status());
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    let eth_after = l1
        .provider
        .get_balance(user_address)
        .await
        .expect("balance");
    assert_eq!(
        eth_after + fee - eth_before,
        ether(1),
        "exactly the withdrawn ETH"
    );
    assert_eq!(status(&l1, &node, eth_tx), "claimed");

    let erc20_status = status(&l1, &node, erc20_tx);
    assert!(
        erc20_status.contains("verified (L1 tx 0x") && erc20_status.ends_with("claimable"),
        "{erc20_status}"
    );
    let out = stdout_of(&bridge(
        &l1,
        &node,
        &[
            "claim",
            "--tx-hash",
            &erc20_tx.to_string(),
            "--private-key",
            &key(user),
        ],
    ));
    assert!(out.contains("L1 tx:"), "{out}");
    assert_eq!(
        token.balanceOf(user_address).call().await.expect("balance"),
        ether(15),
        "exactly the withdrawn tokens"
    );
    assert_eq!(status(&l1, &node, erc20_tx), "claimed");

    // 5. A second claim: refused by the CLI with nothing sent; sent directly, it reverts on L1.
    let nonce = l1
        .provider
        .get_transaction_count(user_address)
        .await
        .expect("nonce");
    for tx in [eth_tx, erc20_tx] {
        let refused = refused_claim(&l1, &node, tx, user);
        assert!(refused.contains("already claimed"), "{refused}");
    }
    assert_eq!(
        l1.provider
            .get_transaction_count(user_address)
            .await
            .expect("nonce"),
        nonce,
        "the CLI sent nothing"
    );
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let proofs: Value = l2
        .raw_request("keel_getWithdrawalProof".into(), (eth_tx,))
        .await
        .expect("proof");
    let proof: Vec<B256> = serde_json::from_value(proofs[0]["proof"].clone()).expect("proof");
    let message_id: U256 = serde_json::from_value(proofs[0]["messageId"].clone()).expect("id");
    let user_l1 = provider_as(&l1.anvil.url, user);
    let again = CommonBridge::new(l1.deployment.contracts.common_bridge.proxy, &user_l1)
        .claimWithdrawal(ether(1), U256::from(eth_batch), message_id, proof)
        .gas(300_000)
        .send()
        .await
        .expect("sent with a fixed gas limit")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(!again.status(), "a second claim reverts on L1");
    assert_eq!(
        CommonBridge::new(l1.deployment.contracts.common_bridge.proxy, &l1.provider)
            .claimWithdrawal(ether(1), U256::from(eth_batch), message_id, vec![])
            .from(user_address)
            .call()
            .await
            .expect_err("reverts")
            .as_decoded_interface_error::<CommonBridge::CommonBridgeErrors>()
            .map(|e| matches!(e, CommonBridge::CommonBridgeErrors::AlreadyClaimed(_))),
        Some(true),
        "the revert is AlreadyClaimed"
    );
    node.terminate();
}
