//! Differential: the same history on keel (address index on) and on anvil (Prague, keel's chain
//! id, the same dev keys, mining only when told so that both chains have the same blocks with
//! the same transactions), then every `ots_` method asked on both:
//!
//! - block 1 is empty on both; block 2 deploys RpcProbe, a value forwarder (CALLs a fixed
//!   address with its call value), a factory (CREATEs a one-byte contract with its call value)
//!   and a forwarder to the probe; block 3 calls them (an inner value transfer, an inner
//!   creation, an inner revert that reverts the transaction, a plain call); blocks 4–11
//!   alternate three transfers *from* dev account 1 and two transfers *to* it, so that its
//!   history (20 transactions) spans three pages of `pageSize` 6 in both directions.
//!
//! Set aside, because they depend on the chain and not on the `ots_` methods: block hashes
//! (and parent hashes), state and receipt roots, timestamps, gas limits, base fees, miner,
//! mix hash, extra data, withdrawals and their root, blob and beacon-root fields, block size,
//! transaction gas prices and receipts' effective gas prices, and `totalFees` (keel's base fee
//! and fee vaults differ from anvil's). Known differences, asserted as such:
//! - receipts in `ots_getBlockTransactions` and the searches: keel has `logs` and `logsBloom`
//!   null, as erigon and reth (the Otterscan API leaves them out); anvil fills them in;
//! - `ots_traceTransaction`: keel lists `CREATE`/`CREATE2` frames too (as erigon and reth);
//!   anvil only the calls; and for a frame that reverted keel gives its revert data as
//!   `output` (as reth) where anvil gives `0x`;
//! - `ots_searchTransactionsAfter`: keel lists the page newest first throughout, as erigon;
//!   anvil lists the blocks newest first but each block's transactions oldest first (its
//!   pages are re-sorted before comparing; keel's order is asserted);
//! - `ots_getInternalOperations`: anvil counts the top-level call (its value, or the creation)
//!   as an internal operation; keel, as erigon and revm-inspectors', only inner ones.
//!
//! Needs anvil: `tools/node_modules/.bin/anvil` (`npm ci --prefix tools`) or on `PATH`.

mod common;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    sol_types::SolCall,
};
use keel_l1::Anvil;
use keel_storage::Store;
use serde_json::{Value, json};

use common::{
    Fee, GWEI, RpcProbe, TestNode, call_tx, next_nonce, produce, request, rpc, rpc_error, send,
    sign, signed_tx,
};

