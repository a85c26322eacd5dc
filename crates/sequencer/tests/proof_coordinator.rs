//! The ProofCoordinator over real TCP on 127.0.0.1, serving batches sealed on an in-memory store
//! (real revm, real redb) and marked committed: a registered exec prover gets a batch, proves it
//! and its proof is stored; an unregistered key, a lying prover, a duplicate and a proof of an
//! unknown batch are rejected and store nothing; garbage, oversized and truncated frames and a
//! wrong version close the connection (or get VersionMismatch) and the coordinator still serves
//! a good prover afterwards; a batch handed out and not answered goes to the next prover after
//! the timeout.

mod common;

use std::{collections::HashSet, sync::Arc, time::Duration};

use alloy_primitives::{Address, B256};
use common::Node;
use common::coordinator::{
    Conn, L1_CHAIN_ID, LyingBackend, PROPOSER, context, coordinator_config, expected_public_inputs,
    key, node_with_batches, rejected, stored_signers,
};
use keel_prover::{
    BackendError, BackendKind, ExecBackend, Proof, ProverBackend, ProverClient, ProverClientConfig,
    ProverInput,
    protocol::{CoordinatorMessage, PROTOCOL_VERSION, ProverMessage},
};
use keel_sequencer::{ProofCoordinator, ProverSigners};
use keel_storage::batches::BatchCommit;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

