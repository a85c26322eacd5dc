//! A dev-chain node without the network for the sequencer tests: chain on an in-memory store,
//! mempool and block producer, plus signing and balance helpers.

#![allow(dead_code)]

pub mod coordinator;
pub mod recorder;

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

/// The producer's coinbase: its own address, so no other balance receives tips.
pub const COINBASE: Address = address!("0x000000000000000000000000000000000000c0de");

pub struct Node {
    pub chain: Blockchain,
    pub mempool: Arc<Mempool>,
    pub producer: BlockProducer,
}

/// The dev chain with the base fee going to `vault` (burned if `None`).
pub fn node(vault: Option<Address>, skip_empty: bool) -> Node {
    node_on(
        Store::in_memory().expect("store"),
        vault,
        BlockProducerConfig {
            coinbase: COINBASE,
            skip_empty,
            ..Default::default()
        },
    )
}

/// The dev chain in `store` (opened, or created from the dev genesis), the base fee going to
/// `vault`, with a fresh mempool and a producer configured by `config`.
pub fn node_on(store: Store, vault: Option<Address>, config: BlockProducerConfig) -> Node {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis)
        .expect("spec")
        .with_base_fee_vault(vault);
    let chain = Blockchain::open(store, &genesis, spec).expect("chain");
    let mempool = Arc::new(Mempool::new(MempoolConfig::default(), chain.clone()));
    let producer = BlockProducer::new(config, chain.clone(), mempool.clone());
    Node {
        chain,
        mempool,
        producer,
    }
}

/// An EIP-1559 transaction from dev account `i`, signed and encoded.
pub fn signed(
    i: usize,
    nonce: u64,
    to: Address,
    value: U256,
    input: Vec<u8>,
    gas_limit: u64,
    tip: u128,
) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::from(input),
    };
    let signer = PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("key");
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Transaction::from(tx.into_signed(sig)).encoded_2718()
}

/// A contract creation from dev account `i` (`init_code`: creation code and constructor
/// arguments), EIP-1559, signed and encoded. The contract lands at `DEV_ACCOUNTS[i].0.create(nonce)`.
pub fn signed_create(i: usize, nonce: u64, init_code: Vec<u8>, gas_limit: u64) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: dev::DEFAULT_L2_CHAIN_ID,
        nonce,
        gas_limit,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Create,
        value: U256::ZERO,
        access_list: Default::default(),
        input: Bytes::from(init_code),
    };
    let signer = PrivateKeySigner::from_bytes(&dev::DEV_ACCOUNTS[i].1).expect("key");
    let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
    Transaction::from(tx.into_signed(sig)).encoded_2718()
}

pub fn balance(chain: &Blockchain, address: Address) -> U256 {
    chain
        .store()
        .reader()
        .expect("reader")
        .account(&address)
        .expect("read")
        .map_or(U256::ZERO, |a| a.balance)
}
