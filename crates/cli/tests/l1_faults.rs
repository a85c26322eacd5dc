//! Issue 17, L1 faults, for the committer and the proof sender, with the real `keel l2` binary on
//! a real L1 (anvil, 1 s blocks) that the test starts, so the L1 outlives the node:
//!
//! - **L1 unreachable for 60 s** (SLOW, ~2.5 min: the outage is held for 60 s on purpose). The
//!   node's L1 RPC goes through a TCP proxy that the test switches off while batches are sealed,
//!   committed, proven (by a separate `keel l2 prover` process) and verified. The node stays up,
//!   logs the outage and keeps sealing; nothing reaches L1 meanwhile; once the proxy is back every
//!   batch sealed meanwhile is committed and verified on L1 exactly once, in order, none skipped
//!   (one `BatchCommitted` and one `BatchVerified` event per batch number, in batch order).
//! - **An L1 reorg drops the block holding a `verifyBatches`** (anvil `evm_snapshot` /
//!   `evm_revert`, before its confirmations): the verification is sent again and lands once.
//! - **A base-fee spike past the cap** (`--committer.max-fee-per-gas`, which also caps the proof
//!   sender: it shares the committer's L1 sender and fee caps): `verifyBatches` is held, nothing
//!   is broadcast, and it goes out once (never above the cap) when the fee falls.
//!
//! The blob base fee cap (`--committer.max-fee-per-blob-gas`) is not tested here: anvil has no
//! RPC to set the blob base fee, and it can't be driven up either (anvil 1.7.1 keeps
//! `excessBlobGas` at 0 even in a run of blocks of 9 blobs each, Prague's maximum), so the blob
//! base fee stays at 1 wei. The cap is covered by the sender's unit tests
//! (`crates/l1/src/sender/fees.rs`: `fees_above_the_caps_are_refused`,
//! `replacements_never_pass_the_caps`); the waiting loop they feed is the one the base-fee test
//! here drives (`fees_within_caps` in `crates/l1/src/sender/mod.rs`).
//!
//! A node SIGKILLed between broadcast and receipt (and after the confirmation, before the store
//! write) is covered by `committer_crash.rs` (commits) and `proof_sender_e2e.rs` (verifications).

