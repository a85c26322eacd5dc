//! The address index (`--rpc.address-index`): for each address, the canonical transactions that
//! involve it as **sender**, **recipient** (`to`) or **created contract** (a successful
//! top-level creation), as `(block number, index in block)` entries, for Otterscan's
//! `ots_searchTransactions*` and friends. Internal calls and log addresses are not indexed.
//!
//! Layout: one table, `address ‖ block number ‖ index` keys without values ([`ADDRESS_INDEX`]),
//! so an address's history is one key range, in chain order; and one progress marker in `META`
//! ([`META_ADDRESS_INDEX_NEXT`]): every canonical block **below** it is indexed, none at or above
//! it is.
//!
//! Consistency: when the index is on ([`Store::set_address_index`]) and caught up (the marker is
//! the next block's number), a block's entries are written in the block's own write transaction;
//! a block written while the index lags (or is off) is left to [`Store::index_addresses`], which
//! indexes stored canonical blocks from the marker up, a few at a time, each step one write
//! transaction that moves the marker with the entries. Unwinding a canonical block (a reorg)
//! removes its entries and lowers the marker, whether the index is on or not, so the index never
//! names a transaction that is not canonical.

use alloy_consensus::Transaction as _;
use alloy_primitives::Address;
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};

use crate::{
    ChainReader, Store, StoreError, StoreReader, chunked,
    codec::{decode, decode_receipt_row, decode_senders},
    reader::receipt_rows_in,
    tables,
};
use keel_types::{BlockBody, Transaction};

/// address ‖ block number ‖ index in block → nothing: the address index. Created at open (an
/// older datadir gets it empty, with no marker: nothing indexed).
pub const ADDRESS_INDEX: TableDefinition<(&[u8; 20], u64, u32), ()> =
    TableDefinition::new("address_index");
/// `META` key of the address index's progress: the number of the first canonical block not
/// indexed (u64, big-endian); absent = 0.
pub const META_ADDRESS_INDEX_NEXT: &str = "address_index_next";

/// The addresses a transaction is indexed under: its sender, its recipient, and the contract it
/// created if it succeeded. May repeat one (a transfer to oneself); entries are keys, so a repeat
/// is written once.
pub fn transaction_addresses(
    tx: &Transaction,
    sender: Address,
    succeeded: bool,
) -> impl Iterator<Item = Address> {
    let created = (tx.is_create() && succeeded).then(|| sender.create(tx.nonce()));
    [Some(sender), tx.to(), created].into_iter().flatten()
}

/// Where the index stands against the chain (see [`Store::address_index_progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressIndexProgress {
    /// The first canonical block not indexed: every block below it is.
    pub next: u64,
    /// The head's number (`None`: an empty store).
    pub head: Option<u64>,
}

impl AddressIndexProgress {
    /// Whether every canonical block is indexed.
    pub fn caught_up(&self) -> bool {
        self.head.is_none_or(|head| self.next > head)
    }
}

/// One page of an address's history (see [`StoreReader::address_page`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressPage {
    /// `(block number, index in block)`, in the order searched (descending for a search back,
    /// ascending for a search forward); whole blocks only.
    pub entries: Vec<(u64, u32)>,
    /// Whether the address has more entries past the last block of the page (in the direction
    /// searched).
    pub more: bool,
}

/// Which way [`StoreReader::address_page`] searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From a block down to the genesis.
    Back,
    /// From a block up to the head.
    Forward,
}

pub(crate) fn read_next(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<u64, StoreError> {
    let Some(value) = meta.get(META_ADDRESS_INDEX_NEXT)? else {
        return Ok(0);
    };
    <[u8; 8]>::try_from(value.value())
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::corrupt("meta", format!("{META_ADDRESS_INDEX_NEXT} length")))
}

pub(crate) fn next_in(txn: &WriteTransaction) -> Result<u64, StoreError> {
    read_next(&txn.open_table(tables::META)?)
}

pub(crate) fn set_next(txn: &WriteTransaction, next: u64) -> Result<(), StoreError> {
    txn.open_table(tables::META)?
        .insert(META_ADDRESS_INDEX_NEXT, next.to_be_bytes().as_slice())?;
    Ok(())
}

/// Write the entries of block `number`: its transactions, their senders and whether each
/// succeeded (its receipt's status).
pub(crate) fn index_block(
    txn: &WriteTransaction,
    number: u64,
    txs: &[Transaction],
    senders: &[Address],
    succeeded: impl IntoIterator<Item = bool>,
) -> Result<(), StoreError> {
    let mut index = txn.open_table(ADDRESS_INDEX)?;
    for (i, ((tx, sender), ok)) in txs.iter().zip(senders).zip(succeeded).enumerate() {
        let position = u32::try_from(i)
            .map_err(|_| StoreError::corrupt("block", format!("{i} transactions")))?;
        for address in transaction_addresses(tx, *sender, ok) {
            index.insert((&address.0.0, number, position), ())?;
        }
    }
    Ok(())
}

