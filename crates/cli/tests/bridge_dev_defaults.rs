//! `keel bridge` finds the L1 by itself: against `keel l2 --dev` the commands of docs/bridge.md's
//! "Dev mode" section run verbatim, with no L1 flag (the L2 node, on a free port here, is named
//! by `KEEL_L2_RPC_URL` instead of the default `--l2.rpc-url`); the node reports its contracts
//! and dev L1 through `keel_getL1Contracts`. A node given its L1 reports the contracts but never
//! the L1 URL.

mod common;

use std::{
    path::Path,
    process::{Command, Output},
};

use alloy::{
    primitives::{Address, B256, U256},
    providers::{Provider, ProviderBuilder},
};
use common::{Node, ether, field, keel_bin, l1::TestL1, stdout_of, text};
use keel_l1::contracts::CommonBridge;
use keel_types::dev;
use serde_json::Value;

const DEPOSIT: &str = "keel bridge deposit --amount 1ether --private-key 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d --wait";
const BALANCE: &str = "keel bridge balance --address 0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const WITHDRAW: &str = "keel bridge withdraw --amount 0.5ether --private-key 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

/// Runs a documented `keel bridge` command line in `cwd` with only `KEEL_L2_RPC_URL` set.
fn run(line: &str, l2_url: &str, cwd: &Path) -> Output {
    let args: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(args[0], "keel");
    Command::new(keel_bin())
        .args(&args[1..])
        .current_dir(cwd)
        .env("KEEL_L2_RPC_URL", l2_url)
        .env_remove("KEEL_ETH_RPC_URL")
        .env_remove("KEEL_L1_DEPLOYMENT")
        .env_remove("KEEL_L1_BRIDGE_ADDRESS")
        .env_remove("KEEL_PRIVATE_KEY")
        .output()
        .expect("run keel bridge")
}