/// Init code that deploys `runtime`.
fn deploy_code(runtime: &[u8]) -> Bytes {
    let len = u8::try_from(runtime.len()).expect("a short runtime");
    let mut code = vec![
        0x60, len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(runtime);
    code.into()
}

/// Runtime: `CALL(gas, target, callvalue, 0, 0, 0, 0)`, then stop.
fn value_forwarder(target: Address) -> Vec<u8> {
    let mut code = vec![0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x34, 0x73];
    code.extend_from_slice(target.as_slice());
    code.extend_from_slice(&[0x5a, 0xf1, 0x50, 0x00]);
    code
}

/// Runtime: `CREATE(callvalue, init code 0x6001600 0f3)` (a contract whose code is one zero
/// byte), then stop.
fn factory() -> Vec<u8> {
    vec![
        0x64, 0x60, 0x01, 0x60, 0x00, 0xf3, // PUSH5 init code
        0x60, 0x00, 0x52, // MSTORE at 0: the init code is at 27..32
        0x60, 0x05, 0x60, 0x1b, 0x34, 0xf0, // CREATE(callvalue, 27, 5)
        0x50, 0x00,
    ]
}

/// As in tests/tracing.rs: a forwarder of its calldata to `target` that reverts when the call
/// does.
fn forwarder_initcode(target: Address) -> Bytes {
    let mut runtime = vec![
        0x36, 0x60, 0x00, 0x60, 0x00, 0x37, 0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, 0x00,
        0x73,
    ];
    runtime.extend_from_slice(target.as_slice());
    runtime.extend_from_slice(&[
        0x5a, 0xf1, 0x3d, 0x60, 0x00, 0x60, 0x00, 0x3e, 0x60, 0x33, 0x57, 0x3d, 0x60, 0x00, 0xfd,
        0x5b, 0x3d, 0x60, 0x00, 0xf3,
    ]);
    deploy_code(&runtime)
}

/// Fields that depend on the chain, not on the method (see the module docs).
const CHAIN_FIELDS: &[&str] = &[
    "hash",
    "blockHash",
    "parentHash",
    "stateRoot",
    "receiptsRoot",
    "timestamp",
    "blockTimestamp",
    "gasLimit",
    "baseFeePerGas",
    "miner",
    "mixHash",
    "extraData",
    "withdrawals",
    "withdrawalsRoot",
    "blobGasUsed",
    "excessBlobGas",
    "parentBeaconBlockRoot",
    "requestsHash",
    "size",
    "difficulty",
    "totalDifficulty",
    "gasPrice",
    "effectiveGasPrice",
    "blobGasPrice",
    "totalFees",
];

/// `value` without the `fields` of any object in it, at any depth, but the transactions' own
/// `hash` (the same signed transactions on both chains).
fn strip(value: &Value, fields: &[&str]) -> Value {
    match value {
        Value::Object(map) => {
            let is_tx = map.contains_key("nonce") && map.contains_key("input");
            Value::Object(
                map.iter()
                    .filter(|(k, _)| !fields.contains(&k.as_str()) || (is_tx && *k == "hash"))
                    .map(|(k, v)| (k.clone(), strip(v, fields)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| strip(v, fields)).collect()),
        other => other.clone(),
    }
}

/// Receipts in Otterscan lists: keel's `logs` and `logsBloom` must be null; anvil's are
/// dropped before comparing.
fn strip_receipt_logs(keel: &mut Value, anvil: &mut Value) {
    for (side, receipts) in [("keel", keel), ("anvil", anvil)] {
        for receipt in receipts.as_array_mut().expect("receipts") {
            let receipt = receipt.as_object_mut().expect("a receipt");
            if side == "keel" {
                assert_eq!(receipt.get("logs"), Some(&Value::Null), "{receipt:?}");
                assert_eq!(receipt.get("logsBloom"), Some(&Value::Null), "{receipt:?}");
            }
            receipt.remove("logs");
            receipt.remove("logsBloom");
        }
    }
}

/// Where a search result's transaction is: (block number, index).
fn position(tx: &Value) -> (u128, u128) {
    (
        common::quantity(&tx["blockNumber"]),
        common::quantity(&tx["transactionIndex"]),
    )
}

/// A search page's transactions are newest first, and its receipts are theirs, in order.
fn assert_newest_first(page: &Value) {
    let txs = page["txs"].as_array().expect("txs");
    let positions: Vec<_> = txs.iter().map(position).collect();
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "newest first: {positions:?}"
    );
    let receipts = page["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len(), txs.len());
    for (tx, receipt) in txs.iter().zip(receipts) {
        assert_eq!(tx["hash"], receipt["transactionHash"]);
    }
}

/// Sort a search page newest first (anvil's `ots_searchTransactionsAfter` lists each block's
/// transactions oldest first).
fn newest_first(page: &mut Value) {
    for list in ["txs", "receipts"] {
        page[list]
            .as_array_mut()
            .expect("a list")
            .sort_by_key(|item| std::cmp::Reverse(position(item)));
    }
}

struct Chains {
    node: TestNode,
    anvil: DynProvider,
    _anvil: Anvil,
}

impl Chains {
    async fn keel(&self, method: &str, params: Value) -> Value {
        rpc(&self.node, method, params).await
    }

    async fn anvil(&self, method: &str, params: Value) -> Value {
        self.anvil
            .raw_request(method.to_string().into(), params)
            .await
            .unwrap_or_else(|e| panic!("anvil {method}: {e}"))
    }

    /// Both answers, after `strip`.
    async fn both(&self, method: &str, params: Value) -> (Value, Value) {
        let keel = self.keel(method, params.clone()).await;
        let anvil = self.anvil(method, params).await;
        (strip(&keel, CHAIN_FIELDS), strip(&anvil, CHAIN_FIELDS))
    }

    /// Send `txs` to both and mine them into one block on each.
    async fn block(&self, txs: &[alloy::consensus::TxEnvelope]) -> Vec<B256> {
        let mut hashes = Vec::new();
        for tx in txs {
            hashes.push(send(&self.node, tx).await);
            let raw = Bytes::from(alloy::eips::Encodable2718::encoded_2718(tx));
            let _pending = self
                .anvil
                .send_raw_transaction(&raw)
                .await
                .expect("anvil takes it");
        }
        produce(&self.node).await;
        let _: Value = self.anvil("evm_mine", json!([])).await;
        for hash in &hashes {
            let keel = self.keel("eth_getTransactionReceipt", json!([hash])).await;
            let anvil = self.anvil("eth_getTransactionReceipt", json!([hash])).await;
            assert_eq!(
                keel["blockNumber"], anvil["blockNumber"],
                "{hash} is in the same block on both"
            );
        }
        hashes
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ots_methods_match_anvils() {
    let store = Store::in_memory().expect("store");
    store.set_address_index(true);
    let node = TestNode::start_manual_on(store, keel_storage::DEFAULT_STATE_HISTORY).await;
    let anvil = common::anvil_like_keel(&["--no-mining"]).await;
    let client = ProviderBuilder::new()
        .connect_http(anvil.url.parse().expect("url"))
        .erased();
    let chains = Chains {
        node,
        anvil: client,
        _anvil: anvil,
    };
    // Block 1: empty on both (keel's producer made it at start).
    let _: Value = chains.anvil("evm_mine", json!([])).await;

    let deployer = TestNode::dev_signer(0).address();
    let subject_signer = TestNode::dev_signer(1);
    let subject = subject_signer.address();
    let n = next_nonce(&chains.node, deployer).await;
    assert_eq!(n, 0);
    let sink = Address::repeat_byte(0xed);
    let deploy = |nonce: u64, code: Bytes| {
        signed_tx(0, nonce, TxKind::Create, code, 1_000_000, Fee::tip(GWEI))
    };
    let probe = deployer.create(n);
    let forwarder = deployer.create(n + 1);
    let factory_address = deployer.create(n + 2);
    let probe_forwarder = deployer.create(n + 3);
    let created = factory_address.create(1);
    let deploys = chains
        .block(&[
            deploy(n, RpcProbe::BYTECODE.clone()).await,
            deploy(n + 1, deploy_code(&value_forwarder(sink))).await,
            deploy(n + 2, deploy_code(&factory())).await,
            deploy(n + 3, forwarder_initcode(probe)).await,
        ])
        .await;
    let with_value = |nonce: u64, to: Address, value: u64| async move {
        sign(
            &TestNode::dev_signer(0),
            request(deployer, nonce, 200_000, Fee::tip(GWEI))
                .with_to(to)
                .with_value(U256::from(value)),
        )
        .await
    };
    let too_small = RpcProbe::requireAboveCall {
        value: U256::from(1),
    }
    .abi_encode();
    let calls = chains
        .block(&[
            with_value(n + 4, forwarder, 1_000).await,
            with_value(n + 5, factory_address, 7).await,
            call_tx(0, n + 6, probe_forwarder, too_small).await,
            call_tx(0, n + 7, probe, RpcProbe::incrementCall {}.abi_encode()).await,
        ])
        .await;
    // Blocks 4..=11: the subject's history.
    let mut subject_nonce = 0;
    let mut deployer_nonce = n + 8;
    for round in 0..4u64 {
        let mut from_subject = Vec::new();
        for _ in 0..3 {
            from_subject.push(
                sign(
                    &subject_signer,
                    request(subject, subject_nonce, 21_000, Fee::tip(GWEI))
                        .with_to(sink)
                        .with_value(U256::from(round + 1)),
                )
                .await,
            );
            subject_nonce += 1;
        }
        chains.block(&from_subject).await;
        let mut to_subject = Vec::new();
        for i in 0..2 {
            to_subject.push(with_value(deployer_nonce, subject, 100 + round * 10 + i).await);
            deployer_nonce += 1;
        }
        chains.block(&to_subject).await;
    }
    let head = chains.keel("eth_blockNumber", json!([])).await;
    assert_eq!(head, chains.anvil("eth_blockNumber", json!([])).await);
    assert_eq!(head, json!("0xb"));

    let mut mismatches: Vec<String> = Vec::new();
    let mut check = |what: String, keel: &Value, anvil: &Value| {
        if keel != anvil {
            // Where they part, with some context.
            let (k, a) = (keel.to_string(), anvil.to_string());
            let at = k.bytes().zip(a.bytes()).take_while(|(x, y)| x == y).count();
            let around =
                |s: &str| -> String { s.chars().skip(at.saturating_sub(300)).take(900).collect() };
            mismatches.push(format!(
                "{what} (from byte {at}):\n keel:  {}\n anvil: {}",
                around(&k),
                around(&a)
            ));
        }
    };

    // ots_getApiLevel, ots_hasCode.
    let (keel, theirs) = chains.both("ots_getApiLevel", json!([])).await;
    assert_eq!(keel, json!(8));
    check("api level".into(), &keel, &theirs);
    for (address, expected) in [(probe, true), (created, true), (subject, false)] {
        for block in ["latest", "0x1"] {
            let (keel, theirs) = chains.both("ots_hasCode", json!([address, block])).await;
            assert_eq!(
                keel,
                json!(expected && block == "latest"),
                "{address} at {block}"
            );
            check(format!("hasCode {address} {block}"), &keel, &theirs);
        }
    }

    // The header Otterscan asks erigon for (anvil answers the whole block, keel the header, as
    // reth): the header's fields agree.
    let keel = strip(
        &chains.keel("erigon_getHeaderByNumber", json!([3])).await,
        CHAIN_FIELDS,
    );
    let theirs = strip(
        &chains.anvil("erigon_getHeaderByNumber", json!([3])).await,
        CHAIN_FIELDS,
    );
    for (field, value) in keel.as_object().expect("a header") {
        check(format!("header field {field}"), value, &theirs[field]);
    }
    assert_eq!(keel["number"], json!("0x3"));
    assert_eq!(
        chains.keel("ots_getHeaderByNumber", json!([99])).await,
        Value::Null
    );

    // ots_getBlockDetails(ByHash), ots_getBlockTransactions for every block.
    for number in 1..=11u64 {
        let (keel, theirs) = chains.both("ots_getBlockDetails", json!([number])).await;
        assert_eq!(keel["issuance"]["issuance"], json!("0x0"));
        check(format!("block details {number}"), &keel, &theirs);
        let keel_hash = chains
            .keel(
                "eth_getBlockByNumber",
                json!([format!("{number:#x}"), false]),
            )
            .await["hash"]
            .clone();
        let anvil_hash = chains
            .anvil(
                "eth_getBlockByNumber",
                json!([format!("{number:#x}"), false]),
            )
            .await["hash"]
            .clone();
        let by_hash = strip(
            &chains
                .keel("ots_getBlockDetailsByHash", json!([keel_hash]))
                .await,
            CHAIN_FIELDS,
        );
        let theirs_by_hash = strip(
            &chains
                .anvil("ots_getBlockDetailsByHash", json!([anvil_hash]))
                .await,
            CHAIN_FIELDS,
        );
        check(
            format!("block details by hash {number}"),
            &by_hash,
            &theirs_by_hash,
        );
        assert_eq!(by_hash, keel, "by number and by hash agree");
        for page in 0..3 {
            let (mut keel, mut theirs) = chains
                .both("ots_getBlockTransactions", json!([number, page, 2]))
                .await;
            strip_receipt_logs(&mut keel["receipts"], &mut theirs["receipts"]);
            // keel counts the whole block's transactions (as erigon and reth: Otterscan pages
            // with it), anvil the page's.
            let on_page = theirs["fullblock"]["transactions"]
                .as_array()
                .expect("transactions")
                .len();
            assert_eq!(theirs["fullblock"]["transactionCount"], json!(on_page));
            theirs["fullblock"]["transactionCount"] = keel["fullblock"]["transactionCount"].clone();
            check(
                format!("block {number} transactions page {page}"),
                &keel,
                &theirs,
            );
        }
    }
    // Full fee accounting on keel's side: Σ gasUsed × effectiveGasPrice of the block's receipts.
    let receipts = chains.keel("eth_getBlockReceipts", json!(["0x3"])).await;
    let fees: u128 = receipts
        .as_array()
        .expect("receipts")
        .iter()
        .map(|r| common::quantity(&r["gasUsed"]) * common::quantity(&r["effectiveGasPrice"]))
        .sum();
    let details = chains.keel("ots_getBlockDetails", json!([3])).await;
    assert_eq!(common::quantity(&details["totalFees"]), fees);
    assert!(fees > 0);

    // Per transaction: error, trace, internal operations.
    let all: Vec<B256> = deploys.iter().chain(&calls).copied().collect();
    for hash in &all {
        let (keel, theirs) = chains.both("ots_getTransactionError", json!([hash])).await;
        check(format!("transaction error {hash}"), &keel, &theirs);

        let keel = chains.keel("ots_traceTransaction", json!([hash])).await;
        let theirs = chains.anvil("ots_traceTransaction", json!([hash])).await;
        let mut keel_calls: Vec<Value> = keel
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| !e["type"].as_str().is_some_and(|t| t.starts_with("CREATE")))
            .cloned()
            .collect();
        // Keel's reverted frames carry their revert data, anvil's none.
        for (k, a) in keel_calls
            .iter_mut()
            .zip(theirs.as_array().expect("entries"))
        {
            if a["output"] == json!("0x") && k["output"] != json!("0x") {
                assert_eq!(*hash, calls[2], "only the reverting call has revert data");
                k["output"] = json!("0x");
            }
        }
        check(format!("trace {hash}"), &Value::Array(keel_calls), &theirs);

        let keel = chains
            .keel("ots_getInternalOperations", json!([hash]))
            .await;
        let mut theirs = chains
            .anvil("ots_getInternalOperations", json!([hash]))
            .await;
        let tx = chains.keel("eth_getTransactionByHash", json!([hash])).await;
        if tx["to"].is_null() || tx["value"] != json!("0x0") {
            // anvil's first operation is the top-level one.
            theirs.as_array_mut().expect("operations").remove(0);
        }
        check(format!("internal operations {hash}"), &keel, &theirs);
    }
    // The deployments' traces hold their CREATE frame on keel.
    let trace = chains
        .keel("ots_traceTransaction", json!([deploys[0]]))
        .await;
    assert_eq!(trace[0]["type"], json!("CREATE"));
    assert_eq!(trace[0]["to"], json!(probe));
    // What the calls did: an inner transfer, an inner creation, a revert.
    let ops = chains
        .keel("ots_getInternalOperations", json!([calls[0]]))
        .await;
    assert_eq!(
        ops,
        json!([{ "type": 0, "from": forwarder, "to": sink, "value": "0x3e8" }])
    );
    let ops = chains
        .keel("ots_getInternalOperations", json!([calls[1]]))
        .await;
    assert_eq!(
        ops,
        json!([{ "type": 2, "from": factory_address, "to": created, "value": "0x7" }])
    );
    let error = chains
        .keel("ots_getTransactionError", json!([calls[2]]))
        .await;
    assert_ne!(error, json!("0x"), "the reverted call's revert data");
    assert_eq!(
        chains
            .keel("ots_getTransactionError", json!([calls[3]]))
            .await,
        json!("0x")
    );

    // By sender and nonce; contract creators (top-level and inner).
    for (address, nonce) in [
        (subject, 0u64),
        (subject, 7),
        (subject, 11),
        (subject, 12),
        (deployer, 5),
    ] {
        let (keel, theirs) = chains
            .both(
                "ots_getTransactionBySenderAndNonce",
                json!([address, nonce]),
            )
            .await;
        check(
            format!("by sender and nonce {address} {nonce}"),
            &keel,
            &theirs,
        );
    }
    assert_eq!(
        chains
            .keel("ots_getTransactionBySenderAndNonce", json!([deployer, 5]))
            .await,
        json!(calls[1])
    );
    for address in [probe, forwarder, created, subject] {
        let (keel, theirs) = chains
            .both("ots_getContractCreator", json!([address]))
            .await;
        check(format!("contract creator {address}"), &keel, &theirs);
    }
    assert_eq!(
        chains
            .keel("ots_getContractCreator", json!([created]))
            .await,
        json!({ "hash": calls[1], "creator": factory_address })
    );

    // The subject's history, page by page, both ways.
    let mut pages_back = 0;
    let mut before = 0u64;
    loop {
        let (mut keel, mut theirs) = chains
            .both("ots_searchTransactionsBefore", json!([subject, before, 6]))
            .await;
        strip_receipt_logs(&mut keel["receipts"], &mut theirs["receipts"]);
        assert_newest_first(&keel);
        check(format!("search before {before}"), &keel, &theirs);
        pages_back += 1;
        let txs = keel["txs"].as_array().expect("txs");
        assert!(txs.len() >= 6 || keel["lastPage"] == json!(true));
        assert_eq!(keel["firstPage"], json!(before == 0));
        if keel["lastPage"] == json!(true) || pages_back > 5 {
            break;
        }
        let oldest = txs.last().expect("a transaction")["blockNumber"].clone();
        before = u64::try_from(common::quantity(&oldest)).expect("a block number");
    }
    assert_eq!(pages_back, 3, "20 transactions in pages of at least 6");
    let mut pages_forward = 0;
    let mut after = 0u64;
    loop {
        let (mut keel, mut theirs) = chains
            .both("ots_searchTransactionsAfter", json!([subject, after, 6]))
            .await;
        strip_receipt_logs(&mut keel["receipts"], &mut theirs["receipts"]);
        assert_newest_first(&keel);
        newest_first(&mut theirs);
        check(format!("search after {after}"), &keel, &theirs);
        pages_forward += 1;
        assert_eq!(keel["lastPage"], json!(after == 0));
        if keel["firstPage"] == json!(true) || pages_forward > 5 {
            break;
        }
        let txs = keel["txs"].as_array().expect("txs");
        // Newest first: the first is in the newest block.
        let newest = txs.first().expect("a transaction")["blockNumber"].clone();
        after = u64::try_from(common::quantity(&newest)).expect("a block number");
    }
    assert_eq!(pages_forward, 3);

    let shown: Vec<String> = mismatches
        .iter()
        .take(4)
        .map(|m| m.chars().take(3_000).collect())
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} mismatches, the first:\n{}",
        mismatches.len(),
        shown.join("\n")
    );
    chains.node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn searches_without_the_index_say_how_to_turn_it_on() {
    let node = TestNode::start_manual(Default::default(), Default::default()).await;
    let subject = TestNode::dev_signer(1).address();
    for (method, params) in [
        ("ots_searchTransactionsBefore", json!([subject, 0, 25])),
        ("ots_searchTransactionsAfter", json!([subject, 0, 25])),
        ("ots_getTransactionBySenderAndNonce", json!([subject, 0])),
    ] {
        let error = rpc_error(&node, method, params).await;
        assert_eq!(error.code, -32000, "{method}");
        assert!(
            error.message.contains("--rpc.address-index") && error.message.contains("off"),
            "{method}: {}",
            error.message
        );
    }
    // Bad paging parameters are the caller's to fix.
    let error = rpc_error(
        &node,
        "ots_searchTransactionsBefore",
        json!([subject, 0, 0]),
    )
    .await;
    assert_eq!(error.code, -32602);
    let error = rpc_error(&node, "ots_getBlockTransactions", json!([1, "zero", 10])).await;
    assert_eq!(error.code, -32602);
    node.stop().await;
}

/// With `cors_origins` (`--http.corsdomain`) a browser app on another origin (Otterscan on
/// localhost:5100) may call the node: the preflight is answered and answers carry the header;
/// without it, no CORS header is sent.
#[tokio::test(flavor = "multi_thread")]
async fn cors_lets_a_browser_app_call_the_node() {
    let origin = "http://localhost:5100";
    let client = alloy::transports::http::reqwest::Client::new();
    for (origins, allowed) in [
        (vec!["*".to_string()], Some("*")),
        (vec![origin.to_string()], Some(origin)),
        (vec![], None),
    ] {
        let node = TestNode::start_manual(
            Default::default(),
            keel_rpc::RpcConfig {
                cors_origins: origins.clone(),
                ..Default::default()
            },
        )
        .await;
        let preflight = client
            .request(
                alloy::transports::http::reqwest::Method::OPTIONS,
                &node.http_url,
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .expect("preflight");
        let header = |response: &alloy::transports::http::reqwest::Response| {
            response
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().expect("ascii").to_string())
        };
        assert_eq!(header(&preflight).as_deref(), allowed, "{origins:?}");
        let answer = client
            .post(&node.http_url)
            .header("origin", origin)
            .header("content-type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"ots_getApiLevel","params":[]}"#)
            .send()
            .await
            .expect("call");
        assert_eq!(header(&answer).as_deref(), allowed, "{origins:?}");
        let body: Value = answer.json().await.expect("JSON");
        assert_eq!(body["result"], json!(8));
        node.stop().await;
    }
}
