//! A consistent read-only view of the store (one redb read transaction).

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::Decodable;
use alloy_trie::TrieAccount;
use std::sync::{Arc, OnceLock};

use redb::{Database, ReadOnlyTable, ReadTransaction, ReadableTable};

use keel_trie::Nibbles;

use crate::{
    ChainReader, StateChanges, StateReader, StoreError, StoredReceipt, chunked,
    codec::{self, decode, decode_account, decode_receipt_row, decode_senders},
    node_cache::NodeCache,
    recent_blocks::{RecentBlock, RecentBlocks},
    state_diff::StateChangesCodec,
    tables::{self, storage_key, storage_range},
    trie_store::{account_trie_key, storage_trie_key},
};
use keel_types::{BlockBody, Header, Receipt, Transaction};

/// A stored trie node: `(owner, path, rlp)`, owner `None` for the account trie, else
/// keccak256(address).
pub type StoredTrieNode = (Option<B256>, Nibbles, Vec<u8>);

/// A snapshot of the store: everything read through it sees the same committed state, even while
/// a new block is being written. The hot tables (state and trie nodes) are opened once.
pub struct StoreReader {
    /// Keeps the database open as long as the snapshot is in use.
    _db: Arc<Database>,
    txn: ReadTransaction,
    accounts: ReadOnlyTable<&'static [u8; 20], &'static [u8]>,
    storage: ReadOnlyTable<&'static [u8; 52], &'static [u8; 32]>,
    code: ReadOnlyTable<&'static [u8; 32], &'static [u8]>,
    account_trie: ReadOnlyTable<&'static [u8], &'static [u8]>,
    storage_trie: ReadOnlyTable<&'static [u8], &'static [u8]>,
    node_cache: Arc<NodeCache>,
    /// The head, read once: a snapshot's head never changes, and many reads start from it.
    head: OnceLock<Option<(B256, Header)>>,
    recent: Arc<RecentBlocks>,
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader").finish_non_exhaustive()
    }
}

