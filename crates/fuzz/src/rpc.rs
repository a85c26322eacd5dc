//! The JSON-RPC methods fed in-process (jsonrpsee's `raw_json_request`, past the HTTP layer),
//! over a real node: an in-memory redb store holding the dev genesis and two blocks the
//! BlockProducer built with revm (transfers and a contract that emits a log), its mempool and its
//! filters.
//!
//! Input byte 0 picks the mode. Even: the rest is a request body, as a client would send it. Odd:
//! structure-aware — the rest drives [`arbitrary::Unstructured`] to pick one of the node's method
//! names and build its params from JSON values biased towards what the methods take (block tags,
//! quantities, the chain's own hashes and addresses, call objects, filter objects).
//!
//! Every request must be answered with a JSON-RPC response carrying the request's id and either
//! a result or an error; a panic in any thread aborts (the fuzzer's and the test's hook).

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use arbitrary::Unstructured;
use jsonrpsee::RpcModule;
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_rpc::{RpcConfig, RpcContext};
use keel_sequencer::{BlockProducer, BlockProducerConfig};
use keel_storage::Store;
use keel_types::{ChainSpec, dev};
use serde_json::{Map, Value, json};

/// Init code of a contract whose constructor emits one `LOG1` (topic `0x…2a`) and returns no code.
const LOG_INIT_CODE: [u8; 9] = hex!("602a60006000a16000");

/// The node the target talks to, built once per process.
struct Node {
    runtime: tokio::runtime::Runtime,
    chain: Blockchain,
    module: RpcModule<RpcContext>,
    methods: Vec<&'static str>,
    /// Hashes, addresses and raw transactions of the chain, for params that hit real data.
    known: Vec<String>,
}

static NODE: OnceLock<Option<Node>> = OnceLock::new();

/// Signed transfers and a log-emitting deployment from dev accounts 0 and 1: what the setup
/// blocks hold and what seeds the corpora with.
pub fn setup_transactions() -> Vec<Vec<u8>> {
    let chain_id = dev::DEFAULT_L2_CHAIN_ID;
    let mut raws = Vec::new();
    let signer = |i: usize| PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).ok();
    let (Some(alice), Some(bob)) = (signer(0), signer(1)) else {
        return raws;
    };
    for nonce in 0..3u64 {
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(dev::DEV_ACCOUNTS[2].0),
            value: U256::from(1_000 + nonce),
            ..Default::default()
        };
        if let Ok(sig) = alice.sign_hash_sync(&tx.signature_hash()) {
            raws.push(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
        }
    }
    let deploy = TxLegacy {
        chain_id: Some(chain_id),
        nonce: 0,
        gas_price: 5_000_000_000,
        gas_limit: 100_000,
        to: TxKind::Create,
        value: U256::ZERO,
        input: Bytes::from_static(&LOG_INIT_CODE),
    };
    if let Ok(sig) = bob.sign_hash_sync(&deploy.signature_hash()) {
        raws.push(TxEnvelope::from(deploy.into_signed(sig)).encoded_2718());
    }
    raws
}

fn build_node() -> Option<Node> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .ok()?;
    let _guard = runtime.enter();
    let store = Store::in_memory().ok()?;
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).ok()?;
    let chain = Blockchain::open(store, &genesis, spec).ok()?;
    let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
    let producer = BlockProducer::new(
        BlockProducerConfig::default(),
        chain.clone(),
        mempool.clone(),
    );
    let raws = setup_transactions();
    let mut known: Vec<String> = Vec::new();
    // Two blocks: the transfers, then the deployment.
    let (first, second) = raws.split_at(raws.len().saturating_sub(1));
    for group in [first, second] {
        for raw in group {
            let hash = mempool.add_raw(raw).ok()?;
            known.push(hash.to_string());
            known.push(format!("0x{}", hex::encode(raw)));
        }
        let built = producer.produce_block().ok()??;
        known.push(built.hash.to_string());
    }
    for (address, _) in dev::DEV_ACCOUNTS.iter().take(3) {
        known.push(address.to_string());
    }
    known.push(dev::DEV_ACCOUNTS[1].0.create(0).to_string());
    let config = RpcConfig {
        // Keep each call short: the fuzzer wants many executions, not long ones.
        gas_cap: 1_000_000,
        send_sync_timeout: Duration::from_millis(5),
        ..Default::default()
    };
    let ctx = RpcContext::new(config, chain.clone(), mempool);
    let module = keel_rpc::methods(ctx).ok()?;
    let mut methods: Vec<&'static str> = module.method_names().collect();
    methods.sort_unstable();
    drop(_guard);
    Some(Node {
        runtime,
        chain,
        module,
        methods,
        known,
    })
}

fn node() -> Option<&'static Node> {
    NODE.get_or_init(build_node).as_ref()
}

