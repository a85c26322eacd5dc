//! Proofs for end-to-end tests of verification and claims: the node committing batches on a
//! test L1, then stopped so that the test proves batches from its datadir with the `exec`
//! backend (`build_prover_input` → `ExecBackend::prove`) and stores the proofs as the
//! ProofCoordinator would after checking them.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use alloy::{
    primitives::Bytes,
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use keel_chain::Blockchain;
use keel_prover::{ExecBackend, ProverBackend};
use keel_sequencer::{ProverInputContext, build_prover_input};
use keel_storage::{Store, proofs::StoredProof};
use keel_types::{ChainSpec, dev};
use serde_json::Value;

use super::{Node, key, l1::TestL1};

/// The node's arguments: committer key of dev account 0 (the proof sender shares it), one
/// confirmation, batches every `commit_time_ms`.
pub fn node_args(l1: &TestL1, datadir: &str, commit_time_ms: &str) -> Vec<String> {
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

/// `args` (e.g. [`node_args`]) with `flag`'s value replaced by `value`.
pub fn with_flag(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} in {args:?}"));
    args[i + 1] = value.to_string();
    args
}

pub fn start(args: &[String], env: &[(&str, &str)]) -> Node {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Node::start_with_env(&args, env)
}

/// Opens the stopped node's store and chain.
pub fn open_chain(datadir: &Path) -> Blockchain {
    let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).expect("spec");
    Blockchain::open(store, &genesis, spec).expect("open the chain")
}

/// Proves `batches` of the stopped node at `datadir` with each of the dev `signers` and stores
/// the proofs, as the ProofCoordinator does after checking them.
pub fn prove(l1: &TestL1, datadir: &Path, batches: &[u64], signers: &[usize]) {
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
pub fn sealed_and_committed(datadir: &Path) -> (u64, u64) {
    let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
    let sealed = store.last_batch().expect("read").map_or(0, |b| b.number);
    (sealed, store.last_committed_batch().expect("read"))
}

/// Runs the node until batch `n` or later is committed and every sealed batch is committed, so
/// that a restart with a long commit time has no commit to send. Returns the last batch.
pub async fn commit_batches(l1: &TestL1, datadir: &Path, n: u64) -> u64 {
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

pub async fn batch_json(node: &Node, n: u64) -> Value {
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    l2.raw_request("keel_getBatchByNumber".into(), (format!("{n:#x}"),))
        .await
        .expect("keel_getBatchByNumber")
}

/// Polls until batch `n` is verified; returns its JSON.
pub async fn wait_verified(node: &Node, n: u64) -> Value {
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