mod common;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use alloy::{
    consensus::Transaction as _,
    primitives::{B256, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use common::{
    Node, key,
    l1::{TestL1, l1_last_committed, l1_last_verified},
    proofs::{batch_json, commit_batches, node_args, prove, start, wait_verified, with_flag},
    prover::Prover,
    proxy::Proxy,
    wait_until,
};
use keel_l1::contracts::OnChainProposer;
use keel_types::dev;
use serde_json::{Value, json};

const GWEI: u128 = 1_000_000_000;
/// How long the L1 RPC stays cut off in the outage test (issue 17 asks for 60 s).
const OUTAGE: Duration = Duration::from_secs(60);

/// One event of the OnChainProposer about a batch, in L1 log order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BatchEvent {
    batch: u64,
    tx: B256,
    block: u64,
    block_hash: B256,
}

/// Every event with `signature` (`BatchCommitted`, `BatchVerified`) on the canonical chain, in
/// log order.
async fn batch_events(l1: &TestL1, signature: B256) -> Vec<BatchEvent> {
    let filter = Filter::new()
        .address(l1.proposer())
        .event_signature(signature)
        .from_block(0);
    l1.provider
        .get_logs(&filter)
        .await
        .expect("logs")
        .iter()
        .map(|log| BatchEvent {
            batch: U256::from_be_bytes(log.topics()[1].0).to(),
            tx: log.transaction_hash.expect("a mined log"),
            block: log.block_number.expect("a mined log"),
            block_hash: log.block_hash.expect("a mined log"),
        })
        .collect()
}

async fn committed_events(l1: &TestL1) -> Vec<BatchEvent> {
    batch_events(l1, OnChainProposer::BatchCommitted::SIGNATURE_HASH).await
}

async fn verified_events(l1: &TestL1) -> Vec<BatchEvent> {
    batch_events(l1, OnChainProposer::BatchVerified::SIGNATURE_HASH).await
}

/// The events name batches 1..=`last`, each exactly once, in that order: nothing twice, nothing
/// skipped, nothing out of order.
fn assert_each_once_in_order(events: &[BatchEvent], last: u64, what: &str) {
    let numbers: Vec<u64> = events.iter().map(|e| e.batch).collect();
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for n in &numbers {
        *counts.entry(*n).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    let missing: Vec<u64> = (1..=last).filter(|n| !counts.contains_key(n)).collect();
    assert_eq!(
        numbers,
        (1..=last).collect::<Vec<_>>(),
        "{what} events on L1 are not batches 1..={last} once each in order: more than once \
         {twice:?}, missing {missing:?}"
    );
}

/// The node's last sealed batch.
async fn last_sealed(node: &Node) -> u64 {
    let n: U256 = ProviderBuilder::new()
        .connect_http(node.url.parse().expect("url"))
        .raw_request("keel_batchNumber".into(), ())
        .await
        .expect("keel_batchNumber");
    n.to()
}

fn hash_of(batch: &Value, field: &str) -> B256 {
    serde_json::from_value(batch[field].clone()).unwrap_or_else(|_| panic!("{field} in {batch}"))
}

async fn sender_nonce(l1: &TestL1) -> u64 {
    l1.provider
        .get_transaction_count(dev::DEV_ACCOUNTS[0].0)
        .await
        .expect("nonce")
}

fn still_running(node: &mut Node) -> bool {
    node.child.try_wait().expect("try_wait").is_none()
}

/// SLOW (~2.5 min; the outage is held for 60 s). Issue 17: the L1 RPC goes away for 60 s while
/// batches are sealed, committed, proven and verified.
#[tokio::test(flavor = "multi_thread")]
async fn an_l1_outage_of_60_s_delays_commits_and_verifications_which_then_land_once_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let proxy = Proxy::start(([127, 0, 0, 1], l1.anvil.port).into());
    let datadir = dir.path().join("data");
    // A batch every 5 s: about a dozen sealed during the outage.
    let args = with_flag(
        node_args(&l1, datadir.to_str().expect("utf-8"), "5000"),
        "--eth.rpc-url",
        &proxy.url,
    );
    let mut node = tokio::task::block_in_place(|| start(&args, &[]));
    let coordinator = tokio::task::block_in_place(|| node.wait_for_line("Proof coordinator:"));
    let _prover = Prover::start(&coordinator, &key(0), &[]);

    // Steady state first: batch 1 sealed, committed, proven and verified through the proxy.
    let b1 = wait_verified(&node, 1).await;
    assert!(b1["commitTxHash"].is_string(), "{b1}");
    while node.lines.try_recv().is_ok() {}

    // The L1 RPC goes away.
    let sealed_before = last_sealed(&node).await;
    let on_l1_before = (l1_last_committed(&l1).await, l1_last_verified(&l1).await);
    proxy.set_up(false);
    let outage_start = Instant::now();
    let mut log: Vec<String> = Vec::new();
    let mut on_l1_settled = None;
    while outage_start.elapsed() < OUTAGE {
        tokio::time::sleep(Duration::from_secs(1)).await;
        log.extend(node.lines.try_iter());
        assert!(
            still_running(&mut node),
            "the node exited during the L1 outage; its log:\n{}",
            log.join("\n")
        );
        // A transaction broadcast just before the cut may still be mined in the next block; from
        // then on nothing the node sends can reach L1.
        if on_l1_settled.is_none() && outage_start.elapsed() >= Duration::from_secs(5) {
            on_l1_settled = Some((l1_last_committed(&l1).await, l1_last_verified(&l1).await));
        }
    }
    log.extend(node.lines.try_iter());
    let sealed_during = last_sealed(&node).await;
    let on_l1_during = (l1_last_committed(&l1).await, l1_last_verified(&l1).await);
    assert_eq!(
        Some(on_l1_during),
        on_l1_settled,
        "nothing reached L1 while the proxy was down"
    );
    assert!(
        sealed_during >= sealed_before + 8,
        "the node kept sealing batches during the outage: {sealed_before} -> {sealed_during}"
    );
    let outage_lines: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("L1 request failed") || l.contains("L1 unreachable"))
        .collect();
    // The committer's sends (and the proof sender's, when one is in flight) go through the L1
    // sender, which logs the outage once per request it retries.
    assert!(
        log.iter()
            .any(|l| l.contains("keel_l1::sender") && l.contains("L1 request failed")),
        "the L1 sender logged the outage; the node's log:\n{}",
        log.join("\n")
    );
    assert!(
        !log.iter().any(|l| l.contains("ERROR")),
        "no error during the outage:\n{}",
        log.join("\n")
    );
    eprintln!(
        "outage of {OUTAGE:?}: sealed {sealed_before} -> {sealed_during}; L1 committed/verified \
         {on_l1_before:?} before, {on_l1_during:?} at the end; {} outage log lines, first: {}",
        outage_lines.len(),
        outage_lines[0]
    );

