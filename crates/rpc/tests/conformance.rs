//! Conformance with the Ethereum JSON-RPC specification (ethereum/execution-apis, vendored in
//! `tests/spec/`, see its README): a node is given history (transfers of each transaction type,
//! contract deployments, a call that logs, a call that reverts, filters, transactions pending and
//! queued in the pool), then every method the spec defines and keel serves is called, each
//! answer validated against the method's `result.schema` (with the spec's schemas as
//! `#/components/schemas/`).
//!
//! The coverage is checked too: the spec's methods that keel does not register must be exactly
//! [`NOT_SERVED`], the ones that only answer an error exactly [`KEY_HOLDING`], and every other
//! spec method must have been called and validated here. A method added to the spec, or dropped
//! from keel, fails this test.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxKind, U256},
    rpc::types::{AccessList, AccessListItem},
    sol_types::SolCall,
};
use keel_chain::MempoolConfig;
use keel_rpc::{RpcConfig, RpcContext};
use keel_storage::settlement::{SettledBlock, SettlementTag};
use serde_json::{Value, json};

use common::{
    Fee, GAS_PRICE, GWEI, RpcProbe, TestNode, call_tx, deploy_emitter_tx, next_nonce, ping,
    produce, request, rpc, rpc_error, rpc_response, sign, signed_tx, transfer,
};

/// The bundled spec (`tests/spec/execution-apis.json`, made by `tests/spec/bundle.py`).
const BUNDLE: &str = include_str!("spec/execution-apis.json");

/// Spec methods keel does not serve, and why.
const NOT_SERVED: &[&str] = &[
    // EIP-7928 block-level access lists (Amsterdam): not in keel's fork (Prague).
    "eth_getBlockAccessList",
    "debug_getRawBlockAccessList",
];

/// Spec methods keel registers but answers only with an error: they need keys the node doesn't
/// hold (the client signs and uses eth_sendRawTransaction).
const KEY_HOLDING: &[&str] = &["eth_sign", "eth_signTransaction", "eth_sendTransaction"];

/// Receipt fields keel adds on a chain with the L1 fee rule (docs/fees.md; the OP Stack's names).
/// The spec's `ReceiptInfo` has `additionalProperties: false`, which leaves a rollup no room for
/// its fee fields: they are removed before a receipt is validated (each must be a quantity).
const L1_FEE_RECEIPT_FIELDS: &[&str] = &[
    "l1BaseFeeScalar",
    "l1BlobBaseFee",
    "l1BlobBaseFeeScalar",
    "l1Fee",
    "l1GasPrice",
    "l1GasUsed",
    "operatorFeeConstant",
    "operatorFeeScalar",
];

/// The spec's `TransactionInfo` requires a block hash, number, index and timestamp: it has no
/// form for a transaction still in the pool, which geth (and keel) answer with those four `null`.
/// A pool transaction is validated as this: the signed transaction, its `from` and `hash`, and
/// the four block fields `null`.
fn pool_transaction_schema() -> Value {
    json!({
        "allOf": [
            { "$ref": "#/components/schemas/TransactionSigned" },
            {
                "required": ["from", "hash", "blockHash", "blockNumber", "transactionIndex"],
                "properties": {
                    "from": { "$ref": "#/components/schemas/address" },
                    "hash": { "$ref": "#/components/schemas/hash32" },
                    "blockHash": { "type": "null" },
                    "blockNumber": { "type": "null" },
                    "transactionIndex": { "type": "null" },
                    "blockTimestamp": { "type": "null" },
                }
            }
        ]
    })
}

/// `receipt` without the L1-fee fields, each checked to be a quantity.
fn without_l1_fee_fields(mut receipt: Value, failures: &mut Vec<String>) -> Value {
    if let Some(object) = receipt.as_object_mut() {
        for field in L1_FEE_RECEIPT_FIELDS {
            if let Some(value) = object.remove(*field)
                && !value
                    .as_str()
                    .is_some_and(|v| v.starts_with("0x") && v.len() > 2)
            {
                failures.push(format!("receipt field {field} is not a quantity: {value}"));
            }
        }
    }
    receipt
}

