//! The L1ProofSender with the real `keel l2` binary on a real L1 (anvil, 1 s blocks): the node
//! commits batches; the test stops it, proves batches from its datadir with the `exec` backend
//! (`build_prover_input` → `ExecBackend::prove`, signed by dev account 0, the deployment's one
//! registered signer) and stores the proofs as the ProofCoordinator would; the restarted node
//! then verifies them on L1.
//!
//! - A run of consecutive proven batches goes out in ONE `verifyBatches`; a batch without proofs
//!   ends the run, and the batches after it wait until it is proven.
//! - Killed after sending (after the broadcast, or after the confirmation before the store
//!   write), the restarted node sends nothing twice and records the verification.
//! - Batches someone else verified on L1 are recorded from L1, without a transaction.
//! - With a 2-of-3 verifier, a batch waits for two attestations of registered signers: one, or
//!   one plus an unregistered key's, is not enough.

mod common;

use std::{collections::BTreeMap, os::unix::process::ExitStatusExt, time::Duration};

use alloy::{
    consensus::Transaction as _,
    primitives::{B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
};
use common::{
    key,
    l1::{TestL1, l1_last_verified},
    proofs::{batch_json, commit_batches, node_args, prove, start, wait_verified},
};
use keel_l1::contracts::OnChainProposer;
use keel_sequencer::l1_proof_sender::decode_verify_call;
use keel_storage::Store;
use keel_types::dev;
use serde_json::Value;

/// Every `BatchVerified` event on L1: batch → the transactions that verified it.
async fn verified_on_l1(l1: &TestL1) -> BTreeMap<u64, Vec<B256>> {
    let filter = alloy::rpc::types::Filter::new()
        .address(l1.proposer())
        .event_signature(OnChainProposer::BatchVerified::SIGNATURE_HASH)
        .from_block(0);
    let mut out: BTreeMap<u64, Vec<B256>> = BTreeMap::new();
    for log in l1.provider.get_logs(&filter).await.expect("logs") {
        let n: u64 = U256::from_be_bytes(log.topics()[1].0).to();
        out.entry(n)
            .or_default()
            .push(log.transaction_hash.expect("tx hash"));
    }
    out
}

/// The batches a `verifyBatches` transaction covers.
async fn verify_tx_batches(l1: &TestL1, hash: B256) -> (u64, u64) {
    let tx = l1
        .provider
        .get_transaction_by_hash(hash)
        .await
        .expect("tx")
        .expect("the verify tx exists");
    assert_eq!(tx.to(), Some(l1.proposer()));
    decode_verify_call(tx.input()).expect("a verifyBatches call")
}

fn hash_of(batch: &Value, field: &str) -> B256 {
    serde_json::from_value(batch[field].clone()).unwrap_or_else(|_| panic!("{field} in {batch}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_of_proven_batches_is_verified_in_one_transaction_and_a_gap_stops_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let datadir = dir.path().join("data");
    let last = commit_batches(&l1, &datadir, 4).await;
    assert!(last >= 4);
    // Batches 1, 2 and 4 proven; 3 not.
    prove(&l1, &datadir, &[1, 2, 4], &[0]);

    let args = node_args(&l1, datadir.to_str().expect("utf-8"), "600000");
    let node = start(&args, &[]);
    let b2 = wait_verified(&node, 2).await;
    let b1 = batch_json(&node, 1).await;
    assert_eq!(b1["status"], "verified", "{b1}");
    let tx = hash_of(&b2, "verifyTxHash");
    assert_eq!(
        hash_of(&b1, "verifyTxHash"),
        tx,
        "one transaction for 1..=2"
    );
    assert_eq!(b1["verifyL1Block"], b2["verifyL1Block"]);
    assert!(
        b1["commitTxHash"].is_string(),
        "a verified batch keeps its commit: {b1}"
    );
    assert_eq!(verify_tx_batches(&l1, tx).await, (1, 2));
    let receipt = l1
        .provider
        .get_transaction_receipt(tx)
        .await
        .expect("receipt")
        .expect("mined");
    assert_eq!(
        serde_json::to_value(U256::from(receipt.block_number.expect("block"))).expect("json"),
        b1["verifyL1Block"]
    );
    // The gap: batch 3 has no proof, so neither it nor batch 4 is verified, however long we wait.
    let head = l1.provider.get_block_number().await.expect("head");
    while l1.provider.get_block_number().await.expect("head") < head + 4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(l1_last_verified(&l1).await, 2);
    assert_eq!(batch_json(&node, 3).await["status"], "committed");
    assert_eq!(batch_json(&node, 4).await["status"], "committed");
    node.terminate();

    // Batch 3 proven: 3..=4 go out together in a second transaction.
    prove(&l1, &datadir, &[3], &[0]);
    let node = start(&args, &[]);
    let b4 = wait_verified(&node, 4).await;
    let b3 = batch_json(&node, 3).await;
    let tx2 = hash_of(&b4, "verifyTxHash");
    assert_eq!(hash_of(&b3, "verifyTxHash"), tx2);
    assert_ne!(tx2, tx);
    assert_eq!(verify_tx_batches(&l1, tx2).await, (3, 4));
    node.terminate();
    let events = verified_on_l1(&l1).await;
    assert_eq!(events.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert!(events.values().all(|txs| txs.len() == 1), "{events:?}");
}

/// Proves batches 1..=2, starts the node with `fault` set so that it is killed while verifying,
/// restarts it, and checks that exactly one `verifyBatches` was sent and is recorded.
async fn killed_while_verifying(fault: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let datadir = dir.path().join("data");
    commit_batches(&l1, &datadir, 2).await;
    prove(&l1, &datadir, &[1, 2], &[0]);
    let sender = dev::DEV_ACCOUNTS[0].0;
    let nonce_before = l1
        .provider
        .get_transaction_count(sender)
        .await
        .expect("nonce");

    // A long commit time: no new batch, so the first L1 job of the node is the verification.
    let args = node_args(&l1, datadir.to_str().expect("utf-8"), "600000");
    let mut node = start(&args, &[("KEEL_FAULT_POINT", fault)]);
    let status = node.wait_exit(Duration::from_secs(90));
    assert_eq!(status.signal(), Some(9), "killed at {fault}: {status}");
    drop(node);
    {
        let store = Store::open(datadir.join("keel.redb")).expect("open");
        assert_eq!(
            store.last_verified_batch().expect("read"),
            0,
            "not recorded"
        );
    }

    let node = start(&args, &[]);
    let b2 = wait_verified(&node, 2).await;
    let b1 = batch_json(&node, 1).await;
    let tx = hash_of(&b2, "verifyTxHash");
    assert_eq!(hash_of(&b1, "verifyTxHash"), tx);
    node.terminate();
    // Anything the killed node had in flight has landed by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let events = verified_on_l1(&l1).await;
    assert_eq!(
        events,
        BTreeMap::from([(1, vec![tx]), (2, vec![tx])]),
        "each batch verified once, by the recorded transaction"
    );
    let nonce_after = l1
        .provider
        .get_transaction_count(sender)
        .await
        .expect("nonce");
    assert_eq!(
        nonce_after - nonce_before,
        1,
        "one L1 transaction in all: the restarted node sent no second verifyBatches"
    );
    let store = Store::open(datadir.join("keel.redb")).expect("open");
    assert_eq!(store.last_verified_batch().expect("read"), 2);
    assert_eq!(
        store
            .batch_verification(1)
            .expect("read")
            .map(|v| v.tx_hash),
        Some(tx)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_broadcasting_verify_batches_the_node_resumes_it_without_a_second_one() {
    killed_while_verifying("l1sender.after-broadcast").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_the_verification_is_confirmed_the_node_records_it_without_resending() {
    killed_while_verifying("proof-sender.after-confirmation").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_verified_on_l1_by_someone_else_are_recorded_without_a_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start(dir.path(), Some(1), false).await;
    let datadir = dir.path().join("data");
    commit_batches(&l1, &datadir, 2).await;
    prove(&l1, &datadir, &[1, 2], &[0]);
    // Dev account 3 sends verifyBatches(1, ...) itself with the stored attestations.
    let proofs: Vec<Vec<Bytes>> = {
        let store = Store::open(datadir.join("keel.redb")).expect("open");
        [1u64, 2]
            .iter()
            .map(|n| {
                let stored = store.batch_proofs(*n).expect("proofs");
                vec![stored[0].1.proof.clone()]
            })
            .collect()
    };
    let other: PrivateKeySigner = key(3).parse().expect("key");
    let other_l1 = ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(other))
        .connect_http(l1.anvil.url.parse().expect("url"));
    let receipt = OnChainProposer::new(l1.proposer(), &other_l1)
        .verifyBatches(U256::from(1), proofs)
        .send()
        .await
        .expect("send verifyBatches")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    let sender = dev::DEV_ACCOUNTS[0].0;
    let nonce_before = l1
        .provider
        .get_transaction_count(sender)
        .await
        .expect("nonce");

    let args = node_args(&l1, datadir.to_str().expect("utf-8"), "600000");
    let node = start(&args, &[]);
    let b2 = wait_verified(&node, 2).await;
    assert_eq!(hash_of(&b2, "verifyTxHash"), receipt.transaction_hash);
    assert_eq!(
        hash_of(&batch_json(&node, 1).await, "verifyTxHash"),
        receipt.transaction_hash
    );
    node.terminate();
    assert_eq!(
        l1.provider
            .get_transaction_count(sender)
            .await
            .expect("nonce"),
        nonce_before,
        "the node sent nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_waits_for_the_threshold_of_registered_signers() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Dev accounts 0, 1 and 2 registered, two of them needed.
    let l1 = TestL1::start_with_verifier(dir.path(), Some(1), false, &[0, 1, 2], 2).await;
    let datadir = dir.path().join("data");
    commit_batches(&l1, &datadir, 1).await;
    // Signer 0 and dev account 9, which is not registered.
    prove(&l1, &datadir, &[1], &[0, 9]);
    let args = node_args(&l1, datadir.to_str().expect("utf-8"), "600000");
    let node = start(&args, &[]);
    let head = l1.provider.get_block_number().await.expect("head");
    while l1.provider.get_block_number().await.expect("head") < head + 4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(batch_json(&node, 1).await["status"], "committed");
    assert_eq!(l1_last_verified(&l1).await, 0);
    node.terminate();

    // A second registered signer: verified, with two signatures in the batch's proof.
    prove(&l1, &datadir, &[1], &[2]);
    let node = start(&args, &[]);
    let b1 = wait_verified(&node, 1).await;
    node.terminate();
    let tx = l1
        .provider
        .get_transaction_by_hash(hash_of(&b1, "verifyTxHash"))
        .await
        .expect("tx")
        .expect("exists");
    let call = OnChainProposer::verifyBatchesCall::abi_decode(tx.input()).expect("verifyBatches");
    assert_eq!(call.firstBatch, U256::from(1));
    assert_eq!(call.proofs.len(), 1, "one batch");
    assert_eq!(call.proofs[0].len(), 1, "one verifier");
    assert_eq!(
        call.proofs[0][0].len(),
        2 * 65,
        "two signatures: signers 0 and 2, not 9"
    );
    assert_eq!(l1_last_verified(&l1).await, 1);
}
