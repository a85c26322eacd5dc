//! Differential: the same transactions (a value transfer, deployments, a forwarded call that
//! logs, one whose inner call reverts, a self-destruct, a creation that self-destructs, calls to
//! precompiles) sent to keel and to anvil (Prague, keel's chain id, the
//! same dev keys and nonces), traced with `callTracer` (`withLog`) and with the struct logger
//! (memory and return data on) and `prestateTracer` (`diffMode`) on both: the call trees must be
//! the same, field for field, but for the top frame's `gas` (see below), the struct logs the same
//! op for op, the state diffs the same but for balances (the chains' fees differ).
//!
//! Needs anvil: `tools/node_modules/.bin/anvil` (`npm ci --prefix tools`) or on `PATH`.

mod common;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, TxKind, U256},
    providers::{Provider, ProviderBuilder},
    sol_types::SolCall,
};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use serde_json::{Value, json};

use common::{
    Fee, GWEI, RpcProbe, TestNode, call_tx, deploy_emitter_tx, next_nonce, ping, produce, request,
    rpc, send, sign, signed_tx,
};

/// As in tests/tracing.rs: a forwarder of its calldata to `target`.
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
    let mut code = vec![
        0x60, 56, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(&runtime);
    code.into()
}

/// A contract whose code is `selfdestruct(caller())`.
fn selfdestruct_initcode() -> Bytes {
    Bytes::from_static(&[
        0x60, 0x02, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3, 0x33, 0xff,
    ])
}

/// ecrecover's input: a hash, v, r, s (a valid signature is not needed for a trace).
fn ecrecover_input() -> Vec<u8> {
    let mut input = vec![0u8; 128];
    input[31] = 1;
    input[63] = 27;
    input[95] = 1;
    input[127] = 1;
    input
}

