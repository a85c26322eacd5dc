//! Strict input (docs/rpc.md, "Input rules") and the spec's error codes ("Error codes"), end to
//! end over HTTP with raw JSON: every malformed request of the table gets its error code and
//! never a result; each of the spec's codes for rejected transactions and failed calls comes
//! back for a transaction that triggers it.

mod common;

use alloy::{consensus::TxEip1559, signers::local::PrivateKeySigner};
use common::{TestNode, post, post_text, produce, rpc, rpc_error, rpc_response};
use keel_chain::MempoolConfig;
use keel_rpc::{RpcConfig, RpcContext};
use keel_types::dev;
use serde_json::{Value, json};

const H: &str = "0x1000000000000000000000000000000000000000000000000000000000000001";
const A: &str = "0xaa00000000000000000000000000000000000000";
/// A hash without its `0x`.
const H_BARE: &str = "1000000000000000000000000000000000000000000000000000000000000001";
/// A hash one byte short, an address one byte long.
const H_SHORT: &str = "0x10000000000000000000000000000000000000000000000000000000000000";
const A_LONG: &str = "0xaa0000000000000000000000000000000000000000";

/// -32602: invalid params.
const P: i64 = -32602;
/// -32600: invalid request.
const R: i64 = -32600;

/// Malformed requests: method, params (raw JSON text, so that strings and objects can stand for
/// the whole `params`), the code expected.
const CASES: &[(&str, &str, i64)] = &[
    // The issue's list.
    (
        "eth_getLogs",
        r#"[{"fromBlock":"0x32","toBlock":"0x38"}]"#,
        P,
    ),
    ("eth_getBlockByNumber", r#"["latest"]"#, P),
    ("eth_getBlockByHash", r#"["H"]"#, P),
    ("eth_blockNumber", r#""latest""#, R),
    ("eth_getBalance", r#""A""#, R),
    ("eth_chainId", "1", R),
    ("eth_chainId", "true", R),
    ("eth_getFilterChanges", r#"[{"id":"0x1"}]"#, P),
    ("eth_getFilterChanges", r#"["0xzz"]"#, P),
    ("eth_uninstallFilter", r#"[{"id":"0x1"}]"#, P),
    ("eth_uninstallFilter", r#"["xyz"]"#, P),
    ("eth_getFilterLogs", r#"["12"]"#, P),
    ("debug_getRawTransaction", r#"["H_BARE"]"#, P),
    (
        "eth_getStorageAt",
        r#"["A","0x00000000000000000000000000000000000000000000000000000000000000000","latest"]"#,
        P,
    ),
    ("eth_getStorageAt", r#"["A","0xasdf","latest"]"#, P),
    ("eth_getBlockByNumber", r#"["0x02",false]"#, P),
    ("debug_getRawBlock", r#"["2"]"#, P),
    ("eth_chainId", r#"["extra"]"#, P),
    ("eth_blockNumber", "[1]", P),
    ("eth_gasPrice", "[null, 1]", P),
    // By-name params: refused as geth refuses them.
    ("eth_getBalance", r#"{"address":"A","block":"latest"}"#, P),
    // One per parameter type of each method.
    ("eth_getBlockByNumber", r#"["latest","true"]"#, P),
    ("eth_getBlockByNumber", r#"["newest",false]"#, P),
    ("eth_getBlockByNumber", "[1,false]", P),
    ("eth_getBlockByNumber", r#"["latest",false,1]"#, P),
    ("eth_getBlockByHash", r#"["H_SHORT",false]"#, P),
    ("eth_getBlockByHash", r#"["H_BARE",false]"#, P),
    ("eth_getBlockReceipts", r#"["0x01"]"#, P),
    ("eth_getBlockReceipts", r#"[{"blockHash":"H_SHORT"}]"#, P),
    ("eth_getBlockReceipts", "[]", P),
    ("eth_getBlockTransactionCountByNumber", r#"["0x0001"]"#, P),
    ("eth_getBlockTransactionCountByHash", r#"["H_BARE"]"#, P),
    ("eth_getUncleCountByBlockNumber", r#"["1"]"#, P),
    ("eth_getUncleCountByBlockHash", r#"["0x"]"#, P),
    ("eth_getUncleByBlockHashAndIndex", r#"["H","0x00"]"#, P),
    ("eth_getUncleByBlockNumberAndIndex", r#"["latest","0"]"#, P),
    ("eth_getTransactionByHash", r#"["H_SHORT"]"#, P),
    ("eth_getTransactionByHash", "[]", P),
    ("eth_getTransactionReceipt", r#"["H_BARE"]"#, P),
    ("eth_getTransactionByBlockHashAndIndex", r#"["H"]"#, P),
    (
        "eth_getTransactionByBlockHashAndIndex",
        r#"["H","0x01"]"#,
        P,
    ),
    (
        "eth_getTransactionByBlockNumberAndIndex",
        r#"["0x1","1"]"#,
        P,
    ),
    (
        "eth_getBalance",
        r#"["aa00000000000000000000000000000000000000"]"#,
        P,
    ),
    ("eth_getBalance", r#"["A_LONG"]"#, P),
    ("eth_getBalance", r#"["A","0x01"]"#, P),
    ("eth_getBalance", r#"["A","latest",true]"#, P),
    ("eth_getCode", r#"["A","H_SHORT"]"#, P),
    ("eth_getCode", "[]", P),
    (
        "eth_getTransactionCount",
        r#"["A",{"blockNumber":"0x01"}]"#,
        P,
    ),
    ("eth_getStorageAt", r#"["A"]"#, P),
    ("eth_getStorageAt", r#"["A","1"]"#, P),
    ("eth_getStorageValues", r#"[{"A":["0x1","1"]}]"#, P),
    ("eth_getStorageValues", r#"[{"0xaa":["0x1"]}]"#, P),
    ("eth_getStorageValues", r#"[["A"]]"#, P),
    ("eth_getProof", r#"["A",["0x1"],"latest","x"]"#, P),
    ("eth_getProof", r#"["A","0x1"]"#, P),
    ("eth_getProof", r#"["A",["zz"]]"#, P),
    ("eth_call", "[]", P),
    (
        "eth_call",
        r#"[{"to":"aa00000000000000000000000000000000000000"}]"#,
        P,
    ),
    ("eth_call", r#"[{"to":"A","value":"0x01"}]"#, P),
    ("eth_call", r#"[{"to":"A","data":"0x123"}]"#, P),
    ("eth_call", r#"[{"to":"A"},"0x01"]"#, P),
    ("eth_call", r#"[{"to":"A"},"latest","overrides"]"#, P),
    ("eth_call", r#"["A"]"#, P),
    ("eth_estimateGas", r#"[{"from":"A_LONG"}]"#, P),
    ("eth_estimateGas", r#"[{"to":"A","gas":"21000"}]"#, P),
    ("eth_createAccessList", r#"[{"to":"A","input":"abcd"}]"#, P),
    ("eth_createAccessList", r#"[{"to":"A"},"latest",{}]"#, P),
    ("eth_simulateV1", r#"["payload"]"#, P),
    ("eth_simulateV1", r#"[{"blockStateCalls":[]},"0x01"]"#, P),
    ("eth_fillTransaction", r#"[{"to":"A","nonce":"0x01"}]"#, P),
    ("eth_fillTransaction", "[]", P),
    ("eth_sendRawTransaction", r#"["02f86c"]"#, P),
    ("eth_sendRawTransaction", r#"["0x2"]"#, P),
    ("eth_sendRawTransaction", "[]", P),
    ("eth_sendRawTransaction", r#"["0x02","0x02"]"#, P),
    ("eth_sendRawTransactionSync", r#"["0x02","1000"]"#, P),
    ("eth_sendRawTransactionSync", r#"["0x02",-1]"#, P),
    ("eth_sign", r#"["A","hello"]"#, P),
    ("eth_signTransaction", r#"[{"to":"0xaa"}]"#, P),
    ("eth_sendTransaction", r#"[{"gasPrice":"0x0001"}]"#, P),
    ("eth_feeHistory", r#"["0x4","latest"]"#, P),
    ("eth_feeHistory", r#"["0x04","latest",[]]"#, P),
    ("eth_feeHistory", r#"["0x4","0x01",[]]"#, P),
    ("eth_feeHistory", r#"["0x4","latest",["50"]]"#, P),
    ("eth_getLogs", "[]", P),
    ("eth_getLogs", r#"["latest"]"#, P),
    ("eth_getLogs", r#"[{"fromBlock":"0x01"}]"#, P),
    ("eth_getLogs", r#"[{"blockHash":"H_SHORT"}]"#, P),
    ("eth_getLogs", r#"[{"address":"0xaa"}]"#, P),
    ("eth_getLogs", r#"[{"address":["A","A_LONG"]}]"#, P),
    ("eth_getLogs", r#"[{"topics":["H_SHORT"]}]"#, P),
    ("eth_getLogs", r#"[{"topics":[null,["H","0x1"]]}]"#, P),
    ("eth_getLogs", r#"[{"topics":"H"}]"#, P),
    ("eth_newFilter", r#"[{"toBlock":"1"}]"#, P),
    ("eth_newFilter", "[]", P),
    ("eth_newBlockFilter", "[true]", P),
    ("eth_newPendingTransactionFilter", r#"["true"]"#, P),
    ("eth_getFilterChanges", "[]", P),
    ("eth_getFilterChanges", r#"["0x01"]"#, P),
    ("eth_getFilterLogs", "[1]", P),
    ("eth_uninstallFilter", r#"["0x1","0x2"]"#, P),
    ("eth_subscribe", "[1]", P),
    ("eth_unsubscribe", r#"["sub"]"#, P),
    ("eth_syncing", "[false]", P),
    ("eth_accounts", r#"["A"]"#, P),
    ("eth_coinbase", "[1]", P),
    ("eth_config", r#"["latest"]"#, P),
    ("eth_capabilities", "[1]", P),
    ("eth_maxPriorityFeePerGas", "[1]", P),
    ("eth_baseFee", r#"["latest"]"#, P),
    ("eth_blobBaseFee", "[1]", P),
    ("net_version", "[1]", P),
    ("net_listening", "[1]", P),
    ("net_peerCount", "[1]", P),
    ("web3_clientVersion", "[1]", P),
    ("web3_sha3", r#"["hello"]"#, P),
    ("web3_sha3", r#"["0x123"]"#, P),
    ("web3_sha3", "[]", P),
    ("txpool_status", "[1]", P),
    ("txpool_content", "[1]", P),
    ("txpool_inspect", "[1]", P),
    ("txpool_contentFrom", r#"["0xaa"]"#, P),
    ("txpool_contentFrom", "[]", P),
    ("debug_getRawHeader", r#"["0x01"]"#, P),
    ("debug_getRawHeader", "[]", P),
    ("debug_getRawBlock", r#"["H_BARE"]"#, P),
    ("debug_getRawReceipts", r#"["latest",1]"#, P),
    ("debug_getRawTransaction", r#"["H_SHORT"]"#, P),
    ("debug_getBadBlocks", "[1]", P),
    ("debug_executionWitness", r#"["1"]"#, P),
    ("debug_executionWitness", r#"["H"]"#, P),
    ("debug_traceTransaction", r#"["H_BARE"]"#, P),
    ("debug_traceTransaction", r#"["H","callTracer"]"#, P),
    ("debug_traceBlockByNumber", r#"["0x01"]"#, P),
    ("debug_traceBlockByHash", r#"["H_SHORT"]"#, P),
    ("debug_traceBlockByHash", r#"["H",{},1]"#, P),
    ("debug_traceCall", r#"[{"to":"A_LONG"}]"#, P),
    (
        "debug_traceCall",
        r#"[{"to":"A"},"latest","callTracer"]"#,
        P,
    ),
    ("keel_batchNumber", "[1]", P),
    ("keel_getL1Contracts", "[1]", P),
    ("keel_getBatchByNumber", r#"["0x01"]"#, P),
    ("keel_getBatchByNumber", "[1]", P),
    ("keel_getBatchByBlock", r#"["1"]"#, P),
    ("keel_getWithdrawalProof", r#"["H_BARE"]"#, P),
    ("ots_getApiLevel", "[1]", P),
    ("ots_getHeaderByNumber", "[]", P),
    ("erigon_getHeaderByNumber", "[1,2]", P),
    ("ots_getBlockDetails", "[]", P),
    ("ots_getBlockDetailsByHash", r#"["H_SHORT"]"#, P),
    ("ots_getBlockTransactions", "[1,0]", P),
    ("ots_hasCode", r#"["0xaa",1]"#, P),
    ("ots_getTransactionError", r#"["H_BARE"]"#, P),
    ("ots_traceTransaction", r#"["H_SHORT"]"#, P),
    ("ots_getInternalOperations", "[]", P),
    ("ots_searchTransactionsBefore", r#"["A_LONG",0,10]"#, P),
    ("ots_searchTransactionsAfter", r#"["A",0]"#, P),
    (
        "ots_getTransactionBySenderAndNonce",
        r#"["aa00000000000000000000000000000000000000",0]"#,
        P,
    ),
    ("ots_getContractCreator", r#"["A_LONG"]"#, P),
];

/// `template` with the placeholders replaced.
fn fill(template: &str) -> String {
    template
        .replace("H_BARE", H_BARE)
        .replace("H_SHORT", H_SHORT)
        .replace("A_LONG", A_LONG)
        .replace("\"H\"", &format!("\"{H}\""))
        .replace("\"A\"", &format!("\"{A}\""))
}

fn call_body(method: &str, params: &str, id: u64) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#)
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_their_code_and_no_result() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let mut failures = Vec::new();
    for (i, (method, template, code)) in CASES.iter().enumerate() {
        let params = fill(template);
        let (status, text) = post_text(&node, call_body(method, &params, i as u64)).await;
        let answer: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {params}: not JSON ({e}): {status} {text}"));
        let got = answer["error"]["code"].as_i64();
        if answer.get("result").is_some() || got != Some(*code) || answer["id"] != json!(i) {
            failures.push(format!("{method} {params}: want {code}, got {answer}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    node.stop().await;
}

/// Every method the server registers has a parameter list the middleware checks, and the table
/// above has a case for each.
#[tokio::test(flavor = "multi_thread")]
async fn every_method_is_checked_and_tested() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let ctx = RpcContext::new(
        RpcConfig::default(),
        node.chain.clone(),
        node.mempool.clone(),
    );
    let module = keel_rpc::methods(ctx).expect("methods");
    let mut unchecked = Vec::new();
    let mut untested = Vec::new();
    for name in module.method_names() {
        if keel_rpc::params::method_params(name).is_none() {
            unchecked.push(name);
        }
        if !CASES.iter().any(|(method, _, _)| *method == name) {
            untested.push(name);
        }
    }
    assert!(unchecked.is_empty(), "no parameter list: {unchecked:?}");
    assert!(untested.is_empty(), "no malformed case: {untested:?}");
    node.stop().await;
}

/// Well-formed requests near the refused ones still answer: what geth allows and tools send.
#[tokio::test(flavor = "multi_thread")]
async fn the_lenient_forms_geth_allows_still_answer() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let head = rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    let hash = head["hash"]
        .as_str()
        .expect("hash")
        .to_uppercase()
        .replacen("0X", "0x", 1);
    // Upper-case hex digits (EIP-55 checksummed addresses, upper-case hashes).
    rpc(&node, "eth_getBlockByHash", json!([hash, false])).await;
    rpc(
        &node,
        "eth_getBalance",
        json!(["0x8943545177806ED17B9F23F0a21ee5948eCaa776", "latest"]),
    )
    .await;
    // EIP-1898 block objects, `null` for an optional parameter, `params: null` and absent.
    rpc(
        &node,
        "eth_getBalance",
        json!([A, { "blockHash": head["hash"] }]),
    )
    .await;
    rpc(
        &node,
        "eth_getBalance",
        json!([A, { "blockNumber": "0x1" }]),
    )
    .await;
    rpc(&node, "eth_getBalance", json!([A, null])).await;
    rpc(&node, "eth_getBalance", json!([A])).await;
    rpc(&node, "eth_blockNumber", Value::Null).await;
    let answer = post(
        &node,
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_chainId" }),
    )
    .await;
    assert!(answer.get("result").is_some(), "{answer}");
    // Short storage keys with leading zeros, up to 32 bytes; a block hash as the block.
    rpc(&node, "eth_getStorageAt", json!([A, "0x0", "latest"])).await;
    rpc(
        &node,
        "eth_getStorageAt",
        json!([A, format!("0x{}", "0".repeat(64)), head["hash"]]),
    )
    .await;
    // eth_feeHistory's block count as a number or a decimal string (geth's HexOrDecimal64).
    rpc(&node, "eth_feeHistory", json!([4, "latest", [50]])).await;
    rpc(&node, "eth_feeHistory", json!(["4", "latest", []])).await;
    // A transaction request's `type` in any spelling (geth ignores the field).
    rpc(
        &node,
        "eth_estimateGas",
        json!([{ "to": A, "type": "0x02" }]),
    )
    .await;
    // Otterscan's JSON numbers.
    rpc(&node, "ots_getBlockDetails", json!([1])).await;
    // A log range up to the head.
    rpc(
        &node,
        "eth_getLogs",
        json!([{ "fromBlock": "0x0", "toBlock": "latest" }]),
    )
    .await;
    let error = rpc_error(
        &node,
        "eth_getLogs",
        json!([{ "fromBlock": "0x0", "toBlock": "0x2" }]),
    )
    .await;
    assert_eq!(
        (error.code, error.message.as_str()),
        (-32602, "block range extends beyond current head block")
    );
    node.stop().await;
}

/// A refusal names the parameter, in geth's "invalid argument N" form.
#[tokio::test(flavor = "multi_thread")]
async fn refusals_name_the_parameter() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let cases = [
        (
            "eth_getBlockByNumber",
            json!(["latest"]),
            "missing value for required argument 1 (hydrated)",
        ),
        (
            "eth_getBlockByNumber",
            json!(["0x02", false]),
            "invalid argument 0 (block): hex number with leading zero digits: \"0x02\"",
        ),
        (
            "debug_getRawTransaction",
            json!([H_BARE]),
            "invalid argument 0 (transaction hash): hex string without 0x prefix",
        ),
        (
            "eth_getStorageAt",
            json!([A, format!("0x{}", "0".repeat(65)), "latest"]),
            "invalid argument 1 (storage slot): storage key too long (want at most 32 bytes)",
        ),
        (
            "eth_call",
            json!([{ "to": A_LONG }]),
            "invalid argument 0 (transaction): field to: want 20 bytes",
        ),
        (
            "eth_chainId",
            json!([1]),
            "too many arguments, want at most 0",
        ),
    ];
    for (method, params, message) in cases {
        let error = rpc_error(&node, method, params.clone()).await;
        assert_eq!(error.code, -32602, "{method} {params}");
        assert!(
            error.message.starts_with(message),
            "{method} {params}: {}",
            error.message
        );
    }
    let answer = rpc_response(&node, "eth_getBalance", json!({ "address": A })).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let (_, text) = post_text(&node, call_body("eth_chainId", r#""x""#, 7)).await;
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    assert_eq!(answer["id"], 7, "{answer}");
    node.stop().await;
}

/// JSON-RPC 2.0: a notification (no `id`) gets no answer, alone or in a batch.
#[tokio::test(flavor = "multi_thread")]
async fn notifications_are_not_answered() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let notification = r#"{"jsonrpc":"2.0","method":"eth_chainId","params":[]}"#;
    let (status, text) = post_text(&node, notification.to_string()).await;
    assert_eq!((status, text.as_str()), (200, ""));
    // A malformed notification is not answered either.
    let bad = r#"{"jsonrpc":"2.0","method":"eth_getBalance","params":["0xaa"]}"#;
    let (status, text) = post_text(&node, bad.to_string()).await;
    assert_eq!((status, text.as_str()), (200, ""));
    // A batch: answers for the calls only.
    let batch = format!(
        "[{notification},{},{bad}]",
        call_body("eth_chainId", "[]", 5)
    );
    let answer: Value = serde_json::from_str(&post_text(&node, batch).await.1).expect("JSON");
    let answers = answer.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 1, "{answer}");
    assert_eq!(answers[0]["id"], 5);
    assert!(answers[0].get("result").is_some(), "{answer}");
    // A batch of notifications only: no body.
    let (status, text) = post_text(&node, format!("[{notification},{bad}]")).await;
    assert_eq!((status, text.as_str()), (200, ""));
    node.stop().await;
}

const GWEI: u128 = 1_000_000_000;

use common::transfer_1559 as tx;

fn sign(signer: &PrivateKeySigner, tx: TxEip1559) -> String {
    format!("0x{}", alloy::hex::encode(common::signed_raw(signer, tx)))
}

/// The code and message of sending `raw` with `method`.
async fn rejected(node: &TestNode, method: &str, raw: &str) -> (i64, String) {
    let error = rpc_error(node, method, json!([raw])).await;
    (error.code, error.message)
}

/// Each of the spec's codes for a rejected transaction, from `eth_sendRawTransaction` and
/// `eth_sendRawTransactionSync`, with geth's message.
#[tokio::test(flavor = "multi_thread")]
async fn rejected_transactions_get_the_spec_codes() {
    let node = TestNode::start_manual(
        MempoolConfig {
            min_tip: 1_000,
            max_per_sender: 16,
            ..Default::default()
        },
        RpcConfig::default(),
    )
    .await;
    let s = TestNode::dev_signer(1);
    // Nonce 0 included: the next nonce is 1.
    rpc(
        &node,
        "eth_sendRawTransaction",
        json!([sign(&s, tx(0, 10 * GWEI, GWEI))]),
    )
    .await;
    produce(&node).await;
    let mut low_gas = tx(1, 10 * GWEI, GWEI);
    low_gas.gas_limit = 20_999;
    let mut rich = tx(1, 10 * GWEI, GWEI);
    rich.value = dev::dev_balance();
    let mut huge_gas = tx(1, 10 * GWEI, GWEI);
    huge_gas.gas_limit = 10_000_000_000;
    let mut other_chain = tx(1, 10 * GWEI, GWEI);
    other_chain.chain_id = 1;
    let cases: Vec<(TxEip1559, i64, &str)> = vec![
        (tx(0, 10 * GWEI, GWEI), 1, "nonce too low"),
        (tx(1_000, 10 * GWEI, GWEI), 2, "nonce too high"),
        (low_gas, 800, "intrinsic gas too low"),
        (tx(1, 10 * GWEI, 10), 802, "transaction underpriced"),
        (huge_gas, 803, "exceeds block gas limit"),
        (
            tx(1, GWEI, 2 * GWEI),
            804,
            "max priority fee per gas higher than max fee per gas",
        ),
        (
            tx(1, 1_000, 1_000),
            806,
            "max fee per gas less than block base fee",
        ),
        (rich, 809, "insufficient funds for gas * price + value"),
        (other_chain, 1001, "invalid chain id for signer"),
    ];
    for method in ["eth_sendRawTransaction", "eth_sendRawTransactionSync"] {
        for (tx, code, message) in &cases {
            let (got, text) = rejected(&node, method, &sign(&s, tx.clone())).await;
            assert_eq!(got, *code, "{method}: {text}");
            assert!(text.starts_with(message), "{method}: {text}");
        }
    }
    // A bad signature (r = 2^256 - 1, above the curve's order): no sender.
    let mut bad_sig = sign(&s, tx(1, 10 * GWEI, GWEI));
    let n = bad_sig.len();
    bad_sig.replace_range(n - 130..n - 66, &"f".repeat(64));
    let (code, text) = rejected(&node, "eth_sendRawTransaction", &bad_sig).await;
    assert_eq!(code, 1001, "{text}");
    // Already known: the same transaction twice.
    let pending = sign(&s, tx(1, 10 * GWEI, GWEI));
    rpc(&node, "eth_sendRawTransaction", json!([pending])).await;
    for method in ["eth_sendRawTransaction", "eth_sendRawTransactionSync"] {
        let (code, text) = rejected(&node, method, &pending).await;
        assert_eq!((code, text.as_str()), (1000, "already known"), "{method}");
    }
    // Rejections the spec names no code for keep geth's -32000.
    let (code, text) = rejected(
        &node,
        "eth_sendRawTransaction",
        &sign(&s, tx(1, 10 * GWEI + 1, GWEI + 1)),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (-32000, "replacement transaction underpriced")
    );
    node.stop().await;
}

/// `eth_call` and `eth_estimateGas`: a revert is code 3 with its data, an invalid opcode 4, and
/// an invalid transaction the spec's gas error.
#[tokio::test(flavor = "multi_thread")]
async fn failed_calls_get_the_spec_codes() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let rich = TestNode::dev_signer(1).address();
    let stranger = "0x00000000000000000000000000000000000000bb";
    // Init code that reverts with 0xdeadbeef: PUSH4 deadbeef, PUSH1 0, MSTORE, PUSH1 4,
    // PUSH1 28, REVERT.
    let reverting = json!({ "from": rich, "data": "0x63deadbeef6000526004601cfd" });
    // Init code that reverts with no data: PUSH1 0, PUSH1 0, REVERT.
    let reverting_empty = json!({ "from": rich, "data": "0x60006000fd" });
    let invalid = json!({ "from": rich, "data": "0xfe" });
    let broke = json!({ "from": stranger, "to": A, "value": "0x1" });
    let broke_gas = json!({ "from": stranger, "to": A, "gasPrice": "0x3b9aca00" });
    let low_fee = json!({ "from": rich, "to": A, "maxFeePerGas": "0x1" });
    let tip_above = json!({
        "from": rich, "to": A, "maxFeePerGas": "0x3b9aca00", "maxPriorityFeePerGas": "0x77359400"
    });
    let low_gas = json!({ "from": rich, "to": A, "gas": "0x5000" });
    for method in ["eth_call", "eth_estimateGas"] {
        let error = rpc_error(&node, method, json!([reverting])).await;
        assert_eq!(
            (error.code, error.message.as_str(), error.data),
            (3, "execution reverted", Some(json!("0xdeadbeef"))),
            "{method}"
        );
        let error = rpc_error(&node, method, json!([reverting_empty])).await;
        assert_eq!((error.code, error.data), (3, Some(json!("0x"))), "{method}");
        let error = rpc_error(&node, method, json!([invalid])).await;
        assert_eq!(
            (error.code, error.message.as_str()),
            (4, "invalid opcode"),
            "{method}"
        );
        for (request, code, message) in [
            (&broke, 809, "insufficient funds"),
            (
                &broke_gas,
                809,
                "insufficient funds for gas * price + value",
            ),
            (&low_fee, 806, "max fee per gas less than block base fee"),
            (
                &tip_above,
                804,
                "max priority fee per gas higher than max fee per gas",
            ),
        ] {
            let error = rpc_error(&node, method, json!([request])).await;
            assert_eq!(error.code, code, "{method} {request}: {error:?}");
            assert!(error.message.starts_with(message), "{method}: {error:?}");
        }
    }
    let error = rpc_error(&node, "eth_call", json!([low_gas])).await;
    assert_eq!(error.code, 800, "{error:?}");
    assert!(
        error.message.starts_with("intrinsic gas too low"),
        "{error:?}"
    );
    node.stop().await;
}

/// The parameter lists agree with the spec's (`tests/spec/execution-apis.json`) for every method
/// both have: the same parameters in the same order, each of the kind its schema names, required
/// where the spec requires it; a list may go on with optional parameters geth takes (overrides).
#[test]
fn parameter_lists_follow_the_spec() {
    use keel_rpc::params::{Kind, method_params};
    // The spec marks these optional; a count of a block's transactions needs the block (geth
    // requires it too).
    const REQUIRED_HERE: [&str; 2] = [
        "eth_getBlockTransactionCountByHash",
        "eth_getBlockTransactionCountByNumber",
    ];
    let spec: Value = serde_json::from_str(include_str!("spec/execution-apis.json")).expect("spec");
    let mut compared = 0;
    let mut problems = Vec::new();
    for method in spec["methods"].as_array().expect("methods") {
        let name = method["name"].as_str().expect("name");
        let Some(list) = method_params(name) else {
            continue;
        };
        compared += 1;
        let params = method["params"].as_array().expect("params");
        if list.len() < params.len() {
            problems.push(format!(
                "{name}: {} params, the spec has {}",
                list.len(),
                params.len()
            ));
            continue;
        }
        for (i, (param, ours)) in params.iter().zip(list).enumerate() {
            let schema = &param["schema"];
            let schema_name = schema["$ref"]
                .as_str()
                .and_then(|r| r.rsplit('/').next())
                .or(schema["title"].as_str())
                .unwrap_or_default();
            let kind = match schema_name {
                "hash32" => Some(Kind::Hash),
                "address" => Some(Kind::Address),
                "uint" => Some(Kind::Quantity),
                "bytes" => Some(Kind::Bytes),
                "bytesMax32" => Some(Kind::StorageKey),
                "BlockNumberOrTag" => Some(Kind::BlockNumber),
                "BlockNumberOrTagOrHash" => Some(Kind::Block),
                "hydrated" => Some(Kind::Bool),
                "Filter" => Some(Kind::Filter),
                "GenericTransaction" => Some(Kind::Transaction),
                "Storage keys" => Some(Kind::StorageKeys),
                "Storage requests" => Some(Kind::StorageRequests),
                "rewardPercentiles" => Some(Kind::Numbers),
                _ => None,
            };
            let expected = match (name, kind) {
                // Filter ids are quantities; geth's HexOrDecimal64 block count.
                ("eth_uninstallFilter" | "eth_getFilterChanges" | "eth_getFilterLogs", _) => {
                    Some(Kind::FilterId)
                }
                ("eth_feeHistory", Some(Kind::Quantity)) => Some(Kind::QuantityOrInteger),
                // geth takes a block hash too (its BlockNumberOrHash) where the spec has a number
                // or tag only.
                (
                    "eth_estimateGas"
                    | "eth_createAccessList"
                    | "debug_getRawHeader"
                    | "debug_getRawBlock"
                    | "debug_getRawReceipts",
                    Some(Kind::BlockNumber),
                ) => Some(Kind::Block),
                _ => kind,
            };
            if let Some(kind) = expected
                && ours.kind != kind
            {
                problems.push(format!(
                    "{name} {i}: {:?}, the spec has {schema_name}",
                    ours.kind
                ));
            }
            let required =
                param["required"].as_bool().unwrap_or(false) || REQUIRED_HERE.contains(&name);
            if ours.required != required {
                problems.push(format!(
                    "{name} {i}: required {}, the spec {required}",
                    ours.required
                ));
            }
        }
        if let Some(extra) = list[params.len()..].iter().find(|p| p.required) {
            problems.push(format!("{name}: {} required beyond the spec's", extra.name));
        }
    }
    assert!(compared >= 50, "only {compared} methods compared");
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Over WebSocket the same checks apply.
#[tokio::test(flavor = "multi_thread")]
async fn refusals_over_websocket() {
    use alloy::providers::Provider;
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let ws = node.ws_client().await;
    for (method, params) in [
        ("eth_getBlockByNumber", json!(["latest"])),
        ("eth_getBalance", json!([&A[2..]])),
        ("eth_blockNumber", json!([1])),
    ] {
        let error = ws
            .raw_request::<_, Value>(method.into(), params.clone())
            .await
            .expect_err("refused");
        let error = error.as_error_resp().expect("a JSON-RPC error");
        assert_eq!(error.code, -32602, "{method} {params}: {error:?}");
    }
    let ok: Value = ws
        .raw_request("eth_getBlockByNumber".into(), json!(["latest", false]))
        .await
        .expect("well-formed");
    assert!(ok["hash"].is_string(), "{ok}");
    node.stop().await;
}
