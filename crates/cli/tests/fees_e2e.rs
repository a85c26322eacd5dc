//! Issue 18, "Fees that pay for L1", end to end: the real `keel` binary on a real L1 (anvil, 1 s
//! blocks, real blobs), with L1 prices the test controls.
//!
//! - **The chain.** `keel l2 genesis` builds it with the fee rule on: the default scalars, the
//!   L1-fee vault 0x…1A, and a nonzero operator fee (1,000 wei per gas plus 1,000 gwei per
//!   transaction) to the operator-fee vault 0x…1B. `TestL1` deploys keel's contracts for it.
//! - **The prices.** anvil's blob base fee stays at 1 wei, so the node reads L1 through a
//!   JSON-RPC proxy (`common::price_proxy`). The proxy answers `eth_blobBaseFee` with a level the
//!   test sets (A = 2 gwei, then B = 20 gwei) and L1 blocks with a base fee of 1 gwei. With
//!   50 ms blocks the L2 prices, which move at most an eighth per block, reach each level within
//!   seconds; the test waits until the `GasPriceOracle`'s `blobBaseFee()` shows it.
//! - **The transactions.** At each level: two transfers and a contract call
//!   (`LogEmitter.ping` with 200 bytes of data). Checks:
//!   - each receipt's `l1Fee` is the fee rule's, from its own fields and the signed size, at the
//!     level's prices, which are the ones its block's `extraData` carries;
//!   - the fees at B follow the price: per kind, `l1Fee(B) / l1Fee(A)` is within 10% of the
//!     ratio of the per-byte prices;
//!   - each sender's balance fell by exactly `gasUsed × effectiveGasPrice + value + l1Fee +
//!     operatorFee` (balances at the block before and at the transaction's block, one
//!     transaction of that sender in the block);
//!   - the vaults hold exactly the sums of `l1Fee` and `operatorFeeConstant + operatorFeeScalar ×
//!     gasUsed` over every receipt of the chain;
//!   - each block's prices moved at most an eighth from its parent's.
//! - **getL1Fee.** For every transaction the oracle's `getL1Fee(unsigned EIP-2718 encoding)` is
//!   asked before sending (at the head) and again at the inclusion block's state (its prices
//!   exactly: the oracle holds them from the block's start). Both agree with the receipt within
//!   the rounding docs/fees.md documents (2 bytes of estimated size at the block's prices, plus
//!   1 wei of integer rounding); `getOperatorFee(gasUsed)` equals the receipt's operator fee.
//! - **The mempool refusal.** An account funded with exactly what its transaction's gas, value
//!   and most operator fee need, but not its L1 fee, is refused with the missing amount, which is
//!   the L1 fee.
//! - **Reproduced elsewhere.** The node commits its batches to L1; a `keel l2 prover` process
//!   (exec backend: stateless execution of each batch) proves them and the node verifies them on
//!   L1 up to the batch of the last transaction. Then `keel l2 reconstruct` from L1 gives the
//!   node's block and state root at the last batch committed, and `keel export` + `keel import`
//!   into a fresh datadir give the node's head.
//!
//! Takes about 30 s.

mod common;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{BlockId, Encodable2718},
    primitives::{Address, B256, Bytes, TxKind, U256, address},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
    sol,
    sol_types::SolCall,
};
use common::{
    keel, key,
    l1::{TestL1, l1_last_committed, l1_last_verified},
    price_proxy::{Overrides, PriceProxy, rewrite},
    proofs::{node_args, start, wait_verified, with_flag},
    prover::Prover,
    stdout_of, text, wait_until,
};
use keel_storage::{ChainReader, Store};
use keel_types::{
    FeeParams, FeeScalars, L1Prices,
    dev::{self, DEFAULT_L2_CHAIN_ID},
    fees::{DEFAULT_FEE_PARAMS, GAS_PRICE_ORACLE_ADDRESS, SIZE_COEFFICIENT},
};
use serde_json::{Value, json};

const GWEI: u128 = 1_000_000_000;
/// The first blob base fee level the proxy reports.
const LEVEL_A: u128 = 2 * GWEI;
/// The second one, ten times higher.
const LEVEL_B: u128 = 20 * GWEI;
/// The L1 base fee the proxy reports throughout: the genesis's starting price, so it never moves.
const L1_BASE_FEE: u128 = GWEI;
const L1_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001A");
const OPERATOR_FEE_VAULT: Address = address!("0x420000000000000000000000000000000000001B");
/// The chain's operator fee: wei per gas used, and per transaction.
const OPERATOR_FEE_SCALAR: u64 = 1_000;
const OPERATOR_FEE_CONSTANT: u64 = 1_000_000_000_000;
/// The priority fee of the test's transactions (to the coinbase, the zero address).
const TIP: u128 = 1_000;

