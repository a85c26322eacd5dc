//! The database handle and the one way to write: a whole block per write transaction.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::Encodable;
use alloy_trie::TrieAccount;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, backends::InMemoryBackend};

use crate::{
    StoreError, StoreReader,
    tables::{self, storage_key},
};
use keel_types::{BlockBody, Header, Receipt};

/// How the state changed in one block, as final values per key.
#[derive(Debug, Default, Clone)]
pub struct StateChanges {
    /// New account records; `None` deletes the account (and its storage).
    pub accounts: Vec<(Address, Option<TrieAccount>)>,
    /// Accounts whose whole storage was cleared before `storage` is applied (self-destructed and
    /// re-created in the same block).
    pub wiped_storage: Vec<Address>,
    /// Final slot values; zero deletes the slot.
    pub storage: Vec<(Address, B256, U256)>,
    /// New bytecode by hash.
    pub codes: Vec<(B256, Bytes)>,
}

/// Everything one block writes. [`Store::write_block`] applies it atomically.
#[derive(Debug)]
pub struct BlockWrite<'a> {
    pub hash: B256,
    pub header: &'a Header,
    pub body: &'a BlockBody,
    pub receipts: &'a [Receipt],
    /// Hashes of `body.transactions`, in order (computed once by the caller).
    pub tx_hashes: &'a [B256],
    pub state: &'a StateChanges,
    /// New trie nodes (account trie and storage tries) by hash.
    pub trie_nodes: &'a [(B256, Vec<u8>)],
}

/// The node's database. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// When set, block writes are atomic but not fsynced; [`Store::sync`] makes them durable.
    deferred_sync: Arc<AtomicBool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Open (or create) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::builder().set_cache_size(512 << 20).create(path)?;
        Self::init(db)
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
            txn.open_table(tables::CANONICAL)?;
            txn.open_table(tables::BLOCK_NUMBERS)?;
            txn.open_table(tables::TX_LOOKUP)?;
            txn.open_table(tables::ACCOUNTS)?;
            txn.open_table(tables::STORAGE)?;
            txn.open_table(tables::CODE)?;
            txn.open_table(tables::TRIE_NODES)?;
            let mut meta = txn.open_table(tables::META)?;
            let version = tables::SCHEMA_VERSION.to_be_bytes();
            let existing = meta.get(tables::META_SCHEMA)?.map(|v| v.value().to_vec());
            match existing {
                None => {
                    meta.insert(tables::META_SCHEMA, version.as_slice())?;
                }
                Some(found) if found == version => {}
                Some(found) => {
                    return Err(StoreError::corrupt(
                        "schema",
                        format!("datadir has schema {found:?}, this keel expects {version:?}"),
                    ));
                }
            }
        }
        txn.commit()?;
        Ok(Self {
            db: Arc::new(db),
            deferred_sync: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A consistent snapshot for reading. It keeps the database open while it lives.
    pub fn reader(&self) -> Result<StoreReader, StoreError> {
        StoreReader::new(self.db.clone(), self.db.begin_read()?)
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
        Ok(())
    }

    /// Write a block and all its effects in one transaction and make it the head. The block must
    /// be the genesis of an empty store or extend the current head; otherwise nothing is written.
    pub fn write_block(&self, w: &BlockWrite<'_>) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        if self.deferred_sync.load(Ordering::Relaxed) {
            txn.set_durability(Durability::None)
                .map_err(|e| StoreError::corrupt("durability", e))?;
        }
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
            w.header.encode(&mut buf);
            txn.open_table(tables::HEADERS)?
                .insert(&w.hash.0, buf.as_slice())?;
            buf.clear();
            w.body.encode(&mut buf);
            txn.open_table(tables::BODIES)?
                .insert(&w.hash.0, buf.as_slice())?;
            buf.clear();
            alloy_rlp::encode_list(w.receipts, &mut buf);
            txn.open_table(tables::RECEIPTS)?
                .insert(&w.hash.0, buf.as_slice())?;
            txn.open_table(tables::CANONICAL)?
                .insert(w.header.number, &w.hash.0)?;
            txn.open_table(tables::BLOCK_NUMBERS)?
                .insert(&w.hash.0, w.header.number)?;
            {
                let mut lookup = txn.open_table(tables::TX_LOOKUP)?;
                for (i, tx_hash) in w.tx_hashes.iter().enumerate() {
                    lookup.insert(&tx_hash.0, (&w.hash.0, i as u64))?;
                }
            }

            let state = w.state;
            let mut accounts = txn.open_table(tables::ACCOUNTS)?;
            let mut storage = txn.open_table(tables::STORAGE)?;
            let deleted = state
                .accounts
                .iter()
                .filter(|(_, a)| a.is_none())
                .map(|(a, _)| a);
            for address in state.wiped_storage.iter().chain(deleted) {
                let start = storage_key(address, &B256::ZERO);
                let end = storage_key(address, &B256::repeat_byte(0xff));
                let keys: Vec<[u8; 52]> = storage
                    .range::<&[u8; 52]>(&start..=&end)?
                    .map(|e| e.map(|(k, _)| *k.value()))
                    .collect::<Result<_, _>>()?;
                for k in &keys {
                    storage.remove(k)?;
                }
            }
            for (address, account) in &state.accounts {
                match account {
                    Some(account) => {
                        buf.clear();
                        account.encode(&mut buf);
                        accounts.insert(&address.0.0, buf.as_slice())?;
                    }
                    None => {
                        accounts.remove(&address.0.0)?;
                    }
                }
            }
            for (address, slot, value) in &state.storage {
                let key = storage_key(address, slot);
                if value.is_zero() {
                    storage.remove(&key)?;
                } else {
                    storage.insert(&key, &value.to_be_bytes::<32>())?;
                }
            }
            let mut code = txn.open_table(tables::CODE)?;
            for (hash, bytes) in &state.codes {
                code.insert(&hash.0, bytes.as_ref())?;
            }
            let mut nodes = txn.open_table(tables::TRIE_NODES)?;
            for (hash, rlp) in w.trie_nodes {
                nodes.insert(&hash.0, rlp.as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}
