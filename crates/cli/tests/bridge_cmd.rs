//! `keel bridge` as a user runs it: a deposit on a real anvil with the contracts deployed, and a
//! withdrawal on a `keel l2 --dev` node.

mod common;

use alloy::{
    primitives::{Address, B256, U256},
    providers::{Provider, ProviderBuilder},
};
use common::{Node, address, ether, field, keel, key, stdout_of};
use keel_l1::{Anvil, AnvilConfig, DeployConfig, contracts::CommonBridge, deploy};
use keel_types::dev;

#[tokio::test(flavor = "multi_thread")]
async fn deposit_queues_the_l2_tx_it_prints() {
    let anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deployment.json");
    let provider = ProviderBuilder::new()
        .wallet(
            alloy::signers::local::PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[0].1)
                .expect("key"),
        )
        .connect_http(anvil.url.parse().expect("url"));
    let deployer = dev::DEV_ACCOUNTS[0].0;
    let config = DeployConfig {
        owner: deployer,
        sequencers: vec![deployer],
        verifier_signers: vec![deployer],
        verifier_threshold: 1,
        inclusion_max_wait: 3600,
        max_privileged_gas_limit: 10_000_000,
        validium: false,
        receipt_timeout: std::time::Duration::from_secs(30),
        ..DeployConfig::for_genesis(&dev::dev_genesis(), deployer).expect("deploy config")
    };
    let deployment = deploy(&provider, deployer, &config, &file)
        .await
        .expect("deploys")
        .deployment;
    let recipient = "0x00000000000000000000000000000000000000b0";

    let out = keel(&[
        "bridge",
        "deposit",
        "--amount",
        "1.5ether",
        "--to",
        recipient,
        "--private-key",
        &key(5),
        "--eth.rpc-url",
        &anvil.url,
        "--l1.deployment",
        file.to_str().expect("utf-8"),
    ]);
    let stdout = stdout_of(&out);
    let l2_tx: B256 = field(&stdout, "L2 tx:").parse().expect("L2 tx hash");
    assert_eq!(field(&stdout, "deposit id:"), "0");

    let bridge = CommonBridge::new(deployment.contracts.common_bridge.proxy, &provider);
    assert_eq!(
        bridge
            .privilegedTxHashes(U256::ZERO)
            .call()
            .await
            .expect("hash"),
        l2_tx,
        "the printed L2 tx hash is the one the bridge queued"
    );
    let half = ether(1) / U256::from(2);
    assert_eq!(
        provider
            .get_balance(*bridge.address())
            .await
            .expect("balance"),
        ether(1) + half
    );

    // A bad amount is refused before anything is sent.
    let out = keel(&[
        "bridge",
        "deposit",
        "--amount",
        "1.5",
        "--private-key",
        &key(5),
        "--eth.rpc-url",
        &anvil.url,
        "--l1.deployment",
        file.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad amount"));
    assert_eq!(
        bridge.transactionId().call().await.expect("id"),
        U256::from(1),
        "nothing more queued"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn withdraw_burns_on_l2_and_prints_the_message() {
    let node = Node::start(&["--dev"]);
    let receiver = "0x00000000000000000000000000000000000000c1";
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let sender: Address = address(6).parse().expect("address");
    let before = l2.get_balance(sender).await.expect("balance");
    let burned_before = l2.get_balance(Address::ZERO).await.expect("balance");

    let out = keel(&[
        "bridge",
        "withdraw",
        "--amount",
        "2ether",
        "--to",
        receiver,
        "--private-key",
        &key(6),
        "--l2.rpc-url",
        &node.url,
    ]);
    let stdout = stdout_of(&out);
    assert!(stdout.contains("L1 message: id 1 "), "{stdout}");
    let l2_tx: B256 = field(&stdout, "L2 tx:").parse().expect("L2 tx hash");
    // The amount in ETH (and wei), what happens next, and the exact claim command.
    assert!(
        stdout.contains(&format!(
            "withdrew 2 ETH (2000000000000000000 wei) to {} on L1",
            receiver.parse::<Address>().expect("address")
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("claimable on L1 once the batch holding this transaction is committed"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "keel bridge claim --tx-hash {l2_tx} --wait --private-key KEY --l2.rpc-url {}",
            node.url
        )),
        "{stdout}"
    );
    // What the transaction cost besides the amount (gas, L1 fee, operator fee), and the
    // printed breakdown of it.
    let fee = common::l2_tx_cost(&l2, l2_tx).await;
    assert!(
        stdout.contains("L2 fee:") && stdout.contains("+ L1 fee"),
        "the cost is printed: {stdout}"
    );
    let after = l2.get_balance(sender).await.expect("balance");
    assert_eq!(
        before - after,
        ether(2) + fee,
        "the sender paid the amount, gas and the L1 fee"
    );
    // The amount is burned to address(0) (which is also the dev coinbase, so it gets the tip too).
    assert!(l2.get_balance(Address::ZERO).await.expect("balance") - burned_before >= ether(2));

    let out = keel(&[
        "bridge",
        "balance",
        "--address",
        &address(6),
        "--l2.rpc-url",
        &node.url,
        "--eth.rpc-url",
        &node.url,
    ]);
    let stdout = stdout_of(&out);
    assert_eq!(field(&stdout, "L2:"), format_eth(after));
    assert!(field(&stdout, "L2:").ends_with(" ETH"), "{stdout}");
    // --wei prints wei.
    let out = keel(&[
        "bridge",
        "balance",
        "--address",
        &address(6),
        "--wei",
        "--l2.rpc-url",
        &node.url,
        "--eth.rpc-url",
        &node.url,
    ]);
    let stdout = stdout_of(&out);
    assert_eq!(field(&stdout, "L2:"), format!("{after} wei"));

    // The L1 flags are refused by a withdrawal (an L2 transaction), before anything is sent.
    for (flag, value) in [
        ("--eth.rpc-url", "http://127.0.0.1:8545"),
        ("--l1.deployment", "deployment.json"),
        (
            "--l1.bridge-address",
            "0x00000000000000000000000000000000000000c2",
        ),
    ] {
        let out = keel(&[
            "bridge",
            "withdraw",
            "--amount",
            "1ether",
            "--private-key",
            &key(6),
            "--l2.rpc-url",
            &node.url,
            flag,
            value,
        ]);
        assert!(!out.status.success(), "{flag} refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("{flag} is not used by a withdrawal"))
                && stderr.contains("keel bridge claim"),
            "{stderr}"
        );
    }
    assert_eq!(
        l2.get_balance(sender).await.expect("balance"),
        after,
        "no withdrawal was sent"
    );
}

/// `value` wei as `keel bridge balance` prints it: exact ETH, trailing zeros trimmed.
fn format_eth(wei: U256) -> String {
    let unit = ether(1);
    let (whole, fraction) = (wei / unit, wei % unit);
    if fraction.is_zero() {
        return format!("{whole} ETH");
    }
    let digits = format!("{:0>18}", fraction.to_string());
    format!("{whole}.{} ETH", digits.trim_end_matches('0'))
}
