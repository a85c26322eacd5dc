//! The database handle and the one way to write: a whole block per write transaction.

use std::{
    path::Path,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use alloy_primitives::{Address, B256};
use alloy_rlp::Encodable;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, WriteTransaction,
    backends::InMemoryBackend,
};

use keel_trie::TrieWrites;

use crate::{
    StateChanges, StoreError, StoreReader, address_index, chunked,
    codec::{decode, decode_receipt_row, decode_senders, encode_receipt_row, encode_senders},
    node_cache::NodeCache,
    reader::receipt_rows_in,
    recent_blocks::{RecentBlock, RecentBlocks},
    state_diff::{self, StateChangesCodec},
    tables,
    trie_store::{apply_trie_writes, check_trie_root},
};
use keel_types::{BlockBody, Header, Receipt};

/// Everything one block writes. [`Store::write_block`] applies it atomically.
#[derive(Debug)]
pub struct BlockWrite<'a> {
    pub hash: B256,
    pub header: &'a Header,
    pub body: &'a BlockBody,
    pub receipts: &'a [Receipt],
    /// Hashes of `body.transactions`, in order (computed once by the caller).
    pub tx_hashes: &'a [B256],
    /// Sender of each of `body.transactions`, in order (recovered by the caller, which needed
    /// them to execute the block), stored so that reads never recover signatures.
    pub senders: &'a [Address],
    pub state: &'a StateChanges,
    /// The block's changes to the account and storage tries, by path. A side block (see
    /// [`Store::write_side_block`]) stores none: the tables hold only the head's tries.
    pub trie: &'a TrieWrites,
}

/// A side block that makes its chain canonical (see [`Store::write_side_block`]).
#[derive(Debug, Clone, Copy)]
pub struct ReorgWrite<'a> {
    /// The block's non-canonical ancestors, oldest first.
    pub ancestors: &'a [B256],
    /// The trie writes from the current head's tries to the new head's: the view of the block's
    /// parent (`StateView::trie_writes`) composed with the block's own writes.
    pub trie: &'a TrieWrites,
}

/// The node's database. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// When set, block writes are atomic but not fsynced; [`Store::sync`] makes them durable.
    deferred_sync: Arc<AtomicBool>,
    /// The upper account-trie levels, shared by every reader; updated after each committed write.
    node_cache: Arc<NodeCache>,
    /// The read snapshot of the last committed write, shared by readers (see [`Store::snapshot`]).
    snapshot: Arc<SnapshotCache>,
    /// The blocks written last, for reads of one transaction (see [`crate::recent_blocks`]).
    recent: Arc<RecentBlocks>,
    /// Whether block writes fill the address index (see [`crate::address_index`]).
    address_index: Arc<AtomicBool>,
}

/// One read transaction shared by every reader until the next write commits.
#[derive(Default)]
struct SnapshotCache {
    /// Bumped after every committed write transaction.
    generation: AtomicU64,
    /// The shared snapshot and the generation read before its transaction began: it is at least
    /// that recent.
    latest: RwLock<Option<(u64, Arc<StoreReader>)>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// redb's page cache when none is given: 512 MiB.
    pub const DEFAULT_CACHE_BYTES: usize = 512 << 20;

