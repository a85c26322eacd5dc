//! `keel l2 deploy` against a real anvil, as an operator runs it: a first run deploys and writes
//! the file, a second run sends nothing, and `keel l2` reads the file (and refuses one made for
//! another genesis).

mod common;

use common::{keel, text};
use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use keel_l1::{Anvil, AnvilConfig, Deployment};
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
    assert_eq!(stdout.matches("deployed  ").count(), 6, "{stdout}");
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
    assert!(stdout.contains(&deployment.contracts.common_bridge.proxy.to_string()));

    let second = keel(&deploy);
    assert!(second.status.success(), "{}", text(&second));
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        stdout.contains("already deployed: nothing sent"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("exists    ").count(), 6, "{stdout}");
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
    let stdout = node.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
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
