//! OnChainProposer on a real anvil: who may commit and in what order, the blob requirement, the
//! privileged rolling hash and forced inclusion; verification with EIP-712 attestation signatures
//! over the 352-byte public inputs built in Rust. The hardening of issue 12 (forced inclusion
//! judged against the batch's timestamp, attestation domains, review negatives) is tested in
//! `hardening_proposer.rs`.

mod common;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    rpc::types::TransactionRequest,
};
use common::{
    Batch, INCLUSION_MAX_WAIT, L1, OWNER, SEQUENCER, SIGNERS, USER, addr, assert_reverts_with,
    blob_versioned_hash, ether,
};
use keel_l1::contracts::{AttestationVerifier, CommonBridge, OnChainProposer};
use keel_types::{dev, privileged_rolling_hash};

const BLOB: &[u8] = b"state diff of the batch";

/// Deposits `n` times from the user and returns the queued privileged tx hashes.
async fn deposits(l1: &L1, n: u64) -> Vec<B256> {
    let mut hashes = Vec::new();
    for i in 0..n {
        let tx = l1
            .bridge()
            .deposit(Address::repeat_byte(0x20 + i as u8))
            .value(ether(1))
            .from(addr(USER))
            .into_transaction_request();
        let receipt = l1.send(tx).await.expect("deposit");
        let txs = keel_l1::contracts::privileged_txs_in_receipt(&receipt, dev::DEFAULT_L2_CHAIN_ID)
            .expect("fields fit");
        hashes.push(txs[0].hash());
    }
    hashes
}

async fn last_committed(l1: &L1) -> u64 {
    l1.proposer()
        .lastCommittedBatch()
        .call()
        .await
        .expect("lastCommittedBatch")
        .to()
}

async fn last_verified(l1: &L1) -> u64 {
    l1.proposer()
        .lastVerifiedBatch()
        .call()
        .await
        .expect("lastVerifiedBatch")
        .to()
}

#[tokio::test]
async fn commit_needs_the_sequencer_the_next_number_and_a_blob() {
    let l1 = L1::start().await;
    let batch = Batch::simple(1);

    assert_reverts_with::<OnChainProposer::CallerNotSequencer, _>(
        l1.commit(USER, &batch, Some(BLOB)).await,
    );
    assert_reverts_with::<OnChainProposer::BatchNotNext, _>(
        l1.commit(SEQUENCER, &Batch::simple(2), Some(BLOB)).await,
    );
    assert_reverts_with::<OnChainProposer::MissingBlob, _>(
        l1.commit(SEQUENCER, &batch, None).await,
    );
    assert_eq!(
        last_committed(&l1).await,
        0,
        "nothing committed by the refused calls"
    );

    let receipt = l1
        .commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("commit");
    let event = receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<OnChainProposer::BatchCommitted>().ok())
        .expect("BatchCommitted");
    assert_eq!(event.inner.data.batchNumber, U256::from(1));
    assert_eq!(event.inner.data.newStateRoot, batch.new_state_root);
    assert_eq!(last_committed(&l1).await, 1);

    let stored = l1
        .proposer()
        .getBatch(U256::from(1))
        .call()
        .await
        .expect("getBatch");
    assert_eq!(
        stored.blobVersionedHash,
        blob_versioned_hash(BLOB),
        "blobhash(0) stored"
    );
    assert_eq!(stored.newStateRoot, batch.new_state_root);
    assert_eq!(stored.lastBlockHash, batch.last_block_hash);

    // The same number again is refused; the next one is accepted.
    assert_reverts_with::<OnChainProposer::BatchNotNext, _>(
        l1.commit(SEQUENCER, &batch, Some(BLOB)).await,
    );
    l1.commit(SEQUENCER, &Batch::simple(2), Some(BLOB))
        .await
        .expect("batch 2");
    assert_eq!(last_committed(&l1).await, 2);
}

