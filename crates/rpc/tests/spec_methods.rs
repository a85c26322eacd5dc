//! The methods added for the JSON-RPC specification (issue 19): their values checked against
//! what the chain then does or holds. `eth_baseFee` is the base fee the next block carries;
//! `eth_getStorageValues` agrees with `eth_getStorageAt` slot by slot; a filled transaction,
//! signed, is accepted and mined; `eth_config` and `eth_capabilities` describe the node's chain
//! and windows; the key-holding methods refuse.

mod common;

use alloy::{
    consensus::{SignableTransaction, TxEnvelope, TxLegacy, transaction::RlpEcdsaDecodableTx},
    eips::Decodable2718,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    sol_types::SolCall,
};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use keel_storage::Store;
use serde_json::{Value, json};

use common::{
    Fee, GWEI, RpcProbe, TestNode, call_tx, canonical, next_nonce, produce, quantity, rpc,
    rpc_error, send, signed_tx, transfer, wait_mined, word,
};

async fn manual_node() -> TestNode {
    TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn base_fee_is_what_the_next_block_carries() {
    let node = manual_node().await;
    // Blocks with and without transactions: the announced fee must match either way.
    for round in 0..3u64 {
        if round == 1 {
            let nonce = next_nonce(&node, TestNode::dev_signer(0).address()).await;
            for i in 0..50 {
                send(&node, &transfer(0, nonce + i, Fee::tip(GWEI)).await).await;
            }
        }
        let announced = quantity(&rpc(&node, "eth_baseFee", json!([])).await);
        let (number, _) = produce(&node).await;
        let (_, header) = canonical(&node, number);
        assert_eq!(
            Some(announced as u64),
            header.base_fee_per_gas,
            "round {round}"
        );
    }
    // The blob base fee: no blobs on the L2, so the minimum, as eth_feeHistory reports.
    assert_eq!(rpc(&node, "eth_blobBaseFee", json!([])).await, json!("0x1"));
    let history = rpc(&node, "eth_feeHistory", json!(["0x1", "latest", []])).await;
    assert_eq!(history["baseFeePerBlobGas"][0], json!("0x1"), "{history}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_values_are_storage_at_slot_by_slot() {
    let node = manual_node().await;
    let signer = TestNode::dev_signer(0);
    let nonce = next_nonce(&node, signer.address()).await;
    let code = RpcProbe::BYTECODE.clone();
    let deploy = signed_tx(0, nonce, TxKind::Create, code, 1_000_000, Fee::tip(GWEI)).await;
    send(&node, &deploy).await;
    produce(&node).await;
    let probe = signer.address().create(nonce);
    assert!(rpc(&node, "eth_getCode", json!([probe])).await != json!("0x"));
    let who = Address::repeat_byte(0x77);
    let nonce = next_nonce(&node, signer.address()).await;
    let set = RpcProbe::setNumberCall {
        value: U256::from(7),
    }
    .abi_encode();
    let credit = RpcProbe::creditCall {
        who,
        amount: U256::from(5),
    }
    .abi_encode();
    let before = rpc(&node, "eth_blockNumber", json!([])).await;
    for (i, input) in [set, credit].into_iter().enumerate() {
        send(&node, &call_tx(0, nonce + i as u64, probe, input).await).await;
    }
    produce(&node).await;
    // credits[who]: slot keccak(who . 1).
    let mut key = who.into_word().to_vec();
    key.extend_from_slice(word(1).as_slice());
    let credit_slot = keccak256(&key);
    let slots = [
        json!("0x0"),
        json!(credit_slot),
        json!("0x1"),
        json!(word(0)),
    ];
    let other = Address::repeat_byte(0x55);
    for block in [json!("latest"), before.clone(), json!("pending")] {
        let values = rpc(
            &node,
            "eth_getStorageValues",
            json!([{ probe.to_string(): slots, other.to_string(): ["0x0"] }, block]),
        )
        .await;
        let got = values[probe.to_string().to_lowercase()]
            .as_array()
            .unwrap_or_else(|| panic!("values of the probe: {values}"))
            .clone();
        assert_eq!(got.len(), slots.len());
        for (slot, value) in slots.iter().zip(&got) {
            let one = rpc(&node, "eth_getStorageAt", json!([probe, slot, block])).await;
            assert_eq!(value, &one, "slot {slot} at {block}");
        }
        assert_eq!(
            values[other.to_string().to_lowercase()],
            json!([B256::ZERO])
        );
        if block == json!("latest") {
            assert_eq!(got[0], json!(word(7)));
            assert_eq!(got[1], json!(word(5)));
        } else if block == before {
            assert_eq!(got[0], json!(B256::ZERO));
        }
    }
    // The cap: 1024 slots answer, 1025 are refused with -32602.
    let many: Vec<B256> = (0..1024u64).map(word).collect();
    let values = rpc(
        &node,
        "eth_getStorageValues",
        json!([{ probe.to_string(): many }]),
    )
    .await;
    assert_eq!(
        values[probe.to_string().to_lowercase()]
            .as_array()
            .map(Vec::len),
        Some(1024)
    );
    let error = rpc_error(
        &node,
        "eth_getStorageValues",
        json!([{ probe.to_string(): many, other.to_string(): ["0x0"] }]),
    )
    .await;
    assert_eq!(error.code, -32602, "{error:?}");
    assert!(
        error.message.contains("1025") && error.message.contains("1024"),
        "{error:?}"
    );
    let error = rpc_error(&node, "eth_getStorageValues", json!([["0x0"]])).await;
    assert_eq!(error.code, -32602, "{error:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filled_transaction_signed_is_accepted_and_mined() {
    let node = manual_node().await;
    let signer = TestNode::dev_signer(3);
    let from = signer.address();
    // A pool transaction first: the fill must take the nonce after it.
    let nonce = next_nonce(&node, from).await;
    send(&node, &transfer(3, nonce, Fee::tip(GWEI)).await).await;
    let to = Address::repeat_byte(0xab);
    let request = json!({ "from": from, "to": to, "value": "0x2a" });
    let filled = rpc(&node, "eth_fillTransaction", json!([request])).await;
    let tx = &filled["tx"];
    assert_eq!(tx["type"], json!("0x2"), "{filled}");
    assert_eq!(quantity(&tx["nonce"]), u128::from(nonce + 1));
    assert_eq!(tx["chainId"], rpc(&node, "eth_chainId", json!([])).await);
    let estimate = rpc(&node, "eth_estimateGas", json!([request])).await;
    assert_eq!(tx["gas"], estimate);
    let tip = rpc(&node, "eth_maxPriorityFeePerGas", json!([])).await;
    assert_eq!(tx["maxPriorityFeePerGas"], tip);
    let head = rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(
        quantity(&tx["maxFeePerGas"]),
        quantity(&tip) + 2 * quantity(&head["baseFeePerGas"])
    );

    // The raw decodes (zero signature) to the same transaction; signed, it is mined.
    let raw: Bytes = serde_json::from_value(filled["raw"].clone()).expect("raw bytes");
    let decoded = TxEnvelope::decode_2718(&mut raw.as_ref()).expect("an EIP-2718 transaction");
    let mut unsigned = decoded
        .as_eip1559()
        .expect("an EIP-1559 transaction")
        .tx()
        .clone();
    assert_eq!(unsigned.to, to.into());
    assert_eq!(unsigned.value, U256::from(42));
    let signature = signer
        .sign_transaction_sync(&mut unsigned)
        .expect("signature");
    let signed = TxEnvelope::from(unsigned.into_signed(signature));
    let hash = send(&node, &signed).await;
    produce(&node).await;
    wait_mined(&node, hash).await;
    let receipt = rpc(&node, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], json!("0x1"), "{receipt}");
    assert_eq!(
        rpc(&node, "eth_getBalance", json!([to, "latest"])).await,
        json!("0x2a")
    );

    // With a gas price: legacy, geth's unsigned encoding (v, r, s all 0).
    let request = json!({ "from": from, "to": to, "gasPrice": "0x77359400", "gas": "0x5208" });
    let filled = rpc(&node, "eth_fillTransaction", json!([request])).await;
    assert_eq!(filled["tx"]["type"], json!("0x0"), "{filled}");
    let raw: Bytes = serde_json::from_value(filled["raw"].clone()).expect("raw bytes");
    let mut buf = raw.as_ref();
    let header = alloy::rlp::Header::decode(&mut buf).expect("an RLP list");
    assert!(header.list);
    let mut legacy = TxLegacy::rlp_decode_fields(&mut buf).expect("legacy fields");
    assert_eq!(buf, &[0x80, 0x80, 0x80], "v, r, s zero");
    assert_eq!(legacy.gas_price, 2 * GWEI);
    assert_eq!(legacy.nonce, nonce + 2);
    legacy.chain_id = Some(quantity(&filled["tx"]["chainId"]) as u64);
    let signature = signer
        .sign_transaction_sync(&mut legacy)
        .expect("signature");
    let hash = send(&node, &TxEnvelope::from(legacy.into_signed(signature))).await;
    produce(&node).await;
    wait_mined(&node, hash).await;

    // Refused: both fee kinds, a blob transaction, another chain, a creation without code.
    for (request, code) in [
        (
            json!({ "from": from, "to": to, "gasPrice": "0x1", "maxFeePerGas": "0x1" }),
            -32602,
        ),
        (
            json!({ "from": from, "to": to, "blobVersionedHashes": [B256::repeat_byte(1)] }),
            -32602,
        ),
        (json!({ "from": from, "to": to, "chainId": "0x1" }), -32000),
        (json!({ "from": from }), -32000),
        (
            json!({ "from": from, "to": to, "maxFeePerGas": "0x1", "maxPriorityFeePerGas": "0x2" }),
            -32602,
        ),
    ] {
        let error = rpc_error(&node, "eth_fillTransaction", json!([request])).await;
        assert_eq!(error.code, code, "{request}: {error:?}");
    }
    node.stop().await;
}

/// CRC32 (IEEE), bit by bit: an independent check of the fork id.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test(flavor = "multi_thread")]
async fn config_describes_the_chain() {
    let node = manual_node().await;
    let config = rpc(&node, "eth_config", json!([])).await;
    let current = &config["current"];
    let spec = node.chain.spec();
    // The dev chain runs Prague from genesis and schedules nothing after it.
    assert_eq!(spec.prague_time, Some(0));
    assert_eq!(current["activationTime"], json!(0), "{config}");
    assert_eq!(config["next"], Value::Null);
    assert_eq!(config["last"], Value::Null);
    assert_eq!(quantity(&current["chainId"]), u128::from(spec.chain_id));
    // Every fork is at genesis: the fork id is the CRC32 of the genesis hash alone.
    let (genesis_hash, _) = canonical(&node, 0);
    assert_eq!(
        current["forkId"],
        json!(format!("{:#010x}", crc32(genesis_hash.as_slice())))
    );
    let blobs = spec.blob_schedule.prague;
    assert_eq!(
        current["blobSchedule"],
        json!({
            "baseFeeUpdateFraction": blobs.update_fraction,
            "max": blobs.max_blob_count,
            "target": blobs.target_blob_count,
        })
    );
    let precompiles = current["precompiles"].as_object().expect("precompiles");
    assert_eq!(precompiles.len(), 17, "{config}");
    assert_eq!(precompiles["ECREC"], json!(Address::with_last_byte(1)));
    assert_eq!(
        precompiles["BLS12_MAP_FP2_TO_G2"],
        json!(Address::with_last_byte(0x11))
    );
    // Of Prague's system contracts, the L2 genesis deploys only the EIP-2935 history contract.
    assert_eq!(
        current["systemContracts"],
        json!({ "HISTORY_STORAGE_ADDRESS": alloy::eips::eip2935::HISTORY_STORAGE_ADDRESS })
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn capabilities_report_the_proof_window() {
    let window = 2;
    let node = TestNode::start_manual_on(Store::in_memory().expect("store"), window).await;
    for _ in 0..4 {
        produce(&node).await;
    }
    let caps = rpc(&node, "eth_capabilities", json!([])).await;
    let head = rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(caps["head"]["number"], head["number"], "{caps}");
    assert_eq!(caps["head"]["hash"], head["hash"]);
    for resource in ["state", "tx", "logs", "receipts", "blocks"] {
        assert_eq!(
            caps[resource],
            json!({ "disabled": false, "oldestBlock": "0x0" }),
            "{resource}"
        );
    }
    let oldest = quantity(&caps["stateproofs"]["oldestBlock"]);
    assert_eq!(oldest, quantity(&head["number"]) - window as u128);
    assert_eq!(
        caps["stateproofs"]["deleteStrategy"],
        json!({ "type": "window", "retentionBlocks": format!("{window:#x}") })
    );
    // The window is what eth_getProof serves: the oldest block answers, the one before not.
    let account = TestNode::dev_signer(0).address();
    rpc(
        &node,
        "eth_getProof",
        json!([account, [], format!("{oldest:#x}")]),
    )
    .await;
    let error = rpc_error(
        &node,
        "eth_getProof",
        json!([account, [], format!("{:#x}", oldest - 1)]),
    )
    .await;
    assert_eq!(error.code, -32000, "{error:?}");
    // State itself is served at any depth.
    rpc(&node, "eth_getBalance", json!([account, "0x0"])).await;
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn coinbase_bad_blocks_and_the_methods_that_need_keys() {
    // A node that produces no blocks of its own has no coinbase.
    let node = manual_node().await;
    let error = rpc_error(&node, "eth_coinbase", json!([])).await;
    assert_eq!(error.code, -32000);
    assert_eq!(error.message, "etherbase must be explicitly specified");
    assert_eq!(rpc(&node, "debug_getBadBlocks", json!([])).await, json!([]));
    let from = TestNode::dev_signer(0).address();
    for (method, params) in [
        ("eth_sign", json!([from, "0x01"])),
        ("eth_signTransaction", json!([{ "from": from, "to": from }])),
        ("eth_sendTransaction", json!([{ "from": from, "to": from }])),
    ] {
        let error = rpc_error(&node, method, params).await;
        assert_eq!(error.code, -32000, "{method}");
        assert_eq!(
            error.message,
            format!(
                "unknown account {from}: this node holds no keys; sign the transaction locally \
                 and send it with eth_sendRawTransaction"
            ),
            "{method}"
        );
    }
    // Bad parameters are still -32602.
    let error = rpc_error(&node, "eth_sign", json!(["0x12"])).await;
    assert_eq!(error.code, -32602, "{error:?}");
    node.stop().await;

    // The sequencer's: its fee recipient, the head block's miner.
    let coinbase = Address::ZERO;
    let config = RpcConfig {
        coinbase: Some(coinbase),
        ..RpcConfig::default()
    };
    let node = TestNode::start_manual(MempoolConfig::default(), config).await;
    let answer = rpc(&node, "eth_coinbase", json!([])).await;
    let head = rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(answer, json!(coinbase));
    assert_eq!(answer, head["miner"]);
    node.stop().await;
}