    // L1 is back: everything sealed during the outage lands.
    proxy.set_up(true);
    let first_commit = wait_until(
        "a first batch committed on L1 after the outage",
        Duration::from_secs(240),
        || async { l1_last_committed(&l1).await > on_l1_during.0 },
    )
    .await;
    let to_commit = first_commit
        + wait_until(
            "every batch sealed during the outage committed on L1",
            Duration::from_secs(240),
            || async { l1_last_committed(&l1).await >= sealed_during },
        )
        .await;
    let to_verify = to_commit
        + wait_until(
            "every batch sealed during the outage verified on L1",
            Duration::from_secs(240),
            || async { l1_last_verified(&l1).await >= sealed_during },
        )
        .await;
    let back: Vec<String> = node.lines.try_iter().collect();
    assert!(
        back.iter()
            .any(|l| l.contains("keel_l1::sender") && l.contains("L1 reachable again")),
        "the L1 sender logged the end of the outage"
    );
    eprintln!(
        "after the outage: a first commit on L1 {first_commit:?}, batches up to {sealed_during} \
         committed on L1 {to_commit:?} and verified {to_verify:?} after the proxy came back"
    );
    assert!(still_running(&mut node), "the node is still running");

    // Stop the node once all it sealed is verified and recorded, then look at L1.
    wait_until(
        "the node's last sealed batch verified",
        Duration::from_secs(120),
        || async {
            let last = last_sealed(&node).await;
            batch_json(&node, last).await["status"] == "verified"
        },
    )
    .await;
    tokio::task::block_in_place(|| node.terminate());
    let sealed_end = {
        let store = keel_storage::Store::open(datadir.join("keel.redb")).expect("open");
        store.last_batch().expect("read").map_or(0, |b| b.number)
    };
    let last_committed = l1_last_committed(&l1).await;
    let last_verified = l1_last_verified(&l1).await;
    assert_eq!(
        (last_committed, last_verified),
        (sealed_end, sealed_end),
        "L1 committed and verified every batch the node sealed"
    );
    let committed = committed_events(&l1).await;
    let verified = verified_events(&l1).await;
    assert_each_once_in_order(&committed, sealed_end, "BatchCommitted");
    assert_each_once_in_order(&verified, sealed_end, "BatchVerified");
    let verify_txs: std::collections::BTreeSet<B256> = verified.iter().map(|e| e.tx).collect();
    eprintln!(
        "on L1 at the end: batches 1..={sealed_end} each committed once and verified once, in \
         {} commitBatch and {} verifyBatches transactions",
        committed.len(),
        verify_txs.len()
    );
    // The node recorded exactly the transactions L1 shows.
    let store = keel_storage::Store::open(datadir.join("keel.redb")).expect("open");
    for (c, v) in committed.iter().zip(&verified) {
        assert_eq!(
            store
                .batch_commit(c.batch)
                .expect("read")
                .map(|r| r.tx_hash),
            Some(c.tx),
            "the recorded commit of batch {}",
            c.batch
        );
        assert_eq!(
            store
                .batch_verification(v.batch)
                .expect("read")
                .map(|r| r.tx_hash),
            Some(v.tx),
            "the recorded verification of batch {}",
            v.batch
        );
    }
}

