//! The address index (`keel_storage::address_index`): written with the blocks when on, rebuilt
//! from the stored blocks for a store written without it (and resumed after a restart), paged in
//! whole blocks, and kept consistent when a reorg unwinds blocks.

use alloy_consensus::{Eip658Value, ReceiptWithBloom, SignableTransaction, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, Signature, TxKind, U256};
use alloy_trie::EMPTY_ROOT_HASH;
use keel_storage::{
    AddressPage, BlockWrite, Direction, ReorgWrite, StateChanges, Store, StoreReader,
};
use keel_trie::TrieWrites;
use keel_types::{BlockBody, Header, Receipt, Transaction};

const ALICE: Address = Address::repeat_byte(0xa1);
const BOB: Address = Address::repeat_byte(0xb0);
const CAROL: Address = Address::repeat_byte(0xc0);

/// A transaction `from` sends (`to: None`: a creation) and whether it succeeded.
#[derive(Debug, Clone, Copy)]
struct Tx {
    from: Address,
    nonce: u64,
    to: Option<Address>,
    ok: bool,
}

#[derive(Debug, Clone)]
struct TestBlock {
    header: Header,
    body: BlockBody,
    receipts: Vec<Receipt>,
    tx_hashes: Vec<B256>,
    senders: Vec<Address>,
}

impl TestBlock {
    fn new(parent_hash: B256, number: u64, txs: &[Tx], salt: u64) -> Self {
        let header = Header {
            parent_hash,
            number,
            timestamp: 1_700_000_000 + number * 12 + salt,
            gas_limit: 30_000_000,
            state_root: EMPTY_ROOT_HASH,
            ..Default::default()
        };
        let transactions: Vec<Transaction> = txs
            .iter()
            .map(|tx| {
                TxLegacy {
                    chain_id: Some(1),
                    nonce: tx.nonce,
                    gas_price: 1_000_000_000,
                    gas_limit: 100_000,
                    to: tx.to.map_or(TxKind::Create, TxKind::Call),
                    value: U256::from(salt),
                    input: Bytes::new(),
                }
                .into_signed(Signature::test_signature())
                .into()
            })
            .collect();
        let receipts = txs
            .iter()
            .enumerate()
            .map(|(i, tx)| {
                let receipt = alloy_consensus::Receipt {
                    status: Eip658Value::Eip658(tx.ok),
                    cumulative_gas_used: 21_000 * (i as u64 + 1),
                    logs: vec![],
                };
                let logs_bloom = receipt.bloom_slow();
                Receipt::Ethereum(alloy_consensus::ReceiptEnvelope::Legacy(ReceiptWithBloom {
                    receipt,
                    logs_bloom,
                }))
            })
            .collect();
        Self {
            header,
            tx_hashes: transactions.iter().map(|tx| *tx.tx_hash()).collect(),
            body: BlockBody {
                transactions,
                ommers: Vec::new(),
                withdrawals: Some(Default::default()),
            },
            receipts,
            senders: txs.iter().map(|tx| tx.from).collect(),
        }
    }

    fn hash(&self) -> B256 {
        self.header.hash_slow()
    }

    fn block_write<'a>(&'a self, state: &'a StateChanges, trie: &'a TrieWrites) -> BlockWrite<'a> {
        BlockWrite {
            hash: self.hash(),
            header: &self.header,
            body: &self.body,
            receipts: &self.receipts,
            tx_hashes: &self.tx_hashes,
            senders: &self.senders,
            state,
            trie,
        }
    }

    fn write(&self, store: &Store) {
        let (state, trie) = (StateChanges::default(), TrieWrites::default());
        store
            .write_block(&self.block_write(&state, &trie))
            .expect("block written");
    }
}

/// Block `n` (1..) of the test chain: Alice sends two transactions to Bob, and every third block
/// Carol deploys a contract (every sixth block's deployment fails).
fn txs_of(n: u64) -> Vec<Tx> {
    let mut txs = vec![
        Tx {
            from: ALICE,
            nonce: 2 * (n - 1),
            to: Some(BOB),
            ok: true,
        },
        Tx {
            from: ALICE,
            nonce: 2 * (n - 1) + 1,
            to: Some(BOB),
            ok: n != 4,
        },
    ];
    if n.is_multiple_of(3) {
        txs.push(Tx {
            from: CAROL,
            nonce: n / 3 - 1,
            to: None,
            ok: !n.is_multiple_of(6),
        });
    }
    txs
}

/// The genesis and `blocks` blocks after it.
fn chain(blocks: u64) -> Vec<TestBlock> {
    let mut chain = vec![TestBlock::new(B256::ZERO, 0, &[], 0)];
    for n in 1..=blocks {
        let parent = chain[n as usize - 1].hash();
        chain.push(TestBlock::new(parent, n, &txs_of(n), 0));
    }
    chain
}