/// Remove the entries of canonical block `number` (stored under `hash`) if it is indexed, and
/// lower the marker to it: called for each block a reorg unwinds, head first.
pub(crate) fn unindex_block(
    txn: &WriteTransaction,
    number: u64,
    hash: &alloy_primitives::B256,
) -> Result<(), StoreError> {
    let next = next_in(txn)?;
    if number >= next {
        return Ok(());
    }
    let (txs, senders) = block_txs_and_senders(txn, hash)?;
    let mut index = txn.open_table(ADDRESS_INDEX)?;
    for (i, (tx, sender)) in txs.iter().zip(&senders).enumerate() {
        let position = u32::try_from(i)
            .map_err(|_| StoreError::corrupt("block", format!("{i} transactions")))?;
        // The created address whether or not the creation succeeded: removing an absent key is
        // harmless, and the receipts need not be read.
        for address in transaction_addresses(tx, *sender, true) {
            index.remove((&address.0.0, number, position))?;
        }
    }
    drop(index);
    set_next(txn, number)
}

fn block_txs_and_senders(
    txn: &WriteTransaction,
    hash: &alloy_primitives::B256,
) -> Result<(Vec<Transaction>, Vec<Address>), StoreError> {
    let body = chunked::get(&txn.open_table(tables::BODIES)?, &hash.0)?
        .ok_or_else(|| StoreError::corrupt("body", format!("{hash} missing")))?;
    let body: BlockBody = decode("body", &body)?;
    let senders = chunked::get(&txn.open_table(tables::SENDERS)?, &hash.0)?
        .ok_or_else(|| StoreError::corrupt("senders", format!("{hash} missing")))?;
    let senders = decode_senders(&senders)?;
    if senders.len() != body.transactions.len() {
        return Err(StoreError::corrupt(
            "senders",
            format!(
                "{hash}: {} for {} transactions",
                senders.len(),
                body.transactions.len()
            ),
        ));
    }
    Ok((body.transactions, senders))
}

