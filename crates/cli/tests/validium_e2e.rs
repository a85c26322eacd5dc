//! Validium: with the contracts deployed as validium and the node run with `--validium`, batches
//! are committed without blobs (ordinary EIP-1559 transactions, zero blob hash on L1), and
//! `keel l2 reconstruct` says plainly that such batches can't be rebuilt from L1. A node whose
//! `--validium` disagrees with the contracts stops with the reason.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    consensus::{Transaction, Typed2718},
    providers::{Provider, ProviderBuilder},
};
use common::{Node, key, l1::TestL1, text};
use keel_l1::{L1Client, L1ClientConfig, committed_batches};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn validium_batches_commit_without_blobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), true).await;
    let committer_key = key(0);
    let base = [
        "--network",
        l1.genesis_file.as_str(),
        "--datadir",
        "memory",
        "--l1.deployment",
        l1.deployment_file.as_str(),
        "--eth.rpc-url",
        l1.anvil.url.as_str(),
        "--committer.l1-private-key",
        committer_key.as_str(),
        "--committer.confirmations",
        "1",
        "--committer.commit-time",
        "1000",
    ];

    // Without --validium the node refuses the validium contracts.
    let mut node = Node::start(&base);
    let status = node.wait_exit(Duration::from_secs(60));
    assert!(!status.success());
    drop(node);

    let mut args = base.to_vec();
    args.push("--validium");
    let node = Node::start(&args);
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let batch: Value = l2
            .raw_request("keel_getBatchByNumber".into(), ("0x2",))
            .await
            .expect("batch");
        if batch["status"] == "committed" {
            assert_eq!(batch["blobVersionedHash"], Value::Null, "{batch}");
            break;
        }
        assert!(Instant::now() < deadline, "batch 2 not committed: {batch}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let client = L1Client::new(L1ClientConfig::new([l1.anvil.url.as_str()])).expect("client");
    let head = client.block_number().await.expect("head");
    let history = committed_batches(&client, l1.proposer(), 0, head)
        .await
        .expect("history");
    assert!(history.len() >= 2);
    for committed in &history {
        assert_eq!(committed.blob_versioned_hash, None);
        let tx = l1
            .provider
            .get_transaction_by_hash(committed.tx_hash)
            .await
            .expect("tx")
            .expect("known");
        assert_eq!(tx.inner.ty(), 2, "an EIP-1559 commit, no blob");
        assert!(tx.blob_versioned_hashes().is_none_or(|h| h.is_empty()));
    }
    drop(node);

    let out = l1.reconstruct(&dir.path().join("rebuilt"), &[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("batch 1 was committed without a blob (validium)"),
        "{}",
        text(&out)
    );
}
