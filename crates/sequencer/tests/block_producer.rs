//! The BlockProducer on the dev chain in an in-memory store: fees go where they should, blocks
//! are made or skipped as configured, and the pool is pruned.

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_chain::{Blockchain, Mempool, MempoolConfig};
use keel_sequencer::{BlockProducer, BlockProducerConfig};
use keel_storage::{StateReader, Store};
use keel_types::{ChainSpec, Transaction, dev};

const COINBASE: Address = address!("0x000000000000000000000000000000000000c0de");
const VAULT: Address = address!("0x000000000000000000000000000000000000fee5");
const TO: Address = address!("0x00000000000000000000000000000000000000aa");

fn node(vault: Option<Address>, skip_empty: bool) -> (Blockchain, Arc<Mempool>, BlockProducer) {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis)
        .expect("spec")
        .with_base_fee_vault(vault);
    let chain =
        Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain");
    let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
    let producer = BlockProducer::new(
        BlockProducerConfig {
            coinbase: COINBASE,
            skip_empty,
            ..Default::default()
        },
        chain.clone(),
        mempool.clone(),
    );
    (chain, mempool, producer)
}

fn transfer(i: usize, nonce: u64, tip: u128) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(TO),
        value: U256::from(5),
        access_list: Default::default(),
        input: Bytes::new(),
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
fn tips_go_to_the_coinbase_and_base_fees_to_the_vault() {
    let (chain, mempool, producer) = node(Some(VAULT), false);
    let tip = 2_000_000_000u128;
    mempool.add_raw(&transfer(0, 0, tip)).expect("tx 0");
    mempool.add_raw(&transfer(1, 0, tip)).expect("tx 1");
    let built = producer.produce_block().expect("build").expect("a block");
    let header = &built.block.header;
    assert_eq!(built.block.body.transactions.len(), 2);
    assert_eq!(header.gas_used, 42_000);
    assert_eq!(header.beneficiary, COINBASE);
    let base_fee = u128::from(header.base_fee_per_gas.expect("base fee"));
    assert_eq!(balance(&chain, COINBASE), U256::from(tip * 42_000));
    assert_eq!(balance(&chain, VAULT), U256::from(base_fee * 42_000));
    assert_eq!(balance(&chain, TO), U256::from(10));
    assert!(mempool.is_empty(), "included transactions left the pool");
}

#[test]
fn without_a_vault_the_base_fee_is_burned() {
    let (chain, mempool, producer) = node(None, false);
    let before = balance(&chain, dev::DEV_ACCOUNTS[0].0);
    mempool.add_raw(&transfer(0, 0, 1)).expect("tx");
    let built = producer.produce_block().expect("build").expect("a block");
    let base_fee = u128::from(built.block.header.base_fee_per_gas.expect("base fee"));
    let paid = before - balance(&chain, dev::DEV_ACCOUNTS[0].0);
    // The sender paid value + (base fee + tip) × gas; only the tip and the value went anywhere.
    assert_eq!(paid, U256::from(5 + (base_fee + 1) * 21_000));
    assert_eq!(balance(&chain, COINBASE), U256::from(21_000u64));
    assert_eq!(balance(&chain, VAULT), U256::ZERO);
}

#[test]
fn empty_blocks_are_made_unless_skipped() {
    let (chain, _, producer) = node(None, false);
    let built = producer
        .produce_block()
        .expect("build")
        .expect("an empty block");
    assert!(built.block.body.transactions.is_empty());
    assert_eq!(chain.head().expect("head").0, 1);

    let (chain, mempool, producer) = node(None, true);
    assert!(producer.produce_block().expect("build").is_none());
    assert_eq!(chain.head().expect("head").0, 0);
    mempool.add_raw(&transfer(2, 0, 1)).expect("tx");
    assert!(producer.produce_block().expect("build").is_some());
    assert_eq!(chain.head().expect("head").0, 1);
}

#[test]
fn higher_tips_go_first_and_nonces_stay_in_order() {
    let (_, mempool, producer) = node(None, false);
    mempool.add_raw(&transfer(3, 0, 1)).expect("low tip");
    mempool
        .add_raw(&transfer(3, 1, 9_000_000_000))
        .expect("its successor");
    mempool
        .add_raw(&transfer(4, 0, 5_000_000_000))
        .expect("high tip");
    let built = producer.produce_block().expect("build").expect("block");
    let senders = built.senders;
    assert_eq!(
        senders,
        vec![
            dev::DEV_ACCOUNTS[4].0,
            dev::DEV_ACCOUNTS[3].0,
            dev::DEV_ACCOUNTS[3].0
        ]
    );
}
