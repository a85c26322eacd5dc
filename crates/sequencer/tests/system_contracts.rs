//! The L2 system contracts of the dev genesis, executed by keel's own EVM through the block
//! producer: a withdrawal burns its value and emits the `L1Message` whose leaf the withdrawals
//! tree is built from; the deposit-only functions refuse other callers.

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address, keccak256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, sol};
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_sequencer::{BlockProducer, BlockProducerConfig};
use keel_storage::{StateReader, Store};
use keel_types::{ChainSpec, L1Message, Transaction, dev};

sol! {
    function withdraw(address receiverOnL1) payable;
    function mintETH(address to) payable;
}

const ETH: Address = address!("0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE");

fn node() -> (Blockchain, Arc<Mempool>, BlockProducer) {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).expect("spec");
    let chain =
        Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain");
    let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
    // A coinbase of its own, so the zero address only receives what withdrawals burn.
    let config = BlockProducerConfig {
        coinbase: address!("0x000000000000000000000000000000000000c0de"),
        ..Default::default()
    };
    let producer = BlockProducer::new(config, chain.clone(), mempool.clone());
    (chain, mempool, producer)
}

fn call(i: usize, nonce: u64, to: Address, value: U256, input: Vec<u8>) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: 300_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::from(input),
    };
    let signer = PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("key");
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Transaction::from(tx.into_signed(sig)).encoded_2718()
}

fn balance(chain: &Blockchain, address: Address) -> U256 {
    chain
        .store()
        .reader()
        .expect("reader")
        .account(&address)
        .expect("read")
        .map_or(U256::ZERO, |a| a.balance)
}

#[test]
fn withdraw_burns_and_emits_the_l1_message() {
    let (chain, mempool, producer) = node();
    let receiver = address!("0x00000000000000000000000000000000000001aa");
    let amount = U256::from(10u64).pow(U256::from(18u64));
    let input = withdrawCall {
        receiverOnL1: receiver,
    }
    .abi_encode();
    mempool
        .add_raw(&call(0, 0, dev::L2_BRIDGE_ADDRESS, amount, input))
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
    let (chain, mempool, producer) = node();
    let to = address!("0x00000000000000000000000000000000000000ab");
    let input = mintETHCall { to }.abi_encode();
    mempool
        .add_raw(&call(1, 0, dev::L2_BRIDGE_ADDRESS, U256::from(5), input))
        .expect("admitted");
    let built = producer.produce_block().expect("build").expect("block");
    assert!(!built.receipts[0].status(), "mintETH from an EOA reverts");
    assert_eq!(balance(&chain, to), U256::ZERO);
    assert_eq!(balance(&chain, dev::L2_BRIDGE_ADDRESS), U256::ZERO);
}
