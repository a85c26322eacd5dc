//! The block tags `safe` and `finalized` over JSON-RPC (docs/rpc.md, Block tags): geth's errors
//! while the store has none; once recorded (as the SettlementTracker records them), every method
//! that takes a block tag names the same block as the tag's number, and `keel_getBatchByNumber`'s
//! flags agree; a tag removed again (an L1 reorg) answers the error again.

mod common;

use alloy::primitives::{Address, B256};
use common::{Fee, GWEI, TestNode, next_nonce, produce, rpc, rpc_error, send, transfer};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use keel_storage::{
    ChainReader,
    settlement::{SettledBlock, SettlementTag},
};
use keel_types::Batch;
use serde_json::{Value, json};

fn settled(batch: u64, block: u64) -> SettledBlock {
    SettledBlock {
        batch,
        block,
        l1_block: 100 + batch,
        l1_hash: B256::repeat_byte(batch as u8),
    }
}

async fn assert_not_found(node: &TestNode, tag: &str) {
    let expected = format!("{tag} block not found");
    let holder = TestNode::dev_signer(0).address();
    for (method, params) in [
        ("eth_getBlockByNumber", json!([tag, false])),
        ("eth_getBalance", json!([holder, tag])),
        ("eth_getLogs", json!([{"fromBlock": tag}])),
        ("eth_feeHistory", json!(["0x1", tag, []])),
        ("eth_getBlockTransactionCountByNumber", json!([tag])),
    ] {
        let err = rpc_error(node, method, params).await;
        assert_eq!(
            (err.code, err.message.as_str()),
            (-32000, expected.as_str()),
            "{method}"
        );
    }
}

/// Every tag-taking method names block `number` for `tag`.
async fn assert_names(node: &TestNode, tag: &str, number: u64) {
    let hex = format!("{number:#x}");
    let holder = TestNode::dev_signer(0).address();
    let by_tag = rpc(node, "eth_getBlockByNumber", json!([tag, false])).await;
    let by_number = rpc(node, "eth_getBlockByNumber", json!([hex, false])).await;
    assert_eq!(by_tag["number"], json!(hex), "{tag}");
    assert_eq!(by_tag, by_number, "{tag}");
    for (method, at_tag, at_number) in [
        ("eth_getBalance", json!([holder, tag]), json!([holder, hex])),
        (
            "eth_getTransactionCount",
            json!([holder, tag]),
            json!([holder, hex]),
        ),
        (
            "eth_getBlockTransactionCountByNumber",
            json!([tag]),
            json!([hex]),
        ),
        (
            "eth_getTransactionByBlockNumberAndIndex",
            json!([tag, "0x0"]),
            json!([hex, "0x0"]),
        ),
        (
            "eth_feeHistory",
            json!(["0x1", tag, []]),
            json!(["0x1", hex, []]),
        ),
        (
            "eth_getLogs",
            json!([{"fromBlock": tag, "toBlock": tag}]),
            json!([{"fromBlock": hex, "toBlock": hex}]),
        ),
    ] {
        assert_eq!(
            rpc(node, method, at_tag).await,
            rpc(node, method, at_number).await,
            "{method} at {tag}"
        );
    }
}

async fn batch_flags(node: &TestNode, n: u64) -> (Value, Value) {
    let batch = rpc(node, "keel_getBatchByNumber", json!([format!("{n:#x}")])).await;
    (batch["safe"].clone(), batch["finalized"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn safe_and_finalized_name_the_recorded_blocks_in_every_method() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let holder = TestNode::dev_signer(0).address();
    // Blocks 2..=5 each move the holder's balance and nonce.
    for _ in 2..=5 {
        let nonce = next_nonce(&node, holder).await;
        send(&node, &transfer(0, nonce, Fee::tip(GWEI)).await).await;
        produce(&node).await;
    }
    let store = node.chain.store();
    let mut first = 1;
    for (number, last) in [(1, 2), (2, 3), (3, 5)] {
        let hash = node
            .chain
            .store()
            .reader()
            .expect("reader")
            .canonical_hash(last)
            .expect("read")
            .expect("sealed block");
        let batch = Batch {
            number,
            first_block: first,
            last_block: last,
            state_root: B256::repeat_byte(number as u8),
            last_block_hash: hash,
            privileged_rolling_hash: B256::ZERO,
            withdrawals_root: B256::ZERO,
            non_privileged_tx_count: 1,
        };
        store.write_batch(&batch, &[], None, &[]).expect("batch");
        first = last + 1;
    }

    // Nothing committed or verified on L1 yet: geth's answers.
    assert_not_found(&node, "safe").await;
    assert_not_found(&node, "finalized").await;
    assert_eq!(batch_flags(&node, 1).await, (json!(false), json!(false)));

    // Batch 2 committed, batch 1 verified.
    store
        .set_settlement(SettlementTag::Safe, Some(&settled(2, 3)))
        .expect("safe");
    store
        .set_settlement(SettlementTag::Finalized, Some(&settled(1, 2)))
        .expect("finalized");
    assert_names(&node, "safe", 3).await;
    assert_names(&node, "finalized", 2).await;
    let at = |tag: &'static str| {
        let node = &node;
        async move { rpc(node, "eth_getBalance", json!([holder, tag])).await }
    };
    assert_ne!(at("safe").await, at("latest").await, "safe is not the head");
    assert_ne!(at("finalized").await, at("safe").await);
    // A range between the tags.
    let logs = rpc(
        &node,
        "eth_getLogs",
        json!([{"fromBlock": "finalized", "toBlock": "safe", "address": Address::ZERO}]),
    )
    .await;
    assert_eq!(logs, json!([]));
    assert_eq!(batch_flags(&node, 1).await, (json!(true), json!(true)));
    assert_eq!(batch_flags(&node, 2).await, (json!(true), json!(false)));
    assert_eq!(batch_flags(&node, 3).await, (json!(false), json!(false)));

    // An L1 reorg took the commit of batch 2 and the verification back.
    store
        .set_settlement(SettlementTag::Safe, Some(&settled(1, 2)))
        .expect("safe back");
    store
        .set_settlement(SettlementTag::Finalized, None)
        .expect("finalized back");
    assert_names(&node, "safe", 2).await;
    assert_not_found(&node, "finalized").await;
    assert_eq!(batch_flags(&node, 2).await, (json!(false), json!(false)));
}