impl StoreReader {
    pub(crate) fn new(
        db: Arc<Database>,
        txn: ReadTransaction,
        node_cache: Arc<NodeCache>,
        recent: Arc<RecentBlocks>,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            node_cache,
            recent,
            head: OnceLock::new(),
            _db: db,
            accounts: txn.open_table(tables::ACCOUNTS)?,
            storage: txn.open_table(tables::STORAGE)?,
            code: txn.open_table(tables::CODE)?,
            account_trie: txn.open_table(tables::ACCOUNT_TRIE)?,
            storage_trie: txn.open_table(tables::STORAGE_TRIE)?,
            txn,
        })
    }

    fn get_bytes(
        &self,
        def: redb::TableDefinition<&[u8; 32], &[u8]>,
        key: &B256,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let table = self.txn.open_table(def)?;
        Ok(table.get(&key.0)?.map(|v| v.value().to_vec()))
    }

    /// Each row of block `hash`'s receipts, decoded by `decode`, in order; `None` for an unknown
    /// block.
    fn receipt_rows<T>(
        &self,
        hash: &B256,
        decode: impl FnMut(&[u8]) -> Result<T, StoreError>,
    ) -> Result<Option<Vec<T>>, StoreError> {
        receipt_rows_in(&self.txn.open_table(tables::RECEIPTS)?, hash, decode)
    }

    /// The read transaction of this snapshot, for the table groups kept in other modules.
    pub(crate) fn read_txn(&self) -> &ReadTransaction {
        &self.txn
    }

    /// The logs of each receipt of block `hash`, in order, without the receipts' blooms (which
    /// cost a keccak per address and topic): what a log query needs. `None` for an unknown block.
    pub fn receipt_logs(
        &self,
        hash: &B256,
    ) -> Result<Option<Vec<Vec<alloy_primitives::Log>>>, StoreError> {
        self.receipt_rows(hash, codec::decode_receipt_logs)
    }

    /// The hashes of block `hash`'s transactions, in order: remembered for recent blocks (the
    /// store keeps those it wrote or read last), else hashed from the body. `None` for an
    /// unknown block.
    pub fn tx_hashes(&self, hash: &B256) -> Result<Option<Arc<[B256]>>, StoreError> {
        if let Some(hashes) = self.recent.tx_hashes(hash) {
            return Ok(Some(hashes));
        }
        let Some(body) = self.body(hash)? else {
            return Ok(None);
        };
        let hashes: Arc<[B256]> = body.transactions.iter().map(|tx| *tx.tx_hash()).collect();
        self.recent.insert_tx_hashes(*hash, hashes.clone());
        Ok(Some(hashes))
    }

    /// A transaction of a recent block that is canonical in this snapshot, with its index: what
    /// a receipt or transaction lookup needs, from memory. `None` when its block isn't held (or
    /// is not canonical here): read the store then.
    pub fn recent_transaction(
        &self,
        tx: &B256,
    ) -> Result<Option<(Arc<RecentBlock>, usize)>, StoreError> {
        let Some((block, index)) = self.recent.transaction(tx) else {
            return Ok(None);
        };
        let canonical = self.canonical_hash(block.header.number)? == Some(block.hash);
        Ok(canonical.then_some((block, index)))
    }

    /// A recent block by hash, held in memory (canonical or not: check if it matters).
    pub fn recent_block(&self, hash: &B256) -> Option<Arc<RecentBlock>> {
        self.recent.block(hash)
    }

    /// Every storage slot of an account (for `keel export`-style dumps and tests; not a hot path).
    pub fn storage_slots(&self, address: &Address) -> Result<Vec<(B256, U256)>, StoreError> {
        let (start, end) = storage_range(address);
        let mut out = Vec::new();
        for entry in self.storage.range::<&[u8; 52]>(&start..=&end)? {
            let (k, v) = entry?;
            let slot = B256::from_slice(&k.value()[20..]);
            out.push((slot, U256::from_be_bytes(*v.value())));
        }
        Ok(out)
    }

    /// Transaction `index` of block `hash`, decoding only that one (the others are skipped by
    /// their RLP length); `None` for an unknown block or an index past its transactions.
    pub fn transaction(&self, hash: &B256, index: u64) -> Result<Option<Transaction>, StoreError> {
        let table = self.txn.open_table(tables::BODIES)?;
        let Some(body) = chunked::get(&table, &hash.0)? else {
            return Ok(None);
        };
        let corrupt = |e: alloy_rlp::Error| StoreError::corrupt("body", e);
        let buf = &mut body.as_slice();
        // body = [transactions, ommers, withdrawals?]: enter the body, then its first item.
        for _ in 0..2 {
            let header = alloy_rlp::Header::decode(buf).map_err(corrupt)?;
            if !header.list || header.payload_length > buf.len() {
                return Err(corrupt(alloy_rlp::Error::UnexpectedString));
            }
            *buf = &buf[..header.payload_length];
        }
        for _ in 0..index {
            if buf.is_empty() {
                return Ok(None);
            }
            let header = alloy_rlp::Header::decode(buf).map_err(corrupt)?;
            let rest = buf
                .get(header.payload_length..)
                .ok_or(corrupt(alloy_rlp::Error::InputTooShort))?;
            *buf = rest;
        }
        if buf.is_empty() {
            return Ok(None);
        }
        Transaction::decode(buf).map(Some).map_err(corrupt)
    }

    /// The sender of transaction `index` of block `hash` (see [`ChainReader::senders`]).
    pub fn sender(&self, hash: &B256, index: u64) -> Result<Option<Address>, StoreError> {
        let table = self.txn.open_table(tables::SENDERS)?;
        let Some(start) = usize::try_from(index).ok().and_then(|i| i.checked_mul(20)) else {
            return Ok(None);
        };
        Ok(chunked::get_range(&table, &hash.0, start, 20)?
            .filter(|v| v.len() == 20)
            .map(|v| Address::from_slice(&v)))
    }

    /// Every stored trie node, `(owner, path, rlp)`: the account trie (owner `None`) in path
    /// order, then the storage tries in (owner, path) order. Not a hot path: for checks and tests.
    pub fn trie_nodes(&self) -> Result<Vec<StoredTrieNode>, StoreError> {
        let mut out = Vec::new();
        let nibbles = |bytes: &[u8]| {
            if bytes.iter().any(|&n| n > 0x0f) {
                return Err(StoreError::corrupt("trie path", format!("{bytes:?}")));
            }
            Ok(Nibbles::from_nibbles_unchecked(bytes))
        };
        for entry in self.account_trie.iter()? {
            let (k, v) = entry?;
            out.push((
                None,
                nibbles(k.value())?,
                codec::decode_trie_node(v.value()),
            ));
        }
        for entry in self.storage_trie.iter()? {
            let (k, v) = entry?;
            let key = k.value();
            let (owner, path) = key
                .split_at_checked(32)
                .ok_or_else(|| StoreError::corrupt("storage trie key", format!("{key:?}")))?;
            out.push((
                Some(B256::from_slice(owner)),
                nibbles(path)?,
                v.value().to_vec(),
            ));
        }
        Ok(out)
    }

    /// The diff that reverts canonical block `block_hash` (`STATE_REVERTS`): for every account
    /// and slot the block changed, its value before the block; for an account whose storage the
    /// block wiped, every slot it held before. `None` for the genesis, a non-canonical block, a
    /// checkpoint (see [`crate::checkpoint`]) or an unknown hash.
    pub fn state_revert(&self, block_hash: &B256) -> Result<Option<StateChanges>, StoreError> {
        let table = self.txn.open_table(tables::STATE_REVERTS)?;
        chunked::get(&table, &block_hash.0)?
            .map(|v| StateChanges::decode_diff(&v))
            .transpose()
    }

    /// The diff that applies side-chain block `block_hash` on its parent's state
    /// (`STATE_DIFFS`); `None` for a canonical or unknown block.
    pub fn state_diff(&self, block_hash: &B256) -> Result<Option<StateChanges>, StoreError> {
        let table = self.txn.open_table(tables::STATE_DIFFS)?;
        chunked::get(&table, &block_hash.0)?
            .map(|v| StateChanges::decode_diff(&v))
            .transpose()
    }

    /// Every account of the flat state (the head state), in address order. Not a hot path: for
    /// dumps, reconstruction checks and tests.
    pub fn iter_accounts(
        &self,
    ) -> Result<impl Iterator<Item = Result<(Address, TrieAccount), StoreError>> + '_, StoreError>
    {
        Ok(self.accounts.iter()?.map(|entry| {
            let (k, v) = entry?;
            let account = decode_account(v.value())?;
            Ok((Address::from(*k.value()), account))
        }))
    }

    /// Every storage slot of the flat state, in (address, slot) order. Not a hot path: for
    /// consistency checks and tests.
    pub fn iter_storage(
        &self,
    ) -> Result<impl Iterator<Item = Result<(Address, B256, U256), StoreError>> + '_, StoreError>
    {
        Ok(self.storage.iter()?.map(|entry| {
            let (k, v) = entry?;
            let key = k.value();
            Ok((
                Address::from_slice(&key[..20]),
                B256::from_slice(&key[20..]),
                U256::from_be_bytes(*v.value()),
            ))
        }))
    }

    /// Number of accounts in the flat state.
    pub fn account_count(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        Ok(self.accounts.len()?)
    }
}

