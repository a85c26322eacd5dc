//! The address index behind `ots_searchTransactions*`, end to end: a chain written by a node
//! without it, then served by a node with it on the same store. Until the stored blocks are
//! indexed (what `keel l2 --rpc.address-index` does in the background at startup, a step at a
//! time) the searches say so; once they are, the searches list every transaction, and blocks
//! produced afterwards are indexed as they are stored.

mod common;

use alloy::primitives::{Address, B256};
use keel_storage::{DEFAULT_STATE_HISTORY, Store};
use serde_json::{Value, json};

use common::{Fee, GWEI, TestNode, produce, rpc, rpc_error, send, signed_tx};

/// `count` transfers from dev account `account` (nonces from `nonce`) to `to`, in one block.
async fn block_of_transfers(
    node: &TestNode,
    account: usize,
    nonce: u64,
    count: u64,
    to: Address,
) -> Vec<B256> {
    let mut hashes = Vec::new();
    for n in nonce..nonce + count {
        let tx = signed_tx(
            account,
            n,
            alloy::primitives::TxKind::Call(to),
            Default::default(),
            21_000,
            Fee::tip(GWEI),
        )
        .await;
        hashes.push(send(node, &tx).await);
    }
    produce(node).await;
    hashes
}

/// Every transaction hash of `address`'s history, newest first, read page by page back from the
/// head.
async fn history(node: &TestNode, address: Address, page_size: u64) -> (Vec<B256>, usize) {
    let mut hashes = Vec::new();
    let mut pages = 0;
    let mut before = 0u64;
    loop {
        let page = rpc(
            node,
            "ots_searchTransactionsBefore",
            json!([address, before, page_size]),
        )
        .await;
        pages += 1;
        let txs = page["txs"].as_array().expect("txs");
        for tx in txs {
            hashes.push(serde_json::from_value(tx["hash"].clone()).expect("a hash"));
        }
        if page["lastPage"] == json!(true) {
            return (hashes, pages);
        }
        assert!(pages < 20, "the pages end");
        let oldest: &Value = &txs.last().expect("a transaction")["blockNumber"];
        before = u64::try_from(common::quantity(oldest)).expect("a block number");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_written_without_the_index_is_searchable_once_indexed() {
    let store = Store::in_memory().expect("store");
    let subject = TestNode::dev_signer(2).address();
    let sink = Address::repeat_byte(0xee);

    // A node without the index writes six blocks: the subject sends 3 and receives 2, in turn.
    let mut sent = Vec::new();
    {
        let node = TestNode::start_manual_on(store.clone(), DEFAULT_STATE_HISTORY).await;
        for round in 0..3u64 {
            sent.extend(block_of_transfers(&node, 2, round * 3, 3, sink).await);
            sent.extend(block_of_transfers(&node, 3, round * 2, 2, subject).await);
        }
        let error = rpc_error(
            &node,
            "ots_searchTransactionsBefore",
            json!([subject, 0, 4]),
        )
        .await;
        assert!(error.message.contains("off"), "{}", error.message);
        node.stop().await;
    }
    let progress = store.address_index_progress().expect("progress");
    assert_eq!(progress.next, 0, "nothing indexed");
    let head = progress.head.expect("a head");
    assert!(
        head >= 7,
        "genesis, the producer's first block and six more"
    );

    // The same store served with the index on: not built yet, the searches say so.
    store.set_address_index(true);
    let node = TestNode::start_manual_on(store.clone(), DEFAULT_STATE_HISTORY).await;
    let error = rpc_error(
        &node,
        "ots_searchTransactionsBefore",
        json!([subject, 0, 4]),
    )
    .await;
    assert!(
        error.message.contains("still being built"),
        "{}",
        error.message
    );
    // Indexed a few blocks at a time, as the node's background indexer does.
    let mut steps = 0;
    while !store.index_addresses(2).expect("indexing").caught_up() {
        steps += 1;
        assert!(steps < 10);
    }
    assert!(steps >= 3, "several steps");
    let (found, pages) = history(&node, subject, 4).await;
    let mut expected = sent.clone();
    expected.reverse();
    // Within a block, newest (highest index) first: each block's transactions are reversed in
    // `expected` already since they were sent in order.
    assert_eq!(found, expected);
    assert_eq!(pages, 3, "15 transactions in pages of at least 4: 5+5+5");

    // From now on each block is indexed as it is stored.
    let newer = block_of_transfers(&node, 2, 9, 2, sink).await;
    let progress = store.address_index_progress().expect("progress");
    assert!(progress.caught_up());
    let page = rpc(
        &node,
        "ots_searchTransactionsBefore",
        json!([subject, 0, 1]),
    )
    .await;
    let first: Vec<B256> = page["txs"]
        .as_array()
        .expect("txs")
        .iter()
        .map(|tx| serde_json::from_value(tx["hash"].clone()).expect("a hash"))
        .collect();
    assert_eq!(first, vec![newer[1], newer[0]]);
    assert_eq!(page["firstPage"], json!(true));
    assert_eq!(page["lastPage"], json!(false));
    // And by sender and nonce.
    assert_eq!(
        rpc(
            &node,
            "ots_getTransactionBySenderAndNonce",
            json!([subject, 4])
        )
        .await,
        json!(sent[5 + 1])
    );
    node.stop().await;
}