async fn start(
    node: &Node,
    signers: ProverSigners,
    prover_timeout: Duration,
) -> (std::net::SocketAddr, CancellationToken) {
    let (addr, token, _) = start_on(
        node,
        signers,
        prover_timeout,
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await;
    (addr, token)
}

async fn start_on(
    node: &Node,
    signers: ProverSigners,
    prover_timeout: Duration,
    listen: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), keel_sequencer::CoordinatorError>>,
) {
    let mut config = coordinator_config(listen);
    config.prover_timeout = prover_timeout;
    config.idle_timeout = Duration::from_secs(30);
    // The idle bystander of the bad-frames test says nothing for seconds.
    config.handshake_timeout = Duration::from_secs(30);
    config.max_frame_bytes = 8 * 1024 * 1024;
    let coordinator = ProofCoordinator::bind(config, node.chain.clone(), signers)
        .await
        .expect("bind");
    let addr = coordinator.local_addr();
    let token = CancellationToken::new();
    let handle = tokio::spawn(coordinator.run(token.clone()));
    (addr, token, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_prover_client_proves_every_committed_batch_and_its_proofs_are_stored() {
    let node = node_with_batches(3, 2);
    let prover = key(0x41);
    let (addr, coordinator) = start(
        &node,
        ProverSigners::fixed([prover.address()], 1),
        Duration::from_secs(60),
    )
    .await;
    let mut config = ProverClientConfig::new(
        vec![addr.to_string()],
        Arc::new(ExecBackend::new(prover.clone())),
    );
    config.poll_interval = Duration::from_millis(100);
    let stop = CancellationToken::new();
    let client = tokio::spawn(ProverClient::new(config).run(stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while (stored_signers(&node, 1).is_empty() || stored_signers(&node, 2).is_empty())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let it ask again: batch 3 is sealed but not committed, so it is never handed out.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let stats = client.await.expect("join").expect("run");
    assert_eq!(stats.accepted, 2, "{stats:?}");
    assert_eq!(stats.rejected, 0, "{stats:?}");
    for batch in [1, 2] {
        let proofs = node.chain.store().batch_proofs(batch).expect("read");
        assert_eq!(proofs.len(), 1, "batch {batch}");
        let (signer, stored) = &proofs[0];
        assert_eq!(*signer, prover.address());
        assert_eq!(stored.backend, "exec");
        let input =
            keel_sequencer::build_prover_input(&node.chain, &context(), batch).expect("input");
        let expected = expected_public_inputs(&input);
        assert_eq!(stored.public_inputs.as_ref(), expected.encode().as_slice());
        let signature =
            alloy_primitives::Signature::try_from(stored.proof.as_ref()).expect("signature");
        assert_eq!(
            signature
                .recover_address_from_prehash(&expected.attestation_digest(L1_CHAIN_ID, PROPOSER))
                .expect("recover"),
            prover.address()
        );
    }
    assert!(
        stored_signers(&node, 3).is_empty(),
        "batch 3 is not committed"
    );
    coordinator.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unregistered_lying_duplicate_and_unknown_batch_proofs_are_rejected() {
    let node = node_with_batches(1, 1);
    let registered = key(0x41);
    let (addr, coordinator) = start(
        &node,
        ProverSigners::fixed([registered.address()], 1),
        Duration::from_secs(60),
    )
    .await;

    // An unregistered key: a correct proof, but its signer does not count.
    let mut conn = Conn::open(addr).await;
    let (batch, input) = conn.take_batch().await;
    assert_eq!(batch, 1);
    let outsider = ExecBackend::new(key(0x42));
    let proof = outsider.prove(&input).expect("prove");
    let reply = conn.submit(batch, &proof).await;
    assert!(rejected(&reply, "not a registered"), "{reply:?}");
    assert!(stored_signers(&node, 1).is_empty());

    // A lying prover with a registered key: it signs altered public inputs.
    let liar = LyingBackend(ExecBackend::new(registered.clone()));
    let lie = liar.prove(&input).expect("prove");
    let reply = conn.submit(batch, &lie).await;
    assert!(
        rejected(&reply, "public inputs are not batch 1's"),
        "{reply:?}"
    );
    assert!(stored_signers(&node, 1).is_empty());
    // The true public inputs with the signature over the lie: recovers to another address.
    let mixed = Proof {
        public_inputs: expected_public_inputs(&input),
        proof: lie.proof.clone(),
    };
    let reply = conn.submit(batch, &mixed).await;
    assert!(rejected(&reply, "not a registered"), "{reply:?}");
    // A proof of the wrong length.
    let short = Proof {
        public_inputs: mixed.public_inputs,
        proof: lie.proof.slice(..64),
    };
    assert!(rejected(&conn.submit(batch, &short).await, "65-byte"));
    assert!(stored_signers(&node, 1).is_empty());

    // A proof of a batch the coordinator does not know.
    let good = ExecBackend::new(registered.clone())
        .prove(&input)
        .expect("prove");
    let reply = conn.submit(99, &good).await;
    assert!(rejected(&reply, "unknown batch 99"), "{reply:?}");
    let reply = conn.submit(0, &good).await;
    assert!(rejected(&reply, "unknown batch 0"), "{reply:?}");

    // The good proof is stored; the same again is a duplicate.
    assert_eq!(
        conn.submit(batch, &good).await,
        CoordinatorMessage::SubmitAck
    );
    assert_eq!(stored_signers(&node, 1), vec![registered.address()]);
    let reply = conn.submit(batch, &good).await;
    assert!(rejected(&reply, "duplicate"), "{reply:?}");
    assert_eq!(node.chain.store().batch_proofs(1).expect("read").len(), 1);
    // Enough proofs: nothing more to hand out.
    assert_eq!(conn.request().await, CoordinatorMessage::NoWork);
    coordinator.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_and_a_wrong_version_close_their_connection_only() {
    let node = node_with_batches(1, 1);
    let registered = key(0x41);
    let (addr, coordinator) = start(
        &node,
        ProverSigners::fixed([registered.address()], 1),
        Duration::from_secs(60),
    )
    .await;
    // A connection that stays open, idle, through all of it.
    let mut bystander = Conn::open(addr).await;

    // Garbage: a frame whose body is not a message.
    let mut conn = Conn::open(addr).await;
    conn.0.write_all(&10u32.to_be_bytes()).await.expect("write");
    conn.0.write_all(&[0xff; 10]).await.expect("write");
    assert!(conn.closed_by_peer().await, "garbage closes the connection");

    // Plain noise, not even a frame (an HTTP request).
    let mut conn = Conn::open(addr).await;
    conn.0
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(conn.closed_by_peer().await, "noise closes the connection");

    // An oversized length prefix: refused before any body.
    let mut conn = Conn::open(addr).await;
    conn.0
        .write_all(&u32::MAX.to_be_bytes())
        .await
        .expect("write");
    assert!(
        conn.closed_by_peer().await,
        "oversize closes the connection"
    );

    // A truncated frame: 100 bytes announced, 10 sent, then the prover stops writing.
    let mut conn = Conn::open(addr).await;
    conn.0
        .write_all(&100u32.to_be_bytes())
        .await
        .expect("write");
    conn.0.write_all(&[0u8; 10]).await.expect("write");
    conn.0.shutdown().await.expect("shutdown");
    assert!(
        conn.closed_by_peer().await,
        "truncation closes the connection"
    );

    // A wrong version: VersionMismatch, then closed.
    let mut conn = Conn::open(addr).await;
    let reply = conn
        .ask(&ProverMessage::BatchRequest {
            version: PROTOCOL_VERSION + 1,
            backend: BackendKind::Exec,
        })
        .await;
    assert_eq!(
        reply,
        CoordinatorMessage::VersionMismatch {
            expected: PROTOCOL_VERSION
        }
    );
    assert!(conn.closed_by_peer().await, "closed after VersionMismatch");

    // A submission before the version handshake is refused.
    let mut conn = Conn::open(addr).await;
    let reply = conn
        .ask(&ProverMessage::ProofSubmit {
            batch: 1,
            backend: BackendKind::Exec,
            public_inputs: vec![0u8; 352].into(),
            proof: vec![0u8; 65].into(),
        })
        .await;
    assert!(rejected(&reply, "first message"), "{reply:?}");

    // None of it disturbed the coordinator: a good prover is served, and the idle bystander's
    // connection still works.
    let mut good = Conn::open(addr).await;
    let (batch, input) = good.take_batch().await;
    assert_eq!(batch, 1);
    let proof = ExecBackend::new(registered.clone())
        .prove(&input)
        .expect("prove");
    assert_eq!(
        good.submit(batch, &proof).await,
        CoordinatorMessage::SubmitAck
    );
    assert_eq!(stored_signers(&node, 1), vec![registered.address()]);
    assert_eq!(bystander.request().await, CoordinatorMessage::NoWork);
    coordinator.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_not_answered_within_the_timeout_goes_to_the_next_prover() {
    let node = node_with_batches(1, 1);
    let (a, b) = (key(0x41), key(0x42));
    let (addr, coordinator) = start(
        &node,
        ProverSigners::fixed([a.address(), b.address()], 1),
        Duration::from_secs(2),
    )
    .await;
    // A takes batch 1 and goes silent (its connection stays open).
    let mut silent = Conn::open(addr).await;
    let (batch, _) = silent.take_batch().await;
    assert_eq!(batch, 1);
    // Within the timeout, nobody else gets it.
    let mut next = Conn::open(addr).await;
    assert_eq!(next.request().await, CoordinatorMessage::NoWork);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // After it, the next prover does, proves it and is stored.
    let (batch, input) = next.take_batch().await;
    assert_eq!(batch, 1);
    let proof = ExecBackend::new(b.clone()).prove(&input).expect("prove");
    assert_eq!(
        next.submit(batch, &proof).await,
        CoordinatorMessage::SubmitAck
    );
    assert_eq!(stored_signers(&node, 1), vec![b.address()]);
    // The late prover's proof of a batch that already has its threshold is still checked; a
    // valid one is stored (it is another signer's attestation).
    let late = ExecBackend::new(a.clone()).prove(&input).expect("prove");
    assert_eq!(silent.submit(1, &late).await, CoordinatorMessage::SubmitAck);
    let signers: HashSet<Address> = stored_signers(&node, 1).into_iter().collect();
    assert_eq!(signers, HashSet::from([a.address(), b.address()]));
    coordinator.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_threshold_two_a_signer_is_not_handed_a_batch_it_proved() {
    let node = node_with_batches(2, 2);
    let (a, b) = (key(0x41), key(0x42));
    let (addr, coordinator) = start(
        &node,
        ProverSigners::fixed([a.address(), b.address()], 2),
        Duration::from_secs(60),
    )
    .await;
    let mut conn_a = Conn::open(addr).await;
    let (batch, input) = conn_a.take_batch().await;
    assert_eq!(batch, 1);
    let proof = ExecBackend::new(a.clone()).prove(&input).expect("prove");
    assert_eq!(
        conn_a.submit(1, &proof).await,
        CoordinatorMessage::SubmitAck
    );
    // Batch 1 still needs a proof, but not A's: A gets batch 2.
    let (batch, _) = conn_a.take_batch().await;
    assert_eq!(batch, 2);
    // B gets batch 1 (one stored proof, none in flight, threshold 2), then batch 2 (one in
    // flight with A, threshold 2).
    let mut conn_b = Conn::open(addr).await;
    let (batch, input) = conn_b.take_batch().await;
    assert_eq!(batch, 1);
    let proof = ExecBackend::new(b.clone()).prove(&input).expect("prove");
    assert_eq!(
        conn_b.submit(1, &proof).await,
        CoordinatorMessage::SubmitAck
    );
    let (batch, _) = conn_b.take_batch().await;
    assert_eq!(batch, 2);
    // A third connection finds batch 1 complete and batch 2 fully in flight.
    let mut conn_c = Conn::open(addr).await;
    assert_eq!(conn_c.request().await, CoordinatorMessage::NoWork);
    // A connection that closes frees its assignment at once.
    drop(conn_a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (batch, _) = conn_c.take_batch().await;
    assert_eq!(batch, 2);
    coordinator.cancel();
}

/// Proves with a witness missing a node: the program fails, so there is nothing to submit.
struct BrokenBackend(ExecBackend);

impl ProverBackend for BrokenBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Exec
    }
    fn prove(&self, input: &ProverInput) -> Result<Proof, BackendError> {
        let mut input = input.clone();
        input.witness.state.clear();
        self.0.prove(&input)
    }
}

fn client_config(
    addr: std::net::SocketAddr,
    backend: Arc<dyn ProverBackend>,
) -> ProverClientConfig {
    let mut config = ProverClientConfig::new(vec![addr.to_string()], backend);
    config.poll_interval = Duration::from_millis(100);
    config.backoff_min = Duration::from_millis(100);
    config.backoff_max = Duration::from_millis(400);
    config
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_does_not_prove_is_never_submitted() {
    let node = node_with_batches(1, 1);
    let registered = key(0x41);
    let (addr, coordinator) = start(
        &node,
        ProverSigners::fixed([registered.address()], 1),
        Duration::from_millis(500),
    )
    .await;
    let stop = CancellationToken::new();
    let client = tokio::spawn(
        ProverClient::new(client_config(
            addr,
            Arc::new(BrokenBackend(ExecBackend::new(registered.clone()))),
        ))
        .run(stop.clone()),
    );
    // Long enough for the batch to be handed out, fail, time out and be handed out again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.cancel();
    let stats = client.await.expect("join").expect("run");
    assert!(stats.failed >= 2, "{stats:?}");
    assert_eq!(
        (stats.proved, stats.accepted, stats.rejected),
        (0, 0, 0),
        "nothing submitted: {stats:?}"
    );
    assert!(stored_signers(&node, 1).is_empty());
    coordinator.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prover_client_waits_for_its_coordinator_and_follows_it_through_a_restart() {
    let node = node_with_batches(2, 1);
    let registered = key(0x41);
    // A free port, nobody listening yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let stop = CancellationToken::new();
    let client = tokio::spawn(
        ProverClient::new(client_config(
            addr,
            Arc::new(ExecBackend::new(registered.clone())),
        ))
        .run(stop.clone()),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The coordinator comes up: the client connects and proves batch 1.
    let (_, first, handle) = start_on(
        &node,
        ProverSigners::fixed([registered.address()], 1),
        Duration::from_secs(60),
        addr,
    )
    .await;
    wait_until("batch 1 proved", || !stored_signers(&node, 1).is_empty()).await;
    // The node restarts (its coordinator stops, batch 2 is committed, it comes back).
    first.cancel();
    handle.await.expect("join").expect("run");
    node.chain
        .store()
        .mark_batch_committed(
            2,
            &BatchCommit {
                tx_hash: B256::repeat_byte(2),
                l1_block: 102,
            },
        )
        .expect("commit");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, second, _) = start_on(
        &node,
        ProverSigners::fixed([registered.address()], 1),
        Duration::from_secs(60),
        addr,
    )
    .await;
    wait_until("batch 2 proved", || !stored_signers(&node, 2).is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let stats = client.await.expect("join").expect("run");
    assert!(stats.connection_failures >= 2, "{stats:?}");
    // Nothing proved or submitted twice.
    assert_eq!(
        (stats.proved, stats.accepted, stats.rejected),
        (2, 2, 0),
        "{stats:?}"
    );
    assert_eq!(stored_signers(&node, 1), vec![registered.address()]);
    assert_eq!(stored_signers(&node, 2), vec![registered.address()]);
    second.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prover_client_moves_past_a_dead_coordinator_to_a_live_one() {
    let node = node_with_batches(1, 1);
    let registered = key(0x41);
    let (live, coordinator) = start(
        &node,
        ProverSigners::fixed([registered.address()], 1),
        Duration::from_secs(60),
    )
    .await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let mut config = client_config(live, Arc::new(ExecBackend::new(registered.clone())));
    config.coordinators = vec![dead.to_string(), live.to_string()];
    let stop = CancellationToken::new();
    let client = tokio::spawn(ProverClient::new(config).run(stop.clone()));
    wait_until("batch 1 proved", || !stored_signers(&node, 1).is_empty()).await;
    stop.cancel();
    let stats = client.await.expect("join").expect("run");
    assert!(
        stats.connection_failures >= 1,
        "the dead one was tried first: {stats:?}"
    );
    assert_eq!(stats.accepted, 1, "{stats:?}");
    assert_eq!(stored_signers(&node, 1), vec![registered.address()]);
    coordinator.cancel();
}

/// On a current-thread runtime, so the coordinator's tasks record into this test's recorder.
#[tokio::test]
async fn the_coordinator_counts_assignments_timeouts_proofs_rejections_and_connections() {
    let (recorder, handle) = common::recorder::recorder();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let node = node_with_batches(1, 1);
    let (a, b) = (key(0x41), key(0x42));
    let (addr, coordinator) = start(
        &node,
        ProverSigners::fixed([a.address(), b.address()], 1),
        Duration::from_secs(1),
    )
    .await;
    let v = |series: &str| common::recorder::series(&handle.render(), series);
    // The sealer's series moved while the batch was made.
    assert_eq!(v("keel_batches_sealed_total"), Some(1.0));
    assert_eq!(v("keel_batch_last{status=\"sealed\"}"), Some(1.0));

    let mut silent = Conn::open(addr).await;
    let (batch, _) = silent.take_batch().await;
    assert_eq!(batch, 1);
    let mut next = Conn::open(addr).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (batch, input) = next.take_batch().await;
    assert_eq!(batch, 1);
    assert_eq!(v("keel_provers_connected"), Some(2.0));
    assert_eq!(v("keel_prover_assignments_total"), Some(2.0));
    assert_eq!(v("keel_prover_timeouts_total"), Some(1.0));

    let proof = ExecBackend::new(b.clone()).prove(&input).expect("prove");
    assert!(rejected(&next.submit(99, &proof).await, "unknown batch 99"));
    assert!(rejected(
        &next
            .submit(
                1,
                &Proof {
                    public_inputs: proof.public_inputs,
                    proof: proof.proof.slice(..64),
                }
            )
            .await,
        "65-byte"
    ));
    assert_eq!(next.submit(1, &proof).await, CoordinatorMessage::SubmitAck);
    assert!(rejected(&next.submit(1, &proof).await, "duplicate"));
    assert_eq!(v("keel_proofs_accepted_total"), Some(1.0));
    for reason in ["unknown_batch", "malformed_proof", "duplicate"] {
        assert_eq!(
            v(&format!(
                "keel_prover_rejections_total{{reason=\"{reason}\"}}"
            )),
            Some(1.0),
            "{reason}"
        );
    }
    drop(silent);
    drop(next);
    let mut connected = v("keel_provers_connected");
    for _ in 0..100 {
        if connected == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        connected = v("keel_provers_connected");
    }
    assert_eq!(connected, Some(0.0), "both connections closed");
    coordinator.cancel();
}
