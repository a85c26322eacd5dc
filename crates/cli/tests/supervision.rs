//! A node never runs half-alive: when one of its components dies (here the block producer,
//! made to panic by the `KEEL_FAULT_POINT` test hook), the whole `keel l2` process stops with a
//! non-zero exit and the component's name in its error, instead of serving RPC without blocks.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

#[test]
fn a_panicking_block_producer_stops_the_node_with_its_name() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args([
            "l2",
            "--dev",
            "--http.port",
            "0",
            "--block-producer.block-time",
            "100",
        ])
        .env("KEEL_FAULT_POINT", "block-producer.panic")
        .env_remove("KEEL_ETH_RPC_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keel l2");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keel l2 kept running after its block producer panicked");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!status.success(), "exit status {status}");
    assert!(
        stderr.contains("component `block_producer` stopped"),
        "stderr: {stderr}\nstdout: {stdout}"
    );
    assert!(stderr.contains("fault injection"), "stderr: {stderr}");
}