sol! {
    #[sol(rpc)]
    interface IGasPriceOracle {
        function getL1Fee(bytes unsignedTx) external view returns (uint256);
        function getOperatorFee(uint256 gasUsed) external view returns (uint256);
        function l1BaseFee() external view returns (uint256);
        function blobBaseFee() external view returns (uint256);
        function baseFeeScalar() external view returns (uint32);
        function blobBaseFeeScalar() external view returns (uint32);
    }

    interface ILogEmitter {
        function ping(uint256 id, bytes data) external;
    }
}

/// One ordinary transaction the test sent, and its receipt.
struct Sent {
    label: String,
    /// "transfer 1", "transfer 2", "call": the same kind at both levels.
    kind: &'static str,
    level: Option<u128>,
    from: Address,
    value: U256,
    /// Length of the signed EIP-2718 encoding.
    signed_len: usize,
    /// Length of the unsigned encoding given to `getL1Fee`.
    unsigned_len: usize,
    /// `getL1Fee(unsigned)` at the head just before sending.
    quoted_before: U256,
    /// `getL1Fee(unsigned)` at the inclusion block's state.
    quoted_at_block: U256,
    block: u64,
    receipt: Value,
}

impl Sent {
    fn field(&self, name: &str) -> U256 {
        quantity(&self.receipt, name)
    }

    /// The fee params the receipt says its block charged at.
    fn params(&self) -> FeeParams {
        let u64_of = |name: &str| u64::try_from(self.field(name)).expect("fits u64");
        let u32_of = |name: &str| u32::try_from(self.field(name)).expect("fits u32");
        FeeParams {
            prices: L1Prices {
                base_fee: u64_of("l1GasPrice"),
                blob_base_fee: u64_of("l1BlobBaseFee"),
            },
            scalars: FeeScalars {
                base_fee_scalar: u32_of("l1BaseFeeScalar"),
                blob_base_fee_scalar: u32_of("l1BlobBaseFeeScalar"),
                operator_fee_scalar: u64_of("operatorFeeScalar"),
                operator_fee_constant: u64_of("operatorFeeConstant"),
            },
        }
    }

    fn gas_used(&self) -> u64 {
        u64::try_from(self.field("gasUsed")).expect("fits u64")
    }

    fn l1_fee(&self) -> U256 {
        self.field("l1Fee")
    }

    fn operator_fee(&self) -> U256 {
        operator_fee_of(&self.receipt)
    }
}

/// A hex quantity field of a JSON-RPC object.
fn quantity(object: &Value, name: &str) -> U256 {
    let hex = object[name]
        .as_str()
        .unwrap_or_else(|| panic!("expected a hex quantity {name:?} in {object}"));
    U256::from_str_radix(hex.trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("{name} = {hex:?} is not a hex quantity: {e}"))
}

/// `operatorFeeConstant + operatorFeeScalar × gasUsed` of a receipt (docs/fees.md).
fn operator_fee_of(receipt: &Value) -> U256 {
    quantity(receipt, "operatorFeeConstant")
        + quantity(receipt, "operatorFeeScalar") * quantity(receipt, "gasUsed")
}

/// `16 × baseFeeScalar × l1BaseFee + blobBaseFeeScalar × blobBaseFee`: the price of an estimated
/// byte, × 10^12.
fn scaled_price(params: &FeeParams) -> U256 {
    U256::from(16) * U256::from(params.scalars.base_fee_scalar) * U256::from(params.prices.base_fee)
        + U256::from(params.scalars.blob_base_fee_scalar) * U256::from(params.prices.blob_base_fee)
}

/// The rounding docs/fees.md documents between `getL1Fee(unsigned)` and the receipt: 2 bytes of
/// estimated size at the block's prices, plus 1 wei of integer rounding.
fn rounding_bound(params: &FeeParams) -> U256 {
    U256::from(2u64 * SIZE_COEFFICIENT as u64) * scaled_price(params)
        / U256::from(1_000_000_000_000u64)
        + U256::from(1)
}

fn as_f64(v: U256) -> f64 {
    u128::try_from(v).expect("fits u128") as f64
}

fn l2_provider(url: &str) -> DynProvider {
    ProviderBuilder::new()
        .connect_http(url.parse().expect("url"))
        .erased()
}

async fn oracle_prices(l2: &DynProvider, block: BlockId) -> (U256, U256) {
    let oracle = IGasPriceOracle::new(GAS_PRICE_ORACLE_ADDRESS, l2);
    let base = oracle
        .l1BaseFee()
        .block(block)
        .call()
        .await
        .expect("l1BaseFee()");
    let blob = oracle
        .blobBaseFee()
        .block(block)
        .call()
        .await
        .expect("blobBaseFee()");
    (base, blob)
}

