//! Blocks, transactions and receipts over RPC: every accepted transaction type (0, 1, 2 and the
//! EIP-7702 type 4), and the JSON shapes of blocks, transactions, receipts and logs compared
//! with the fields geth returns.

mod common;

use std::time::Duration;

use alloy::{
    eips::eip7702::Authorization,
    network::{TransactionBuilder, TransactionBuilder7702},
    primitives::U256,
    providers::Provider,
    rpc::types::{AccessList, AccessListItem, TransactionRequest},
    signers::SignerSync,
    sol_types::SolCall,
};
use serde_json::json;

use common::{
    CHAIN_ID, Fee, GAS_PRICE, MAX_FEE, RpcProbe, TIP, TestNode, call_ok, deploy_probe, keys,
    next_nonce, quantity, request, request_1559, rpc, send_ok, sorted, word,
};

#[tokio::test(flavor = "multi_thread")]
async fn every_transaction_type_executes_and_eip7702_delegates() {
    let node = TestNode::start(Duration::from_millis(200)).await;
    let provider = node.client();
    let owner = TestNode::dev_signer(0);
    let probe = deploy_probe(&node, &owner).await;
    let increment = RpcProbe::incrementCall {}.abi_encode();

    // Type 0: legacy with EIP-155.
    let legacy_fee = Fee::Legacy {
        gas_price: GAS_PRICE,
    };
    let legacy = request(
        owner.address(),
        next_nonce(&node, owner.address()).await,
        200_000,
        legacy_fee,
    )
    .with_to(probe)
    .with_input(increment.clone());
    let r0 = send_ok(&node, &owner, legacy).await;
    // Type 1: EIP-2930 with an access list naming the slot it writes.
    let eip2930 = request(
        owner.address(),
        next_nonce(&node, owner.address()).await,
        200_000,
        legacy_fee,
    )
    .with_to(probe)
    .with_input(increment.clone())
    .with_access_list(AccessList(vec![AccessListItem {
        address: probe,
        storage_keys: vec![word(0)],
    }]));
    let r1 = send_ok(&node, &owner, eip2930).await;
    // Type 2: EIP-1559.
    let r2 = call_ok(&node, &owner, probe, increment.clone()).await;
    for (receipt, ty) in [(&r0, 0u8), (&r1, 1), (&r2, 2)] {
        assert_eq!(receipt.inner.tx_type() as u8, ty);
        let json = rpc(
            &node,
            "eth_getTransactionByHash",
            json!([receipt.transaction_hash]),
        )
        .await;
        assert_eq!(json["type"], format!("{ty:#x}"));
        assert_eq!(json["from"], json!(owner.address()));
        assert_eq!(json["blockHash"], json!(receipt.block_hash));
    }
    let number = RpcProbe::numberCall::abi_decode_returns(
        &provider
            .call(
                TransactionRequest::default()
                    .with_to(probe)
                    .with_input(RpcProbe::numberCall {}.abi_encode()),
            )
            .await
            .expect("eth_call"),
    )
    .expect("uint256");
    assert_eq!(number, U256::from(3));

    // Type 4: account 1 delegates its code to the probe; account 0 sends (and pays for) the
    // transaction that installs the delegation and calls through it in the same go.
    let delegator = TestNode::dev_signer(1);
    let authorization = Authorization {
        chain_id: U256::from(CHAIN_ID),
        address: probe,
        nonce: next_nonce(&node, delegator.address()).await,
    };
    let signature = delegator
        .sign_hash_sync(&authorization.signature_hash())
        .expect("sign the authorization");
    let eip7702 = request_1559(&node, &owner, 300_000)
        .await
        .with_to(delegator.address())
        .with_input(increment.clone())
        .with_authorization_list(vec![authorization.into_signed(signature)]);
    let r4 = send_ok(&node, &owner, eip7702).await;
    assert_eq!(r4.inner.tx_type() as u8, 4);
    let tx4 = rpc(
        &node,
        "eth_getTransactionByHash",
        json!([r4.transaction_hash]),
    )
    .await;
    assert_eq!(tx4["type"], "0x4");
    assert_eq!(
        tx4["authorizationList"][0]["address"],
        json!(probe),
        "{tx4}"
    );

    let code = provider
        .get_code_at(delegator.address())
        .await
        .expect("eth_getCode");
    let mut expected = vec![0xef, 0x01, 0x00];
    expected.extend_from_slice(probe.as_slice());
    assert_eq!(
        code.as_ref(),
        expected.as_slice(),
        "EIP-7702 delegation designator"
    );
    // The delegated account runs the probe's code on its own storage: the increment above
    // wrote 1 into the delegator's slot 0 and `self()` is the delegator.
    let call = |input: Vec<u8>| {
        TransactionRequest::default()
            .with_to(delegator.address())
            .with_input(input)
    };
    let own_number = provider
        .call(call(RpcProbe::numberCall {}.abi_encode()))
        .await
        .expect("call through the delegation");
    assert_eq!(
        RpcProbe::numberCall::abi_decode_returns(&own_number).expect("uint256"),
        U256::from(1)
    );
    let this = provider
        .call(call(RpcProbe::selfAddressCall {}.abi_encode()))
        .await
        .expect("call through the delegation");
    assert_eq!(
        RpcProbe::selfAddressCall::abi_decode_returns(&this).expect("address"),
        delegator.address()
    );
    let slot0 = provider
        .get_storage_at(delegator.address(), U256::ZERO)
        .await
        .expect("eth_getStorageAt");
    assert_eq!(slot0, U256::from(1));
    // The delegator's nonce went up with the authorization.
    assert_eq!(next_nonce(&node, delegator.address()).await, 1);
    node.stop().await;
}

