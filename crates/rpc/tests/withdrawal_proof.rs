//! Batches and withdrawal proofs over JSON-RPC: withdrawals made on L2 are sealed into a batch by
//! the `BatchSealer`, and `keel_getWithdrawalProof` returns, per message, a proof that verifies
//! against the batch's withdrawals root (`null` before the batch is sealed).

mod common;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    sol_types::SolCall,
};
use common::{Fee, GWEI, TestNode, next_nonce, produce, request, rpc, send, sign, transfer};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use keel_sequencer::{BatchSealer, BatchSealerConfig};
use keel_types::{L1Message, verify_withdrawal_proof};
use serde_json::{Value, json};

alloy::sol! {
    function withdraw(address receiverOnL1) payable;
}

const ETH: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");

/// A `withdraw(receiver)` of `amount` from dev account `account`; returns the tx hash.
async fn withdraw_tx(node: &TestNode, account: usize, receiver: Address, amount: U256) -> B256 {
    let signer = TestNode::dev_signer(account);
    let nonce = next_nonce(node, signer.address()).await;
    let input = withdrawCall {
        receiverOnL1: receiver,
    }
    .abi_encode();
    let req = request(signer.address(), nonce, 200_000, Fee::tip(GWEI))
        .with_to(keel_types::rules::L2_BRIDGE_ADDRESS)
        .with_value(amount)
        .with_input(Bytes::from(input));
    send(node, &sign(&signer, req).await).await
}

fn withdrawal_data(receiver: Address, amount: U256) -> B256 {
    let mut packed = Vec::new();
    packed.extend_from_slice(ETH.as_slice());
    packed.extend_from_slice(ETH.as_slice());
    packed.extend_from_slice(receiver.as_slice());
    packed.extend_from_slice(&amount.to_be_bytes::<32>());
    keccak256(packed)
}

fn b256(v: &Value) -> B256 {
    serde_json::from_value(v.clone()).expect("a 32-byte hash")
}

