//! The L1ProofSender while its L1 is down: an unreachable L1 RPC is not an error, the sender
//! keeps retrying (the node keeps running) and stops cleanly on shutdown. (Its work against a
//! real L1 is tested end to end in `crates/cli/tests/proof_sender_e2e.rs`.)

use std::{net::TcpListener, sync::Arc, time::Duration};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use keel_l1::{
    L1Client, L1ClientConfig,
    sender::{L1Sender, L1SenderConfig, MemoryJournal},
};
use keel_sequencer::{L1ProofSender, L1ProofSenderConfig};
use keel_storage::Store;
use tokio_util::sync::CancellationToken;

/// A URL nothing listens on.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn an_unreachable_l1_is_retried_not_fatal() {
    let client = L1Client::new(L1ClientConfig {
        request_timeout: Duration::from_millis(200),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_attempts: 1,
        max_elapsed: Duration::from_millis(500),
        ..L1ClientConfig::new([dead_url()])
    })
    .expect("client");
    let sender = Arc::new(L1Sender::new(
        client.clone(),
        PrivateKeySigner::random(),
        L1SenderConfig::default(),
        Arc::new(MemoryJournal::new()),
    ));
    let proof_sender = L1ProofSender::new(
        L1ProofSenderConfig {
            on_chain_proposer: Address::repeat_byte(0x20),
            deploy_block: 0,
            max_batches: 16,
            poll_interval: Duration::from_millis(50),
        },
        Store::in_memory().expect("store"),
        client,
        sender,
    );
    // The failure is classified as an outage.
    let err = proof_sender.start().await.expect_err("L1 is down");
    assert!(err.is_unreachable(), "{err}");

    let token = CancellationToken::new();
    let task = tokio::spawn(proof_sender.run(token.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !task.is_finished(),
        "the sender keeps retrying while L1 is down"
    );
    token.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
    assert!(outcome.is_ok(), "a clean stop: {outcome:?}");
}
