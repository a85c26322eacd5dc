//! The BlockProducer on the dev chain in an in-memory store: fees go where they should, blocks
//! are made or skipped as configured, and the pool is pruned.

mod common;

use alloy_primitives::{Address, U256, address};
use common::{COINBASE, Node, balance, node, signed};
use keel_types::dev;

const VAULT: Address = address!("0x000000000000000000000000000000000000fee5");
const TO: Address = address!("0x00000000000000000000000000000000000000aa");

/// 5 wei to `TO` from dev account `i`.
fn transfer(i: usize, nonce: u64, tip: u128) -> Vec<u8> {
    signed(i, nonce, TO, U256::from(5), Vec::new(), 21_000, tip)
}

#[test]
fn tips_go_to_the_coinbase_and_base_fees_to_the_vault() {
    let Node {
        chain,
        mempool,
        producer,
    } = node(Some(VAULT), false);
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
    let Node {
        chain,
        mempool,
        producer,
    } = node(None, false);
    let before = balance(&chain, dev::DEV_ACCOUNTS[0].0);
    mempool.add_raw(&transfer(0, 0, 1)).expect("tx");
    let built = producer.produce_block().expect("build").expect("a block");
    let base_fee = u128::from(built.block.header.base_fee_per_gas.expect("base fee"));
    let paid = before - balance(&chain, dev::DEV_ACCOUNTS[0].0);
    // The sender paid value + (base fee + tip) × gas + the L1 fee (the dev chain has the L1
    // fee rule, at the genesis prices without an L1); the base fee went nowhere.
    let l1_fee = keel_types::fees::DEFAULT_FEE_PARAMS.l1_fee(transfer(0, 0, 1).len());
    assert!(l1_fee > U256::ZERO);
    assert_eq!(paid, U256::from(5 + (base_fee + 1) * 21_000) + l1_fee);
    assert_eq!(balance(&chain, COINBASE), U256::from(21_000u64));
    assert_eq!(balance(&chain, VAULT), U256::ZERO);
    assert_eq!(balance(&chain, dev::DEV_L1_FEE_VAULT), l1_fee);
}

#[test]
fn empty_blocks_are_made_unless_skipped() {
    let Node {
        chain,
        mempool: _,
        producer,
    } = node(None, false);
    let built = producer
        .produce_block()
        .expect("build")
        .expect("an empty block");
    assert!(built.block.body.transactions.is_empty());
    assert_eq!(chain.head().expect("head").0, 1);

    let Node {
        chain,
        mempool,
        producer,
    } = node(None, true);
    assert!(producer.produce_block().expect("build").is_none());
    assert_eq!(chain.head().expect("head").0, 0);
    mempool.add_raw(&transfer(2, 0, 1)).expect("tx");
    assert!(producer.produce_block().expect("build").is_some());
    assert_eq!(chain.head().expect("head").0, 1);
}

#[test]
fn higher_tips_go_first_and_nonces_stay_in_order() {
    let Node {
        chain: _,
        mempool,
        producer,
    } = node(None, false);
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
