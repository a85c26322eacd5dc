//! The committer under L1 fee spikes and L1 reorgs, with the real binary on anvil (1 s blocks):
//! with the L1 base fee held far above `--committer.max-fee-per-gas` the committer sends nothing
//! and logs why; once the fee falls it commits. A commit dropped by an L1 reorg (anvil
//! `evm_snapshot`/`evm_revert`) before its confirmations is sent again and lands once.
//!
//! (anvil has no way to set the blob base fee, so the blob-fee cap is covered by the sender's
//! unit tests, not here.)

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    primitives::U256,
    providers::{Provider, ProviderBuilder},
    sol_types::SolEvent,
};
use common::{Node, key, l1::TestL1};
use keel_l1::contracts::OnChainProposer::{BatchCommitted, OnChainProposerInstance};
use serde_json::{Value, json};

const GWEI: u128 = 1_000_000_000;

fn start_node(l1: &TestL1, extra: &[&str]) -> Node {
    let committer_key = key(0);
    let mut args = vec![
        "--network",
        &l1.genesis_file,
        "--datadir",
        "memory",
        "--l1.deployment",
        &l1.deployment_file,
        "--eth.rpc-url",
        &l1.anvil.url,
        "--committer.l1-private-key",
        &committer_key,
        "--committer.commit-time",
        "1000",
    ];
    args.extend_from_slice(extra);
    Node::start(&args)
}

async fn last_committed(l1: &TestL1) -> u64 {
    OnChainProposerInstance::new(l1.proposer(), &l1.provider)
        .lastCommittedBatch()
        .call()
        .await
        .expect("lastCommittedBatch")
        .to()
}

async fn batch(node: &Node, n: u64) -> Value {
    ProviderBuilder::new()
        .connect_http(node.url.parse().expect("url"))
        .raw_request("keel_getBatchByNumber".into(), (format!("{n:#x}"),))
        .await
        .expect("keel_getBatchByNumber")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fee_spike_above_the_cap_holds_commits_until_fees_fall() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    // Hold the L1 base fee at 200 gwei: every block's next base fee is set again.
    let high = Arc::new(AtomicBool::new(true));
    let spiker = {
        let high = high.clone();
        let provider = l1.provider.clone();
        tokio::spawn(async move {
            while high.load(Ordering::SeqCst) {
                let _: Value = provider
                    .raw_request(
                        "anvil_setNextBlockBaseFeePerGas".into(),
                        json!([format!("{:#x}", 200 * GWEI)]),
                    )
                    .await
                    .expect("set base fee");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cap = (5 * GWEI).to_string();
    let node = start_node(&l1, &["--committer.max-fee-per-gas", &cap]);
    let line = node.wait_for_log(
        &["L1 fees above the configured cap"],
        Duration::from_secs(30),
    );
    assert!(line.contains(&cap), "the log names the cap: {line}");
    // Sealed but held back for a while.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(batch(&node, 1).await["status"], "sealed");
    assert_eq!(
        last_committed(&l1).await,
        0,
        "nothing committed while fees are above the cap"
    );

    // The spike ends: the base fee falls back (set it low) and the batch is committed.
    high.store(false, Ordering::SeqCst);
    spiker.await.expect("spiker");
    let _: Value = l1
        .provider
        .raw_request(
            "anvil_setNextBlockBaseFeePerGas".into(),
            json!([format!("{:#x}", GWEI)]),
        )
        .await
        .expect("set base fee");
    node.wait_committed(1, Duration::from_secs(60)).await;
    let tx_hash: alloy::primitives::B256 =
        serde_json::from_value(batch(&node, 1).await["commitTxHash"].clone()).expect("hash");
    let tx = l1
        .provider
        .get_transaction_by_hash(tx_hash)
        .await
        .expect("tx")
        .expect("known");
    let max_fee = alloy::consensus::Transaction::max_fee_per_gas(&tx);
    assert!(max_fee <= 5 * GWEI, "never paid above the cap: {max_fee}");
}

/// The blocks holding a `BatchCommitted(1)` event on the canonical chain.
async fn commit_logs(l1: &TestL1) -> Vec<alloy::primitives::B256> {
    let filter = alloy::rpc::types::Filter::new()
        .address(l1.proposer())
        .event_signature(BatchCommitted::SIGNATURE_HASH)
        .from_block(0);
    l1.provider
        .get_logs(&filter)
        .await
        .expect("logs")
        .iter()
        .filter(|log| U256::from_be_bytes(log.topics()[1].0) == U256::from(1))
        .map(|log| log.block_hash.expect("a mined log"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_dropped_by_an_l1_reorg_is_sent_again_and_lands_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let snapshot: Value = l1.rpc("evm_snapshot", json!([])).await;
    let node = start_node(&l1, &["--committer.confirmations", "6"]);
    // The commit of batch 1 is mined...
    let deadline = Instant::now() + Duration::from_secs(60);
    while last_committed(&l1).await < 1 {
        assert!(Instant::now() < deadline, "batch 1 never mined");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        batch(&node, 1).await["status"],
        "sealed",
        "not yet confirmed"
    );
    let before = commit_logs(&l1).await;
    assert_eq!(before.len(), 1);
    // ...and an L1 reorg takes it back before its confirmations.
    let reverted: Value = l1.rpc("evm_revert", json!([snapshot])).await;
    assert_eq!(reverted, json!(true));
    assert_eq!(last_committed(&l1).await, 0, "the reorg dropped the commit");
    node.wait_committed(1, Duration::from_secs(90)).await;
    // Exactly one BatchCommitted(1) on the canonical chain, in a block mined after the reorg.
    let after = commit_logs(&l1).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after[0], before[0], "landed again after the reorg");
    // The node goes on committing: by now batch 2 may be on L1 too (seen under load).
    assert!(last_committed(&l1).await >= 1);
}
