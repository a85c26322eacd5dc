//! Senders are stored with every block, canonical or side, equal to the ones recovered from the
//! signatures, so reads never recover them (issue 15). Blocks reach the store by being built, by
//! import on the head, by the pipelined import (`execute_on_head` + `commit_executed`) and as
//! side-chain blocks, with and without a reorg.

use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, address};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use keel_chain::{
    BlockAttributes, Blockchain, BuiltBlock, HeadExecution, ImportOutcome, ListTxSource,
    PreparedBlock, recover_senders,
};
use keel_storage::{ChainReader, Store};
use keel_types::{
    Block, ChainSpec, Transaction,
    dev::{self, DEFAULT_L2_CHAIN_ID, DEV_ACCOUNTS},
};

const GWEI: u128 = 1_000_000_000;

fn new_chain() -> Blockchain {
    let genesis = dev::dev_genesis();
    let spec = ChainSpec::from_genesis(&genesis).expect("spec");
    Blockchain::open(Store::in_memory().expect("store"), &genesis, spec).expect("chain")
}

/// A signed transfer from dev account `i` (legacy when `legacy`, else EIP-1559).
fn transfer(i: usize, nonce: u64, legacy: bool) -> Transaction {
    let signer = PrivateKeySigner::from_bytes(&DEV_ACCOUNTS[i].1).expect("key");
    let to = TxKind::Call(address!("0x00000000000000000000000000000000000000ee"));
    if legacy {
        let tx = TxLegacy {
            chain_id: Some(DEFAULT_L2_CHAIN_ID),
            nonce,
            gas_price: 100 * GWEI,
            gas_limit: 21_000,
            to,
            value: U256::from(1),
            input: Bytes::new(),
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        tx.into_signed(sig).into()
    } else {
        let tx = TxEip1559 {
            chain_id: DEFAULT_L2_CHAIN_ID,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 100 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to,
            value: U256::from(1),
            access_list: Default::default(),
            input: Bytes::new(),
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        tx.into_signed(sig).into()
    }
}

/// Build the next block on `chain` from exactly `txs`, `salt` seconds later than usual (so two
/// chains can build different blocks at one height).
fn build(chain: &Blockchain, txs: Vec<Transaction>, salt: u64) -> BuiltBlock {
    let head = chain
        .store()
        .reader()
        .expect("reader")
        .head()
        .expect("head");
    let (_, head) = head.expect("a head");
    let attributes = BlockAttributes {
        timestamp: head.timestamp + 12 + salt,
        coinbase: Address::repeat_byte(0xc0),
        gas_limit: head.gas_limit,
        prev_randao: B256::repeat_byte(7),
        extra_data: Bytes::new(),
        l1_prices: None,
        max_state_diff_bytes: None,
    };
    let senders = recover_senders(&txs).expect("senders");
    let mut source = ListTxSource::new(txs.clone(), senders);
    let built = chain.build_block(&attributes, &mut source).expect("build");
    assert!(source.skipped.is_empty(), "{:?}", source.skipped);
    assert_eq!(built.block.body.transactions, txs);
    built
}

#[track_caller]
fn assert_stored_senders(chain: &Blockchain, block: &Block) {
    let hash = block.header.hash_slow();
    let recovered = recover_senders(&block.body.transactions).expect("recover");
    let reader = chain.store().reader().expect("reader");
    assert_eq!(
        reader.senders(&hash).expect("read"),
        Some(recovered.clone())
    );
    for (i, sender) in recovered.iter().enumerate() {
        assert_eq!(reader.sender(&hash, i as u64).expect("read"), Some(*sender));
        assert_eq!(
            reader.transaction(&hash, i as u64).expect("read").as_ref(),
            Some(&block.body.transactions[i])
        );
    }
    let past = recovered.len() as u64;
    assert_eq!(reader.sender(&hash, past).expect("read"), None);
    assert_eq!(reader.transaction(&hash, past).expect("read"), None);
}

#[test]
fn built_and_imported_blocks_store_their_recovered_senders() {
    let producer = new_chain();
    let genesis_hash = producer.head().expect("head").1;
    let reader = producer.store().reader().expect("reader");
    assert_eq!(reader.senders(&genesis_hash).expect("read"), Some(vec![]));
    drop(reader);

    // Two senders, both transaction kinds, in one block.
    let b1 = build(
        &producer,
        vec![
            transfer(0, 0, true),
            transfer(1, 0, false),
            transfer(0, 1, false),
        ],
        0,
    );
    assert_eq!(
        b1.senders,
        vec![DEV_ACCOUNTS[0].0, DEV_ACCOUNTS[1].0, DEV_ACCOUNTS[0].0]
    );
    assert_stored_senders(&producer, &b1.block);
    let b2 = build(&producer, vec![transfer(2, 0, false)], 0);
    assert_stored_senders(&producer, &b2.block);

    // Imported on the head, one by one.
    let importer = new_chain();
    for block in [&b1.block, &b2.block] {
        let outcome = importer.import_block(block).expect("import");
        assert!(
            matches!(outcome, ImportOutcome::Imported { .. }),
            "{outcome:?}"
        );
        assert_stored_senders(&importer, block);
    }

    // Pipelined: executed on a snapshot, then committed.
    let pipelined = new_chain();
    for block in [&b1.block, &b2.block] {
        let reader = pipelined.store().reader().expect("reader");
        let prepared = PreparedBlock::new(block.clone());
        let HeadExecution::Executed(executed) = pipelined
            .execute_on_head(&reader, prepared)
            .expect("execute")
        else {
            panic!("block {} extends the head", block.header.number);
        };
        assert_eq!(
            executed.senders,
            recover_senders(&block.body.transactions).unwrap()
        );
        pipelined.commit_executed(&executed).expect("commit");
        assert_stored_senders(&pipelined, block);
    }
}

#[test]
fn side_blocks_store_their_senders_and_a_reorg_keeps_them() {
    let main = new_chain();
    let m1 = build(&main, vec![transfer(0, 0, false)], 0);
    // Another chain from the same genesis: a different block 1, then a block 2.
    let other = new_chain();
    let s1 = build(&other, vec![transfer(3, 0, true), transfer(4, 0, false)], 1);
    let s2 = build(&other, vec![transfer(5, 0, false)], 0);
    assert_ne!(m1.hash, s1.hash);

    let outcome = main.import_block(&s1.block).expect("import side block");
    assert!(
        matches!(outcome, ImportOutcome::SideChain { .. }),
        "{outcome:?}"
    );
    assert_stored_senders(&main, &s1.block);
    assert_eq!(main.head().expect("head").1, m1.hash);

    // The side chain becomes the longest: its last block is stored in the reorg's write.
    let outcome = main.import_block(&s2.block).expect("import reorg");
    assert!(
        matches!(outcome, ImportOutcome::Reorged { .. }),
        "{outcome:?}"
    );
    assert_eq!(main.head().expect("head").1, s2.hash);
    for block in [&s1.block, &s2.block, &m1.block] {
        assert_stored_senders(&main, block);
    }
}