#[tokio::test]
async fn validium_commits_without_a_blob_and_stores_zero() {
    let l1 = L1::start_with(|c| c.validium = true).await;
    assert_reverts_with::<OnChainProposer::UnexpectedBlob, _>(
        l1.commit(SEQUENCER, &Batch::simple(1), Some(BLOB)).await,
    );
    l1.commit(SEQUENCER, &Batch::simple(1), None)
        .await
        .expect("validium commit");
    let stored = l1
        .proposer()
        .getBatch(U256::from(1))
        .call()
        .await
        .expect("getBatch");
    assert_eq!(stored.blobVersionedHash, B256::ZERO);
}

#[tokio::test]
async fn commit_checks_the_privileged_rolling_hash() {
    let l1 = L1::start().await;
    let hashes = deposits(&l1, 3).await;

    // Wrong: the right count with a wrong digest, and a hash over the txs in the wrong order.
    let mut batch = Batch::simple(1);
    let mut wrong = privileged_rolling_hash(&hashes[..2]).expect("rolling hash");
    wrong.0[31] ^= 1;
    batch.privileged_rolling_hash = wrong;
    assert_reverts_with::<OnChainProposer::PrivilegedRollingHashMismatch, _>(
        l1.commit(SEQUENCER, &batch, Some(BLOB)).await,
    );
    batch.privileged_rolling_hash =
        privileged_rolling_hash(&[hashes[1], hashes[0]]).expect("rolling hash");
    assert_reverts_with::<OnChainProposer::PrivilegedRollingHashMismatch, _>(
        l1.commit(SEQUENCER, &batch, Some(BLOB)).await,
    );
    // More privileged txs than were sent.
    let mut four = hashes.clone();
    four.push(B256::repeat_byte(1));
    batch.privileged_rolling_hash = privileged_rolling_hash(&four).expect("rolling hash");
    assert_reverts_with::<CommonBridge::PrivilegedRangeOutOfBounds, _>(
        l1.commit(SEQUENCER, &batch, Some(BLOB)).await,
    );

    // Right: the first two, then the third in the next batch.
    batch.privileged_rolling_hash = privileged_rolling_hash(&hashes[..2]).expect("rolling hash");
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("batch 1 with two privileged txs");
    assert_eq!(
        l1.proposer()
            .nextPrivilegedId()
            .call()
            .await
            .expect("next id"),
        U256::from(2)
    );
    let mut second = Batch::simple(2);
    // Batch 2's txs start after batch 1's, not at the bridge's pending head.
    second.privileged_rolling_hash = privileged_rolling_hash(&hashes[..1]).expect("rolling hash");
    assert_reverts_with::<OnChainProposer::PrivilegedRollingHashMismatch, _>(
        l1.commit(SEQUENCER, &second, Some(BLOB)).await,
    );
    second.privileged_rolling_hash = privileged_rolling_hash(&hashes[2..]).expect("rolling hash");
    l1.commit(SEQUENCER, &second, Some(BLOB))
        .await
        .expect("batch 2 with the third");
}

#[tokio::test]
async fn expired_privileged_tx_forces_inclusion() {
    let l1 = L1::start().await;
    let hashes = deposits(&l1, 1).await;
    let deadline: u64 = l1
        .bridge()
        .privilegedTxDeadlines(U256::ZERO)
        .call()
        .await
        .expect("deadline")
        .to();

    // Not expired at batch 1's last block: a batch of ordinary txs may leave it out.
    l1.commit(SEQUENCER, &Batch::simple(1), Some(BLOB))
        .await
        .expect("batch 1 leaves a fresh deposit out");

    // The deadline is judged against the batch's last block timestamp (not the L1 block's):
    // a batch whose last block is after the deadline must include it.
    l1.increase_time(INCLUSION_MAX_WAIT + 1).await;
    let mut batch = Batch::simple(2);
    batch.last_block_timestamp = deadline + 1;
    assert_reverts_with::<OnChainProposer::ExpiredPrivilegedTxNotIncluded, _>(
        l1.commit(SEQUENCER, &batch, Some(BLOB)).await,
    );
    // A batch without ordinary txs may still leave it out (the sequencer is not forced to stop).
    batch.non_privileged_tx_count = 0;
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("a batch without ordinary txs");

    let mut batch = Batch::simple(3);
    batch.last_block_timestamp = deadline + 1;
    batch.privileged_rolling_hash = privileged_rolling_hash(&hashes).expect("rolling hash");
    l1.commit(SEQUENCER, &batch, Some(BLOB))
        .await
        .expect("a batch that includes the expired deposit");
    assert_eq!(last_committed(&l1).await, 3);
}

