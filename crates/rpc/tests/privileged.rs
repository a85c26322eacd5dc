//! A privileged transaction (type `0x7e`) over RPC: mined (built into a block directly, as the L1
//! watcher's path will), it shows in transactions, blocks and receipts with `type: "0x7e"`, its
//! privileged hash and zero fees; sent raw, it is refused.

mod common;

use alloy::primitives::{Address, Bytes, U256};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;
use keel_types::{PrivilegedTx, dev::DEFAULT_L2_CHAIN_ID, rules::L2_BRIDGE_ADDRESS};
use serde_json::{Value, json};

use common::{TestNode, keys, quantity, rpc, rpc_error, sorted};

fn deposit(recipient: Address, value: U256) -> PrivilegedTx {
    common::deposit(0, recipient, value)
}

fn addr(value: &Value) -> Address {
    value.as_str().expect("address").parse().expect("address")
}

#[tokio::test(flavor = "multi_thread")]
async fn privileged_transactions_show_with_type_0x7e_and_no_fees() {
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let recipient = Address::repeat_byte(0x5e);
    let value = U256::from(123_456_789u64);
    let tx = deposit(recipient, value);
    let hash = tx.hash();

    let built = common::build_privileged_block(&node, tx).await;
    let number = format!("{:#x}", built.block.header.number);

    let got = rpc(&node, "eth_getTransactionByHash", json!([hash])).await;
    assert_eq!(
        keys(&got),
        sorted(&[
            "type",
            "hash",
            "chainId",
            "nonce",
            "from",
            "to",
            "value",
            "gas",
            "gasPrice",
            "maxFeePerGas",
            "maxPriorityFeePerGas",
            "input",
            "blockHash",
            "blockNumber",
            "blockTimestamp",
            "transactionIndex",
        ])
    );
    assert_eq!(got["type"], "0x7e");
    assert_eq!(got["hash"], json!(hash));
    assert_eq!(quantity(&got["chainId"]), u128::from(DEFAULT_L2_CHAIN_ID));
    assert_eq!(got["nonce"], "0x0");
    assert_eq!(addr(&got["from"]), L2_BRIDGE_ADDRESS);
    assert_eq!(addr(&got["to"]), L2_BRIDGE_ADDRESS);
    assert_eq!(quantity(&got["value"]), 123_456_789);
    assert_eq!(quantity(&got["gas"]), 200_000);
    assert_eq!(got["gasPrice"], "0x0");
    assert_eq!(got["maxFeePerGas"], "0x0");
    assert_eq!(got["maxPriorityFeePerGas"], "0x0");
    assert_eq!(got["input"], json!(deposit(recipient, value).data));
    assert_eq!(got["blockHash"], json!(built.hash));
    assert_eq!(got["blockNumber"], number);
    assert_eq!(got["transactionIndex"], "0x0");

    let block = rpc(&node, "eth_getBlockByNumber", json!([number, true])).await;
    assert_eq!(block["transactions"], json!([got]));
    let block = rpc(&node, "eth_getBlockByHash", json!([built.hash, false])).await;
    assert_eq!(block["transactions"], json!([hash]));

    let receipt = rpc(&node, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["type"], "0x7e");
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["transactionHash"], json!(hash));
    assert_eq!(receipt["effectiveGasPrice"], "0x0");
    assert_eq!(addr(&receipt["from"]), L2_BRIDGE_ADDRESS);
    assert_eq!(addr(&receipt["to"]), L2_BRIDGE_ADDRESS);
    assert_eq!(receipt["contractAddress"], Value::Null);
    assert_eq!(
        quantity(&receipt["gasUsed"]),
        u128::from(built.block.header.gas_used)
    );
    assert_eq!(receipt["cumulativeGasUsed"], receipt["gasUsed"]);
    let logs = receipt["logs"].as_array().expect("logs");
    assert!(!logs.is_empty());
    assert!(logs.iter().all(|log| log["transactionHash"] == json!(hash)));
    let receipts = rpc(&node, "eth_getBlockReceipts", json!([number])).await;
    assert_eq!(receipts, json!([receipt]));

    let balance = rpc(&node, "eth_getBalance", json!([recipient, "latest"])).await;
    assert_eq!(quantity(&balance), 123_456_789);

    // Never accepted over RPC, even well-formed.
    let raw = Bytes::from(deposit(recipient, value).encoded_2718());
    let error = rpc_error(&node, "eth_sendRawTransaction", json!([raw])).await;
    assert!(error.message.contains("privileged"), "{error:?}");

    node.stop().await;
}
