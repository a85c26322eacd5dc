//! The seed corpora, from real data: blocks and transactions of the Ethereum Foundation's block
//! tests, the blocks the `rpc` target's node produced, the state diff, blob and prover input of
//! those blocks, a real `PrivilegedTxSent` log, the dev genesis and a request for every method.
//! `keel-fuzz-seed OUT_DIR [ETHEREUM_TESTS_DIR]` writes them, one file per input under
//! `OUT_DIR/TARGET/`, named by content (so re-running adds nothing twice).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use alloy::sol_types::SolEvent;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, U256, keccak256};
use alloy_rlp::Decodable;
use keel_chain::{BatchDiffBuilder, record_witness};
use keel_l1::contracts::CommonBridge::PrivilegedTxSent;
use keel_prover::{
    BackendKind, ProverInput,
    protocol::{CoordinatorMessage, PROTOCOL_VERSION, ProverMessage, encode_message},
};
use keel_storage::ChainReader;
use keel_types::{
    Block, Codec, DiffVersion, PrivilegedTx, Transaction, dev, encode_state_diff_payload, pack_blob,
};
use serde_json::{Value, json};

/// Most blocks taken from the block tests (the corpus stays small; the fuzzer does the rest).
const MAX_FIXTURE_BLOCKS: usize = 400;

/// Seed inputs per target name.
pub type Seeds = BTreeMap<&'static str, Vec<Vec<u8>>>;

/// Every seed, from the block tests under `ethereum_tests` (if given) and the fuzz node's chain.
pub fn collect(ethereum_tests: Option<&Path>) -> Seeds {
    let mut seeds = Seeds::new();
    let mut add =
        |target: &'static str, input: Vec<u8>| seeds.entry(target).or_default().push(input);

    let mut blocks = ethereum_tests.map(fixture_blocks).unwrap_or_default();
    // The fuzz node's own blocks (with their privileged-free keel bodies).
    let chain = crate::rpc::chain();
    if let Some(chain) = &chain
        && let Ok(reader) = chain.store().reader()
    {
        for number in 1..=2 {
            let hash = reader.canonical_hash(number).ok().flatten();
            let header = hash.and_then(|h| reader.header(&h).ok().flatten());
            let body = hash.and_then(|h| reader.body(&h).ok().flatten());
            if let (Some(header), Some(body)) = (header, body) {
                blocks.push(alloy_rlp::encode(Block::new(header, body)));
            }
        }
    }
    for raw in &blocks {
        add("block", raw.clone());
        let Ok(block) = Block::decode(&mut raw.as_slice()) else {
            continue;
        };
        for tx in &block.body.transactions {
            add("tx", tx.encoded_2718());
        }
    }
    for pair in blocks.chunks(3) {
        add("block_file", pair.concat());
    }
    for raw in crate::rpc::setup_transactions() {
        add("tx", raw);
    }
    let privileged = PrivilegedTx {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce: 3,
        from: dev::DEV_ACCOUNTS[0].0,
        to: dev::DEV_ACCOUNTS[1].0,
        value: U256::from(10u64.pow(18)),
        gas_limit: 100_000,
        data: Bytes::from_static(b"\x12\x34"),
    };
    add(
        "tx",
        Transaction::privileged(privileged.clone()).encoded_2718(),
    );

    // The state diff, blob payloads, blob and prover input of the node's two blocks.
    if let Some(chain) = &chain
        && let Some((diff, input)) = batch_artifacts(chain)
    {
        for version in DiffVersion::ALL {
            if let Ok(bytes) = diff.encode_as(version) {
                add("state_diff", bytes);
            }
        }
        for codec in [Codec::Raw, Codec::Brotli] {
            if let Ok(payload) = encode_state_diff_payload(&diff, codec) {
                if let Ok(blob) = pack_blob(&payload) {
                    let used = blob.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                    add("blob", blob[..used].to_vec());
                }
                add("blob_payload", payload);
            }
        }
        add("prover_frame", input.encode());
        let response = CoordinatorMessage::BatchResponse { batch: 1, input };
        for message in [
            response,
            CoordinatorMessage::NoWork,
            CoordinatorMessage::SubmitAck,
        ] {
            if let Ok(body) = encode_message(&message) {
                add("prover_frame", frame(&body));
            }
        }
    }
    let prover_messages = [
        ProverMessage::BatchRequest {
            version: PROTOCOL_VERSION,
            backend: BackendKind::Exec,
        },
        ProverMessage::ProofSubmit {
            batch: 1,
            backend: BackendKind::Exec,
            public_inputs: Bytes::from(vec![7u8; 256]),
            proof: Bytes::from(vec![1u8; 65]),
        },
    ];
    for message in &prover_messages {
        if let Ok(body) = encode_message(message) {
            add("prover_frame", frame(&body));
        }
    }
    if let Ok(body) = encode_message(&CoordinatorMessage::Rejected {
        reason: "not registered".into(),
    }) {
        add("prover_frame", frame(&body));
    }

    // A real PrivilegedTxSent, as the bridge emits it: flags (4 topics), topics, data.
    let event = PrivilegedTxSent {
        l1From: privileged.from,
        from: privileged.from,
        to: privileged.to,
        transactionId: U256::from(privileged.nonce),
        value: privileged.value,
        gasLimit: U256::from(privileged.gas_limit),
        data: privileged.data.clone(),
    };
    let log = event.encode_log_data();
    let mut input = vec![u8::try_from(log.topics().len()).unwrap_or(0)];
    for topic in log.topics() {
        input.extend_from_slice(topic.as_slice());
    }
    input.extend_from_slice(&log.data);
    add("l1_log", input);

    if let Ok(text) = serde_json::to_string_pretty(&dev::dev_genesis()) {
        add("genesis", text.into_bytes());
    }
    if let Ok(genesis) = keel_types::l2_genesis(&keel_types::L2GenesisConfig::default())
        && let Ok(text) = serde_json::to_string(&genesis)
    {
        add("genesis", text.into_bytes());
    }

    for request in rpc_requests() {
        let mut input = vec![0u8];
        input.extend_from_slice(request.to_string().as_bytes());
        add("rpc", input);
    }
    seeds
}

