//! `eth_gasPrice`, `eth_maxPriorityFeePerGas` and `eth_feeHistory` against blocks made on demand
//! with transactions of known tips.

mod common;

use alloy::{eips::BlockNumberOrTag, providers::Provider};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use serde_json::{Value, json};

use common::{
    Fee, GWEI, TestNode, canonical, produce, quantity, rpc, rpc_error, send, transfer, wait_mined,
};

fn quantities(value: &Value) -> Vec<u128> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(quantity)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn fee_history_and_suggestions_follow_the_blocks() {
    let node = TestNode::start_manual(
        MempoolConfig::default(),
        RpcConfig {
            max_fee_history: 3,
            ..RpcConfig::default()
        },
    )
    .await;

    // A chain without transactions suggests the minimum tip, 1 wei.
    let tip = quantity(&rpc(&node, "eth_maxPriorityFeePerGas", json!([])).await);
    assert_eq!(tip, 1);
    let next_base_fee = u128::from(node.chain.next_base_fee().expect("base fee"));
    let price = quantity(&rpc(&node, "eth_gasPrice", json!([])).await);
    assert_eq!(price, next_base_fee + 1);

    // Block 2: four 21000-gas transfers whose effective tips are 1, 2, 3 and 4 gwei: a 1559 tip,
    // a 1559 tx capped by its fee cap, another 1559 tip and a legacy gas price over the base fee.
    let base2 = u128::from(node.chain.next_base_fee().expect("base fee"));
    let txs = [
        transfer(1, 0, Fee::tip(3 * GWEI)).await,
        transfer(2, 0, Fee::tip(GWEI)).await,
        transfer(
            3,
            0,
            Fee::Legacy {
                gas_price: base2 + 4 * GWEI,
            },
        )
        .await,
        transfer(
            4,
            0,
            Fee::Dynamic {
                tip: 5 * GWEI / 2,
                max_fee: base2 + 2 * GWEI,
            },
        )
        .await,
    ];
    let mut hashes = Vec::new();
    for tx in &txs {
        hashes.push(send(&node, tx).await);
    }
    let (b2, _) = produce(&node).await;
    assert_eq!(b2, 2);
    for hash in &hashes {
        assert_eq!(wait_mined(&node, *hash).await.0, 2, "all four in block 2");
    }
    // Block 3: empty. Block 4: one transfer with a 5 gwei tip.
    produce(&node).await;
    let hash = send(&node, &transfer(5, 0, Fee::tip(5 * GWEI)).await).await;
    let (b4, _) = produce(&node).await;
    assert_eq!(wait_mined(&node, hash).await.0, b4);
    assert_eq!(b4, 4);

    let percentiles = [0.0, 25.0, 26.0, 50.0, 51.0, 75.0, 76.0, 100.0];
    let history = rpc(
        &node,
        "eth_feeHistory",
        json!(["0x3", "latest", percentiles]),
    )
    .await;
    let keys: Vec<&str> = history
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "oldestBlock",
        "reward",
        "baseFeePerGas",
        "gasUsedRatio",
        "baseFeePerBlobGas",
        "blobGasUsedRatio",
    ] {
        assert!(keys.contains(&key), "{key} missing from {history}");
    }
    assert_eq!(quantity(&history["oldestBlock"]), 2);
    let expected_base_fees: Vec<u128> = (2..=4)
        .map(|n| u128::from(canonical(&node, n).1.base_fee_per_gas.expect("London")))
        .chain([u128::from(node.chain.next_base_fee().expect("base fee"))])
        .collect();
    assert_eq!(expected_base_fees[0], base2);
    assert_eq!(quantities(&history["baseFeePerGas"]), expected_base_fees);
    let ratios: Vec<f64> = history["gasUsedRatio"]
        .as_array()
        .expect("ratios")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let expected_ratios: Vec<f64> = (2..=4)
        .map(|n| {
            let h = canonical(&node, n).1;
            h.gas_used as f64 / h.gas_limit as f64
        })
        .collect();
    assert_eq!(ratios, expected_ratios);
    assert!(ratios[0] > 0.0 && ratios[1] == 0.0 && ratios[2] > 0.0);
    // Gas-weighted percentiles over tips sorted 1, 2, 3, 4 gwei (21000 gas each).
    let rewards: Vec<Vec<u128>> = history["reward"]
        .as_array()
        .expect("rewards")
        .iter()
        .map(quantities)
        .collect();
    assert_eq!(
        rewards,
        vec![
            [1, 1, 2, 2, 3, 3, 4, 4].map(|g| g * GWEI).to_vec(),
            vec![0; 8],
            vec![5 * GWEI; 8],
        ]
    );
    // Prague from genesis: blob fields, at the minimum blob fee with no blobs.
    assert_eq!(quantities(&history["baseFeePerBlobGas"]), vec![1; 4]);
    assert_eq!(history["blobGasUsedRatio"], json!([0.0, 0.0, 0.0]));

    // alloy reads the same history.
    let provider = node.client();
    let typed = provider
        .get_fee_history(3, BlockNumberOrTag::Latest, &percentiles)
        .await
        .expect("alloy fee history");
    assert_eq!(typed.oldest_block, 2);
    assert_eq!(typed.base_fee_per_gas, expected_base_fees);
    assert_eq!(typed.reward.as_ref().map(Vec::len), Some(3));

    // "pending": keel has no pending block, so (as geth without one) one block fewer, up to the
    // head; no percentiles (an empty list: the list is required, as in geth), no `reward`.
    let pending = rpc(&node, "eth_feeHistory", json!([3, "pending", []])).await;
    assert_eq!(quantity(&pending["oldestBlock"]), 3);
    assert_eq!(
        quantities(&pending["baseFeePerGas"]),
        expected_base_fees[1..].to_vec()
    );
    assert!(pending.get("reward").is_none(), "{pending}");

    // A past newest block; the block count capped by the config (3) and by the genesis.
    let past = rpc(&node, "eth_feeHistory", json!(["0x2", "0x2", [50.0]])).await;
    assert_eq!(quantity(&past["oldestBlock"]), 1);
    assert_eq!(
        quantities(&past["baseFeePerGas"]),
        vec![
            u128::from(canonical(&node, 1).1.base_fee_per_gas.expect("London")),
            base2,
            expected_base_fees[1],
        ]
    );
    assert_eq!(
        past["reward"],
        json!([["0x0"], [format!("{:#x}", 2 * GWEI)]])
    );
    let capped = rpc(&node, "eth_feeHistory", json!(["0x64", "latest", []])).await;
    assert_eq!(quantity(&capped["oldestBlock"]), 2);
    let from_genesis = rpc(&node, "eth_feeHistory", json!(["0x3", "earliest", []])).await;
    assert_eq!(quantity(&from_genesis["oldestBlock"]), 0);
    assert_eq!(quantities(&from_genesis["baseFeePerGas"]).len(), 2);

    // No blocks asked: geth's empty answer.
    let empty = rpc(&node, "eth_feeHistory", json!(["0x0", "latest", [10.0]])).await;
    assert_eq!(empty, json!({ "oldestBlock": "0x0", "gasUsedRatio": null }));

    // Bad requests.
    let beyond = rpc_error(&node, "eth_feeHistory", json!(["0x1", "0x63", []])).await;
    assert!(
        beyond.message.starts_with("request beyond head block"),
        "{beyond:?}"
    );
    for bad in [
        json!([50.0, 10.0]),
        json!([101.0]),
        json!([-1.0]),
        json!([5.0, 5.0]),
    ] {
        let error = rpc_error(&node, "eth_feeHistory", json!(["0x2", "latest", bad])).await;
        assert!(
            error.message.starts_with("invalid reward percentile"),
            "{error:?}"
        );
    }
    let missing = rpc_error(&node, "eth_feeHistory", json!(["0x2"])).await;
    assert_eq!(missing.code, -32602, "{missing:?}");
    // The percentiles are required (the spec, geth).
    let missing = rpc_error(&node, "eth_feeHistory", json!(["0x2", "latest"])).await;
    assert_eq!(
        (missing.code, missing.message.as_str()),
        (
            -32602,
            "missing value for required argument 2 (reward percentiles)"
        )
    );

    // The suggestion: the 60th percentile of each recent block's three lowest tips
    // (1, 2, 3 gwei from block 2 and 5 gwei from block 4) is 2 gwei.
    let tip = quantity(&rpc(&node, "eth_maxPriorityFeePerGas", json!([])).await);
    assert_eq!(tip, 2 * GWEI);
    let next_base_fee = u128::from(node.chain.next_base_fee().expect("base fee"));
    let price = quantity(&rpc(&node, "eth_gasPrice", json!([])).await);
    assert_eq!(price, next_base_fee + 2 * GWEI);
    assert_eq!(
        provider
            .get_max_priority_fee_per_gas()
            .await
            .expect("alloy"),
        2 * GWEI
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tip_floor_is_the_mempool_minimum() {
    let node = TestNode::start_manual(
        MempoolConfig {
            min_tip: 7,
            ..MempoolConfig::default()
        },
        RpcConfig::default(),
    )
    .await;
    let tip = quantity(&rpc(&node, "eth_maxPriorityFeePerGas", json!([])).await);
    assert_eq!(tip, 7);
    node.stop().await;
}
