//! Transactions signed locally with every field set by the test (nothing is filled in by a
//! client), sent with `eth_sendRawTransaction` (a hash; for nodes that produce blocks on demand)
//! or `eth_sendRawTransactionSync` (the receipt), and the test contracts `RpcProbe`
//! (contracts/test/RpcProbe.sol) and `LogEmitter`.

use alloy::{
    consensus::TxEnvelope,
    eips::Encodable2718,
    network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder},
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolEvent},
};
use keel_types::{PrivilegedTx, dev::DEFAULT_L2_CHAIN_ID, rules::L2_BRIDGE_ADDRESS};
use serde_json::json;

use super::{TestNode, quantity, rpc};

sol!(
    #[sol(rpc)]
    RpcProbe,
    "../../contracts/artifacts/RpcProbe.json"
);
sol!(LogEmitter, "../../contracts/artifacts/LogEmitter.json");

pub const CHAIN_ID: u64 = DEFAULT_L2_CHAIN_ID;
pub const GWEI: u128 = 1_000_000_000;
/// A fee cap comfortably above the dev chain's base fee (1 gwei at genesis, falling while empty).
pub const MAX_FEE: u128 = 10 * GWEI;
pub const TIP: u128 = GWEI;
pub const GAS_PRICE: u128 = 5 * GWEI;

/// How a test transaction pays.
#[derive(Debug, Clone, Copy)]
pub enum Fee {
    /// EIP-1559: tip and fee cap.
    Dynamic { tip: u128, max_fee: u128 },
    /// Legacy: a gas price.
    Legacy { gas_price: u128 },
}

impl Fee {
    /// A 1559 fee with this tip and the cap [`MAX_FEE`].
    pub fn tip(tip: u128) -> Fee {
        Fee::Dynamic {
            tip,
            max_fee: MAX_FEE,
        }
    }
}

/// A request from `from` with nonce, chain id, gas limit and fee set; the caller adds the
/// recipient, input, value, access list or authorizations.
pub fn request(from: Address, nonce: u64, gas: u64, fee: Fee) -> TransactionRequest {
    let request = TransactionRequest::default()
        .with_from(from)
        .with_nonce(nonce)
        .with_chain_id(CHAIN_ID)
        .with_gas_limit(gas);
    match fee {
        Fee::Dynamic { tip, max_fee } => request
            .with_max_priority_fee_per_gas(tip)
            .with_max_fee_per_gas(max_fee),
        Fee::Legacy { gas_price } => request.with_gas_price(gas_price),
    }
}

/// The next nonce of `address`, counting its pending transactions (`eth_getTransactionCount`).
pub async fn next_nonce(node: &TestNode, address: Address) -> u64 {
    let count = rpc(node, "eth_getTransactionCount", json!([address, "pending"])).await;
    quantity(&count).try_into().expect("a u64 nonce")
}

/// An EIP-1559 request from `from` at its next nonce, paying [`TIP`] up to [`MAX_FEE`].
pub async fn request_1559(
    node: &TestNode,
    from: &PrivateKeySigner,
    gas: u64,
) -> TransactionRequest {
    let nonce = next_nonce(node, from.address()).await;
    request(from.address(), nonce, gas, Fee::tip(TIP))
}

/// Sign a complete request locally.
pub async fn sign(signer: &PrivateKeySigner, request: TransactionRequest) -> TxEnvelope {
    request
        .build(&EthereumWallet::from(signer.clone()))
        .await
        .expect("a complete, signable request")
}

/// A signed transaction from dev account `account` with an explicit nonce (no RPC needed).
pub async fn signed_tx(
    account: usize,
    nonce: u64,
    to: TxKind,
    input: Bytes,
    gas: u64,
    fee: Fee,
) -> TxEnvelope {
    let signer = TestNode::dev_signer(account);
    let mut request = request(signer.address(), nonce, gas, fee)
        .with_input(input)
        .with_value(U256::ZERO);
    request.to = Some(to);
    sign(&signer, request).await
}

/// A plain 21000-gas transaction (no value, no data) to an empty account.
pub async fn transfer(account: usize, nonce: u64, fee: Fee) -> TxEnvelope {
    let to = TxKind::Call(Address::with_last_byte(0xee));
    signed_tx(account, nonce, to, Bytes::new(), 21_000, fee).await
}

/// A call of `to` with `input` (500,000 gas, a 1 gwei tip).
pub async fn call_tx(account: usize, nonce: u64, to: Address, input: Vec<u8>) -> TxEnvelope {
    let to = TxKind::Call(to);
    signed_tx(account, nonce, to, input.into(), 500_000, Fee::tip(GWEI)).await
}

/// Send a signed transaction with `eth_sendRawTransaction`; returns its hash.
pub async fn send(node: &TestNode, tx: &TxEnvelope) -> B256 {
    let raw = Bytes::from(tx.encoded_2718());
    let hash = rpc(node, "eth_sendRawTransaction", json!([raw])).await;
    let hash: B256 = serde_json::from_value(hash).expect("a transaction hash");
    assert_eq!(hash, *tx.tx_hash());
    hash
}

