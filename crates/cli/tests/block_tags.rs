//! The block tags `safe` and `finalized` (docs/rpc.md, Block tags) with the real `keel l2` binary
//! on a real L1 (anvil, 1 s blocks) that outlives the node:
//!
//! - before any commit both answer geth's "safe block not found" / "finalized block not found",
//!   through `eth_getBlockByNumber` and through any other method that takes a block tag;
//! - after a commit `safe` is that batch's last block and `finalized` has not moved;
//! - after the verification `finalized` waits for L1 finality (anvil's `finalized` block, 64
//!   blocks below its head) and then moves to the verified batch's last block;
//! - a restart keeps both (in the store, and through the restarted node's RPC);
//! - an L1 reorg (anvil `evm_snapshot`/`evm_revert`, then a longer chain mined) that drops a
//!   commit moves `safe` back to the last batch L1 still has; `finalized` stays.
//!
//! `keel_getBatchByNumber`'s `safe`/`finalized` flags agree with the tags throughout.

mod common;

use std::time::Duration;

use alloy::{
    eips::BlockNumberOrTag,
    providers::{Provider, ProviderBuilder},
};
use common::{
    Node, address,
    l1::{TestL1, l1_last_committed},
    proofs::{batch_json, commit_batches, node_args, prove, start, wait_verified},
    wait_until,
};
use keel_storage::Store;
use serde_json::{Value, json};

fn hex_u64(value: &Value) -> u64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a hex number: {value}"));
    u64::from_str_radix(text.trim_start_matches("0x"), 16).expect("hex")
}

/// `eth_getBlockByNumber(tag)`'s number, or the error message.
async fn tag(node: &Node, tag: &str) -> Result<u64, String> {
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let answer: Result<Value, _> = l2
        .raw_request("eth_getBlockByNumber".into(), (tag, false))
        .await;
    match answer {
        Ok(block) => Ok(hex_u64(&block["number"])),
        Err(e) => Err(e.to_string()),
    }
}

/// `eth_getBalance(dev account 0, block)`, or the error message.
async fn balance(node: &Node, block: &str) -> Result<Value, String> {
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    l2.raw_request::<_, Value>("eth_getBalance".into(), (address(0), block))
        .await
        .map_err(|e| e.to_string())
}

async fn wait_tag(node: &Node, name: &str, block: u64) {
    wait_until(
        &format!("{name} at block {block}"),
        Duration::from_secs(90),
        || async { tag(node, name).await == Ok(block) },
    )
    .await;
}

/// `tag` names `block`, and the other tag-taking methods agree (the state at the tag is the state
/// at that number).
async fn assert_tag(node: &Node, name: &str, block: u64) {
    assert_eq!(tag(node, name).await, Ok(block), "{name}");
    assert_eq!(
        balance(node, name).await,
        balance(node, &format!("{block:#x}")).await,
        "eth_getBalance at {name}"
    );
}

async fn assert_no_tag(node: &Node, name: &str) {
    let expected = format!("{name} block not found");
    for answer in [
        tag(node, name).await.map(|_| ()),
        balance(node, name).await.map(|_| ()),
    ] {
        let err = answer.expect_err("no such block yet");
        assert!(err.contains(&expected), "{name}: {err}");
    }
}