impl ChainReader for StoreReader {
    type Error = StoreError;

    fn header(&self, hash: &B256) -> Result<Option<Header>, StoreError> {
        self.get_bytes(tables::HEADERS, hash)?
            .map(|b| decode("header", &b))
            .transpose()
    }

    fn body(&self, hash: &B256) -> Result<Option<BlockBody>, StoreError> {
        let table = self.txn.open_table(tables::BODIES)?;
        chunked::get(&table, &hash.0)?
            .map(|b| decode("body", &b))
            .transpose()
    }

    fn receipts(&self, hash: &B256) -> Result<Option<Vec<Receipt>>, StoreError> {
        self.receipt_rows(hash, |row| Ok(decode_receipt_row(row)?.receipt))
    }

    fn receipt(&self, hash: &B256, index: u64) -> Result<Option<StoredReceipt>, StoreError> {
        let Ok(index) = u32::try_from(index) else {
            return Ok(None);
        };
        let table = self.txn.open_table(tables::RECEIPTS)?;
        let corrupt = |reason: String| StoreError::corrupt("receipt", format!("{hash}: {reason}"));
        // The count and the end offsets of the row before this one and of this one.
        let Some(head) = chunked::get_range(&table, &hash.0, 0, 4)? else {
            return Ok(None);
        };
        let count = split_u32(&head)
            .ok_or_else(|| corrupt("no count".into()))?
            .0;
        if index >= count {
            return Ok(None);
        }
        let i = index as usize;
        let (start, end) = if i == 0 {
            let ends = chunked::get_range(&table, &hash.0, 4, 4)?.unwrap_or_default();
            (
                0,
                split_u32(&ends)
                    .ok_or_else(|| corrupt("short index".into()))?
                    .0,
            )
        } else {
            let ends = chunked::get_range(&table, &hash.0, 4 * i, 8)?.unwrap_or_default();
            let (start, rest) = split_u32(&ends).ok_or_else(|| corrupt("short index".into()))?;
            let (end, _) = split_u32(rest).ok_or_else(|| corrupt("short index".into()))?;
            (start, end)
        };
        let len = end
            .checked_sub(start)
            .ok_or_else(|| corrupt(format!("row {index} ends before it starts")))?;
        let data = 4 + 4 * count as usize + start as usize;
        let row = chunked::get_range(&table, &hash.0, data, len as usize)?.unwrap_or_default();
        if row.len() != len as usize {
            return Err(corrupt(format!("row {index} is cut short")));
        }
        decode_receipt_row(&row).map(Some)
    }

