//! Every mempool rejection, end to end: a raw transaction sent with an alloy client to the node's
//! `eth_sendRawTransaction` comes back with geth's error message and changes nothing.

mod common;

use std::time::Duration;

use alloy::{
    consensus::{SignableTransaction, TxEip4844, TxEnvelope, TxLegacy},
    eips::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, address},
    providers::Provider,
    signers::SignerSync,
};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use keel_types::dev;

use common::{signed_raw as sign, transfer_1559 as tx};

const TO: Address = address!("0x00000000000000000000000000000000000000aa");
const GWEI: u128 = 1_000_000_000;

/// The code each rejection must come with: the execution-apis spec's where it names one
/// (docs/rpc.md, "Error codes"), else geth's -32000.
fn spec_code(message: &str) -> i64 {
    const CODES: [(&str, i64); 11] = [
        ("nonce too low", 1),
        ("nonce too high", 2),
        ("intrinsic gas too low", 800),
        ("transaction underpriced: tip needed", 802),
        ("exceeds block gas limit", 803),
        ("max priority fee per gas higher than max fee per gas", 804),
        ("max fee per gas less than block base fee", 806),
        ("insufficient funds for gas * price + value", 809),
        ("already known", 1000),
        ("invalid sender", 1001),
        ("invalid chain id for signer", 1001),
    ];
    CODES
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map_or(-32000, |(_, code)| *code)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_rejection_returns_its_error() {
    // A long block time: nothing is included while the cases run. min_tip makes "underpriced"
    // reachable; a small pool makes "pool full" reachable.
    let node = common::TestNode::start_with(
        Duration::from_secs(3600),
        MempoolConfig {
            min_tip: 1_000,
            max_txs: 3,
            ..Default::default()
        },
        RpcConfig::default(),
    )
    .await;
    let provider = node.client();
    let s = common::TestNode::dev_signer(1);
    let send = |raw: Vec<u8>| {
        let provider = provider.clone();
        async move {
            provider
                .send_raw_transaction(&raw)
                .await
                .map(|pending| *pending.tx_hash())
        }
    };
    let rejected = |raw: Vec<u8>| async move {
        let err = send(raw).await.expect_err("must be rejected");
        let rpc = err
            .as_error_resp()
            .expect("a JSON-RPC error response")
            .clone();
        assert_eq!(rpc.code, spec_code(&rpc.message), "{rpc:?}");
        rpc.message.to_string()
    };

    let mut low_gas = tx(0, 10 * GWEI, GWEI);
    low_gas.gas_limit = 20_999;
    assert!(
        rejected(sign(&s, low_gas))
            .await
            .starts_with("intrinsic gas too low")
    );

    let base_fee_msg = rejected(sign(&s, tx(0, 1, 1))).await;
    assert!(
        base_fee_msg.starts_with("max fee per gas less than block base fee"),
        "{base_fee_msg}"
    );

    assert!(
        rejected(sign(&s, tx(0, 10 * GWEI, 10)))
            .await
            .starts_with("transaction underpriced")
    );

    let mut rich = tx(0, 10 * GWEI, GWEI);
    rich.value = dev::dev_balance();
    assert!(
        rejected(sign(&s, rich))
            .await
            .starts_with("insufficient funds for gas * price + value")
    );

    let mut other_chain = tx(0, 10 * GWEI, GWEI);
    other_chain.chain_id = 1;
    assert!(
        rejected(sign(&s, other_chain))
            .await
            .starts_with("invalid chain id for signer")
    );

    // r = 0 is no valid signature.
    let mut bad_sig = sign(&s, tx(0, 10 * GWEI, GWEI));
    let n = bad_sig.len();
    bad_sig[n - 66..n - 33].copy_from_slice(&[0xa0; 33]);
    bad_sig[n - 65..n - 33].fill(0);
    let msg = rejected(bad_sig).await;
    assert!(
        msg.starts_with("invalid sender") || msg.starts_with("failed to decode"),
        "{msg}"
    );

    let mut huge = tx(0, 10 * GWEI, GWEI);
    huge.input = Bytes::from(vec![1u8; 129 * 1024]);
    huge.gas_limit = 40_000_000;
    assert!(rejected(sign(&s, huge)).await.starts_with("oversized data"));

    let blob = TxEip4844 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        max_fee_per_blob_gas: 10 * GWEI,
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        ..Default::default()
    };
    let sig = s.sign_hash_sync(&blob.signature_hash()).expect("sign");
    let raw = TxEnvelope::from(blob.into_signed(sig)).encoded_2718();
    assert!(rejected(raw).await.contains("blob transactions"));

    // A privileged transaction (type 0x7e) can't be sent over RPC.
    assert!(
        rejected(vec![0x7e, 0xc5, 0x01, 0x80, 0x80, 0x80, 0x80])
            .await
            .contains("privileged")
    );

    let legacy = TxLegacy {
        chain_id: None,
        gas_price: 10 * GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(TO),
        ..Default::default()
    };
    let sig = s.sign_hash_sync(&legacy.signature_hash()).expect("sign");
    let raw = TxEnvelope::from(legacy.into_signed(sig)).encoded_2718();
    assert!(rejected(raw).await.starts_with("only replay-protected"));

    assert!(
        rejected(vec![0x02, 0xff])
            .await
            .starts_with("failed to decode")
    );

    // Nothing so far reached the pool.
    assert!(node.mempool.is_empty());

    // Nonce, replacement and pool-full rules.
    let first = send(sign(&s, tx(0, 10 * GWEI, GWEI)))
        .await
        .expect("valid tx");
    assert_eq!(
        rejected(sign(&s, tx(0, 10 * GWEI, GWEI))).await,
        "already known"
    );
    assert_eq!(
        rejected(sign(&s, tx(0, 10 * GWEI + 1, GWEI + 1))).await,
        "replacement transaction underpriced"
    );
    let replacement = send(sign(&s, tx(0, 11 * GWEI, GWEI + GWEI / 10)))
        .await
        .expect("a 10% bump replaces");
    assert_ne!(first, replacement);
    send(sign(
        &common::TestNode::dev_signer(2),
        tx(0, 10 * GWEI, GWEI),
    ))
    .await
    .expect("second sender");
    send(sign(
        &common::TestNode::dev_signer(3),
        tx(0, 10 * GWEI, GWEI),
    ))
    .await
    .expect("third sender");
    assert!(
        rejected(sign(
            &common::TestNode::dev_signer(4),
            tx(0, 5 * GWEI, GWEI)
        ))
        .await
        .starts_with("transaction underpriced"),
        "a full pool refuses a cheaper transaction"
    );
    assert_eq!(node.mempool.len(), 3);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nonce_too_low_once_included() {
    let node = common::TestNode::start(Duration::from_millis(100)).await;
    let provider = node.client();
    let s = common::TestNode::dev_signer(5);
    let raw = sign(&s, tx(0, 10 * GWEI, GWEI));
    let hash = *provider
        .send_raw_transaction(&raw)
        .await
        .expect("accepted")
        .tx_hash();
    // Wait until the block producer took it out of the pool.
    let included = async {
        while node.mempool.get(&hash).is_some() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), included)
        .await
        .expect("included within 20 s");
    let err = provider
        .send_raw_transaction(&sign(&s, tx(0, 20 * GWEI, 2 * GWEI)))
        .await
        .expect_err("spent nonce");
    let error = err.as_error_resp().expect("JSON-RPC error");
    assert_eq!(error.code, 1, "the spec's code for nonce too low");
    let message = error.message.to_string();
    assert_eq!(
        message,
        format!("nonce too low: address {}, tx: 0 state: 1", s.address())
    );
    node.stop().await;
}
