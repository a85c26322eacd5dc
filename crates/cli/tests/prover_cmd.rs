//! `keel l2 prover`: with no coordinator listening it keeps retrying (and says so) and stops
//! cleanly on SIGTERM; bad flags get a clear error; and against `keel l2 --dev` (anvil, the
//! contracts deployed with dev account 0 as the only verifier signer) its proofs of committed
//! batches are checked by the node's ProofCoordinator against L1's AttestationVerifier and
//! stored, while an unregistered key's are rejected.

mod common;

use std::{process::Command, time::Duration};

use common::{Node, prover::Prover};
use keel_types::dev;

fn dev_key(i: usize) -> String {
    dev::DEV_ACCOUNTS[i].1.to_string()
}

#[test]
fn with_no_coordinator_it_keeps_retrying_and_stops_cleanly_on_sigterm() {
    common::prover::keel_copy();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let coordinator = format!("127.0.0.1:{port}");
    let mut prover = Prover::start(&coordinator, &dev_key(0), &["--prover.max-backoff", "300"]);
    let retries = prover.wait_for(
        &["can't reach the proof coordinator", &coordinator],
        3,
        Duration::from_secs(30),
    );
    assert!(
        retries.iter().all(|l| l.contains("retry_in_ms")),
        "{retries:?}"
    );
    assert!(
        prover.child.try_wait().expect("wait").is_none(),
        "still running"
    );
    let status = prover.terminate();
    assert!(status.success(), "exit status {status}");
    prover.wait_for(&["prover stopped"], 1, Duration::from_secs(5));
}

#[test]
fn bad_flags_give_a_clear_error() {
    common::prover::keel_copy();
    let run = |args: &[&str]| {
        let out = Command::new(common::prover::keel_copy())
            .args(["l2", "prover"])
            .args(args)
            .env_remove("KEEL_PROOF_COORDINATORS")
            .env_remove("KEEL_PROVER_PRIVATE_KEY")
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let key = dev_key(0);
    let err = run(&[
        "--proof-coordinators",
        "localhost",
        "--prover.private-key",
        &key,
    ]);
    assert!(err.contains("expected HOST:PORT"), "{err}");
    let err = run(&[
        "--proof-coordinators",
        "127.0.0.1:3900,http://x:99999",
        "--prover.private-key",
        &key,
    ]);
    assert!(err.contains("expected HOST:PORT"), "{err}");
    let err = run(&["--proof-coordinators", "127.0.0.1:3900"]);
    assert!(err.contains("--prover.private-key"), "{err}");
    let err = run(&["--prover.private-key", &key]);
    assert!(err.contains("--proof-coordinators"), "{err}");
    let err = run(&[
        "--proof-coordinators",
        "127.0.0.1:3900",
        "--prover.private-key",
        "0x1234",
    ]);
    assert!(err.contains("--prover.private-key"), "{err}");
    let err = run(&[
        "--proof-coordinators",
        "127.0.0.1:3900",
        "--prover.private-key",
        &key,
        "--backend",
        "sp1",
    ]);
    assert!(err.contains("unknown prover backend"), "{err}");
}

#[test]
fn a_registered_prover_process_proves_the_dev_nodes_batches_and_an_unregistered_one_is_rejected() {
    common::prover::keel_copy();
    // Without the node's own in-process prover: the provers here are the only ones.
    let node = Node::start(&[
        "--dev",
        "--dev.no-prover",
        "--committer.commit-time",
        "1000",
    ]);
    let coordinator = node.wait_for_line("Proof coordinator:");
    // Dev account 0 deployed the contracts and is the verifier's only signer (threshold 1).
    let mut prover = Prover::start(&coordinator, &dev_key(0), &[]);
    let accepted = prover.wait_for(
        &["proof accepted by the coordinator"],
        1,
        Duration::from_secs(180),
    );
    assert!(accepted[0].contains("batch=1"), "{accepted:?}");
    let proved = prover
        .seen
        .iter()
        .find(|l| l.contains("batch proved"))
        .cloned()
        .expect("a 'batch proved' line");
    for field in ["gas_used=", "witness_bytes=", "input_bytes=", "proving_ms="] {
        assert!(proved.contains(field), "{field} in {proved}");
    }
    node.wait_for_log(
        &["proof checked and stored", "batch=1"],
        Duration::from_secs(30),
    );
    assert!(prover.terminate().success());
    // Dev account 1 is not a registered signer: its proofs of the next batches are rejected.
    let mut outsider = Prover::start(&coordinator, &dev_key(1), &[]);
    let rejected = outsider.wait_for(&["proof rejected"], 1, Duration::from_secs(180));
    assert!(
        rejected[0].contains("not a registered AttestationVerifier signer"),
        "{rejected:?}"
    );
    assert!(outsider.terminate().success());
    node.terminate();
}
