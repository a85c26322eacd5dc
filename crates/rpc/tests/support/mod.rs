//! Helpers for the fee, log, filter and subscription tests: transactions signed locally (explicit
//! nonce, gas and fees, so no other RPC method is needed to fill them), sent with
//! `eth_sendRawTransaction`, blocks produced on demand, the `LogEmitter` test contract, and
//! raw JSON-RPC calls.

#![allow(dead_code)]

use std::time::Duration;

use alloy::{
    consensus::TxEnvelope,
    eips::eip2718::Encodable2718,
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, B256, Bytes, TxKind, U256},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use keel_storage::ChainReader;
use serde_json::{Value, json};

use crate::common::TestNode;

alloy::sol!(LogEmitter, "../../contracts/artifacts/LogEmitter.json");

pub const GWEI: u128 = 1_000_000_000;

/// How a test transaction pays.
#[derive(Debug, Clone, Copy)]
pub enum Fee {
    /// EIP-1559: tip and fee cap.
    Dynamic { tip: u128, max_fee: u128 },
    /// Legacy: a gas price.
    Legacy { gas_price: u128 },
}

impl Fee {
    /// A 1559 fee with this tip and a cap far above the base fee.
    pub fn tip(tip: u128) -> Fee {
        Fee::Dynamic {
            tip,
            max_fee: 100 * GWEI,
        }
    }
}

/// A signed transaction from dev account `account`.
pub async fn signed_tx(
    node: &TestNode,
    account: usize,
    nonce: u64,
    to: TxKind,
    input: Bytes,
    gas: u64,
    fee: Fee,
) -> TxEnvelope {
    let signer: PrivateKeySigner = TestNode::dev_signer(account);
    let mut request = TransactionRequest::default()
        .with_from(signer.address())
        .with_nonce(nonce)
        .with_chain_id(node.chain.spec().chain_id)
        .with_gas_limit(gas)
        .with_input(input)
        .with_value(U256::ZERO);
    request.to = Some(to);
    let request = match fee {
        Fee::Dynamic { tip, max_fee } => request
            .with_max_priority_fee_per_gas(tip)
            .with_max_fee_per_gas(max_fee),
        Fee::Legacy { gas_price } => request.with_gas_price(gas_price),
    };
    request
        .build(&EthereumWallet::from(signer))
        .await
        .expect("sign the transaction")
}

/// A plain 21000-gas transaction (no value, no data) to an empty account.
pub async fn transfer(node: &TestNode, account: usize, nonce: u64, fee: Fee) -> TxEnvelope {
    let to = Address::with_last_byte(0xee);
    signed_tx(
        node,
        account,
        nonce,
        TxKind::Call(to),
        Bytes::new(),
        21_000,
        fee,
    )
    .await
}

/// Send a signed transaction with `eth_sendRawTransaction`; returns its hash.
pub async fn send(node: &TestNode, tx: &TxEnvelope) -> B256 {
    let raw = Bytes::from(tx.encoded_2718());
    let hash = rpc(node, "eth_sendRawTransaction", json!([raw])).await;
    let hash: B256 = serde_json::from_value(hash).expect("a transaction hash");
    assert_eq!(hash, *tx.tx_hash());
    hash
}

/// Call `method` over HTTP and return its `result`; panics on an error response.
pub async fn rpc(node: &TestNode, method: &str, params: Value) -> Value {
    let response = rpc_response(node, method, params).await;
    match response.get("result") {
        Some(result) => result.clone(),
        None => panic!("{method} failed: {response}"),
    }
}

/// Call `method` over HTTP and return its `error` object; panics on success.
pub async fn rpc_error(node: &TestNode, method: &str, params: Value) -> Value {
    let response = rpc_response(node, method, params).await;
    match response.get("error") {
        Some(error) => error.clone(),
        None => panic!("{method} succeeded unexpectedly: {response}"),
    }
}

/// The whole JSON-RPC response object.
pub async fn rpc_response(node: &TestNode, method: &str, params: Value) -> Value {
    post(
        node,
        &json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }),
    )
    .await
}

/// POST any JSON body to the node and parse the answer.
pub async fn post(node: &TestNode, body: &Value) -> Value {
    let client = alloy::transports::http::reqwest::Client::new();
    let response = client
        .post(&node.http_url)
        .json(body)
        .send()
        .await
        .expect("HTTP request");
    let text = response.text().await.expect("HTTP body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Produce one block now (for nodes started with a long block time). Returns its number and hash.
pub async fn produce(node: &TestNode) -> (u64, B256) {
    let producer = node.producer.clone();
    let built = tokio::task::spawn_blocking(move || producer.produce_block())
        .await
        .expect("producer task")
        .expect("produce a block")
        .expect("a block (empty blocks are not skipped)");
    (built.block.header.number, built.hash)
}

/// Wait until the producer's first tick made block 1, so that nothing else is produced
/// behind the test's back on a node with a long block time.
pub async fn wait_for_block(node: &TestNode, number: u64) {
    let reached = async {
        loop {
            if node.chain.head().expect("head").0 >= number {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), reached)
        .await
        .unwrap_or_else(|_| panic!("block {number} within 30 s"));
}

/// Wait until `hash` is in a canonical block; returns the block's number and hash.
pub async fn wait_mined(node: &TestNode, hash: B256) -> (u64, B256) {
    let mined = async {
        loop {
            let reader = node.chain.store().reader().expect("reader");
            if let Some((block, _)) = reader.tx_location(&hash).expect("tx lookup") {
                let number = reader
                    .block_number(&block)
                    .expect("block number")
                    .expect("known block");
                return (number, block);
            }
            drop(reader);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), mined)
        .await
        .unwrap_or_else(|_| panic!("transaction {hash} mined within 30 s"))
}

/// The `LogEmitter` deployment transaction from `account`; the contract's address.
pub async fn deploy_emitter_tx(
    node: &TestNode,
    account: usize,
    nonce: u64,
) -> (TxEnvelope, Address) {
    let tx = signed_tx(
        node,
        account,
        nonce,
        TxKind::Create,
        LogEmitter::BYTECODE.clone(),
        1_000_000,
        Fee::tip(GWEI),
    )
    .await;
    let address = TestNode::dev_signer(account).address().create(nonce);
    (tx, address)
}

/// A call of `emitter` with `input` (an ABI-encoded `LogEmitter` call).
pub async fn call_tx(
    node: &TestNode,
    account: usize,
    nonce: u64,
    emitter: Address,
    input: Vec<u8>,
) -> TxEnvelope {
    signed_tx(
        node,
        account,
        nonce,
        TxKind::Call(emitter),
        input.into(),
        500_000,
        Fee::tip(GWEI),
    )
    .await
}

/// A topic holding a number (an indexed `uint256`).
pub fn uint_topic(n: u64) -> B256 {
    B256::from(U256::from(n))
}

/// A topic holding an address (an indexed `address`).
pub fn address_topic(address: Address) -> B256 {
    address.into_word()
}

/// Parse a JSON quantity.
pub fn quantity(value: &Value) -> u128 {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("not a quantity: {value}"));
    u128::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}
