//! Helpers of the block, state, call and txpool RPC tests: a plain HTTP client (no fillers, so
//! every request is one the test chose), local signing, sending with
//! `eth_sendRawTransactionSync`, and the test contract `RpcProbe` (contracts/test/RpcProbe.sol).

#![allow(dead_code)]

use std::time::Duration;

use alloy::{
    consensus::TxEnvelope,
    eips::Encodable2718,
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol,
};
use keel_types::dev::DEFAULT_L2_CHAIN_ID;

sol!(
    #[sol(rpc)]
    RpcProbe,
    "../../contracts/artifacts/RpcProbe.json"
);

pub const CHAIN_ID: u64 = DEFAULT_L2_CHAIN_ID;
/// Fees comfortably above the dev chain's base fee (1 gwei at genesis, falling while empty).
pub const MAX_FEE: u128 = 10_000_000_000;
pub const TIP: u128 = 1_000_000_000;
pub const GAS_PRICE: u128 = 5_000_000_000;

/// A client that sends exactly what the test asks for.
pub fn client(url: &str) -> DynProvider {
    ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_http(url.parse().expect("url"))
        .erased()
}

/// A JSON-RPC call with raw JSON in and out.
pub async fn raw(
    provider: &DynProvider,
    method: &'static str,
    params: serde_json::Value,
) -> serde_json::Value {
    provider
        .raw_request::<_, serde_json::Value>(method.into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method} failed: {e}"))
}

/// A JSON-RPC call expected to fail: (code, message, data).
pub async fn raw_err(
    provider: &DynProvider,
    method: &'static str,
    params: serde_json::Value,
) -> (i64, String, Option<serde_json::Value>) {
    let err = provider
        .raw_request::<_, serde_json::Value>(method.into(), params)
        .await
        .expect_err("the call must fail");
    let payload = err
        .as_error_resp()
        .unwrap_or_else(|| panic!("{method}: not an error response: {err}"));
    let data = payload
        .data
        .as_ref()
        .map(|d| serde_json::from_str(d.get()).expect("error data is JSON"));
    (payload.code, payload.message.to_string(), data)
}

/// The next nonce of `address`, counting its pending transactions.
pub async fn next_nonce(provider: &DynProvider, address: Address) -> u64 {
    provider
        .get_transaction_count(address)
        .pending()
        .await
        .expect("eth_getTransactionCount")
}

/// An EIP-1559 request from `signer` with nonce, chain id, fees and `gas` filled in.
pub async fn request_1559(
    provider: &DynProvider,
    from: &PrivateKeySigner,
    gas: u64,
) -> TransactionRequest {
    TransactionRequest::default()
        .with_from(from.address())
        .with_nonce(next_nonce(provider, from.address()).await)
        .with_chain_id(CHAIN_ID)
        .with_gas_limit(gas)
        .with_max_fee_per_gas(MAX_FEE)
        .with_max_priority_fee_per_gas(TIP)
}

/// Sign a complete request locally.
pub async fn sign(signer: &PrivateKeySigner, request: TransactionRequest) -> TxEnvelope {
    let wallet = EthereumWallet::from(signer.clone());
    request
        .build(&wallet)
        .await
        .expect("a complete, signable request")
}

/// Submit a signed transaction and wait (server side) for its receipt.
pub async fn send_sync(provider: &DynProvider, tx: &TxEnvelope) -> TransactionReceipt {
    let raw = Bytes::from(tx.encoded_2718());
    provider
        .raw_request::<_, TransactionReceipt>("eth_sendRawTransactionSync".into(), (raw, 20_000u64))
        .await
        .expect("eth_sendRawTransactionSync")
}

/// Sign, send and wait; the receipt must report success.
pub async fn send_ok(
    provider: &DynProvider,
    signer: &PrivateKeySigner,
    request: TransactionRequest,
) -> TransactionReceipt {
    let receipt = send_sync(provider, &sign(signer, request).await).await;
    assert!(receipt.status(), "transaction failed: {receipt:?}");
    receipt
}

/// Deploy `RpcProbe` from `signer`; its address.
pub async fn deploy_probe(provider: &DynProvider, signer: &PrivateKeySigner) -> Address {
    let request = request_1559(provider, signer, 2_000_000)
        .await
        .with_deploy_code(RpcProbe::BYTECODE.clone());
    let receipt = send_ok(provider, signer, request).await;
    receipt
        .contract_address
        .expect("a deployment has a contract address")
}

/// Poll until the head is at least `number`.
pub async fn wait_for_block(provider: &DynProvider, number: u64) {
    let waiting = async {
        while provider.get_block_number().await.expect("eth_blockNumber") < number {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the block within 20 s");
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Sorted owned strings, to compare with [`keys`].
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

pub fn quantity(value: &serde_json::Value) -> u64 {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("not a quantity: {value}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

pub fn word(value: u64) -> B256 {
    B256::from(U256::from(value))
}
