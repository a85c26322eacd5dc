//! `Store::write_block` semantics and reading everything back, on a file store and on the
//! in-memory store (both go through the same code, and both are checked here).

use alloy_consensus::{Eip658Value, ReceiptWithBloom, SignableTransaction, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, Log, LogData, Signature, TxKind, U256, keccak256};
use alloy_trie::{EMPTY_ROOT_HASH, TrieAccount};
use keel_storage::{BlockWrite, ChainReader, StateChanges, StateReader, Store, StoreError};
use keel_trie::{EmptyNodeStore, Nibbles, NodeStore, Trie, TrieWrites};
use keel_types::{BlockBody, Header, Receipt, Transaction};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// helpers

/// Run `test` on a fresh file store and on a fresh in-memory store.
fn on_both_backends(test: impl Fn(&Store)) {
    let dir = tempfile::tempdir().unwrap();
    let file = Store::open(dir.path().join("keel.redb")).unwrap();
    test(&file);
    drop(file);
    test(&Store::in_memory().unwrap());
}

/// Everything one block writes, owned, so tests can build it and then hand it to the store.
#[derive(Debug, Clone)]
struct TestBlock {
    header: Header,
    body: BlockBody,
    receipts: Vec<Receipt>,
    tx_hashes: Vec<B256>,
    senders: Vec<Address>,
    state: StateChanges,
    trie: TrieWrites,
}

impl TestBlock {
    /// A block with `txs` transactions (and as many receipts) and no state changes. `salt` makes
    /// blocks with the same parent and number differ.
    fn new(parent_hash: B256, number: u64, txs: u64, salt: u64) -> Self {
        let header = Header {
            parent_hash,
            number,
            timestamp: 1_700_000_000 + number * 12 + salt,
            gas_limit: 30_000_000,
            gas_used: 21_000 * txs,
            // The store checks its trie against the head's root: no trie writes, no trie.
            state_root: EMPTY_ROOT_HASH,
            ..Default::default()
        };
        let transactions: Vec<Transaction> = (0..txs)
            .map(|i| transaction(number * 1_000 + salt * 100 + i))
            .collect();
        let tx_hashes = transactions.iter().map(|tx| *tx.tx_hash()).collect();
        let receipts = (0..txs).map(|i| receipt(21_000 * (i + 1), i)).collect();
        Self {
            header,
            body: BlockBody {
                transactions,
                ommers: Vec::new(),
                withdrawals: Some(Default::default()),
            },
            receipts,
            tx_hashes,
            // Not the signatures' signers: the store keeps what it is given.
            senders: (0..txs).map(|i| addr(number * 1_000 + i)).collect(),
            state: StateChanges::default(),
            trie: TrieWrites::default(),
        }
    }

    fn genesis() -> Self {
        Self::new(B256::ZERO, 0, 0, 0)
    }

    /// A child of `self` with `txs` transactions.
    fn child(&self, txs: u64) -> Self {
        let mut child = Self::new(self.hash(), self.header.number + 1, txs, 0);
        // No trie writes: the parent's trie stays.
        child.header.state_root = self.header.state_root;
        child
    }

    fn hash(&self) -> B256 {
        self.header.hash_slow()
    }

    fn write(&self, store: &Store) -> Result<(), StoreError> {
        store.write_block(&BlockWrite {
            hash: self.hash(),
            header: &self.header,
            body: &self.body,
            receipts: &self.receipts,
            tx_hashes: &self.tx_hashes,
            senders: &self.senders,
            state: &self.state,
            trie: &self.trie,
        })
    }
}

fn transaction(nonce: u64) -> Transaction {
    let tx = TxLegacy {
        chain_id: Some(1),
        nonce,
        gas_price: 1_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(Address::repeat_byte(0x77)),
        value: U256::from(nonce),
        input: Bytes::new(),
    };
    tx.into_signed(Signature::test_signature()).into()
}

fn receipt(cumulative_gas_used: u64, i: u64) -> Receipt {
    let log = Log {
        address: Address::repeat_byte(0x42),
        data: LogData::new_unchecked(vec![keccak256(i.to_be_bytes())], Bytes::from(vec![1, 2, 3])),
    };
    let receipt = alloy_consensus::Receipt {
        status: Eip658Value::Eip658(i.is_multiple_of(2)),
        cumulative_gas_used,
        logs: vec![log],
    };
    let logs_bloom = receipt.bloom_slow();
    Receipt::Ethereum(alloy_consensus::ReceiptEnvelope::Eip1559(
        ReceiptWithBloom {
            receipt,
            logs_bloom,
        },
    ))
}