/// Commits batches 1..=n (batch 1 with the given privileged hashes) and returns them.
async fn commit_batches(l1: &L1, n: u64, privileged: &[B256]) -> Vec<Batch> {
    let mut batches = Vec::new();
    for number in 1..=n {
        let mut batch = Batch::simple(number);
        if number == 1 && !privileged.is_empty() {
            batch.privileged_rolling_hash = privileged_rolling_hash(privileged).expect("hash");
        }
        l1.commit(SEQUENCER, &batch, Some(BLOB))
            .await
            .expect("commit");
        batches.push(batch);
    }
    batches
}

#[tokio::test]
async fn verify_accepts_threshold_attestations_over_rust_public_inputs() {
    let l1 = L1::start().await;
    let hashes = deposits(&l1, 2).await;
    let batches = commit_batches(&l1, 2, &hashes).await;
    let blob = blob_versioned_hash(BLOB);

    let inputs1 = batches[0].public_inputs(l1.genesis(), blob);
    let inputs2 = batches[1].public_inputs(batches[0].as_previous(), blob);
    // The Rust encoding is byte for byte what the contract rebuilds.
    assert_eq!(
        l1.public_inputs_on_l1(1).await.as_ref(),
        inputs1.encode().as_slice()
    );
    assert_eq!(
        l1.public_inputs_on_l1(2).await.as_ref(),
        inputs2.encode().as_slice()
    );
    assert_eq!(
        l1.bridge().pendingTxCount().call().await.expect("pending"),
        U256::from(2)
    );

    let receipt = l1
        .verify(
            1,
            vec![
                vec![l1.attest(&inputs1, &[SIGNERS[0], SIGNERS[1]])],
                vec![l1.attest(&inputs2, &[SIGNERS[2], SIGNERS[0]])],
            ],
        )
        .await
        .expect("verified");
    let verified: Vec<U256> = receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<OnChainProposer::BatchVerified>().ok())
        .map(|e| e.inner.data.batchNumber)
        .collect();
    assert_eq!(verified, vec![U256::from(1), U256::from(2)]);
    assert_eq!(last_verified(&l1).await, 2);
    // Batch 1's two privileged txs left the pending queue.
    assert_eq!(
        l1.bridge().pendingTxCount().call().await.expect("pending"),
        U256::ZERO
    );
    assert_eq!(
        l1.bridge().pendingHead().call().await.expect("head"),
        U256::from(2)
    );
}