#[tokio::test(flavor = "multi_thread")]
async fn call_traces_match_anvils() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let anvil = common::anvil_like_keel(&["--steps-tracing"]).await;
    let anvil_client = ProviderBuilder::new().connect_http(anvil.url.parse().expect("url"));

    let signer = TestNode::dev_signer(0);
    let sender = signer.address();
    let nonce = next_nonce(&node, sender).await;
    let anvil_nonce = anvil_client
        .get_transaction_count(sender)
        .await
        .expect("anvil nonce");
    assert_eq!(nonce, anvil_nonce, "both start from the same nonce");

    let transfer = sign(
        &signer,
        request(sender, nonce, 21_000, Fee::tip(GWEI))
            .with_to(Address::repeat_byte(0xee))
            .with_value(U256::from(123_456_789u64)),
    )
    .await;
    let (deploy_emitter, emitter) = deploy_emitter_tx(0, nonce + 1).await;
    let deploy =
        |n: u64, code: Bytes| signed_tx(0, n, TxKind::Create, code, 1_000_000, Fee::tip(GWEI));
    let forwarder = sender.create(nonce + 2);
    let probe = sender.create(nonce + 3);
    let probe_forwarder = sender.create(nonce + 4);
    let destructible = sender.create(nonce + 8);
    let sha_forwarder = sender.create(nonce + 11);
    let too_small = RpcProbe::requireAboveCall {
        value: U256::from(1),
    }
    .abi_encode();
    let txs = vec![
        transfer,
        deploy_emitter,
        deploy(nonce + 2, forwarder_initcode(emitter)).await,
        deploy(nonce + 3, RpcProbe::BYTECODE.clone()).await,
        deploy(nonce + 4, forwarder_initcode(probe)).await,
        call_tx(0, nonce + 5, forwarder, ping(7, b"hi")).await,
        call_tx(0, nonce + 6, probe_forwarder, too_small).await,
        call_tx(0, nonce + 7, probe, RpcProbe::incrementCall {}.abi_encode()).await,
        // A contract that self-destructs to its caller, deployed then called (EIP-6780: its
        // balance moves, the account stays).
        deploy(nonce + 8, selfdestruct_initcode()).await,
        call_tx(0, nonce + 9, destructible, Vec::new()).await,
        // A creation whose initcode self-destructs: created and gone in one transaction.
        deploy(nonce + 10, Bytes::from_static(&[0x33, 0xff])).await,
        // Precompiles: sha256 through the forwarder (a nested call), ecrecover called directly.
        deploy(nonce + 11, forwarder_initcode(Address::with_last_byte(2))).await,
        call_tx(0, nonce + 12, sha_forwarder, b"abc".to_vec()).await,
        call_tx(0, nonce + 13, Address::with_last_byte(1), ecrecover_input()).await,
    ];
    let mut hashes: Vec<B256> = Vec::new();
    for tx in &txs {
        hashes.push(send(&node, tx).await);
        let raw = Bytes::from(alloy::eips::Encodable2718::encoded_2718(tx));
        let pending = anvil_client
            .send_raw_transaction(&raw)
            .await
            .expect("anvil takes it");
        pending.get_receipt().await.expect("anvil mines it");
    }
    produce(&node).await;

    let opts = json!({ "tracer": "callTracer", "tracerConfig": { "withLog": true } });
    let mut mismatches = Vec::new();
    for (i, hash) in hashes.iter().enumerate() {
        let mut keel = rpc(&node, "debug_traceTransaction", json!([hash, opts])).await;
        let mut theirs: Value = anvil_client
            .raw_request("debug_traceTransaction".into(), (hash, opts.clone()))
            .await
            .expect("anvil traces");
        // The top frame's gas: keel reports the transaction's gas limit, as geth's callTracer
        // does; anvil (1.7) the gas left after the intrinsic gas (0 for a plain transfer).
        let limit = alloy::consensus::Transaction::gas_limit(&txs[i]);
        assert_eq!(keel["gas"], json!(format!("{limit:#x}")), "transaction {i}");
        for trace in [&mut keel, &mut theirs] {
            trace.as_object_mut().expect("a call frame").remove("gas");
        }
        if keel != theirs {
            mismatches.push(format!(
                "transaction {i} ({hash}):\n keel:  {keel}\n anvil: {theirs}"
            ));
        }
    }
    // The new cases are what they claim: a SELFDESTRUCT frame, a nested call to sha256.
    let destructed = rpc(&node, "debug_traceTransaction", json!([hashes[9], opts])).await;
    assert_eq!(
        destructed["calls"][0]["type"], "SELFDESTRUCT",
        "{destructed}"
    );
    let hashed = rpc(&node, "debug_traceTransaction", json!([hashes[12], opts])).await;
    assert_eq!(
        hashed["calls"][0]["to"],
        json!(Address::with_last_byte(2)),
        "{hashed}"
    );
    assert_eq!(
        hashed["output"], "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256(\"abc\") comes back through the forwarder"
    );
    // The struct logger (with memory and return data): the same op for op.
    let opts = json!({ "enableMemory": true, "enableReturnData": true });
    for (i, hash) in hashes.iter().enumerate() {
        let keel = rpc(&node, "debug_traceTransaction", json!([hash, opts])).await;
        let theirs: Value = anvil_client
            .raw_request("debug_traceTransaction".into(), (hash, opts.clone()))
            .await
            .expect("anvil traces");
        if keel != theirs {
            let k = keel.to_string();
            let a = theirs.to_string();
            let at = k.bytes().zip(a.bytes()).take_while(|(x, y)| x == y).count();
            mismatches.push(format!(
                "struct logs of transaction {i}: keel {} anvil {}",
                &k[at.saturating_sub(200)..(at + 200).min(k.len())],
                &a[at.saturating_sub(200)..(at + 200).min(a.len())]
            ));
        }
    }
    // prestateTracer (diffMode): the same accounts, nonces, code and storage; balances aside
    // (the two chains' fees differ: keel's L1 fee and base fee vault, anvil's coinbase).
    let opts = json!({ "tracer": "prestateTracer", "tracerConfig": { "diffMode": true } });
    for (i, hash) in hashes.iter().enumerate() {
        let mut keel = rpc(&node, "debug_traceTransaction", json!([hash, opts])).await;
        let mut theirs: Value = anvil_client
            .raw_request("debug_traceTransaction".into(), (hash, opts.clone()))
            .await
            .expect("anvil traces");
        for trace in [&mut keel, &mut theirs] {
            for side in ["pre", "post"] {
                if let Some(accounts) = trace[side].as_object_mut() {
                    for account in accounts.values_mut() {
                        if let Some(account) = account.as_object_mut() {
                            account.remove("balance");
                        }
                    }
                    accounts
                        .retain(|_, account| account.as_object().is_some_and(|a| !a.is_empty()));
                }
            }
        }
        if keel != theirs {
            mismatches.push(format!(
                "prestate of transaction {i}:\n keel:  {keel}\n anvil: {theirs}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    node.stop().await;
}
