//! What a crash does to preconfirmations (docs/preconfirmations.md, "Restarts and failures"):
//! `keel l2` preconfirms a transaction into a block that stays open, is SIGKILLed before the
//! block is sealed, and at the next start reports the transaction's preconfirmation as void; its
//! preconfirmed receipt is gone, and the mempool journal gave it back to the pool. A clean stop (SIGTERM) instead seals the open block first.

mod common;

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::Encodable2718,
    primitives::{Address, Bytes, TxKind, U256},
    providers::{Provider, ProviderBuilder},
    signers::{SignerSync, local::PrivateKeySigner},
};
use common::Node;
use keel_types::dev;
use serde_json::Value;

fn transfer(account: usize, nonce: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(7),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let signer = PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[account].1).expect("dev key");
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// Send with `eth_sendRawTransactionSync`; the (preconfirmed) receipt.
async fn send_sync(url: &str, raw: Bytes) -> Value {
    let p = ProviderBuilder::new().connect_http(url.parse().expect("url"));
    p.raw_request::<_, Value>("eth_sendRawTransactionSync".into(), (raw, 10_000))
        .await
        .expect("eth_sendRawTransactionSync")
}

async fn receipt(url: &str, hash: &Value) -> Value {
    let p = ProviderBuilder::new().connect_http(url.parse().expect("url"));
    p.raw_request::<_, Value>("eth_getTransactionReceipt".into(), (hash,))
        .await
        .expect("eth_getTransactionReceipt")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_drops_the_open_block_and_the_restart_reports_its_transactions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = common::write_dev_genesis(dir.path());
    let datadir = dir.path().join("data");
    // One block a minute: the block being built stays open while the test runs.
    let args = [
        "--network",
        genesis.to_str().expect("utf-8"),
        "--datadir",
        datadir.to_str().expect("utf-8"),
        "--block-producer.block-time",
        "60000",
        "--block-producer.slice-time",
        "5",
    ];
    let start = || tokio::task::block_in_place(|| Node::start(&args));

    // A clean stop seals the open block: the preconfirmed transaction survives it.
    let node = start();
    let kept = send_sync(&node.url, transfer(1, 0)).await;
    assert_eq!(
        kept["blockHash"],
        Value::from(format!("0x{}", "0".repeat(64)))
    );
    tokio::task::block_in_place(|| node.terminate());
    let node = start();
    let sealed = receipt(&node.url, &kept["transactionHash"]).await;
    assert_eq!(sealed["blockNumber"], kept["blockNumber"], "{sealed}");
    assert_ne!(sealed["blockHash"], kept["blockHash"]);

    // A crash loses the open block; the restart names the transaction whose preconfirmation
    // it voided, and the mempool journal gives that transaction back to the pool.
    let dropped = send_sync(&node.url, transfer(2, 0)).await;
    let hash = dropped["transactionHash"]
        .as_str()
        .expect("hash")
        .to_string();
    assert_eq!(dropped["status"], "0x1");
    drop(node); // SIGKILL
    let node = start();
    let reported: Vec<_> = node
        .startup
        .iter()
        .filter(|line| line.contains("never sealed") && line.contains(&hash))
        .collect();
    assert_eq!(reported.len(), 1, "{:#?}", node.startup);
    assert!(reported[0].contains("void"), "{}", reported[0]);
    // It is pending again, or already preconfirmed anew in the block open now.
    let p = ProviderBuilder::new().connect_http(node.url.parse().expect("url"));
    let tx: Value = p
        .raw_request(
            "eth_getTransactionByHash".into(),
            (&dropped["transactionHash"],),
        )
        .await
        .expect("eth_getTransactionByHash");
    assert!(!tx.is_null(), "back in the pool from the mempool journal");
    // The kept one is still there, and the journal was started afresh: a clean stop now
    // reports nothing.
    assert!(!receipt(&node.url, &kept["transactionHash"]).await.is_null());
    tokio::task::block_in_place(|| node.terminate());
    let journal = std::fs::read_to_string(datadir.join("preconfirmed.journal")).expect("journal");
    assert!(journal.is_empty(), "sealed at the clean stop: {journal:?}");
}