/// geth's fields of a post-Prague block (no `totalDifficulty` since the merge).
const BLOCK_FIELDS: &[&str] = &[
    "baseFeePerGas",
    "blobGasUsed",
    "difficulty",
    "excessBlobGas",
    "extraData",
    "gasLimit",
    "gasUsed",
    "hash",
    "logsBloom",
    "miner",
    "mixHash",
    "nonce",
    "number",
    "parentBeaconBlockRoot",
    "parentHash",
    "receiptsRoot",
    "requestsHash",
    "sha3Uncles",
    "size",
    "stateRoot",
    "timestamp",
    "transactions",
    "transactionsRoot",
    "uncles",
    "withdrawals",
    "withdrawalsRoot",
];

/// geth's fields of a mined EIP-1559 transaction.
const TX_1559_FIELDS: &[&str] = &[
    "accessList",
    "blockHash",
    "blockNumber",
    "blockTimestamp",
    "chainId",
    "from",
    "gas",
    "gasPrice",
    "hash",
    "input",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "nonce",
    "r",
    "s",
    "to",
    "transactionIndex",
    "type",
    "v",
    "value",
    "yParity",
];

/// The L1 fee rule's fields of an ordinary transaction's receipt, under the OP Stack's names.
const FEE_FIELDS: &[&str] = &[
    "l1BaseFeeScalar",
    "l1BlobBaseFee",
    "l1BlobBaseFeeScalar",
    "l1Fee",
    "l1GasPrice",
    "l1GasUsed",
    "operatorFeeConstant",
    "operatorFeeScalar",
];
const RECEIPT_FIELDS: &[&str] = &[
    "blockHash",
    "blockNumber",
    "contractAddress",
    "cumulativeGasUsed",
    "effectiveGasPrice",
    "from",
    "gasUsed",
    "logs",
    "logsBloom",
    "status",
    "to",
    "transactionHash",
    "transactionIndex",
    "type",
];

const LOG_FIELDS: &[&str] = &[
    "address",
    "blockHash",
    "blockNumber",
    "blockTimestamp",
    "data",
    "logIndex",
    "removed",
    "topics",
    "transactionHash",
    "transactionIndex",
];

