//! Block state diffs: applying one to the flat state, and getting back the diff that undoes it.
//!
//! Every canonical block keeps the diff that reverts it (so the head can be unwound on a reorg);
//! every non-canonical block keeps the diff that applies it (so it can become canonical later).
//! Applying a diff returns its inverse, read from the flat state just before it is overwritten, so
//! one function serves both directions.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rlp::{Encodable, RlpDecodable, RlpEncodable};
use redb::{ReadableTable, Table};

use crate::{
    StateChanges, StoreError,
    codec::{decode, decode_account, encode_account},
    tables::{storage_key, storage_range},
};

/// An account in a diff: `account` is [`codec::encode_account`]'s form, or empty for an account
/// that does not exist (a new recipient's revert is then 23 bytes).
#[derive(RlpEncodable, RlpDecodable)]
struct AccountEntry {
    address: Address,
    account: Bytes,
}

#[derive(RlpEncodable, RlpDecodable)]
struct SlotEntry {
    address: Address,
    slot: B256,
    value: U256,
}

#[derive(RlpEncodable, RlpDecodable)]
struct DiffRlp {
    accounts: Vec<AccountEntry>,
    wiped: Vec<Address>,
    storage: Vec<SlotEntry>,
}

/// Encoding and decoding of [`StateChanges`] for the store.
pub(crate) trait StateChangesCodec: Sized {
    /// RLP encoding of the account and storage parts (codes are not kept: see
    /// [`StateChanges::codes`]).
    fn encode_diff(&self, out: &mut Vec<u8>);
    fn decode_diff(bytes: &[u8]) -> Result<Self, StoreError>;
}

