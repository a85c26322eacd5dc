//! Account state over RPC at the head (flat state) and at older blocks (trie), and EIP-1186
//! proofs checked with alloy-trie's verifier against the block's state root.

mod common;

use std::time::Duration;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    providers::Provider,
    rpc::types::{BlockId, EIP1186AccountProofResponse},
    sol_types::SolCall,
};
use alloy_trie::{Nibbles, TrieAccount, proof::verify_proof};
use serde_json::json;

use common::{
    RpcError, RpcProbe, TestNode, call_ok, deploy_probe, quantity, request_1559, rpc, rpc_error,
    send_ok, verify_account_proof, wait_for_block, word,
};

async fn get_proof(
    node: &TestNode,
    address: Address,
    keys: serde_json::Value,
    block: serde_json::Value,
) -> EIP1186AccountProofResponse {
    serde_json::from_value(rpc(node, "eth_getProof", json!([address, keys, block])).await)
        .expect("an EIP-1186 response")
}

#[tokio::test(flavor = "multi_thread")]
async fn state_at_head_and_older_blocks_with_verified_proofs() {
    let node = TestNode::start(Duration::from_millis(150)).await;
    let provider = node.client();
    let owner = TestNode::dev_signer(0);
    let before_deploy = provider.get_block_number().await.expect("head");
    let probe = deploy_probe(&node, &owner).await;

    let set = RpcProbe::setNumberCall {
        value: U256::from(7),
    };
    let set_block = call_ok(&node, &owner, probe, set.abi_encode())
        .await
        .block_number
        .expect("mined");
    let fresh = address!("0x00000000000000000000000000000000c0ffee01");
    let credit = RpcProbe::creditCall {
        who: fresh,
        amount: U256::from(5),
    };
    call_ok(&node, &owner, probe, credit.abi_encode()).await;
    let one_eth = U256::from(10u64).pow(U256::from(18));
    let transfer = request_1559(&node, &owner, 21_000)
        .await
        .with_to(fresh)
        .with_value(one_eth);
    let transfer_block = send_ok(&node, &owner, transfer)
        .await
        .block_number
        .expect("mined");
    // Make the transfer's block historical (not the head) too.
    wait_for_block(&node, transfer_block + 1).await;

    // Balances: before, at and after the transfer, by number, by hash and at the head.
    let balance = |block: serde_json::Value| {
        let node = &node;
        async move {
            let value = rpc(node, "eth_getBalance", json!([fresh, block])).await;
            serde_json::from_value::<U256>(value).expect("quantity")
        }
    };
    assert_eq!(
        balance(json!(format!("{:#x}", transfer_block - 1))).await,
        U256::ZERO
    );
    assert_eq!(
        balance(json!(format!("{transfer_block:#x}"))).await,
        one_eth
    );
    assert_eq!(balance(json!("latest")).await, one_eth);
    assert_eq!(balance(json!("earliest")).await, U256::ZERO);
    let older = rpc(
        &node,
        "eth_getBlockByNumber",
        json!([format!("{:#x}", transfer_block - 1), false]),
    )
    .await;
    assert_eq!(
        balance(json!({ "blockHash": older["hash"] })).await,
        U256::ZERO
    );
    assert_eq!(
        balance(json!({ "blockHash": older["hash"], "requireCanonical": true })).await,
        U256::ZERO
    );
    // A block past the head is geth's "header not found".
    let RpcError { code, message, .. } =
        rpc_error(&node, "eth_getBalance", json!([fresh, "0xffffffff"])).await;
    assert_eq!((code, message.as_str()), (-32000, "header not found"));

    // Code and storage, now and before.
    let code = provider.get_code_at(probe).await.expect("eth_getCode");
    assert_eq!(code, RpcProbe::DEPLOYED_BYTECODE.clone());
    let code_before = provider
        .get_code_at(probe)
        .block_id(BlockId::number(before_deploy))
        .await
        .expect("eth_getCode");
    assert_eq!(code_before, Bytes::new());
    let slot0 = rpc(&node, "eth_getStorageAt", json!([probe, "0x0", "latest"])).await;
    assert_eq!(slot0, json!(word(7)));
    let slot0_before = rpc(
        &node,
        "eth_getStorageAt",
        json!([probe, "0x0", format!("{:#x}", set_block - 1)]),
    )
    .await;
    assert_eq!(slot0_before, json!(word(0)));
    // credits[fresh] lives at keccak(fresh . 1).
    let credit_slot = keccak256([fresh.into_word().as_slice(), word(1).as_slice()].concat());
    let credited = rpc(
        &node,
        "eth_getStorageAt",
        json!([probe, credit_slot, "latest"]),
    )
    .await;
    assert_eq!(credited, json!(word(5)));

    // Nonces: the owner's at genesis, now, and pending (nothing pending: the same).
    let owner_address = owner.address();
    let nonce = |block: &'static str| {
        let node = &node;
        async move {
            quantity(
                &rpc(
                    node,
                    "eth_getTransactionCount",
                    json!([owner_address, block]),
                )
                .await,
            )
        }
    };
    assert_eq!(nonce("earliest").await, 0);
    assert_eq!(nonce("latest").await, 4);
    assert_eq!(nonce("pending").await, 4);

    // Proofs at the head: the contract with a set slot, a mapping slot and an empty slot.
    let head = rpc(&node, "eth_getBlockByNumber", json!(["latest", false])).await;
    let head_root: B256 = serde_json::from_value(head["stateRoot"].clone()).expect("root");
    let proof = get_proof(
        &node,
        probe,
        json!(["0x0", credit_slot, word(9)]),
        json!(head["number"]),
    )
    .await;
    assert_eq!(proof.nonce, 1);
    assert_eq!(proof.code_hash, keccak256(&code));
    assert_eq!(proof.storage_proof.len(), 3);
    assert_eq!(proof.storage_proof[0].value, U256::from(7));
    assert_eq!(proof.storage_proof[0].key.to_string(), "0x0");
    assert_eq!(proof.storage_proof[1].value, U256::from(5));
    assert_eq!(proof.storage_proof[2].value, U256::ZERO);
    assert!(!proof.account_proof.is_empty());
    verify_account_proof(head_root, &proof);
    // An EOA and an account that does not exist.
    let eoa = get_proof(&node, fresh, json!([]), json!(head["number"])).await;
    assert_eq!(eoa.balance, one_eth);
    assert_eq!(eoa.storage_hash, alloy_trie::EMPTY_ROOT_HASH);
    verify_account_proof(head_root, &eoa);
    let nobody = address!("0x000000000000000000000000000000000000dead");
    let absent = get_proof(&node, nobody, json!(["0x1"]), json!(head["number"])).await;
    assert_eq!(absent.balance, U256::ZERO);
    assert_eq!(absent.code_hash, alloy_trie::KECCAK_EMPTY);
    assert_eq!(absent.storage_hash, alloy_trie::EMPTY_ROOT_HASH);
    verify_account_proof(head_root, &absent);
    // A proof at an older block verifies against that block's root, with that block's values.
    let old_root: B256 = serde_json::from_value(older["stateRoot"].clone()).expect("root");
    let old = get_proof(&node, fresh, json!([]), json!(older["number"])).await;
    assert_eq!(old.balance, U256::ZERO);
    verify_account_proof(old_root, &old);
    let old_probe = get_proof(&node, probe, json!(["0x0"]), json!(older["number"])).await;
    assert_eq!(old_probe.storage_proof[0].value, U256::from(7));
    verify_account_proof(old_root, &old_probe);
    // A tampered proof must not verify.
    let mut forged = proof.clone();
    forged.balance += U256::from(1);
    let account = TrieAccount {
        nonce: forged.nonce,
        balance: forged.balance,
        storage_root: forged.storage_hash,
        code_hash: forged.code_hash,
    };
    assert!(
        verify_proof(
            head_root,
            Nibbles::unpack(keccak256(probe)),
            Some(alloy_rlp::encode(account)),
            &forged.account_proof,
        )
        .is_err()
    );
    node.stop().await;
}