    /// Open (or create) the database file at `path` with the default page cache.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_cache(path, Self::DEFAULT_CACHE_BYTES)
    }

    /// Open (or create) the database file at `path` with a page cache of `cache_bytes`: the
    /// state's hot pages (accounts, trie nodes, tx index) that fit in it are read without a
    /// system call.
    pub fn open_with_cache(path: impl AsRef<Path>, cache_bytes: usize) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)?;
        Self::init(db)
    }

    /// Whether another process (a running node) has the database at `path` open. Opening it to
    /// find out takes redb's lock for a moment; a database left unclean by a crash is repaired
    /// by that open, as the next node start would.
    pub fn is_open_elsewhere(path: impl AsRef<Path>) -> Result<bool, StoreError> {
        match Database::open(path) {
            Ok(_) => Ok(false),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// A store that lives only in memory (tests, `--datadir memory`).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder().create_with_backend(InMemoryBackend::new())?;
        Self::init(db)
    }

    /// Create every table up front so readers never see a missing table, and check the schema.
    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write()?;
        {
            txn.open_table(tables::HEADERS)?;
            txn.open_table(tables::BODIES)?;
            txn.open_table(tables::RECEIPTS)?;
            txn.open_table(tables::SENDERS)?;
            txn.open_table(tables::CANONICAL)?;
            txn.open_table(tables::BLOCK_NUMBERS)?;
            txn.open_table(tables::TX_LOOKUP)?;
            txn.open_table(tables::ACCOUNTS)?;
            txn.open_table(tables::STORAGE)?;
            txn.open_table(tables::CODE)?;
            txn.open_table(tables::ACCOUNT_TRIE)?;
            txn.open_table(tables::STORAGE_TRIE)?;
            txn.open_table(tables::STATE_REVERTS)?;
            txn.open_table(tables::STATE_DIFFS)?;
            crate::rollup::create_tables(&txn)?;
            crate::batches::create_tables(&txn)?;
            crate::proofs::create_tables(&txn)?;
            crate::send_journal::create_tables(&txn)?;
            crate::settlement::create_tables(&txn)?;
            txn.open_table(tables::PUBLISHED_CODES)?;
            txn.open_table(crate::address_index::ADDRESS_INDEX)?;
            let mut meta = txn.open_table(tables::META)?;
            let version = tables::SCHEMA_VERSION.to_be_bytes();
            let existing = meta.get(tables::META_SCHEMA)?.map(|v| v.value().to_vec());
            match existing {
                None => {
                    meta.insert(tables::META_SCHEMA, version.as_slice())?;
                }
                Some(found) if found == version => {}
                Some(found) => {
                    let found = <[u8; 4]>::try_from(found.as_slice()).map_or_else(
                        |_| format!("{found:?}"),
                        |b| u32::from_be_bytes(b).to_string(),
                    );
                    return Err(StoreError::SchemaMismatch {
                        found,
                        expected: tables::SCHEMA_VERSION,
                    });
                }
            }
            drop(meta);
            // A canary for a crash or corruption: one read and one keccak. An unreadable head
            // is left to the reads that need it, which report it as corrupt.
            if let Ok(Some(head)) = read_meta_hash(&txn, tables::META_HEAD)
                && let Ok(header) = read_header(&txn, &head)
            {
                check_trie_root(&txn, header.state_root)?;
            }
        }
        txn.commit()?;
        Ok(Self {
            db: Arc::new(db),
            deferred_sync: Arc::new(AtomicBool::new(false)),
            node_cache: Arc::new(NodeCache::new(NodeCache::DEFAULT_DEPTH)),
            snapshot: Arc::default(),
            recent: Arc::new(RecentBlocks::new(RecentBlocks::DEFAULT_CAPACITY)),
            address_index: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The snapshot of the last committed write, shared: readers of the newest state don't each
    /// begin a read transaction and open its tables (the RPC's hot path). Everything committed
    /// before this call is in it. Take a fresh [`Store::reader`] for a long read: a shared
    /// snapshot lives until the next write, and while any read transaction lives redb can't
    /// reuse the pages later writes free.
    pub fn snapshot(&self) -> Result<Arc<StoreReader>, StoreError> {
        let generation = self.snapshot.generation.load(Ordering::Acquire);
        if let Some((at, reader)) = &*self
            .snapshot
            .latest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            && *at == generation
        {
            return Ok(reader.clone());
        }
        let reader = Arc::new(self.reader()?);
        let mut latest = self
            .snapshot
            .latest
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if latest.as_ref().is_none_or(|(at, _)| *at < generation) {
            *latest = Some((generation, reader.clone()));
        }
        Ok(reader)
    }

    /// After a write transaction committed: later [`Store::snapshot`] calls see it, and the old
    /// snapshot's read transaction ends with its last user.
    pub(crate) fn committed(&self) {
        self.snapshot.generation.fetch_add(1, Ordering::AcqRel);
        *self
            .snapshot
            .latest
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// A consistent snapshot for reading. It keeps the database open while it lives.
    pub fn reader(&self) -> Result<StoreReader, StoreError> {
        StoreReader::new(
            self.db.clone(),
            self.db.begin_read()?,
            self.node_cache.clone(),
            self.recent.clone(),
        )
    }

    /// Choose whether each block write is fsynced (the default) or only made durable by the next
    /// [`Store::sync`]. Either way every write is atomic: after a crash the store is at the last
    /// whole block that was made durable. Deferring suits bulk import, where the blocks can be
    /// read again from the file; a sequencer that answers users keeps every block durable.
    pub fn set_deferred_sync(&self, deferred: bool) {
        self.deferred_sync.store(deferred, Ordering::Relaxed);
    }

    /// Make every write so far durable (one fsync).
    pub fn sync(&self) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::corrupt("durability", e))?;
        txn.commit()?;
        self.committed();
        Ok(())
    }

    /// Write a block and all its effects in one transaction and make it the head. The block must
    /// be the genesis of an empty store or extend the current head; otherwise nothing is written.
    pub fn write_block(&self, w: &BlockWrite<'_>) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        self.set_txn_durability(&mut txn)?;
        {
            let mut meta = txn.open_table(tables::META)?;
            let head = meta
                .get(tables::META_HEAD)?
                .map(|v| {
                    B256::try_from(v.value()).map_err(|_| {
                        StoreError::corrupt(
                            "meta",
                            format!("{} has {} bytes", tables::META_HEAD, v.value().len()),
                        )
                    })
                })
                .transpose()?;
            match head {
                None => {
                    meta.insert(tables::META_GENESIS, w.hash.as_slice())?;
                }
                Some(head) if head == w.header.parent_hash => {}
                Some(head) => {
                    return Err(StoreError::NotOnHead {
                        number: w.header.number,
                        hash: w.hash,
                        head,
                    });
                }
            }
            meta.insert(tables::META_HEAD, w.hash.as_slice())?;

            let mut buf = Vec::with_capacity(1024);
            write_block_data(&txn, w, &mut buf)?;
            txn.open_table(tables::CANONICAL)?
                .insert(w.header.number, &w.hash.0)?;
            index_transactions(&txn, w.header.number, w.tx_hashes)?;
            // `meta` is open: the marker is read and moved through it.
            if self.address_index_enabled() && address_index::read_next(&meta)? == w.header.number {
                let statuses = w.receipts.iter().map(Receipt::status);
                address_index::index_block(
                    &txn,
                    w.header.number,
                    &w.body.transactions,
                    w.senders,
                    statuses,
                )?;
                meta.insert(
                    address_index::META_ADDRESS_INDEX_NEXT,
                    (w.header.number + 1).to_be_bytes().as_slice(),
                )?;
            }

            let mut accounts = txn.open_table(tables::ACCOUNTS)?;
            let mut storage = txn.open_table(tables::STORAGE)?;
            let revert = state_diff::apply(&mut accounts, &mut storage, w.state, &mut buf)?;
            if head.is_some() {
                // The genesis is never unwound; every later block keeps the diff that undoes it.
                buf.clear();
                revert.encode_diff(&mut buf);
                chunked::insert(&mut txn.open_table(tables::STATE_REVERTS)?, &w.hash.0, &buf)?;
            }
            write_code(&txn, w)?;
            apply_trie_writes(&txn, w.trie)?;
            check_trie_root(&txn, w.header.state_root)?;
        }
        txn.commit()?;
        self.node_cache.apply_writes(w.trie);
        self.recent.insert(RecentBlock {
            hash: w.hash,
            header: w.header.clone(),
            transactions: w.body.transactions.clone(),
            tx_hashes: w.tx_hashes.into(),
            senders: w.senders.to_vec(),
            receipts: stored_receipts(w.receipts),
        });
        self.committed();
        Ok(())
    }

    /// Store a block that does not extend the head (a side chain): its data and the diff that
    /// would apply its state, but not the flat state, the trie, the canonical index or the head.
    /// Its parent must be stored.
    ///
    /// With `reorg = Some(..)` the block's chain also becomes canonical, in the same write
    /// transaction (see [`Store::reorg`]): a crash can't leave a longer side chain stored but not
    /// canonical.
    pub fn write_side_block(
        &self,
        w: &BlockWrite<'_>,
        reorg: Option<ReorgWrite<'_>>,
    ) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        self.set_txn_durability(&mut txn)?;
        {
            let known = txn.open_table(tables::BLOCK_NUMBERS)?;
            if known.get(&w.header.parent_hash.0)?.is_none() {
                return Err(StoreError::UnknownParent {
                    hash: w.hash,
                    parent: w.header.parent_hash,
                });
            }
            drop(known);
            let mut buf = Vec::with_capacity(1024);
            write_block_data(&txn, w, &mut buf)?;
            buf.clear();
            w.state.encode_diff(&mut buf);
            chunked::insert(&mut txn.open_table(tables::STATE_DIFFS)?, &w.hash.0, &buf)?;
            write_code(&txn, w)?;
            if let Some(reorg) = reorg {
                let mut chain = Vec::with_capacity(reorg.ancestors.len() + 1);
                chain.extend_from_slice(reorg.ancestors);
                chain.push(w.hash);
                reorg_in(&txn, &chain, reorg.trie, self.address_index_enabled())?;
            }
        }
        txn.commit()?;
        if let Some(reorg) = reorg {
            self.node_cache.apply_writes(reorg.trie);
        }
        self.committed();
        Ok(())
    }

    /// Make `new_chain` canonical: unwind the canonical blocks above the parent of
    /// `new_chain[0]` (which must be canonical), then apply the stored blocks of `new_chain` in
    /// order and make its last block the head; `trie` moves the trie tables from the old head's
    /// tries to the new head's (refused unless the result has the new head's root). One write
    /// transaction: a crash leaves either the old chain or the new one.
    pub fn reorg(&self, new_chain: &[B256], trie: &TrieWrites) -> Result<(), StoreError> {
        if new_chain.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write()?;
        self.set_txn_durability(&mut txn)?;
        reorg_in(&txn, new_chain, trie, self.address_index_enabled())?;
        txn.commit()?;
        self.node_cache.apply_writes(trie);
        self.committed();
        Ok(())
    }

    fn set_txn_durability(&self, txn: &mut WriteTransaction) -> Result<(), StoreError> {
        if self.deferred_sync.load(Ordering::Relaxed) {
            txn.set_durability(Durability::None)
                .map_err(|e| StoreError::corrupt("durability", e))?;
        }
        Ok(())
    }
}

