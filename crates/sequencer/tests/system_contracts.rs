//! The L2 system contracts of the dev genesis, executed by keel's own EVM through the block
//! producer: a withdrawal burns its value and emits the `L1Message` whose leaf the withdrawals
//! tree is built from; the deposit-only functions refuse other callers.

mod common;

use alloy_primitives::{Address, B256, U256, address, keccak256};
use alloy_sol_types::{SolCall, sol};
use common::{Node, balance, node, signed};
use keel_types::{L1Message, dev};

sol! {
    function withdraw(address receiverOnL1) payable;
    function mintETH(address to) payable;
}

const ETH: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");

/// A call from dev account `i` to the L2 bridge.
fn call_bridge(i: usize, value: U256, input: Vec<u8>) -> Vec<u8> {
    signed(i, 0, dev::L2_BRIDGE_ADDRESS, value, input, 300_000, 1)
}

#[test]
fn withdraw_burns_and_emits_the_l1_message() {
    let Node {
        chain,
        mempool,
        producer,
    } = node(None, false);
    let receiver = address!("0x00000000000000000000000000000000000001aa");
    let amount = U256::from(10u64).pow(U256::from(18u64));
    let input = withdrawCall {
        receiverOnL1: receiver,
    }
    .abi_encode();
    mempool
        .add_raw(&call_bridge(0, amount, input))
        .expect("admitted");
    let burned_before = balance(&chain, Address::ZERO);
    let built = producer.produce_block().expect("build").expect("block");
    let receipt = &built.receipts[0];
    assert!(receipt.status(), "withdraw succeeded");

    let message = receipt
        .logs()
        .iter()
        .find(|log| log.address == dev::MESSENGER_ADDRESS)
        .expect("an L1Message from the Messenger");
    let topics = message.topics();
    assert_eq!(
        topics[0],
        keccak256("L1Message(address,bytes32,uint256)"),
        "event signature"
    );
    let sender_on_l2 = Address::from_word(topics[1]);
    assert_eq!(sender_on_l2, dev::L2_BRIDGE_ADDRESS);
    let mut packed = Vec::new();
    packed.extend_from_slice(ETH.as_slice());
    packed.extend_from_slice(ETH.as_slice());
    packed.extend_from_slice(receiver.as_slice());
    packed.extend_from_slice(&amount.to_be_bytes::<32>());
    assert_eq!(topics[2], keccak256(packed), "message data");
    assert_eq!(
        U256::from_be_bytes(topics[3].0),
        U256::from(1),
        "first message id"
    );

    let leaf = L1Message {
        sender_on_l2,
        data: topics[2],
        message_id: U256::from(1),
    }
    .leaf();
    assert_ne!(leaf, B256::ZERO);
    assert_eq!(keel_types::withdrawals_root(&[leaf]), leaf);

    // The value left circulation: burned to the zero address, nothing kept by the bridge.
    assert_eq!(balance(&chain, dev::L2_BRIDGE_ADDRESS), U256::ZERO);
    assert_eq!(balance(&chain, Address::ZERO) - burned_before, amount);
}

#[test]
fn only_the_bridge_itself_may_mint() {
    let Node {
        chain,
        mempool,
        producer,
    } = node(None, false);
    let to = address!("0x00000000000000000000000000000000000000ab");
    let input = mintETHCall { to }.abi_encode();
    mempool
        .add_raw(&call_bridge(1, U256::from(5), input))
        .expect("admitted");
    let built = producer.produce_block().expect("build").expect("block");
    assert!(!built.receipts[0].status(), "mintETH from an EOA reverts");
    assert_eq!(balance(&chain, to), U256::ZERO);
    assert_eq!(balance(&chain, dev::L2_BRIDGE_ADDRESS), U256::ZERO);
}