/// The node's chain (for the seed corpora).
pub fn chain() -> Option<Blockchain> {
    node().map(|n| n.chain.clone())
}

/// The chain's hashes, addresses and raw transactions (for the seed corpora).
pub fn known_values() -> Vec<String> {
    node().map(|n| n.known.clone()).unwrap_or_default()
}

/// The node's method names (for the seed corpus).
pub fn method_names() -> Vec<&'static str> {
    node().map(|n| n.methods.clone()).unwrap_or_default()
}

/// One input: a raw body or a structured call, answered as JSON-RPC.
pub fn rpc(data: &[u8]) {
    let Some(node) = node() else {
        panic!("the fuzz target's node could not be built");
    };
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (request, id) = if mode % 2 == 0 {
        let Ok(body) = std::str::from_utf8(rest) else {
            return;
        };
        // Only bodies that parse as one request get an answer from `raw_json_request`; the
        // server answers the others with a parse error before any method runs.
        let Ok(value) = serde_json::from_str::<Value>(body) else {
            return;
        };
        (body.to_owned(), value.get("id").cloned())
    } else {
        let mut u = Unstructured::new(rest);
        let Ok(call) = structured_call(&mut u, node) else {
            return;
        };
        (call.to_string(), Some(json!(7)))
    };
    let answer = node
        .runtime
        .block_on(node.module.raw_json_request(&request, 16));
    let Ok((response, _subscription)) = answer else {
        // Not a request object (jsonrpsee's own parsing refused it).
        return;
    };
    let response: Value = match serde_json::from_str(response.get()) {
        Ok(v) => v,
        Err(e) => panic!("answer to {request} is not JSON: {e}"),
    };
    assert_eq!(
        response["jsonrpc"], "2.0",
        "answer to {request}: {response}"
    );
    assert!(
        response.get("result").is_some() != response.get("error").is_some(),
        "answer to {request} has neither or both of result and error: {response}"
    );
    if let Some(id) = id.filter(|id| id.is_number() || id.is_string()) {
        assert_eq!(response["id"], id, "answer to {request}: wrong id");
    }
}

/// A request for one of the node's methods with params built from `u`.
fn structured_call(u: &mut Unstructured<'_>, node: &Node) -> arbitrary::Result<Value> {
    let method = *u.choose(&node.methods)?;
    let count = u.int_in_range(0..=4)?;
    let mut params = Vec::with_capacity(count);
    for _ in 0..count {
        params.push(value(u, node, 3)?);
    }
    Ok(json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))
}

const TAGS: [&str; 7] = [
    "latest",
    "pending",
    "earliest",
    "safe",
    "finalized",
    "0x0",
    "0x2",
];
const KEYS: [&str; 24] = [
    "from",
    "to",
    "data",
    "input",
    "value",
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "nonce",
    "fromBlock",
    "toBlock",
    "address",
    "topics",
    "blockHash",
    "blockNumber",
    "requireCanonical",
    "accessList",
    "type",
    "chainId",
    "tracer",
    "timeout",
    "blobVersionedHashes",
    "authorizationList",
];

/// A JSON value biased towards what RPC methods take.
fn value(u: &mut Unstructured<'_>, node: &Node, depth: u32) -> arbitrary::Result<Value> {
    let kinds = if depth == 0 { 9 } else { 12 };
    Ok(match u.int_in_range(0..=kinds)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => json!(format!("0x{:x}", u.arbitrary::<u64>()?)),
        4 => json!(format!(
            "0x{}",
            hex::encode(U256::from_be_bytes(u.arbitrary::<[u8; 32]>()?).to_be_bytes_trimmed_vec())
        )),
        5 => json!(*u.choose(&TAGS)?),
        6 => json!(u.choose(&node.known)?.clone()),
        7 => {
            let len = u.int_in_range(0..=64)?;
            json!(format!("0x{}", hex::encode(u.bytes(len)?)))
        }
        8 => json!(B256::from(u.arbitrary::<[u8; 32]>()?).to_string()),
        9 => json!(u.arbitrary::<String>()?),
        10 | 11 => {
            let len = u.int_in_range(0..=6)?;
            let mut object = Map::new();
            for _ in 0..len {
                let key = if u.ratio(1, 8)? {
                    u.arbitrary::<String>()?
                } else {
                    (*u.choose(&KEYS)?).to_owned()
                };
                object.insert(key, value(u, node, depth - 1)?);
            }
            Value::Object(object)
        }
        _ => {
            let len = u.int_in_range(0..=4)?;
            let mut array = Vec::with_capacity(len);
            for _ in 0..len {
                array.push(value(u, node, depth - 1)?);
            }
            Value::Array(array)
        }
    })
}

/// A dev address, for seeds.
pub fn dev_address(i: usize) -> Address {
    dev::DEV_ACCOUNTS[i % dev::DEV_ACCOUNTS.len()].0
}