/// The body of [`Store::reorg`], inside a caller's write transaction. The address index loses
/// the unwound blocks' entries (and its marker drops below them) whether it is on or not; the new
/// chain's blocks are indexed when it is on and caught up.
fn reorg_in(
    txn: &WriteTransaction,
    new_chain: &[B256],
    trie: &TrieWrites,
    address_index_on: bool,
) -> Result<(), StoreError> {
    let Some(first) = new_chain.first() else {
        return Ok(());
    };
    let first_header = read_header(txn, first)?;
    let fork_number = first_header
        .number
        .checked_sub(1)
        .ok_or_else(|| StoreError::corrupt("reorg", "the genesis cannot be replaced"))?;
    let canonical_at_fork = txn
        .open_table(tables::CANONICAL)?
        .get(fork_number)?
        .map(|v| B256::from(*v.value()));
    if canonical_at_fork != Some(first_header.parent_hash) {
        return Err(StoreError::corrupt(
            "reorg",
            format!(
                "parent {} of {first} is not canonical",
                first_header.parent_hash
            ),
        ));
    }

    let mut accounts = txn.open_table(tables::ACCOUNTS)?;
    let mut storage = txn.open_table(tables::STORAGE)?;
    let mut canonical = txn.open_table(tables::CANONICAL)?;
    let mut reverts = txn.open_table(tables::STATE_REVERTS)?;
    let mut diffs = txn.open_table(tables::STATE_DIFFS)?;
    let mut buf = Vec::with_capacity(1024);

    // Unwind from the head down to the fork point.
    let mut head = read_meta_hash(txn, tables::META_HEAD)?
        .ok_or_else(|| StoreError::corrupt("meta", "no head"))?;
    while head != first_header.parent_hash {
        let header = read_header(txn, &head)?;
        let mut flat = (&mut accounts, &mut storage);
        swap_diff(&mut flat, &mut reverts, &mut diffs, &head, &mut buf)?;
        canonical.remove(header.number)?;
        unindex_transactions(txn, &head)?;
        address_index::unindex_block(txn, header.number, &head)?;
        head = header.parent_hash;
    }

    // Apply the new chain.
    for hash in new_chain {
        let header = read_header(txn, hash)?;
        if header.parent_hash != head {
            return Err(StoreError::corrupt(
                "reorg",
                format!("{hash} does not extend {head}"),
            ));
        }
        let mut flat = (&mut accounts, &mut storage);
        swap_diff(&mut flat, &mut diffs, &mut reverts, hash, &mut buf)?;
        canonical.insert(header.number, &hash.0)?;
        let body = read_body(txn, hash)?;
        let tx_hashes: Vec<B256> = body.transactions.iter().map(|tx| *tx.tx_hash()).collect();
        index_transactions(txn, header.number, &tx_hashes)?;
        if address_index_on && address_index::next_in(txn)? == header.number {
            let senders = chunked::get(&txn.open_table(tables::SENDERS)?, &hash.0)?
                .map(|v| decode_senders(&v))
                .transpose()?
                .ok_or_else(|| StoreError::corrupt("senders", format!("{hash} missing")))?;
            let statuses = receipt_rows_in(&txn.open_table(tables::RECEIPTS)?, hash, |row| {
                Ok(decode_receipt_row(row)?.receipt.status())
            })?
            .ok_or_else(|| StoreError::corrupt("receipts", format!("{hash} missing")))?;
            address_index::index_block(txn, header.number, &body.transactions, &senders, statuses)?;
            address_index::set_next(txn, header.number + 1)?;
        }
        head = *hash;
    }
    txn.open_table(tables::META)?
        .insert(tables::META_HEAD, head.as_slice())?;
    drop((accounts, storage, canonical, reverts, diffs));
    apply_trie_writes(txn, trie)?;
    check_trie_root(txn, read_header(txn, &head)?.state_root)?;
    Ok(())
}

