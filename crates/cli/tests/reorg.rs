//! Side chains and reorgs through `keel import`: two chains from the same genesis, imported in
//! turn; the longest becomes canonical, and the datadir's flat state, indexes and trie follow it
//! exactly — checked against each chain imported alone into a fresh store.

use std::{path::Path, process::Command};

use alloy_primitives::{B256, keccak256};
use keel_bench::chaingen::{
    self, ChainGenConfig, GeneratedChain, TOKEN_ADDRESS, Workload, token_balance_slot,
};
use keel_chain::{Blockchain, rlp_file::encode_block};
use keel_storage::{ChainReader, StateReader, Store, StoreError, StoreReader};
use keel_trie::Trie;
use keel_types::{Block, ChainSpec};

const ACCOUNTS: usize = 40;

fn generate(seed: u64, blocks: usize) -> GeneratedChain {
    chaingen::generate(&ChainGenConfig {
        accounts: ACCOUNTS,
        blocks,
        txs_per_block: 8,
        workload: if seed.is_multiple_of(2) {
            Workload::Erc20Transfer
        } else {
            Workload::EthTransfer
        },
        gas_limit: 30_000_000,
        seed,
        fees: None,
    })
    .expect("generate chain")
}

fn write_rlp(path: &Path, blocks: &[Block]) {
    let mut out = Vec::new();
    for block in blocks {
        encode_block(block, &mut out);
    }
    std::fs::write(path, out).unwrap();
}