    fn senders(&self, hash: &B256) -> Result<Option<Vec<Address>>, StoreError> {
        let table = self.txn.open_table(tables::SENDERS)?;
        chunked::get(&table, &hash.0)?
            .map(|b| decode_senders(&b))
            .transpose()
    }

    fn canonical_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        let table = self.txn.open_table(tables::CANONICAL)?;
        Ok(table.get(number)?.map(|v| B256::from(*v.value())))
    }

    fn block_number(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        let table = self.txn.open_table(tables::BLOCK_NUMBERS)?;
        Ok(table.get(&hash.0)?.map(|v| v.value()))
    }

    fn tx_location(&self, tx_hash: &B256) -> Result<Option<(B256, u64)>, StoreError> {
        let table = self.txn.open_table(tables::TX_LOOKUP)?;
        let Some((number, index)) = table.get(&tx_hash.0)?.map(|v| v.value()) else {
            return Ok(None);
        };
        let hash = self.canonical_hash(number)?.ok_or_else(|| {
            StoreError::corrupt(
                "tx index",
                format!("{tx_hash} is in block {number}, which is not canonical"),
            )
        })?;
        Ok(Some((hash, u64::from(index))))
    }

    fn head_hash(&self) -> Result<Option<B256>, StoreError> {
        meta_hash(&self.txn, tables::META_HEAD)
    }

    fn head(&self) -> Result<Option<(B256, Header)>, StoreError> {
        if let Some(head) = self.head.get() {
            return Ok(head.clone());
        }
        let head = match self.head_hash()? {
            Some(hash) => {
                let header = self
                    .header(&hash)?
                    .ok_or_else(|| StoreError::corrupt("head", format!("header {hash} missing")))?;
                Some((hash, header))
            }
            None => None,
        };
        Ok(self.head.get_or_init(|| head).clone())
    }

    fn genesis_hash(&self) -> Result<Option<B256>, StoreError> {
        meta_hash(&self.txn, tables::META_GENESIS)
    }
}

fn meta_hash(txn: &ReadTransaction, key: &str) -> Result<Option<B256>, StoreError> {
    let table = txn.open_table(tables::META)?;
    let Some(v) = table.get(key)? else {
        return Ok(None);
    };
    let bytes = v.value();
    if bytes.len() != 32 {
        return Err(StoreError::corrupt(
            "meta",
            format!("{key} has {} bytes", bytes.len()),
        ));
    }
    Ok(Some(B256::from_slice(bytes)))
}

impl StateReader for StoreReader {
    type Error = StoreError;

    fn account(&self, address: &Address) -> Result<Option<TrieAccount>, StoreError> {
        let Some(v) = self.accounts.get(&address.0.0)? else {
            return Ok(None);
        };
        decode_account(v.value()).map(Some)
    }

    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StoreError> {
        let key = storage_key(address, slot);
        Ok(self
            .storage
            .get(&key)?
            .map_or(U256::ZERO, |v| U256::from_be_bytes(*v.value())))
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .code
            .get(&code_hash.0)?
            .map(|v| Bytes::copy_from_slice(v.value())))
    }
}

/// The head's tries by path (`ACCOUNT_TRIE`, `STORAGE_TRIE`), each node checked against the hash
/// its parent references: a trie opened at any other root fails with `StaleNode` instead of
/// reading wrong nodes (older states go through [`StoreReader::state_after`]).
impl keel_trie::NodeStore for StoreReader {
    fn node(
        &self,
        owner: Option<&B256>,
        path: &Nibbles,
        hash: &B256,
    ) -> Result<Option<Vec<u8>>, keel_trie::TrieError> {
        let store_error = |e: redb::StorageError| keel_trie::TrieError::Store(e.to_string());
        let v = match owner {
            None => {
                if let Some(rlp) = self.node_cache.get(path, hash) {
                    return Ok(Some(rlp));
                }
                let v = self
                    .account_trie
                    .get(account_trie_key(path).as_slice())
                    .map_err(store_error)?;
                let Some(v) = v else { return Ok(None) };
                let rlp =
                    keel_trie::check_node(owner, path, hash, codec::decode_trie_node(v.value()))?;
                self.node_cache.insert(path, *hash, &rlp);
                return Ok(Some(rlp));
            }
            Some(owner) => self
                .storage_trie
                .get(storage_trie_key(owner, path).as_slice())
                .map_err(store_error)?,
        };
        v.map(|v| keel_trie::check_node(owner, path, hash, v.value().to_vec()))
            .transpose()
    }
}