impl Store {
    /// Turn the address index on or off for the blocks written from now on (see the module
    /// docs). Off by default. Turning it on does not fill it: [`Store::index_addresses`] does.
    pub fn set_address_index(&self, on: bool) {
        self.address_index_flag()
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the address index is on (see [`Store::set_address_index`]).
    pub fn address_index_enabled(&self) -> bool {
        self.address_index_flag()
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How far the address index has got.
    pub fn address_index_progress(&self) -> Result<AddressIndexProgress, StoreError> {
        self.reader()?.address_index_progress()
    }

    /// Index up to `max_blocks` stored canonical blocks from the marker up, in one write
    /// transaction that also moves the marker; returns where the index then stands. Blocks
    /// missing from the canonical index (below a checkpoint: not stored) are skipped. Call it
    /// until [`AddressIndexProgress::caught_up`]; safe alongside block writes (each is its own
    /// write transaction, and a block write indexes its block only when the marker is at it).
    pub fn index_addresses(&self, max_blocks: u64) -> Result<AddressIndexProgress, StoreError> {
        let txn = self.database().begin_write()?;
        let progress = {
            let head = crate::store::read_head_number(&txn)?;
            let mut next = next_in(&txn)?;
            if let Some(head) = head {
                let end = next.saturating_add(max_blocks.max(1)).min(head + 1);
                while next < end {
                    let hash = txn
                        .open_table(tables::CANONICAL)?
                        .get(next)?
                        .map(|v| alloy_primitives::B256::from(*v.value()));
                    if let Some(hash) = hash {
                        let (txs, senders) = block_txs_and_senders(&txn, &hash)?;
                        let statuses =
                            receipt_rows_in(&txn.open_table(tables::RECEIPTS)?, &hash, |row| {
                                Ok(decode_receipt_row(row)?.receipt.status())
                            })?
                            .filter(|statuses| statuses.len() == txs.len())
                            .ok_or_else(|| {
                                StoreError::corrupt("receipts", format!("{hash}: missing"))
                            })?;
                        index_block(&txn, next, &txs, &senders, statuses)?;
                    }
                    next += 1;
                }
                set_next(&txn, next)?;
            }
            AddressIndexProgress { next, head }
        };
        txn.commit()?;
        self.committed();
        Ok(progress)
    }
}

impl StoreReader {
    /// How far the address index has got in this snapshot.
    pub fn address_index_progress(&self) -> Result<AddressIndexProgress, StoreError> {
        let next = read_next(&self.read_txn().open_table(tables::META)?)?;
        let head = self.head()?.map(|(_, header)| header.number);
        Ok(AddressIndexProgress { next, head })
    }

    /// One page of `address`'s indexed history from block `from` (included) in `direction`:
    /// whole blocks, until at least `page_size` entries are taken (fewer at the end of the
    /// history), as erigon's `ots_searchTransactions*` pages.
    pub fn address_page(
        &self,
        address: &Address,
        from: u64,
        direction: Direction,
        page_size: usize,
    ) -> Result<AddressPage, StoreError> {
        address_page_in(self.read_txn(), address, from, direction, page_size)
    }

    /// The canonical (signed, not privileged) transaction `address` sent with `nonce`, by the
    /// address index: `(block number, index)`, `None` if it sent none with that nonce. A binary search over the
    /// address's entries (a sender's nonces grow along the chain): at each probe, the first
    /// transaction from the probe on that `address` sent is read; only the entries' keys are
    /// read in full.
    pub fn address_sent_nonce(
        &self,
        address: &Address,
        nonce: u64,
    ) -> Result<Option<(u64, u32)>, StoreError> {
        let index = self.read_txn().open_table(ADDRESS_INDEX)?;
        let mut keys = Vec::new();
        for entry in index.range((&address.0.0, 0, 0)..=(&address.0.0, u64::MAX, u32::MAX))? {
            let (key, _) = entry?;
            let (_, number, position) = key.value();
            keys.push((number, position));
        }
        // The first transaction at or after `from` in `keys` that `address` sent, with its
        // nonce and where it is in `keys`.
        let sent_from = |from: usize| -> Result<Option<(usize, u64)>, StoreError> {
            for (at, &(number, position)) in keys.iter().enumerate().skip(from) {
                let hash = self.canonical_hash(number)?.ok_or_else(|| {
                    StoreError::corrupt("address index", format!("block {number} not canonical"))
                })?;
                if self.sender(&hash, u64::from(position))? != Some(*address) {
                    continue;
                }
                let tx = self
                    .transaction(&hash, u64::from(position))?
                    .ok_or_else(|| {
                        StoreError::corrupt(
                            "address index",
                            format!("{number}[{position}] missing"),
                        )
                    })?;
                // A privileged transaction's "nonce" is the L1 bridge's id, not the sender's.
                if matches!(tx, Transaction::Privileged(_)) {
                    continue;
                }
                return Ok(Some((at, tx.nonce())));
            }
            Ok(None)
        };
        let mut low = 0usize;
        let mut high = keys.len();
        while low < high {
            let mid = low + (high - low) / 2;
            match sent_from(mid)? {
                None => high = mid,
                Some((at, found)) => match found.cmp(&nonce) {
                    std::cmp::Ordering::Equal => return Ok(keys.get(at).copied()),
                    std::cmp::Ordering::Less => low = at + 1,
                    std::cmp::Ordering::Greater => high = mid,
                },
            }
        }
        Ok(None)
    }

    /// The first entry of `address` in the index, `(block number, index)`: for a contract, the
    /// transaction that created it if it was created by a top-level creation.
    pub fn address_first(&self, address: &Address) -> Result<Option<(u64, u32)>, StoreError> {
        let index = self.read_txn().open_table(ADDRESS_INDEX)?;
        let mut range = index.range((&address.0.0, 0, 0)..=(&address.0.0, u64::MAX, u32::MAX))?;
        match range.next() {
            Some(entry) => {
                let (key, _) = entry?;
                let (_, number, position) = key.value();
                Ok(Some((number, position)))
            }
            None => Ok(None),
        }
    }
}

fn address_page_in(
    txn: &ReadTransaction,
    address: &Address,
    from: u64,
    direction: Direction,
    page_size: usize,
) -> Result<AddressPage, StoreError> {
    let index = txn.open_table(ADDRESS_INDEX)?;
    let key = &address.0.0;
    let range = match direction {
        Direction::Back => index.range((key, 0, 0)..=(key, from, u32::MAX))?,
        Direction::Forward => index.range((key, from, 0)..=(key, u64::MAX, u32::MAX))?,
    };
    let keys = range.map(|entry| {
        entry
            .map(|(k, _)| {
                let (_, number, position) = k.value();
                (number, position)
            })
            .map_err(StoreError::from)
    });
    match direction {
        Direction::Back => take_page(keys.rev(), page_size),
        Direction::Forward => take_page(keys, page_size),
    }
}

/// Entries from `keys` in order, whole blocks, until at least `page_size` are taken.
fn take_page(
    keys: impl Iterator<Item = Result<(u64, u32), StoreError>>,
    page_size: usize,
) -> Result<AddressPage, StoreError> {
    let mut entries: Vec<(u64, u32)> = Vec::new();
    for key in keys {
        let (number, position) = key?;
        // Full once at least `page_size` are taken and the next entry is in another block.
        if entries.len() >= page_size.max(1)
            && entries.last().is_some_and(|&(last, _)| last != number)
        {
            return Ok(AddressPage {
                entries,
                more: true,
            });
        }
        entries.push((number, position));
    }
    Ok(AddressPage {
        entries,
        more: false,
    })
}
