//! Crash safety of commits, with the real binary on a real L1 (anvil, 1 s blocks): the node is
//! killed with SIGKILL (through the `KEEL_FAULT_POINT` test hook) (a) right after its first commit
//! transaction is broadcast, before its receipt, and (b) right after a commit is confirmed on L1,
//! before the store records it. After each restart on the same datadir every batch is committed
//! exactly once — one `BatchCommitted` event per batch number, and exactly one committer nonce
//! per commit — and the chain goes on committing.

mod common;

use std::{collections::BTreeMap, os::unix::process::ExitStatusExt, time::Duration};

use alloy::{primitives::U256, providers::Provider, sol_types::SolEvent};
use common::{Node, key, l1::TestL1};
use keel_l1::contracts::OnChainProposer::BatchCommitted;
use keel_types::dev;

fn node_args<'a>(l1: &'a TestL1, datadir: &'a str) -> Vec<&'a str> {
    vec![
        "--network",
        &l1.genesis_file,
        "--datadir",
        datadir,
        "--l1.deployment",
        &l1.deployment_file,
        "--eth.rpc-url",
        &l1.anvil.url,
        "--watcher.block-delay",
        "0",
        "--committer.confirmations",
        "2",
        "--committer.commit-time",
        "1000",
    ]
}

/// Every `BatchCommitted` event of the proposer: batch number → how many.
async fn commits_on_l1(l1: &TestL1) -> BTreeMap<u64, usize> {
    let filter = alloy::rpc::types::Filter::new()
        .address(l1.proposer())
        .event_signature(BatchCommitted::SIGNATURE_HASH)
        .from_block(0);
    let mut out = BTreeMap::new();
    for log in l1.provider.get_logs(&filter).await.expect("logs") {
        let n: u64 = U256::from_be_bytes(log.topics()[1].0).to();
        *out.entry(n).or_insert(0) += 1;
    }
    out
}

async fn crash_then_resume(fault: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let committer = dev::DEV_ACCOUNTS[0].0;
    let nonce_before = l1
        .provider
        .get_transaction_count(committer)
        .await
        .expect("nonce");
    let datadir = dir.path().join("data");
    let datadir = datadir.to_str().expect("utf-8");
    let mut args = node_args(&l1, datadir);
    let committer_key = key(0);
    args.extend(["--committer.l1-private-key", &committer_key]);

    // The first commit kills the node at the fault point.
    let mut node = Node::start_with_env(&args, &[("KEEL_FAULT_POINT", fault)]);
    let status = node.wait_exit(Duration::from_secs(90));
    assert_eq!(
        status.signal(),
        Some(9),
        "killed by SIGKILL at {fault}: {status}"
    );
    drop(node);
    let before_restart = commits_on_l1(&l1).await;
    if fault == "committer.after-confirmation" {
        assert_eq!(
            before_restart.get(&1),
            Some(&1),
            "batch 1 landed before the kill"
        );
    }

    // Restarted on the same datadir: batch 1 is committed once, and the chain goes on.
    let node = Node::start(&args);
    node.wait_committed(1, Duration::from_secs(90)).await;
    node.wait_committed(3, Duration::from_secs(90)).await;
    drop(node);
    // A commit the killed node had in flight lands within a few L1 blocks: count after them.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let commits = commits_on_l1(&l1).await;
    assert!(commits.len() >= 3, "{commits:?}");
    for (n, count) in &commits {
        assert_eq!(*count, 1, "batch {n} committed {count} times: {commits:?}");
    }
    assert_eq!(
        commits.keys().copied().collect::<Vec<_>>(),
        (1..=commits.len() as u64).collect::<Vec<_>>()
    );
    let nonce_after = l1
        .provider
        .get_transaction_count(committer)
        .await
        .expect("nonce");
    assert_eq!(
        nonce_after - nonce_before,
        commits.len() as u64,
        "one committer transaction per batch (no second tx for a nonce, no duplicate commit)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_broadcast_the_node_resumes_without_committing_twice() {
    crash_then_resume("l1sender.after-broadcast").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_confirmation_before_the_store_write_the_node_records_the_l1_commit() {
    crash_then_resume("committer.after-confirmation").await;
}
