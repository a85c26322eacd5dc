//! The whole loop with separate prover processes, on a real L1 (anvil, 1 s blocks) whose
//! AttestationVerifier needs 2 of 3 registered signers (dev accounts 7, 8, 9):
//!
//! - deposit → L2 transfer → ETH and ERC20 withdrawals → batches committed → proved by two
//!   `keel l2 prover` processes → verified on L1 → `keel bridge claim` pays exactly the amounts; a
//!   second claim is refused by the CLI and reverts on L1;
//! - a prover killed (SIGKILL) in the middle of a batch: the batch goes to another prover and is
//!   verified; the node restarted while provers run: they reconnect, and nothing is proven or
//!   verified twice;
//! - a lying prover (altered public inputs) and an unregistered key, talking the coordinator
//!   protocol from this test: the coordinator rejects them, and the same attestations sent straight
//!   to `verifyBatches` revert on L1.

mod common;

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use common::{
    Node, address, bridge, ether, field, key,
    l1::TestL1,
    proofs::{node_args, start, wait_verified},
    prover::Prover,
    provider_as, stdout_of, text,
};
use keel_l1::contracts::{CommonBridge, OnChainProposer, l2::BridgedERC20, test::TestToken};
use keel_prover::{
    BackendKind, ExecBackend, ProverBackend,
    protocol::{CoordinatorMessage, DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION, ProverMessage},
};
use serde_json::Value;

/// The registered prover signers (dev accounts) and the threshold.
const SIGNERS: [usize; 3] = [7, 8, 9];
const THRESHOLD: u64 = 2;
/// The user who deposits, transfers and withdraws.
const USER: usize = 5;

/// A free TCP port on 127.0.0.1 (for a coordinator that must keep its address over a restart).
fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
        .to_string()
}

/// The node committing every second, its coordinator on `port`, provers timed out after
/// `timeout_s`.
fn node(l1: &TestL1, datadir: &str, port: &str, timeout_s: &str) -> Node {
    let mut args = node_args(l1, datadir, "1000");
    args.extend(
        [
            "--proof-coordinator.port",
            port,
            "--proof-coordinator.prover-timeout",
            timeout_s,
        ]
        .map(String::from),
    );
    start(&args, &[])
}