/// The spec: its methods by name, and the schemas every `$ref` points into.
struct Spec {
    methods: BTreeMap<String, Value>,
    components: Value,
}

impl Spec {
    fn load() -> Spec {
        let bundle: Value = serde_json::from_str(BUNDLE).expect("the bundle is JSON");
        let mut methods = BTreeMap::new();
        for method in bundle["methods"].as_array().expect("methods") {
            let name = method["name"].as_str().expect("a method name").to_string();
            assert!(
                methods.insert(name.clone(), method.clone()).is_none(),
                "{name} twice in the spec"
            );
        }
        Spec {
            methods,
            components: bundle["components"].clone(),
        }
    }

    /// The schema errors of `result` as `method`'s answer (empty: it conforms).
    fn errors(&self, method: &str, result: &Value) -> Vec<String> {
        let Some(spec) = self.methods.get(method) else {
            return vec![format!("{method} is not a spec method")];
        };
        self.errors_against(method, spec["result"]["schema"].clone(), result)
    }

    /// The errors of `result` against `schema` (whose `$ref`s point into the spec's schemas).
    fn errors_against(&self, method: &str, mut schema: Value, result: &Value) -> Vec<String> {
        // One root document: the schema, with every schema under components/schemas.
        let Some(object) = schema.as_object_mut() else {
            return vec![format!("{method}: result schema is not an object")];
        };
        object.insert("components".into(), self.components.clone());
        let validator = match jsonschema::validator_for(&schema) {
            Ok(validator) => validator,
            Err(e) => return vec![format!("{method}: schema does not compile: {e}")],
        };
        validator
            .iter_errors(result)
            .map(|e| format!("{method}: {e} (at {})", e.instance_path()))
            .collect()
    }
}

/// Calls methods, validates each answer, and remembers which methods were validated.
struct Checker<'a> {
    node: &'a TestNode,
    spec: &'a Spec,
    validated: BTreeSet<String>,
    failures: Vec<String>,
}

impl Checker<'_> {
    /// Call `method`; its answer must be a result, valid against the spec.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let result = rpc(self.node, method, params.clone()).await;
        let checked = match method {
            "eth_getTransactionReceipt" => {
                without_l1_fee_fields(result.clone(), &mut self.failures)
            }
            "eth_getBlockReceipts" => match &result {
                Value::Array(receipts) => Value::Array(
                    receipts
                        .iter()
                        .map(|r| without_l1_fee_fields(r.clone(), &mut self.failures))
                        .collect(),
                ),
                other => other.clone(),
            },
            _ => result.clone(),
        };
        let errors = self.spec.errors(method, &checked);
        self.report(method, &params, &result, errors);
        self.validated.insert(method.to_string());
        result
    }

    /// Call `method` for a transaction in the pool ([`pool_transaction_schema`]).
    async fn call_pool_transaction(&mut self, method: &str, params: Value) -> Value {
        let result = rpc(self.node, method, params.clone()).await;
        let errors = self
            .spec
            .errors_against(method, pool_transaction_schema(), &result);
        self.report(method, &params, &result, errors);
        result
    }

    fn report(&mut self, method: &str, params: &Value, result: &Value, errors: Vec<String>) {
        if errors.is_empty() {
            return;
        }
        let answer: String = result.to_string().chars().take(600).collect();
        self.failures.push(format!(
            "{method} {params}: {}\n  answer: {answer}",
            errors.join("; ")
        ));
    }
}

fn hash_of(value: &Value) -> B256 {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("a hash ({e}): {value}"))
}