/// Commits batches 1..=2 (or a few more), proves them all from the stopped node's datadir and
/// returns the last batch and the node's arguments for a restart that seals nothing more, with
/// `confirmations`.
async fn committed_and_proven(
    l1: &TestL1,
    datadir: &std::path::Path,
    confirmations: &str,
) -> (u64, Vec<String>) {
    let last = commit_batches(l1, datadir, 2).await;
    let batches: Vec<u64> = (1..=last).collect();
    prove(l1, datadir, &batches, &[0]);
    let args = with_flag(
        node_args(l1, datadir.to_str().expect("utf-8"), "600000"),
        "--committer.confirmations",
        confirmations,
    );
    (last, args)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verification_dropped_by_an_l1_reorg_is_sent_again_and_lands_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let datadir = dir.path().join("data");
    let (last, args) = committed_and_proven(&l1, &datadir, "6").await;
    let commits_before = committed_events(&l1).await;
    assert_each_once_in_order(&commits_before, last, "BatchCommitted");
    let snapshot: Value = l1.rpc("evm_snapshot", json!([])).await;
    let nonce_before = sender_nonce(&l1).await;

    let node = tokio::task::block_in_place(|| start(&args, &[]));
    // The verifyBatches is mined, and the node has seen its receipt...
    let mined = tokio::task::block_in_place(|| {
        node.wait_for_log(
            &["L1 transaction mined", "kind=\"verify\""],
            Duration::from_secs(60),
        )
    });
    assert_eq!(l1_last_verified(&l1).await, last, "{mined}");
    let before = verified_events(&l1).await;
    assert_each_once_in_order(&before, last, "BatchVerified");
    assert!(mined.contains(&before[0].tx.to_string()), "{mined}");
    let mined_nonce = l1
        .provider
        .get_transaction_by_hash(before[0].tx)
        .await
        .expect("tx")
        .expect("known")
        .nonce();
    assert_eq!(
        batch_json(&node, 1).await["status"],
        "committed",
        "not yet verified for the node: it waits for 6 confirmations"
    );
    // ...and an L1 reorg takes it back before its confirmations.
    let reverted: Value = l1.rpc("evm_revert", json!([snapshot])).await;
    assert_eq!(reverted, json!(true));
    assert_eq!(l1_last_verified(&l1).await, 0, "the reorg dropped it");
    assert_eq!(verified_events(&l1).await, vec![]);
    let b_last = wait_verified(&node, last).await;
    let log: Vec<String> = node.lines.try_iter().collect();
    tokio::task::block_in_place(|| node.terminate());
    let after = verified_events(&l1).await;
    assert_each_once_in_order(&after, last, "BatchVerified");
    assert_ne!(
        after[0].block_hash, before[0].block_hash,
        "landed again after the reorg, in another block"
    );
    // Usually the sender notices the dropped receipt and broadcasts the journaled transaction
    // again; anvil may also re-mine it by itself before the sender looks (then no log line).
    // Either way the same nonce: a bumped replacement would do, a second verifyBatches would not.
    let landed = l1
        .provider
        .get_transaction_by_hash(after[0].tx)
        .await
        .expect("tx")
        .expect("known");
    let dropped = l1
        .provider
        .get_transaction_by_hash(before[0].tx)
        .await
        .expect("tx");
    let noticed = log
        .iter()
        .find(|l| l.contains("L1 reorg dropped the mined transaction") && l.contains("verify"));
    eprintln!(
        "verifyBatches {} dropped by the reorg; landed again as {} (same tx: {}) in block {}; \
         the sender noticed the reorg: {}",
        before[0].tx,
        after[0].tx,
        after[0].tx == before[0].tx,
        after[0].block,
        noticed.map_or("no (anvil re-mined it first)".to_string(), |l| l.clone())
    );
    if after[0].tx != before[0].tx {
        assert!(dropped.is_none(), "the dropped tx is not on the chain too");
    }
    assert_eq!(
        landed.nonce(),
        mined_nonce,
        "the verification that landed has the dropped one's nonce"
    );
    assert_eq!(hash_of(&b_last, "verifyTxHash"), after[0].tx);
    assert_eq!(
        sender_nonce(&l1).await - nonce_before,
        1,
        "one verifyBatches in all on the canonical chain"
    );
    assert_eq!(
        committed_events(&l1).await,
        commits_before,
        "the commits (before the fork point) untouched"
    );
    assert_eq!(l1_last_verified(&l1).await, last);
}

