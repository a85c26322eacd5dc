//! Preconfirmations end to end: a preconfirming BlockProducer, the RPC server, and clients that
//! send with `eth_sendRawTransactionSync`, subscribe to `preconfirmations` and read `"pending"`.
//! Every preconfirmed receipt must be the sealed block's receipt (block hash aside), and every
//! sealed block must hold exactly the preconfirmed transactions in their preconfirmed order.
//! Also: reads right after each block see that block (the shared read snapshot is never stale).

mod common;

use std::{collections::BTreeMap, time::Duration};

use alloy::{
    consensus::TxEnvelope,
    eips::Encodable2718,
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::Provider,
};
use futures::StreamExt;
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use keel_storage::StateReader;
use serde_json::{Value, json};

use common::{
    Fee, GWEI, TestNode, call_tx, deploy_emitter_tx, deposit, ping, produce, rpc, signed_tx,
};

/// Send with `eth_sendRawTransactionSync`; the receipt as JSON.
async fn send_sync(node: &TestNode, tx: &TxEnvelope) -> Value {
    let raw = Bytes::from(tx.encoded_2718());
    rpc(node, "eth_sendRawTransactionSync", json!([raw, 20_000])).await
}

/// A receipt without its block hash (and its logs' block hashes): what a preconfirmation knows.
fn without_block_hash(receipt: &Value) -> Value {
    let mut receipt = receipt.clone();
    receipt
        .as_object_mut()
        .expect("a receipt object")
        .remove("blockHash");
    if let Some(logs) = receipt["logs"].as_array_mut() {
        for log in logs {
            log.as_object_mut()
                .expect("a log object")
                .remove("blockHash");
        }
    }
    receipt
}

fn is_preconfirmed(receipt: &Value) -> bool {
    receipt["blockHash"] == json!(B256::ZERO)
}

fn number(value: &Value) -> u64 {
    common::quantity(value) as u64
}