/// Send a signed transaction with `eth_sendRawTransactionSync` (the node waits up to 20 s);
/// returns its receipt.
pub async fn send_sync(node: &TestNode, tx: &TxEnvelope) -> TransactionReceipt {
    let raw = Bytes::from(tx.encoded_2718());
    let receipt = rpc(node, "eth_sendRawTransactionSync", json!([raw, 20_000])).await;
    serde_json::from_value(receipt).expect("a receipt")
}

/// Sign, send and wait; the receipt must report success.
pub async fn send_ok(
    node: &TestNode,
    signer: &PrivateKeySigner,
    request: TransactionRequest,
) -> TransactionReceipt {
    let receipt = send_sync(node, &sign(signer, request).await).await;
    assert!(receipt.status(), "transaction failed: {receipt:?}");
    receipt
}

/// Call `to` with `input` from `signer` (an EIP-1559 request, 200,000 gas) and wait; the receipt
/// must report success.
pub async fn call_ok(
    node: &TestNode,
    signer: &PrivateKeySigner,
    to: Address,
    input: Vec<u8>,
) -> TransactionReceipt {
    let request = request_1559(node, signer, 200_000)
        .await
        .with_to(to)
        .with_input(input);
    send_ok(node, signer, request).await
}

/// Deploy `RpcProbe` from `signer` and wait; its address.
pub async fn deploy_probe(node: &TestNode, signer: &PrivateKeySigner) -> Address {
    let request = request_1559(node, signer, 2_000_000)
        .await
        .with_deploy_code(RpcProbe::BYTECODE.clone());
    let receipt = send_ok(node, signer, request).await;
    receipt
        .contract_address
        .expect("a deployment has a contract address")
}

/// The `LogEmitter` deployment transaction from `account` (not sent); the contract's address.
pub async fn deploy_emitter_tx(account: usize, nonce: u64) -> (TxEnvelope, Address) {
    let code = LogEmitter::BYTECODE.clone();
    let tx = signed_tx(
        account,
        nonce,
        TxKind::Create,
        code,
        1_000_000,
        Fee::tip(GWEI),
    )
    .await;
    let address = TestNode::dev_signer(account).address().create(nonce);
    (tx, address)
}

/// `LogEmitter`'s Ping event topic.
pub const PING: B256 = LogEmitter::Ping::SIGNATURE_HASH;
/// `LogEmitter`'s Pong event topic.
pub const PONG: B256 = LogEmitter::Pong::SIGNATURE_HASH;

/// `LogEmitter.ping(id, data)`: one Ping.
pub fn ping(id: u64, data: &[u8]) -> Vec<u8> {
    LogEmitter::pingCall {
        id: U256::from(id),
        data: Bytes::copy_from_slice(data),
    }
    .abi_encode()
}

/// `LogEmitter.pongs(first, count)`: `count` Pongs with ids from `first`.
pub fn pongs(first: u64, count: u64) -> Vec<u8> {
    LogEmitter::pongsCall {
        first: U256::from(first),
        count: U256::from(count),
    }
    .abi_encode()
}

/// A 32-byte word holding a number: a storage key or value, or an indexed `uint256` topic.
pub fn word(value: u64) -> B256 {
    B256::from(U256::from(value))
}

/// A topic holding an address (an indexed `address`).
pub fn address_topic(address: Address) -> B256 {
    address.into_word()
}

/// A deposit of `value` to `recipient` with privileged id `id`: the L2 bridge's `mintETH`, as
/// the L1Watcher would hand it over.
pub fn deposit(id: u64, recipient: Address, value: U256) -> PrivilegedTx {
    let mut data = keccak256("mintETH(address)")[..4].to_vec();
    data.extend_from_slice(B256::left_padding_from(recipient.as_slice()).as_slice());
    data.extend_from_slice(Address::repeat_byte(0xd0).as_slice());
    PrivilegedTx {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce: id,
        from: L2_BRIDGE_ADDRESS,
        to: L2_BRIDGE_ADDRESS,
        value,
        gas_limit: 200_000,
        data: Bytes::from(data),
    }
}

/// A 1 wei EIP-1559 transfer to 0x…aa with `nonce` and the fees given, unsigned (for tests that
/// make a transaction fail one check at a time).
pub fn transfer_1559(nonce: u64, max_fee: u128, tip: u128) -> alloy::consensus::TxEip1559 {
    alloy::consensus::TxEip1559 {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(Address::with_last_byte(0xaa)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    }
}

/// `tx` signed by `signer`, as the bytes `eth_sendRawTransaction` takes.
pub fn signed_raw(signer: &PrivateKeySigner, tx: alloy::consensus::TxEip1559) -> Vec<u8> {
    use alloy::{consensus::SignableTransaction, signers::SignerSync};
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
}