#[tokio::test]
async fn verify_rejects_bad_attestations_and_order() {
    let l1 = L1::start().await;
    let batches = commit_batches(&l1, 2, &[]).await;
    let blob = blob_versioned_hash(BLOB);
    let inputs1 = batches[0].public_inputs(l1.genesis(), blob);
    let inputs2 = batches[1].public_inputs(batches[0].as_previous(), blob);
    let outsider = 7;

    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        l1.verify(1, vec![vec![l1.attest(&inputs1, &[SIGNERS[0], outsider])]])
            .await,
    );
    assert_reverts_with::<AttestationVerifier::DuplicateSigner, _>(
        l1.verify(
            1,
            vec![vec![l1.attest(&inputs1, &[SIGNERS[0], SIGNERS[0]])]],
        )
        .await,
    );
    assert_reverts_with::<AttestationVerifier::NotEnoughSignatures, _>(
        l1.verify(1, vec![vec![l1.attest(&inputs1, &[SIGNERS[1]])]])
            .await,
    );
    // Signatures over other public inputs (a different final state root) recover to other
    // addresses, which are not registered.
    let mut wrong = inputs1;
    wrong.final_state_root = B256::repeat_byte(0xee);
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        l1.verify(1, vec![vec![l1.attest(&wrong, &[SIGNERS[0], SIGNERS[1]])]])
            .await,
    );
    // Also a wrong chain id.
    let mut wrong = inputs1;
    wrong.chain_id += 1;
    assert_reverts_with::<AttestationVerifier::UnknownSigner, _>(
        l1.verify(1, vec![vec![l1.attest(&wrong, &[SIGNERS[0], SIGNERS[1]])]])
            .await,
    );
    // A truncated signature.
    let mut short = l1.attest(&inputs1, &[SIGNERS[0], SIGNERS[1]]).to_vec();
    short.pop();
    assert_reverts_with::<AttestationVerifier::InvalidProofLength, _>(
        l1.verify(1, vec![vec![Bytes::from(short)]]).await,
    );
    // Out of order: batch 2 before batch 1.
    assert_reverts_with::<OnChainProposer::BatchNotNextToVerify, _>(
        l1.verify(
            2,
            vec![vec![l1.attest(&inputs2, &[SIGNERS[0], SIGNERS[1]])]],
        )
        .await,
    );
    // A batch that is not committed.
    let inputs3 = Batch::simple(3).public_inputs(batches[1].as_previous(), blob);
    assert_reverts_with::<OnChainProposer::BatchNotCommitted, _>(
        l1.verify(
            1,
            vec![
                vec![l1.attest(&inputs1, &[SIGNERS[0], SIGNERS[1]])],
                vec![l1.attest(&inputs2, &[SIGNERS[0], SIGNERS[1]])],
                vec![l1.attest(&inputs3, &[SIGNERS[0], SIGNERS[1]])],
            ],
        )
        .await,
    );
    // One proof per verifier.
    assert_reverts_with::<OnChainProposer::WrongProofCount, _>(l1.verify(1, vec![vec![]]).await);
    assert_eq!(
        last_verified(&l1).await,
        0,
        "nothing verified by the refused calls"
    );

    // The right signatures pass, then batch 2 alone.
    l1.verify(
        1,
        vec![vec![l1.attest(&inputs1, &[SIGNERS[2], SIGNERS[1]])]],
    )
    .await
    .expect("batch 1");
    l1.verify(
        2,
        vec![vec![l1.attest(&inputs2, &[SIGNERS[0], SIGNERS[1]])]],
    )
    .await
    .expect("batch 2");
    assert_eq!(last_verified(&l1).await, 2);
    // Verifying batch 1 again is out of order.
    assert_reverts_with::<OnChainProposer::BatchNotNextToVerify, _>(
        l1.verify(
            1,
            vec![vec![l1.attest(&inputs1, &[SIGNERS[0], SIGNERS[1]])]],
        )
        .await,
    );
}

#[tokio::test]
async fn only_the_owner_manages_sequencers() {
    let l1 = L1::start().await;
    let newcomer = 6;
    let tx: TransactionRequest = l1
        .proposer()
        .setSequencer(addr(newcomer), true)
        .from(addr(USER))
        .into_transaction_request();
    assert_reverts_with::<OnChainProposer::OwnableUnauthorizedAccount, _>(l1.send(tx).await);
    assert_reverts_with::<OnChainProposer::CallerNotSequencer, _>(
        l1.commit(newcomer, &Batch::simple(1), Some(BLOB)).await,
    );
    let tx = l1
        .proposer()
        .setSequencer(addr(newcomer), true)
        .from(addr(OWNER))
        .into_transaction_request();
    l1.send(tx).await.expect("owner adds a sequencer");
    l1.commit(newcomer, &Batch::simple(1), Some(BLOB))
        .await
        .expect("the new sequencer commits");
    // Plain value transfers to the proposer are refused (it has no receive function).
    let tx = TransactionRequest::default()
        .with_from(addr(USER))
        .with_to(*l1.proposer().address())
        .with_value(U256::from(1));
    assert!(l1.send(tx).await.is_err());
}
