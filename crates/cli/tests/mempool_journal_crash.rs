//! The mempool journal is written ahead (docs/node.md, "Restart"): a transaction
//! `eth_sendRawTransaction` acknowledged is in `DIR/txpool.journal` before the answer, so a
//! SIGKILL of `keel l2` before any block includes it loses nothing: the restarted node has it in
//! its pool (or already in a block), with no nonce gap, and includes it.

mod common;

use std::time::{Duration, Instant};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::{SignerSync, local::PrivateKeySigner},
};
use common::Node;
use keel_types::dev;
use serde_json::{Value, json};

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

fn provider(node: &Node) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(node.url.parse().expect("url"))
        .erased()
}

async fn rpc(p: &DynProvider, method: &'static str, params: Value) -> Value {
    p.raw_request(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_transactions_survive_a_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let genesis = common::write_dev_genesis(dir.path());
    let datadir = dir.path().join("data");
    let node_args = |block_time: &'static str| {
        [
            "--network".to_string(),
            genesis.to_str().expect("utf-8").to_string(),
            "--datadir".to_string(),
            datadir.to_str().expect("utf-8").to_string(),
            "--block-producer.block-time".to_string(),
            block_time.to_string(),
        ]
    };
    let start = |block_time: &'static str| {
        let args = node_args(block_time);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tokio::task::block_in_place(|| Node::start(&args))
    };

    // No block for an hour after the first: the transactions wait in the pool.
    let node = start("3600000");
    let p = provider(&node);
    let mut sent: Vec<B256> = Vec::new();
    for (account, nonce) in [(1, 0), (1, 1), (1, 2), (2, 0), (3, 0)] {
        let hash = rpc(
            &p,
            "eth_sendRawTransaction",
            json!([transfer(account, nonce)]),
        )
        .await;
        sent.push(serde_json::from_value(hash).expect("a hash"));
    }
    for hash in &sent {
        let tx = rpc(&p, "eth_getTransactionByHash", json!([hash])).await;
        assert!(tx["blockHash"].is_null(), "pending before the kill: {tx}");
    }
    drop(node); // SIGKILL

    // Restarted (its first block may take them at once): each is pending or in a block.
    let node = start("3600000");
    let p = provider(&node);
    for hash in &sent {
        let tx = rpc(&p, "eth_getTransactionByHash", json!([hash])).await;
        assert!(
            !tx.is_null(),
            "acknowledged tx {hash} lost by the SIGKILL: neither in a block nor in the pool"
        );
    }
    let nonce = rpc(
        &p,
        "eth_getTransactionCount",
        json!([dev::DEV_ACCOUNTS[1].0, "pending"]),
    )
    .await;
    assert_eq!(nonce, json!("0x3"), "no nonce gap for account 1");
    drop(node); // SIGKILL again: the rewritten journal still holds them

    // With blocks again, every one is included.
    let node = start("200");
    let p = provider(&node);
    let deadline = Instant::now() + Duration::from_secs(30);
    for hash in &sent {
        loop {
            let receipt = rpc(&p, "eth_getTransactionReceipt", json!([hash])).await;
            if !receipt.is_null() {
                assert_eq!(receipt["status"], "0x1", "{receipt}");
                break;
            }
            assert!(Instant::now() < deadline, "{hash} not included in 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    tokio::task::block_in_place(|| node.terminate());
}