fn page(
    reader: &StoreReader,
    address: Address,
    from: u64,
    dir: Direction,
    size: usize,
) -> AddressPage {
    reader
        .address_page(&address, from, dir, size)
        .expect("page read")
}

/// Every page of `address`'s history, searching back from the head.
fn all_pages_back(store: &Store, address: Address) -> Vec<AddressPage> {
    let reader = store.reader().expect("reader");
    let head = reader
        .address_index_progress()
        .expect("progress")
        .head
        .expect("head");
    let mut pages = Vec::new();
    let mut from = head;
    loop {
        let p = page(&reader, address, from, Direction::Back, 3);
        let more = p.more;
        let last = p.entries.last().map(|&(block, _)| block);
        pages.push(p);
        match (more, last) {
            (true, Some(block)) => from = block - 1,
            _ => return pages,
        }
    }
}

#[test]
fn blocks_are_indexed_as_they_are_written_and_paged_in_whole_blocks() {
    let store = Store::in_memory().expect("store");
    store.set_address_index(true);
    let blocks = chain(7);
    for block in &blocks {
        block.write(&store);
    }
    let reader = store.reader().expect("reader");
    let progress = reader.address_index_progress().expect("progress");
    assert_eq!(progress.next, 8);
    assert!(progress.caught_up());

    // Back from the head, page size 3: two blocks of Alice's (2 + 2 entries: a block is never
    // split), then the rest.
    let first = page(&reader, ALICE, 7, Direction::Back, 3);
    assert_eq!(first.entries, vec![(7, 1), (7, 0), (6, 1), (6, 0)]);
    assert!(first.more);
    let last = page(&reader, ALICE, 2, Direction::Back, 3);
    assert_eq!(last.entries, vec![(2, 1), (2, 0), (1, 1), (1, 0)]);
    assert!(!last.more);
    // Forward from block 5: ascending.
    let forward = page(&reader, BOB, 5, Direction::Forward, 3);
    assert_eq!(forward.entries, vec![(5, 0), (5, 1), (6, 0), (6, 1)]);
    assert!(forward.more);
    let forward = page(&reader, BOB, 6, Direction::Forward, 10);
    assert_eq!(forward.entries, vec![(6, 0), (6, 1), (7, 0), (7, 1)]);
    assert!(!forward.more);
    // Carol: her deployments; the created contract of the successful one in block 3, not the
    // failed one in block 6.
    let carol = page(&reader, CAROL, 7, Direction::Back, 10);
    assert_eq!(carol.entries, vec![(6, 2), (3, 2)]);
    assert_eq!(
        reader.address_first(&CAROL.create(0)).expect("read"),
        Some((3, 2))
    );
    assert_eq!(reader.address_first(&CAROL.create(1)).expect("read"), None);
    // By sender and nonce: Alice's nonce 9 is block 5's second transaction; Bob sent none.
    assert_eq!(
        reader.address_sent_nonce(&ALICE, 9).expect("read"),
        Some((5, 1))
    );
    assert_eq!(
        reader.address_sent_nonce(&ALICE, 0).expect("read"),
        Some((1, 0))
    );
    assert_eq!(reader.address_sent_nonce(&ALICE, 14).expect("read"), None);
    assert_eq!(reader.address_sent_nonce(&BOB, 0).expect("read"), None);
    assert_eq!(
        reader.address_sent_nonce(&CAROL, 1).expect("read"),
        Some((6, 2))
    );
    // An address with no history.
    let nobody = page(&reader, Address::repeat_byte(0x99), 7, Direction::Back, 3);
    assert_eq!(nobody, AddressPage::default());
}