fn addr(n: u64) -> Address {
    let mut a = [0u8; 20];
    a[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(a)
}

fn account(nonce: u64, balance: u64) -> TrieAccount {
    TrieAccount {
        nonce,
        balance: U256::from(balance),
        storage_root: EMPTY_ROOT_HASH,
        code_hash: alloy_primitives::KECCAK256_EMPTY,
    }
}

fn slot(n: u64) -> B256 {
    B256::from(U256::from(n))
}

const SLOT_MAX: B256 = B256::repeat_byte(0xff);

/// The whole chain as the store holds it: head, genesis, canonical hashes, blocks, tx lookups.
#[track_caller]
fn assert_chain(store: &Store, blocks: &[&TestBlock]) {
    let reader = store.reader().unwrap();
    let genesis = blocks[0].hash();
    let head = blocks.last().unwrap();
    assert_eq!(reader.genesis_hash().unwrap(), Some(genesis));
    assert_eq!(reader.head_hash().unwrap(), Some(head.hash()));
    assert_eq!(
        reader.head().unwrap(),
        Some((head.hash(), head.header.clone()))
    );
    for block in blocks {
        let hash = block.hash();
        let number = block.header.number;
        assert_eq!(reader.canonical_hash(number).unwrap(), Some(hash));
        assert_eq!(reader.block_number(&hash).unwrap(), Some(number));
        assert_eq!(reader.header(&hash).unwrap().as_ref(), Some(&block.header));
        assert_eq!(reader.body(&hash).unwrap().as_ref(), Some(&block.body));
        assert_eq!(
            reader.receipts(&hash).unwrap().as_ref(),
            Some(&block.receipts)
        );
        assert_eq!(
            reader.senders(&hash).unwrap().as_ref(),
            Some(&block.senders)
        );
        for (i, tx_hash) in block.tx_hashes.iter().enumerate() {
            assert_eq!(reader.tx_location(tx_hash).unwrap(), Some((hash, i as u64)));
        }
    }
    assert_eq!(reader.canonical_hash(head.header.number + 1).unwrap(), None);
}

/// Nothing of `block` is in the store.
#[track_caller]
fn assert_absent(store: &Store, block: &TestBlock) {
    let reader = store.reader().unwrap();
    let hash = block.hash();
    assert_eq!(reader.header(&hash).unwrap(), None);
    assert_eq!(reader.body(&hash).unwrap(), None);
    assert_eq!(reader.receipts(&hash).unwrap(), None);
    assert_eq!(reader.receipt(&hash, 0).unwrap(), None);
    assert_eq!(reader.senders(&hash).unwrap(), None);
    assert_eq!(reader.block_number(&hash).unwrap(), None);
    for tx_hash in &block.tx_hashes {
        assert_eq!(reader.tx_location(tx_hash).unwrap(), None);
    }
    for (hash, _) in &block.state.codes {
        assert_eq!(reader.code(hash).unwrap(), None);
    }
    let stored = reader.trie_nodes().unwrap();
    for (hash, rlp) in block.trie.hashes() {
        assert!(
            !stored.iter().any(|(_, _, r)| r.as_slice() == rlp),
            "node {hash} stored"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// chain data

#[test]
fn empty_store_has_no_head() {
    on_both_backends(|store| {
        let reader = store.reader().unwrap();
        assert_eq!(reader.head_hash().unwrap(), None);
        assert_eq!(reader.genesis_hash().unwrap(), None);
        assert_eq!(reader.head().unwrap(), None);
        assert_eq!(reader.canonical_hash(0).unwrap(), None);
        assert_eq!(reader.account_count().unwrap(), 0);
        assert_eq!(reader.account(&addr(1)).unwrap(), None);
        assert_eq!(reader.storage(&addr(1), &slot(1)).unwrap(), U256::ZERO);
        assert_eq!(reader.code(&keccak256([1])).unwrap(), None);
    });
}

#[test]
fn genesis_write_sets_head_and_genesis() {
    on_both_backends(|store| {
        let before = store.reader().unwrap();
        let genesis = TestBlock::genesis();
        genesis.write(store).unwrap();
        assert_chain(store, &[&genesis]);
        let reader = store.reader().unwrap();
        assert_eq!(reader.receipts(&genesis.hash()).unwrap(), Some(vec![]));
        // A reader is a snapshot: one taken before the write still sees an empty store.
        assert_eq!(before.head_hash().unwrap(), None);
        assert_eq!(before.genesis_hash().unwrap(), None);
        assert_eq!(before.header(&genesis.hash()).unwrap(), None);
    });
}

#[test]
fn blocks_extend_the_head() {
    on_both_backends(|store| {
        let genesis = TestBlock::genesis();
        genesis.write(store).unwrap();
        let b1 = genesis.child(3);
        b1.write(store).unwrap();
        assert_chain(store, &[&genesis, &b1]);
        let b2 = b1.child(5);
        b2.write(store).unwrap();
        let b3 = b2.child(0);
        b3.write(store).unwrap();
        // The genesis stays the genesis; the head moves.
        assert_chain(store, &[&genesis, &b1, &b2, &b3]);
    });
}

#[test]
fn write_not_on_head_is_refused_and_writes_nothing() {
    on_both_backends(|store| {
        let genesis = TestBlock::genesis();
        genesis.write(store).unwrap();
        let b1 = genesis.child(2);
        b1.write(store).unwrap();

        // A sibling of the head, carrying state, code and trie nodes.
        let mut sibling = TestBlock::new(genesis.hash(), 1, 3, 1);
        sibling.state.accounts.push((addr(5), Some(account(1, 5))));
        sibling
            .state
            .storage
            .push((addr(5), slot(1), U256::from(9)));
        sibling
            .state
            .codes
            .push((keccak256([0x60, 0x00]), Bytes::from(vec![0x60, 0x00])));
        sibling.trie.account.nodes.push((
            Nibbles::from_nibbles([1, 2]),
            keccak256([0xc0; 40]),
            vec![0xc0; 40],
        ));
        // Blocks whose parent is not the head, for every way that can happen.
        let unknown_parent = TestBlock::new(keccak256("nowhere"), 2, 1, 0);
        let mut second_genesis = TestBlock::new(B256::ZERO, 0, 0, 7);
        second_genesis
            .state
            .accounts
            .push((addr(6), Some(account(0, 6))));
        let cases = [sibling, unknown_parent, b1.clone(), second_genesis];
        for block in &cases {
            let err = block.write(store).unwrap_err();
            match err {
                StoreError::NotOnHead { number, hash, head } => {
                    assert_eq!(number, block.header.number);
                    assert_eq!(hash, block.hash());
                    assert_eq!(head, b1.hash());
                }
                other => panic!("expected NotOnHead, got {other:?}"),
            }
            assert!(err_message(block, store).contains("does not extend head"));
        }
        for block in [&cases[0], &cases[1], &cases[3]] {
            assert_absent(store, block);
        }
        let reader = store.reader().unwrap();
        assert_eq!(reader.account(&addr(5)).unwrap(), None);
        assert_eq!(reader.account(&addr(6)).unwrap(), None);
        assert_eq!(reader.account_count().unwrap(), 0);
        assert_eq!(reader.storage(&addr(5), &slot(1)).unwrap(), U256::ZERO);
        // The chain is exactly what it was.
        assert_chain(store, &[&genesis, &b1]);
    });
}

fn err_message(block: &TestBlock, store: &Store) -> String {
    block.write(store).unwrap_err().to_string()
}

// ---------------------------------------------------------------------------------------------
// state

#[test]
fn flat_state_updates() {
    on_both_backends(|store| {
        let (a, b, c, d) = (addr(100), addr(200), addr(300), addr(400));
        // Neighbours of `a`, whose storage keys sit right next to a's in the table.
        let (a_before, a_after) = (addr(99), addr(101));

        let mut genesis = TestBlock::genesis();
        genesis.state.accounts = vec![
            (a, Some(account(0, 1_000))),
            (b, Some(account(0, 2_000))),
            (c, Some(account(0, 3_000))),
            (a_before, Some(account(0, 1))),
            (a_after, Some(account(0, 1))),
        ];
        genesis.state.storage = vec![
            (a, B256::ZERO, U256::from(3)),
            (a, slot(1), U256::from(1)),
            (a, slot(2), U256::from(2)),
            (a, SLOT_MAX, U256::from(4)),
            (a_before, SLOT_MAX, U256::from(5)),
            (a_after, B256::ZERO, U256::from(6)),
            (b, slot(1), U256::from(7)),
            // A zero value is "no slot".
            (b, slot(9), U256::ZERO),
        ];
        genesis.write(store).unwrap();
        {
            let r = store.reader().unwrap();
            assert_eq!(r.account_count().unwrap(), 5);
            assert_eq!(r.account(&a).unwrap(), Some(account(0, 1_000)));
            assert_eq!(r.account(&d).unwrap(), None);
            assert_eq!(
                r.storage_slots(&a).unwrap(),
                vec![
                    (B256::ZERO, U256::from(3)),
                    (slot(1), U256::from(1)),
                    (slot(2), U256::from(2)),
                    (SLOT_MAX, U256::from(4)),
                ]
            );
            assert_eq!(r.storage_slots(&b).unwrap(), vec![(slot(1), U256::from(7))]);
            assert_eq!(r.storage(&b, &slot(9)).unwrap(), U256::ZERO);
        }

        // Block 1: update a, delete c, insert d; set, change and clear slots.
        let mut b1 = genesis.child(1);
        b1.state.accounts = vec![
            (a, Some(account(1, 900))),
            (c, None),
            (d, Some(account(0, 4_000))),
        ];
        b1.state.storage = vec![
            (a, slot(1), U256::from(10)),
            (a, slot(2), U256::ZERO),
            (b, slot(3), U256::from(8)),
            // Clearing a slot that was never set is fine.
            (d, slot(1), U256::ZERO),
        ];
        b1.write(store).unwrap();
        {
            let r = store.reader().unwrap();
            assert_eq!(r.account_count().unwrap(), 5);
            assert_eq!(r.account(&a).unwrap(), Some(account(1, 900)));
            assert_eq!(r.account(&b).unwrap(), Some(account(0, 2_000)));
            assert_eq!(r.account(&c).unwrap(), None);
            assert_eq!(r.account(&d).unwrap(), Some(account(0, 4_000)));
            assert_eq!(r.storage(&a, &slot(1)).unwrap(), U256::from(10));
            assert_eq!(r.storage(&a, &slot(2)).unwrap(), U256::ZERO);
            assert_eq!(
                r.storage_slots(&a).unwrap(),
                vec![
                    (B256::ZERO, U256::from(3)),
                    (slot(1), U256::from(10)),
                    (SLOT_MAX, U256::from(4)),
                ]
            );
            assert_eq!(
                r.storage_slots(&b).unwrap(),
                vec![(slot(1), U256::from(7)), (slot(3), U256::from(8))]
            );
            assert_eq!(r.storage_slots(&d).unwrap(), vec![]);
        }

        // Block 2: delete b (its storage goes with it); wipe a's storage and re-create one slot in
        // the same block (a self-destruct and re-create). The neighbours keep theirs.
        let mut b2 = b1.child(0);
        b2.state.accounts = vec![(b, None), (a, Some(account(0, 5)))];
        b2.state.wiped_storage = vec![a];
        b2.state.storage = vec![(a, slot(5), U256::from(9))];
        b2.write(store).unwrap();
        {
            let r = store.reader().unwrap();
            assert_eq!(r.account_count().unwrap(), 4);
            assert_eq!(r.account(&b).unwrap(), None);
            assert_eq!(r.storage_slots(&b).unwrap(), vec![]);
            assert_eq!(r.storage(&b, &slot(1)).unwrap(), U256::ZERO);
            assert_eq!(r.storage(&b, &slot(3)).unwrap(), U256::ZERO);
            assert_eq!(r.account(&a).unwrap(), Some(account(0, 5)));
            assert_eq!(r.storage_slots(&a).unwrap(), vec![(slot(5), U256::from(9))]);
            assert_eq!(r.storage(&a, &B256::ZERO).unwrap(), U256::ZERO);
            assert_eq!(r.storage(&a, &SLOT_MAX).unwrap(), U256::ZERO);
            assert_eq!(
                r.storage_slots(&a_before).unwrap(),
                vec![(SLOT_MAX, U256::from(5))]
            );
            assert_eq!(
                r.storage_slots(&a_after).unwrap(),
                vec![(B256::ZERO, U256::from(6))]
            );
        }

        // Block 3: wiping an account without storage, and deleting one that doesn't exist.
        let mut b3 = b2.child(0);
        b3.state.wiped_storage = vec![d];
        b3.state.accounts = vec![(c, None)];
        b3.write(store).unwrap();
        let r = store.reader().unwrap();
        assert_eq!(r.account_count().unwrap(), 4);
        assert_eq!(r.account(&d).unwrap(), Some(account(0, 4_000)));
        assert_eq!(r.storage_slots(&a).unwrap(), vec![(slot(5), U256::from(9))]);
    });
}

#[test]
fn code_by_hash() {
    on_both_backends(|store| {
        let code1 = Bytes::from(vec![0x60, 0x01, 0x60, 0x00, 0x55]);
        let code2 = Bytes::from(vec![0x5f; 1000]);
        let mut genesis = TestBlock::genesis();
        genesis.state.codes = vec![(keccak256(&code1), code1.clone())];
        genesis.write(store).unwrap();
        let mut b1 = genesis.child(0);
        b1.state.codes = vec![(keccak256(&code2), code2.clone())];
        b1.write(store).unwrap();

        let r = store.reader().unwrap();
        assert_eq!(r.code(&keccak256(&code1)).unwrap(), Some(code1));
        assert_eq!(r.code(&keccak256(&code2)).unwrap(), Some(code2));
        assert_eq!(r.code(&keccak256([0x00])).unwrap(), None);
    });
}

#[test]
fn trie_nodes_are_readable_through_node_store() {
    on_both_backends(|store| {
        let key = |i: u64| keccak256(i.to_be_bytes());
        let value = |i: u64, v: u64| alloy_rlp::encode(U256::from(i * 1_000 + v));

        // Genesis: a 200-leaf trie built from nothing.
        let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        for i in 0..200 {
            trie.insert(key(i).as_slice(), value(i, 0)).unwrap();
        }
        let updates = trie.commit();
        let root0 = updates.root;
        assert!(updates.nodes.len() > 10);
        let mut genesis = TestBlock::genesis();
        genesis.header.state_root = root0;
        genesis.trie = TrieWrites::new(updates.into(), [], []);
        genesis.write(store).unwrap();

        let reader = store.reader().unwrap();
        for (path, hash, rlp) in &genesis.trie.account.nodes {
            assert_eq!(reader.node(None, path, hash).unwrap().as_ref(), Some(rlp));
        }
        // Paths are checked against the hash asked for.
        let missing = keccak256("no such node");
        assert!(matches!(
            reader.node(None, &Nibbles::new(), &missing),
            Err(keel_trie::TrieError::StaleNode(_))
        ));
        // A path that holds nothing, and the same path of a storage trie.
        let far = Nibbles::from_nibbles([0xf; 20]);
        assert_eq!(reader.node(None, &far, &missing).unwrap(), None);
        assert_eq!(
            reader
                .node(Some(&missing), &Nibbles::new(), &root0)
                .unwrap(),
            None
        );
        let mut trie = Trie::new(&reader, root0);
        for i in 0..200 {
            assert_eq!(trie.get(key(i).as_slice()).unwrap(), Some(value(i, 0)));
        }
        assert_eq!(trie.get(key(200).as_slice()).unwrap(), None);

        // Block 1: update the trie loaded from the store and store only what changed.
        for i in 0..20 {
            trie.insert(key(i).as_slice(), value(i, 1)).unwrap();
        }
        for i in 20..30 {
            trie.remove(key(i).as_slice()).unwrap();
        }
        for i in 200..210 {
            trie.insert(key(i).as_slice(), value(i, 1)).unwrap();
        }
        let updates = trie.commit();
        let root1 = updates.root;
        assert_ne!(root1, root0);
        drop(trie);
        drop(reader);
        let mut b1 = genesis.child(0);
        b1.header.state_root = root1;
        b1.trie = TrieWrites::new(updates.into(), [], []);
        // A snapshot taken before block 1 and read after it: the shared node cache, now
        // holding block 1's upper nodes, must not change what the old snapshot reads.
        let before = store.reader().unwrap();
        assert_eq!(
            Trie::new(&before, root0).get(key(0).as_slice()).unwrap(),
            Some(value(0, 0))
        );
        b1.write(store).unwrap();
        let mut old = Trie::new(&before, root0);
        for i in 0..200 {
            assert_eq!(old.get(key(i).as_slice()).unwrap(), Some(value(i, 0)));
        }
        drop(old);
        drop(before);

        let reader = store.reader().unwrap();
        let mut trie = Trie::new(&reader, root1);
        for i in 0..210 {
            let expected = match i {
                0..20 => Some(value(i, 1)),
                20..30 => None,
                30..200 => Some(value(i, 0)),
                _ => Some(value(i, 1)),
            };
            assert_eq!(trie.get(key(i).as_slice()).unwrap(), expected, "key {i}");
        }
        // Only the head's trie is kept: the old root fails loudly instead of reading wrong.
        let mut old = Trie::new(&reader, root0);
        assert!(matches!(
            old.get(key(0).as_slice()),
            Err(keel_trie::TrieError::StaleNode(_))
        ));
        // Exactly the head trie's stored nodes, nothing left over from the genesis trie.
        let mut scratch = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        for i in (0..20).chain(200..210) {
            scratch.insert(key(i).as_slice(), value(i, 1)).unwrap();
        }
        for i in 30..200 {
            scratch.insert(key(i).as_slice(), value(i, 0)).unwrap();
        }
        let scratch = scratch.commit();
        assert_eq!(scratch.root, root1);
        let mut expected: Vec<_> = scratch
            .nodes
            .into_iter()
            .map(|(path, _, rlp)| (None, path, rlp))
            .collect();
        expected.sort();
        assert_eq!(reader.trie_nodes().unwrap(), expected);
    });
}

// ---------------------------------------------------------------------------------------------
// the file store

/// A small chain with state, code and trie nodes in every table.
fn scenario() -> Vec<TestBlock> {
    let code = Bytes::from(vec![0x60, 0x2a, 0x60, 0x00, 0x52]);
    let mut trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
    for i in 0u64..50 {
        trie.insert(
            keccak256(i.to_be_bytes()).as_slice(),
            vec![0x80 + (i as u8 % 50)],
        )
        .unwrap();
    }
    let updates = trie.commit();

    let mut genesis = TestBlock::genesis();
    genesis.header.state_root = updates.root;
    genesis.trie = TrieWrites::new(updates.into(), [], []);
    genesis.state.accounts = (1..=10).map(|i| (addr(i), Some(account(0, i)))).collect();
    genesis.state.storage = (1..=10)
        .map(|i| (addr(1), slot(i), U256::from(i)))
        .collect();
    genesis.state.codes = vec![(keccak256(&code), code)];
    let mut b1 = genesis.child(4);
    b1.state.accounts = vec![(addr(2), None), (addr(11), Some(account(3, 11)))];
    b1.state.storage = vec![
        (addr(1), slot(1), U256::ZERO),
        (addr(11), slot(1), U256::MAX),
    ];
    let b2 = b1.child(2);
    vec![genesis, b1, b2]
}

#[track_caller]
fn assert_scenario(store: &Store, blocks: &[TestBlock]) {
    assert_chain(store, &blocks.iter().collect::<Vec<_>>());
    let r = store.reader().unwrap();
    assert_eq!(r.account_count().unwrap(), 10);
    assert_eq!(r.account(&addr(1)).unwrap(), Some(account(0, 1)));
    assert_eq!(r.account(&addr(2)).unwrap(), None);
    assert_eq!(r.account(&addr(11)).unwrap(), Some(account(3, 11)));
    let slots: Vec<_> = (2..=10).map(|i| (slot(i), U256::from(i))).collect();
    assert_eq!(r.storage_slots(&addr(1)).unwrap(), slots);
    assert_eq!(r.storage(&addr(11), &slot(1)).unwrap(), U256::MAX);
    for (hash, code) in &blocks[0].state.codes {
        assert_eq!(r.code(hash).unwrap().as_ref(), Some(code));
    }
    let mut trie = Trie::new(&r, blocks[0].header.state_root);
    for i in 0u64..50 {
        assert_eq!(
            trie.get(keccak256(i.to_be_bytes()).as_slice()).unwrap(),
            Some(vec![0x80 + (i as u8 % 50)])
        );
    }
}

#[test]
fn file_store_reopens_with_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    let blocks = scenario();
    {
        let store = Store::open(&path).unwrap();
        for block in &blocks {
            block.write(&store).unwrap();
        }
        assert_scenario(&store, &blocks);
    }
    let store = Store::open(&path).unwrap();
    assert_scenario(&store, &blocks);
    // The reopened store still refuses what doesn't extend the head, and takes what does.
    assert!(matches!(
        blocks[1].write(&store),
        Err(StoreError::NotOnHead { .. })
    ));
    let b3 = blocks[2].child(1);
    b3.write(&store).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    let mut all: Vec<&TestBlock> = blocks.iter().collect();
    all.push(&b3);
    assert_chain(&store, &all);
}

#[test]
fn in_memory_stores_are_independent() {
    let blocks = scenario();
    let one = Store::in_memory().unwrap();
    for block in &blocks {
        block.write(&one).unwrap();
    }
    let two = Store::in_memory().unwrap();
    assert_eq!(two.reader().unwrap().head_hash().unwrap(), None);
    // Clones share one database.
    let clone = one.clone();
    assert_scenario(&clone, &blocks);
}

#[test]
fn second_open_of_a_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    let _store = Store::open(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// corruption: wrong bytes in the file are errors, not panics

/// A file store holding `scenario()`, closed again.
fn scenario_file() -> (TempDir, std::path::PathBuf, Vec<TestBlock>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    let blocks = scenario();
    let store = Store::open(&path).unwrap();
    for block in &blocks {
        block.write(&store).unwrap();
    }
    drop(store);
    (dir, path, blocks)
}

/// Overwrite one raw entry of the (closed) database file.
fn raw_write<K: redb::Key + 'static>(
    path: &std::path::Path,
    table: &str,
    key: K::SelfType<'_>,
    value: &[u8],
) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let def: redb::TableDefinition<K, &[u8]> = redb::TableDefinition::new(table);
        let mut t = txn.open_table(def).unwrap();
        t.insert(key, value).unwrap();
    }
    txn.commit().unwrap();
}

#[track_caller]
fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::Corrupt { what: w, .. }) => assert_eq!(w, what),
        other => panic!("expected a corrupt {what} error, got {other:?}"),
    }
}