/// Wait until `hash` has a sealed receipt; returns it.
async fn sealed_receipt(node: &TestNode, hash: &Value) -> Value {
    for _ in 0..200 {
        let receipt = rpc(node, "eth_getTransactionReceipt", json!([hash])).await;
        if !receipt.is_null() && !is_preconfirmed(&receipt) {
            return receipt;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("transaction {hash} sealed within 5 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn preconfirmed_receipts_are_the_sealed_receipts_in_the_sealed_order() {
    let node =
        TestNode::start_preconfirming(Duration::from_millis(250), Duration::from_millis(2)).await;
    let ws = node.ws_client().await;
    let mut slices = ws
        .subscribe::<_, Value>(("preconfirmations",))
        // Read only at the end: keep every slice meanwhile.
        .channel_size(1 << 16)
        .await
        .expect("subscribe preconfirmations")
        .into_stream();

    // A contract creation, then load from four accounts: transfers, calls that log, calls that
    // revert (no such function) and more creations, each account one transaction at a time.
    let (deploy, emitter) = deploy_emitter_tx(1, 0).await;
    let mut receipts = vec![send_sync(&node, &deploy).await];
    assert_eq!(receipts[0]["contractAddress"], json!(emitter));
    let node_ref = &node;
    let load = futures::future::join_all((2..6).map(|account| async move {
        let mut out = Vec::new();
        for nonce in 0..12u64 {
            let tx = match nonce % 4 {
                0 => {
                    let to = TxKind::Call(Address::with_last_byte(0xee));
                    signed_tx(account, nonce, to, Bytes::new(), 21_000, Fee::tip(GWEI)).await
                }
                1 => call_tx(account, nonce, emitter, ping(nonce, b"preconfirmed")).await,
                2 => call_tx(account, nonce, emitter, vec![0xde, 0xad, 0xbe, 0xef]).await,
                _ => deploy_emitter_tx(account, nonce).await.0,
            };
            out.push(send_sync(node_ref, &tx).await);
        }
        out
    }));
    // Deposits arrive while the load runs: each goes first into the next block.
    let deposit_ids = async {
        let mut deposits = Vec::new();
        for id in 0..3u64 {
            tokio::time::sleep(Duration::from_millis(120)).await;
            let tx = deposit(id, Address::repeat_byte(0x5e), U256::from(1_000 + id));
            deposits.push(tx.hash());
            node.mempool.add_privileged(vec![tx]);
        }
        deposits
    };
    let (sent, deposits) = tokio::join!(load, deposit_ids);
    receipts.extend(sent.into_iter().flatten());
    for hash in &deposits {
        sealed_receipt(&node, &json!(hash)).await;
    }

    // Every receipt a sender got is the sealed one; nearly all came before their block.
    let mut preconfirmed = 0;
    for receipt in &receipts {
        let sealed = sealed_receipt(&node, &receipt["transactionHash"]).await;
        assert_eq!(without_block_hash(receipt), without_block_hash(&sealed));
        preconfirmed += usize::from(is_preconfirmed(receipt));
    }
    let statuses: Vec<_> = receipts.iter().map(|r| r["status"].clone()).collect();
    assert!(statuses.contains(&json!("0x0")), "some calls revert");
    assert!(
        preconfirmed * 10 >= receipts.len() * 9,
        "{preconfirmed} of {} receipts preconfirmed",
        receipts.len()
    );

    // The slices, block by block, are exactly the sealed blocks, and their receipts the sealed
    // receipts; the deposits lead their blocks.
    let head = number(&rpc(&node, "eth_blockNumber", json!([])).await);
    let mut by_block: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    let mut last_slice: BTreeMap<u64, u64> = BTreeMap::new();
    while let Ok(Some(slice)) =
        tokio::time::timeout(Duration::from_millis(300), slices.next()).await
    {
        let block = number(&slice["blockNumber"]);
        if block > head {
            continue;
        }
        let seq = number(&slice["slice"]);
        let expected = last_slice.get(&block).map_or(0, |s| s + 1);
        assert_eq!(
            seq, expected,
            "slices of block {block} in order, none missed"
        );
        last_slice.insert(block, seq);
        by_block.entry(block).or_default().extend(
            slice["receipts"]
                .as_array()
                .expect("receipts")
                .iter()
                .cloned(),
        );
    }
    let sent: usize = by_block.values().map(Vec::len).sum();
    assert!(
        sent >= receipts.len() + deposits.len(),
        "{sent} preconfirmed"
    );
    for (block, preconfirmed) in &by_block {
        let sealed = rpc(
            &node,
            "eth_getBlockByNumber",
            json!([format!("{block:#x}"), false]),
        )
        .await;
        let sealed_hashes = sealed["transactions"].as_array().expect("hashes").clone();
        let hashes: Vec<Value> = preconfirmed
            .iter()
            .map(|r| r["transactionHash"].clone())
            .collect();
        assert_eq!(hashes, sealed_hashes, "block {block}");
        for receipt in preconfirmed {
            let sealed = sealed_receipt(&node, &receipt["transactionHash"]).await;
            assert_eq!(without_block_hash(receipt), without_block_hash(&sealed));
            assert_eq!(sealed["blockHash"], sealed["blockHash"]);
        }
        let types: Vec<bool> = preconfirmed.iter().map(|r| r["type"] == "0x7e").collect();
        let leading = types.iter().take_while(|t| **t).count();
        assert_eq!(
            leading,
            types.iter().filter(|t| **t).count(),
            "deposits first"
        );
    }
    for hash in &deposits {
        let sealed = sealed_receipt(&node, &json!(hash)).await;
        let block = number(&sealed["blockNumber"]);
        assert!(
            by_block[&block]
                .iter()
                .any(|r| r["transactionHash"] == json!(hash)),
            "deposit {hash} preconfirmed"
        );
    }
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_reads_see_preconfirmed_transactions_and_shutdown_seals_them() {
    // The first block stays open for an hour: everything sent is preconfirmed, nothing sealed.
    let node =
        TestNode::start_preconfirming(Duration::from_secs(3600), Duration::from_millis(2)).await;
    let account = 3;
    let sender = TestNode::dev_signer(account).address();
    let recipient = Address::repeat_byte(0x77);
    let request = common::request(sender, 0, 21_000, Fee::tip(GWEI))
        .with_to(recipient)
        .with_value(U256::from(1_234));
    let value_tx = common::sign(&TestNode::dev_signer(account), request).await;
    let transfer = send_sync(&node, &value_tx).await;
    assert!(is_preconfirmed(&transfer), "{transfer}");
    assert_eq!(transfer["blockNumber"], json!("0x1"));
    assert_eq!(transfer["status"], json!("0x1"));
    let (deploy, emitter) = deploy_emitter_tx(account, 1).await;
    let created = send_sync(&node, &deploy).await;
    assert_eq!(created["contractAddress"], json!(emitter));
    assert_eq!(created["transactionIndex"], json!("0x1"));

    let read = |method: &'static str, params: Value| rpc(&node, method, params);
    assert_eq!(
        read("eth_getBalance", json!([recipient, "pending"])).await,
        json!("0x4d2")
    );
    assert_eq!(
        read("eth_getBalance", json!([recipient, "latest"])).await,
        json!("0x0")
    );
    assert_eq!(
        read("eth_getTransactionCount", json!([sender, "pending"])).await,
        json!("0x2")
    );
    assert_eq!(
        read("eth_getTransactionCount", json!([sender, "latest"])).await,
        json!("0x0")
    );
    let code = read("eth_getCode", json!([emitter, "pending"])).await;
    assert!(code.as_str().expect("hex").len() > 2, "code deployed");
    assert_eq!(
        read("eth_getCode", json!([emitter, "latest"])).await,
        json!("0x")
    );
    // A call of a function the contract lacks: no code at latest (succeeds), a revert at pending.
    let bad = json!({"to": emitter, "data": "0xdeadbeef"});
    assert_eq!(read("eth_call", json!([bad, "latest"])).await, json!("0x"));
    let err = common::rpc_error(&node, "eth_call", json!([bad, "pending"])).await;
    assert_eq!(err.message, "execution reverted", "{err:?}");
    let again = read(
        "eth_getTransactionReceipt",
        json!([transfer["transactionHash"]]),
    )
    .await;
    assert_eq!(again, transfer);
    assert_eq!(node.chain.head().expect("head").0, 0, "nothing sealed yet");

    // Stopping the producer seals the block with both, in their preconfirmed order.
    node.stop_producer();
    common::wait_for_block(&node, 1).await;
    let block = rpc(&node, "eth_getBlockByNumber", json!(["0x1", false])).await;
    assert_eq!(
        block["transactions"],
        json!([transfer["transactionHash"], created["transactionHash"]])
    );
    for receipt in [&transfer, &created] {
        let sealed = sealed_receipt(&node, &receipt["transactionHash"]).await;
        assert_eq!(without_block_hash(receipt), without_block_hash(&sealed));
        assert_eq!(sealed["blockHash"], block["hash"]);
    }
    assert_eq!(
        read("eth_getBalance", json!([recipient, "latest"])).await,
        json!("0x4d2")
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_right_after_each_block_see_that_block() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let account = 4;
    let sender = TestNode::dev_signer(account).address();
    let client = node.client();
    // Warm the shared snapshot before each block.
    for nonce in 0..15u64 {
        let _ = client.get_balance(sender).await.expect("balance");
        let tx = common::transfer(account, nonce, Fee::tip(GWEI)).await;
        let hash = common::send(&node, &tx).await;
        let _ = client.get_block_number().await.expect("number");
        let (number, block_hash) = produce(&node).await;

        let stored = node
            .chain
            .store()
            .reader()
            .expect("reader")
            .account(&sender)
            .expect("read")
            .expect("funded");
        assert_eq!(client.get_block_number().await.expect("number"), number);
        let latest = rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
        assert_eq!(latest["hash"], json!(block_hash));
        assert_eq!(
            client.get_balance(sender).await.expect("balance"),
            stored.balance
        );
        assert_eq!(
            client.get_transaction_count(sender).await.expect("nonce"),
            nonce + 1
        );
        let receipt = client
            .get_transaction_receipt(hash)
            .await
            .expect("rpc")
            .expect("mined");
        assert_eq!(receipt.block_hash, Some(block_hash));
    }
    node.stop().await;
}