async fn l1_contracts(l2_url: &str) -> Value {
    ProviderBuilder::new()
        .connect_http(l2_url.parse().expect("url"))
        .raw_request::<_, Value>("keel_getL1Contracts".into(), ())
        .await
        .expect("keel_getL1Contracts")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_dev_commands_find_the_l1_by_themselves() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bridge.md"))
            .expect("docs/bridge.md");
    for line in [DEPOSIT, BALANCE, WITHDRAW] {
        assert!(docs.contains(line), "docs/bridge.md shows {line:?}");
    }
    let user = dev::DEV_ACCOUNTS[1].0;
    assert!(DEPOSIT.contains(&dev::DEV_ACCOUNTS[1].1.to_string()));
    assert!(BALANCE.contains(&user.to_string()));

    let node = Node::start(&["--dev"]);
    // The dev chain's fee vaults (docs/fees.md) are in the banner, before the L1 lines.
    assert_eq!(
        node.wait_for_line("L1 fee vault:").to_lowercase(),
        dev::DEV_L1_FEE_VAULT.to_string().to_lowercase()
    );
    assert_eq!(
        node.wait_for_line("Operator fee vault:").to_lowercase(),
        dev::DEV_OPERATOR_FEE_VAULT.to_string().to_lowercase()
    );
    let l1_url = node.wait_for_l1_url();
    let bridge: Address = node
        .wait_for_line("L1 bridge:")
        .parse()
        .expect("bridge address");
    let proposer: Address = node
        .wait_for_line("L1 OnChainProposer:")
        .parse()
        .expect("proposer address");

    // The node reports what its banner shows, with the URL of the L1 it started.
    let reported = l1_contracts(&node.url).await;
    assert_eq!(
        reported["bridge"].as_str().map(str::to_lowercase),
        Some(bridge.to_string().to_lowercase())
    );
    assert_eq!(
        reported["onChainProposer"].as_str().map(str::to_lowercase),
        Some(proposer.to_string().to_lowercase())
    );
    assert_eq!(reported["l1RpcUrl"].as_str(), Some(l1_url.as_str()));
    assert_eq!(
        reported["l1ChainId"].as_str(),
        Some("0x7a69"),
        "anvil's 31337"
    );

    // A directory without deployment.json: nothing but the node can name the bridge.
    let cwd = tempfile::tempdir().expect("tempdir");
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let l1 = ProviderBuilder::new().connect_http(l1_url.parse().expect("url"));
    let l2_before = l2.get_balance(user).await.expect("balance");

    let out = run(DEPOSIT, &node.url, cwd.path());
    let stdout = stdout_of(&out);
    assert!(stdout.contains("L2 receipt: status 1"), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "L1 bridge {bridge}: from the L2 node at {}",
            node.url
        )) && stderr.contains(&format!("L1 RPC {l1_url}: the dev L1 of the L2 node")),
        "stderr says where the addresses came from: {stderr}"
    );
    let l2_tx: B256 = field(&stdout, "L2 tx:").parse().expect("L2 tx");
    assert_eq!(
        CommonBridge::new(bridge, &l1)
            .privilegedTxHashes(U256::ZERO)
            .call()
            .await
            .expect("queued hash"),
        l2_tx,
        "the deposit went to the dev node's bridge"
    );
    // The deposit arrived on L2: exactly 1 ETH more (a deposit pays no L2 fee).
    let l2_after = l2.get_balance(user).await.expect("balance");
    assert_eq!(l2_after - l2_before, ether(1));

    let out = run(BALANCE, &node.url, cwd.path());
    let stdout = stdout_of(&out);
    let l1_balance = l1.get_balance(user).await.expect("balance");
    assert_eq!(field(&stdout, "L2:"), format_eth(l2_after), "{stdout}");
    assert_eq!(field(&stdout, "L1:"), format_eth(l1_balance), "{stdout}");

    // The withdrawal prints the claim to run; it is claimable once the dev node has committed and
    // verified its batch, and `claim --wait` as printed (with the key filled in) pays it on L1.
    let out = run(WITHDRAW, &node.url, cwd.path());
    let stdout = stdout_of(&out);
    let claim = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("keel bridge claim"))
        .unwrap_or_else(|| panic!("a claim command in {stdout}"))
        .replace("KEY", &dev::DEV_ACCOUNTS[1].1.to_string());
    assert!(claim.contains("--wait"), "{claim}");
    let l1_before = l1.get_balance(user).await.expect("balance");
    let out = run(&claim, &node.url, cwd.path());
    let stdout = stdout_of(&out);
    assert!(stdout.contains("claimed message"), "{}", text(&out));
    let l1_after = l1.get_balance(user).await.expect("balance");
    assert!(
        l1_after > l1_before && l1_after - l1_before <= ether(1) / U256::from(2u64),
        "the claim paid the 0.5 ETH, less the claim's L1 gas: {l1_before} -> {l1_after}"
    );
    assert!(
        l1_after - l1_before > ether(1) / U256::from(4u64),
        "the claim paid the 0.5 ETH: {l1_before} -> {l1_after}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_given_its_l1_names_its_contracts_but_not_its_l1_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), None, false).await;
    let node = Node::start(&[
        "--network",
        &l1.genesis_file,
        "--datadir",
        "memory",
        "--eth.rpc-url",
        &l1.anvil.url,
        "--l1.deployment",
        &l1.deployment_file,
    ]);
    let reported = l1_contracts(&node.url).await;
    assert_eq!(
        reported["bridge"].as_str().map(str::to_lowercase),
        Some(
            l1.deployment
                .contracts
                .common_bridge
                .proxy
                .to_string()
                .to_lowercase()
        )
    );
    assert_eq!(reported["l1RpcUrl"], Value::Null, "{reported}");
    assert_eq!(reported["l1ChainId"].as_str(), Some("0x7a69"));

    // The user names the L1, the node the bridge.
    let cwd = tempfile::tempdir().expect("tempdir");
    let deposit = format!(
        "keel bridge deposit --amount 2ether --private-key {} --eth.rpc-url {}",
        dev::DEV_ACCOUNTS[2].1,
        l1.anvil.url
    );
    let out = run(&deposit, &node.url, cwd.path());
    let l2_tx: B256 = field(&stdout_of(&out), "L2 tx:").parse().expect("L2 tx");
    assert_eq!(
        l1.bridge()
            .privilegedTxHashes(U256::ZERO)
            .call()
            .await
            .expect("queued hash"),
        l2_tx
    );

    // An L1 on another chain than the node's contracts is refused before anything is sent
    // (the L2 node itself stands in for it: its chain id is not 31337).
    let wrong = format!(
        "keel bridge deposit --amount 2ether --private-key {} --eth.rpc-url {}",
        dev::DEV_ACCOUNTS[2].1,
        node.url
    );
    let out = run(&wrong, &node.url, cwd.path());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("are on chain 31337"),
        "{}",
        text(&out)
    );
    assert_eq!(
        l1.bridge().transactionId().call().await.expect("id"),
        U256::from(1),
        "nothing more queued"
    );

    // Without a node to ask, the bridge commands say what to give.
    let out = run(
        "keel bridge status --tx-hash 0x0000000000000000000000000000000000000000000000000000000000000001",
        "http://127.0.0.1:9",
        cwd.path(),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no L1 bridge address") && stderr.contains("--l1.bridge-address"),
        "{stderr}"
    );
}

/// `wei` as `keel bridge balance` prints it: exact ETH, trailing zeros trimmed.
fn format_eth(wei: U256) -> String {
    let unit = ether(1);
    let (whole, fraction) = (wei / unit, wei % unit);
    if fraction.is_zero() {
        return format!("{whole} ETH");
    }
    let digits = format!("{:0>18}", fraction.to_string());
    format!("{whole}.{} ETH", digits.trim_end_matches('0'))
}