async fn get_l1_fee(l2: &DynProvider, unsigned: &[u8], block: BlockId) -> U256 {
    IGasPriceOracle::new(GAS_PRICE_ORACLE_ADDRESS, l2)
        .getL1Fee(Bytes::copy_from_slice(unsigned))
        .block(block)
        .call()
        .await
        .expect("getL1Fee(bytes)")
}

/// Sets the proxy's blob base fee to `level` and waits until the oracle (the head's prices) shows
/// it; prints how long the L2 price took.
async fn move_to_level(l2: &DynProvider, proxy: &PriceProxy, level: u128, name: &str) {
    let (_, before) = oracle_prices(l2, BlockId::latest()).await;
    let from_block = l2.get_block_number().await.expect("head");
    proxy.set_blob_base_fee(Some(level));
    let took = wait_until(
        &format!("the oracle's blobBaseFee() at level {name} = {level} wei"),
        Duration::from_secs(90),
        || async { oracle_prices(l2, BlockId::latest()).await.1 == U256::from(level) },
    )
    .await;
    let to_block = l2.get_block_number().await.expect("head");
    eprintln!(
        "level {name}: L1 blob base fee {level} wei; the L2 price went from {before} to {level} \
         wei in {} blocks ({took:.1?})",
        to_block - from_block
    );
}

/// What a transaction of the test does, and what the test calls it.
struct Spec {
    to: TxKind,
    value: U256,
    input: Bytes,
    label: String,
    kind: &'static str,
    /// The blob base fee level it is sent at (`None`: on the way to one).
    level: Option<u128>,
}

/// Builds, quotes (`getL1Fee` at the head), signs and sends one EIP-1559 transaction, and waits
/// for its receipt.
async fn send(l2: &DynProvider, signer: &PrivateKeySigner, spec: Spec) -> Sent {
    let Spec {
        to,
        value,
        input,
        label,
        kind,
        level,
    } = spec;
    let from = signer.address();
    let nonce = l2.get_transaction_count(from).await.expect("nonce");
    let base_fee = l2
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("head block")
        .expect("a head")
        .header
        .base_fee_per_gas
        .expect("a base fee");
    let mut request = TransactionRequest::default()
        .from(from)
        .value(value)
        .input(input.clone().into());
    request.to = Some(to);
    let gas_limit = l2.estimate_gas(request).await.expect("eth_estimateGas");
    let tx = TxEip1559 {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 2 * u128::from(base_fee) + TIP,
        max_priority_fee_per_gas: TIP,
        to,
        value,
        access_list: Default::default(),
        input,
    };
    let unsigned = tx.encoded_for_signing();
    let quoted_before = get_l1_fee(l2, &unsigned, BlockId::latest()).await;
    let signature = signer
        .sign_hash_sync(&tx.signature_hash())
        .expect("sign the transaction");
    let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    let hash = *l2
        .send_raw_transaction(&raw)
        .await
        .unwrap_or_else(|e| panic!("{label}: expected the node to accept the transaction: {e}"))
        .tx_hash();
    let receipt = common::wait_l2_receipt(l2, hash, Duration::from_secs(30)).await;
    assert_eq!(
        receipt["status"], "0x1",
        "{label}: expected a successful receipt: {receipt}"
    );
    let block = u64::try_from(quantity(&receipt, "blockNumber")).expect("fits u64");
    let quoted_at_block = get_l1_fee(l2, &unsigned, BlockId::number(block)).await;
    Sent {
        label,
        kind,
        level,
        from,
        value,
        signed_len: raw.len(),
        unsigned_len: unsigned.len(),
        quoted_before,
        quoted_at_block,
        block,
        receipt,
    }
}

fn signer(i: usize) -> PrivateKeySigner {
    key(i).parse().expect("dev key")
}

fn log_emitter_code() -> Bytes {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contracts/artifacts/LogEmitter.json"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("artifact")).expect("json");
    json["bytecode"]
        .as_str()
        .expect("bytecode")
        .parse()
        .expect("hex bytecode")
}

/// The transfers and the contract call of one level, each from its own sender.
async fn send_level(l2: &DynProvider, emitter: Address, level: u128, name: &str) -> Vec<Sent> {
    let mut sent = Vec::new();
    for (i, kind) in [(1usize, "transfer 1"), (2, "transfer 2")] {
        let to = Address::repeat_byte(0xa0 + i as u8);
        let spec = Spec {
            to: TxKind::Call(to),
            value: U256::from(12_345_678_900_000u64),
            input: Bytes::new(),
            label: format!("{kind} at {name}"),
            kind,
            level: Some(level),
        };
        sent.push(send(l2, &signer(i), spec).await);
    }
    let call = ILogEmitter::pingCall {
        id: U256::from(level),
        data: vec![0x5a; 200].into(),
    };
    let spec = Spec {
        to: TxKind::Call(emitter),
        value: U256::ZERO,
        input: call.abi_encode().into(),
        label: format!("LogEmitter.ping(200 bytes) at {name}"),
        kind: "call",
        level: Some(level),
    };
    sent.push(send(l2, &signer(3), spec).await);
    sent
}

