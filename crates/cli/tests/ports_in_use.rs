//! `keel l2` checks its ports before it starts or deploys anything: a port in use stops it at
//! once, naming the port, what it is for and the flag that changes it.

mod common;

use std::{
    net::TcpListener,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use common::keel_bin;

/// Runs `keel l2 ARGS` to its end (it must end by itself within 60 s).
fn run_node(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new(keel_bin())
        .arg("l2")
        .args(args)
        .env_remove("KEEL_HTTP_PORT")
        .env_remove("KEEL_PROOF_COORDINATOR_PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn keel l2");
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("keel l2 {args:?} did not stop by itself on a port in use");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().expect("output"), started.elapsed())
}

fn assert_refused(out: &Output, port: u16, flag: &str, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stderr.contains(&format!("port {port} "))
            && stderr.contains("already in use")
            && stderr.contains(flag)
            && stderr.contains(what),
        "the error names the port, its use and {flag}: {stderr}"
    );
    // Nothing was started: no anvil, no deployment, no chain opened.
    for line in ["dev L1 ready", "chain opened", "anvil", "deploy"] {
        assert!(
            !stdout.contains(line) && !stderr.contains(&format!("INFO {line}")),
            "nothing may start before the port check ({line:?}): {stdout}"
        );
    }
}

#[test]
fn an_rpc_port_in_use_stops_the_dev_node_before_anvil_and_the_deployment() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (out, _) = run_node(&[
        "--dev",
        "--http.port",
        &port.to_string(),
        "--proof-coordinator.port",
        "0",
    ]);
    assert_refused(&out, port, "--http.port", "JSON-RPC");
}

#[test]
fn a_proof_coordinator_port_in_use_stops_the_dev_node() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (out, _) = run_node(&[
        "--dev",
        "--http.port",
        "0",
        "--proof-coordinator.port",
        &port.to_string(),
    ]);
    assert_refused(&out, port, "--proof-coordinator.port", "proof coordinator");
}

#[test]
fn a_metrics_port_in_use_stops_the_dev_node() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let (out, _) = run_node(&[
        "--dev",
        "--http.port",
        "0",
        "--proof-coordinator.port",
        "0",
        "--metrics",
        "--metrics.port",
        &port.to_string(),
    ]);
    assert_refused(&out, port, "--metrics.port", "metrics endpoint");
}
