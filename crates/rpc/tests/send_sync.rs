//! `eth_sendRawTransactionSync` (EIP-7966): the receipt once included, error 4 with the hash on
//! timeout, and the mempool's error at once for a bad transaction.

mod common;

use std::time::Duration;

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::Encodable2718,
    primitives::{B256, Bytes, TxKind, U256, address},
    providers::Provider,
    rpc::types::TransactionReceipt,
    signers::SignerSync,
};
use keel_types::dev;

fn transfer(signer: usize, nonce: u64) -> Bytes {
    let tx = TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(address!("0x00000000000000000000000000000000000000cc")),
        value: U256::from(42),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = common::TestNode::dev_signer(signer)
        .sign_hash_sync(&tx.signature_hash())
        .expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

#[tokio::test(flavor = "multi_thread")]
async fn returns_the_receipt_once_included() {
    let node = common::TestNode::start(Duration::from_millis(150)).await;
    let provider = node.client();
    let raw = transfer(6, 0);
    let receipt: TransactionReceipt = provider
        .raw_request("eth_sendRawTransactionSync".into(), (raw.clone(),))
        .await
        .expect("receipt");
    assert!(receipt.status());
    assert_eq!(receipt.from, dev::DEV_ACCOUNTS[6].0);
    let number = receipt.block_number.expect("mined");
    assert!(number >= 1);
    // The same receipt as eth_getTransactionReceipt gives.
    let again = provider
        .get_transaction_receipt(receipt.transaction_hash)
        .await
        .expect("rpc")
        .expect("receipt");
    assert_eq!(again.block_hash, receipt.block_hash);
    assert_eq!(
        provider
            .get_balance(address!("0x00000000000000000000000000000000000000cc"))
            .await
            .expect("balance"),
        U256::from(42)
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn times_out_with_code_4_and_rejects_bad_transactions_at_once() {
    // No block for an hour: the transaction stays pending.
    let node = common::TestNode::start(Duration::from_secs(3600)).await;
    let provider = node.client();
    let err = provider
        .raw_request::<_, TransactionReceipt>(
            "eth_sendRawTransactionSync".into(),
            (transfer(7, 0), 300u64),
        )
        .await
        .expect_err("times out");
    let resp = err.as_error_resp().expect("JSON-RPC error").clone();
    assert_eq!(resp.code, 4, "{resp:?}");
    let hash: B256 = serde_json::from_str(resp.data.expect("tx hash as data").get()).expect("hash");
    assert!(node.mempool.get(&hash).is_some(), "still in the pool");

    let err = provider
        .raw_request::<_, TransactionReceipt>(
            "eth_sendRawTransactionSync".into(),
            (transfer(7, 0),),
        )
        .await
        .expect_err("duplicate");
    assert_eq!(err.as_error_resp().expect("error").message, "already known");
    node.stop().await;
}
