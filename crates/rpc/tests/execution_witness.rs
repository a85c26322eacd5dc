//! `debug_executionWitness` in geth's shape, and usable by an outside prover: the witness served
//! for a block with a contract deployment, a storage write and transfers, together with the raw
//! block from `debug_getRawBlock`, is enough for `keel_prover::prove_batch` to re-execute the
//! block statelessly and reach its state root.

mod common;

use alloy::{
    primitives::{B256, Bytes, keccak256},
    sol_types::SolCall,
};
use std::time::Duration;

use common::{
    Fee, GWEI, RpcError, RpcProbe, TestNode, call_tx, canonical, deploy_probe, next_nonce, rpc,
    rpc_error, send, transfer, wait_mined,
};
use keel_prover::{ProverInput, prove_batch};
use keel_types::{ExecutionWitness, dev};
use serde_json::{Value, json};

fn hex_list(value: &Value) -> Vec<Bytes> {
    serde_json::from_value(value.clone()).expect("a list of hex strings")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_served_witness_reexecutes_the_block_statelessly() {
    let node = TestNode::start(Duration::from_millis(150)).await;
    let owner = TestNode::dev_signer(0);
    let probe = deploy_probe(&node, &owner).await;
    let nonce = next_nonce(&node, owner.address()).await;
    let call = send(
        &node,
        &call_tx(0, nonce, probe, RpcProbe::incrementCall {}.abi_encode()).await,
    )
    .await;
    send(&node, &transfer(3, 0, Fee::tip(GWEI)).await).await;
    send(&node, &transfer(4, 0, Fee::tip(GWEI)).await).await;
    let (number, hash) = wait_mined(&node, call).await;
    let (_, header) = canonical(&node, number);

    let served = rpc(
        &node,
        "debug_executionWitness",
        json!([format!("{number:#x}")]),
    )
    .await;
    let keys: Vec<String> = served
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["state", "codes", "keys", "headers"]);
    let headers = served["headers"].as_array().expect("headers");
    let parent: B256 = serde_json::from_value(headers[0]["hash"].clone()).expect("hash");
    assert_eq!(parent, header.parent_hash, "the parent header comes first");
    let codes = hex_list(&served["codes"]);
    let probe_code: Bytes = serde_json::from_value(
        rpc(&node, "eth_getCode", json!([probe, format!("{number:#x}")])).await,
    )
    .expect("code");
    assert!(
        codes.iter().any(|c| keccak256(c) == keccak256(&probe_code)),
        "the called contract's code is in the witness"
    );

    // An outside prover: the raw block and the served witness, nothing else.
    let raw_block: Bytes = serde_json::from_value(
        rpc(&node, "debug_getRawBlock", json!([format!("{number:#x}")])).await,
    )
    .expect("raw block");
    let parent_rlp: Bytes = serde_json::from_value(
        rpc(
            &node,
            "debug_getRawHeader",
            json!([format!("{:#x}", number - 1)]),
        )
        .await,
    )
    .expect("raw header");
    let input = ProverInput {
        batch_number: 1,
        chain_config: serde_json::to_string(&dev::dev_genesis().config).expect("config"),
        l1_chain_id: 1,
        on_chain_proposer: Default::default(),
        blocks: vec![raw_block],
        witness: ExecutionWitness {
            state: hex_list(&served["state"]),
            codes,
            keys: hex_list(&served["keys"]),
            headers: vec![parent_rlp],
        },
        blob: None,
        blob_versioned_hash: B256::ZERO,
    };
    let inputs = prove_batch(&input).expect("the block re-executes from the served witness");
    assert_eq!(inputs.final_state_root, header.state_root);
    assert_eq!(inputs.last_block_hash, hash);

    // Without the state nodes it can't.
    let mut stripped = input.clone();
    stripped.witness.state.clear();
    assert!(prove_batch(&stripped).is_err());

    let RpcError { code, .. } = rpc_error(&node, "debug_executionWitness", json!(["0x0"])).await;
    assert_eq!(code, -32602, "the genesis has no witness");
    let RpcError { code, .. } =
        rpc_error(&node, "debug_executionWitness", json!(["0xffffff"])).await;
    assert_eq!(code, -32000, "unknown block");
    node.stop().await;
}