/// The batch's `lastBlock`, `safe` and `finalized` (keel_getBatchByNumber).
async fn batch_tags(node: &Node, n: u64) -> (u64, bool, bool) {
    let batch = batch_json(node, n).await;
    let flag = |f: &str| {
        batch[f]
            .as_bool()
            .unwrap_or_else(|| panic!("{f} in {batch}"))
    };
    (
        hex_u64(&batch["lastBlock"]),
        flag("safe"),
        flag("finalized"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn safe_and_finalized_follow_commits_verifications_l1_finality_and_reorgs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let datadir = dir.path().join("data");
    let dir_arg = datadir.to_str().expect("utf-8");
    // No new batch is sealed while these nodes run (10 min commit time): commit_batches makes
    // the batches; L1 finality is L1's own `finalized` block (the default).
    let mut args = node_args(&l1, dir_arg, "600000");
    args.extend(["--settlement.poll-interval".to_string(), "200".to_string()]);

    // Before any commit: geth's answers.
    let node = start(&args, &[]);
    assert_no_tag(&node, "safe").await;
    assert_no_tag(&node, "finalized").await;
    node.terminate();

    // A commit: `safe` moves to the batch's last block, `finalized` does not.
    let last1 = commit_batches(&l1, &datadir, 1).await;
    let node = start(&args, &[]);
    let (end1, _, _) = batch_tags(&node, last1).await;
    wait_tag(&node, "safe", end1).await;
    assert_tag(&node, "safe", end1).await;
    assert_no_tag(&node, "finalized").await;
    assert_eq!(batch_tags(&node, last1).await, (end1, true, false));
    node.terminate();

    // The verification: `finalized` waits for L1 to finalize its block, then moves.
    let batches: Vec<u64> = (1..=last1).collect();
    prove(&l1, &datadir, &batches, &[0]);
    let node = start(&args, &[]);
    let verified = wait_verified(&node, last1).await;
    let verify_l1_block = hex_u64(&verified["verifyL1Block"]);
    let finalized_tag = tag(&node, "finalized").await;
    let l1_finalized = l1
        .provider
        .get_block_by_number(BlockNumberOrTag::Finalized)
        .await
        .expect("L1 finalized")
        .map_or(0, |b| b.header.number);
    // Read after the tag: L1 had not finalized the verification when the tag was read either.
    assert!(
        l1_finalized < verify_l1_block,
        "precondition: L1's finalized block {l1_finalized} is still below the verification's \
         block {verify_l1_block} (anvil finalizes 64 blocks below its head)"
    );
    assert!(
        finalized_tag.is_err(),
        "finalized moved before L1 finalized the verification: {finalized_tag:?}"
    );
    assert_eq!(batch_tags(&node, last1).await, (end1, true, false));
    let _: Value = l1.rpc("anvil_mine", json!([100])).await;
    wait_tag(&node, "finalized", end1).await;
    assert_tag(&node, "finalized", end1).await;
    assert_tag(&node, "safe", end1).await;
    assert_eq!(batch_tags(&node, last1).await, (end1, true, true));
    node.terminate();

    // A restart keeps both: in the store...
    {
        let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
        let settled = store.settlement().expect("read");
        assert_eq!(
            settled.safe.map(|s| (s.batch, s.block)),
            Some((last1, end1))
        );
        assert_eq!(
            settled.finalized.map(|s| (s.batch, s.block)),
            Some((last1, end1))
        );
    }

    // More batches committed after an L1 snapshot, which a reorg will drop.
    let snapshot: Value = l1.rpc("evm_snapshot", json!([])).await;
    let last2 = commit_batches(&l1, &datadir, last1 + 1).await;
    assert!(last2 > last1);
    let node = start(&args, &[]);
    // ...and through the restarted node's RPC.
    assert_tag(&node, "finalized", end1).await;
    let (end2, _, _) = batch_tags(&node, last2).await;
    wait_tag(&node, "safe", end2).await;
    assert_tag(&node, "finalized", end1).await;
    assert_eq!(batch_tags(&node, last2).await, (end2, true, false));

    // The reorg: back to the snapshot, then a longer chain without the commits of
    // last1+1..=last2.
    let reverted: Value = l1.rpc("evm_revert", json!([snapshot])).await;
    assert_eq!(reverted, json!(true));
    let _: Value = l1.rpc("anvil_mine", json!([200])).await;
    assert_eq!(
        l1_last_committed(&l1).await,
        last1,
        "the reorg dropped the commits"
    );
    wait_tag(&node, "safe", end1).await;
    assert_tag(&node, "safe", end1).await;
    assert_tag(&node, "finalized", end1).await;
    assert_eq!(batch_tags(&node, last2).await, (end2, false, false));
    assert_eq!(batch_tags(&node, last1).await, (end1, true, true));
    node.terminate();
}