#[tokio::test(flavor = "multi_thread")]
async fn withdrawal_proofs_verify_against_the_sealed_batch() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let sealer = BatchSealer::new(BatchSealerConfig::default(), node.chain.clone());
    let receivers = [
        Address::repeat_byte(0xa1),
        Address::repeat_byte(0xa2),
        Address::repeat_byte(0xa3),
    ];
    let amount = |i: usize| U256::from(1_000_000_000u64 * (i as u64 + 1));

    let mut withdrawals = Vec::new();
    for (i, receiver) in receivers.iter().enumerate() {
        withdrawals.push(withdraw_tx(&node, i + 1, *receiver, amount(i)).await);
    }
    let transfer_hash = send(&node, &transfer(5, 0, Fee::tip(GWEI)).await).await;
    produce(&node).await;

    // Not sealed yet: no batch, no proof.
    assert_eq!(
        rpc(&node, "keel_batchNumber", json!([])).await,
        json!("0x0")
    );
    assert_eq!(
        rpc(&node, "keel_getWithdrawalProof", json!([withdrawals[0]])).await,
        Value::Null
    );

    let batch = tokio::task::spawn_blocking(move || sealer.seal_next())
        .await
        .expect("task")
        .expect("seal")
        .expect("a batch");
    assert_eq!(
        (batch.number, batch.first_block, batch.last_block),
        (1, 1, 2)
    );
    assert_eq!(batch.non_privileged_tx_count, 4);
    assert_eq!(
        batch.privileged_rolling_hash,
        B256::ZERO,
        "no privileged txs"
    );
    assert_eq!(
        rpc(&node, "keel_batchNumber", json!([])).await,
        json!("0x1")
    );

    let json_batch = rpc(&node, "keel_getBatchByNumber", json!(["0x1"])).await;
    let root = b256(&json_batch["withdrawalsRoot"]);
    assert_eq!(root, batch.withdrawals_root);
    assert_ne!(root, B256::ZERO);
    assert_eq!(json_batch["l1Messages"].as_array().map(Vec::len), Some(3));
    // Sealed by this test without a committer: not committed; its blob is built at sealing (a
    // versioned hash starts with the KZG version byte 0x01).
    assert_eq!(json_batch["status"], json!("sealed"));
    assert_eq!(json_batch["commitTxHash"], json!(null));
    assert!(
        json_batch["blobVersionedHash"]
            .as_str()
            .is_some_and(|h| h.len() == 66 && h.starts_with("0x01")),
        "{json_batch}"
    );
    assert_eq!(
        rpc(&node, "keel_getBatchByBlock", json!(["0x2"])).await,
        json_batch
    );
    assert_eq!(
        rpc(&node, "keel_getBatchByBlock", json!(["0x3"])).await,
        Value::Null
    );

    let mut ids = Vec::new();
    for (i, hash) in withdrawals.iter().enumerate() {
        let proofs = rpc(&node, "keel_getWithdrawalProof", json!([hash])).await;
        let proofs = proofs.as_array().expect("an array");
        assert_eq!(proofs.len(), 1, "one message per withdrawal");
        let p = &proofs[0];
        assert_eq!(p["batchNumber"], json!("0x1"));
        let message_hash = b256(&p["messageHash"]);
        assert_eq!(message_hash, withdrawal_data(receivers[i], amount(i)));
        let message_id: U256 = serde_json::from_value(p["messageId"].clone()).expect("id");
        ids.push(message_id);
        let leaf = L1Message {
            sender_on_l2: keel_types::rules::L2_BRIDGE_ADDRESS,
            data: message_hash,
            message_id,
        }
        .leaf();
        assert_eq!(b256(&p["leaf"]), leaf);
        let proof: Vec<B256> = serde_json::from_value(p["proof"].clone()).expect("proof");
        assert!(
            verify_withdrawal_proof(&proof, root, leaf),
            "proof of withdrawal {i}"
        );
        // The proof does not prove another amount.
        let forged = L1Message {
            sender_on_l2: keel_types::rules::L2_BRIDGE_ADDRESS,
            data: withdrawal_data(receivers[i], amount(i) + U256::from(1)),
            message_id,
        }
        .leaf();
        assert!(!verify_withdrawal_proof(&proof, root, forged));
    }
    assert_eq!(
        ids,
        vec![U256::from(1), U256::from(2), U256::from(3)],
        "ids in order from 1"
    );

    // A tx without messages has none; an unknown tx has no proof.
    assert_eq!(
        rpc(&node, "keel_getWithdrawalProof", json!([transfer_hash])).await,
        json!([])
    );
    assert_eq!(
        rpc(
            &node,
            "keel_getWithdrawalProof",
            json!([B256::repeat_byte(7)])
        )
        .await,
        Value::Null
    );

    // Nothing new: no batch. A new block: batch 2 starts after batch 1.
    let sealer = BatchSealer::new(BatchSealerConfig::default(), node.chain.clone());
    let again = sealer.clone();
    assert!(
        tokio::task::spawn_blocking(move || again.seal_next())
            .await
            .expect("task")
            .expect("seal")
            .is_none()
    );
    produce(&node).await;
    let batch2 = tokio::task::spawn_blocking(move || sealer.seal_next())
        .await
        .expect("task")
        .expect("seal")
        .expect("batch 2");
    assert_eq!(
        (batch2.number, batch2.first_block, batch2.last_block),
        (2, 3, 3)
    );
    assert_eq!(batch2.withdrawals_root, B256::ZERO);

    // Committed, then verified on L1: the status and the L1 transactions follow the store, and a
    // verified batch keeps its commit.
    let store = node.chain.store();
    store
        .mark_batch_committed(
            1,
            &keel_storage::batches::BatchCommit {
                tx_hash: B256::repeat_byte(0xc1),
                l1_block: 7,
            },
        )
        .expect("commit");
    let committed = rpc(&node, "keel_getBatchByNumber", json!(["0x1"])).await;
    assert_eq!(committed["status"], json!("committed"));
    assert_eq!(committed["verifyTxHash"], json!(null));
    assert_eq!(committed["verifyL1Block"], json!(null));
    store
        .mark_batches_verified(
            1,
            1,
            &keel_storage::proofs::BatchVerification {
                tx_hash: B256::repeat_byte(0xd1),
                l1_block: 9,
            },
        )
        .expect("verify");
    let verified = rpc(&node, "keel_getBatchByNumber", json!(["0x1"])).await;
    assert_eq!(verified["status"], json!("verified"), "{verified}");
    assert_eq!(b256(&verified["verifyTxHash"]), B256::repeat_byte(0xd1));
    assert_eq!(verified["verifyL1Block"], json!("0x9"));
    assert_eq!(b256(&verified["commitTxHash"]), B256::repeat_byte(0xc1));
    assert_eq!(verified["commitL1Block"], json!("0x7"));
    assert_eq!(
        rpc(&node, "keel_getBatchByBlock", json!(["0x2"])).await,
        verified
    );
    assert_eq!(
        rpc(&node, "keel_getBatchByNumber", json!(["0x2"])).await["status"],
        json!("sealed")
    );
    node.stop().await;
}
