//! `keel l2 deploy` against a real anvil, as an operator runs it: a first run deploys and writes
//! the file, a second run sends nothing, and `keel l2` reads the file (and refuses one made for
//! another genesis); an upgrade through the timelock with `keel l2 timelock`.

mod common;

use common::{keel, text, tools_bin};
use std::{
    process::{Command, Stdio},
    time::Duration,
};

use alloy::{primitives::Address, providers::Provider};
use keel_l1::{
    Anvil, AnvilConfig, Deployment, contracts::CommonBridge, deploy::IMPLEMENTATION_SLOT,
};
use keel_types::dev;

#[tokio::test(flavor = "multi_thread")]
async fn deploy_twice_then_run_the_node_with_the_file() {
    let anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deployment.json");
    let file_arg = file.to_str().expect("utf-8 path");
    let key = dev::DEV_ACCOUNTS[0].1.to_string();
    let deploy = [
        "l2",
        "deploy",
        "--eth.rpc-url",
        &anvil.url,
        "--private-key",
        &key,
        "--out",
        file_arg,
        "--dev-genesis",
    ];

    let first = keel(&deploy);
    assert!(first.status.success(), "{}", text(&first));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(stdout.matches("deployed  ").count(), 7, "{stdout}");
    assert!(stdout.contains("docs/contracts.md#governance"), "{stdout}");
    let deployment = Deployment::load(&file).expect("deployment file");
    assert!(deployment.complete);
    assert_eq!(deployment.l2_chain_id, dev::DEFAULT_L2_CHAIN_ID);
    assert_eq!(
        deployment.genesis_state_root,
        keel_types::genesis_state_root(&dev::dev_genesis())
    );
    assert_eq!(
        deployment.owner,
        dev::DEV_ACCOUNTS[0].0,
        "owner defaults to the deployer"
    );
    assert!(
        deployment.timelock.is_some(),
        "a timelock owns the contracts"
    );
    assert_eq!(
        deployment.timelock_delay,
        Some(86_400),
        "default delay: a day"
    );
    assert_eq!(deployment.security_council, Address::ZERO);
    assert_eq!(deployment.max_pause, keel_l1::deploy::DEFAULT_MAX_PAUSE);
    assert!(stdout.contains(&deployment.contracts.common_bridge.proxy.to_string()));

    let second = keel(&deploy);
    assert!(second.status.success(), "{}", text(&second));
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        stdout.contains("already deployed: nothing sent"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("exists    ").count(), 7, "{stdout}");
    assert_eq!(
        Deployment::load(&file).expect("file"),
        deployment,
        "file unchanged"
    );

    // The node reads the addresses from the file.
    let mut node = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args([
            "l2",
            "--dev",
            "--http.port",
            "0",
            "--l1.deployment",
            file_arg,
        ])
        .args(["--eth.rpc-url", &anvil.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn keel l2");
    let lines = common::stdout_lines(node.stdout.take().expect("stdout"));
    let mut bridge_line = None;
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(30)) {
        if line.contains("L1 bridge:") {
            bridge_line = Some(line);
            break;
        }
    }
    let _ = node.kill();
    let _ = node.wait();
    let bridge_line = bridge_line.expect("the node printed its L1 bridge");
    assert!(
        bridge_line.contains(&deployment.contracts.common_bridge.proxy.to_string()),
        "{bridge_line}"
    );

    // A genesis with another state root is refused with the reason.
    let other = dir.path().join("other.json");
    let out = keel(&[
        "l2",
        "genesis",
        "--out",
        other.to_str().expect("utf-8"),
        "--fund",
        "0x00000000000000000000000000000000000000aa=1ether",
        "--no-fees",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let refused = keel(&[
        "l2",
        "--network",
        other.to_str().expect("utf-8"),
        "--datadir",
        "memory",
        "--http.port",
        "0",
        "--l1.deployment",
        file_arg,
    ]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("genesis state root"),
        "{}",
        text(&refused)
    );
}

#[test]
fn deploy_explains_bad_input() {
    let out = keel(&[
        "l2",
        "deploy",
        "--private-key",
        "0x1234",
        "--dev-genesis",
        "--out",
        "/nonexistent/d.json",
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--private-key"), "{}", text(&out));

    let out = keel(&["l2", "deploy", "--private-key", "0x01"]);
    assert!(!out.status.success(), "a genesis is required");
    assert!(text(&out).contains("--genesis"), "{}", text(&out));
}

#[test]
fn deploy_refuses_a_zero_timelock_delay_for_a_real_genesis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = dir.path().join("genesis.json");
    let genesis_arg = genesis.to_str().expect("utf-8");
    let out = keel(&["l2", "genesis", "--out", genesis_arg, "--no-fees"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = keel(&[
        "l2",
        "deploy",
        "--private-key",
        &dev::DEV_ACCOUNTS[0].1.to_string(),
        "--genesis",
        genesis_arg,
        "--timelock.delay",
        "0",
        "--out",
        dir.path().join("d.json").to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("--timelock.delay 0 is only allowed"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("d.json").exists(), "nothing planned");
}

/// `cast calldata SIG ARGS...`.
fn calldata(args: &[&str]) -> String {
    let out = Command::new(tools_bin("cast"))
        .arg("calldata")
        .args(args)
        .output()
        .expect("run cast");
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_through_the_timelock_from_the_command_line() {
    let anvil = Anvil::spawn(&AnvilConfig::default()).await.expect("anvil");
    let provider = keel_l1::dev_wallet_provider(anvil.url.parse().expect("url"));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deployment.json");
    let file_arg = file.to_str().expect("utf-8 path");
    let governor = dev::DEV_ACCOUNTS[0].1.to_string();
    let out = keel(&[
        "l2",
        "deploy",
        "--eth.rpc-url",
        &anvil.url,
        "--private-key",
        &governor,
        "--out",
        file_arg,
        "--dev-genesis",
        "--timelock.delay",
        "3600",
        "--security-council",
        &dev::DEV_ACCOUNTS[8].0.to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let deployment = Deployment::load(&file).expect("deployment file");
    assert_eq!(deployment.timelock_delay, Some(3600));
    assert_eq!(deployment.security_council, dev::DEV_ACCOUNTS[8].0);
    let proxy = deployment.contracts.common_bridge.proxy;
    let implementation = || async {
        let word = provider
            .get_storage_at(proxy, IMPLEMENTATION_SLOT.into())
            .await
            .expect("slot");
        Address::from_word(word.into())
    };

    // Step 1: a new implementation.
    let new_impl = *CommonBridge::deploy(&provider)
        .await
        .expect("new implementation")
        .address();
    let upgrade = calldata(&[
        "upgradeToAndCall(address,bytes)",
        &new_impl.to_string(),
        "0x",
    ]);
    let timelock = |cmd: &str, key: Option<&str>| {
        let mut args = vec![
            "l2",
            "timelock",
            cmd,
            "--deployment",
            file_arg,
            "--eth.rpc-url",
            &anvil.url,
            "--target",
            "CommonBridge",
            "--calldata",
            &upgrade,
        ];
        if let Some(key) = key {
            args.extend(["--private-key", key]);
        }
        keel(&args)
    };
    let status = |expected: &str| {
        let out = timelock("status", None);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains(expected),
            "expected {expected:?}: {}",
            text(&out)
        );
    };
    status("not scheduled");
    let out = timelock("execute", Some(&governor));
    assert!(!out.status.success());
    assert!(text(&out).contains("is not scheduled"), "{}", text(&out));

    // Step 2: schedule (only the governor may).
    let user = dev::DEV_ACCOUNTS[5].1.to_string();
    let out = timelock("schedule", Some(&user));
    assert!(!out.status.success());
    assert!(text(&out).contains("is not a proposer"), "{}", text(&out));
    let out = timelock("schedule", Some(&governor));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("scheduled operation 0x"),
        "{}",
        text(&out)
    );
    let out = timelock("schedule", Some(&governor));
    assert!(!out.status.success());
    assert!(text(&out).contains("already scheduled"), "{}", text(&out));

    // Step 3: not before the delay.
    status("waiting: executable from unix time");
    let out = timelock("execute", Some(&governor));
    assert!(!out.status.success());
    assert!(text(&out).contains("is not ready"), "{}", text(&out));
    assert_eq!(
        implementation().await,
        deployment.contracts.common_bridge.implementation
    );

    // Step 4: after it, execute.
    let _: serde_json::Value = provider
        .raw_request("evm_increaseTime".into(), (3600u64,))
        .await
        .expect("evm_increaseTime");
    let _: serde_json::Value = provider
        .raw_request("evm_mine".into(), ())
        .await
        .expect("evm_mine");
    status("ready");
    let out = timelock("execute", Some(&governor));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("executed operation"), "{}", text(&out));

    // Step 5: the implementation slot moved.
    assert_eq!(implementation().await, new_impl);
    status("done");

    // Clear refusals of bad input.
    let out = keel(&[
        "l2",
        "timelock",
        "status",
        "--deployment",
        file_arg,
        "--eth.rpc-url",
        &anvil.url,
        "--target",
        "Nope",
        "--calldata",
        &upgrade,
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("unknown target"), "{}", text(&out));
    let out = keel(&[
        "l2",
        "timelock",
        "status",
        "--deployment",
        file_arg,
        "--eth.rpc-url",
        &anvil.url,
        "--target",
        "CommonBridge",
        "--calldata",
        "0xzz",
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--calldata: not hex"), "{}", text(&out));
}
