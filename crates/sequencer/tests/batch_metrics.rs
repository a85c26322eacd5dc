//! The batch series against a real anvil with keel's contracts: a sealed batch is committed by
//! the L1Committer and verified by the L1ProofSender, and the sealed/committed/verified
//! counters, the `keel_batch_last{status}` gauges and the L1 gas, blob gas and fee of each kind
//! follow the confirmed receipts.

mod common;

use std::{sync::Arc, time::Duration};

use alloy::primitives::{Address, U256};
use common::{COINBASE, node_on, recorder, signed};
use keel_l1::{
    Anvil, AnvilConfig, DeployConfig, L1Client,
    sender::{L1Sender, L1SenderConfig, MemoryJournal},
};
use keel_prover::{ExecBackend, ProverBackend};
use keel_sequencer::{
    BatchSealer, BatchSealerConfig, BlockProducerConfig, L1Committer, L1CommitterConfig,
    L1ProofSender, L1ProofSenderConfig, ProverInputContext, build_prover_input,
};
use keel_storage::{Store, proofs::StoredProof};
use keel_types::dev;

/// On a current-thread runtime, so the components record into this test's recorder.
#[tokio::test]
async fn a_batch_committed_and_verified_moves_the_batch_series() {
    let (recorder, handle) = recorder::recorder();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let anvil = Anvil::spawn(&AnvilConfig::default())
        .await
        .expect("anvil starts");
    let provider = keel_l1::dev_wallet_provider(anvil.url.parse().expect("url"));
    let dir = tempfile::tempdir().expect("tempdir");
    let committer_key = keel_l1::dev_signer(1);
    let prover_key = keel_l1::dev_signer(2);
    let config = DeployConfig {
        owner: dev::DEV_ACCOUNTS[0].0,
        sequencers: vec![committer_key.address()],
        verifier_signers: vec![prover_key.address()],
        verifier_threshold: 1,
        validium: false,
        receipt_timeout: Duration::from_secs(30),
        ..DeployConfig::for_genesis(&dev::dev_genesis(), dev::DEV_ACCOUNTS[0].0)
            .expect("deploy config")
    };
    let deployment = keel_l1::deploy(
        &provider,
        dev::DEV_ACCOUNTS[0].0,
        &config,
        &dir.path().join("deployment.json"),
    )
    .await
    .expect("deploys")
    .deployment;
    let proposer = deployment.contracts.on_chain_proposer.proxy;
    let deploy_block = deployment.deploy_block.unwrap_or(0);

    // One block with a transfer, sealed into batch 1.
    let node = node_on(
        Store::in_memory().expect("store"),
        None,
        BlockProducerConfig {
            coinbase: COINBASE,
            ..Default::default()
        },
    );
    node.mempool
        .add_raw(&signed(
            0,
            0,
            Address::repeat_byte(0x11),
            U256::from(1),
            vec![],
            21_000,
            1,
        ))
        .expect("tx");
    node.producer
        .produce_block()
        .expect("produce")
        .expect("block");
    let sealer = BatchSealer::new(BatchSealerConfig::default(), node.chain.clone());
    assert_eq!(sealer.seal_now().expect("seal").len(), 1);
    let store = node.chain.store().clone();

    let client = L1Client::from_urls([anvil.url.as_str()]).expect("client");
    let sender_config = L1SenderConfig {
        confirmations: 0,
        poll_interval: Duration::from_millis(100),
        ..L1SenderConfig::default()
    };
    let committer = L1Committer::new(
        L1CommitterConfig {
            on_chain_proposer: proposer,
            validium: false,
            deploy_block,
            poll_interval: Duration::from_millis(100),
        },
        store.clone(),
        client.clone(),
        Arc::new(L1Sender::new(
            client.clone(),
            committer_key,
            sender_config.clone(),
            Arc::new(MemoryJournal::new()),
        )),
    );
    committer.start().await.expect("start");
    assert!(committer.commit_next().await.expect("commit"));

    // Batch 1 proven by the registered signer, then verified on L1.
    let context = ProverInputContext {
        chain_config: serde_json::to_string(&dev::dev_genesis().config).expect("config"),
        l1_chain_id: deployment.l1_chain_id,
        on_chain_proposer: proposer,
    };
    let input = build_prover_input(&node.chain, &context, 1).expect("input");
    let proof = ExecBackend::new(prover_key.clone())
        .prove(&input)
        .expect("prove");
    store
        .store_proof(
            1,
            prover_key.address(),
            &StoredProof {
                backend: "exec".into(),
                public_inputs: proof.public_inputs.encode().to_vec().into(),
                proof: proof.proof.clone(),
            },
        )
        .expect("store proof");
    let proof_sender = L1ProofSender::new(
        L1ProofSenderConfig {
            on_chain_proposer: proposer,
            deploy_block,
            max_batches: 16,
            poll_interval: Duration::from_millis(100),
        },
        store.clone(),
        client.clone(),
        Arc::new(L1Sender::new(
            client,
            keel_l1::dev_signer(3),
            L1SenderConfig {
                metrics_label: "proof_sender",
                ..sender_config
            },
            Arc::new(MemoryJournal::new()),
        )),
    );
    proof_sender.start().await.expect("start");
    assert!(proof_sender.verify_next().await.expect("verify"));
    assert_eq!(store.last_verified_batch().expect("read"), 1);

    let text = handle.render();
    let v = |series: &str| recorder::series(&text, series);
    assert_eq!(v("keel_batches_sealed_total"), Some(1.0), "{text}");
    assert_eq!(v("keel_batches_committed_total"), Some(1.0), "{text}");
    assert_eq!(v("keel_batches_verified_total"), Some(1.0), "{text}");
    for status in ["sealed", "committed", "verified"] {
        assert_eq!(
            v(&format!("keel_batch_last{{status=\"{status}\"}}")),
            Some(1.0),
            "{status}: {text}"
        );
    }
    for kind in ["commit", "verify"] {
        let gas = v(&format!("keel_l1_tx_gas_used_total{{kind=\"{kind}\"}}")).unwrap_or(0.0);
        let fee = v(&format!("keel_l1_tx_fee_wei_total{{kind=\"{kind}\"}}")).unwrap_or(0.0);
        assert!(gas > 21_000.0, "{kind}: {text}");
        assert!(fee >= gas, "{kind} pays at least 1 wei per gas: {text}");
    }
    // The commit carries a blob; the verification doesn't.
    assert!(v("keel_l1_tx_blob_gas_used_total{kind=\"commit\"}").unwrap_or(0.0) >= 131_072.0);
    assert_eq!(
        v("keel_l1_tx_blob_gas_used_total{kind=\"verify\"}"),
        Some(0.0)
    );
    for account in ["committer", "proof_sender"] {
        assert_eq!(
            v(&format!(
                "keel_l1_sender_transactions_sent_total{{account=\"{account}\"}}"
            )),
            Some(1.0),
            "{account}: {text}"
        );
        assert!(
            v(&format!(
                "keel_l1_sender_balance_ether{{account=\"{account}\"}}"
            ))
            .is_some_and(|ether| ether > 0.0),
            "{account}: {text}"
        );
    }
}