#[test]
fn corrupt_chain_entries_are_errors() {
    let (_dir, path, blocks) = scenario_file();
    let (h1, h2) = (blocks[1].hash(), blocks[2].hash());
    raw_write::<&[u8; 32]>(&path, "headers", &h1.0, b"\xc3garbage");
    raw_write::<(&[u8; 32], u16)>(&path, "body_pieces", (&h1.0, 0), &[0xc0, 0xc0]);
    // One receipt whose row is a byte that is no RLP.
    raw_write::<(&[u8; 32], u16)>(
        &path,
        "receipt_pieces",
        (&h1.0, 0),
        &[0, 0, 0, 1, 0, 0, 0, 1, 0xff],
    );
    raw_write::<(&[u8; 32], u16)>(&path, "sender_pieces", (&h1.0, 0), &[0x01; 21]);
    // A valid header followed by a stray byte.
    let mut header = alloy_rlp::encode(&blocks[2].header);
    header.push(0x00);
    raw_write::<&[u8; 32]>(&path, "headers", &h2.0, &header);

    let store = Store::open(&path).unwrap();
    let r = store.reader().unwrap();
    assert_corrupt(r.header(&h1), "header");
    assert_corrupt(r.body(&h1), "body");
    assert_corrupt(r.receipts(&h1), "receipt");
    assert_corrupt(r.receipt(&h1, 0), "receipt");
    assert_corrupt(r.senders(&h1), "senders");
    assert_corrupt(r.header(&h2), "header");
    // The head's header is corrupt, so the head can't be read.
    assert_corrupt(r.head(), "header");
    // Entries that weren't touched still read.
    assert_eq!(r.body(&h2).unwrap().as_ref(), Some(&blocks[2].body));
    assert_eq!(r.head_hash().unwrap(), Some(h2));
}

