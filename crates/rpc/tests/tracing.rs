//! geth-style tracing (`debug_traceTransaction`, `debug_traceBlockByNumber`,
//! `debug_traceBlockByHash`, `debug_traceCall`) against a running node: one block holding a
//! value transfer, deployments, a call that calls a contract which logs, and a call whose inner
//! call reverts, traced with each tracer; a privileged deposit traced too.

mod common;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxKind, U256},
    sol_types::{SolCall, SolEvent},
};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use keel_types::rules::L2_BRIDGE_ADDRESS;
use serde_json::{Value, json};

use common::{
    Fee, GWEI, LogEmitter, PING, RpcError, RpcProbe, TestNode, call_tx, deploy_emitter_tx,
    next_nonce, ping, produce, quantity, request, rpc, rpc_error, send, sign, signed_tx,
};

/// Init code of a forwarder to `target`: its runtime copies the calldata, CALLs `target` with
/// it and all gas, and returns (or reverts with) what the callee returned.
fn forwarder_initcode(target: Address) -> Bytes {
    let mut runtime = vec![
        0x36, 0x60, 0x00, 0x60, 0x00, 0x37, // CALLDATACOPY(0, 0, CALLDATASIZE)
        0x60, 0x00, 0x60, 0x00, 0x36, 0x60, 0x00, 0x60, 0x00, // ret 0,0; args 0,size; value 0
        0x73, // PUSH20 target
    ];
    runtime.extend_from_slice(target.as_slice());
    runtime.extend_from_slice(&[
        0x5a, 0xf1, // GAS CALL
        0x3d, 0x60, 0x00, 0x60, 0x00, 0x3e, // RETURNDATACOPY(0, 0, RETURNDATASIZE)
        0x60, 0x33, 0x57, // PUSH1 51 JUMPI
        0x3d, 0x60, 0x00, 0xfd, // REVERT(0, RETURNDATASIZE)
        0x5b, 0x3d, 0x60, 0x00, 0xf3, // JUMPDEST RETURN(0, RETURNDATASIZE)
    ]);
    assert_eq!(runtime.len(), 56);
    let mut code = vec![
        0x60, 56, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(&runtime);
    code.into()
}

fn addr(value: &Value) -> Address {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an address: {value}"))
        .parse()
        .expect("address")
}

fn call_tracer(config: Value) -> Value {
    json!({ "tracer": "callTracer", "tracerConfig": config })
}

async fn trace_tx(node: &TestNode, hash: B256, opts: Value) -> Value {
    rpc(node, "debug_traceTransaction", json!([hash, opts])).await
}

struct Sent {
    transfer: B256,
    deploy_emitter: B256,
    nested: B256,
    reverting: B256,
    all: Vec<B256>,
}

#[tokio::test(flavor = "multi_thread")]
async fn transactions_and_calls_trace_with_each_tracer() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let signer = TestNode::dev_signer(0);
    let sender = signer.address();
    let nonce = next_nonce(&node, sender).await;
    let value = U256::from(123_456_789u64);
    let recipient = Address::repeat_byte(0xee);

    // All in one block, in this order.
    let transfer = sign(
        &signer,
        request(sender, nonce, 21_000, Fee::tip(GWEI))
            .with_to(recipient)
            .with_value(value),
    )
    .await;
    let (deploy_emitter, emitter) = deploy_emitter_tx(0, nonce + 1).await;
    let deploy =
        |n: u64, code: Bytes| signed_tx(0, n, TxKind::Create, code, 1_000_000, Fee::tip(GWEI));
    let forwarder = sender.create(nonce + 2);
    let deploy_forwarder = deploy(nonce + 2, forwarder_initcode(emitter)).await;
    let probe = sender.create(nonce + 3);
    let deploy_probe = deploy(nonce + 3, RpcProbe::BYTECODE.clone()).await;
    let probe_forwarder = sender.create(nonce + 4);
    let deploy_probe_forwarder = deploy(nonce + 4, forwarder_initcode(probe)).await;
    let ping_input = ping(7, b"hi");
    let nested = call_tx(0, nonce + 5, forwarder, ping_input.clone()).await;
    let too_small = RpcProbe::requireAboveCall {
        value: U256::from(1),
    }
    .abi_encode();
    let reverting = call_tx(0, nonce + 6, probe_forwarder, too_small).await;
    let mut all = Vec::new();
    for tx in [
        &transfer,
        &deploy_emitter,
        &deploy_forwarder,
        &deploy_probe,
        &deploy_probe_forwarder,
        &nested,
        &reverting,
    ] {
        all.push(send(&node, tx).await);
    }
    let (number, block_hash) = produce(&node).await;
    let sent = Sent {
        transfer: all[0],
        deploy_emitter: all[1],
        nested: all[5],
        reverting: all[6],
        all,
    };
    let receipt = |hash: B256| {
        let node = &node;
        async move { rpc(node, "eth_getTransactionReceipt", json!([hash])).await }
    };
    for hash in &sent.all {
        let r = receipt(*hash).await;
        assert_eq!(quantity(&r["blockNumber"]), u128::from(number), "{r}");
    }
    assert_eq!(receipt(sent.reverting).await["status"], "0x0");
    assert_eq!(receipt(sent.nested).await["status"], "0x1");

    // callTracer: a transfer.
    let trace = trace_tx(&node, sent.transfer, call_tracer(json!({}))).await;
    assert_eq!(trace["type"], "CALL");
    assert_eq!(addr(&trace["from"]), sender);
    assert_eq!(addr(&trace["to"]), recipient);
    assert_eq!(quantity(&trace["value"]), 123_456_789);
    assert_eq!(quantity(&trace["gasUsed"]), 21_000);
    assert!(trace.get("calls").is_none(), "{trace}");

    // A deployment.
    let trace = trace_tx(&node, sent.deploy_emitter, call_tracer(json!({}))).await;
    assert_eq!(trace["type"], "CREATE");
    assert_eq!(addr(&trace["to"]), emitter);
    assert_eq!(
        quantity(&trace["gasUsed"]),
        quantity(&receipt(sent.deploy_emitter).await["gasUsed"])
    );

    // A call that calls a contract that logs: with and without the logs, and the top call only.
    let trace = trace_tx(&node, sent.nested, call_tracer(json!({ "withLog": true }))).await;
    assert_eq!(addr(&trace["to"]), forwarder);
    assert_eq!(
        quantity(&trace["gasUsed"]),
        quantity(&receipt(sent.nested).await["gasUsed"])
    );
    let calls = trace["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{trace}");
    assert_eq!(calls[0]["type"], "CALL");
    assert_eq!(addr(&calls[0]["from"]), forwarder);
    assert_eq!(addr(&calls[0]["to"]), emitter);
    assert_eq!(calls[0]["input"], json!(Bytes::from(ping_input.clone())));
    let logs = calls[0]["logs"].as_array().expect("the inner call's logs");
    assert_eq!(logs.len(), 1);
    assert_eq!(addr(&logs[0]["address"]), emitter);
    assert_eq!(logs[0]["topics"][0], json!(PING));
    let without_logs = trace_tx(&node, sent.nested, call_tracer(json!({}))).await;
    assert!(
        without_logs["calls"][0].get("logs").is_none(),
        "{without_logs}"
    );
    let top = trace_tx(
        &node,
        sent.nested,
        call_tracer(json!({ "onlyTopCall": true })),
    )
    .await;
    assert!(top.get("calls").is_none(), "{top}");
    assert_eq!(addr(&top["to"]), forwarder);

    // A call whose inner call reverts.
    let trace = trace_tx(&node, sent.reverting, call_tracer(json!({}))).await;
    assert_eq!(trace["error"], "execution reverted", "{trace}");
    assert_eq!(trace["calls"][0]["error"], "execution reverted");
    assert_eq!(addr(&trace["calls"][0]["to"]), probe);
    assert_eq!(trace["calls"][0]["revertReason"], "value too small");

    // prestateTracer: the sender as it was before the transfer (the block's first).
    let before = format!("{:#x}", number - 1);
    let balance = quantity(&rpc(&node, "eth_getBalance", json!([sender, before])).await);
    let trace = trace_tx(&node, sent.transfer, json!({ "tracer": "prestateTracer" })).await;
    let account = &trace[sender.to_string().to_lowercase()];
    assert_eq!(quantity(&account["balance"]), balance, "{trace}");
    // A zero nonce is left out, as geth does.
    assert_eq!(account["nonce"].as_u64().unwrap_or(0), nonce, "{trace}");
    // diffMode: the nonce and balances before and after.
    let diff = trace_tx(
        &node,
        sent.transfer,
        json!({ "tracer": "prestateTracer", "tracerConfig": { "diffMode": true } }),
    )
    .await;
    let key = sender.to_string().to_lowercase();
    assert_eq!(
        diff["pre"][&key]["nonce"].as_u64().unwrap_or(0),
        nonce,
        "{diff}"
    );
    assert_eq!(diff["post"][&key]["nonce"], json!(nonce + 1), "{diff}");
    assert!(quantity(&diff["post"][&key]["balance"]) < balance);
    let to_key = recipient.to_string().to_lowercase();
    assert_eq!(quantity(&diff["post"][&to_key]["balance"]), 123_456_789);

    // 4byteTracer: ping's selector, once for the forwarder and once for the emitter.
    let trace = trace_tx(&node, sent.nested, json!({ "tracer": "4byteTracer" })).await;
    let selector = format!(
        "{}-{}",
        Bytes::copy_from_slice(&LogEmitter::pingCall::SELECTOR),
        ping_input.len() - 4
    );
    assert_eq!(trace[&selector], 2, "{trace}");

    // noopTracer.
    let trace = trace_tx(&node, sent.nested, json!({ "tracer": "noopTracer" })).await;
    assert_eq!(trace, json!({}));

    // The struct logger: opcodes, gas going down, the stack unless disabled, memory if enabled.
    let trace = trace_tx(&node, sent.nested, json!({})).await;
    assert_eq!(trace["failed"], false);
    // The struct logger's gas is a JSON number, as geth's.
    assert_eq!(
        u128::from(trace["gas"].as_u64().expect("gas")),
        quantity(&receipt(sent.nested).await["gasUsed"])
    );
    let logs = trace["structLogs"].as_array().expect("structLogs");
    assert!(logs.len() > 20, "{}", logs.len());
    assert_eq!(logs[0]["op"], "CALLDATASIZE");
    let last = logs.last().expect("a last op")["op"].as_str().expect("op");
    assert!(last == "RETURN" || last == "STOP", "{last}");
    let top: Vec<u64> = logs
        .iter()
        .filter(|log| log["depth"] == 1)
        .map(|log| log["gas"].as_u64().expect("gas"))
        .collect();
    assert!(top.windows(2).all(|w| w[1] <= w[0]), "{top:?}");
    assert!(logs.iter().any(|log| log["depth"] == 2));
    assert!(logs.iter().any(|log| log["op"] == "LOG3"));
    assert!(logs[1].get("stack").is_some(), "{}", logs[1]);
    assert!(logs.iter().all(|log| log.get("memory").is_none()));
    let trace = trace_tx(
        &node,
        sent.nested,
        json!({ "disableStack": true, "enableMemory": true }),
    )
    .await;
    let logs = trace["structLogs"].as_array().expect("structLogs");
    assert!(logs.iter().all(|log| log.get("stack").is_none()));
    assert!(logs.iter().any(|log| log.get("memory").is_some()));
    let reverted = trace_tx(&node, sent.reverting, json!({})).await;
    assert_eq!(reverted["failed"], true);
    let ops = reverted["structLogs"].as_array().expect("structLogs");
    assert_eq!(ops.last().expect("ops")["op"], "REVERT");

    // The block, by number and by hash: one trace per transaction, in order, with its hash.
    let by_number = rpc(
        &node,
        "debug_traceBlockByNumber",
        json!([format!("{number:#x}"), call_tracer(json!({}))]),
    )
    .await;
    let by_hash = rpc(
        &node,
        "debug_traceBlockByHash",
        json!([block_hash, call_tracer(json!({}))]),
    )
    .await;
    assert_eq!(by_number, by_hash);
    let traces = by_number.as_array().expect("traces");
    assert_eq!(traces.len(), sent.all.len());
    for (trace, hash) in traces.iter().zip(&sent.all) {
        assert_eq!(trace["txHash"], json!(hash));
    }
    assert_eq!(
        traces[5]["result"],
        trace_tx(&node, sent.nested, call_tracer(json!({}))).await
    );
    // A block with no transactions, and the genesis block.
    let (empty, _) = produce(&node).await;
    let none = rpc(
        &node,
        "debug_traceBlockByNumber",
        json!([format!("{empty:#x}"), {}]),
    )
    .await;
    assert_eq!(none, json!([]));

    // debug_traceCall on eth_call's path: a call that logs, at the latest block.
    let increment = RpcProbe::incrementCall {}.abi_encode();
    let call = json!({ "from": sender, "to": probe, "input": Bytes::from(increment) });
    let trace = rpc(
        &node,
        "debug_traceCall",
        json!([call, "latest", call_tracer(json!({ "withLog": true }))]),
    )
    .await;
    assert_eq!(addr(&trace["from"]), sender);
    assert_eq!(addr(&trace["to"]), probe);
    assert_eq!(
        trace["logs"][0]["topics"][0],
        json!(RpcProbe::Incremented::SIGNATURE_HASH)
    );
    assert_eq!(quantity(&trace["output"]), 1);
    // With a state override: the counter starts from 41.
    let trace = rpc(
        &node,
        "debug_traceCall",
        json!([call, "latest", {
            "tracer": "callTracer",
            "stateOverrides": { probe.to_string(): { "stateDiff": { B256::ZERO.to_string(): common::word(41) } } },
        }]),
    )
    .await;
    assert_eq!(quantity(&trace["output"]), 42);

    // Errors: unknown transaction (null, as geth), unknown tracer, bad block, timeouts.
    let unknown = rpc(
        &node,
        "debug_traceTransaction",
        json!([B256::repeat_byte(0x42), {}]),
    )
    .await;
    assert_eq!(unknown, Value::Null);
    let RpcError { code, message, .. } = rpc_error(
        &node,
        "debug_traceTransaction",
        json!([sent.nested, { "tracer": "fooTracer" }]),
    )
    .await;
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("tracer not found: fooTracer"), "{message}");
    let RpcError { message, .. } =
        rpc_error(&node, "debug_traceBlockByNumber", json!(["0x10000", {}])).await;
    assert!(message.contains("not found"), "{message}");
    for (method, params) in [
        (
            "debug_traceTransaction",
            json!([sent.nested, { "timeout": "1ns" }]),
        ),
        (
            "debug_traceBlockByHash",
            json!([block_hash, { "tracer": "callTracer", "timeout": "1ns" }]),
        ),
        (
            "debug_traceCall",
            json!([call, "latest", { "timeout": "1ns" }]),
        ),
    ] {
        let RpcError { code, message, .. } = rpc_error(&node, method, params).await;
        assert_eq!(
            (code, message.as_str()),
            (-32000, "execution timeout"),
            "{method}"
        );
    }
    let RpcError { code, .. } = rpc_error(
        &node,
        "debug_traceTransaction",
        json!([sent.nested, { "timeout": "soon" }]),
    )
    .await;
    assert_eq!(code, -32602);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn privileged_deposits_are_traced() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let recipient = Address::repeat_byte(0x5e);
    let value = U256::from(987_654_321u64);
    let tx = common::deposit(0, recipient, value);
    let hash = tx.hash();
    let built = common::build_privileged_block(&node, tx).await;
    assert_eq!(built.block.body.transactions.len(), 1);

    let trace = trace_tx(&node, hash, call_tracer(json!({ "withLog": true }))).await;
    assert_eq!(addr(&trace["from"]), L2_BRIDGE_ADDRESS, "{trace}");
    assert_eq!(addr(&trace["to"]), L2_BRIDGE_ADDRESS);
    assert_eq!(quantity(&trace["value"]), 987_654_321);
    assert!(trace.get("error").is_none(), "{trace}");
    let receipt = rpc(&node, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(quantity(&trace["gasUsed"]), quantity(&receipt["gasUsed"]));
    // The recipient gets the value (the bridge's inner call or its balance change).
    let diff = trace_tx(
        &node,
        hash,
        json!({ "tracer": "prestateTracer", "tracerConfig": { "diffMode": true } }),
    )
    .await;
    let key = recipient.to_string().to_lowercase();
    assert_eq!(
        quantity(&diff["post"][&key]["balance"]),
        987_654_321,
        "{diff}"
    );
    let block = rpc(
        &node,
        "debug_traceBlockByNumber",
        json!([format!("{:#x}", built.block.header.number), {}]),
    )
    .await;
    assert_eq!(block[0]["txHash"], json!(hash));
    assert_eq!(block[0]["result"]["failed"], false);
    node.stop().await;
}