/// The batch of an L2 withdrawal, once sealed.
async fn batch_of(node: &Node, tx: B256) -> u64 {
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let proofs: Value = l2
            .raw_request("keel_getWithdrawalProof".into(), (tx,))
            .await
            .expect("keel_getWithdrawalProof");
        if let Some(batch) = proofs[0]["batchNumber"].as_str() {
            return u64::from_str_radix(batch.trim_start_matches("0x"), 16).expect("batch");
        }
        assert!(Instant::now() < deadline, "{tx} not in a sealed batch");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `BatchVerified` events on L1, counted per batch number.
async fn verified_events(l1: &TestL1) -> BTreeMap<u64, usize> {
    let filter = Filter::new()
        .address(l1.proposer())
        .event_signature(OnChainProposer::BatchVerified::SIGNATURE_HASH)
        .from_block(0);
    let mut counts = BTreeMap::new();
    for log in l1.provider.get_logs(&filter).await.expect("logs") {
        let batch = U256::from_be_bytes(log.topics()[1].0).to::<u64>();
        *counts.entry(batch).or_default() += 1;
    }
    counts
}

/// Batch numbers each "batch proved" log line names, counted.
fn proved_batches(lines: &[String]) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for line in lines.iter().filter(|l| l.contains("batch proved")) {
        if let Some(n) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("batch="))
            .and_then(|n| n.parse::<u64>().ok())
        {
            *counts.entry(n).or_default() += 1;
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn two_prover_processes_prove_and_withdrawals_are_claimed_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start_with_verifier(dir.path(), Some(1), false, &SIGNERS, THRESHOLD).await;
    let datadir = dir.path().join("data");
    let port = free_port();
    let node = node(&l1, datadir.to_str().expect("utf-8"), &port, "600");
    let coordinator = node.wait_for_line("Proof coordinator:");
    let mut provers = [
        Prover::start(&coordinator, &key(SIGNERS[0]), &[]),
        Prover::start(&coordinator, &key(SIGNERS[1]), &[]),
    ];
    let user: Address = address(USER).parse().expect("address");

    // Deposit 3 ETH (also what the L1 bridge pays the ETH claim from), then an L2 transfer.
    let out = stdout_of(&bridge(
        &l1,
        &node,
        &[
            "deposit",
            "--amount",
            "3ether",
            "--private-key",
            &key(USER),
            "--wait",
        ],
    ));
    assert!(out.contains("L2 receipt: status 1"), "{out}");
    let l2_user = provider_as(&node.url, USER);
    let recipient = Address::repeat_byte(0x77);
    let transfer = l2_user
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default()
                .to(recipient)
                .value(ether(1)),
        )
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(transfer.status());

    // An ERC20: minted on L1, deposited to the user's L2 address.
    let l1_as_3 = provider_as(&l1.anvil.url, 3);
    let token = TestToken::deploy(&l1_as_3).await.expect("TestToken");
    assert!(
        token
            .mint(user, ether(40))
            .send()
            .await
            .expect("mint")
            .get_receipt()
            .await
            .expect("receipt")
            .status()
    );
    let l2_as_1 = provider_as(&node.url, 1);
    let bridged = BridgedERC20::deploy(
        &l2_as_1,
        "Bridged Test Token".to_string(),
        "bTT".to_string(),
        18,
        *token.address(),
    )
    .await
    .expect("BridgedERC20 on L2");
    let (token_l1, token_l2) = (token.address().to_string(), bridged.address().to_string());
    stdout_of(&bridge(
        &l1,
        &node,
        &[
            "deposit-erc20",
            "--token-l1",
            &token_l1,
            "--token-l2",
            &token_l2,
            "--amount",
            "40ether",
            "--private-key",
            &key(USER),
        ],
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while bridged.balanceOf(user).call().await.expect("balance") != ether(40) {
        assert!(
            Instant::now() < deadline,
            "the ERC20 deposit did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Withdrawals: 1 ETH and 15 tokens.
    let withdraw = |args: Vec<&str>| {
        let out = stdout_of(&bridge(&l1, &node, &args));
        field(&out, "L2 tx:").parse::<B256>().expect("hash")
    };
    let eth_tx = withdraw(vec![
        "withdraw",
        "--amount",
        "1ether",
        "--private-key",
        &key(USER),
    ]);
    let erc20_tx = withdraw(vec![
        "withdraw-erc20",
        "--token-l1",
        &token_l1,
        "--token-l2",
        &token_l2,
        "--amount",
        "15ether",
        "--private-key",
        &key(USER),
    ]);
    let last = batch_of(&node, eth_tx)
        .await
        .max(batch_of(&node, erc20_tx).await);

    // Both provers prove; with 2 of 3 required, the batch is verified only with both proofs.
    let verified = wait_verified(&node, last).await;
    assert_eq!(verified["status"], "verified", "{verified}");
    for prover in &mut provers {
        let proved = prover.wait_for(
            &["batch proved", &format!("batch={last} ")],
            1,
            Duration::from_secs(30),
        );
        assert_eq!(proved.len(), 1);
    }
    let proposer = OnChainProposer::new(l1.proposer(), &l1.provider);
    let on_l1 = proposer
        .lastVerifiedBatch()
        .call()
        .await
        .expect("lastVerifiedBatch");
    assert!(on_l1 >= U256::from(last), "L1 verified up to {on_l1}");

    // Claims pay exactly the amounts.
    let eth_before = l1.provider.get_balance(user).await.expect("balance");
    let out = stdout_of(&bridge(
        &l1,
        &node,
        &[
            "claim",
            "--tx-hash",
            &eth_tx.to_string(),
            "--wait",
            "--private-key",
            &key(USER),
        ],
    ));
    let claim: B256 = field(&out, "L1 tx:").parse().expect("hash");
    let receipt = l1
        .provider
        .get_transaction_receipt(claim)
        .await
        .expect("receipt")
        .expect("mined");
    assert!(receipt.status());
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    let eth_after = l1.provider.get_balance(user).await.expect("balance");
    assert_eq!(
        eth_after + fee - eth_before,
        ether(1),
        "exactly the withdrawn ETH"
    );
    let out = stdout_of(&bridge(
        &l1,
        &node,
        &[
            "claim",
            "--tx-hash",
            &erc20_tx.to_string(),
            "--private-key",
            &key(USER),
        ],
    ));
    assert!(out.contains("L1 tx:"), "{out}");
    assert_eq!(
        token.balanceOf(user).call().await.expect("balance"),
        ether(15),
        "exactly the withdrawn tokens"
    );

    // A second claim: refused by the CLI before sending anything; sent directly, it reverts.
    let nonce = l1
        .provider
        .get_transaction_count(user)
        .await
        .expect("nonce");
    let again = bridge(
        &l1,
        &node,
        &[
            "claim",
            "--tx-hash",
            &eth_tx.to_string(),
            "--private-key",
            &key(USER),
        ],
    );
    assert!(!again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("already claimed"), "{}", text(&again));
    assert_eq!(
        l1.provider
            .get_transaction_count(user)
            .await
            .expect("nonce"),
        nonce
    );
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let proofs: Value = l2
        .raw_request("keel_getWithdrawalProof".into(), (eth_tx,))
        .await
        .expect("proof");
    let entry = &proofs[0];
    let number = |v: &Value| {
        U256::from_str_radix(v.as_str().expect("hex").trim_start_matches("0x"), 16).expect("number")
    };
    let siblings: Vec<B256> = serde_json::from_value(entry["proof"].clone()).expect("proof");
    let l1_user = provider_as(&l1.anvil.url, USER);
    let bridge_contract = CommonBridge::new(l1.deployment.contracts.common_bridge.proxy, &l1_user);
    let direct = bridge_contract
        .claimWithdrawal(
            ether(1),
            number(&entry["batchNumber"]),
            number(&entry["messageId"]),
            siblings,
        )
        .send()
        .await;
    let reverted = match direct {
        Err(_) => true,
        Ok(pending) => !pending.get_receipt().await.expect("receipt").status(),
    };
    assert!(reverted, "a second claim must revert on L1");

    // Nothing was verified twice.
    assert!(verified_events(&l1).await.values().all(|&n| n == 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_prover_is_replaced_and_a_restarted_node_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start_with_verifier(dir.path(), Some(1), false, &SIGNERS, THRESHOLD).await;
    let datadir = dir.path().join("data");
    let datadir = datadir.to_str().expect("utf-8").to_string();
    let port = free_port();
    let node1 = node(&l1, &datadir, &port, "5");
    let coordinator = node1.wait_for_line("Proof coordinator:");
    assert!(coordinator.ends_with(&format!(":{port}")), "{coordinator}");

    // Prover 7 dies (SIGKILL, by its fault point) as soon as it gets its first batch; prover 8
    // proves. With 2 of 3 required, the first batch waits until prover 9 joins.
    let mut doomed = Prover::start_with_env(
        &coordinator,
        &key(SIGNERS[0]),
        &[],
        &[("KEEL_FAULT_POINT", "prover.after-receiving-batch")],
    );
    let mut steady = Prover::start(&coordinator, &key(SIGNERS[1]), &[]);
    let got = doomed.wait_for(&["proving batch"], 1, Duration::from_secs(60));
    let first: u64 = got[0]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("batch="))
        .and_then(|n| n.parse().ok())
        .expect("batch number");
    let status = doomed.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "the prover was killed: {status}");
    steady.wait_for(
        &["batch proved", &format!("batch={first} ")],
        1,
        Duration::from_secs(60),
    );
    let mut third = Prover::start(&coordinator, &key(SIGNERS[2]), &[]);
    third.wait_for(
        &["batch proved", &format!("batch={first} ")],
        1,
        Duration::from_secs(60),
    );
    wait_verified(&node1, first).await;

    // Restart the node on the same datadir and port while provers 8 and 9 run.
    let before = wait_verified(&node1, first).await;
    node1.terminate();
    let node2 = node(&l1, &datadir, &port, "5");
    assert_eq!(
        wait_verified(&node2, first).await["verifyTxHash"],
        before["verifyTxHash"]
    );
    let l2 = ProviderBuilder::new().connect_http(node2.url.parse().expect("url"));
    let batch_number: String = l2
        .raw_request("keel_batchNumber".into(), ())
        .await
        .expect("keel_batchNumber");
    let sealed = u64::from_str_radix(batch_number.trim_start_matches("0x"), 16).expect("number");
    let target = sealed.max(first) + 2;
    wait_verified(&node2, target).await;

    // Both provers reconnected and proved batches after the restart; none proved a batch twice,
    // and L1 verified each batch once.
    for prover in [&mut steady, &mut third] {
        prover.wait_for(
            &["batch proved", &format!("batch={target} ")],
            1,
            Duration::from_secs(60),
        );
        let counts = proved_batches(&prover.log());
        assert!(
            counts.values().all(|&n| n == 1),
            "a batch proved twice: {counts:?}"
        );
    }
    let events = verified_events(&l1).await;
    assert!(
        (1..=target).all(|n| events.get(&n) == Some(&1)),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lying_and_unregistered_provers_are_rejected_by_the_coordinator_and_by_l1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = TestL1::start_with_verifier(dir.path(), Some(1), false, &SIGNERS, THRESHOLD).await;
    let datadir = dir.path().join("data");
    let node = node(&l1, datadir.to_str().expect("utf-8"), &free_port(), "600");
    let coordinator = node.wait_for_line("Proof coordinator:");
    // A transaction, so that there is a batch to prove.
    let sent = provider_as(&node.url, 6)
        .send_transaction(
            alloy::rpc::types::TransactionRequest::default()
                .to(Address::repeat_byte(0x78))
                .value(ether(1)),
        )
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(sent.status());

    // Talk the protocol: ask for a batch.
    let mut stream = tokio::net::TcpStream::connect(&coordinator)
        .await
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (batch, input) = loop {
        keel_prover::protocol::write_frame(
            &mut stream,
            &ProverMessage::BatchRequest {
                version: PROTOCOL_VERSION,
                backend: BackendKind::Exec,
            },
            DEFAULT_MAX_FRAME_BYTES,
        )
        .await
        .expect("request");
        match keel_prover::protocol::read_frame(&mut stream, DEFAULT_MAX_FRAME_BYTES)
            .await
            .expect("answer")
        {
            CoordinatorMessage::BatchResponse { batch, input } => break (batch, input),
            CoordinatorMessage::NoWork => {
                assert!(Instant::now() < deadline, "no batch to prove");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            other => panic!("unexpected {other:?}"),
        }
    };

    // A registered key signing altered public inputs, and an unregistered key signing the true
    // ones: both rejected, nothing stored.
    let honest = ExecBackend::new(key(SIGNERS[0]).parse().expect("key"))
        .prove(&input)
        .expect("the batch proves");
    let mut altered = honest.public_inputs;
    altered.final_state_root = B256::repeat_byte(0x66);
    let liar = ExecBackend::new(key(SIGNERS[0]).parse().expect("key"));
    let lie = liar
        .attest(&altered, input.l1_chain_id, input.on_chain_proposer)
        .expect("sign");
    let outsider = ExecBackend::new(key(4).parse().expect("key"))
        .prove(&input)
        .expect("the batch proves");
    let another_outsider = ExecBackend::new(key(3).parse().expect("key"))
        .prove(&input)
        .expect("the batch proves");
    for (public_inputs, proof) in [
        (altered.encode().to_vec(), lie.clone()),
        (
            outsider.public_inputs.encode().to_vec(),
            outsider.proof.clone(),
        ),
    ] {
        keel_prover::protocol::write_frame(
            &mut stream,
            &ProverMessage::ProofSubmit {
                batch,
                backend: BackendKind::Exec,
                public_inputs: Bytes::from(public_inputs),
                proof,
            },
            DEFAULT_MAX_FRAME_BYTES,
        )
        .await
        .expect("submit");
        let answer: CoordinatorMessage =
            keel_prover::protocol::read_frame(&mut stream, DEFAULT_MAX_FRAME_BYTES)
                .await
                .expect("answer");
        assert!(
            matches!(answer, CoordinatorMessage::Rejected { .. }),
            "{answer:?}"
        );
    }
    let l2 = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let shown: Value = l2
        .raw_request("keel_getBatchByNumber".into(), (format!("{batch:#x}"),))
        .await
        .expect("batch");
    assert_ne!(shown["status"], "verified");

    // The same attestations straight to L1: each pair of signatures reverts.
    // A fresh provider per transaction: a send that fails its gas estimate must not leave a
    // nonce gap in a cached nonce for the next one.
    let proposer = || OnChainProposer::new(l1.proposer(), provider_as(&l1.anvil.url, 6));
    let concat = |a: &Bytes, b: &Bytes| Bytes::from([a.as_ref(), b.as_ref()].concat());
    let honest_other = ExecBackend::new(key(SIGNERS[1]).parse().expect("key"))
        .prove(&input)
        .expect("the batch proves");
    for (what, proof) in [
        (
            "a lie with an honest signature",
            concat(&lie, &honest_other.proof),
        ),
        (
            "two unregistered signers",
            concat(&outsider.proof, &another_outsider.proof),
        ),
    ] {
        let sent = proposer()
            .verifyBatches(U256::from(batch), vec![vec![proof]])
            .send()
            .await;
        let reverted = match sent {
            Err(e) => e.to_string().contains("revert"),
            Ok(pending) => !pending.get_receipt().await.expect("receipt").status(),
        };
        assert!(reverted, "{what}: verifyBatches must revert");
    }
    // Control: the two honest registered attestations are accepted by L1.
    let accepted = proposer()
        .verifyBatches(
            U256::from(batch),
            vec![vec![concat(&honest.proof, &honest_other.proof)]],
        )
        .send()
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(accepted.status(), "the honest pair verifies");
}