/// Every check of one transaction's charge against its receipt, its block and the balances.
async fn check_charge(l2: &DynProvider, sent: &Sent) {
    let label = &sent.label;
    let params = sent.params();
    let l1_fee = sent.l1_fee();
    let operator_fee = sent.operator_fee();
    // The receipt's fields are the chain's scalars and its block's prices.
    assert_eq!(
        params.scalars,
        FeeScalars {
            operator_fee_scalar: OPERATOR_FEE_SCALAR,
            operator_fee_constant: OPERATOR_FEE_CONSTANT,
            ..DEFAULT_FEE_PARAMS.scalars
        },
        "{label}: expected the genesis's scalars in the receipt: {}",
        sent.receipt
    );
    let block: Value = l2
        .raw_request(
            "eth_getBlockByNumber".into(),
            (format!("{:#x}", sent.block), false),
        )
        .await
        .expect("eth_getBlockByNumber");
    let extra: Bytes = serde_json::from_value(block["extraData"].clone()).expect("extraData");
    assert_eq!(
        L1Prices::from_extra_data(&extra),
        Ok(params.prices),
        "{label}: expected block {}'s extraData to carry the receipt's L1 prices",
        sent.block
    );
    if let Some(level) = sent.level {
        assert_eq!(
            params.prices,
            L1Prices {
                base_fee: L1_BASE_FEE as u64,
                blob_base_fee: level as u64,
            },
            "{label}: expected the level's prices (L1 base fee {L1_BASE_FEE}, blob base fee \
             {level})"
        );
    }
    // The fee rule, from the receipt's own fields and the signed size.
    assert!(
        l1_fee > U256::ZERO,
        "{label}: expected a nonzero l1Fee: {}",
        sent.receipt
    );
    assert_eq!(
        l1_fee,
        params.l1_fee(sent.signed_len),
        "{label}: expected l1Fee = estimatedSize({} bytes) × price / 10^12",
        sent.signed_len
    );
    assert_eq!(
        sent.field("l1GasUsed"),
        params.l1_gas_used(sent.signed_len),
        "{label}: expected l1GasUsed = 16 × estimatedSize({} bytes)",
        sent.signed_len
    );
    assert_eq!(
        operator_fee,
        U256::from(OPERATOR_FEE_CONSTANT)
            + U256::from(OPERATOR_FEE_SCALAR) * U256::from(sent.gas_used()),
        "{label}: expected the genesis's operator fee for {} gas",
        sent.gas_used()
    );
    let oracle_operator_fee = IGasPriceOracle::new(GAS_PRICE_ORACLE_ADDRESS, l2)
        .getOperatorFee(U256::from(sent.gas_used()))
        .block(BlockId::number(sent.block))
        .call()
        .await
        .expect("getOperatorFee");
    assert_eq!(
        oracle_operator_fee, operator_fee,
        "{label}: expected the oracle's getOperatorFee(gasUsed) to be the receipt's operator fee"
    );

    // getL1Fee(unsigned) against the receipt: the signature rounding only.
    let bound = rounding_bound(&params);
    for (when, quoted) in [
        ("at the inclusion block", sent.quoted_at_block),
        ("at the head before sending", sent.quoted_before),
    ] {
        let diff = if quoted > l1_fee {
            quoted - l1_fee
        } else {
            l1_fee - quoted
        };
        assert!(
            diff <= bound,
            "{label}: expected getL1Fee(unsigned) {when} ({quoted}) within {bound} wei (2 bytes of \
             estimated size at the block's prices) of the receipt's l1Fee {l1_fee}"
        );
    }

    // The sender's balance fell by exactly gas × price + value + l1Fee + operatorFee: its one
    // transaction in the block.
    let full: Value = l2
        .raw_request(
            "eth_getBlockByNumber".into(),
            (format!("{:#x}", sent.block), true),
        )
        .await
        .expect("eth_getBlockByNumber");
    let from_sender = full["transactions"]
        .as_array()
        .expect("transactions")
        .iter()
        .filter(|tx| tx["from"].as_str().and_then(|a| a.parse::<Address>().ok()) == Some(sent.from))
        .count();
    assert_eq!(
        from_sender, 1,
        "{label}: expected one transaction of its sender in block {}",
        sent.block
    );
    let before = l2
        .get_balance(sent.from)
        .block_id(BlockId::number(sent.block - 1))
        .await
        .expect("balance");
    let after = l2
        .get_balance(sent.from)
        .block_id(BlockId::number(sent.block))
        .await
        .expect("balance");
    let gas = U256::from(sent.gas_used()) * sent.field("effectiveGasPrice");
    let want = gas + sent.value + l1_fee + operator_fee;
    assert_eq!(
        before - after,
        want,
        "{label}: expected the sender's balance to fall by gasUsed × effectiveGasPrice ({gas}) + \
         value ({}) + l1Fee ({l1_fee}) + operatorFee ({operator_fee})",
        sent.value
    );
}