/// The bundle is made from the vendored YAML (tests/spec/bundle.py): same commit, and the same
/// methods as the method files name, in the same order.
#[test]
fn the_bundle_matches_the_vendored_yaml() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec/execution-apis");
    let bundle: Value = serde_json::from_str(BUNDLE).expect("the bundle is JSON");
    let commit = std::fs::read_to_string(root.join("COMMIT")).expect("COMMIT");
    assert_eq!(bundle["commit"], json!(commit.trim()));
    let mut in_yaml = Vec::new();
    for directory in ["eth", "debug", "txpool"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join("src").join(directory))
            .expect("a method directory")
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("a method file");
            in_yaml.extend(
                text.lines()
                    .filter_map(|line| line.strip_prefix("- name: "))
                    .map(|name| name.trim().to_string()),
            );
        }
    }
    let in_bundle: Vec<String> = bundle["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| m["name"].as_str().expect("a name").to_string())
        .collect();
    assert_eq!(in_bundle, in_yaml, "run tests/spec/bundle.py");
}

#[test]
fn the_validator_rejects_what_the_spec_forbids() {
    let spec = Spec::load();
    assert!(spec.errors("eth_blockNumber", &json!("0x1a")).is_empty());
    // A quantity with a leading zero, a decimal number, a non-hex string.
    for bad in [json!("0x01"), json!(26), json!("26")] {
        assert!(!spec.errors("eth_blockNumber", &bad).is_empty(), "{bad}");
    }
    // A receipt missing its status: not a ReceiptInfo (nor null).
    let receipt = json!({ "transactionHash": B256::ZERO, "blockNumber": "0x1" });
    assert!(
        !spec
            .errors("eth_getTransactionReceipt", &receipt)
            .is_empty()
    );
    assert!(
        spec.errors("eth_getTransactionReceipt", &Value::Null)
            .is_empty()
    );
    // A pool transaction is not a mined TransactionInfo.
    assert!(
        !spec
            .errors("eth_getTransactionByHash", &json!({ "blockHash": null }))
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_served_spec_method_answers_per_its_schema() {
    let rpc_config = RpcConfig {
        // The producer of the test node pays its fees to the zero address.
        coinbase: Some(Address::ZERO),
        ..RpcConfig::default()
    };
    let node = TestNode::start_manual(MempoolConfig::default(), rpc_config).await;
    let spec = Spec::load();
    let mut c = Checker {
        node: &node,
        spec: &spec,
        validated: BTreeSet::new(),
        failures: Vec::new(),
    };

    // Filters installed before the history, so that their changes hold something.
    let log_filter = c
        .call("eth_newFilter", json!([{ "fromBlock": "0x1" }]))
        .await;
    let block_filter = c.call("eth_newBlockFilter", json!([])).await;
    let pending_filter = c.call("eth_newPendingTransactionFilter", json!([])).await;

    // Block 2: a legacy, an EIP-1559 and an EIP-2930 transfer, two deployments.
    let signer = TestNode::dev_signer(0);
    let sender = signer.address();
    let nonce = next_nonce(&node, sender).await;
    let legacy = transfer(
        0,
        nonce,
        Fee::Legacy {
            gas_price: GAS_PRICE,
        },
    )
    .await;
    let dynamic = transfer(0, nonce + 1, Fee::tip(GWEI)).await;
    let access_list = sign(
        &signer,
        request(
            sender,
            nonce + 2,
            30_000,
            Fee::Legacy {
                gas_price: GAS_PRICE,
            },
        )
        .with_to(Address::repeat_byte(0xee))
        .with_value(U256::from(5))
        .with_access_list(AccessList(vec![AccessListItem {
            address: Address::repeat_byte(0xee),
            storage_keys: vec![B256::ZERO],
        }])),
    )
    .await;
    let (deploy_emitter, emitter) = deploy_emitter_tx(0, nonce + 3).await;
    let probe = sender.create(nonce + 4);
    let deploy_probe = signed_tx(
        0,
        nonce + 4,
        TxKind::Create,
        RpcProbe::BYTECODE.clone(),
        1_000_000,
        Fee::tip(GWEI),
    )
    .await;
    let mut block2 = Vec::new();
    for tx in [
        &legacy,
        &dynamic,
        &access_list,
        &deploy_emitter,
        &deploy_probe,
    ] {
        let raw = Bytes::from(alloy::eips::Encodable2718::encoded_2718(tx));
        block2.push(hash_of(
            &c.call("eth_sendRawTransaction", json!([raw])).await,
        ));
    }
    let (_, hash2) = produce(&node).await;

    // Block 3: a storage write, a call that logs, a call that reverts.
    let set_number = RpcProbe::setNumberCall {
        value: U256::from(7),
    }
    .abi_encode();
    let too_small = RpcProbe::requireAboveCall {
        value: U256::from(1),
    }
    .abi_encode();
    let mut block3 = Vec::new();
    for tx in [
        call_tx(0, nonce + 5, probe, set_number).await,
        call_tx(0, nonce + 6, emitter, ping(1, b"conformance")).await,
        call_tx(0, nonce + 7, probe, too_small).await,
    ] {
        let raw = Bytes::from(alloy::eips::Encodable2718::encoded_2718(&tx));
        block3.push(hash_of(
            &c.call("eth_sendRawTransaction", json!([raw])).await,
        ));
    }
    let (_, hash3) = produce(&node).await;
    let [stored, logged, reverted] = [block3[0], block3[1], block3[2]];

    // Left in the pool: one pending transaction and one queued behind a nonce gap.
    let pending_sender = TestNode::dev_signer(1).address();
    let pending_nonce = next_nonce(&node, pending_sender).await;
    let pending = transfer(1, pending_nonce, Fee::tip(GWEI)).await;
    let queued = transfer(1, pending_nonce + 2, Fee::tip(GWEI)).await;
    let mut in_pool = Vec::new();
    for tx in [&pending, &queued] {
        let raw = Bytes::from(alloy::eips::Encodable2718::encoded_2718(tx));
        in_pool.push(hash_of(
            &c.call("eth_sendRawTransaction", json!([raw])).await,
        ));
    }

    // Blocks and transactions. The block tags `safe` and `finalized` as the SettlementTracker
    // would record them once L1 committed (block 2) and verified (block 1) batches.
    for (tag, block) in [(SettlementTag::Safe, 2), (SettlementTag::Finalized, 1)] {
        let settled = SettledBlock {
            batch: block,
            block,
            l1_block: 10 + block,
            l1_hash: B256::repeat_byte(block as u8),
        };
        node.chain
            .store()
            .set_settlement(tag, Some(&settled))
            .expect("store the tag");
    }
    for full in [false, true] {
        c.call("eth_getBlockByHash", json!([hash2, full])).await;
        c.call("eth_getBlockByHash", json!([hash3, full])).await;
        for tag in [
            "0x0",
            "0x2",
            "latest",
            "pending",
            "safe",
            "finalized",
            "earliest",
        ] {
            c.call("eth_getBlockByNumber", json!([tag, full])).await;
        }
    }
    c.call("eth_getBlockByNumber", json!(["0x99", false])).await;
    c.call("eth_getBlockByHash", json!([B256::repeat_byte(1), false]))
        .await;
    c.call("eth_getBlockTransactionCountByHash", json!([hash2]))
        .await;
    c.call("eth_getBlockTransactionCountByNumber", json!(["0x3"]))
        .await;
    for block in ["0x1", "0x2", "0x3", "latest"] {
        c.call("eth_getBlockReceipts", json!([block])).await;
    }
    for hash in &in_pool {
        let tx = c
            .call_pool_transaction("eth_getTransactionByHash", json!([hash]))
            .await;
        assert_eq!(tx["hash"], json!(hash));
        let receipt = c.call("eth_getTransactionReceipt", json!([hash])).await;
        assert_eq!(receipt, Value::Null);
    }
    for (index, hash) in block2.iter().chain(&block3).enumerate() {
        c.call("eth_getTransactionByHash", json!([hash])).await;
        c.call("eth_getTransactionReceipt", json!([hash])).await;
        if index < block2.len() {
            c.call(
                "eth_getTransactionByBlockHashAndIndex",
                json!([hash2, format!("{index:#x}")]),
            )
            .await;
            c.call(
                "eth_getTransactionByBlockNumberAndIndex",
                json!(["0x2", format!("{index:#x}")]),
            )
            .await;
        }
    }
    c.call("eth_getTransactionByHash", json!([B256::repeat_byte(2)]))
        .await;

    // The node.
    for method in [
        "eth_chainId",
        "eth_syncing",
        "eth_coinbase",
        "eth_accounts",
        "eth_blockNumber",
        "eth_config",
        "eth_capabilities",
        "net_version",
    ] {
        c.call(method, json!([])).await;
    }

    // State.
    for block in [
        json!("latest"),
        json!("0x2"),
        json!("pending"),
        json!({ "blockHash": hash3 }),
    ] {
        c.call("eth_getBalance", json!([sender, block])).await;
        c.call("eth_getTransactionCount", json!([sender, block]))
            .await;
        c.call("eth_getCode", json!([probe, block])).await;
        c.call("eth_getStorageAt", json!([probe, "0x0", block]))
            .await;
        c.call(
            "eth_getStorageValues",
            json!([{ probe.to_string(): ["0x0", "0x1"], emitter.to_string(): ["0x0"] }, block]),
        )
        .await;
    }
    c.call("eth_getProof", json!([probe, ["0x0", "0x1"], "latest"]))
        .await;
    c.call(
        "eth_getProof",
        json!([Address::repeat_byte(0x42), [], "0x2"]),
    )
    .await;

    // Execution.
    let number_call = RpcProbe::numberCall {}.abi_encode();
    c.call(
        "eth_call",
        json!([{ "to": probe, "input": Bytes::from(number_call.clone()) }, "latest"]),
    )
    .await;
    c.call(
        "eth_estimateGas",
        json!([{ "from": sender, "to": Address::repeat_byte(0xee), "value": "0x1" }]),
    )
    .await;
    let set_nine = RpcProbe::setNumberCall {
        value: U256::from(9),
    }
    .abi_encode();
    c.call(
        "eth_createAccessList",
        json!([{ "from": sender, "to": probe, "input": Bytes::from(set_nine.clone()) }, "latest"]),
    )
    .await;
    c.call(
        "eth_fillTransaction",
        json!([{ "from": sender, "to": Address::repeat_byte(0xee), "value": "0x1" }]),
    )
    .await;
    // eth_simulateV1: two blocks (a skipped number filled in), a call that logs, a transfer
    // (traced as a log), a reverted call, overrides; hashes and then full transactions.
    let reverting = RpcProbe::requireAboveCall {
        value: U256::from(1_000_000),
    }
    .abi_encode();
    let payload = |full: bool| {
        json!({
            "blockStateCalls": [
                {
                    "stateOverrides": { Address::repeat_byte(0x71).to_string(): { "balance": "0x100" } },
                    "calls": [
                        { "from": sender, "to": probe, "input": Bytes::from(set_nine.clone()) },
                        { "from": sender, "to": Address::repeat_byte(0xee), "value": "0x1" },
                        { "from": sender, "to": probe, "input": Bytes::from(reverting.clone()) },
                    ],
                },
                {
                    "blockOverrides": { "number": "0x7f", "time": "0x7fffffff" },
                    "calls": [{ "from": Address::repeat_byte(0x71), "to": sender, "value": "0x10" }],
                },
            ],
            "traceTransfers": true,
            "validation": false,
            "returnFullTransactions": full,
        })
    };
    c.call("eth_simulateV1", json!([payload(false), "latest"]))
        .await;
    c.call("eth_simulateV1", json!([payload(true)])).await;
    c.call(
        "eth_fillTransaction",
        json!([{ "from": sender, "to": probe, "gasPrice": format!("{GAS_PRICE:#x}"),
                 "input": Bytes::from(number_call) }]),
    )
    .await;

    // Fees.
    for method in [
        "eth_gasPrice",
        "eth_baseFee",
        "eth_blobBaseFee",
        "eth_maxPriorityFeePerGas",
    ] {
        c.call(method, json!([])).await;
    }
    c.call("eth_feeHistory", json!(["0x3", "latest", [25, 75]]))
        .await;
    c.call("eth_feeHistory", json!(["0x2", "pending", []]))
        .await;

    // Filters and logs.
    for filter in [&log_filter, &block_filter, &pending_filter] {
        let changes = c.call("eth_getFilterChanges", json!([filter])).await;
        assert!(
            changes.as_array().is_some_and(|c| !c.is_empty()),
            "filter {filter} saw nothing: {changes}"
        );
    }
    let logs = c.call("eth_getFilterLogs", json!([log_filter])).await;
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "{logs}");
    c.call(
        "eth_getLogs",
        json!([{ "fromBlock": "0x0", "toBlock": "latest", "address": emitter }]),
    )
    .await;
    c.call("eth_getLogs", json!([{ "blockHash": hash3 }])).await;
    for filter in [&log_filter, &block_filter, &pending_filter] {
        c.call("eth_uninstallFilter", json!([filter])).await;
    }

    // debug_.
    c.call("debug_getRawHeader", json!(["0x3"])).await;
    c.call("debug_getRawBlock", json!(["0x3"])).await;
    c.call("debug_getRawTransaction", json!([logged])).await;
    c.call("debug_getRawReceipts", json!(["0x3"])).await;
    c.call("debug_getBadBlocks", json!([])).await;
    for config in [
        json!({}),
        json!({ "enableMemory": true, "enableReturnData": true }),
        json!({ "tracer": "callTracer" }),
        json!({ "tracer": "prestateTracer" }),
    ] {
        c.call("debug_traceBlockByNumber", json!(["0x3", config]))
            .await;
        c.call("debug_traceBlockByHash", json!([hash2, config]))
            .await;
        for hash in [stored, logged, reverted] {
            c.call("debug_traceTransaction", json!([hash, config]))
                .await;
        }
    }

    // txpool_.
    c.call("txpool_status", json!([])).await;
    let content = c.call("txpool_content", json!([])).await;
    assert!(
        content["queued"].as_object().is_some_and(|q| !q.is_empty()),
        "{content}"
    );
    c.call("txpool_contentFrom", json!([pending_sender])).await;

    // The methods that need keys answer an error, not a result.
    let request = json!({ "from": sender, "to": Address::repeat_byte(0xee), "value": "0x1" });
    for (method, params) in [
        ("eth_sign", json!([sender, "0xdeadbeef"])),
        ("eth_signTransaction", json!([request])),
        ("eth_sendTransaction", json!([request])),
    ] {
        let error = rpc_error(&node, method, params).await;
        assert_eq!(error.code, -32000, "{method}: {error:?}");
        assert!(
            error.message.starts_with("unknown account")
                && error.message.contains("eth_sendRawTransaction"),
            "{method}: {error:?}"
        );
    }
    // Nothing above may have changed the pool's pending transaction.
    let still = rpc_response(&node, "eth_getTransactionByHash", json!([in_pool[0]])).await;
    assert!(still["result"].is_object(), "{still}");

    // Coverage.
    let ctx = RpcContext::new(
        RpcConfig::default(),
        node.chain.clone(),
        node.mempool.clone(),
    );
    let registered: BTreeSet<String> = keel_rpc::methods(ctx)
        .expect("methods")
        .method_names()
        .map(str::to_string)
        .collect();
    let in_spec: BTreeSet<String> = spec.methods.keys().cloned().collect();
    let not_served: BTreeSet<String> = in_spec.difference(&registered).cloned().collect();
    let allowed: BTreeSet<String> = NOT_SERVED.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        not_served, allowed,
        "spec methods keel does not serve, against the allow-list"
    );
    let key_holding: BTreeSet<String> = KEY_HOLDING.iter().map(|m| m.to_string()).collect();
    assert!(key_holding.is_subset(&registered), "{key_holding:?}");
    let to_validate: BTreeSet<String> = in_spec
        .difference(&allowed)
        .cloned()
        .collect::<BTreeSet<_>>()
        .difference(&key_holding)
        .cloned()
        .collect();
    assert_eq!(
        c.validated, to_validate,
        "the methods validated here, against the spec methods keel serves"
    );

    assert!(
        c.failures.is_empty(),
        "{} answers do not conform:\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );
    node.stop().await;
}
