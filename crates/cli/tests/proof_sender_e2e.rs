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

mod common;

use std::{
    collections::BTreeMap,
    os::unix::process::ExitStatusExt,
    path::Path,
    time::{Duration, Instant},
};

use alloy::{
    consensus::Transaction as _,
    primitives::{B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use common::{Node, key, l1::TestL1};
use keel_chain::Blockchain;
use keel_l1::contracts::OnChainProposer;
use keel_prover::{ExecBackend, ProverBackend};
use keel_sequencer::{ProverInputContext, build_prover_input, l1_proof_sender::decode_verify_call};
use keel_storage::{Store, proofs::StoredProof};
use keel_types::{ChainSpec, dev};
use serde_json::Value;

/// The node's arguments: committer key of dev account 0 (the proof sender shares it), one
/// confirmation, batches every `commit_time_ms`.
fn node_args(l1: &TestL1, datadir: &str, commit_time_ms: &str) -> Vec<String> {
    [
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
        "1",
        "--committer.commit-time",
        commit_time_ms,
        "--committer.l1-private-key",
        &key(0),
        "--proof-sender.poll-interval",
        "200",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn start(args: &[String], env: &[(&str, &str)]) -> Node {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Node::start_with_env(&args, env)
}

/// Opens the stopped node's store and chain.
fn open_chain(datadir: &Path) -> Blockchain {
    let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).expect("spec");
    Blockchain::open(store, &genesis, spec).expect("open the chain")
}

/// Proves `batches` of the stopped node at `datadir` with each of the dev `signers` and stores
/// the proofs, as the ProofCoordinator does after checking them.
fn prove(l1: &TestL1, datadir: &Path, batches: &[u64], signers: &[usize]) {
    let chain = open_chain(datadir);
    let context = ProverInputContext {
        chain_config: serde_json::to_string(&dev::dev_genesis().config).expect("config"),
        l1_chain_id: l1.deployment.l1_chain_id,
        on_chain_proposer: l1.proposer(),
    };
    for &batch in batches {
        let input = build_prover_input(&chain, &context, batch).expect("prover input");
        for &i in signers {
            let signer: PrivateKeySigner = key(i).parse().expect("key");
            let backend = ExecBackend::new(signer);
            let proof = backend.prove(&input).expect("the batch proves");
            let stored = chain
                .store()
                .store_proof(
                    batch,
                    backend.address(),
                    &StoredProof {
                        backend: "exec".into(),
                        public_inputs: Bytes::from(proof.public_inputs.encode().to_vec()),
                        proof: proof.proof,
                    },
                )
                .expect("store the proof");
            assert!(stored, "first proof of batch {batch} by {i}");
        }
    }
}

/// The last sealed and the last committed batch of a stopped node.
fn sealed_and_committed(datadir: &Path) -> (u64, u64) {
    let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
    let sealed = store.last_batch().expect("read").map_or(0, |b| b.number);
    (sealed, store.last_committed_batch().expect("read"))
}

/// Runs the node until batch `n` or later is committed and every sealed batch is committed, so
/// that a restart with a long commit time has no commit to send. Returns the last batch.
async fn commit_batches(l1: &TestL1, datadir: &Path, n: u64) -> u64 {
    let dir = datadir.to_str().expect("utf-8");
    let node = start(&node_args(l1, dir, "1000"), &[]);
    node.wait_committed(n, Duration::from_secs(90)).await;
    node.terminate();
    let (sealed, committed) = sealed_and_committed(datadir);
    if sealed == committed {
        return sealed;
    }
    // A batch sealed just before the stop: commit it without sealing more.
    let node = start(&node_args(l1, dir, "600000"), &[]);
    node.wait_committed(sealed, Duration::from_secs(60)).await;
    node.terminate();
    assert_eq!(sealed_and_committed(datadir), (sealed, sealed));
    sealed
}

async fn batch_json(node: &Node, n: u64) -> Value {
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    l2.raw_request("keel_getBatchByNumber".into(), (format!("{n:#x}"),))
        .await
        .expect("keel_getBatchByNumber")
}

/// Polls until batch `n` is verified; returns its JSON.
async fn wait_verified(node: &Node, n: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let batch = batch_json(node, n).await;
        if batch["status"] == "verified" {
            return batch;
        }
        assert!(
            Instant::now() < deadline,
            "batch {n} not verified within 90 s: {batch}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

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

async fn l1_last_verified(l1: &TestL1) -> u64 {
    OnChainProposer::new(l1.proposer(), &l1.provider)
        .lastVerifiedBatch()
        .call()
        .await
        .expect("lastVerifiedBatch")
        .to()
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
