//! Pending transactions (`eth_getTransactionByHash` before inclusion, `txpool_*`), the `net_` and
//! `web3_` namespaces, and the raw encodings of `debug_getRaw*` decoded back.

mod common;

use std::time::Duration;

use alloy::{
    consensus::{ReceiptEnvelope, TxEnvelope, proofs::calculate_receipt_root},
    eips::{Decodable2718, Encodable2718},
    network::TransactionBuilder,
    primitives::{B256, Bytes, U256, address, keccak256},
    sol_types::SolCall,
};
use serde_json::json;

use common::{
    MAX_FEE, RpcError, RpcProbe, TestNode, call_ok, deploy_probe, produce, quantity, request_1559,
    rpc, rpc_error, sign,
};
use keel_chain::MempoolConfig;
use keel_rpc::RpcConfig;

#[tokio::test(flavor = "multi_thread")]
async fn pending_transactions_show_in_the_pool_until_included() {
    // Blocks only when the test makes them: the producer's first tick makes block 1, the next
    // one is an hour away.
    let node = TestNode::start_manual(MempoolConfig::default(), RpcConfig::default()).await;
    let sender = TestNode::dev_signer(2);
    let recipient = address!("0x00000000000000000000000000000000000f00d0");
    let transfer = request_1559(&node, &sender, 21_000)
        .await
        .with_to(recipient)
        .with_value(U256::from(1_000));
    let tx = sign(&sender, transfer.clone()).await;
    let raw_tx = Bytes::from(tx.encoded_2718());
    let hash = rpc(&node, "eth_sendRawTransaction", json!([raw_tx])).await;
    assert_eq!(hash, json!(tx.tx_hash()));

    // Pending: block fields null, gasPrice the fee cap.
    let pending = rpc(&node, "eth_getTransactionByHash", json!([hash])).await;
    for field in [
        "blockHash",
        "blockNumber",
        "transactionIndex",
        "blockTimestamp",
    ] {
        assert_eq!(
            pending[field],
            serde_json::Value::Null,
            "{field}: {pending}"
        );
    }
    assert_eq!(pending["from"], json!(sender.address()));
    assert_eq!(pending["hash"], hash);
    assert_eq!(quantity(&pending["gasPrice"]), MAX_FEE);
    assert_eq!(
        rpc(&node, "eth_getTransactionReceipt", json!([hash])).await,
        serde_json::Value::Null
    );
    assert_eq!(
        rpc(&node, "debug_getRawTransaction", json!([hash])).await,
        json!(raw_tx)
    );
    let count = |tag: &'static str| {
        let node = &node;
        let address = sender.address();
        async move { quantity(&rpc(node, "eth_getTransactionCount", json!([address, tag])).await) }
    };
    assert_eq!(count("latest").await, 0);
    assert_eq!(count("pending").await, 1);

    // A nonce gap: queued.
    let gapped = sign(&sender, transfer.clone().with_nonce(2)).await;
    rpc(
        &node,
        "eth_sendRawTransaction",
        json!([Bytes::from(gapped.encoded_2718())]),
    )
    .await;
    assert_eq!(
        rpc(&node, "txpool_status", json!([])).await,
        json!({ "pending": "0x1", "queued": "0x1" })
    );
    let content = rpc(&node, "txpool_content", json!([])).await;
    let who = sender.address().to_checksum(None);
    assert_eq!(content["pending"][&who]["0"]["hash"], hash, "{content}");
    assert_eq!(
        content["pending"][&who]["0"]["blockNumber"],
        serde_json::Value::Null
    );
    assert_eq!(
        content["queued"][&who]["2"]["hash"],
        json!(gapped.tx_hash()),
        "{content}"
    );
    let from = rpc(&node, "txpool_contentFrom", json!([sender.address()])).await;
    assert_eq!(from["pending"]["0"], content["pending"][&who]["0"]);
    assert_eq!(from["queued"]["2"], content["queued"][&who]["2"]);
    let inspect = rpc(&node, "txpool_inspect", json!([])).await;
    assert_eq!(
        inspect["pending"][&who]["0"],
        format!(
            "{}: 1000 wei + 21000 gas × {MAX_FEE} wei",
            recipient.to_checksum(None)
        )
    );

    // Include it.
    produce(&node).await;
    let mined = rpc(&node, "eth_getTransactionByHash", json!([hash])).await;
    assert_eq!(quantity(&mined["blockNumber"]), 2, "{mined}");
    assert!(mined["blockTimestamp"].is_string());
    let receipt = rpc(&node, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        rpc(&node, "txpool_status", json!([])).await,
        json!({ "pending": "0x0", "queued": "0x1" })
    );
    assert_eq!(count("latest").await, 1);
    assert_eq!(count("pending").await, 1);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn net_web3_and_raw_encodings() {
    let node = TestNode::start(Duration::from_millis(150)).await;
    assert_eq!(rpc(&node, "net_version", json!([])).await, "1729001");
    assert_eq!(rpc(&node, "net_listening", json!([])).await, true);
    assert_eq!(rpc(&node, "net_peerCount", json!([])).await, "0x0");
    let version = rpc(&node, "web3_clientVersion", json!([])).await;
    let version = version.as_str().expect("a string");
    assert!(
        version.starts_with("keel/v") && version.ends_with("/rust"),
        "{version}"
    );
    assert_eq!(
        rpc(&node, "web3_sha3", json!(["0x68656c6c6f"])).await,
        json!(keccak256("hello"))
    );
    let RpcError { code, .. } = rpc_error(&node, "web3_sha3", json!(["not hex"])).await;
    assert_eq!(code, -32602);

    let owner = TestNode::dev_signer(0);
    let probe = deploy_probe(&node, &owner).await;
    let increment = RpcProbe::incrementCall {}.abi_encode();
    let receipt = call_ok(&node, &owner, probe, increment).await;
    let number = format!("{:#x}", receipt.block_number.expect("mined"));
    let block = rpc(&node, "eth_getBlockByNumber", json!([number, false])).await;
    let block_hash: B256 = serde_json::from_value(block["hash"].clone()).expect("hash");

    let header: Bytes =
        serde_json::from_value(rpc(&node, "debug_getRawHeader", json!([number])).await)
            .expect("hex");
    let header: alloy::consensus::Header =
        alloy_rlp::Decodable::decode(&mut header.as_ref()).expect("an RLP header");
    assert_eq!(header.hash_slow(), block_hash);

    let raw_block: Bytes =
        serde_json::from_value(rpc(&node, "debug_getRawBlock", json!([block_hash])).await)
            .expect("hex");
    let decoded: alloy::consensus::Block<TxEnvelope> =
        alloy_rlp::Decodable::decode(&mut raw_block.as_ref()).expect("an RLP block");
    assert_eq!(decoded.header.hash_slow(), block_hash);
    let hashes: Vec<B256> = decoded
        .body
        .transactions
        .iter()
        .map(|tx| *tx.tx_hash())
        .collect();
    assert_eq!(block["transactions"], json!(hashes));

    let raw_tx: Bytes = serde_json::from_value(
        rpc(
            &node,
            "debug_getRawTransaction",
            json!([receipt.transaction_hash]),
        )
        .await,
    )
    .expect("hex");
    let tx = TxEnvelope::decode_2718(&mut raw_tx.as_ref()).expect("an EIP-2718 transaction");
    assert_eq!(*tx.tx_hash(), receipt.transaction_hash);
    assert_eq!(
        rpc(
            &node,
            "debug_getRawTransaction",
            json!([B256::repeat_byte(0xab)])
        )
        .await,
        "0x"
    );

    let raw_receipts: Vec<Bytes> =
        serde_json::from_value(rpc(&node, "debug_getRawReceipts", json!([number])).await)
            .expect("hex list");
    let receipts: Vec<ReceiptEnvelope> = raw_receipts
        .iter()
        .map(|r| ReceiptEnvelope::decode_2718(&mut r.as_ref()).expect("an EIP-2718 receipt"))
        .collect();
    assert_eq!(calculate_receipt_root(&receipts), header.receipts_root);
    let rpc_receipts = rpc(&node, "eth_getBlockReceipts", json!([number])).await;
    for (decoded, shown) in receipts.iter().zip(rpc_receipts.as_array().expect("list")) {
        assert_eq!(
            u128::from(decoded.cumulative_gas_used()),
            quantity(&shown["cumulativeGasUsed"])
        );
        assert_eq!(
            decoded.logs().len(),
            shown["logs"].as_array().expect("logs").len()
        );
        assert_eq!(decoded.status(), shown["status"] == "0x1");
    }
    let RpcError { code, message, .. } =
        rpc_error(&node, "debug_getRawHeader", json!(["0xffffff"])).await;
    assert_eq!((code, message.as_str()), (-32000, "header not found"));
    node.stop().await;
}