impl StoreReader {
    /// Check that the trie tables hold exactly the stored nodes of the head's tries rebuilt from
    /// the flat state (nothing missing, no garbage) and that their root is the head's state root.
    /// Rebuilds every trie: for tests and offline checks, not for a running node.
    pub fn verify_tries(&self) -> Result<(), StoreError> {
        use alloy_primitives::keccak256;
        use keel_trie::{EMPTY_ROOT_HASH, EmptyNodeStore, Trie};

        let mismatch = |reason: String| StoreError::corrupt("trie tables", reason);
        let mut expected = Vec::new();
        let mut account_trie = Trie::new(EmptyNodeStore, EMPTY_ROOT_HASH);
        for entry in self.iter_accounts()? {
            let (address, account) = entry?;
            let owner = keccak256(address);
            let mut storage = Trie::new_storage(EmptyNodeStore, owner, EMPTY_ROOT_HASH);
            for (slot, value) in self.storage_slots(&address)? {
                storage.insert(keccak256(slot).as_slice(), alloy_rlp::encode(value))?;
            }
            let updates = storage.commit();
            if updates.root != account.storage_root {
                return Err(mismatch(format!(
                    "storage of {address} has root {}, its account says {}",
                    updates.root, account.storage_root
                )));
            }
            expected.extend(
                updates
                    .nodes
                    .into_iter()
                    .map(|(path, _, rlp)| (Some(owner), path, rlp)),
            );
            account_trie.insert(owner.as_slice(), alloy_rlp::encode(account))?;
        }
        let updates = account_trie.commit();
        let head_root = self.head()?.map_or(EMPTY_ROOT_HASH, |(_, h)| h.state_root);
        if updates.root != head_root {
            return Err(mismatch(format!(
                "the flat state has root {}, the head {head_root}",
                updates.root
            )));
        }
        expected.extend(
            updates
                .nodes
                .into_iter()
                .map(|(path, _, rlp)| (None, path, rlp)),
        );
        expected.sort();
        let mut stored = self.trie_nodes()?;
        stored.sort();
        if stored != expected {
            let missing = expected.iter().filter(|n| !stored.contains(n)).count();
            let extra = stored.iter().filter(|n| !expected.contains(n)).count();
            return Err(mismatch(format!(
                "{} stored nodes, {} expected: {missing} missing, {extra} not part of the head's \
                 tries",
                stored.len(),
                expected.len()
            )));
        }
        Ok(())
    }
}

/// A big-endian `u32` off the front of `bytes`, and the rest.
fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*head), rest))
}

/// Each row of block `hash`'s receipts in `table` (`RECEIPTS`, read or write transaction),
/// decoded by `decode`, in order; `None` for an unknown block.
pub(crate) fn receipt_rows_in<T>(
    table: &impl ReadableTable<(&'static [u8; 32], u16), &'static [u8]>,
    hash: &B256,
    mut decode: impl FnMut(&[u8]) -> Result<T, StoreError>,
) -> Result<Option<Vec<T>>, StoreError> {
    let Some(value) = chunked::get(table, &hash.0)? else {
        return Ok(None);
    };
    let corrupt = |reason: String| StoreError::corrupt("receipt", format!("{hash}: {reason}"));
    let (count, rest) = split_u32(&value).ok_or_else(|| corrupt("no count".into()))?;
    let index_len = (count as usize)
        .checked_mul(4)
        .filter(|&n| n <= rest.len())
        .ok_or_else(|| corrupt(format!("{count} receipts in {} bytes", value.len())))?;
    let (ends, rows) = rest.split_at(index_len);
    let mut out = Vec::with_capacity(count as usize);
    let mut start = 0usize;
    for end in ends.chunks_exact(4) {
        let end = u32::from_be_bytes([end[0], end[1], end[2], end[3]]) as usize;
        let row = rows
            .get(start..end)
            .ok_or_else(|| corrupt(format!("row {start}..{end} of {}", rows.len())))?;
        out.push(decode(row)?);
        start = end;
    }
    if start != rows.len() {
        return Err(corrupt("trailing bytes".into()));
    }
    Ok(Some(out))
}