/// What a fresh account can't pay: funded for its transaction's gas, value and most operator fee
/// but not the L1 fee, the mempool refuses it with the missing amount, which is the L1 fee. The
/// funding transaction is returned (it is charged as any other).
async fn refused_without_the_l1_fee(l2: &DynProvider) -> Sent {
    let poor: PrivateKeySigner =
        PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).expect("key");
    let base_fee = l2
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .expect("head block")
        .expect("a head")
        .header
        .base_fee_per_gas
        .expect("a base fee");
    let gas_limit = 21_000u64;
    let value = U256::from(1);
    let tx = TxEip1559 {
        chain_id: DEFAULT_L2_CHAIN_ID,
        nonce: 0,
        gas_limit,
        max_fee_per_gas: 2 * u128::from(base_fee) + TIP,
        max_priority_fee_per_gas: TIP,
        to: TxKind::Call(Address::repeat_byte(0xbb)),
        value,
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let without_l1_fee = U256::from(gas_limit) * U256::from(tx.max_fee_per_gas)
        + value
        + U256::from(OPERATOR_FEE_CONSTANT)
        + U256::from(OPERATOR_FEE_SCALAR) * U256::from(gas_limit);
    let spec = Spec {
        to: TxKind::Call(poor.address()),
        value: without_l1_fee,
        input: Bytes::new(),
        label: "funding (gas + value + operator fee)".into(),
        kind: "funding",
        level: None,
    };
    let funding = send(l2, &signer(5), spec).await;
    let quoted = get_l1_fee(l2, &tx.encoded_for_signing(), BlockId::latest()).await;
    let signature = poor.sign_hash_sync(&tx.signature_hash()).expect("sign");
    let raw = TxEnvelope::from(tx.into_signed(signature)).encoded_2718();
    let error = l2
        .send_raw_transaction(&raw)
        .await
        .map(|pending| *pending.tx_hash())
        .expect_err("expected the mempool to refuse a sender who can't pay the L1 fee")
        .to_string();
    // "... have H want W (missing M wei; L1 fee F wei, operator fee at most O wei)"
    let number_after = |label: &str| -> U256 {
        let rest = error
            .split(label)
            .nth(1)
            .unwrap_or_else(|| panic!("expected {label:?} in the refusal: {error}"));
        rest.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("expected a number after {label:?} in the refusal: {error}"))
    };
    assert!(
        error.contains("insufficient funds"),
        "expected an insufficient-funds refusal: {error}"
    );
    let missing = number_after("missing ");
    let l1_fee = number_after("; L1 fee ");
    assert_eq!(
        missing, l1_fee,
        "expected the missing amount to be exactly the L1 fee: {error}"
    );
    assert!(
        l1_fee > U256::ZERO,
        "expected a nonzero L1 fee in the refusal: {error}"
    );
    let head_prices = funding.params();
    let diff = if quoted > l1_fee {
        quoted - l1_fee
    } else {
        l1_fee - quoted
    };
    assert!(
        diff <= rounding_bound(&head_prices),
        "expected the refusal's L1 fee {l1_fee} within the signature rounding of getL1Fee \
         {quoted}"
    );
    assert_eq!(
        l2.get_balance(poor.address()).await.expect("balance"),
        without_l1_fee,
        "expected the refused account to keep its whole balance"
    );
    eprintln!("mempool refusal: {error}");
    funding
}

/// The head's block number and hash, and the state root, of a stopped node's datadir.
fn head_of(datadir: &Path) -> (u64, B256, B256) {
    let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
    let (hash, header) = store
        .reader()
        .expect("reader")
        .head()
        .expect("read")
        .expect("a head");
    (header.number, hash, header.state_root)
}

/// Block `number`'s hash and state root in a stopped node's datadir.
fn block_of(datadir: &Path, number: u64) -> (B256, B256) {
    let store = Store::open(datadir.join("keel.redb")).expect("open the datadir");
    let reader = store.reader().expect("reader");
    let hash = reader
        .canonical_hash(number)
        .expect("read")
        .unwrap_or_else(|| panic!("expected a block {number} in {}", datadir.display()));
    let header = reader.header(&hash).expect("read").expect("the header");
    (hash, header.state_root)
}