/// The blocks (`rlp` fields) of the block tests under `dir`, valid and invalid alike.
fn fixture_blocks(dir: &Path) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    collect_json(dir, &mut files);
    files.sort();
    let mut blocks = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(Value::Object(cases)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for case in cases.values() {
            for block in case["blocks"].as_array().into_iter().flatten() {
                let Some(rlp) = block["rlp"].as_str() else {
                    continue;
                };
                if let Ok(bytes) = alloy_primitives::hex::decode(rlp) {
                    blocks.push(bytes);
                }
                if blocks.len() >= MAX_FIXTURE_BLOCKS {
                    return blocks;
                }
            }
        }
    }
    blocks
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_json(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// The state diff and prover input of blocks 1..=2 of the fuzz node's chain.
fn batch_artifacts(chain: &keel_chain::Blockchain) -> Option<(keel_types::StateDiff, ProverInput)> {
    let reader = chain.store().reader().ok()?;
    let mut builder = BatchDiffBuilder::new();
    for number in 1..=2 {
        builder.add_block(&reader, number).ok()?;
    }
    let diff = builder.build(|_| false).ok()?;
    let recorded = record_witness(&reader, chain.spec_arc(), 1, 2).ok()?;
    let payload = encode_state_diff_payload(&diff, Codec::Raw).ok()?;
    let blob = pack_blob(&payload).ok()?;
    let input = ProverInput {
        batch_number: 1,
        chain_config: serde_json::to_string(&dev::dev_genesis().config).ok()?,
        l1_chain_id: 31_337,
        on_chain_proposer: Address::repeat_byte(0x22),
        blocks: recorded
            .blocks
            .iter()
            .map(|block| Bytes::from(alloy_rlp::encode(block)))
            .collect(),
        witness: recorded.witness,
        blob: Some(Bytes::from(blob.to_vec())),
        blob_versioned_hash: keccak256(&payload),
    };
    Some((diff, input))
}

/// A length-prefixed protocol frame.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(body.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(body);
    out
}

/// A plausible request for every method of the node, plus a few with real params.
fn rpc_requests() -> Vec<Value> {
    let known = crate::rpc::known_values();
    let pick = |prefix_len: usize| {
        known
            .iter()
            .find(|k| k.len() == prefix_len)
            .cloned()
            .unwrap_or_default()
    };
    let hash = pick(66);
    let address = pick(42);
    let raw = known
        .iter()
        .find(|k| k.len() > 66)
        .cloned()
        .unwrap_or_default();
    let call = |method: &str, params: Value| json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let mut requests: Vec<Value> = crate::rpc::method_names()
        .into_iter()
        .map(|m| call(m, json!([])))
        .collect();
    requests.extend([
        call("eth_getBalance", json!([address, "latest"])),
        call("eth_getBlockByNumber", json!(["0x1", true])),
        call("eth_getBlockByHash", json!([hash, false])),
        call("eth_getTransactionByHash", json!([hash])),
        call("eth_getTransactionReceipt", json!([hash])),
        call(
            "eth_call",
            json!([{"to": address, "data": "0x70a08231"}, "latest"]),
        ),
        call(
            "eth_estimateGas",
            json!([{"from": address, "to": address, "value": "0x1"}]),
        ),
        call(
            "eth_getLogs",
            json!([{"fromBlock": "0x0", "toBlock": "latest"}]),
        ),
        call("eth_newFilter", json!([{"fromBlock": "0x0"}])),
        call("eth_feeHistory", json!(["0x4", "latest", [25, 75]])),
        call("eth_sendRawTransaction", json!([raw])),
        call("eth_getStorageAt", json!([address, "0x0", "pending"])),
        call("eth_getProof", json!([address, ["0x0"], "latest"])),
        call(
            "eth_getStorageValues",
            json!([{ address.clone(): ["0x0", "0x1"] }, "latest"]),
        ),
        call(
            "eth_fillTransaction",
            json!([{"from": address, "to": address, "value": "0x1"}]),
        ),
        call("eth_subscribe", json!(["newHeads"])),
        call("debug_getRawBlock", json!(["0x2"])),
    ]);
    requests
}

/// Writes `seeds` under `out/TARGET/`, each file named by the keccak of its content; returns how
/// many inputs each target got.
pub fn write(out: &Path, seeds: &Seeds) -> std::io::Result<BTreeMap<&'static str, usize>> {
    let mut counts = BTreeMap::new();
    for (target, inputs) in seeds {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir)?;
        for input in inputs {
            let name = alloy_primitives::hex::encode(&keccak256(input)[..16]);
            std::fs::write(dir.join(name), input)?;
        }
        counts.insert(*target, inputs.len());
    }
    Ok(counts)
}
