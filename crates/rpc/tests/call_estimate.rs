//! `eth_call` (with state and block overrides), `eth_estimateGas` and `eth_createAccessList`
//! against a running node, including geth's revert errors (code 3 with the revert data).

mod common;

use std::time::Duration;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes, U256, address, keccak256},
    providers::Provider,
    sol_types::{Revert, SolCall, SolError},
};
use serde_json::json;

use common::{
    RpcError, RpcProbe, TestNode, call_ok, deploy_probe, quantity, request_1559, rpc, rpc_error,
    send_ok, word,
};

fn call_json(from: Address, to: Address, input: Vec<u8>) -> serde_json::Value {
    json!({ "from": from, "to": to, "input": Bytes::from(input) })
}

fn decode_u256(value: &serde_json::Value) -> U256 {
    let bytes: Bytes = serde_json::from_value(value.clone()).expect("hex output");
    U256::from_be_slice(&bytes[..32])
}

#[tokio::test(flavor = "multi_thread")]
async fn eth_call_applies_state_and_block_overrides() {
    let node = TestNode::start(Duration::from_millis(150)).await;
    let provider = node.client();
    let owner = TestNode::dev_signer(0);
    let probe = deploy_probe(&node, &owner).await;
    let set = RpcProbe::setNumberCall {
        value: U256::from(7),
    };
    let set_block = call_ok(&node, &owner, probe, set.abi_encode())
        .await
        .block_number
        .expect("mined");
    let number = RpcProbe::numberCall {}.abi_encode();
    let call = call_json(owner.address(), probe, number.clone());

    let plain = rpc(&node, "eth_call", json!([call, "latest"])).await;
    assert_eq!(decode_u256(&plain), U256::from(7));
    // At the block before the write the slot was still 0.
    let before = rpc(
        &node,
        "eth_call",
        json!([call, format!("{:#x}", set_block - 1)]),
    )
    .await;
    assert_eq!(decode_u256(&before), U256::ZERO);

    // stateDiff changes one slot; state replaces the whole storage.
    let diff = json!({ probe.to_string(): { "stateDiff": { word(0).to_string(): word(42) } } });
    let with_diff = rpc(&node, "eth_call", json!([call, "latest", diff])).await;
    assert_eq!(decode_u256(&with_diff), U256::from(42));
    let replaced = json!({ probe.to_string(): { "state": { word(1).to_string(): word(3) } } });
    let with_state = rpc(&node, "eth_call", json!([call, "latest", replaced])).await;
    assert_eq!(decode_u256(&with_state), U256::ZERO);
    let both = json!({ probe.to_string(): {
        "state": { word(1).to_string(): word(3) },
        "stateDiff": { word(1).to_string(): word(3) },
    } });
    let RpcError { code, message, .. } =
        rpc_error(&node, "eth_call", json!([call, "latest", both])).await;
    assert_eq!(code, -32602, "{message}");

    // Code at an empty address, with storage, and a balance for another one.
    let elsewhere = address!("0x0000000000000000000000000000000000c0de00");
    let rich = address!("0x00000000000000000000000000000000000b0b00");
    let overrides = json!({
        elsewhere.to_string(): {
            "code": RpcProbe::DEPLOYED_BYTECODE.clone(),
            "stateDiff": { word(0).to_string(): word(5) },
        },
        rich.to_string(): { "balance": "0x3039" },
    });
    let at_elsewhere = call_json(owner.address(), elsewhere, number.clone());
    let result = rpc(
        &node,
        "eth_call",
        json!([at_elsewhere, "latest", overrides]),
    )
    .await;
    assert_eq!(decode_u256(&result), U256::from(5));
    let balance_of = call_json(
        owner.address(),
        elsewhere,
        RpcProbe::balanceOfCall { who: rich }.abi_encode(),
    );
    let result = rpc(&node, "eth_call", json!([balance_of, "latest", overrides])).await;
    assert_eq!(decode_u256(&result), U256::from(12345));
    // Without the overrides there is no code there: the call returns nothing.
    let result = rpc(&node, "eth_call", json!([at_elsewhere, "latest"])).await;
    assert_eq!(result, "0x");

    // The block environment: the chosen block's, overridable; "pending" is the next block.
    let env = RpcProbe::envCall {}.abi_encode();
    let env_call = call_json(owner.address(), probe, env.clone());
    let decode_env = |value: &serde_json::Value| {
        let bytes: Bytes = serde_json::from_value(value.clone()).expect("hex");
        let out = RpcProbe::envCall::abi_decode_returns(&bytes).expect("env");
        (out.blockNumber, out.timestamp, out.baseFee)
    };
    let at_set = rpc(
        &node,
        "eth_call",
        json!([env_call, format!("{set_block:#x}")]),
    )
    .await;
    let block = rpc(
        &node,
        "eth_getBlockByNumber",
        json!([format!("{set_block:#x}"), false]),
    )
    .await;
    let (n, t, fee) = decode_env(&at_set);
    assert_eq!(n, U256::from(set_block));
    assert_eq!(t, U256::from(quantity(&block["timestamp"])));
    // No fee fields: BASEFEE reads 0, as in geth.
    assert_eq!(fee, U256::ZERO);
    // With fees, the block's base fee applies.
    let mut priced = env_call.clone();
    priced["maxFeePerGas"] = json!("0x2540be400");
    priced["maxPriorityFeePerGas"] = json!("0x0");
    let at_set_priced = rpc(
        &node,
        "eth_call",
        json!([priced, format!("{set_block:#x}")]),
    )
    .await;
    assert_eq!(
        decode_env(&at_set_priced).2,
        U256::from(quantity(&block["baseFeePerGas"]))
    );
    let head_before = provider.get_block_number().await.expect("head");
    let pending = rpc(&node, "eth_call", json!([env_call, "pending"])).await;
    assert!(decode_env(&pending).0 > U256::from(head_before));
    let overridden = rpc(
        &node,
        "eth_call",
        json!([env_call, "latest", {}, { "number": "0x99", "time": "0x12d687" }]),
    )
    .await;
    let (n, t, _) = decode_env(&overridden);
    assert_eq!((n, t), (U256::from(0x99), U256::from(1_234_567)));

    // A contract may be the sender of a call (no EIP-3607 check), with a gas above the cap.
    let from_contract = json!({
        "from": probe,
        "to": probe,
        "input": Bytes::from(RpcProbe::callerCall {}.abi_encode()),
        "gas": "0xffffffffff",
    });
    let result = rpc(&node, "eth_call", json!([from_contract])).await;
    let bytes: Bytes = serde_json::from_value(result).expect("hex");
    assert_eq!(
        RpcProbe::callerCall::abi_decode_returns(&bytes).expect("address"),
        probe
    );
    // An unknown block is geth's "header not found".
    let RpcError { code, message, .. } =
        rpc_error(&node, "eth_call", json!([call, "0xffffff"])).await;
    assert_eq!((code, message.as_str()), (-32000, "header not found"));
    // Garbage parameters are invalid params.
    let RpcError { code, .. } = rpc_error(&node, "eth_call", json!([{ "to": "0x1234" }])).await;
    assert_eq!(code, -32602);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reverts_carry_their_data_and_estimates_are_sufficient() {
    let node = TestNode::start(Duration::from_millis(150)).await;
    let owner = TestNode::dev_signer(0);
    let probe = deploy_probe(&node, &owner).await;

    // A plain transfer is exactly 21,000.
    let stranger = address!("0x0000000000000000000000000000000000005eed");
    let transfer = json!({ "from": owner.address(), "to": stranger, "value": "0x1" });
    assert_eq!(
        rpc(&node, "eth_estimateGas", json!([transfer])).await,
        "0x5208"
    );

    // require(false, reason): code 3, the reason in the message, the revert bytes as data.
    let expected_data = Bytes::from(Revert::from("value too small").abi_encode());
    let failing = call_json(
        owner.address(),
        probe,
        RpcProbe::requireAboveCall {
            value: U256::from(1),
        }
        .abi_encode(),
    );
    for method in ["eth_call", "eth_estimateGas"] {
        let RpcError {
            code,
            message,
            data,
        } = rpc_error(&node, method, json!([failing, "latest"])).await;
        assert_eq!(code, 3, "{method}");
        assert_eq!(message, "execution reverted: value too small", "{method}");
        assert_eq!(data, Some(json!(expected_data)), "{method}");
    }
    // assert(false): a Panic(0x01).
    let panicking = call_json(
        owner.address(),
        probe,
        RpcProbe::failAssertCall {
            value: U256::from(1),
        }
        .abi_encode(),
    );
    let RpcError {
        code,
        message,
        data,
    } = rpc_error(&node, "eth_call", json!([panicking])).await;
    assert_eq!(
        (code, message.as_str()),
        (3, "execution reverted: assert(false)")
    );
    assert!(data.is_some());
    // revert() without data: code 3 too (the spec's; geth answers -32000), data `0x`.
    let empty = call_json(
        owner.address(),
        probe,
        RpcProbe::failEmptyCall {}.abi_encode(),
    );
    let RpcError {
        code,
        message,
        data,
    } = rpc_error(&node, "eth_estimateGas", json!([empty])).await;
    assert_eq!(
        (code, message.as_str(), data),
        (3, "execution reverted", Some(json!("0x")))
    );

    // Sending more than one has.
    let broke = json!({ "from": stranger, "to": owner.address(), "value": "0xde0b6b3a7640000" });
    let RpcError { code, message, .. } = rpc_error(&node, "eth_estimateGas", json!([broke])).await;
    assert_eq!(
        (code, message.as_str()),
        (809, "insufficient funds for transfer")
    );
    let RpcError { code, message, .. } = rpc_error(&node, "eth_call", json!([broke])).await;
    assert_eq!(code, 809);
    assert!(
        message.starts_with("insufficient funds for gas * price + value"),
        "{message}"
    );
    // A gas limit below what the call needs.
    let increment = RpcProbe::incrementCall {}.abi_encode();
    let mut starved = call_json(owner.address(), probe, increment.clone());
    starved["gas"] = json!("0x5208");
    let RpcError { code, message, .. } =
        rpc_error(&node, "eth_estimateGas", json!([starved])).await;
    assert_eq!(
        (code, message.as_str()),
        (-32000, "gas required exceeds allowance (21000)")
    );

    // Estimates are enough to send with, and not far above what is used.
    for input in [
        increment.clone(),
        RpcProbe::burnCall {
            rounds: U256::from(40),
        }
        .abi_encode(),
    ] {
        let estimate: u64 = quantity(
            &rpc(
                &node,
                "eth_estimateGas",
                json!([call_json(owner.address(), probe, input.clone())]),
            )
            .await,
        )
        .try_into()
        .expect("a u64 estimate");
        let request = request_1559(&node, &owner, estimate)
            .await
            .with_to(probe)
            .with_input(input);
        let receipt = send_ok(&node, &owner, request).await;
        assert!(estimate >= receipt.gas_used);
        assert!(
            estimate <= receipt.gas_used + receipt.gas_used / 10 + 5_000,
            "estimate {estimate} vs used {}",
            receipt.gas_used
        );
    }
    // Deployment estimate (no `to`).
    let deploy = json!({ "from": owner.address(), "input": RpcProbe::BYTECODE.clone() });
    assert!(quantity(&rpc(&node, "eth_estimateGas", json!([deploy])).await) > 100_000);
    // eth_call of a deployment returns the runtime code.
    let runtime = rpc(&node, "eth_call", json!([deploy])).await;
    assert_eq!(runtime, json!(RpcProbe::DEPLOYED_BYTECODE.clone()));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn create_access_list_names_what_the_call_touches() {
    let node = TestNode::start(Duration::from_millis(150)).await;
    let owner = TestNode::dev_signer(0);
    let a = deploy_probe(&node, &owner).await;
    let b = deploy_probe(&node, &owner).await;

    // A reads B's slot 0: B and that slot are listed; A (the recipient) is not.
    let read = call_json(
        owner.address(),
        a,
        RpcProbe::numberOfCall { other: b }.abi_encode(),
    );
    let result = rpc(&node, "eth_createAccessList", json!([read, "latest"])).await;
    assert_eq!(
        result["accessList"],
        json!([{ "address": b, "storageKeys": [word(0)] }]),
        "{result}"
    );
    assert!(quantity(&result["gasUsed"]) > 21_000);
    assert!(result.get("error").is_none(), "{result}");

    // A writes its own mapping slot: the recipient is listed because of the slot.
    let who = address!("0x0000000000000000000000000000000000000abc");
    let write = call_json(
        owner.address(),
        a,
        RpcProbe::creditCall {
            who,
            amount: U256::from(1),
        }
        .abi_encode(),
    );
    let result = rpc(&node, "eth_createAccessList", json!([write])).await;
    let slot = keccak256([who.into_word().as_slice(), word(1).as_slice()].concat());
    assert_eq!(
        result["accessList"],
        json!([{ "address": a, "storageKeys": [slot] }]),
        "{result}"
    );

    // A reverting call still gets a list, with the error beside it.
    let failing = call_json(
        owner.address(),
        a,
        RpcProbe::requireAboveCall {
            value: U256::from(1),
        }
        .abi_encode(),
    );
    let result = rpc(&node, "eth_createAccessList", json!([failing])).await;
    assert_eq!(result["error"], "execution reverted", "{result}");
    assert_eq!(result["accessList"], json!([]));
    node.stop().await;
}