/// Holds the L1 base fee at `fee` wei (re-set for every block) until the returned flag is
/// cleared and the task awaited.
fn hold_base_fee(l1: &TestL1, fee: u128) -> (Arc<AtomicBool>, tokio::task::JoinHandle<()>) {
    let high = Arc::new(AtomicBool::new(true));
    let task = {
        let high = high.clone();
        let provider = l1.provider.clone();
        tokio::spawn(async move {
            while high.load(Ordering::SeqCst) {
                let _: Value = provider
                    .raw_request(
                        "anvil_setNextBlockBaseFeePerGas".into(),
                        json!([format!("{fee:#x}")]),
                    )
                    .await
                    .expect("set base fee");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    (high, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_fee_spike_above_the_cap_holds_verifications_until_fees_fall() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let datadir = dir.path().join("data");
    let (last, mut args) = committed_and_proven(&l1, &datadir, "1").await;
    let nonce_before = sender_nonce(&l1).await;
    let (high, spiker) = hold_base_fee(&l1, 200 * GWEI);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cap = (5 * GWEI).to_string();
    args.extend(["--committer.max-fee-per-gas".to_string(), cap.clone()]);
    let node = tokio::task::block_in_place(|| start(&args, &[]));
    let line = tokio::task::block_in_place(|| {
        node.wait_for_log(
            &["L1 fees above the configured cap", "verify"],
            Duration::from_secs(30),
        )
    });
    assert!(line.contains(&cap), "the log names the cap: {line}");
    // Held for a while: nothing broadcast, nothing verified.
    let head = l1.provider.get_block_number().await.expect("head");
    wait_until("4 L1 blocks", Duration::from_secs(30), || async {
        l1.provider.get_block_number().await.expect("head") >= head + 4
    })
    .await;
    assert_eq!(batch_json(&node, 1).await["status"], "committed");
    assert_eq!(l1_last_verified(&l1).await, 0);
    assert_eq!(
        sender_nonce(&l1).await,
        nonce_before,
        "nothing sent while the fee is above the cap"
    );

    // The spike ends: the verification goes out, once, within the cap.
    high.store(false, Ordering::SeqCst);
    spiker.await.expect("spiker");
    let _: Value = l1
        .rpc(
            "anvil_setNextBlockBaseFeePerGas",
            json!([format!("{:#x}", GWEI)]),
        )
        .await;
    let b_last = wait_verified(&node, last).await;
    tokio::task::block_in_place(|| node.terminate());
    let events = verified_events(&l1).await;
    assert_each_once_in_order(&events, last, "BatchVerified");
    let tx = l1
        .provider
        .get_transaction_by_hash(hash_of(&b_last, "verifyTxHash"))
        .await
        .expect("tx")
        .expect("known");
    assert!(
        tx.max_fee_per_gas() <= 5 * GWEI,
        "never paid above the cap: {}",
        tx.max_fee_per_gas()
    );
    assert_eq!(
        sender_nonce(&l1).await - nonce_before,
        1,
        "one verifyBatches"
    );
}