impl StateChangesCodec for StateChanges {
    fn encode_diff(&self, out: &mut Vec<u8>) {
        DiffRlp {
            accounts: self
                .accounts
                .iter()
                .map(|(address, account)| AccountEntry {
                    address: *address,
                    account: account
                        .as_ref()
                        .map(|account| {
                            let mut out = Vec::with_capacity(16);
                            encode_account(account, &mut out);
                            Bytes::from(out)
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            wiped: self.wiped_storage.clone(),
            storage: self
                .storage
                .iter()
                .map(|&(address, slot, value)| SlotEntry {
                    address,
                    slot,
                    value,
                })
                .collect(),
        }
        .encode(out);
    }

    fn decode_diff(bytes: &[u8]) -> Result<Self, StoreError> {
        let diff: DiffRlp = decode("state diff", bytes)?;
        Ok(Self {
            accounts: diff
                .accounts
                .into_iter()
                .map(|e| {
                    let account = (!e.account.is_empty())
                        .then(|| decode_account(&e.account))
                        .transpose()?;
                    Ok((e.address, account))
                })
                .collect::<Result<_, StoreError>>()?,
            wiped_storage: diff.wiped,
            storage: diff
                .storage
                .into_iter()
                .map(|e| (e.address, e.slot, e.value))
                .collect(),
            codes: Vec::new(),
        })
    }
}

type AccountsTable<'t> = Table<'t, &'static [u8; 20], &'static [u8]>;
type StorageTable<'t> = Table<'t, &'static [u8; 52], &'static [u8; 32]>;

/// Apply `changes` to the flat state and return the diff that undoes them.
pub(crate) fn apply(
    accounts: &mut AccountsTable<'_>,
    storage: &mut StorageTable<'_>,
    changes: &StateChanges,
    buf: &mut Vec<u8>,
) -> Result<StateChanges, StoreError> {
    let mut inverse = StateChanges::default();

    // 1. Clear storage, remembering every slot so the inverse can put it back.
    let deleted = changes
        .accounts
        .iter()
        .filter(|(_, a)| a.is_none())
        .map(|(a, _)| a);
    for address in changes.wiped_storage.iter().chain(deleted) {
        let (start, end) = storage_range(address);
        let old: Vec<([u8; 52], [u8; 32])> = storage
            .range::<&[u8; 52]>(&start..=&end)?
            .map(|e| e.map(|(k, v)| (*k.value(), *v.value())))
            .collect::<Result<_, _>>()?;
        for (key, value) in &old {
            storage.remove(key)?;
            inverse.storage.push((
                *address,
                B256::from_slice(&key[20..]),
                U256::from_be_bytes(*value),
            ));
        }
        inverse.wiped_storage.push(*address);
    }

    // 2. Accounts.
    for (address, account) in &changes.accounts {
        let old = match account {
            Some(account) => {
                buf.clear();
                encode_account(account, buf);
                accounts
                    .insert(&address.0.0, buf.as_slice())?
                    .map(|v| v.value().to_vec())
            }
            None => accounts.remove(&address.0.0)?.map(|v| v.value().to_vec()),
        };
        let old = old.map(|bytes| decode_account(&bytes)).transpose()?;
        inverse.accounts.push((*address, old));
    }

    // 3. Slots. The inverse of a slot in wiped storage is already covered by the wipe above.
    for (address, slot, value) in &changes.storage {
        let key = storage_key(address, slot);
        let old = if value.is_zero() {
            storage.remove(&key)?.map(|v| *v.value())
        } else {
            storage
                .insert(&key, &value.to_be_bytes::<32>())?
                .map(|v| *v.value())
        };
        if !inverse.wiped_storage.contains(address) {
            inverse
                .storage
                .push((*address, *slot, old.map_or(U256::ZERO, U256::from_be_bytes)));
        }
    }
    Ok(inverse)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use alloy_primitives::address;
    use alloy_trie::TrieAccount;
    use proptest::prelude::*;
    use redb::{Database, ReadableTable, TableDefinition, backends::InMemoryBackend};

    use super::*;

    const ACCOUNTS: TableDefinition<&[u8; 20], &[u8]> = TableDefinition::new("a");
    const STORAGE: TableDefinition<&[u8; 52], &[u8; 32]> = TableDefinition::new("s");

    type Flat = (BTreeMap<[u8; 20], Vec<u8>>, BTreeMap<[u8; 52], [u8; 32]>);

    const ADDRESSES: [Address; 4] = [
        address!("0x0000000000000000000000000000000000000001"),
        address!("0x0000000000000000000000000000000000000002"),
        address!("0x00000000000000000000000000000000000000ff"),
        address!("0xffffffffffffffffffffffffffffffffffffffff"),
    ];

    fn account(n: u64) -> TrieAccount {
        TrieAccount {
            nonce: n,
            balance: U256::from(n * 7),
            ..Default::default()
        }
    }

    fn dump(db: &Database) -> Flat {
        let txn = db.begin_write().unwrap();
        let flat = {
            let a = txn.open_table(ACCOUNTS).unwrap();
            let s = txn.open_table(STORAGE).unwrap();
            (
                a.iter()
                    .unwrap()
                    .map(|e| e.unwrap())
                    .map(|(k, v)| (*k.value(), v.value().to_vec()))
                    .collect(),
                s.iter()
                    .unwrap()
                    .map(|e| e.unwrap())
                    .map(|(k, v)| (*k.value(), *v.value()))
                    .collect(),
            )
        };
        txn.abort().unwrap();
        flat
    }

    fn apply_in(db: &Database, changes: &StateChanges) -> StateChanges {
        let txn = db.begin_write().unwrap();
        let inverse = {
            let mut a = txn.open_table(ACCOUNTS).unwrap();
            let mut s = txn.open_table(STORAGE).unwrap();
            apply(&mut a, &mut s, changes, &mut Vec::new()).unwrap()
        };
        txn.commit().unwrap();
        inverse
    }

    /// A diff over a few addresses and slots, with deletions, wipes and zero writes; final values
    /// per key, as a block produces them.
    fn changes() -> impl Strategy<Value = StateChanges> {
        let accounts = prop::collection::btree_map(0..4usize, prop::option::of(1..50u64), 0..4);
        let wiped = prop::collection::btree_set(0..4usize, 0..2);
        let storage = prop::collection::btree_map((0..4usize, 0..6u8), 0..3u64, 0..10);
        (accounts, wiped, storage).prop_map(|(mut accounts, wiped, storage)| {
            // As in a real block: an account whose storage is written or wiped exists afterwards
            // (it has code), and a deleted account gets no slot writes.
            let storage: Vec<_> = storage
                .into_iter()
                .filter(|((i, _), _)| accounts.get(i) != Some(&None))
                .collect();
            for &((i, _), _) in &storage {
                accounts.entry(i).or_insert(Some(1));
            }
            for &i in &wiped {
                accounts.insert(i, Some(2));
            }
            StateChanges {
                accounts: accounts
                    .into_iter()
                    .map(|(i, n)| (ADDRESSES[i], n.map(account)))
                    .collect(),
                wiped_storage: wiped.into_iter().map(|i| ADDRESSES[i]).collect(),
                storage: storage
                    .into_iter()
                    .map(|((i, slot), v)| (ADDRESSES[i], B256::with_last_byte(slot), U256::from(v)))
                    .collect(),
                codes: Vec::new(),
            }
        })
    }

    proptest! {
        /// Applying a diff and then its inverse restores the flat state exactly; applying the
        /// inverse returns a diff that redoes the change. This is what reorgs rely on.
        #[test]
        fn inverse_undoes_and_redoes(initial in changes(), change in changes()) {
            let db = Database::builder().create_with_backend(InMemoryBackend::new()).unwrap();
            apply_in(&db, &initial);
            let before = dump(&db);
            let inverse = apply_in(&db, &change);
            let after = dump(&db);
            let redo = apply_in(&db, &inverse);
            prop_assert_eq!(dump(&db), before);
            apply_in(&db, &redo);
            prop_assert_eq!(dump(&db), after);
        }

        /// Diffs survive their encoding.
        #[test]
        fn encoding_round_trips(change in changes()) {
            let mut buf = Vec::new();
            change.encode_diff(&mut buf);
            prop_assert_eq!(StateChanges::decode_diff(&buf).unwrap(), change);
        }
    }
}