#[test]
fn corrupt_account_is_an_error() {
    let (_dir, path, _) = scenario_file();
    raw_write::<&[u8; 20]>(&path, "accounts", &addr(3).0.0, b"\x01\x02");
    let store = Store::open(&path).unwrap();
    let r = store.reader().unwrap();
    assert_corrupt(r.account(&addr(3)), "account");
    assert_eq!(r.account(&addr(4)).unwrap(), Some(account(0, 4)));
}

#[test]
fn corrupt_head_is_an_error() {
    let (_dir, path, blocks) = scenario_file();
    raw_write::<&str>(&path, "meta", "head", &[1, 2, 3]);
    let store = Store::open(&path).unwrap();
    let r = store.reader().unwrap();
    assert_corrupt(r.head_hash(), "meta");
    assert_corrupt(r.head(), "meta");
    // Writing on a corrupt head is refused, not a panic, and writes nothing.
    let b3 = blocks[2].child(1);
    assert_corrupt(b3.write(&store), "meta");
    assert_eq!(store.reader().unwrap().header(&b3.hash()).unwrap(), None);
}

#[test]
fn other_schema_version_is_refused() {
    let (_dir, path, _) = scenario_file();
    raw_write::<&str>(&path, "meta", "schema", &999u32.to_be_bytes());
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::SchemaMismatch { expected: 7, found } if found == "999"),
        "{err:?}"
    );
    assert!(err.to_string().contains("schema"), "{err}");
    // The message says how to keep the chain.
    for how in ["`keel export`", "`keel import`", "`keel l2 reconstruct`"] {
        assert!(err.to_string().contains(how), "{err}");
    }
}