/// Run `keel import` and return its last stdout line.
fn import(genesis: &Path, datadir: &Path, file: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .args(["import", "--network"])
        .arg(genesis)
        .arg("--datadir")
        .arg(datadir)
        .arg(file)
        .output()
        .expect("run keel import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "keel import failed: {stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// The state and indexes a datadir must have when `blocks[..n]` of `chain` is canonical.
fn assert_store_is(reader: &StoreReader, chain: &GeneratedChain, n: usize, other: &GeneratedChain) {
    let (head_hash, head) = reader.head().unwrap().expect("head");
    let expected_head = &chain.blocks[n - 1];
    assert_eq!(head_hash, expected_head.header.hash_slow());

    // Canonical index and transaction lookups follow the chain; the other chain's are gone.
    for block in &chain.blocks[..n] {
        let hash = block.header.hash_slow();
        assert_eq!(
            reader.canonical_hash(block.header.number).unwrap(),
            Some(hash)
        );
        for (i, tx) in block.body.transactions.iter().enumerate() {
            assert_eq!(
                reader.tx_location(tx.tx_hash()).unwrap(),
                Some((hash, i as u64))
            );
        }
    }
    assert_eq!(reader.canonical_hash(n as u64 + 1).unwrap(), None);
    for block in &other.blocks {
        for tx in &block.body.transactions {
            assert_eq!(
                reader.tx_location(tx.tx_hash()).unwrap(),
                None,
                "other chain's tx still indexed"
            );
        }
    }

    // Flat state: identical to the chain imported alone.
    let (genesis, spec) = ChainSpec::from_genesis_json(&chain.genesis_json).unwrap();
    let reference = Blockchain::open(Store::in_memory().unwrap(), &genesis, spec).unwrap();
    for block in &chain.blocks[..n] {
        reference.import_block(block).unwrap();
    }
    let want = reference.store().reader().unwrap();
    assert_eq!(
        reader.account_count().unwrap(),
        want.account_count().unwrap()
    );
    let mut addresses: Vec<_> = chaingen::account_keys(ACCOUNTS)
        .iter()
        .map(|k| k.address())
        .collect();
    addresses.extend([
        TOKEN_ADDRESS,
        alloy_primitives::address!("0x000000000000000000000000000000000000c0de"),
    ]);
    for address in &addresses {
        assert_eq!(
            reader.account(address).unwrap(),
            want.account(address).unwrap(),
            "account {address}"
        );
        let slot = token_balance_slot(*address);
        assert_eq!(
            reader.storage(&TOKEN_ADDRESS, &slot).unwrap(),
            want.storage(&TOKEN_ADDRESS, &slot).unwrap()
        );
    }
    assert_eq!(
        reader.storage_slots(&TOKEN_ADDRESS).unwrap(),
        want.storage_slots(&TOKEN_ADDRESS).unwrap()
    );

    // The trie tables hold exactly the chain's head tries (nothing of the other chain's), and
    // the trie agrees with the flat state at the head's root.
    assert_eq!(reader.trie_nodes().unwrap(), want.trie_nodes().unwrap());
    let mut trie = Trie::new(reader, head.state_root);
    for address in &addresses {
        let leaf = trie.get(keccak256(address).as_slice()).unwrap();
        assert_eq!(
            leaf,
            reader.account(address).unwrap().map(alloy_rlp::encode)
        );
    }
}

#[test]
fn longest_chain_wins_and_state_follows() {
    let a = generate(1, 6);
    let b = generate(2, 4);
    assert_eq!(
        a.genesis_json, b.genesis_json,
        "both chains must share the genesis"
    );
    assert_ne!(
        a.blocks[0].header.hash_slow(),
        b.blocks[0].header.hash_slow()
    );

    let dir = tempfile::tempdir().unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, &a.genesis_json).unwrap();
    let datadir = dir.path().join("data");
    let (a3, b4, a6) = (
        dir.path().join("a3.rlp"),
        dir.path().join("b4.rlp"),
        dir.path().join("a6.rlp"),
    );
    write_rlp(&a3, &a.blocks[..3]);
    write_rlp(&b4, &b.blocks);
    write_rlp(&a6, &a.blocks);
    let hash = |c: &GeneratedChain, n: usize| c.blocks[n - 1].header.hash_slow();

    // A1..A3 canonical.
    assert_eq!(
        import(&genesis, &datadir, &a3),
        format!("head 3 {}", hash(&a, 3))
    );
    assert_store_is(
        &Store::open(datadir.join("keel.redb"))
            .unwrap()
            .reader()
            .unwrap(),
        &a,
        3,
        &b,
    );

    // B1..B4 is longer: B1..B3 are stored as a side chain, B4 makes it canonical (3 blocks unwound).
    assert_eq!(
        import(&genesis, &datadir, &b4),
        format!("head 4 {}", hash(&b, 4))
    );
    {
        let store = Store::open(datadir.join("keel.redb")).unwrap();
        let reader = store.reader().unwrap();
        assert_store_is(&reader, &b, 4, &a);
        // The old chain's blocks are still stored, just not canonical.
        assert_eq!(reader.block_number(&hash(&a, 3)).unwrap(), Some(3));
    }

    // The whole of A: A1..A3 already known, A4 ties (side chain), A5 takes over, A6 extends it.
    assert_eq!(
        import(&genesis, &datadir, &a6),
        format!("head 6 {}", hash(&a, 6))
    );
    let store = Store::open(datadir.join("keel.redb")).unwrap();
    assert_store_is(&store.reader().unwrap(), &a, 6, &b);
}

#[test]
fn state_after_a_recent_block_reads_its_state_and_trie() {
    let a = generate(3, 5);
    let (genesis, spec) = ChainSpec::from_genesis_json(&a.genesis_json).unwrap();
    let chain = Blockchain::open(Store::in_memory().unwrap(), &genesis, spec.clone()).unwrap();
    let step = Blockchain::open(Store::in_memory().unwrap(), &genesis, spec).unwrap();
    let addresses: Vec<_> = chaingen::account_keys(ACCOUNTS)
        .iter()
        .map(|k| k.address())
        .collect();
    let mut states: Vec<(B256, B256, Vec<_>)> = Vec::new();
    for block in &a.blocks {
        step.import_block(block).unwrap();
        let reader = step.store().reader().unwrap();
        let accounts: Vec<_> = addresses
            .iter()
            .map(|x| reader.account(x).unwrap())
            .collect();
        states.push((block.header.hash_slow(), block.header.state_root, accounts));
        chain.import_block(block).unwrap();
    }
    // After the whole chain, every older state reads as it was, flat and through its trie
    // (rebuilt in memory, its root checked against the header).
    let reader = chain.store().reader().unwrap();
    for (hash, root, accounts) in &states {
        let view = reader.state_after(*hash, Some(128)).unwrap();
        view.trie_writes().unwrap();
        let mut trie = Trie::new(&view, *root);
        for (address, want) in addresses.iter().zip(accounts) {
            assert_eq!(&view.account(address).unwrap(), want);
            assert_eq!(
                trie.get(keccak256(address).as_slice()).unwrap(),
                want.map(alloy_rlp::encode)
            );
        }
    }
    // Only the head's trie is stored: an old root read straight from the store fails loudly.
    let mut old = Trie::new(&reader, states[0].1);
    assert!(old.get(keccak256(addresses[0]).as_slice()).is_err());
    // Beyond the window the trie is refused, named by the flag that sets it.
    let err = reader.state_after(states[0].0, Some(2)).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::StateUnavailable {
                block: 1,
                window: 2
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("--state.history"), "{err}");
    // Flat history has no window: the oldest block reads without one.
    assert!(reader.state_after(states[0].0, None).is_ok());
    // And it differs from the head where the chain changed it.
    let first = &states[0].2;
    let last = &states[states.len() - 1].2;
    assert_ne!(first, last);
}

/// Everything a reorg may touch, to compare stores: head, canonical hashes, flat state (every
/// account and its slots) and the trie tables.
type Dump = (
    Option<B256>,
    Vec<Option<B256>>,
    Vec<(
        alloy_primitives::Address,
        keel_storage::TrieAccount,
        Vec<(B256, alloy_primitives::U256)>,
    )>,
    Vec<keel_storage::StoredTrieNode>,
);

fn dump(reader: &StoreReader) -> Dump {
    let head = reader.head_hash().unwrap();
    let canonical = (0..20).map(|n| reader.canonical_hash(n).unwrap()).collect();
    let accounts = reader
        .iter_accounts()
        .unwrap()
        .map(|e| {
            let (address, account) = e.unwrap();
            (address, account, reader.storage_slots(&address).unwrap())
        })
        .collect();
    (head, canonical, accounts, reader.trie_nodes().unwrap())
}

fn chain_with(blocks: &[Block], genesis_json: &str, window: u64) -> Blockchain {
    let (genesis, spec) = ChainSpec::from_genesis_json(genesis_json).unwrap();
    let chain = Blockchain::open(Store::in_memory().unwrap(), &genesis, spec)
        .unwrap()
        .with_state_history(window);
    for block in blocks {
        chain.import_block(block).unwrap();
    }
    chain
}

#[test]
fn many_blocks_leave_exactly_the_head_tries_stored() {
    let a = generate(4, 30);
    let chain = chain_with(&a.blocks, &a.genesis_json, 128);
    chain.store().reader().unwrap().verify_tries().unwrap();
}

#[test]
fn reorgs_within_the_window_leave_the_winner_alone_state() {
    // ERC-20 (storage tries) against ETH transfers, both from the same genesis.
    let a = generate(2, 6);
    let b = generate(1, 7);
    for depth in [2usize, 3, 6] {
        let chain = chain_with(&a.blocks[..depth], &a.genesis_json, 6);
        for block in &b.blocks[..depth] {
            let outcome = chain.import_block(block).unwrap();
            assert!(
                matches!(outcome, keel_chain::ImportOutcome::SideChain { .. }),
                "{outcome:?}"
            );
        }
        let outcome = chain.import_block(&b.blocks[depth]).unwrap();
        assert!(
            matches!(outcome, keel_chain::ImportOutcome::Reorged { unwound, .. } if unwound == depth as u64),
            "{outcome:?}"
        );
        let reader = chain.store().reader().unwrap();
        reader.verify_tries().unwrap();
        let alone = chain_with(&b.blocks[..=depth], &b.genesis_json, 6);
        assert_eq!(
            dump(&reader),
            dump(&alone.store().reader().unwrap()),
            "depth {depth}"
        );
        // And back: the first chain, one longer, wins again.
        if depth + 2 <= a.blocks.len() {
            for block in &a.blocks[depth..depth + 2] {
                chain.import_block(block).unwrap();
            }
            let alone = chain_with(&a.blocks[..depth + 2], &a.genesis_json, 6);
            let reader = chain.store().reader().unwrap();
            reader.verify_tries().unwrap();
            assert_eq!(dump(&reader), dump(&alone.store().reader().unwrap()));
        }
    }
}

#[test]
fn a_reorg_deeper_than_the_window_is_refused_and_changes_nothing() {
    let a = generate(1, 4);
    let b = generate(2, 5);
    let chain = chain_with(&a.blocks, &a.genesis_json, 3);
    let before = dump(&chain.store().reader().unwrap());
    // B1's parent, the genesis, is 4 blocks below the head: beyond the window of 3.
    let err = chain.import_block(&b.blocks[0]).unwrap_err();
    assert!(
        matches!(err, keel_chain::ChainError::ReorgTooDeep { window: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--state.history"), "{err}");
    let reader = chain.store().reader().unwrap();
    assert_eq!(
        reader
            .block_number(&b.blocks[0].header.hash_slow())
            .unwrap(),
        None
    );
    assert_eq!(dump(&reader), before);
    // Within the window the same kind of side block is taken.
    let chain = chain_with(&a.blocks[..3], &a.genesis_json, 3);
    chain.import_block(&b.blocks[0]).unwrap();
}

#[test]
fn a_witness_from_beyond_the_window_still_builds() {
    let a = generate(6, 12);
    let chain = chain_with(&a.blocks, &a.genesis_json, 3);
    let reader = chain.store().reader().unwrap();
    // The range's parent (block 1) is 11 blocks below the head, the window 3: witnesses rebuild
    // the parent's trie at any depth, and every re-executed block's root is checked.
    let recorded = keel_chain::record_witness(&reader, chain.spec_arc(), 2, 12).unwrap();
    assert_eq!(recorded.blocks.len(), 11);
    assert!(!recorded.witness.state.is_empty());
    // A range ending below the head: its parent and blocks are all history.
    let early = keel_chain::record_witness(&reader, chain.spec_arc(), 2, 5).unwrap();
    let reference = chain_with(&a.blocks[..5], &a.genesis_json, 3);
    let want = keel_chain::record_witness(
        &reference.store().reader().unwrap(),
        reference.spec_arc(),
        2,
        5,
    )
    .unwrap();
    assert_eq!(early.witness.state, want.witness.state);
    assert_eq!(early.witness.keys, want.witness.keys);
}
