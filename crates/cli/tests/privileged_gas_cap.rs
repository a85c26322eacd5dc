//! Issue 12 item 2, at node start: `keel l2` with an L1 deployment reads the bridge's
//! `maxPrivilegedGasLimit` and refuses to start when its L2 block gas limit is below it (a
//! deposit with that gas limit could never run in a block), naming both numbers and what to
//! change; once the cap fits the block gas limit, the node starts.

mod common;

use alloy::{primitives::U256, providers::ProviderBuilder};
use common::{Node, keel, text};
use keel_l1::{Anvil, AnvilConfig, DeployConfig, contracts::CommonBridge, deploy};
use keel_types::dev;

/// The node's block gas limit: its genesis' (blocks keep it).
const BLOCK_GAS_LIMIT: u64 = 5_000_000;
/// The bridge's cap: above the node's block gas limit. The deployer refuses that for the same
/// genesis, so the deployment is made as if for a 30M-gas L2 (a node started with another
/// genesis gas limit than the deployment was made for).
const CAP: u64 = 10_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn the_node_refuses_a_block_gas_limit_below_the_bridges_privileged_cap() {
    let anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut genesis = dev::dev_genesis();
    genesis.gas_limit = BLOCK_GAS_LIMIT;
    let genesis_file = dir.path().join("genesis.json");
    std::fs::write(
        &genesis_file,
        serde_json::to_string_pretty(&genesis).expect("json"),
    )
    .expect("write genesis");
    let deployment_file = dir.path().join("deployment.json");
    let owner = dev::DEV_ACCOUNTS[0].0;
    let provider = ProviderBuilder::new()
        .wallet(
            alloy::signers::local::PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[0].1)
                .expect("key"),
        )
        .connect_http(anvil.url.parse().expect("url"));
    let config = DeployConfig {
        l2_block_gas_limit: 30_000_000,
        max_privileged_gas_limit: CAP,
        ..DeployConfig::for_genesis(&genesis, owner).expect("deploy config")
    };
    let deployment = deploy(&provider, owner, &config, &deployment_file)
        .await
        .expect("deploys")
        .deployment;
    let bridge = CommonBridge::new(deployment.contracts.common_bridge.proxy, &provider);
    assert_eq!(
        bridge.maxPrivilegedGasLimit().call().await.expect("cap"),
        U256::from(CAP)
    );

    let datadir = dir.path().join("data");
    let args = [
        "l2",
        "--network",
        genesis_file.to_str().expect("utf-8"),
        "--eth.rpc-url",
        &anvil.url,
        "--l1.deployment",
        deployment_file.to_str().expect("utf-8"),
        "--datadir",
        datadir.to_str().expect("utf-8"),
    ];
    let out = keel(&[&args[..], &["--http.port", "0"]].concat());
    let output = text(&out);
    assert!(!out.status.success(), "keel l2 started: {output}");
    for needle in [
        "L2 block gas limit (5000000)",
        "maxPrivilegedGasLimit (10000000)",
        "gasLimit",
        "setMaxPrivilegedGasLimit",
    ] {
        assert!(output.contains(needle), "no {needle:?} in: {output}");
    }

    // The owner lowers the cap to the block gas limit: the same node starts.
    bridge
        .setMaxPrivilegedGasLimit(U256::from(BLOCK_GAS_LIMIT))
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("lowered");
    // (Node::start waits for the RPC address, printed after the check.)
    let node = Node::start(&args[1..]);
    node.wait_for_block(1);
    node.terminate();
}