#[test]
fn the_price_proxy_rewrites_single_and_batch_answers_and_nothing_else() {
    let both = Overrides {
        blob_base_fee: Some(20),
        base_fee: Some(7),
    };
    let run = |request: Value, answer: Value, overrides: Overrides| -> (Value, u64) {
        let (out, n) = rewrite(
            &serde_json::to_vec(&request).unwrap(),
            &serde_json::to_vec(&answer).unwrap(),
            overrides,
        );
        (serde_json::from_slice(&out).unwrap(), n)
    };
    let blob = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blobBaseFee", "params": []});
    let (out, n) = run(blob.clone(), json!({"id": 1, "result": "0x1"}), both);
    assert_eq!(
        (out["result"].clone(), n),
        (json!("0x14"), 1),
        "expected eth_blobBaseFee answered with the level set (20 = 0x14)"
    );
    let (out, n) = run(
        blob.clone(),
        json!({"id": 1, "result": "0x1"}),
        Overrides::default(),
    );
    assert_eq!(
        (out["result"].clone(), n),
        (json!("0x1"), 0),
        "expected no rewrite with nothing set"
    );
    let block = json!({"id": "b", "method": "eth_getBlockByNumber", "params": ["latest", false]});
    let batch = json!([block, blob, {"id": 3, "method": "eth_chainId"}]);
    let answers = json!([
        {"id": 3, "result": "0x7a69"},
        {"id": 1, "result": "0x1"},
        {"id": "b", "result": {"number": "0x5", "baseFeePerGas": "0x3b9aca00"}},
    ]);
    let (out, n) = run(batch, answers, both);
    assert_eq!(n, 2, "expected two answers of the batch rewritten: {out}");
    assert_eq!(
        out[0]["result"],
        json!("0x7a69"),
        "expected eth_chainId untouched"
    );
    assert_eq!(
        out[1]["result"],
        json!("0x14"),
        "expected the batch's eth_blobBaseFee rewritten, matched by id"
    );
    assert_eq!(
        out[2]["result"]["baseFeePerGas"],
        json!("0x7"),
        "expected the block's baseFeePerGas rewritten"
    );
    assert_eq!(
        out[2]["result"]["number"],
        json!("0x5"),
        "expected the block's other fields untouched"
    );
    // An error answer and a missing block stay as they are.
    let (out, n) = run(
        json!({"id": 9, "method": "eth_blobBaseFee"}),
        json!({"id": 9, "error": {"code": -32000, "message": "no"}}),
        both,
    );
    assert_eq!(
        (out.get("result").is_none(), n),
        (true, 0),
        "expected an error answer left as it is"
    );
    let (out, n) = run(
        json!({"id": 9, "method": "eth_getBlockByNumber"}),
        json!({"id": 9, "result": null}),
        both,
    );
    assert_eq!(
        (out["result"].clone(), n),
        (Value::Null, 0),
        "expected a missing block left as it is"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fees_follow_l1_prices_pay_the_vaults_and_the_chain_reproduces_from_l1() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The chain: the fee rule with the default scalars and a nonzero operator fee.
    let genesis_file = dir.path().join("genesis.json");
    let out = keel(&[
        "l2",
        "genesis",
        "--out",
        genesis_file.to_str().expect("utf-8"),
        "--dev-accounts",
        "--fees.l1-fee-vault",
        &L1_FEE_VAULT.to_string(),
        "--fees.operator-fee-vault",
        &OPERATOR_FEE_VAULT.to_string(),
        "--fees.owner",
        &dev::DEV_ACCOUNTS[0].0.to_string(),
        "--fees.operator-fee-scalar",
        &OPERATOR_FEE_SCALAR.to_string(),
        "--fees.operator-fee-constant",
        &OPERATOR_FEE_CONSTANT.to_string(),
    ]);
    let genesis_out = stdout_of(&out);
    assert!(
        genesis_out.contains("L1 fee rule on"),
        "expected `keel l2 genesis` to build a chain with the fee rule: {genesis_out}"
    );
    let l1 = TestL1::start_with_genesis_file(&genesis_file, Some(1)).await;
    let proxy = PriceProxy::start(&l1.anvil.url);
    proxy.set_base_fee(Some(L1_BASE_FEE));
    let datadir = dir.path().join("data");
    let mut args = with_flag(
        node_args(&l1, datadir.to_str().expect("utf-8"), "2000"),
        "--eth.rpc-url",
        &proxy.url,
    );
    args.extend(
        [
            "--block-producer.block-time",
            "50",
            "--watcher.watch-interval",
            "100",
        ]
        .map(String::from),
    );
    let node = tokio::task::block_in_place(|| start(&args, &[]));
    let coordinator = tokio::task::block_in_place(|| node.wait_for_line("Proof coordinator:"));
    let mut prover = Prover::start(&coordinator, &key(0), &[]);
    let l2 = l2_provider(&node.url);
    for vault in [L1_FEE_VAULT, OPERATOR_FEE_VAULT] {
        assert_eq!(
            l2.get_balance(vault)
                .block_id(BlockId::number(0))
                .await
                .expect("balance"),
            U256::ZERO,
            "expected the vault {vault} empty at genesis"
        );
    }

    // A contract to call, deployed at the genesis's starting prices.
    let mut all: Vec<Sent> = Vec::new();
    let spec = Spec {
        to: TxKind::Create,
        value: U256::ZERO,
        input: log_emitter_code(),
        label: "LogEmitter deployment".into(),
        kind: "deploy",
        level: None,
    };
    let deploy = send(&l2, &signer(4), spec).await;
    let emitter = deploy.receipt["contractAddress"]
        .as_str()
        .expect("a contract address")
        .parse::<Address>()
        .expect("address");
    all.push(deploy);

    move_to_level(&l2, &proxy, LEVEL_A, "A").await;
    let at_a = all.len()..all.len() + 3;
    all.extend(send_level(&l2, emitter, LEVEL_A, "A").await);
    move_to_level(&l2, &proxy, LEVEL_B, "B").await;
    let at_b = all.len()..all.len() + 3;
    all.extend(send_level(&l2, emitter, LEVEL_B, "B").await);
    all.push(refused_without_the_l1_fee(&l2).await);
    assert!(
        proxy.rewritten() > 0,
        "expected the node to have read L1 prices through the proxy"
    );

    eprintln!(
        "{:<36} {:>6} {:>5} {:>8} {:>22} {:>22} {:>22} {:>18} {:>16}",
        "transaction",
        "block",
        "bytes",
        "gasUsed",
        "l1Fee (receipt)",
        "getL1Fee before",
        "getL1Fee at block",
        "rounding bound",
        "operatorFee"
    );
    for sent in &all {
        eprintln!(
            "{:<36} {:>6} {:>5} {:>8} {:>22} {:>22} {:>22} {:>18} {:>16}",
            sent.label,
            sent.block,
            format!("{}/{}", sent.signed_len, sent.unsigned_len),
            sent.gas_used(),
            sent.l1_fee(),
            sent.quoted_before,
            sent.quoted_at_block,
            rounding_bound(&sent.params()),
            sent.operator_fee()
        );
        check_charge(&l2, sent).await;
    }

    // The fees follow the price: per kind, B's fee / A's is the ratio of the per-byte prices.
    for (a, b) in all[at_a].iter().zip(&all[at_b]) {
        assert_eq!(
            a.kind, b.kind,
            "expected the same kinds in the same order at A and B"
        );
        let fee_ratio = as_f64(b.l1_fee()) / as_f64(a.l1_fee());
        let price_ratio = as_f64(scaled_price(&b.params())) / as_f64(scaled_price(&a.params()));
        eprintln!(
            "{}: l1Fee at B / at A = {} / {} = {fee_ratio:.3}; per-byte price ratio \
             {price_ratio:.3}",
            a.kind,
            b.l1_fee(),
            a.l1_fee()
        );
        assert!(
            b.l1_fee() > a.l1_fee(),
            "{}: expected a higher l1Fee at the higher blob base fee: {} at B, {} at A",
            a.kind,
            b.l1_fee(),
            a.l1_fee()
        );
        assert!(
            (fee_ratio / price_ratio - 1.0).abs() < 0.10,
            "{}: expected l1Fee(B) / l1Fee(A) = {fee_ratio:.3} within 10% of the price ratio \
             {price_ratio:.3}",
            a.kind
        );
    }

    // The vaults hold the sums over every receipt of the chain, which are the test's
    // transactions; each block's prices moved at most an eighth from its parent's.
    let head = l2.get_block_number().await.expect("head");
    let (mut l1_fees, mut operator_fees, mut charged) = (U256::ZERO, U256::ZERO, 0usize);
    let mut parent = DEFAULT_FEE_PARAMS.prices;
    for n in 1..=head {
        let receipts: Vec<Value> = l2
            .raw_request("eth_getBlockReceipts".into(), (format!("{n:#x}"),))
            .await
            .expect("eth_getBlockReceipts");
        for receipt in receipts.iter().filter(|r| r.get("l1Fee").is_some()) {
            l1_fees += quantity(receipt, "l1Fee");
            operator_fees += operator_fee_of(receipt);
            charged += 1;
        }
        let block: Value = l2
            .raw_request("eth_getBlockByNumber".into(), (format!("{n:#x}"), false))
            .await
            .expect("eth_getBlockByNumber");
        let extra: Bytes = serde_json::from_value(block["extraData"].clone()).expect("extraData");
        let prices = L1Prices::from_extra_data(&extra)
            .unwrap_or_else(|e| panic!("expected block {n}'s extraData to carry prices: {e}"));
        assert_eq!(
            prices.check_step(&parent),
            Ok(()),
            "expected block {n}'s prices {prices:?} within a step of its parent's {parent:?}"
        );
        parent = prices;
    }
    let sent_l1: U256 = all.iter().map(Sent::l1_fee).sum();
    let sent_operator: U256 = all.iter().map(Sent::operator_fee).sum();
    assert_eq!(
        charged,
        all.len(),
        "expected the chain's only ordinary transactions to be the test's {}",
        all.len()
    );
    assert_eq!(
        (l1_fees, operator_fees),
        (sent_l1, sent_operator),
        "expected the chain's receipts to sum to the test's transactions' fees"
    );
    let vault_l1 = l2
        .get_balance(L1_FEE_VAULT)
        .block_id(BlockId::number(head))
        .await
        .expect("balance");
    let vault_operator = l2
        .get_balance(OPERATOR_FEE_VAULT)
        .block_id(BlockId::number(head))
        .await
        .expect("balance");
    eprintln!(
        "vaults at block {head}: L1-fee vault {vault_l1} wei (sum of l1Fee over {charged} \
         receipts: {l1_fees}); operator-fee vault {vault_operator} wei (sum of operatorFee: \
         {operator_fees})"
    );
    assert_eq!(
        vault_l1, l1_fees,
        "expected the L1-fee vault to hold the sum of every receipt's l1Fee"
    );
    assert_eq!(
        vault_operator, operator_fees,
        "expected the operator-fee vault to hold the sum of every receipt's operator fee"
    );

    // The batches holding the transactions are committed, proven by the prover's stateless
    // execution and verified on L1.
    let last_tx_block = all.iter().map(|s| s.block).max().expect("transactions");
    let deadline = Instant::now() + Duration::from_secs(60);
    let last_tx_batch = loop {
        let batch: Value = l2
            .raw_request(
                "keel_getBatchByBlock".into(),
                (format!("{last_tx_block:#x}"),),
            )
            .await
            .expect("keel_getBatchByBlock");
        if !batch.is_null() {
            break u64::try_from(quantity(&batch, "number")).expect("fits u64");
        }
        assert!(
            Instant::now() < deadline,
            "expected the batch of block {last_tx_block} sealed within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let verified = wait_verified(&node, last_tx_batch).await;
    let accepted = prover.wait_for(
        &[
            "proof accepted by the coordinator",
            &format!("batch={last_tx_batch}"),
        ],
        1,
        Duration::from_secs(30),
    );
    assert!(
        l1_last_verified(&l1).await >= last_tx_batch,
        "expected L1's lastVerifiedBatch at least {last_tx_batch}: {verified}"
    );
    eprintln!(
        "batches 1..={last_tx_batch} proven by `keel l2 prover` (exec backend) and verified on \
         L1 (verifyTxHash of batch {last_tx_batch}: {}); {}",
        verified["verifyTxHash"], accepted[0]
    );
    tokio::task::block_in_place(|| node.terminate());
    drop(prover);
    // A commit the node had in flight has landed by now (anvil mines every second).
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(proxy);

    // (a) Rebuilt from L1: the node's block and state root at the last committed batch.
    let (head_number, head_hash, head_root) = head_of(&datadir);
    let committed = l1_last_committed(&l1).await;
    let rebuilt = dir.path().join("rebuilt");
    let out = l1.reconstruct(&rebuilt, &[]);
    let stdout = stdout_of(&out);
    assert!(
        stdout.contains(&format!("reconstructed {committed} batch(es)")),
        "expected `keel l2 reconstruct` to rebuild the {committed} batches on L1: {}",
        text(&out)
    );
    let (rebuilt_number, rebuilt_hash, rebuilt_root) = head_of(&rebuilt);
    assert!(
        rebuilt_number >= last_tx_block,
        "expected the rebuilt chain to reach the last fee-paying block {last_tx_block}: head \
         {rebuilt_number}"
    );
    assert_eq!(
        (rebuilt_hash, rebuilt_root),
        block_of(&datadir, rebuilt_number),
        "expected the rebuilt head (block {rebuilt_number}) to be the node's block and state root"
    );
    eprintln!(
        "reconstruct: {committed} batches from L1, head block {rebuilt_number} {rebuilt_hash}, \
         state root {rebuilt_root}: the node's"
    );

    // (b) Exported and imported into a fresh datadir: the node's head.
    let file = dir.path().join("blocks.rlp");
    let out = keel(&[
        "export",
        "--datadir",
        datadir.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "expected the export to succeed: {}",
        text(&out)
    );
    let imported = dir.path().join("imported");
    let out = keel(&[
        "import",
        "--network",
        &l1.genesis_file,
        "--datadir",
        imported.to_str().expect("utf-8"),
        file.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "expected the import to succeed: {}",
        text(&out)
    );
    assert_eq!(
        head_of(&imported),
        (head_number, head_hash, head_root),
        "expected the imported chain's head to be the node's (block, hash, state root)"
    );
    eprintln!(
        "export + import: {head_number} blocks, head {head_hash}, state root {head_root}: the \
         node's"
    );
}