type DiffTable<'t> = redb::Table<'t, (&'static [u8; 32], u16), &'static [u8]>;
type FlatTables<'a, 't> = (
    &'a mut redb::Table<'t, &'static [u8; 20], &'static [u8]>,
    &'a mut redb::Table<'t, &'static [u8; 52], &'static [u8; 32]>,
);

/// Take the diff stored for `block` in `from`, apply it to the flat state, and store its inverse
/// in `to`: unwinding a block moves its revert to a forward diff, re-applying it the other way.
fn swap_diff(
    (accounts, storage): &mut FlatTables<'_, '_>,
    from: &mut DiffTable<'_>,
    to: &mut DiffTable<'_>,
    block: &B256,
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let diff = chunked::get(from, &block.0)?
        .map(|v| StateChanges::decode_diff(&v))
        .transpose()?
        .ok_or_else(|| StoreError::corrupt("state diff", format!("missing for {block}")))?;
    chunked::remove(from, &block.0)?;
    let inverse = state_diff::apply(accounts, storage, &diff, buf)?;
    buf.clear();
    inverse.encode_diff(buf);
    chunked::insert(to, &block.0, buf)?;
    Ok(())
}

/// Header, body, receipts, senders and the hash → number index of a block.
fn write_block_data(
    txn: &WriteTransaction,
    w: &BlockWrite<'_>,
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let txs = w.body.transactions.len();
    if w.senders.len() != txs || w.receipts.len() != txs {
        return Err(StoreError::Mismatched {
            hash: w.hash,
            txs,
            senders: w.senders.len(),
            receipts: w.receipts.len(),
        });
    }
    buf.clear();
    w.header.encode(buf);
    txn.open_table(tables::HEADERS)?
        .insert(&w.hash.0, buf.as_slice())?;
    buf.clear();
    w.body.encode(buf);
    chunked::insert(&mut txn.open_table(tables::BODIES)?, &w.hash.0, buf)?;
    write_receipts(txn, &w.hash, w.receipts, buf)?;
    buf.clear();
    encode_senders(w.senders, buf);
    chunked::insert(&mut txn.open_table(tables::SENDERS)?, &w.hash.0, buf)?;
    txn.open_table(tables::BLOCK_NUMBERS)?
        .insert(&w.hash.0, w.header.number)?;
    Ok(())
}

/// One row per receipt, with the gas used and first log index that reading it alone needs.
fn write_receipts(
    txn: &WriteTransaction,
    hash: &B256,
    receipts: &[Receipt],
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let too_many = || StoreError::corrupt("receipts", format!("{} in {hash}", receipts.len()));
    let count = u32::try_from(receipts.len()).map_err(|_| too_many())?;
    let mut rows = Vec::with_capacity(receipts.len() * 16);
    buf.clear();
    buf.extend_from_slice(&count.to_be_bytes());
    let mut cumulative_before = 0u64;
    let mut first_log_index = 0u64;
    for receipt in receipts {
        let cumulative = receipt.cumulative_gas_used();
        // As the RPC computed it from the list: saturating, so a malformed list can't panic.
        encode_receipt_row(
            receipt,
            cumulative.saturating_sub(cumulative_before),
            first_log_index,
            &mut rows,
        );
        let end = u32::try_from(rows.len()).map_err(|_| too_many())?;
        buf.extend_from_slice(&end.to_be_bytes());
        cumulative_before = cumulative;
        first_log_index += receipt.logs().len() as u64;
    }
    buf.extend_from_slice(&rows);
    chunked::insert(&mut txn.open_table(tables::RECEIPTS)?, &hash.0, buf)
}

/// New bytecode: content-addressed, so writing it twice is harmless.
fn write_code(txn: &WriteTransaction, w: &BlockWrite<'_>) -> Result<(), StoreError> {
    let mut code = txn.open_table(tables::CODE)?;
    for (hash, bytes) in &w.state.codes {
        code.insert(&hash.0, bytes.as_ref())?;
    }
    Ok(())
}

fn index_transactions(
    txn: &WriteTransaction,
    number: u64,
    tx_hashes: &[B256],
) -> Result<(), StoreError> {
    let mut lookup = txn.open_table(tables::TX_LOOKUP)?;
    for (i, tx_hash) in tx_hashes.iter().enumerate() {
        let index = u32::try_from(i)
            .map_err(|_| StoreError::corrupt("block", format!("{i} transactions")))?;
        lookup.insert(&tx_hash.0, (number, index))?;
    }
    Ok(())
}

fn unindex_transactions(txn: &WriteTransaction, block: &B256) -> Result<(), StoreError> {
    let body = read_body(txn, block)?;
    let mut lookup = txn.open_table(tables::TX_LOOKUP)?;
    for tx in &body.transactions {
        lookup.remove(&tx.tx_hash().0)?;
    }
    Ok(())
}

pub(crate) fn read_header(txn: &WriteTransaction, hash: &B256) -> Result<Header, StoreError> {
    let table = txn.open_table(tables::HEADERS)?;
    let value = table
        .get(&hash.0)?
        .ok_or_else(|| StoreError::corrupt("header", format!("{hash} missing")))?;
    decode("header", value.value())
}

fn read_body(txn: &WriteTransaction, hash: &B256) -> Result<BlockBody, StoreError> {
    let table = txn.open_table(tables::BODIES)?;
    let value = chunked::get(&table, &hash.0)?
        .ok_or_else(|| StoreError::corrupt("body", format!("{hash} missing")))?;
    decode("body", &value)
}

/// The head's number, `None` for an empty store.
pub(crate) fn read_head_number(txn: &WriteTransaction) -> Result<Option<u64>, StoreError> {
    let Some(head) = read_meta_hash(txn, tables::META_HEAD)? else {
        return Ok(None);
    };
    txn.open_table(tables::BLOCK_NUMBERS)?
        .get(&head.0)?
        .map(|v| Some(v.value()))
        .ok_or_else(|| StoreError::corrupt("head", format!("{head} has no number")))
}

fn read_meta_hash(txn: &WriteTransaction, key: &str) -> Result<Option<B256>, StoreError> {
    let table = txn.open_table(tables::META)?;
    let Some(v) = table.get(key)? else {
        return Ok(None);
    };
    B256::try_from(v.value())
        .map(Some)
        .map_err(|_| StoreError::corrupt("meta", format!("{key} has {} bytes", v.value().len())))
}

impl Store {
    /// The database, for the table groups kept in other modules of this crate (`rollup`,
    /// `batches`).
    pub(crate) fn node_cache(&self) -> &NodeCache {
        &self.node_cache
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    pub(crate) fn address_index_flag(&self) -> &AtomicBool {
        &self.address_index
    }
}

/// Each receipt with its own gas and first log index, as [`crate::StoredReceipt::at`] computes
/// them, in one pass.
fn stored_receipts(receipts: &[Receipt]) -> Vec<crate::StoredReceipt> {
    let mut cumulative = 0;
    let mut logs = 0;
    receipts
        .iter()
        .map(|receipt| {
            let stored = crate::StoredReceipt {
                receipt: receipt.clone(),
                gas_used: receipt.cumulative_gas_used().saturating_sub(cumulative),
                first_log_index: logs,
            };
            cumulative = receipt.cumulative_gas_used();
            logs += receipt.logs().len() as u64;
            stored
        })
        .collect()
}