#[tokio::test(flavor = "multi_thread")]
async fn blocks_transactions_receipts_and_logs_have_geths_shape() {
    let node = TestNode::start(Duration::from_millis(200)).await;
    let owner = TestNode::dev_signer(0);

    assert_eq!(rpc(&node, "eth_chainId", json!([])).await, "0x1a61e9");
    assert_eq!(rpc(&node, "eth_syncing", json!([])).await, false);
    assert_eq!(rpc(&node, "eth_accounts", json!([])).await, json!([]));

    let deploy_nonce = next_nonce(&node, owner.address()).await;
    let deploy = send_ok(
        &node,
        &owner,
        request_1559(&node, &owner, 2_000_000)
            .await
            .with_deploy_code(RpcProbe::BYTECODE.clone()),
    )
    .await;
    let probe = deploy.contract_address.expect("contract address");
    assert_eq!(probe, owner.address().create(deploy_nonce));
    let increment = RpcProbe::incrementCall {}.abi_encode();
    let receipt = call_ok(&node, &owner, probe, increment).await;
    let hash = receipt.transaction_hash;
    let block_number = receipt.block_number.expect("mined");
    assert!(quantity(&rpc(&node, "eth_blockNumber", json!([])).await) >= u128::from(block_number));

    // The receipt.
    let receipt_json = rpc(&node, "eth_getTransactionReceipt", json!([hash])).await;
    // The dev chain has the L1 fee rule (docs/fees.md): its receipts carry the OP Stack's
    // fee fields too.
    let with_fees: Vec<&str> = RECEIPT_FIELDS.iter().chain(FEE_FIELDS).copied().collect();
    assert_eq!(keys(&receipt_json), sorted(&with_fees), "{receipt_json}");
    // With no L1 the node keeps the genesis prices: the L1 fee is the default rule's for the
    // signed transaction's size.
    let raw = rpc(&node, "debug_getRawTransaction", json!([hash])).await;
    let raw_len = raw.as_str().expect("hex").len() / 2 - 1;
    let params = keel_types::fees::DEFAULT_FEE_PARAMS;
    assert_eq!(
        quantity(&receipt_json["l1Fee"]),
        params.l1_fee(raw_len).to::<u128>(),
        "{receipt_json}"
    );
    assert_eq!(
        quantity(&receipt_json["l1GasPrice"]),
        u128::from(params.prices.base_fee)
    );
    assert_eq!(
        quantity(&receipt_json["l1BlobBaseFeeScalar"]),
        u128::from(params.scalars.blob_base_fee_scalar)
    );
    assert_eq!(receipt_json["type"], "0x2");
    assert_eq!(receipt_json["status"], "0x1");
    assert_eq!(receipt_json["contractAddress"], serde_json::Value::Null);
    assert_eq!(receipt_json["to"], json!(probe));
    assert_eq!(receipt_json["from"], json!(owner.address()));
    let logs = receipt_json["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1);
    assert_eq!(keys(&logs[0]), sorted(LOG_FIELDS), "{}", logs[0]);
    assert_eq!(logs[0]["address"], json!(probe));
    assert_eq!(logs[0]["transactionHash"], json!(hash));
    assert_eq!(logs[0]["removed"], false);

    // The block with full transactions.
    let block = rpc(
        &node,
        "eth_getBlockByNumber",
        json!([format!("{block_number:#x}"), true]),
    )
    .await;
    assert_eq!(keys(&block), sorted(BLOCK_FIELDS), "{block}");
    assert_eq!(block["withdrawals"], json!([]));
    assert_eq!(block["uncles"], json!([]));
    assert_eq!(logs[0]["blockTimestamp"], block["timestamp"]);
    assert_eq!(logs[0]["blockHash"], block["hash"]);
    let txs = block["transactions"].as_array().expect("transactions");
    let index = quantity(&receipt_json["transactionIndex"]) as usize;
    let tx = &txs[index];
    assert_eq!(keys(tx), sorted(TX_1559_FIELDS), "{tx}");
    assert_eq!(tx["hash"], json!(hash));
    assert_eq!(tx["blockTimestamp"], block["timestamp"]);
    // A mined EIP-1559 transaction shows its effective price as gasPrice.
    let base_fee = quantity(&block["baseFeePerGas"]);
    assert_eq!(quantity(&tx["gasPrice"]), (base_fee + TIP).min(MAX_FEE));
    assert_eq!(receipt_json["effectiveGasPrice"], tx["gasPrice"]);
    // `size` is the length of the block's RLP.
    let raw_block = rpc(&node, "debug_getRawBlock", json!([block["hash"]])).await;
    let raw_len = (raw_block.as_str().expect("hex").len() - 2) / 2;
    assert_eq!(quantity(&block["size"]) as usize, raw_len);

    // The same block by hash with hashes only.
    let by_hash = rpc(&node, "eth_getBlockByHash", json!([block["hash"], false])).await;
    assert_eq!(by_hash["hash"], block["hash"]);
    let hashes: Vec<serde_json::Value> = txs.iter().map(|tx| tx["hash"].clone()).collect();
    assert_eq!(by_hash["transactions"], json!(hashes));

    // Per-transaction gas adds up to the block's; receipts by block equal receipts by hash.
    let block_receipts = rpc(&node, "eth_getBlockReceipts", json!([block["hash"]])).await;
    let block_receipts = block_receipts.as_array().expect("receipts");
    assert_eq!(block_receipts.len(), txs.len());
    let gas_sum: u128 = block_receipts.iter().map(|r| quantity(&r["gasUsed"])).sum();
    assert_eq!(gas_sum, quantity(&block["gasUsed"]));
    assert_eq!(block_receipts[index], receipt_json);
    let mut log_index = 0;
    for receipt in block_receipts {
        for log in receipt["logs"].as_array().expect("logs") {
            assert_eq!(quantity(&log["logIndex"]), log_index);
            log_index += 1;
        }
    }

    // By position, and the counts.
    let by_position = rpc(
        &node,
        "eth_getTransactionByBlockNumberAndIndex",
        json!([format!("{block_number:#x}"), format!("{index:#x}")]),
    )
    .await;
    assert_eq!(&by_position, tx);
    let by_hash_position = rpc(
        &node,
        "eth_getTransactionByBlockHashAndIndex",
        json!([block["hash"], format!("{index:#x}")]),
    )
    .await;
    assert_eq!(&by_hash_position, tx);
    assert_eq!(
        rpc(&node, "eth_getTransactionByHash", json!([hash])).await,
        *tx
    );
    let count = rpc(
        &node,
        "eth_getBlockTransactionCountByNumber",
        json!([format!("{block_number:#x}")]),
    )
    .await;
    assert_eq!(quantity(&count) as usize, txs.len());
    let count = rpc(
        &node,
        "eth_getBlockTransactionCountByHash",
        json!([block["hash"]]),
    )
    .await;
    assert_eq!(quantity(&count) as usize, txs.len());
    assert_eq!(
        rpc(
            &node,
            "eth_getUncleCountByBlockHash",
            json!([block["hash"]])
        )
        .await,
        "0x0"
    );

    // The deployment's receipt names the contract and has no recipient.
    let deployment = rpc(
        &node,
        "eth_getTransactionReceipt",
        json!([deploy.transaction_hash]),
    )
    .await;
    assert_eq!(keys(&deployment), sorted(&with_fees), "{deployment}");
    assert_eq!(deployment["contractAddress"], json!(probe));
    assert_eq!(deployment["to"], serde_json::Value::Null);
    // Genesis has no transactions.
    assert_eq!(
        rpc(
            &node,
            "eth_getTransactionByBlockNumberAndIndex",
            json!(["earliest", "0x0"]),
        )
        .await,
        serde_json::Value::Null
    );

    // Unknown things are null.
    let unknown = format!("0x{}", "ab".repeat(32));
    assert_eq!(
        rpc(&node, "eth_getTransactionByHash", json!([unknown])).await,
        serde_json::Value::Null
    );
    assert_eq!(
        rpc(&node, "eth_getTransactionReceipt", json!([unknown])).await,
        serde_json::Value::Null
    );
    assert_eq!(
        rpc(&node, "eth_getBlockByHash", json!([unknown, false])).await,
        serde_json::Value::Null
    );
    assert_eq!(
        rpc(&node, "eth_getBlockByNumber", json!(["0xffffffff", false])).await,
        serde_json::Value::Null
    );
    assert_eq!(
        rpc(&node, "eth_getBlockReceipts", json!(["0xffffffff"])).await,
        serde_json::Value::Null
    );
    node.stop().await;
}