#[test]
fn an_index_off_store_is_rebuilt_from_its_blocks_and_resumes_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keel.redb");
    let blocks = chain(12);
    // The reference: the same chain (up to block 11) indexed as it was written.
    let reference = Store::in_memory().expect("store");
    reference.set_address_index(true);
    for block in &blocks[..12] {
        block.write(&reference);
    }

    // Written with the index off: nothing indexed.
    {
        let store = Store::open(&path).expect("open");
        for block in &blocks[..11] {
            block.write(&store);
        }
        let progress = store.address_index_progress().expect("progress");
        assert_eq!((progress.next, progress.head), (0, Some(10)));
        let reader = store.reader().expect("reader");
        assert!(
            page(&reader, ALICE, 10, Direction::Back, 3)
                .entries
                .is_empty()
        );
    }
    // Reopened with it on: a block written while the index lags is not indexed by its write
    // (the marker stays), then part of the backfill runs and the node "stops".
    {
        let store = Store::open(&path).expect("reopen");
        store.set_address_index(true);
        blocks[11].write(&store);
        assert_eq!(store.address_index_progress().expect("progress").next, 0);
        let progress = store.index_addresses(5).expect("indexed");
        assert_eq!((progress.next, progress.head), (5, Some(11)));
        assert!(!progress.caught_up());
        let reader = store.reader().expect("reader");
        // Blocks 0..5 are in, nothing above.
        assert_eq!(
            page(&reader, ALICE, 11, Direction::Back, 1).entries,
            vec![(4, 1), (4, 0)]
        );
    }
    // After the restart it resumes from the marker and catches up.
    let store = Store::open(&path).expect("reopen");
    store.set_address_index(true);
    let progress = store.address_index_progress().expect("progress");
    assert_eq!(progress.next, 5);
    let mut steps = 0;
    while !store.index_addresses(3).expect("indexed").caught_up() {
        steps += 1;
        assert!(steps < 10, "the backfill makes progress");
    }
    assert_eq!(store.address_index_progress().expect("progress").next, 12);
    for address in [ALICE, BOB, CAROL, CAROL.create(0), CAROL.create(2)] {
        assert_eq!(
            all_pages_back(&store, address),
            all_pages_back(&reference, address),
            "{address}"
        );
    }
    assert!(all_pages_back(&store, ALICE).len() >= 2);
    // Caught up: the next block is indexed by its own write.
    blocks[12].write(&store);
    let reader = store.reader().expect("reader");
    assert_eq!(reader.address_index_progress().expect("progress").next, 13);
    assert_eq!(
        page(&reader, BOB, 12, Direction::Back, 1).entries,
        vec![(12, 1), (12, 0)]
    );
}

#[test]
fn a_reorg_replaces_the_unwound_blocks_entries() {
    let store = Store::in_memory().expect("store");
    store.set_address_index(true);
    let blocks = chain(3);
    for block in &blocks {
        block.write(&store);
    }
    // A side block 3' in which Bob pays Carol, made canonical in its write.
    let side = TestBlock::new(
        blocks[2].hash(),
        3,
        &[Tx {
            from: BOB,
            nonce: 0,
            to: Some(CAROL),
            ok: true,
        }],
        1,
    );
    let (state, trie) = (StateChanges::default(), TrieWrites::default());
    store
        .write_side_block(
            &side.block_write(&state, &trie),
            Some(ReorgWrite {
                ancestors: &[],
                trie: &trie,
            }),
        )
        .expect("reorg");
    let reader = store.reader().expect("reader");
    assert_eq!(reader.address_index_progress().expect("progress").next, 4);
    // Alice's block-3 transactions and Carol's deployment are gone, Bob's payment is in.
    assert_eq!(
        page(&reader, ALICE, 3, Direction::Back, 2).entries,
        vec![(2, 1), (2, 0)]
    );
    assert_eq!(
        page(&reader, CAROL, 3, Direction::Back, 10).entries,
        vec![(3, 0)]
    );
    assert_eq!(reader.address_first(&CAROL.create(0)).expect("read"), None);
    assert_eq!(
        reader.address_sent_nonce(&BOB, 0).expect("read"),
        Some((3, 0))
    );
}

/// What the index costs on disk: its table's bytes (keys and B-tree pages) per transaction, for
/// a chain of ordinary transfers (two entries each: sender and recipient) from many senders.
#[test]
fn the_index_costs_about_a_hundred_bytes_per_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("keel.redb")).expect("open");
    store.set_address_index(true);
    let mut parent = TestBlock::new(B256::ZERO, 0, &[], 0);
    parent.write(&store);
    let mut txs = 0u64;
    for n in 1..=200u64 {
        let block_txs: Vec<Tx> = (0..50u64)
            .map(|i| Tx {
                from: Address::with_last_byte((i % 200) as u8).create(n),
                nonce: n,
                to: Some(Address::with_last_byte(i as u8).create(n + 7)),
                ok: true,
            })
            .collect();
        txs += block_txs.len() as u64;
        let block = TestBlock::new(parent.hash(), n, &block_txs, 0);
        block.write(&store);
        parent = block;
    }
    let size = store
        .table_sizes()
        .expect("sizes")
        .into_iter()
        .find(|t| t.name == "address_index")
        .expect("the index's table");
    assert_eq!(size.entries, 2 * txs);
    let per_tx = (size.stored_bytes + size.overhead_bytes) / txs;
    println!("address index: {per_tx} bytes per transaction ({size:?})");
    assert!(
        (64..=160).contains(&per_tx),
        "{per_tx} bytes per transaction"
    );
}