/// Open a datadir that an older keel wrote at schema `version`, with one entry of a table whose
/// layout that version had (`write_old`), and check that it is refused with the schema message
/// naming `version`, not misread and not failing on the old table's type.
fn assert_old_schema_refused(version: u32, write_old: impl FnOnce(&redb::WriteTransaction)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keel.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        write_old(&txn);
        {
            let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
            txn.open_table(meta)
                .unwrap()
                .insert("schema", version.to_be_bytes().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::SchemaMismatch { expected: 7, found } if *found == version.to_string()),
        "{err:?}"
    );
}

/// A datadir of schema 3 (receipts as one list per block, no senders) is refused, not misread.
#[test]
fn schema_3_datadir_is_refused() {
    assert_old_schema_refused(3, |txn| {
        let old: redb::TableDefinition<&[u8; 32], &[u8]> = redb::TableDefinition::new("receipts");
        txn.open_table(old)
            .unwrap()
            .insert(&[1; 32], [0xc0].as_slice())
            .unwrap();
    });
}

/// A datadir of schema 6 (full account-trie leaves, `tx_lookup` by block hash) is refused with
/// the schema message, not a table type error.
#[test]
fn schema_6_datadir_is_refused() {
    assert_old_schema_refused(6, |txn| {
        let old: redb::TableDefinition<&[u8; 32], (&[u8; 32], u64)> =
            redb::TableDefinition::new("tx_lookup");
        txn.open_table(old)
            .unwrap()
            .insert(&[1; 32], (&[2; 32], 0))
            .unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// receipts (one row each) and senders

/// A receipt of transaction type `ty` with `logs` logs and the given status.
fn typed_receipt(ty: u8, cumulative_gas_used: u64, logs: u64, status: Eip658Value) -> Receipt {
    let logs = (0..logs)
        .map(|i| Log {
            address: Address::with_last_byte(ty),
            data: LogData::new_unchecked(
                (0..i % 5)
                    .map(|t| keccak256([ty, i as u8, t as u8]))
                    .collect(),
                Bytes::from(vec![ty; i as usize]),
            ),
        })
        .collect();
    let with_bloom = alloy_consensus::Receipt {
        status,
        cumulative_gas_used,
        logs,
    }
    .with_bloom();
    if ty == keel_types::privileged::PRIVILEGED_TX_TYPE {
        return Receipt::Privileged(with_bloom);
    }
    let ty = alloy_consensus::TxType::try_from(ty).unwrap();
    Receipt::Ethereum(alloy_consensus::ReceiptEnvelope::from_typed(ty, with_bloom))
}

/// One transaction of every type keel stores (signatures are not checked by the store).
fn every_transaction_type() -> Vec<Transaction> {
    use alloy_consensus::{TxEip1559, TxEip2930, TxEip4844, TxEip7702};
    let sig = Signature::test_signature();
    let to = Address::repeat_byte(0x77);
    vec![
        transaction(1),
        TxEip2930 {
            chain_id: 1,
            nonce: 2,
            gas_limit: 30_000,
            to: TxKind::Call(to),
            input: Bytes::from(vec![1; 40]),
            ..Default::default()
        }
        .into_signed(sig)
        .into(),
        TxEip1559 {
            chain_id: 1,
            nonce: 3,
            gas_limit: 21_000,
            max_fee_per_gas: 2,
            to: TxKind::Create,
            ..Default::default()
        }
        .into_signed(sig)
        .into(),
        TxEip4844 {
            chain_id: 1,
            nonce: 4,
            gas_limit: 21_000,
            to,
            blob_versioned_hashes: vec![B256::repeat_byte(1)],
            max_fee_per_blob_gas: 1,
            ..Default::default()
        }
        .into_signed(sig)
        .into(),
        TxEip7702 {
            chain_id: 1,
            nonce: 5,
            gas_limit: 50_000,
            to,
            ..Default::default()
        }
        .into_signed(sig)
        .into(),
        Transaction::privileged(keel_types::PrivilegedTx {
            chain_id: 1,
            nonce: 6,
            from: Address::with_last_byte(0xff),
            to,
            value: U256::from(5u64),
            gas_limit: 200_000,
            data: Bytes::from_static(&[1, 2, 3]),
        }),
    ]
}

#[test]
fn receipts_of_every_type_round_trip_one_row_each() {
    on_both_backends(|store| {
        let genesis = TestBlock::genesis();
        genesis.write(store).unwrap();
        let mut block = genesis.child(0);
        block.body.transactions = every_transaction_type();
        block.tx_hashes = block
            .body
            .transactions
            .iter()
            .map(|tx| *tx.tx_hash())
            .collect();
        block.senders = (0..6).map(|i| addr(100 + i)).collect();
        // A pre-Byzantium post-state status and failures too; uneven log counts.
        let statuses = [
            Eip658Value::Eip658(true),
            Eip658Value::Eip658(false),
            Eip658Value::PostState(B256::repeat_byte(9)),
            Eip658Value::Eip658(true),
            Eip658Value::Eip658(false),
            Eip658Value::Eip658(true),
        ];
        let (types, logs) = ([0u8, 1, 2, 3, 4, 0x7e], [0u64, 3, 0, 1, 7, 2]);
        let mut cumulative = 0;
        block.receipts = (0..6)
            .map(|i| {
                cumulative += 21_000 + 1_000 * i as u64;
                typed_receipt(types[i], cumulative, logs[i], statuses[i])
            })
            .collect();
        block.write(store).unwrap();
        let hash = block.hash();

        let reader = store.reader().unwrap();
        // The whole block: every field equal, the bloom recomputed from the logs included.
        let read = reader.receipts(&hash).unwrap().unwrap();
        assert_eq!(read, block.receipts);
        let mut first_log_index = 0;
        for (i, receipt) in block.receipts.iter().enumerate() {
            use alloy_consensus::TxReceipt;
            let one = reader.receipt(&hash, i as u64).unwrap().unwrap();
            // As the RPC computed it from the whole list before receipts had rows.
            assert_eq!(
                Some(&one),
                keel_storage::StoredReceipt::at(&read, i).as_ref()
            );
            assert_eq!(one.receipt, *receipt);
            assert_eq!(
                one.receipt.bloom(),
                receipt.as_receipt_with_bloom().logs_bloom
            );
            assert_eq!(
                one.gas_used,
                receipt.cumulative_gas_used()
                    - i.checked_sub(1)
                        .map_or(0, |p| block.receipts[p].cumulative_gas_used())
            );
            assert_eq!(one.first_log_index, first_log_index);
            first_log_index += receipt.logs().len() as u64;
            assert_eq!(
                reader.transaction(&hash, i as u64).unwrap().as_ref(),
                Some(&block.body.transactions[i])
            );
            assert_eq!(
                reader.sender(&hash, i as u64).unwrap(),
                Some(block.senders[i])
            );
        }
        assert_eq!(read.last().map(|r| r.is_privileged()), Some(true));
        assert_eq!(reader.receipt(&hash, 6).unwrap(), None);
        assert_eq!(reader.receipt(&hash, u64::MAX).unwrap(), None);
        assert_eq!(reader.transaction(&hash, 6).unwrap(), None);
        assert_eq!(reader.sender(&hash, 6).unwrap(), None);
        assert_eq!(reader.senders(&hash).unwrap(), Some(block.senders.clone()));
        // A block without transactions has receipts (none) and senders (none).
        assert_eq!(reader.receipts(&genesis.hash()).unwrap(), Some(vec![]));
        assert_eq!(reader.senders(&genesis.hash()).unwrap(), Some(vec![]));
        assert_eq!(reader.receipt(&genesis.hash(), 0).unwrap(), None);
    });
}

/// Receipt rows of neighbouring blocks don't leak into each other's range read.
#[test]
fn block_receipt_ranges_are_separate() {
    on_both_backends(|store| {
        let genesis = TestBlock::genesis();
        genesis.write(store).unwrap();
        let mut parent = genesis;
        let mut blocks = Vec::new();
        for txs in [3, 0, 5, 1] {
            let block = parent.child(txs);
            block.write(store).unwrap();
            blocks.push(block.clone());
            parent = block;
        }
        let reader = store.reader().unwrap();
        for block in &blocks {
            assert_eq!(
                reader.receipts(&block.hash()).unwrap().as_ref(),
                Some(&block.receipts)
            );
        }
    });
}

/// A block whose body, senders and receipts each span several stored pieces reads back whole,
/// and one transaction, sender or receipt at a time, on either side of every piece boundary.
#[test]
fn a_large_block_reads_back_whole_and_one_item_at_a_time() {
    on_both_backends(|store| {
        let genesis = TestBlock::genesis();
        genesis.write(store).unwrap();
        // 2,500 transactions: ~50 KB of senders, ~280 KB of body, ~220 KB of receipts.
        let block = genesis.child(2_500);
        block.write(store).unwrap();
        let hash = block.hash();
        let reader = store.reader().unwrap();
        assert_eq!(reader.body(&hash).unwrap().as_ref(), Some(&block.body));
        assert_eq!(
            reader.senders(&hash).unwrap().as_ref(),
            Some(&block.senders)
        );
        assert_eq!(
            reader.receipts(&hash).unwrap().as_ref(),
            Some(&block.receipts)
        );
        let all = reader.receipts(&hash).unwrap().unwrap();
        for i in 0..2_500u64 {
            let n = i as usize;
            assert_eq!(
                reader.transaction(&hash, i).unwrap().as_ref(),
                Some(&block.body.transactions[n]),
                "tx {i}"
            );
            assert_eq!(
                reader.sender(&hash, i).unwrap(),
                Some(block.senders[n]),
                "sender {i}"
            );
            let one = reader.receipt(&hash, i).unwrap().unwrap();
            assert_eq!(one.receipt, block.receipts[n], "receipt {i}");
            // The block just written is also held in memory, with the same reads.
            let tx_hash = *block.body.transactions[n].tx_hash();
            let (recent, index) = reader.recent_transaction(&tx_hash).unwrap().unwrap();
            assert_eq!((recent.hash, index), (hash, n));
            assert_eq!(recent.transactions[n], block.body.transactions[n]);
            assert_eq!(recent.senders[n], block.senders[n]);
            assert_eq!(recent.receipts[n], one);
            assert_eq!(Some(one), keel_storage::StoredReceipt::at(&all, n));
        }
        assert_eq!(recent_header(&reader, &hash), Some(block.header.clone()));
        assert_eq!(reader.receipt(&hash, 2_500).unwrap(), None);
        assert_eq!(reader.sender(&hash, 2_500).unwrap(), None);
        assert_eq!(reader.transaction(&hash, 2_500).unwrap(), None);
    });
}

fn recent_header(reader: &keel_storage::StoreReader, hash: &B256) -> Option<Header> {
    reader.recent_block(hash).map(|b| b.header.clone())
}

#[test]
fn senders_or_receipts_not_matching_the_transactions_are_refused() {
    on_both_backends(|store| {
        let genesis = TestBlock::genesis();
        genesis.write(store).unwrap();
        let mut block = genesis.child(2);
        block.senders.pop();
        let err = block.write(store).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Mismatched {
                    txs: 2,
                    senders: 1,
                    receipts: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        let mut block = genesis.child(2);
        block.receipts.pop();
        assert!(matches!(
            block.write(store),
            Err(StoreError::Mismatched { .. })
        ));
        assert_absent(store, &block);
        assert_chain(store, &[&genesis]);
    });
}

#[test]
fn table_sizes_count_what_blocks_wrote() {
    on_both_backends(|store| {
        let empty = store.table_sizes().unwrap();
        let headers = |sizes: &[keel_storage::TableSize]| {
            sizes
                .iter()
                .find(|t| t.name == "headers")
                .map(|t| (t.entries, t.stored_bytes))
                .expect("a headers table")
        };
        assert_eq!(headers(&empty), (0, 0));
        let genesis = TestBlock::genesis();
        genesis.write(store).unwrap();
        let b1 = genesis.child(3);
        b1.write(store).unwrap();
        let sizes = store.table_sizes().unwrap();
        let (entries, bytes) = headers(&sizes);
        assert_eq!(entries, 2, "genesis and block 1");
        assert!(
            bytes > 2 * 32,
            "two headers and their 32-byte keys: {bytes}"
        );
        // Largest first.
        assert!(sizes.windows(2).all(|w| {
            w[0].stored_bytes + w[0].overhead_bytes >= w[1].stored_bytes + w[1].overhead_bytes
        }));
    });
}
